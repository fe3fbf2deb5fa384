#!/usr/bin/env bash
# Runs every check and test: formatting, clippy, the generated header, the exported
# symbols, the Rust unit and integration tests (against real registries), the C/C++
# examples under ctest, the Go binding's tests and a short run of each fuzz target.
# This is the README's test command and what CI runs. RR_VALGRIND=OFF skips valgrind;
# RR_FUZZ_SECONDS sets the fuzzing time per target (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

step() { printf '\n=== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "build librr and the test harness"
cargo build --workspace --all-targets
cargo build -p rr-testkit --bin rr-testkit

step "include/rr.h matches what build.rs generates"
if git rev-parse --git-dir >/dev/null 2>&1; then
  git diff --exit-code -- include/ || { echo "include/rr.h is stale: commit the regenerated header" >&2; exit 1; }
fi

step "librr.so exports only rr_* symbols and has a SONAME"
others=$(nm -D --defined-only target/debug/librr.so | awk '{print $3}' | grep -v '^rr_' || true)
[ -z "$others" ] || { echo "unexpected exports: $others" >&2; exit 1; }
readelf -d target/debug/librr.so | grep 'SONAME.*librr\.so\.0' >/dev/null || { echo "no SONAME librr.so.0" >&2; exit 1; }

step "cargo test (unit, C boundary, real registries: distribution 2.8, v3 and go-containerregistry's)"
# Cases a registry server cannot run are recorded here by rr_testkit::skip and listed below.
export RR_TEST_SKIPS="${TMPDIR:-/tmp}/rr-test-skips.$$"
: >"$RR_TEST_SKIPS"
cargo test --workspace
if [ -s "$RR_TEST_SKIPS" ]; then
  echo "cases skipped on some servers, with the reason:"
  sort -u "$RR_TEST_SKIPS" | sed 's/^/  /'
fi
rm -f "$RR_TEST_SKIPS"

step "C and C++ examples (ctest)"
cmake -S examples-c -B build/examples-c -G Ninja -DRR_VALGRIND="${RR_VALGRIND:-ON}" >/dev/null
cmake --build build/examples-c
ctest --test-dir build/examples-c --output-on-failure

step "Go binding (gofmt, go vet, go test -race against real registries)"
RR_GO_SKIP_CARGO=1 go/test.sh

step "fuzz targets (${RR_FUZZ_SECONDS:-10} s each from the seed corpus; scripts/fuzz.sh SECONDS for longer runs)"
scripts/fuzz.sh "${RR_FUZZ_SECONDS:-10}"
