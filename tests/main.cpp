// The Catch2 entry point for the seqgrad test suite (one executable, every test_*.cpp file).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
