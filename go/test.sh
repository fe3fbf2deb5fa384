#!/usr/bin/env bash
# Tests the Go binding: builds librr and the registry harness, checks gofmt and go vet,
# then runs `go test -race` against real registries (rr-testkit, started by TestMain).
#
#   go/test.sh                 # everything
#   go/test.sh -run TestAuth   # extra arguments go to `go test`
#
# Environment: RR_GO_SKIP_CARGO=1 skips the cargo builds (already done by the caller);
# RR_TESTKIT overrides the harness binary (default ../target/debug/rr-testkit).
set -euo pipefail
cd "$(dirname "$0")"

if [[ ${RR_GO_SKIP_CARGO:-0} != 1 ]]; then
    (cd .. && cargo build && cargo build -p rr-testkit --bin rr-testkit)
fi

# librr.so has SONAME librr.so.0 and cargo makes no file of that name: the package links
# through these (committed, relative) symlinks and finds them again at run time by rpath.
mkdir -p lib
ln -sfn ../../target/debug/librr.so lib/librr.so
ln -sfn ../../target/debug/librr.so lib/librr.so.0

unformatted=$(gofmt -l .)
if [[ -n $unformatted ]]; then
    echo "gofmt -l: these files need formatting:" >&2
    echo "$unformatted" >&2
    exit 1
fi
go vet ./...
go test -race -count=1 "$@" ./...
