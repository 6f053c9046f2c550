# A thin wrapper over CMake: the two quick-start commands `make demo` and `make test`.
# Each first makes sure the Debian packages the build needs are installed (installing them when
# run as root, otherwise printing the one apt-get line to run), then configures and builds build/.

PACKAGES := cmake g++ make pkg-config libopenblas-dev catch2 libfmt-dev libcli11-dev nlohmann-json3-dev
BUILD    ?= build
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps configure build demo test bench clean install

all: build

deps:
	@missing=""; \
	for p in $(PACKAGES); do \
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
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) > /dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@./$(BUILD)/seqgrad demo --out $(BUILD)/demo

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	@./$(BUILD)/seqgrad bench seq2seq

install: build
	@cmake --install $(BUILD)

clean:
	@rm -rf $(BUILD)
