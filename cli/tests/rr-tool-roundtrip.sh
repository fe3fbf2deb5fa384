#!/usr/bin/env bash
# rr-tool-roundtrip.sh RR [-- WRAPPER...]
#
# The rr tool end to end against the open registry fixture (run it through
# run-with-env.sh, which exports RR_TEST_REGISTRY, RR_TEST_IMAGE,
# RR_TEST_IMAGE_DIGEST, RR_TEST_INDEX, RR_TEST_INDEX_DIGEST and RR_TEST_LOG):
# build (tar, gzip and zstd layers and a base config), ls, tag, digest,
# manifest, put-manifest (the exact bytes, by tag, by digest, from stdin; other
# bytes by digest refused), config, pull (an image, and with --all an index), push (an image,
# a whole index, one platform of it, a named entry, and the errors of a layout
# with several entries), copy (-v shows the mounts), append, delete (a tag is
# refused by distribution 2.8 with exit 4; by digest it goes), catalog and
# auth check. Digests are checked with skopeo and sha256sum; progress on
# stderr, which is not a terminal here, must be plain lines, and with
# --progress bar one line per blob ("mounted", "exists", "done") above the bar.
#
# WRAPPER (valgrind under RR_VALGRIND) goes in front of the runs that matter
# for memory checking (one of each command's main paths); the checks that only
# read results back run rr without it, to keep the test short.
set -uo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/rr-lib.sh" "$@"
roundtrip_setup rr-tool tar gzip zstd skopeo sha256sum

# stderr of run NAME must have the last progress line of a transfer labelled LABEL.
progress_done() {
    grep -qE "^rr: $2: done, (nothing to transfer|[0-9.]+ [KMGT]?i?B \([0-9]+ bytes\)) in [0-9.]+s" \
        "$tmp/$1.err" || fail "$1: no plain 'rr: $2: done, ...' progress line on stderr"
    if grep -q $'\r' "$tmp/$1.err"; then
        fail "$1: a carriage return on stderr, which is not a terminal"
    fi
}

reg=$RR_TEST_REGISTRY
# Repositories of this run only: a second run against the same registry
# would find every blob already there (no mounts, nothing to transfer).
ns=rrtool/r$(date +%s%N | tail -c 10)$$
sha='sha256:[0-9a-f]{64}'

# ---- layer files and a base config -----------------------------------------
mkdir -p "$tmp/src/a/etc" "$tmp/src/b/usr/share" "$tmp/src/c/opt" "$tmp/src/d/extra" || exit 1
echo "hello from rr build" >"$tmp/src/a/etc/hello"
head -c 300000 /dev/urandom >"$tmp/src/b/usr/share/random.bin"
seq 1 20000 >"$tmp/src/c/opt/numbers.txt"
echo "appended" >"$tmp/src/d/extra/appended.txt"
tar -C "$tmp/src/a" -cf "$tmp/a.tar" etc || die "tar a"
tar -C "$tmp/src/b" -cf - usr | gzip -n >"$tmp/b.tar.gz" || die "tar b"
tar -C "$tmp/src/c" -cf - opt | zstd -q -o "$tmp/c.tar.zst" || die "tar c"
tar -C "$tmp/src/d" -cf "$tmp/d.tar" extra || die "tar d"
cat >"$tmp/config.json" <<'EOF'
{"config":{"Env":["PATH=/usr/bin:/bin"],"Cmd":["/bin/sh"],"Labels":{"org.example.test":"rr-tool"}}}
EOF

# ---- build ---------------------------------------------------------------
hello=$reg/$ns/hello
run --check build build --config "$tmp/config.json" --platform linux/arm64 --jobs 2 \
    "$hello:v1" "$tmp/a.tar" "$tmp/b.tar.gz" "$tmp/c.tar.zst" || die "build exited with $?"
digest=$(digest_out build)
[[ $digest =~ ^$sha$ ]] || die "build printed '$digest', not a digest"
progress_done build build
skopeo inspect --raw --tls-verify=false --no-creds "docker://$hello:v1" >"$tmp/registry.json" ||
    die "skopeo inspect docker://$hello:v1 failed"
[[ sha256:$(sha256_of "$tmp/registry.json") == "$digest" ]] ||
    fail "the registry's manifest does not hash to $digest"

expect rebuild 0 --quiet build --config "$tmp/config.json" --platform linux/arm64 \
    "$hello:v1" "$tmp/a.tar" "$tmp/b.tar.gz" "$tmp/c.tar.zst"
[[ $(out rebuild) == "$digest" ]] || fail "the same inputs built $(out rebuild), not $digest"
[[ -s $tmp/rebuild.err ]] && fail "--quiet wrote to stderr"

# ---- ls, tag, digest, manifest, config -----------------------------------
expect ls 0 ls "$hello"
[[ $(out ls) == v1 ]] || fail "ls printed '$(out ls)', expected v1"
run --check tag tag "$hello:v1" v2 || fail "tag exited with $?"
[[ -s $tmp/tag.out ]] && fail "tag printed something on stdout"
expect ls2 0 ls "$hello"
[[ $(sort "$tmp/ls2.out" | tr '\n' ' ') == "v1 v2 " ]] || fail "ls after tag printed '$(out ls2)'"
expect digest 0 digest "$hello:v2"
[[ $(out digest) == "$digest" ]] || fail "digest of v2 is '$(out digest)', expected $digest"
expect manifest 0 manifest "$hello:v1"
[[ sha256:$(sha256_of "$tmp/manifest.out") == "$digest" ]] || fail "manifest does not hash to $digest"
cmp -s "$tmp/manifest.out" "$tmp/registry.json" || fail "manifest differs from skopeo's"
# put-manifest: the exact bytes under another tag (and by digest), nothing else sent;
# bytes that are not the digest's are refused before any request.
expect put 0 put-manifest "$hello:put" "$tmp/manifest.out"
[[ $(out put) == "$digest" ]] || fail "put-manifest printed '$(out put)', expected $digest"
expect put-manifest 0 manifest "$hello:put"
cmp -s "$tmp/put-manifest.out" "$tmp/manifest.out" || fail "put-manifest changed the bytes"
printf ' ' | cat "$tmp/manifest.out" - >"$tmp/manifest-space.json"
run --check put-wrong-digest put-manifest "$hello@$digest" "$tmp/manifest-space.json"
status=$?
[[ $status == 1 ]] || fail "put-manifest of other bytes by digest: exit $status, expected 1"
grep -qE '^rr: .*hash to .*\(RR_ERR_INVALID_ARGUMENT\)$' "$tmp/put-wrong-digest.err" ||
    fail "put-manifest of other bytes by digest: no clear message"
if grep -E "\"PUT /v2/$ns/hello/manifests/$digest " "$RR_TEST_LOG"; then
    fail "put-manifest sent bytes that are not the digest's"
fi
expect put-stdin 0 put-manifest --media-type application/vnd.oci.image.manifest.v1+json \
    "$hello@$digest" - <"$tmp/manifest.out"
[[ $(out put-stdin) == "$digest" ]] || fail "put-manifest from stdin printed '$(out put-stdin)'"

expect config 0 config "$hello:v1"
grep -qE '"architecture": *"arm64"' "$tmp/config.out" || fail "the config is not arm64"
grep -qF '"org.example.test":"rr-tool"' "$tmp/config.out" || fail "the config lost its label"
grep -qF '"Env":["PATH=/usr/bin:/bin"]' "$tmp/config.out" || fail "the config lost its Env"

# ---- pull ----------------------------------------------------------------
layout=$tmp/hello-layout
run --check pull pull "$hello:v1" "$layout" || die "pull exited with $?"
[[ $(digest_out pull) == "$digest" ]] || fail "pull printed '$(out pull)', expected $digest"
progress_done pull pull
skopeo inspect --raw "oci:$layout:v1" >"$tmp/layout.json" || die "skopeo inspect oci:$layout:v1 failed"
[[ sha256:$(sha256_of "$tmp/layout.json") == "$digest" ]] || fail "oci:$layout:v1 does not hash to $digest"

index_layout=$tmp/index-layout
run --check pull-all pull --all "$RR_TEST_INDEX" "$index_layout" || die "pull --all exited with $?"
[[ $(digest_out pull-all) == "$RR_TEST_INDEX_DIGEST" ]] ||
    fail "pull --all printed '$(out pull-all)', expected $RR_TEST_INDEX_DIGEST"
skopeo inspect --raw "oci:$index_layout:latest" >"$tmp/index.json" ||
    die "skopeo inspect oci:$index_layout:latest failed"
[[ sha256:$(sha256_of "$tmp/index.json") == "$RR_TEST_INDEX_DIGEST" ]] ||
    fail "oci:$index_layout:latest does not hash to the index digest"

# ---- push ----------------------------------------------------------------
run --check push-index push "$index_layout" "$reg/$ns/index:v1" || fail "push (index) exited with $?"
[[ $(digest_out push-index) == "$RR_TEST_INDEX_DIGEST" ]] ||
    fail "push (index) printed '$(out push-index)', expected $RR_TEST_INDEX_DIGEST"
progress_done push-index push
skopeo inspect --raw --tls-verify=false --no-creds "docker://$reg/$ns/index:v1" >"$tmp/pushed-index.json" ||
    fail "skopeo inspect of the pushed index failed"
[[ sha256:$(sha256_of "$tmp/pushed-index.json") == "$RR_TEST_INDEX_DIGEST" ]] ||
    fail "the pushed index does not hash to $RR_TEST_INDEX_DIGEST"

# The same index again, to a repository where no blob is, in chunks of 64 KiB: the
# request log (-v) shows PATCHes with Content-Range, and the digests are the same.
run --check push-chunked -v --chunk-size 64K push "$index_layout" "$reg/$ns/chunked:v1" ||
    fail "push --chunk-size 64K exited with $?"
[[ $(digest_out push-chunked) == "$RR_TEST_INDEX_DIGEST" ]] ||
    fail "push --chunk-size 64K printed '$(out push-chunked)', expected $RR_TEST_INDEX_DIGEST"
patches=$(grep -cE '^rr: PATCH .*/chunked/blobs/uploads/' "$tmp/push-chunked.err" || true)
((patches >= 2)) || fail "push --chunk-size 64K made $patches PATCH requests, expected several"

expect arm64-digest 0 digest --platform linux/arm64 "$RR_TEST_INDEX"
arm64=$(out arm64-digest)
[[ $arm64 =~ ^$sha$ && $arm64 != "$RR_TEST_INDEX_DIGEST" ]] || fail "digest --platform gave '$arm64'"
expect push-arm64 0 push --platform linux/arm64 "$index_layout" "$reg/$ns/arm64:v1"
[[ $(out push-arm64) == "$arm64" ]] || fail "push --platform linux/arm64 printed '$(out push-arm64)', expected $arm64"

# A second entry in the image's layout: --name is then needed.
expect pull-app 0 --quiet pull --name app "$RR_TEST_IMAGE" "$layout"
run --check push-ambiguous push "$layout" "$reg/$ns/ambiguous:v1"
status=$?
[[ $status == 64 ]] || fail "push of a layout with two entries: exit $status, expected 64"
grep -qE '^rr: .* holds 2 entries \((v1, app|app, v1)\): pick one with --name NAME$' "$tmp/push-ambiguous.err" ||
    fail "push of a layout with two entries does not name them"
run --check push-named push --name app "$layout" "$reg/$ns/app:v1" || fail "push --name app exited with $?"
[[ $(out push-named) == "$RR_TEST_IMAGE_DIGEST" ]] || fail "push --name app printed '$(out push-named)'"
expect push-unknown-name 2 push --name nope "$layout" "$reg/$ns/app:v1"
grep -qF 'has no entry named nope' "$tmp/push-unknown-name.err" || fail "push --name nope: no clear message"

# ---- copy: mounts within one registry ------------------------------------
copied=$reg/$ns/copied
run --check copy -v copy "$RR_TEST_IMAGE" "$copied:v1" || fail "copy exited with $?"
[[ $(digest_out copy) == "$RR_TEST_IMAGE_DIGEST" ]] || fail "copy printed '$(out copy)'"
progress_done copy copy
mounts=$(grep -cE "^rr: POST [^ ]*/v2/$ns/copied/blobs/uploads/\\?from=demo%2Fapp&mount=sha256%3A[0-9a-f]{64} -> 201 " "$tmp/copy.err")
skopeo inspect --raw --tls-verify=false --no-creds "docker://$RR_TEST_IMAGE" >"$tmp/source.json" ||
    die "skopeo inspect docker://$RR_TEST_IMAGE failed"
blobs=$(grep -oE "\"digest\": *\"$sha\"" "$tmp/source.json" | grep -oE "$sha" | sort -u | wc -l)
[[ $mounts == "$blobs" ]] || fail "copy -v shows $mounts mounts answered 201, expected $blobs (one per blob)"
grep -qE '^rr: step: copy .*: ok \([0-9]+ ms\)$' "$tmp/copy.err" || fail "copy -v shows no step timing"
if grep -E "\"(PATCH|PUT) /v2/$ns/copied/blobs/" "$RR_TEST_LOG"; then
    fail "copy uploaded blob data to $ns/copied instead of mounting"
fi

# ---- append: the base's layers, then a new one ---------------------------
run --check append append "$RR_TEST_IMAGE" "$reg/$ns/appended:v1" "$tmp/d.tar" || fail "append exited with $?"
appended=$(digest_out append)
[[ $appended =~ ^$sha$ ]] || fail "append printed '$appended'"
expect appended-manifest 0 manifest "$reg/$ns/appended:v1"
base_layers=$(grep -oE "\"digest\": *\"$sha\"" "$tmp/source.json" | grep -oE "$sha" | tail -n +2)
new_layers=$(grep -oE "\"digest\": *\"$sha\"" "$tmp/appended-manifest.out" | grep -oE "$sha" | tail -n +2)
[[ $(echo "$new_layers" | wc -l) == $(($(echo "$base_layers" | wc -l) + 1)) ]] ||
    fail "the appended image does not have one layer more than its base"
[[ $(echo "$new_layers" | head -n "$(echo "$base_layers" | wc -l)") == "$base_layers" ]] ||
    fail "the appended image does not start with its base's layers"
[[ $(echo "$new_layers" | tail -n 1) == "sha256:$(sha256_of "$tmp/d.tar")" ]] ||
    fail "the appended image's last layer is not d.tar"
expect appended-config 0 config "$reg/$ns/appended:v1"
grep -qF '"org.example.fixture":"rr-testkit"' "$tmp/appended-config.out" || fail "append lost the base config's labels"
# The base's layers were mounted from its repository, not downloaded and uploaded again.
mounted=$(grep -cE "\"POST /v2/$ns/appended/blobs/uploads/\?from=[^ ]*mount=[^ ]* HTTP/1.1\" 201" "$RR_TEST_LOG" || true)
[[ $mounted == $(echo "$base_layers" | wc -l) ]] ||
    fail "append mounted $mounted base layers, expected $(echo "$base_layers" | wc -l)"

# ---- delete --------------------------------------------------------------
run --check delete-tag delete "$hello:v2"
status=$?
[[ $status == 4 ]] || fail "delete of a tag: exit $status, expected 4 (distribution 2.8 keeps tags)"
grep -qE '^rr: .*\(RR_ERR_UNSUPPORTED(, HTTP [0-9]+)?(, [A-Z_]+)?\)$' "$tmp/delete-tag.err" ||
    fail "delete of a tag: no RR_ERR_UNSUPPORTED error line"
expect delete-digest 0 delete "$hello@$digest"
expect deleted 2 digest "$hello:v1"
grep -qF '(RR_ERR_NOT_FOUND' "$tmp/deleted.err" || fail "a deleted manifest is not RR_ERR_NOT_FOUND"

# ---- catalog, auth check, a bar on request -------------------------------
expect catalog 0 catalog "$reg"
grep -qx "$ns/copied" "$tmp/catalog.out" || fail "catalog lacks $ns/copied"
grep -qx 'demo/app' "$tmp/catalog.out" || fail "catalog lacks demo/app"
expect auth-check 0 auth check "$reg/$ns/probe:v1"
[[ $(out auth-check) == ok ]] || fail "auth check printed '$(out auth-check)'"
expect bar 0 --progress bar copy "$RR_TEST_INDEX" "$reg/$ns/bar:v1"
grep -q $'\r' "$tmp/bar.err" || fail "--progress bar drew no bar (no carriage return)"
grep -qE 'rr: copy: done, ' "$tmp/bar.err" || fail "--progress bar printed no last line"
# One line per blob above the bar, its last state kept: every blob of the index was
# mounted from demo/ (same registry), and a pull then a pull again into the same layout
# show "done" then "exists", a push from it "done" then, to another tag, "exists".
blob_lines() { grep -aoE "sha256:[0-9a-f]{12}  $2( |\$)" "$tmp/$1.err" | sort -u | wc -l; }
(( $(blob_lines bar mounted) >= 3 )) || fail "--progress bar copy shows no 'mounted' line per blob"
expect bar-pull 0 --progress bar pull "$RR_TEST_IMAGE" "$tmp/bar-layout"
expect bar-pull-again 0 --progress bar pull "$RR_TEST_IMAGE" "$tmp/bar-layout"
expect bar-push 0 --progress bar push "$tmp/bar-layout" "$reg/$ns/bar-push:v1"
expect bar-push-again 0 --progress bar push "$tmp/bar-layout" "$reg/$ns/bar-push:v2"
for run_state in "bar-pull done" "bar-pull-again exists" "bar-push done" "bar-push-again exists"; do
    read -r name state <<<"$run_state"
    (( $(blob_lines "$name" "$state") >= 2 )) || fail "$name: no '$state' line per blob (config and layer)"
done

roundtrip_finish
