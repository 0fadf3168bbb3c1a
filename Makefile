# The front door (as DuckDB's Makefile): `make demo`, `make test`, `make bench`.
# Each target bootstraps the dependencies first, so a fresh Debian 12 machine needs nothing else.
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
DEMO_DIR ?= demo_data
MOSAIC := $(BUILD_DIR)/bin/mosaic

.PHONY: all bootstrap configure build demo test test-asan bench format tidy clean

all: build

bootstrap:
	@scripts/bootstrap.sh

configure: bootstrap
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DMOSAIC_WERROR=ON $(CMAKE_FLAGS) >$(BUILD_DIR).configure.log 2>&1 \
	  || (cat $(BUILD_DIR).configure.log; exit 1)

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	@scripts/demo.sh $(MOSAIC) $(DEMO_DIR)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (a separate Debug build).
test-asan: bootstrap
	@cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DMOSAIC_SANITIZE=ON -DMOSAIC_WERROR=ON \
	  -DMOSAIC_BUILD_BENCH=OFF $(CMAKE_FLAGS) >$(ASAN_DIR).configure.log 2>&1 || (cat $(ASAN_DIR).configure.log; exit 1)
	@cmake --build $(ASAN_DIR) -j $(JOBS) --target mosaic_unit_tests
	@cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp ctest --output-on-failure -j $(JOBS) -L unit

bench: build
	@scripts/bench.sh $(BUILD_DIR)

format:
	@find include src tests bench examples -name '*.hpp' -o -name '*.cpp' | xargs clang-format -i

tidy: configure
	@find src -name '*.cpp' | xargs clang-tidy -p $(BUILD_DIR) --quiet

clean:
	@rm -rf $(BUILD_DIR) $(ASAN_DIR) $(BUILD_DIR).configure.log $(ASAN_DIR).configure.log
