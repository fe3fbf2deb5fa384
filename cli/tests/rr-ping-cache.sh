#!/usr/bin/env bash
# rr-ping-cache.sh RR [-- WRAPPER...]
#
# The ping cache of the rr tool against the token registry fixture (run it through
# run-with-env.sh), reached with --plain-http so that its scheme needs no ping: the first
# command pings (GET /v2/) and saves the challenge in RR_PING_CACHE_DIR (a 0700 directory,
# a 0600 file holding the realm and no secret); the next one asks the remembered realm for
# its token (with a ping beside it: tests/ping_cache.rs shows the order); a remembered
# realm that is wrong (nothing listens there) is tried once, and the registry's answer to
# the ping replaces the entry; an entry others may write is not read;
# --no-ping-cache pings; RR_PING_CACHE_DIR empty writes nothing.
#
# WRAPPER (valgrind under RR_VALGRIND) goes in front of the command that uses the entry.
set -uo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/rr-lib.sh" "$@"
roundtrip_setup rr-ping-cache stat

for var in RR_TEST_USER RR_TEST_PASSWORD RR_TEST_TOKEN_REALM; do
    [[ -n ${!var:-} ]] || die "$var is not set: run me against the token fixture"
done
reg=$RR_TEST_REGISTRY
export RR_PING_CACHE_DIR=$tmp/cache/pings
auth=(-v --plain-http "$reg" -u "$RR_TEST_USER" -p "$RR_TEST_PASSWORD")

pings() { grep -cE "^rr: GET http://$reg/v2/ -> " "$tmp/$1.err"; }
tokens() { grep -cE "^rr: GET ${RR_TEST_TOKEN_REALM//./\\.}" "$tmp/$1.err"; }
digest_ok() {
    [[ $(digest_out "$1") == "$RR_TEST_IMAGE_DIGEST" ]] || fail "$1 printed $(out "$1")"
}
entry() {
    local files=("$RR_PING_CACHE_DIR"/*.json)
    [[ ${#files[@]} == 1 && -f ${files[0]} ]] || { fail "not one entry: ${files[*]}"; return 1; }
    echo "${files[0]}"
}

# ---- the first command pings and saves ------------------------------------------
run first "${auth[@]}" digest "$RR_TEST_IMAGE" || fail "first exited with $?"
digest_ok first
[[ $(pings first) == 1 ]] || fail "first: $(pings first) pings, expected 1"
file=$(entry) || die "no entry to go on with"
[[ $(stat -c %a "$RR_PING_CACHE_DIR") == 700 ]] || fail "the directory is not 0700"
[[ $(stat -c %a "$file") == 600 ]] || fail "the entry is not 0600"
grep -qF "\"realm\":\"$RR_TEST_TOKEN_REALM\"" "$file" || fail "the entry has no realm: $(cat "$file")"
if grep -qF -e "$RR_TEST_PASSWORD" -e '"scope"' -e '"error"' "$file"; then
    fail "the entry holds more than the challenge: $(cat "$file")"
fi

# ---- the next one uses the remembered realm -------------------------------------
run --check warm "${auth[@]}" digest "$RR_TEST_IMAGE" || fail "warm exited with $?"
digest_ok warm
[[ $(pings warm) == 1 ]] || fail "warm: $(pings warm) pings beside the token request, expected 1"
[[ $(tokens warm) == 1 ]] || fail "warm: $(tokens warm) token requests, expected 1"

# ---- a wrong realm: tried once, the ping's answer used, and the entry replaced ----
sed -i "s#\"realm\":\"[^\"]*\"#\"realm\":\"http://127.0.0.1:9/token\"#" "$file"
run stale "${auth[@]}" --timeout 20s digest "$RR_TEST_IMAGE" || fail "stale exited with $?"
digest_ok stale
tried=$(grep -cE "^rr: GET http://127\.0\.0\.1:9/token" "$tmp/stale.err")
[[ $tried == 1 ]] || fail "stale: the remembered realm was tried $tried times, expected once"
[[ $(tokens stale) == 1 ]] || fail "stale: $(tokens stale) token requests to the right realm, expected 1"
[[ $(pings stale) == 1 ]] || fail "stale: $(pings stale) pings, expected 1"
grep -qF "\"realm\":\"$RR_TEST_TOKEN_REALM\"" "$(entry)" || fail "stale: the entry was not replaced"

# ---- an entry others may write is not read -------------------------------------
chmod 666 "$(entry)"
run writable "${auth[@]}" digest "$RR_TEST_IMAGE" || fail "writable exited with $?"
digest_ok writable
[[ $(pings writable) == 1 ]] || fail "writable: $(pings writable) pings, expected 1"
[[ $(stat -c %a "$(entry)") == 600 ]] || fail "writable: the entry was not written again"

# ---- --no-ping-cache, and RR_PING_CACHE_DIR empty --------------------------------
run off "${auth[@]}" --no-ping-cache digest "$RR_TEST_IMAGE" || fail "off exited with $?"
digest_ok off
[[ $(pings off) == 1 ]] || fail "off: $(pings off) pings, expected 1"
rm -rf "$tmp/cache"
RR_PING_CACHE_DIR='' run empty "${auth[@]}" digest "$RR_TEST_IMAGE" || fail "empty exited with $?"
digest_ok empty
[[ ! -e $tmp/cache ]] || fail "empty RR_PING_CACHE_DIR: something was written"

roundtrip_finish
