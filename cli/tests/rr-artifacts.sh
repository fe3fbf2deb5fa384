#!/usr/bin/env bash
# rr-artifacts.sh RR [-- WRAPPER...]
#
# Artifacts and referrers with the rr tool against the open registry fixture (distribution
# 2.8, which has no referrers API: the fallback tag sha256-<hex>; run it through
# run-with-env.sh):
#   attach an SBOM (two files, an annotation) to an image, and a signature to the SBOM;
#   referrers lists each with its type and titles, filters by type, prints the index with
#   --format json; copy --referrers brings all three manifests along with their digests,
#   and the copy's referrers are listed there; pull --artifact saves the files under their
#   titles (the same bytes) into a new directory; an artifact whose title is ../../x (made
#   with blob put and put-manifest) is refused with nothing written anywhere; usage errors.
# Then, with the peer tools that scripts/install-deps.sh installs into the tools directory
# (RR_TOOLS_DIR, default ~/.cache/rr-tools/bin): oras discovers what rr attached and oras
# pull gives the same files; rr referrers lists what oras attach pushed (same digest and
# type); regctl artifact list sees rr's referrers, regctl artifact get gives the file.
#
# WRAPPER (valgrind under RR_VALGRIND) goes in front of one run of each command.
set -uo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/rr-lib.sh" "$@"
roundtrip_setup rr-artifacts sha256sum

reg=$RR_TEST_REGISTRY
ns=rrart/r$(date +%s%N | tail -c 10)$$
sha='sha256:[0-9a-f]{64}'
sbom_type=application/spdx+json
sig_type=application/vnd.example.signature

printf '{"spdxVersion":"SPDX-2.3"}\n' >"$tmp/sbom.spdx.json"
printf 'built on a quiet day\n' >"$tmp/NOTES.txt"
printf 'signed\n' >"$tmp/sig.bin"

expect copy_subject 0 copy "$RR_TEST_IMAGE" "$reg/$ns/app:v1"
subject=$(digest_out copy_subject)

# ---- attach ---------------------------------------------------------------------
run --check attach_sbom attach --artifact-type "$sbom_type" --annotation com.example.tool=rr \
    --media-type application/json "$reg/$ns/app:v1" "$tmp/sbom.spdx.json" "$tmp/NOTES.txt" ||
    die "attach of the SBOM exited with $?"
sbom=$(digest_out attach_sbom)
[[ $sbom =~ ^$sha$ ]] || fail "attach printed '$sbom', not a digest"
expect attach_sig 0 attach --artifact-type "$sig_type" "$reg/$ns/app@$sbom" "$tmp/sig.bin"
sig=$(digest_out attach_sig)

# ---- referrers --------------------------------------------------------------------
run --check referrers referrers "$reg/$ns/app:v1" || fail "referrers exited with $?"
[[ $(out referrers) == "$sbom $sbom_type sbom.spdx.json NOTES.txt" ]] ||
    fail "referrers printed '$(out referrers)'"
expect referrers_of_sbom 0 referrers "$reg/$ns/app@$sbom"
[[ $(out referrers_of_sbom) == "$sig $sig_type sig.bin" ]] ||
    fail "referrers of the SBOM printed '$(out referrers_of_sbom)'"
expect referrers_filtered 0 referrers --artifact-type "$sig_type" "$reg/$ns/app:v1"
[[ ! -s $tmp/referrers_filtered.out ]] || fail "the filter let '$(out referrers_filtered)' through"
expect referrers_json 0 referrers --format json "$reg/$ns/app@$subject"
grep -q "\"digest\":\"$sbom\"" "$tmp/referrers_json.out" || fail "the JSON index lacks $sbom"
grep -q '"mediaType":"application/vnd.oci.image.index.v1+json"' "$tmp/referrers_json.out" ||
    fail "the JSON is not an OCI index"
grep -q '"com.example.tool":"rr"' "$tmp/referrers_json.out" || fail "the annotation is missing"
expect referrers_none 0 referrers "$RR_TEST_IMAGE"

# ---- copy --referrers ---------------------------------------------------------------
run --check copy_referrers copy --referrers "$reg/$ns/app:v1" "$reg/$ns/mirror:v1" ||
    fail "copy --referrers exited with $?"
[[ $(digest_out copy_referrers) == "$subject" ]] || fail "copy printed $(out copy_referrers)"
for d in "$subject" "$sbom" "$sig"; do
    expect "there_${d:7:12}" 0 digest "$reg/$ns/mirror@$d"
    [[ $(digest_out "there_${d:7:12}") == "$d" ]] || fail "$d is not in the copy"
done
expect mirror_referrers 0 referrers "$reg/$ns/mirror:v1"
[[ $(out mirror_referrers) == "$sbom $sbom_type sbom.spdx.json NOTES.txt" ]] ||
    fail "the copy's referrers are '$(out mirror_referrers)'"
expect mirror_sig 0 referrers "$reg/$ns/mirror@$sbom"
[[ $(out mirror_sig) == "$sig $sig_type sig.bin" ]] || fail "the copy's SBOM lost its signature"

# ---- pull --artifact ---------------------------------------------------------------
run --check pull_artifact pull --artifact "$reg/$ns/mirror@$sbom" "$tmp/files/new" ||
    fail "pull --artifact exited with $?"
[[ $(out pull_artifact) == $'sbom.spdx.json\nNOTES.txt' ]] ||
    fail "pull --artifact printed '$(out pull_artifact)'"
cmp -s "$tmp/sbom.spdx.json" "$tmp/files/new/sbom.spdx.json" || fail "sbom.spdx.json differs"
cmp -s "$tmp/NOTES.txt" "$tmp/files/new/NOTES.txt" || fail "NOTES.txt differs"
[[ $(ls -A "$tmp/files/new" | wc -l) == 2 ]] || fail "pull left $(ls -A "$tmp/files/new")"
expect pull_artifact_layout_options 64 pull --artifact --all "$reg/$ns/mirror@$sbom" "$tmp/x"

# ---- a hostile title -----------------------------------------------------------------
expect evil_blob 0 blob put "$reg/$ns/evil" "$tmp/sig.bin"
evil_blob=$(digest_out evil_blob)
printf '{}' >"$tmp/empty.json"
expect empty_blob 0 blob put "$reg/$ns/evil" "$tmp/empty.json"
empty=$(digest_out empty_blob)
cat >"$tmp/evil.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "artifactType":"$sig_type",
 "config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"$empty","size":2},
 "layers":[{"mediaType":"text/plain","digest":"$evil_blob","size":7,
            "annotations":{"org.opencontainers.image.title":"../../escaped"}}]}
EOF
expect evil_manifest 0 put-manifest "$reg/$ns/evil:v1" "$tmp/evil.json"
mkdir -p "$tmp/deep/a/b"
run --check pull_evil pull --artifact "$reg/$ns/evil:v1" "$tmp/deep/a/b/out"
status=$?
[[ $status == 1 ]] || fail "pull of a hostile title exited with $status, not 1"
grep -q 'refused as a file name.*RR_ERR_INVALID_RESPONSE' "$tmp/pull_evil.err" ||
    fail "pull of a hostile title said: $(cat "$tmp/pull_evil.err")"
[[ ! -e $tmp/deep/a/b/out && ! -e $tmp/deep/escaped && ! -e $tmp/deep/a/escaped ]] ||
    fail "a file was written for the hostile title"

# ---- the peer tools -----------------------------------------------------------------
tools=${RR_TOOLS_DIR:-$HOME/.cache/rr-tools/bin}
oras=$tools/oras
regctl=$tools/regctl
[[ -x $oras && -x $regctl ]] || die "oras and regctl are not in $tools: run scripts/install-deps.sh"
oras_flags=(--plain-http --registry-config "$tmp/oras-auth.json")
printf '{"hosts":{"%s":{"tls":"disabled"}},"incDockerCred":false,"incDockerCert":false}\n' \
    "$reg" >"$tmp/regctl.json"
export REGCTL_CONFIG=$tmp/regctl.json

"$oras" discover "${oras_flags[@]}" --format json "$reg/$ns/app:v1" >"$tmp/discover.json" ||
    fail "oras discover failed"
grep -q "\"digest\": \"$sbom\"" "$tmp/discover.json" || fail "oras discover lacks rr's SBOM"
grep -q "\"digest\": \"$sig\"" "$tmp/discover.json" || fail "oras discover lacks rr's signature"
mkdir -p "$tmp/oras-pull"
(cd "$tmp/oras-pull" && "$oras" pull "${oras_flags[@]}" "$reg/$ns/app@$sbom" >/dev/null) ||
    fail "oras pull failed"
cmp -s "$tmp/sbom.spdx.json" "$tmp/oras-pull/sbom.spdx.json" || fail "oras pulled another file"

printf 'attested\n' >"$tmp/att.txt"
oras_digest=$(cd "$tmp" && "$oras" attach "${oras_flags[@]}" --artifact-type application/vnd.example.att \
    --format go-template --template '{{.digest}}' "$reg/$ns/app:v1" att.txt:text/plain) ||
    fail "oras attach failed"
expect referrers_oras 0 referrers --artifact-type application/vnd.example.att "$reg/$ns/app:v1"
[[ $(out referrers_oras) == "$oras_digest application/vnd.example.att att.txt" ]] ||
    fail "rr referrers of oras's attachment printed '$(out referrers_oras)'"
expect pull_oras 0 pull --artifact "$reg/$ns/app@$oras_digest" "$tmp/rr-pull-oras"
cmp -s "$tmp/att.txt" "$tmp/rr-pull-oras/att.txt" || fail "rr pulled another file from oras's artifact"

"$regctl" artifact list "$reg/$ns/app@$sbom" --format '{{range .Descriptors}}{{.Digest}} {{.ArtifactType}}{{println}}{{end}}' \
    >"$tmp/regctl-list.out" || fail "regctl artifact list failed"
[[ $(cat "$tmp/regctl-list.out") == "$sig $sig_type" ]] ||
    fail "regctl artifact list printed '$(cat "$tmp/regctl-list.out")'"
"$regctl" artifact get "$reg/$ns/app@$sig" >"$tmp/regctl-get.out" || fail "regctl artifact get failed"
cmp -s "$tmp/sig.bin" "$tmp/regctl-get.out" || fail "regctl artifact get gave another file"
"$regctl" image copy --referrers "$reg/$ns/app:v1" "$reg/$ns/regctl-copy:v1" >/dev/null ||
    fail "regctl image copy --referrers failed"
expect referrers_regctl_copy 0 referrers "$reg/$ns/regctl-copy:v1"
grep -q "^$sbom $sbom_type " "$tmp/referrers_regctl_copy.out" ||
    fail "rr does not list the SBOM in regctl's copy"
grep -q "^$oras_digest application/vnd.example.att " "$tmp/referrers_regctl_copy.out" ||
    fail "rr does not list oras's attachment in regctl's copy"

# ---- usage ---------------------------------------------------------------------------
expect attach_no_type 64 attach "$reg/$ns/app:v1" "$tmp/sig.bin"
expect attach_bad_annotation 64 attach --artifact-type "$sig_type" --annotation novalue \
    "$reg/$ns/app:v1"
expect attach_bad_type 1 attach --artifact-type notatype "$reg/$ns/app:v1"
expect attach_missing_subject 2 attach --artifact-type "$sig_type" "$reg/$ns/nothere:v1"
expect referrers_bad_format 64 referrers --format yaml "$reg/$ns/app:v1"
expect copy_referrers_platform 64 copy --referrers --platform linux/arm64 "$reg/$ns/app:v1" \
    "$reg/$ns/x:v1"

roundtrip_finish
