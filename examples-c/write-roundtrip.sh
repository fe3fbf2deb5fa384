#!/usr/bin/env bash
# write-roundtrip.sh PUSH_BUILT COPY [-- WRAPPER...]
#
# The write path of librr end to end against an open registry fixture (run it
# through run-with-env.sh, which exports RR_TEST_REGISTRY, RR_TEST_IMAGE,
# RR_TEST_IMAGE_DIGEST, RR_TEST_INDEX, RR_TEST_INDEX_DIGEST and RR_TEST_LOG):
#
#  1. makes three layer files with tar (plain, gzip, zstd);
#  2. push_built pushes them (for linux/arm64) to $RR_TEST_REGISTRY/ctest/built:v1;
#     skopeo reads the manifest back: its sha256 is the printed digest, it has a
#     layer of each media type, and the config is arm64 with three diff_ids;
#     building again gives the same digest (reproducible builds), and --quiet
#     prints no progress;
#  3. copy copies $RR_TEST_IMAGE to ctest/copied:v1 (same digest; every blob
#     mounted from demo/app with a 201, nothing uploaded) and $RR_TEST_INDEX to
#     ctest/copied-index:v1 (same digest).
#
# WRAPPER (e.g. valgrind and its options) goes in front of every run of
# PUSH_BUILT and COPY.
set -uo pipefail

prog=${0##*/}
. "$(dirname "${BASH_SOURCE[0]}")/roundtrip-lib.sh"
roundtrip_args push_built copy -- "$@"
roundtrip_setup rr-roundtrip tar gzip zstd skopeo sha256sum

skopeo_raw() {
    skopeo inspect --raw "$@"
}

reg=$RR_TEST_REGISTRY
sha='sha256:[0-9a-f]{64}'

# ---- 1. layer files ---------------------------------------------------------
mkdir -p "$tmp/src/a/etc" "$tmp/src/b/usr/share" "$tmp/src/c/opt" || exit 1
echo "hello from layer a" >"$tmp/src/a/etc/hello"
head -c 200000 /dev/urandom >"$tmp/src/b/usr/share/random.bin"
seq 1 20000 >"$tmp/src/c/opt/numbers.txt"
tar -C "$tmp/src/a" -cf "$tmp/a.tar" etc || die "tar a"
tar -C "$tmp/src/b" -cf - usr | gzip -n >"$tmp/b.tar.gz" || die "tar b"
tar -C "$tmp/src/c" -cf - opt | zstd -q -o "$tmp/c.tar.zst" || die "tar c"
layers=("$tmp/a.tar" "$tmp/b.tar.gz" "$tmp/c.tar.zst")

# ---- 2. push_built, then read back with skopeo ---------------------------
built=$reg/ctest/built:v1
run push "$push_built" --no-keychain --platform linux/arm64 --jobs 2 "$built" "${layers[@]}" ||
    die "push_built exited with $?"
digest=$(field push digest)
[[ $digest =~ ^$sha$ ]] || die "push_built printed no digest"
[[ $(field push layers) == 3 ]] || fail "push_built printed 'layers: $(field push layers)', expected 3"
grep -qE '^progress: [0-9]+/[0-9]+$' "$tmp/push.err" || fail "no progress line on stderr"
last=$(grep -E '^progress: ' "$tmp/push.err" | tail -n 1)
[[ $last =~ ^progress:\ ([0-9]+)/([0-9]+)$ && ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]] ||
    fail "the last progress line '$last' is not complete/complete"

skopeo_raw --tls-verify=false --no-creds "docker://$built" >"$tmp/registry-manifest.json" ||
    die "skopeo inspect docker://$built failed"
got="sha256:$(sha256_of "$tmp/registry-manifest.json")"
[[ $got == "$digest" ]] || fail "the registry's manifest hashes to $got, push_built printed $digest"
for mt in 'layer.v1.tar"' 'layer.v1.tar+gzip"' 'layer.v1.tar+zstd"'; do
    grep -qF "$mt" "$tmp/registry-manifest.json" || fail "the manifest has no $mt layer"
done

skopeo inspect --config --raw --tls-verify=false --no-creds "docker://$built" \
    >"$tmp/config-out.json" || die "skopeo inspect --config failed"
echo "---- config: $(cat "$tmp/config-out.json")"
grep -qE '"architecture": *"arm64"' "$tmp/config-out.json" || fail "config is not arm64"
n=$(grep -oE '"diff_ids": *\[[^]]*\]' "$tmp/config-out.json" | grep -oE "$sha" | wc -l)
[[ $n == 3 ]] || fail "config has $n diff_ids, expected 3"

# The same inputs build the same image; pushing it again changes nothing.
run repush "$push_built" --no-keychain --quiet --platform linux/arm64 "$built" "${layers[@]}" ||
    fail "push_built (again) exited with $?"
[[ $(field repush digest) == "$digest" ]] || fail "a second build gave $(field repush digest)"
grep -q '^progress: ' "$tmp/repush.err" && fail "--quiet printed progress lines"

# ---- 3. copy within the registry: mounts only ----------------------------
copied=$reg/ctest/copied:v1
run copy "$copy" --no-keychain "$RR_TEST_IMAGE" "$copied" || die "copy exited with $?"
[[ $(field copy digest) == "$RR_TEST_IMAGE_DIGEST" ]] ||
    fail "copy printed '$(field copy digest)', expected $RR_TEST_IMAGE_DIGEST"
last=$(grep -E '^progress: ' "$tmp/copy.err" | tail -n 1)
[[ $last =~ ^progress:\ ([0-9]+)/([0-9]+)$ && ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]] ||
    fail "copy: the last progress line '$last' is not complete/complete"

# Every blob of the source image (config and layers) is mounted from demo/app.
skopeo_raw --tls-verify=false --no-creds "docker://$RR_TEST_IMAGE" >"$tmp/source-manifest.json" ||
    die "skopeo inspect docker://$RR_TEST_IMAGE failed"
src_repo=${RR_TEST_IMAGE#*/}
src_repo=${src_repo%:*}
blobs=$(grep -oE "\"digest\": *\"$sha\"" "$tmp/source-manifest.json" | grep -oE "$sha" | sort -u)
[[ -n $blobs ]] || die "no blob digests in the source manifest"
for blob in $blobs; do
    pattern="\"POST /v2/ctest/copied/blobs/uploads/\\?from=${src_repo//\//%2F}&mount=${blob/:/%3A} HTTP/1\\.1\" 201 "
    log_has "$pattern" || fail "no mount of $blob with status 201 in the access log"
    # The per-blob callback says so too.
    grep -qxF "blob: $blob mounted" "$tmp/copy.err" || fail "copy printed no 'blob: $blob mounted'"
done
if grep -E '"PATCH /v2/ctest/copied/' "$RR_TEST_LOG"; then
    fail "copy uploaded data (PATCH) to ctest/copied instead of mounting"
fi
if grep -E '"PUT /v2/ctest/copied/blobs/' "$RR_TEST_LOG"; then
    fail "copy uploaded a blob (PUT) to ctest/copied instead of mounting"
fi

# ---- 4. copy of a whole index --------------------------------------------
copied_index=$reg/ctest/copied-index:v1
run copy-index "$copy" --no-keychain --jobs 3 "$RR_TEST_INDEX" "$copied_index" ||
    die "copy (index) exited with $?"
[[ $(field copy-index digest) == "$RR_TEST_INDEX_DIGEST" ]] ||
    fail "copy printed '$(field copy-index digest)', expected $RR_TEST_INDEX_DIGEST"
skopeo_raw --tls-verify=false --no-creds "docker://$copied_index" >"$tmp/index.json" ||
    die "skopeo inspect docker://$copied_index failed"
got="sha256:$(sha256_of "$tmp/index.json")"
[[ $got == "$RR_TEST_INDEX_DIGEST" ]] || fail "the copied index hashes to $got"
if grep -E '"PATCH /v2/ctest/copied-index/' "$RR_TEST_LOG"; then
    fail "copy uploaded data (PATCH) to ctest/copied-index instead of mounting"
fi

roundtrip_finish
