# Fails when a test case name contains a character that catch_discover_tests cannot carry through
# to ctest: ';' splits the name into two CMake list items, '[' and ']' are read by Catch2 as a tag.
# Run by ctest as the entry test_case_names (see tests/CMakeLists.txt).
execute_process(COMMAND "${TEST_EXECUTABLE}" --list-test-names-only
                OUTPUT_VARIABLE names RESULT_VARIABLE rc)
# --list-test-names-only exits with the number of test cases listed, so any rc >= 0 is a success.
if(rc LESS 0 OR NOT rc MATCHES "^[0-9]+$")
  message(FATAL_ERROR "could not list the test cases of ${TEST_EXECUTABLE}: ${rc}")
endif()
string(REPLACE "[" "<open bracket>" names "${names}")
string(REPLACE "]" "<close bracket>" names "${names}")
string(REPLACE ";" "<semicolon>" names "${names}")
string(REPLACE "\n" ";" names "${names}")
set(bad "")
foreach(name IN LISTS names)
  if(name MATCHES "<open bracket>|<close bracket>|<semicolon>")
    string(APPEND bad "\n  ${name}")
  endif()
endforeach()
if(bad)
  message(FATAL_ERROR "test case names must not contain ';', '[' or ']' (ctest would not run them as named):${bad}")
endif()
list(LENGTH names count)
message(STATUS "${count} test case names checked")
