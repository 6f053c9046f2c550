# A thin wrapper over CMake: the two quick-start commands `make demo` and `make test`.
# Each first makes sure the Debian packages the build needs are installed (installing them when
# run as root, otherwise printing the one apt-get line to run), then configures and builds build/.
# CI (.ci/run) also runs `make asan-test` (the suite under AddressSanitizer + UBSan, in build-asan/),
# `make native-test` (the suite built with -march=native, in build-native/) and `make fuzz`
# (libFuzzer targets, clang, in build-fuzz/; only `make fuzz` needs clang). CI passes WERROR=ON to
# `make test` and `make native-test` so that any compiler warning fails its build; users' builds only
# print warnings.

PACKAGES := cmake g++ make pkg-config libopenblas-dev libdnnl-dev catch2 libfmt-dev libcli11-dev nlohmann-json3-dev libopenmpi-dev openmpi-bin libcpp-httplib-dev libsentencepiece-dev
# libFuzzer and the sanitizer runtimes come with clang's compiler-rt; clang's OpenMP is libomp.
FUZZ_PACKAGES := clang libclang-rt-14-dev libomp-14-dev
BUILD    ?= build
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
WERROR ?= OFF
DEPS_PACKAGES ?= $(PACKAGES)

ASAN_BUILD ?= build-asan
# Any sanitizer finding fails: ASan and LSan stop at the first error, UBSan is built with
# -fno-sanitize-recover and prints where.
SANITIZER_ENV := ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Left out of the sanitizer run: install_consumer links a separate downstream project against the
# instrumented library without the sanitizer runtime (packaging is checked by `make test`).
ASAN_EXCLUDE ?= ^(install_consumer)$$
NATIVE_BUILD ?= build-native
# Left out of the -march=native run: packaging and the browser check (both checked by `make test`).
NATIVE_EXCLUDE ?= ^(install_consumer|inspect_page_chromium)$$
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps configure build demo test bench clean install asan-test native-test fuzz

all: build

deps:
	@missing=""; \
	for p in $(DEPS_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "seqgrad: installing missing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing || exit 1; \
	  else \
	    echo "seqgrad: missing Debian packages. Run:"; \
	    echo "  sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DSEQGRAD_WERROR=$(WERROR) $(CMAKE_FLAGS) > /dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@./$(BUILD)/seqgrad demo --out $(BUILD)/demo

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan-test: deps
	@cmake -S . -B $(ASAN_BUILD) -DSEQGRAD_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" $(CMAKE_FLAGS) > /dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && $(SANITIZER_ENV) ctest --output-on-failure -j $(JOBS) -E '$(ASAN_EXCLUDE)'

native-test: deps
	@cmake -S . -B $(NATIVE_BUILD) -DCMAKE_BUILD_TYPE=Release -DSEQGRAD_NATIVE=ON -DSEQGRAD_WERROR=$(WERROR) \
	  $(CMAKE_FLAGS) > /dev/null
	@cmake --build $(NATIVE_BUILD) -j $(JOBS)
	@cd $(NATIVE_BUILD) && ctest --output-on-failure -j $(JOBS) -E '$(NATIVE_EXCLUDE)'

fuzz:
	@$(MAKE) --no-print-directory deps DEPS_PACKAGES="$(FUZZ_PACKAGES)"
	@BUILD=$(FUZZ_BUILD) JOBS=$(JOBS) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

bench: build
	@./$(BUILD)/seqgrad bench seq2seq

install: build
	@cmake --install $(BUILD)

clean:
	@rm -rf $(BUILD)
