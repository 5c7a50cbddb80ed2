#!/usr/bin/env bash
# The test command (README: `make test`). On a fresh Debian machine it installs what is missing,
# builds the debug preset (ASan + UBSan), starts the servers integration tests need on free
# loopback ports, runs every test with CTest, runs the concurrency stress tests under TSan and a
# short smoke run of every fuzzer, and stops every server it started.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh test
cmake --preset debug >/dev/null
cmake --build --preset debug -j "${JOBS:-2}"

# Integration servers (Prometheus, InfluxDB, ...) for the duration of the CTest run.
scripts/with-test-servers.sh ctest --preset debug -j 2

# Concurrency: the stress tests again under ThreadSanitizer.
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j "${JOBS:-2}" --target shaping_stress_test
ctest --preset tsan -L stress

# Fuzzers: a short smoke run of the admission core's and the usage-log parser's (their builds are
# small); `make fuzz` builds and runs every fuzzer (also rls_request_fuzz and config_fuzz, which
# build the whole server under clang) for longer.
SMOKE_FUZZERS=(token_bucket_fuzz usage_import_fuzz)
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "${JOBS:-2}" --target "${SMOKE_FUZZERS[@]}"
# A fixed seed and run count: the same inputs on every run, so the test command is reproducible
# (exploration with random seeds is `make fuzz`).
FUZZ_SEED=1 FUZZ_RUNS="${FUZZ_SMOKE_RUNS:-400000}" scripts/run-fuzzers.sh build/fuzz
