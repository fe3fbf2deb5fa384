#!/usr/bin/env bash
# The main job: build librr and the C `inspect` example, start and seed a local registry
# (the CNCF distribution registry on 127.0.0.1), and drive the library through the C
# example against it. Stops the registry on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "build librr, the registry harness and the C examples"
cargo build --quiet
cargo build --quiet -p rr-testkit --bin rr-testkit
cmake -S examples-c -B build/examples-c -G Ninja >/dev/null
cmake --build build/examples-c >/dev/null
inspect=build/examples-c/inspect

work=$(mktemp -d)
env_file="$work/registry.env"
cleanup() {
  target/debug/rr-testkit stop --env-file "$env_file" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

say "start a local registry and seed it with skopeo (an image, a 3-platform index, 320 tags)"
target/debug/rr-testkit serve --mode open --seed --env-file "$env_file" --detach --log "$work/registry.log"
# shellcheck disable=SC1090
. "$env_file"
echo "registry: http://$RR_TEST_REGISTRY"

say "inspect $RR_TEST_IMAGE"
"$inspect" "$RR_TEST_IMAGE"

say "inspect the multi-platform index $RR_TEST_INDEX (default platform linux/amd64)"
"$inspect" "$RR_TEST_INDEX"

say "the same index resolved for linux/arm64"
"$inspect" --platform linux/arm64 "$RR_TEST_INDEX"

say "tags of $RR_TEST_MANY"
"$inspect" --tags "$RR_TEST_MANY" | head -n 6
echo "..."

say "a tag that does not exist (an error, as the library reports it)"
if "$inspect" "$RR_TEST_REGISTRY/demo/app:missing"; then
  echo "unexpected success" >&2; exit 1
fi

say "done: the registry is stopped"
