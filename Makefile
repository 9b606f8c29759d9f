# The two commands: `make demo` and `make test`. Both install what they need first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
BENCH_BUILD ?= build-release
PACKAGE_BUILD ?= build-package
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
GENERATOR  := -G Ninja

# ccache across fresh clones in other folders (CI): docs/building.md says why.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
export CCACHE_SLOPPINESS := pch_defines,time_macros

.PHONY: all deps ui build demo demo-run test test-asan bench package fuzz format format-check clean

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

# A Debian package of a Release build (CPack): $(PACKAGE_BUILD)/boucle_VERSION_ARCH.deb, with
# the web UI, the job supervisor and a systemd unit. `make test` installs and purges one.
package: deps ui
	cmake -S . -B $(PACKAGE_BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=Release -DBOUCLE_TESTS=OFF -DBOUCLE_BENCH=OFF
	cmake --build $(PACKAGE_BUILD)
	cd $(PACKAGE_BUILD) && cpack -G DEB

# libFuzzer on each fuzz target (fuzz/*_fuzz.cc) for FUZZ_SECONDS, from its seed corpus; new
# inputs go to BUILD/corpus, crashes to BUILD/crashes. `make test` replays the seed corpus.
fuzz:
	./scripts/install-deps.sh --fuzz
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DBOUCLE_FUZZ=ON -DBOUCLE_TESTS=OFF -DBOUCLE_BENCH=OFF
	cmake --build $(FUZZ_BUILD)
	./bench/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')
	cd ui && npm run format

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.cc' '*.h')
	cd ui && npm run format-check

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(BENCH_BUILD) $(PACKAGE_BUILD) $(FUZZ_BUILD)
