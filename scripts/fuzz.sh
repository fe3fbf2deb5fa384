#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ (libFuzzer, through libfuzzer-sys) for SECONDS each
# (default 30), starting from the seed corpus in fuzz/corpus/<target>. New inputs go to a
# temporary corpus, so the repository's seeds stay as they are; a crash fails the run and
# leaves its input in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs the nightly toolchain (libFuzzer's coverage instrumentation is a nightly flag).
# cargo-fuzz is not needed: this passes the same instrumentation flags itself, without a
# sanitizer (the fuzzed code is safe Rust), which keeps the build short enough for CI.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-30}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(reference www_authenticate manifest link_header platform docker_config registries_conf rate_limit)
fi

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz.sh: the nightly toolchain is required (rustup toolchain install nightly)" >&2
  exit 1
fi

export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps RUSTFLAGS away from build scripts, which must not be
# instrumented.
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
CARGO_PROFILE_RELEASE_OPT_LEVEL=1 cargo +nightly build --quiet --release --bins \
  --target "$host" --target-dir target/ci
bin=target/ci/$host/release

work=$(mktemp -d "${TMPDIR:-/tmp}/rr-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
status=0
for t in "${targets[@]}"; do
  mkdir -p "$work/$t" "artifacts/$t"
  printf '%-18s ' "$t"
  if "$bin/$t" -max_total_time="$seconds" -rss_limit_mb=2048 \
      -artifact_prefix="artifacts/$t/" "$work/$t" "corpus/$t" >"$work/$t.log" 2>&1; then
    grep -E '^Done [0-9]+ runs' "$work/$t.log" | tail -n 1
  else
    echo "FAILED"
    tail -n 30 "$work/$t.log" >&2
    status=1
  fi
done
exit $status
