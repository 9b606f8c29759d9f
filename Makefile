# The two commands: `make demo` and `make test`. Both install what they need first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
BENCH_BUILD ?= build-release
GENERATOR  := -G Ninja

# ccache across fresh clones in other folders (CI), see docs/building.md.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
export CCACHE_SLOPPINESS := pch_defines,time_macros

.PHONY: all deps ui build demo demo-run test test-asan bench format format-check clean

all: build

deps:
	./scripts/install-deps.sh

# The web UI (TypeScript, Preact, Vite) into ui/dist, which the server serves; npm ci
# installs exactly package-lock.json's versions (and playwright-core for the browser tests).
ui: deps
	cd ui && npm ci --no-audit --no-fund && npm run build

build: deps ui
	cmake -S . -B $(BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(BUILD)

# The server on the example project: commits flow in, one breaks the tests, one fixes them.
demo: build
	./scripts/demo.sh

# The example project's pipeline with `boucle run`, no server.
demo-run: build
	./scripts/demo-run.sh

# Everything CI runs: the Debug build's tests, then the same tests under ASan+UBSan.
test: build
	ctest --test-dir $(BUILD) --output-on-failure -j2
	$(MAKE) --no-print-directory test-asan

test-asan: deps ui
	cmake -S . -B $(ASAN_BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug -DBOUCLE_SANITIZE=ON -DBOUCLE_BENCH=OFF
	cmake --build $(ASAN_BUILD)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j2

bench: deps
	cmake -S . -B $(BENCH_BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=Release -DBOUCLE_TESTS=OFF
	cmake --build $(BENCH_BUILD)
	./bench/run.sh $(BENCH_BUILD)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')
	cd ui && npm run format

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.cc' '*.h')
	cd ui && npm run format-check

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(BENCH_BUILD)
