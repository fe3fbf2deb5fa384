#!/usr/bin/env bash
# rr-blob.sh RR [-- WRAPPER...]
#
# rr blob against the open registry fixture (run it through run-with-env.sh): put a
# file (the digest printed is sha256sum's), put it again (one HEAD, no upload), put
# stdin of unknown size (a pipe; streamed, then in chunks of 64 KiB), stat, get into a
# file and to stdout (the same bytes), put --from another repository (mounted, -v shows
# the POST ?mount=), and a blob that is not there (exit 2, no file left).
#
# WRAPPER (valgrind under RR_VALGRIND) goes in front of one run of each subcommand.
set -uo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/rr-lib.sh" "$@"
roundtrip_setup rr-blob sha256sum head

reg=$RR_TEST_REGISTRY
# Repositories of this run only, so that a blob is not there from an earlier run.
ns=rrblob/r$(date +%s%N | tail -c 10)$$
sha='sha256:[0-9a-f]{64}'

head -c 700000 /dev/urandom >"$tmp/file.bin" || die "no random file"
want=sha256:$(sha256_of "$tmp/file.bin")

# ---- put a file, then again ---------------------------------------------------
run --check put_file blob put "$reg/$ns/files" "$tmp/file.bin" || die "blob put exited with $?"
[[ $(digest_out put_file) == "$want" ]] || fail "put_file printed $(out put_file), not $want"
grep -q "^rr: $want: 700000 bytes$" "$tmp/put_file.err" || fail "put_file: no size note"

run put_again -v blob put "$reg/$ns/files" "$tmp/file.bin" || fail "put_again exited with $?"
[[ $(digest_out put_again) == "$want" ]] || fail "put_again printed $(out put_again)"
grep -qE "^rr: HEAD .*/v2/$ns/files/blobs/$want -> 200" "$tmp/put_again.err" ||
    fail "put_again: no HEAD of the blob"
if grep -qE "^rr: (POST|PATCH|PUT) " "$tmp/put_again.err"; then
    fail "put_again: the blob was uploaded again"
fi

# ---- stat, get into a file and to stdout ----------------------------------------
run --check stat blob stat "$reg/$ns/files@$want" || fail "stat exited with $?"
[[ $(out stat) == 700000 ]] || fail "stat printed '$(out stat)', not 700000"

run --check get_file blob get "$reg/$ns/files@$want" "$tmp/got.bin" || fail "get_file exited with $?"
cmp -s "$tmp/file.bin" "$tmp/got.bin" || fail "get_file: other bytes than were put"
progress_ok=$(grep -cE "^rr: get: done, " "$tmp/get_file.err")
((progress_ok == 1)) || fail "get_file: no 'rr: get: done' progress line"

run get_stdout blob get "$reg/$ns/files@$want" - || fail "get_stdout exited with $?"
cmp -s "$tmp/file.bin" "$tmp/get_stdout.out" || fail "get_stdout: other bytes than were put"

# ---- stdin of unknown size: streamed, then chunked ------------------------------
head -c 300000 /dev/urandom >"$tmp/stdin.bin" || die "no random file"
want_stdin=sha256:$(sha256_of "$tmp/stdin.bin")
# Through a pipe (cat), so that rr cannot know the size.
cat "$tmp/stdin.bin" | run --check put_stdin -v blob put "$reg/$ns/piped" - ||
    fail "put_stdin exited with $?"
[[ $(digest_out put_stdin) == "$want_stdin" ]] || fail "put_stdin printed $(out put_stdin)"
[[ $(grep -cE "^rr: PATCH " "$tmp/put_stdin.err") == 1 ]] || fail "put_stdin: not one PATCH"
grep -qE "^rr: PUT .*digest=sha256%3A${want_stdin#sha256:}.* -> 201" "$tmp/put_stdin.err" ||
    fail "put_stdin: no commit of the digest read"

cat "$tmp/stdin.bin" | run put_chunks -v --chunk-size 64K blob put "$reg/$ns/chunked" - ||
    fail "put_chunks exited with $?"
[[ $(digest_out put_chunks) == "$want_stdin" ]] || fail "put_chunks printed $(out put_chunks)"
patches=$(grep -cE "^rr: PATCH " "$tmp/put_chunks.err")
((patches == 5)) || fail "put_chunks: $patches PATCHes, expected 5 of at most 64 KiB"
run get_chunked blob get "$reg/$ns/chunked@$want_stdin" "$tmp/chunked.bin" ||
    fail "get_chunked exited with $?"
cmp -s "$tmp/stdin.bin" "$tmp/chunked.bin" || fail "get_chunked: other bytes than were put"

# ---- a mount from another repository ---------------------------------------------
run mount -v blob put --from "$reg/$ns/files" "$reg/$ns/mounted" "$tmp/file.bin" ||
    fail "mount exited with $?"
[[ $(digest_out mount) == "$want" ]] || fail "mount printed $(out mount)"
grep -qE "^rr: POST .*/v2/$ns/mounted/blobs/uploads/\?.*mount=.* -> 201" "$tmp/mount.err" ||
    fail "mount: no mount answered 201"
if grep -qE "^rr: (PATCH|PUT) " "$tmp/mount.err"; then
    fail "mount: the blob was uploaded"
fi

# ---- a blob that is not there ------------------------------------------------------
missing=sha256:$(printf 'no such blob' | sha256sum | cut -d' ' -f1)
expect get_missing 2 blob get "$reg/$ns/files@$missing" "$tmp/missing.bin"
grep -qE "^rr: .*RR_ERR_NOT_FOUND" "$tmp/get_missing.err" || fail "get_missing: no NOT_FOUND"
[[ ! -e $tmp/missing.bin ]] || fail "get_missing: a file was left"
if ls -A "$tmp" | grep -q 'rr-tmp'; then
    fail "get_missing: a temporary file was left"
fi
expect stat_missing 2 blob stat "$reg/$ns/files@$missing"

roundtrip_finish
