# tidegate — the commands README.md names. Everything goes through CMake presets (CMakePresets.json).
#   make test     install what is missing, build (debug, ASan+UBSan), start test servers, run all tests
#   make demo     install what is missing, build (release), generate and import history, run tidegated
#   make build    debug build only          make release   optimised build
#   make bench    release build + benchmarks (results: docs/BENCHMARKS.md)
#   make tsan     ThreadSanitizer build + concurrency tests
#   make fuzz     libFuzzer targets, each run for FUZZ_SECONDS (default 60)
#   make format   clang-format in place     make tidy      clang-tidy on src/
.PHONY: deps build release test demo tsan fuzz bench format tidy clean

JOBS ?= 2
FUZZ_SECONDS ?= 60

deps:
	scripts/deps.sh build

build: deps
	cmake --preset debug >/dev/null
	cmake --build --preset debug -j $(JOBS)

release: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

test:
	scripts/test.sh

demo:
	scripts/demo.sh

tsan: deps
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan -j $(JOBS)
	ctest --preset tsan -L stress

fuzz: deps
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS) --target fuzzers
	scripts/run-fuzzers.sh build/fuzz $(FUZZ_SECONDS)

bench: release
	scripts/deps.sh bench
	scripts/bench.sh

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

tidy: build
	git ls-files 'src/*.cc' | xargs clang-tidy -p build/debug --quiet

clean:
	rm -rf build
