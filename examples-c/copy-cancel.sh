#!/usr/bin/env bash
# copy-cancel.sh PUSH_BUILT COPY [-- WRAPPER...]
#
# Ctrl-C during a copy, against the open registry fixture (run it through
# run-with-env.sh, which exports RR_TEST_REGISTRY and the other RR_TEST_ values):
# push_built pushes an image with a 96 MiB layer of random bytes, then copy copies
# it to the same registry named localhost:PORT instead of 127.0.0.1:PORT (to the
# library another registry: no mount, every byte goes through). At copy's first
# progress line the script sends SIGINT: the progress callback cancels, copy exits
# 130 with RR_ERR_CANCELLED, and the destination has no manifest.
#
# WRAPPER (valgrind under RR_VALGRIND) goes in front of copy, not of push_built.
set -uo pipefail

prog=${0##*/}
. "$(dirname "${BASH_SOURCE[0]}")/roundtrip-lib.sh"
roundtrip_args push_built copy -- "$@"
roundtrip_setup rr-cancel tar skopeo

reg=$RR_TEST_REGISTRY
other=localhost:${reg##*:}
ns=cancel/r$(date +%s%N | tail -c 10)$$

mkdir -p "$tmp/src/data" || exit 1
head -c $((96 << 20)) /dev/urandom >"$tmp/src/data/random.bin" || die "no random bytes"
tar -C "$tmp/src" -cf "$tmp/big.tar" data || die "tar failed"
rm -rf "$tmp/src"
"$push_built" --no-keychain --quiet "$reg/$ns/big:v1" "$tmp/big.tar" || die "push_built exited with $?"

"${wrapper[@]}" "$copy" --no-keychain "$reg/$ns/big:v1" "$other/$ns/copied:v1" \
    >"$tmp/copy.out" 2>"$tmp/copy.err" &
pid=$!
for ((i = 0; i < 6000; i++)); do
    grep -q '^progress: ' "$tmp/copy.err" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
done
kill -INT "$pid" 2>/dev/null || fail "copy ended before its first progress line was seen"
wait "$pid"
status=$?
echo "---- copy (SIGINT at its first progress line): exit $status"
echo "---- stdout:"
cat "$tmp/copy.out"
echo "---- stderr:"
cat "$tmp/copy.err"
echo "----"
[[ $status == 130 ]] || fail "copy exited with $status, expected 130"
grep -qE '^copy: .*\(RR_ERR_CANCELLED, HTTP 0, code -\)$' "$tmp/copy.err" ||
    fail "no RR_ERR_CANCELLED error line"
[[ -s $tmp/copy.out ]] && fail "copy printed a digest"
if skopeo inspect --raw --tls-verify=false --no-creds "docker://$other/$ns/copied:v1" \
    >"$tmp/manifest.json" 2>"$tmp/skopeo.err"; then
    fail "the cancelled copy wrote the manifest of $ns/copied:v1"
fi

roundtrip_finish
