#!/usr/bin/env bash
# Runs the tests that exercise librr's unsafe code (the C boundary, host callbacks and
# transport, builders through the ABI) with AddressSanitizer, on the nightly toolchain.
# Uses-after-free, overflows and leaks at the boundary fail the run.
#
#   scripts/sanitize.sh [TEST...]    (default: the C-boundary test binaries and unit tests)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "sanitize.sh: the nightly toolchain is required (rustup toolchain install nightly)" >&2
  exit 1
fi
tests=("$@")
if ((${#tests[@]} == 0)); then
  tests=(ffi_boundary ffi_transport auth_callback)
fi
args=(--lib)
for t in "${tests[@]}"; do args+=(--test "$t"); done
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
# An explicit --target keeps the sanitizer out of build scripts and proc macros.
RUSTFLAGS="-Zsanitizer=address" ASAN_OPTIONS="detect_leaks=1" \
  cargo +nightly test --quiet --target "$host" --target-dir target/asan "${args[@]}"
