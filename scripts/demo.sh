#!/usr/bin/env bash
# The main job in one command, on a fresh Debian machine with Rust installed (as root or
# with sudo): install what is needed, build librr and the `rr` tool, start a registry on
# loopback (the CNCF distribution registry 2.8, through the test harness), and drive it
# with `rr`: build an image from layer files, push it, list and add tags, copy it to a
# second repository (blobs mounted, not uploaded), pull it back into an OCI layout, check
# every digest with skopeo and sha256sum, push the layout again, delete (tags are refused
# by distribution 2.8, a digest is not), and stop the registry. Each step prints what it
# runs and what it checked; the script exits non-zero if any check fails.
#
# Environment:
#   RR_DEMO_SKIP_INSTALL=1   skip the apt-get step (scripts/install-deps.sh)
#   RR_DEMO_RR=PATH          use this rr binary and skip the build (the ctest `rr_demo`
#                            does so: no cargo or cmake run inside a test)
#   RR_TESTKIT=PATH          the rr-testkit binary (default target/debug/rr-testkit)
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ -t 1 ]]; then
  bold=$'\033[1m' green=$'\033[32m' red=$'\033[31m' plain=$'\033[0m'
else
  bold='' green='' red='' plain=''
fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
passed=0
failed=0
ok() { passed=$((passed + 1)); printf '   %sok%s %s\n' "$green" "$plain" "$*"; }
bad() { failed=$((failed + 1)); printf '   %sFAILED%s %s\n' "$red" "$plain" "$*"; }
die() { printf '%sdemo: %s%s\n' "$red" "$*" "$plain" >&2; exit 1; }
# check WHAT GOT WANT
check() { if [[ $2 == "$3" ]]; then ok "$1${3:+: $3}"; else bad "$1: got '$2', expected '$3'"; fi; }

# ---- 1. dependencies and build ---------------------------------------------
if [[ ${RR_DEMO_SKIP_INSTALL:-} != 1 ]]; then
  say "install what the demo needs (apt-get, only what is missing)"
  scripts/install-deps.sh || die "scripts/install-deps.sh failed"
  # Layer files are compressed with gzip and zstd too.
  for tool in zstd gzip tar; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      sudo=""
      [[ $(id -u) == 0 ]] || sudo=sudo
      $sudo apt-get install -y -qq --no-install-recommends "$tool" >/dev/null || die "cannot install $tool"
    fi
  done
fi
for tool in skopeo tar gzip zstd sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (run without RR_DEMO_SKIP_INSTALL)"
done

testkit=${RR_TESTKIT:-target/debug/rr-testkit}
if [[ -n ${RR_DEMO_RR:-} ]]; then
  rr=$RR_DEMO_RR
  say "use the rr tool at $rr (RR_DEMO_RR: no build)"
else
  say "build librr, the registry harness and the rr tool"
  echo '$ cargo build && cargo build -p rr-testkit'
  cargo build --quiet || die "cargo build failed"
  cargo build --quiet -p rr-testkit --bin rr-testkit || die "cargo build -p rr-testkit failed"
  echo '$ cmake -S examples-c -B build/examples-c -G Ninja && cmake --build build/examples-c --target rr'
  cmake -S examples-c -B build/examples-c -G Ninja >/dev/null || die "cmake configure failed"
  cmake --build build/examples-c --target rr >/dev/null || die "cmake build failed"
  rr=build/examples-c/rr
fi
[[ -x $rr ]] || die "no rr tool at $rr"
[[ -x $testkit ]] || die "no rr-testkit at $testkit (cargo build -p rr-testkit)"
"$rr" version || die "$rr does not run"

# ---- 2. a registry on loopback ---------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/rr-demo.XXXXXX") || die "mktemp failed"
env_file=$work/registry.env
stopped=0
cleanup() {
  if ((!stopped)); then
    "$testkit" stop --env-file "$env_file" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

say "start a registry on loopback (distribution 2.8 through rr-testkit, open mode)"
"$testkit" serve --mode open --env-file "$env_file" --detach --log "$work/registry.out" \
  >"$work/serve.log" 2>&1 || { cat "$work/serve.log" >&2; die "rr-testkit serve failed"; }
reg='' access_log=''
while IFS='=' read -r key value; do
  case $key in
  RR_TEST_REGISTRY) reg=$value ;;
  RR_TEST_LOG) access_log=$value ;;
  esac
done <"$env_file"
[[ -n $reg && -n $access_log ]] || die "no registry address in $env_file"
echo "registry: $reg (plain HTTP on loopback; access log $access_log)"

# rrx ARGS...: shows and runs `rr ARGS`; stdout goes to $out (and is shown), stderr
# to the terminal, the exit status to $status.
rrx() {
  printf '$ rr %s\n' "$*"
  out=$("$rr" --no-keychain "$@")
  status=$?
  [[ -n $out ]] && printf '%s\n' "$out"
  return 0
}
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# ---- 3. layer files and rr build -------------------------------------------
say "make three layer files (tar, tar+gzip, tar+zstd) and a base config"
src=$work/src
mkdir -p "$src/base/etc" "$src/app/usr/local/bin" "$src/data/srv" || die "mkdir failed"
printf 'NAME="rr demo"\nVERSION=1\n' >"$src/base/etc/os-release"
printf '#!/bin/sh\necho "hello from an image built by rr"\n' >"$src/app/usr/local/bin/hello"
chmod 755 "$src/app/usr/local/bin/hello"
seq 1 100000 >"$src/data/srv/numbers.txt"
tarx() { tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$1" -cf - .; }
tarx "$src/base" >"$work/base.tar" &&
  tarx "$src/app" | gzip -n >"$work/app.tar.gz" &&
  tarx "$src/data" | zstd -q -o "$work/data.tar.zst" || die "tar failed"
cat >"$work/config.json" <<'EOF'
{"config":{"Entrypoint":["/usr/local/bin/hello"],"Env":["PATH=/usr/local/bin:/usr/bin:/bin"],"Labels":{"org.opencontainers.image.title":"rr demo"}}}
EOF
layers=("$work/base.tar" "$work/app.tar.gz" "$work/data.tar.zst")
for f in "${layers[@]}"; do
  printf '   %-14s %8d bytes  sha256:%s\n' "${f##*/}" "$(stat -c %s "$f")" "$(sha256_of "$f")"
done

say "build the image from the files and push it (rr build)"
hello=$reg/demo/hello
rrx build --config "$work/config.json" --platform linux/amd64 "$hello:v1" "${layers[@]}"
check "rr build exits 0" "$status" 0
digest=$out
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] && ok "rr build printed the digest $digest" ||
  bad "rr build printed '$digest', not a digest"

say "list the tags, add one (rr ls, rr tag)"
rrx ls "$hello"
check "tags of demo/hello" "$out" "v1"
rrx tag "$hello:v1" latest
check "rr tag exits 0" "$status" 0
rrx ls "$hello"
check "tags of demo/hello after rr tag" "$(sort <<<"$out" | tr '\n' ' ')" "latest v1 "
rrx digest "$hello:latest"
check "latest names the built image" "$out" "$digest"

# ---- 4. copy: mounts --------------------------------------------------------
say "copy it to a second repository (rr -v copy): every blob is mounted, nothing uploaded"
mirror=$reg/mirror/hello
printf '$ rr -v copy %s %s   (request lines filtered)\n' "$hello:v1" "$mirror:v1"
out=$("$rr" --no-keychain -v copy "$hello:v1" "$mirror:v1" 2>"$work/copy.err")
status=$?
grep -E 'mount=|manifests/|step: copy|copy: done' "$work/copy.err" | sed 's/^/   /'
printf '%s\n' "$out"
check "rr copy exits 0" "$status" 0
check "the copy has the same digest" "$out" "$digest"
mounts=$(grep -cE '^rr: POST .*/v2/mirror/hello/blobs/uploads/\?from=demo%2Fhello&mount=sha256%3A[0-9a-f]+ -> 201 ' "$work/copy.err")
check "mount requests answered 201 (config + 3 layers)" "$mounts" 4
sleep 0.5 # the registry writes its access log line after answering
logged=$(grep -cE '"POST /v2/mirror/hello/blobs/uploads/\?from=demo%2Fhello&mount=sha256%3A[0-9a-f]+ HTTP/1\.1" 201 ' "$access_log")
check "mounts in the registry's access log" "$logged" 4
uploads=$(grep -cE '"(PATCH|PUT) /v2/mirror/hello/blobs/' "$access_log")
check "blob uploads (PATCH or PUT) to mirror/hello" "$uploads" 0

# ---- 5. pull into an OCI layout, check with skopeo --------------------------
say "pull the copy back into an OCI layout (rr pull)"
layout=$work/hello-oci
rrx pull "$mirror:v1" "$layout"
check "rr pull exits 0" "$status" 0
check "rr pull printed the digest" "$out" "$digest"
(cd "$layout" && find . -type f | sort | sed 's/^/   /')

say "check the digests with skopeo and sha256sum"
echo "\$ skopeo inspect --raw --tls-verify=false docker://$mirror:v1 | sha256sum"
skopeo inspect --raw --tls-verify=false --no-creds "docker://$mirror:v1" >"$work/registry.json" ||
  bad "skopeo inspect docker://$mirror:v1 failed"
check "sha256 of the registry's manifest (skopeo)" "sha256:$(sha256_of "$work/registry.json")" "$digest"
echo "\$ skopeo inspect --raw oci:$layout:v1 | sha256sum"
skopeo inspect --raw "oci:$layout:v1" >"$work/layout.json" || bad "skopeo inspect oci:$layout:v1 failed"
check "sha256 of the layout's manifest (skopeo)" "sha256:$(sha256_of "$work/layout.json")" "$digest"
"$rr" --no-keychain manifest "$mirror:v1" >"$work/rr-manifest.json"
check "sha256 of rr manifest" "sha256:$(sha256_of "$work/rr-manifest.json")" "$digest"
for f in "${layers[@]}"; do
  want=$(sha256_of "$f")
  if grep -q "\"sha256:$want\"" "$work/registry.json" && [[ -f $layout/blobs/sha256/$want ]] &&
    [[ $(sha256_of "$layout/blobs/sha256/$want") == "$want" ]]; then
    ok "layer ${f##*/} is in the manifest and the layout, byte for byte (sha256:${want:0:12}...)"
  else
    bad "layer ${f##*/} (sha256:$want) is not in the manifest or the layout"
  fi
done
echo "\$ skopeo inspect --config --tls-verify=false docker://$mirror:v1"
skopeo inspect --config --tls-verify=false --no-creds "docker://$mirror:v1" >"$work/config-out.json" ||
  bad "skopeo inspect --config failed"
grep -qF '"org.opencontainers.image.title": "rr demo"' "$work/config-out.json" &&
  ok "the config kept the base config's label" || bad "the config lost its label"
n=$(grep -cE '"sha256:[0-9a-f]{64}"' <(grep -A5 diff_ids "$work/config-out.json"))
check "diff_ids in the config" "$n" 3

say "push the layout to a third repository (rr push): the same digest"
rrx push "$layout" "$reg/from-layout/hello:v1"
check "rr push exits 0" "$status" 0
check "rr push printed the digest" "$out" "$digest"

# ---- 6. delete ---------------------------------------------------------------
say "delete: a tag is refused by distribution 2.8; a digest is not"
rrx delete "$mirror:v1"
check "rr delete of a tag exits 4 (unsupported)" "$status" 4
rrx delete "$mirror@$digest"
check "rr delete by digest exits 0" "$status" 0
rrx digest "$mirror:v1"
check "the copy is gone: rr digest exits 2 (not found)" "$status" 2
rrx ls "$mirror"
check "mirror/hello has no tags left" "$out" ""
rrx digest "$hello:v1"
check "the original is still there" "$out" "$digest"

say "an error, as rr reports it"
rrx manifest "$hello:no-such-tag"
check "a missing tag exits 2" "$status" 2

# ---- 7. stop -------------------------------------------------------------------
say "stop the registry"
echo "\$ rr-testkit stop --env-file $env_file"
if "$testkit" stop --env-file "$env_file"; then
  stopped=1
  ok "registry stopped"
else
  bad "rr-testkit stop failed"
fi

say "summary"
if ((failed > 0)); then
  printf '%sdemo: %d of %d checks FAILED%s\n' "$red" "$failed" $((passed + failed)) "$plain"
  exit 1
fi
printf '%sdemo: all %d checks passed%s\n' "$green" "$passed" "$plain"
