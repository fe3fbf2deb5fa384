#!/usr/bin/env bash
# curl-transport-roundtrip.sh CURL_TRANSPORT LAYER_DIR [-- WRAPPER...]
#
# librr with libcurl doing the HTTP (curl_transport.c) against the open
# registry fixture (run it through run-with-env.sh, which exports
# RR_TEST_REGISTRY, RR_TEST_IMAGE, RR_TEST_IMAGE_DIGEST, RR_TEST_INDEX,
# RR_TEST_INDEX_DIGEST and RR_TEST_LOG):
#
#  1. pull $RR_TEST_IMAGE (manifest, config, every layer's bytes counted) and
#     copy it to curl/copied:v1: the printed digest is $RR_TEST_IMAGE_DIGEST,
#     each layer's byte count is its size, and the registry's access log shows
#     the requests with our User-Agent: the GETs of the layers and a 201 mount
#     POST from demo/app for every blob, no upload;
#  2. copy $RR_TEST_INDEX to curl/copied-index:v1 (same digest);
#  3. build an image from a layer of fresh random bytes (made here with tar in
#     LAYER_DIR) and push it with rr_write: every byte goes up through curl
#     (`sent:`), the access log shows the PUT ?digest= to curl/built (the layer is
#     under the monolithic threshold: one POST, then the PUT with the body), and
#     the sha256 of the manifest skopeo reads back is the printed digest.
#
# The User-Agent (`--user-agent`) is unique to this run, so the log lines
# checked are this run's. WRAPPER (valgrind and its options) goes in front of
# every run of CURL_TRANSPORT.
set -uo pipefail

prog=${0##*/}
. "$(dirname "${BASH_SOURCE[0]}")/roundtrip-lib.sh"
roundtrip_args curl_transport layer_dir -- "$@"
roundtrip_setup rr-curl tar skopeo sha256sum

reg=$RR_TEST_REGISTRY
sha='sha256:[0-9a-f]{64}'
agent="rr-curl-ctest-$$-$(date +%s)"
# Access log lines of our requests end with the User-Agent the library built.
ours="\"$agent rr/[^\"]*\"\$"

# ---- 1. pull and same-registry copy of an image ---------------------------
copied=$reg/curl/copied:v1
run copy "$curl_transport" --no-keychain --user-agent "$agent" "$RR_TEST_IMAGE" "$copied" ||
    die "curl_transport exited with $?"
[[ $(field copy image) == "$RR_TEST_IMAGE_DIGEST" ]] ||
    fail "pull printed 'image: $(field copy image)', expected $RR_TEST_IMAGE_DIGEST"
[[ $(field copy digest) == "$RR_TEST_IMAGE_DIGEST" ]] ||
    fail "copy printed 'digest: $(field copy digest)', expected $RR_TEST_IMAGE_DIGEST"
[[ $(field copy exchanges) =~ ^[1-9][0-9]*$ ]] || fail "no exchange went through curl"

skopeo inspect --raw --tls-verify=false --no-creds "docker://$RR_TEST_IMAGE" \
    >"$tmp/source-manifest.json" || die "skopeo inspect docker://$RR_TEST_IMAGE failed"
src_repo=${RR_TEST_IMAGE#*/}
src_repo=${src_repo%:*}
# One JSON object per line: "digest":"sha256:...","mediaType":"...","size":N
tr -d ' \n\t' <"$tmp/source-manifest.json" | tr '{}' '\n\n' >"$tmp/source-objects"
config=$(grep -A1 '"config":$' "$tmp/source-objects" | tail -n 1 | grep -oE "$sha")
[[ -n $config ]] || die "no config digest in the source manifest"
layers=$(grep -A1000 '"layers":\[$' "$tmp/source-objects" | grep -oE "$sha" | sort -u)
[[ -n $layers ]] || die "no layer digests in the source manifest"
n=$(grep -cE "^layer [0-9]+: $sha [0-9]+ bytes$" "$tmp/copy.out")
[[ $n == "$(wc -w <<<"$layers")" ]] || fail "$n layer lines, expected $(wc -w <<<"$layers")"
received=$(field copy received)
received=${received% bytes}
total=0
for layer in $layers; do
    size=$(grep -F "\"$layer\"" "$tmp/source-objects" | grep -oE '"size":[0-9]+' | head -n 1)
    size=${size#\"size\":}
    [[ -n $size ]] || die "no size for $layer in the source manifest"
    grep -qE "^layer [0-9]+: $layer $size bytes$" "$tmp/copy.out" ||
        fail "layer $layer: no line with its size $size"
    total=$((total + size))
    log_has "\"GET /v2/$src_repo/blobs/$layer HTTP/1\\.1\" 200 $size .*$ours" ||
        fail "no GET of $layer with our User-Agent in the access log"
done
((received >= total)) || fail "curl received $received bytes, less than the layers' $total"
for blob in $config $layers; do
    pattern="\"POST /v2/curl/copied/blobs/uploads/\\?from=${src_repo//\//%2F}&mount=${blob/:/%3A} HTTP/1\\.1\" 201 .*$ours"
    log_has "$pattern" || fail "no mount of $blob with status 201 (through curl) in the access log"
done
log_has "\"PUT /v2/curl/copied/manifests/v1 HTTP/1\\.1\" 201 .*$ours" ||
    fail "no manifest PUT of curl/copied:v1 through curl in the access log"
if grep -E '"(PATCH /v2/curl/copied/|PUT /v2/curl/copied/blobs/)' "$RR_TEST_LOG"; then
    fail "the copy uploaded blob data instead of mounting"
fi

# ---- 2. a whole index ------------------------------------------------------
run index "$curl_transport" --no-keychain --jobs 3 --user-agent "$agent" "$RR_TEST_INDEX" \
    "$reg/curl/copied-index:v1" || die "curl_transport (index) exited with $?"
[[ $(field index digest) == "$RR_TEST_INDEX_DIGEST" ]] ||
    fail "index copy printed 'digest: $(field index digest)', expected $RR_TEST_INDEX_DIGEST"

# ---- 3. a built image, uploaded through curl --------------------------------
mkdir -p "$layer_dir/src/data" || exit 1
head -c 300000 /dev/urandom >"$layer_dir/src/data/random.bin" || exit 1
echo "$agent" >"$layer_dir/src/data/agent.txt"
tar -C "$layer_dir/src" -cf "$layer_dir/layer.tar" data || die "tar failed"
layer_size=$(stat -c %s "$layer_dir/layer.tar")
built=$reg/curl/built:v1
run build "$curl_transport" --no-keychain --user-agent "$agent" --build "$layer_dir/layer.tar" \
    "$built" || die "curl_transport --build exited with $?"
digest=$(field build built)
[[ $digest =~ ^$sha$ ]] || die "no 'built:' digest printed"
[[ $(field build digest) == "$digest" ]] ||
    fail "HEAD after the push gave '$(field build digest)', the build $digest"
sent=$(field build sent)
sent=${sent% bytes}
((sent >= layer_size)) || fail "curl sent $sent bytes, less than the layer's $layer_size"
layer_digest="sha256:$(sha256sum "$layer_dir/layer.tar" | cut -d' ' -f1)"
log_has "\"PUT /v2/curl/built/blobs/uploads/[^ ]*digest=${layer_digest/:/%3A}[^ ]* HTTP/1\\.1\" 201 .*$ours" ||
    fail "no PUT ?digest=$layer_digest through curl in the access log"
skopeo inspect --raw --tls-verify=false --no-creds "docker://$built" >"$tmp/built.json" ||
    die "skopeo inspect docker://$built failed"
got="sha256:$(sha256_of "$tmp/built.json")"
[[ $got == "$digest" ]] || fail "the registry's manifest hashes to $got, curl_transport printed $digest"
grep -qF "$layer_digest" "$tmp/built.json" || fail "the manifest does not name the layer $layer_digest"

roundtrip_finish
