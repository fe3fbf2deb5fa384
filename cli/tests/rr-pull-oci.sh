#!/usr/bin/env bash
# rr-pull-oci.sh RR [-- WRAPPER...]
#
# Docker images in OCI layouts, against the open registry fixture (run it through
# run-with-env.sh): the fixture's image and index are copied with `skopeo copy --format
# v2s2` (the index with --all, which makes a Docker manifest list), then
#   (a) `rr pull` keeps the Docker manifest: index.json has the Docker media type and the
#       registry's digest; skopeo reads the layout as oci:DIR and not as oci:DIR:NAME
#       (it looks names up among OCI media types only);
#   (b) `rr pull --oci` converts: the printed digest is the sha256 of the manifest blob in
#       the layout and differs from the registry's, stderr says old and new (nothing with
#       -q), index.json and the manifest have OCI media types only, skopeo reads
#       oci:DIR:NAME, and the config and layer digests are the original ones;
#   (c) `rr push` of that layout gives the converted digest in the registry (`rr digest`,
#       skopeo sees the OCI media type);
# and the same for the manifest list with --all (skopeo resolves a platform's image in the
# converted layout, with the original layers), and without --all (the converted image of
# linux/amd64, which is the converted list's child).
#
# WRAPPER (valgrind under RR_VALGRIND) goes in front of the rr runs that pull and push;
# the read-backs run rr without it.
set -uo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/rr-lib.sh" "$@"
roundtrip_setup rr-pull-oci skopeo sha256sum

docker_manifest=application/vnd.docker.distribution.manifest.v2+json
docker_list=application/vnd.docker.distribution.manifest.list.v2+json
oci_manifest=application/vnd.oci.image.manifest.v1+json
oci_index=application/vnd.oci.image.index.v1+json

# Every string value of KEY in the JSON file FILE, in order, one per line.
values() {
    grep -oE "\"$2\": *\"[^\"]*\"" "$1" | sed -E 's/^"[^"]*": *"(.*)"$/\1/'
}
# The digest of the manifest in FILE.
digest_of() {
    echo "sha256:$(sha256_of "$1")"
}
# skopeo inspect --raw of a registry reference (no TLS), into FILE.
registry_raw() {
    skopeo inspect --raw --tls-verify=false --no-creds "docker://$1" >"$2" ||
        die "skopeo inspect --raw docker://$1 failed"
}
# The blob DIGEST of the layout DIR.
blob() {
    echo "$1/blobs/sha256/${2#sha256:}"
}

reg=$RR_TEST_REGISTRY
ns=rroci/r$(date +%s%N | tail -c 10)$$
sha='sha256:[0-9a-f]{64}'

# ---- Docker schema 2 copies of the fixture's image and index ----------------------------
docker=$reg/$ns/docker:v1
list=$reg/$ns/list:v1
skopeo copy --retry-times=0 --format v2s2 --src-tls-verify=false --dest-tls-verify=false \
    "docker://$RR_TEST_IMAGE" "docker://$docker" >/dev/null ||
    die "skopeo copy --format v2s2 of $RR_TEST_IMAGE failed"
skopeo copy --retry-times=0 --all --format v2s2 --src-tls-verify=false --dest-tls-verify=false \
    "docker://$RR_TEST_INDEX" "docker://$list" >/dev/null ||
    die "skopeo copy --all --format v2s2 of $RR_TEST_INDEX failed"
registry_raw "$docker" "$tmp/docker.json"
registry_raw "$list" "$tmp/list.json"
docker_digest=$(digest_of "$tmp/docker.json")
list_digest=$(digest_of "$tmp/list.json")
[[ $(values "$tmp/docker.json" mediaType | head -n 1) == "$docker_manifest" ]] ||
    die "skopeo did not push a Docker schema 2 image: $(cat "$tmp/docker.json")"
[[ $(values "$tmp/list.json" mediaType | head -n 1) == "$docker_list" ]] ||
    die "skopeo did not push a Docker manifest list: $(cat "$tmp/list.json")"
# The config and layer digests, which no conversion changes.
values "$tmp/docker.json" digest >"$tmp/docker.blobs"
[[ $(wc -l <"$tmp/docker.blobs") -ge 2 ]] || die "no config and layers in $tmp/docker.json"

# ---- (a) without --oci: the Docker manifest, byte for byte --------------------------------
kept=$tmp/kept
run --check pull pull "$docker" "$kept" || die "pull exited with $?"
[[ $(digest_out pull) == "$docker_digest" ]] || fail "pull printed '$(out pull)', not $docker_digest"
values "$kept/index.json" mediaType | grep -xF "$docker_manifest" >/dev/null ||
    fail "index.json of $kept has no $docker_manifest entry: $(cat "$kept/index.json")"
[[ $(values "$kept/index.json" digest) == "$docker_digest" ]] ||
    fail "index.json of $kept does not name $docker_digest: $(cat "$kept/index.json")"
cmp -s "$(blob "$kept" "$docker_digest")" "$tmp/docker.json" ||
    fail "the layout's manifest differs from the registry's"
skopeo inspect --raw "oci:$kept" >"$tmp/kept.json" 2>"$tmp/kept.err" ||
    fail "skopeo inspect oci:$kept (no name) failed: $(cat "$tmp/kept.err")"
[[ $(digest_of "$tmp/kept.json") == "$docker_digest" ]] || fail "oci:$kept is not $docker_digest"
skopeo inspect "oci:$kept" >/dev/null 2>"$tmp/kept.err" ||
    fail "skopeo inspect oci:$kept (not raw) failed: $(cat "$tmp/kept.err")"
if skopeo inspect --raw "oci:$kept:v1" >/dev/null 2>"$tmp/kept-named.err"; then
    fail "skopeo read oci:$kept:v1, a Docker entry, by name: the help says it does not"
else
    # skopeo's (logrus) message quotes it: ... no descriptor found for reference \"v1\"
    grep -qE 'no descriptor found for reference \\?"v1\\?"' "$tmp/kept-named.err" ||
        fail "skopeo inspect oci:$kept:v1 failed otherwise: $(cat "$tmp/kept-named.err")"
fi

# ---- (b) --oci: OCI media types, the same blobs ---------------------------------------------
converted=$tmp/converted
run --check pull-oci pull --oci "$docker" "$converted" ||
    die "pull --oci exited with $?"
oci_digest=$(digest_out pull-oci)
[[ $oci_digest =~ ^$sha$ ]] || die "pull --oci printed '$oci_digest', not a digest"
[[ $oci_digest != "$docker_digest" ]] || fail "pull --oci kept the digest $docker_digest"
manifest=$(blob "$converted" "$oci_digest")
[[ -f $manifest ]] || die "no manifest blob $oci_digest in $converted"
[[ $(digest_of "$manifest") == "$oci_digest" ]] || fail "the manifest blob does not hash to $oci_digest"
grep -qF "converted to OCI media types: the digest changed from $docker_digest to $oci_digest" \
    "$tmp/pull-oci.err" || fail "pull --oci did not say that the digest changed (old and new)"
values "$converted/index.json" mediaType | grep -xF "$oci_manifest" >/dev/null ||
    fail "index.json of $converted has no $oci_manifest entry: $(cat "$converted/index.json")"
grep -q docker "$converted/index.json" && fail "index.json of $converted has a Docker media type"
[[ $(values "$converted/index.json" digest) == "$oci_digest" ]] ||
    fail "index.json of $converted does not name $oci_digest"
skopeo inspect --raw "oci:$converted:v1" >"$tmp/converted.json" 2>"$tmp/converted.err" ||
    fail "skopeo inspect --raw oci:$converted:v1 failed: $(cat "$tmp/converted.err")"
[[ $(digest_of "$tmp/converted.json") == "$oci_digest" ]] || fail "oci:$converted:v1 is not $oci_digest"
[[ $(values "$tmp/converted.json" mediaType | head -n 1) == "$oci_manifest" ]] ||
    fail "oci:$converted:v1 is not an OCI manifest: $(cat "$tmp/converted.json")"
grep -q docker "$tmp/converted.json" && fail "the converted manifest has a Docker media type"
values "$tmp/converted.json" digest | cmp -s - "$tmp/docker.blobs" ||
    fail "the converted manifest's config and layer digests differ from the original's"
skopeo inspect "oci:$converted:v1" >/dev/null 2>"$tmp/converted.err" ||
    fail "skopeo inspect oci:$converted:v1 (not raw, reads the config) failed: $(cat "$tmp/converted.err")"
while read -r d; do
    [[ $(digest_of "$(blob "$converted" "$d")") == "$d" ]] || fail "blob $d of $converted is not $d"
done <"$tmp/docker.blobs"

run pull-oci-quiet -q pull --oci "$docker" "$tmp/quiet" ||
    fail "pull -q --oci exited with $?"
[[ $(out pull-oci-quiet) == "$oci_digest" ]] || fail "pull -q --oci printed '$(out pull-oci-quiet)'"
[[ -s $tmp/pull-oci-quiet.err ]] && fail "pull -q --oci wrote to stderr"

# ---- (c) pushed back: the converted image, by digest ------------------------------------------
pushed=$reg/$ns/pushed:v1
run --check push push "$converted" "$pushed" || die "push exited with $?"
[[ $(digest_out push) == "$oci_digest" ]] || fail "push printed '$(out push)', not $oci_digest"
run digest digest "$pushed" || fail "digest exited with $?"
[[ $(out digest) == "$oci_digest" ]] || fail "the registry's digest of $pushed is '$(out digest)', not $oci_digest"
registry_raw "$pushed" "$tmp/pushed.json"
[[ $(digest_of "$tmp/pushed.json") == "$oci_digest" ]] || fail "skopeo's manifest of $pushed is not $oci_digest"
[[ $(values "$tmp/pushed.json" mediaType | head -n 1) == "$oci_manifest" ]] ||
    fail "skopeo sees $pushed as '$(values "$tmp/pushed.json" mediaType | head -n 1)'"

# ---- the manifest list -------------------------------------------------------------------------
kept_list=$tmp/kept-list
run --check pull-all pull --all "$list" "$kept_list" ||
    die "pull --all exited with $?"
[[ $(digest_out pull-all) == "$list_digest" ]] || fail "pull --all printed '$(out pull-all)', not $list_digest"
values "$kept_list/index.json" mediaType | grep -xF "$docker_list" >/dev/null ||
    fail "index.json of $kept_list has no $docker_list entry"
[[ $(values "$kept_list/index.json" digest) == "$list_digest" ]] ||
    fail "index.json of $kept_list does not name $list_digest"
skopeo inspect --raw "oci:$kept_list" >"$tmp/kept-list.json" 2>"$tmp/kept-list.err" ||
    fail "skopeo inspect --raw oci:$kept_list (no name) failed: $(cat "$tmp/kept-list.err")"
[[ $(digest_of "$tmp/kept-list.json") == "$list_digest" ]] || fail "oci:$kept_list is not $list_digest"
skopeo inspect --raw "oci:$kept_list:v1" >/dev/null 2>&1 &&
    fail "skopeo read oci:$kept_list:v1, a Docker list, by name"

oci_list=$tmp/oci-list
run --check pull-all-oci pull --all --oci "$list" "$oci_list" ||
    die "pull --all --oci exited with $?"
oci_list_digest=$(digest_out pull-all-oci)
[[ $oci_list_digest =~ ^$sha$ && $oci_list_digest != "$list_digest" ]] ||
    fail "pull --all --oci printed '$oci_list_digest'"
[[ $(digest_of "$(blob "$oci_list" "$oci_list_digest")") == "$oci_list_digest" ]] ||
    fail "the index blob in $oci_list does not hash to $oci_list_digest"
grep -qF "the digest changed from $list_digest to $oci_list_digest" "$tmp/pull-all-oci.err" ||
    fail "pull --all --oci did not say that the digest changed"
values "$oci_list/index.json" mediaType | grep -xF "$oci_index" >/dev/null ||
    fail "index.json of $oci_list has no $oci_index entry"
skopeo inspect --raw "oci:$oci_list:v1" >"$tmp/oci-list.json" 2>"$tmp/oci-list.err" ||
    fail "skopeo inspect --raw oci:$oci_list:v1 failed: $(cat "$tmp/oci-list.err")"
[[ $(digest_of "$tmp/oci-list.json") == "$oci_list_digest" ]] || fail "oci:$oci_list:v1 is not $oci_list_digest"
[[ $(values "$tmp/oci-list.json" mediaType | sort -u) == "$oci_index"$'\n'"$oci_manifest" ]] ||
    fail "oci:$oci_list:v1 has media types other than OCI ones: $(cat "$tmp/oci-list.json")"
[[ $(values "$tmp/oci-list.json" architecture) == $(values "$tmp/list.json" architecture) ]] ||
    fail "the converted list's platforms differ from the original's"
# skopeo resolves the arm64 image in the converted layout: the original layers.
arm=(--override-os linux --override-arch arm64 --override-variant v8)
skopeo inspect --tls-verify=false --no-creds "${arm[@]}" "docker://$list" >"$tmp/arm-docker.json" ||
    die "skopeo inspect of the arm64 image of $list failed"
skopeo inspect "${arm[@]}" "oci:$oci_list:v1" >"$tmp/arm-oci.json" 2>"$tmp/arm-oci.err" ||
    fail "skopeo inspect of the arm64 image of oci:$oci_list:v1 failed: $(cat "$tmp/arm-oci.err")"
grep -oE "$sha" "$tmp/arm-docker.json" | tail -n +2 >"$tmp/arm-docker.layers"
grep -oE "$sha" "$tmp/arm-oci.json" | tail -n +2 >"$tmp/arm-oci.layers"
[[ -s $tmp/arm-docker.layers ]] && cmp -s "$tmp/arm-docker.layers" "$tmp/arm-oci.layers" ||
    fail "the arm64 layers of the converted layout differ from the registry's"

# Without --all: the linux/amd64 image, converted as the list's child was.
run pull-list-oci pull --oci "$list" "$tmp/list-amd64" ||
    fail "pull --oci of the list exited with $?"
amd64=$(digest_out pull-list-oci)
grep -qF "\"digest\":\"$amd64\"" "$tmp/oci-list.json" ||
    fail "the converted linux/amd64 image $amd64 is not a child of the converted list"

pushed_list=$reg/$ns/pushed-list:v1
run --check push-list push "$oci_list" "$pushed_list" ||
    die "push of the converted list exited with $?"
[[ $(digest_out push-list) == "$oci_list_digest" ]] || fail "push printed '$(out push-list)'"
run digest-list digest "$pushed_list" || fail "digest exited with $?"
[[ $(out digest-list) == "$oci_list_digest" ]] ||
    fail "the registry's digest of $pushed_list is '$(out digest-list)', not $oci_list_digest"
registry_raw "$pushed_list" "$tmp/pushed-list.json"
[[ $(values "$tmp/pushed-list.json" mediaType | head -n 1) == "$oci_index" ]] ||
    fail "skopeo sees $pushed_list as '$(values "$tmp/pushed-list.json" mediaType | head -n 1)'"

roundtrip_finish
