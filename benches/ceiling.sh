#!/usr/bin/env bash
# Raw curl "ceilings" for scripts/bench.sh: the fewest requests a registry client can
# make for a case, done with curl and nothing else (no digest check, no layout written).
#
#   ceiling.sh get OUTDIR URL...            GET every URL in parallel into OUTDIR/0, 1, ...
#   ceiling.sh upload BASE REPO BLOB...     monolithic upload of each blob file, in parallel:
#                                           POST /v2/REPO/blobs/uploads/, then PUT
#                                           LOCATION&digest=sha256:NAME with the file as the
#                                           body (NAME, the file's name, is its sha256, as in
#                                           an OCI layout's blobs/sha256/)
#   ceiling.sh mount BASE FROM TO TAG MANIFEST DIGEST...
#                                           POST ?mount=DIGEST&from=FROM for every digest in
#                                           parallel, then PUT the manifest file as TO:TAG
#                                           (its media type read from its mediaType field)
#
# BASE is http://HOST:PORT. Exits non-zero when any request fails.
set -uo pipefail

die() { echo "ceiling.sh: $*" >&2; exit 1; }

# location BASE PATH [CURL ARGS...]: POSTs and prints the Location header (absolute).
location() {
  local base=$1 path=$2
  shift 2
  local loc
  loc=$(curl -sS -f -X POST -D - -o /dev/null "$@" "$base$path" | tr -d '\r' |
    awk 'tolower($1) == "location:" { print $2 }')
  [[ -n $loc ]] || return 1
  [[ $loc == /* ]] && loc=$base$loc
  printf '%s\n' "$loc"
}

upload_one() {
  local base=$1 repo=$2 blob=$3 digest loc sep='?'
  digest=sha256:${blob##*/}
  loc=$(location "$base" "/v2/$repo/blobs/uploads/") || die "POST upload for $blob failed"
  [[ $loc == *\?* ]] && sep='&'
  curl -sS -f -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' -H 'Expect:' \
    -T "$blob" "$loc${sep}digest=$digest" || die "PUT $blob failed"
}

mount_one() {
  local base=$1 from=$2 to=$3 digest=$4 code
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST \
    "$base/v2/$to/blobs/uploads/?mount=$digest&from=$from") || die "mount $digest failed"
  [[ $code == 201 ]] || die "mount $digest: HTTP $code, not 201"
}

cmd=${1:-}
shift || true
case $cmd in
get)
  out=$1
  shift
  args=()
  i=0
  for url in "$@"; do
    args+=(-o "$out/$i" "$url")
    i=$((i + 1))
  done
  exec curl -sS -f --parallel --parallel-max 16 "${args[@]}"
  ;;
upload)
  base=$1 repo=$2
  shift 2
  pids=()
  for blob in "$@"; do
    upload_one "$base" "$repo" "$blob" &
    pids+=($!)
  done
  rc=0
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  exit $rc
  ;;
mount)
  base=$1 from=$2 to=$3 tag=$4 manifest=$5
  shift 5
  pids=()
  for d in "$@"; do
    mount_one "$base" "$from" "$to" "$d" &
    pids+=($!)
  done
  rc=0
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  ((rc == 0)) || exit 1
  mt=$(grep -o '"mediaType": *"[^"]*"' "$manifest" | head -1 | sed 's/.*"\([^"]*\)"$/\1/')
  curl -sS -f -o /dev/null -X PUT -H "Content-Type: ${mt:-application/vnd.oci.image.manifest.v1+json}" \
    --data-binary @"$manifest" "$base/v2/$to/manifests/$tag"
  ;;
*)
  die "usage: ceiling.sh get|upload|mount ..."
  ;;
esac
