#!/usr/bin/env bash
# The transfer benchmark (issue 6): rr (the C tool on librr, release build) against skopeo,
# crane and raw curl/openssl ceilings, on a registry on loopback, in one run.
#
#   scripts/bench.sh            full: 4 x 64 MiB and 1 x 512 MiB images, 3 runs each
#                               (medians), a 2 GiB layer for the memory check, 5000 tags
#   scripts/bench.sh --quick    1 run each, 4 x 8 MiB, 1 x 64 MiB, 256 MiB, 500 tags
#   scripts/bench.sh --tls      the same cases over https (see below)
#   scripts/bench.sh --wan ...  the WAN benchmark instead: scripts/bench-wan.sh, given the
#                               other options
#
# Options: --quick, --runs N, --no-build (use target/release and build/bench as they are),
#          --no-crane, --keep (keep the work directory), --profile (afterwards, profile rr's
#          pull and push of the single-layer image with `perf record` and `strace -c` into
#          benches/results/profile-latest.txt or profile-quick.txt), --tls (the registries
#          are the harness's TLS registries, `rr-testkit serve --mode tls`: https with the test
#          CA and Basic auth; every tool is given the CAs of the env files, bundled, and the
#          user of the env file: rr --ca and -u/-p, crane SSL_CERT_FILE and `crane auth
#          login` into a DOCKER_CONFIG of the work directory, skopeo --*-cert-dir and
#          --*-creds, curl a .curlrc (CURL_HOME) with cacert and user; results in
#          tls-latest.md or tls-quick.md).
# Environment: BENCH_TMPDIR (work directory's parent; default /dev/shm, else /tmp),
#   RR_TESTKIT (default target/debug/rr-testkit; built when missing), RR_TESTKIT_TMPDIR
#   (registry storage; the harness defaults to /dev/shm).
#
# What it does: builds librr in release (`cargo build --release`) and the rr tool against it
# (CMake, build/bench); installs crane v0.22.1 into build/bench/gobin (`go install`; when that
# fails crane is reported unavailable); starts two open registries (distribution 2.8 through
# rr-testkit) on 127.0.0.1: "src" holds the images that are pulled, copied and listed, "dst"
# receives the pushes and is restarted with empty storage before every fresh-push run.
# Layers are tar files of random bytes, gzipped (incompressible). Each case runs every tool
# once per round, rounds alternate the tools (A B C A B C ...), and the table reports
# medians. skopeo's blob-info cache is deleted before every skopeo run. Request counts come
# from the registry's access log (lines written during the run), plus a separate `rr -v`
# run per case that also shows the https attempt rr makes first on a loopback registry.
#
# Results: benches/results/latest.md and latest.tsv (raw runs), or quick.md/quick.tsv.
set -uo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
root=$PWD

for a in "$@"; do
  if [[ $a == --wan ]]; then
    rest=()
    for b in "$@"; do [[ $b == --wan ]] || rest+=("$b"); done
    exec "$root/scripts/bench-wan.sh" "${rest[@]}"
  fi
done

quick=0 runs='' build=1 want_crane=1 keep=0 profile=0 tls=0
while (($#)); do
  case $1 in
  --quick) quick=1 ;;
  --runs) runs=$2; shift ;;
  --runs=*) runs=${1#--runs=} ;;
  --no-build) build=0 ;;
  --no-crane) want_crane=0 ;;
  --keep) keep=1 ;;
  --profile) profile=1 ;;
  --tls) tls=1 ;;
  -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "bench.sh: unknown option $1 (try --help)" >&2; exit 64 ;;
  esac
  shift
done

MiB=$((1 << 20))
if ((quick)); then
  small_mib=8 big_mib=64 huge_mib=256 ntags=500 runs=${runs:-1} label=quick
else
  small_mib=64 big_mib=512 huge_mib=2048 ntags=5000 runs=${runs:-3} label=latest
fi
((tls)) && label=tls-$label
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --runs needs a positive number" >&2; exit 64; }
nsmall=4
small_case="${nsmall}x${small_mib}M"
big_case="1x${big_mib}M"
huge_case=$( ((huge_mib >= 1024)) && echo "1x$((huge_mib / 1024))G" || echo "1x${huge_mib}M")

say() { printf '\n== %s\n' "$*"; }
note() { printf '   %s\n' "$*"; }
die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }
started=$EPOCHREALTIME

for tool in skopeo curl openssl cmake ninja tar gzip awk; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (scripts/install-deps.sh installs skopeo, cmake, ninja-build)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"

# ---- build ---------------------------------------------------------------------------
testkit=${RR_TESTKIT:-$root/target/debug/rr-testkit}
rr=$root/build/bench/rr
gobin=$root/build/bench/gobin
crane=$gobin/crane
if ((build)); then
  say "build librr (release) and the rr tool against it (build/bench)"
  cargo build --release --quiet || die "cargo build --release failed"
  if [[ ! -x $testkit ]]; then
    cargo build --quiet -p rr-testkit --bin rr-testkit || die "cargo build -p rr-testkit failed"
  fi
  # RelWithDebInfo (-O2 -g): CMake's Release (-O3) trips -Werror=format-truncation in
  # cli/progress.c with this gcc; the tool's C side is a thin shell either way.
  cmake -S examples-c -B build/bench -G Ninja -DRR_LIB_DIR="$root/target/release" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || die "cmake configure of build/bench failed"
  cmake --build build/bench --target rr >/dev/null || die "cmake --build build/bench failed"
  if ((want_crane)) && [[ ! -x $crane ]]; then
    note "installing crane v0.22.1 into $gobin"
    mkdir -p "$gobin"
    (cd "$gobin" && GOBIN=$gobin GOFLAGS=-mod=mod go install \
      github.com/google/go-containerregistry/cmd/crane@v0.22.1) >"$root/build/bench/crane-install.log" 2>&1 ||
      note "crane: go install failed (build/bench/crane-install.log); crane is reported unavailable"
  fi
fi
[[ -x $rr ]] || die "no rr tool at $rr (run without --no-build)"
[[ -x $testkit ]] || die "no rr-testkit at $testkit"
ldd "$rr" | grep "$root/build/bench/rrlib/librr.so.0" >/dev/null || die "$rr does not use build/bench/rrlib (the release librr)"
tools=(rr skopeo)
if ((want_crane)) && [[ -x $crane ]]; then
  tools+=(crane)
else
  crane=''
fi

# ---- work directory, registries ---------------------------------------------------------
base=${BENCH_TMPDIR:-/dev/shm}
[[ -d $base && -w $base ]] || base=${TMPDIR:-/tmp}
work=$(mktemp -d "$base/rr-bench.XXXXXX") || die "mktemp in $base failed"
mkdir -p "$work/logs" "$work/out" "$work/layers" "$work/layouts"
declare -A REG=() LOG=() STORE=() REGPID=() CA=()
# How each tool is told about the registries: plain http, or (--tls) the CA bundle of every
# running registry (rebuilt at each start: a registry's CA is its own) and the user.
scheme=http
RR=("$rr") CRANE_TLS=(--insecure) SK_SRC=(--src-tls-verify=false) SK_DST=(--dest-tls-verify=false) SK_LS=(--tls-verify=false)
if ((tls)); then
  scheme=https
  mkdir -p "$work/certs.d" "$work/docker" "$work/curlhome"
  export DOCKER_CONFIG=$work/docker CURL_HOME=$work/curlhome SSL_CERT_FILE=$work/ca.pem
  CRANE_TLS=()
fi
cleanup() {
  for name in "${!REG[@]}"; do
    "$testkit" stop --env-file "$work/$name.env" >/dev/null 2>&1 || true
    [[ -n ${STORE[$name]:-} ]] && rm -rf "${STORE[$name]}"
  done
  if ((keep)); then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

envget() { sed -n "s/^$2=//p" "$1"; }
# start_registry NAME: an empty open registry; REG[NAME] (host:port), LOG[NAME], STORE[NAME].
start_registry() {
  local env=$work/$1.env
  "$testkit" serve --mode "$( ((tls)) && echo tls || echo open)" --max-seconds 7200 --env-file "$env" --detach \
    --log "$work/logs/$1.serve.log" >"$work/logs/$1.detach.out" 2>&1 ||
    { cat "$work/logs/$1.detach.out" >&2; die "rr-testkit serve ($1) failed"; }
  REG[$1]=$(envget "$env" RR_TEST_REGISTRY)
  LOG[$1]=$(envget "$env" RR_TEST_LOG)
  STORE[$1]=$(envget "$env" RR_TEST_STORAGE)
  REGPID[$1]=$(envget "$env" RR_TEST_REGISTRY_PID)
  [[ -n ${REG[$1]} && -f ${LOG[$1]} ]] || die "no registry address or log in $env"
  if ((tls)); then
    CA[$1]=$(envget "$env" RR_TEST_CA)
    local user password
    user=$(envget "$env" RR_TEST_USER) password=$(envget "$env" RR_TEST_PASSWORD)
    cat "${CA[@]}" >"$work/ca.pem" && cp "$work/ca.pem" "$work/certs.d/ca.crt" || die "no CA in $env"
    printf 'cacert = "%s"\nuser = "%s:%s"\n' "$work/ca.pem" "$user" "$password" >"$CURL_HOME/.curlrc"
    RR=("$rr" --ca "$work/ca.pem" -u "$user" -p "$password")
    SK_SRC=(--src-cert-dir "$work/certs.d" --src-creds "$user:$password")
    SK_DST=(--dest-cert-dir "$work/certs.d" --dest-creds "$user:$password")
    SK_LS=(--cert-dir "$work/certs.d" --creds "$user:$password")
    if [[ -n $crane ]]; then
      "$crane" auth login "${REG[$1]}" -u "$user" -p "$password" >/dev/null 2>&1 || die "crane auth login failed"
    fi
  fi
}
# stop_registry NAME: stops it and deletes its storage (the harness removes its temp dir;
# the rm makes sure).
stop_registry() {
  "$testkit" stop --env-file "$work/$1.env" >/dev/null 2>&1 || die "rr-testkit stop ($1) failed"
  [[ -n ${STORE[$1]:-} ]] && rm -rf "${STORE[$1]}"
  unset "REG[$1]" "LOG[$1]" "STORE[$1]" "REGPID[$1]" "CA[$1]"
}
restart_empty() { stop_registry "$1"; start_registry "$1"; }

clear_skopeo_cache() {
  rm -rf "${XDG_DATA_HOME:-$HOME/.local/share}/containers/cache" 2>/dev/null
  rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb 2>/dev/null
  return 0
}

say "machine and tools"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
ram=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
machine="$(nproc) cores, ${cpu:-unknown CPU}, $ram RAM, $(uname -sr)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
v_rr=$("$rr" version)
v_skopeo=$(skopeo --version)
v_crane=$([[ -n $crane ]] && "$crane" version 2>/dev/null || echo unavailable)
v_curl=$(curl --version | head -1 | cut -d' ' -f1-2)
v_openssl=$(openssl version | cut -d' ' -f1-2)
v_registry=$( (docker-registry --version || registry --version) 2>/dev/null | awk '{ print $NF }' | head -1)
note "machine: $machine; load average at start: $load_start"
# SHA-256 speed on one core, no I/O: the hashing share of the pull floor below.
sha_rate=$(openssl speed -evp sha256 -bytes 262144 -seconds 2 2>/dev/null |
  awk 'tolower($1) == "sha256" && $NF ~ /k$/ { v = $NF } END { sub(/k$/, "", v); printf "%.0f", v * 1000 }')
note "openssl sha256 speed (256 KiB blocks, one core): $(awk -v r="${sha_rate:-0}" 'BEGIN { printf "%.0f", r / 1e6 }') MB/s"
note "$v_rr; $v_skopeo; crane $v_crane; $v_curl; $v_openssl; registry ${v_registry:-?}"
note "work directory: $work; runs per case: $runs"

start_registry src
start_registry dst
note "registries: src ${REG[src]} (pulls, copies, tags), dst ${REG[dst]} (pushes)"
note "registry storage: $(dirname "${STORE[src]}") and $(dirname "${STORE[dst]}")"

# ---- images ------------------------------------------------------------------------------
say "generate layers (tar of random bytes, gzip) and push the images to src"
if python3 -c 'import gzip, tarfile' 2>/dev/null; then
  gzip_how="gzip stored blocks (python3 zlib level 0)"
  mklayer() { python3 "$root/benches/mklayer.py" "$1" $(($2 * MiB)); }
else
  gzip_how="gzip -1"
  mklayer() {
    local d=$work/mk.$$.$RANDOM
    mkdir -p "$d" && head -c $(($2 * MiB)) /dev/urandom >"$d/data.bin" &&
      tar --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$d" -cf - data.bin | gzip -1 -n >"$1"
    local rc=$?
    rm -rf "$d"
    return $rc
  }
fi
note "layers: random bytes in a tar, compressed as $gzip_how (incompressible)"
echo '{"config":{"Env":["PATH=/usr/bin:/bin"]}}' >"$work/config.json"
pids=()
for i in $(seq 1 $nsmall); do mklayer "$work/layers/small$i.tar.gz" "$small_mib" & pids+=($!); done
mklayer "$work/layers/big.tar.gz" "$big_mib" & pids+=($!)
for p in "${pids[@]}"; do wait "$p" || die "making a layer failed"; done
mklayer "$work/layers/huge.tar.gz" "$huge_mib" || die "making the $huge_mib MiB layer failed"
mkdir -p "$work/tiny" && echo hello >"$work/tiny/hello.txt" &&
  tar --mtime=@0 --owner=0 --group=0 -C "$work/tiny" -czf "$work/layers/tiny.tar.gz" hello.txt

src=${REG[src]}
declare -A IMG=() DIGEST=() BYTES=()
# image NAME REPO LAYER...: rr build into src, then an OCI layout of it made by skopeo
# (the source of the push cases, the same files for every tool).
image() {
  local name=$1 repo=$2
  shift 2
  IMG[$name]=$src/$repo:v1
  DIGEST[$name]=$("${RR[@]}" -q build --config "$work/config.json" "${IMG[$name]}" "$@") ||
    die "rr build ${IMG[$name]} failed"
  clear_skopeo_cache
  skopeo copy -q "${SK_SRC[@]}" "docker://${IMG[$name]}" "oci:$work/layouts/$name:v1" >/dev/null ||
    die "skopeo copy ${IMG[$name]} to a layout failed"
  grep -q "${DIGEST[$name]}" "$work/layouts/$name/index.json" || die "the layout of $name has another digest"
  BYTES[$name]=$(du -sb --apparent-size "$work/layouts/$name/blobs" | cut -f1)
  note "$name: ${IMG[$name]} ${DIGEST[$name]} ($(($# )) layers, ${BYTES[$name]} bytes of blobs)"
}
image small bench/small "$work"/layers/small*.tar.gz
image big bench/big "$work/layers/big.tar.gz"
image huge bench/huge "$work/layers/huge.tar.gz"
image tiny bench/tags "$work/layers/tiny.tar.gz"
rm -f "$work"/layers/*.tar.gz # the layouts hold the same bytes

blob_path() { printf '%s/layouts/%s/blobs/sha256/%s\n' "$work" "$1" "${2#sha256:}"; }
manifest_of() { blob_path "$1" "${DIGEST[$1]}"; }
# blobs NAME: the config and layer digests of the image, config first.
blobs() { grep -o 'sha256:[0-9a-f]\{64\}' "$(manifest_of "$1")"; }
layers() { blobs "$1" | tail -n +2; }

say "tag bench/tags $ntags times (the same manifest PUT under every tag, curl in parallel)"
tags_repo=$src/bench/tags
mt=$(grep -o '"mediaType": *"[^"]*"' "$(manifest_of tiny)" | head -1 | sed 's/.*"\([^"]*\)"$/\1/')
{
  for i in $(seq 1 $((ntags - 1))); do
    printf 'url = "%s://%s/v2/bench/tags/manifests/t%d"\nupload-file = "%s"\noutput = "/dev/null"\n' \
      "$scheme" "$src" "$i" "$(manifest_of tiny)"
  done
} >"$work/tags.curl"
curl -sS -f --no-progress-meter --parallel --parallel-max 16 \
  -H "Content-Type: ${mt:-application/vnd.oci.image.manifest.v1+json}" -K "$work/tags.curl" \
  2>"$work/logs/tags.err" || { tail -3 "$work/logs/tags.err" >&2; die "tagging failed"; }
got=$("${RR[@]}" ls "$tags_repo" | wc -l)
((got == ntags)) || die "bench/tags has $got tags, expected $ntags"
note "bench/tags: $ntags tags (v1 and t1..t$((ntags - 1)))"

# ---- measuring --------------------------------------------------------------------------
tsv=$work/runs.tsv
printf 'case\ttool\trun\tbytes\twall_s\tuser_s\tsys_s\trss_kib\trequests\tpings\trc\tload1\tregistry_cpu_s\n' >"$tsv"
clk_tck=$(getconf CLK_TCK)
# registry_ticks NAME: user + system CPU ticks the registry process has used so far.
registry_ticks() { awk '{ print $14 + $15 }' "/proc/${REGPID[$1]}/stat" 2>/dev/null || echo 0; }
count_requests() { grep -c '^127\.0\.0\.1 - ' "$1"; }
count_pings() { grep -c '"GET /v2/ HTTP' "$1"; }
fmt() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }

# measure CASE TOOL RUN BYTES REGISTRY CHECK -- CMD...: one timed run. CHECK is a function
# called afterwards with the stdout file (untimed); non-zero marks the run failed.
measure() {
  local case=$1 tool=$2 run=$3 bytes=$4 reg=$5 check=$6
  shift 7
  local log=${LOG[$reg]} tf=$work/time.$$ stem=$work/logs/$case.$tool.$run
  local n0 p0 n1 p1 t0 t1 rc user sys rss wall load1 k0 k1 regcpu
  load1=$(cut -d' ' -f1 /proc/loadavg)
  n0=$(count_requests "$log") p0=$(count_pings "$log")
  k0=$(registry_ticks "$reg")
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%U %S %M' -o "$tf" "$@" >"$stem.out" 2>"$stem.err"
  rc=$?
  t1=$EPOCHREALTIME
  k1=$(registry_ticks "$reg")
  regcpu=$(awk -v a="$k0" -v b="$k1" -v t="$clk_tck" 'BEGIN { printf "%.2f", (b - a) / t }')
  sleep 0.3 # the registry logs a request after answering it
  n1=$(count_requests "$log") p1=$(count_pings "$log")
  read -r user sys rss < <(tail -1 "$tf")
  if ((rc == 0)) && ! "$check" "$stem.out"; then rc=99; fi
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$case" "$tool" "$run" "$bytes" "$wall" \
    "$user" "$sys" "$rss" $((n1 - n0)) $((p1 - p0)) "$rc" "$load1" "$regcpu" >>"$tsv"
  local rate=''
  ((bytes > 0)) && rate=", $(awk -v b="$bytes" -v w="$wall" 'BEGIN { printf "%.0f", b / 1048576 / w }') MiB/s"
  printf '   %-14s %-13s run %d: %7.3f s%s, cpu %.2f s (registry %.2f s), rss %.1f MiB, %d requests%s\n' \
    "$case" "$tool" "$run" "$wall" "$rate" "$(fmt "$user + $sys" 2)" "$regcpu" "$(fmt "$rss / 1024" 1)" $((n1 - n0)) \
    "$( ((rc == 0)) || echo ", FAILED (exit $rc; $stem.err)")"
  if ((rc != 0)); then tail -3 "$stem.err" | sed 's/^/      /'; fi
  rm -f "$tf"
}

verbose_tsv=$work/rr-verbose.tsv
printf 'case\trr_requests\thttps_attempts\n' >"$verbose_tsv"
# verbose CASE CMD...: an untimed `rr -v` run; counts the requests rr logs.
verbose() {
  local case=$1
  shift
  "$@" >/dev/null 2>"$work/logs/$case.rr-v.err" || note "rr -v run of $case failed"
  local all failed
  all=$(grep -cE '^rr: (GET|HEAD|POST|PUT|PATCH|DELETE) ' "$work/logs/$case.rr-v.err")
  failed=$(grep -cE '^rr: (GET|HEAD|POST|PUT|PATCH|DELETE) https://127\.0\.0\.1:[0-9]+/.* -> failed' "$work/logs/$case.rr-v.err")
  printf '%s\t%s\t%s\n' "$case" "$all" "$failed" >>"$verbose_tsv"
  note "rr -v: $all requests logged by rr ($failed of them the https attempt that fails on a plain-http loopback registry)"
}

ok() { return 0; }
# Checks of each run's result (untimed).
expect_layout() { grep -q "${DIGEST[$cur]}" "$outdir/index.json" 2>/dev/null; }
expect_manifest() {
  local got
  got=$(curl -sS -f -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "$scheme://$cur_target" 2>/dev/null | tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" { print $2 }')
  [[ $got == "${DIGEST[$cur]}" ]]
}
expect_tags() {
  local n
  n=$(grep -cE '^ *"?(t[0-9]+|v1)"?,?$' "$1")
  ((n == ntags))
}

# pull_case NAME IMAGE NRUNS VERBOSE [CEILINGS]: VERBOSE yes adds the `rr -v` run.
pull_case() {
  local case=$1 nruns=$3 v=$4 ceilings=${5:-}
  cur=$2
  local ref=${IMG[$cur]} bytes=${BYTES[$cur]} r tool
  local repo=${ref#*/}
  repo=${repo%:*}
  say "$case: pull ${ref} into an OCI layout ($nruns runs, tools alternating)"
  for ((r = 1; r <= nruns; r++)); do
    for tool in "${tools[@]}"; do
      outdir=$work/out/$tool
      rm -rf "$outdir"
      case $tool in
      rr) measure "$case" rr "$r" "$bytes" src expect_layout -- "${RR[@]}" -q pull "$ref" "$outdir" ;;
      skopeo)
        clear_skopeo_cache
        measure "$case" skopeo "$r" "$bytes" src expect_layout -- skopeo copy -q "${SK_SRC[@]}" \
          "docker://$ref" "oci:$outdir:v1"
        ;;
      crane) measure "$case" crane "$r" "$bytes" src expect_layout -- "$crane" pull "${CRANE_TLS[@]}" --format=oci "$ref" "$outdir" ;;
      esac
      rm -rf "$outdir"
    done
    [[ -z $ceilings ]] && continue
    local urls=() d
    for d in $(layers "$cur"); do urls+=("$scheme://$src/v2/$repo/blobs/$d"); done
    outdir=$work/out/curl
    rm -rf "$outdir" && mkdir -p "$outdir"
    measure "$case" curl-file "$r" "$bytes" src ok -- "$root/benches/ceiling.sh" get "$outdir" "${urls[@]}"
    rm -rf "$outdir"
    if [[ $ceilings == *null* ]]; then
      measure "$case" curl-devnull "$r" "$bytes" src ok -- curl -sS -f -o /dev/null "${urls[0]}"
    fi
    if [[ $ceilings == *dgst* ]]; then
      local layer
      layer=$(blob_path "$cur" "$(layers "$cur" | head -1)")
      measure "$case" openssl-dgst "$r" "$bytes" src ok -- openssl dgst -sha256 -r "$layer"
    fi
  done
  outdir=$work/out/rr-v
  rm -rf "$outdir"
  [[ $v == yes ]] && verbose "$case" "${RR[@]}" -v --progress none pull "$ref" "$outdir"
  rm -rf "$outdir"
}

# push_case NAME IMAGE NRUNS VERBOSE [curl]: fresh pushes (dst restarted empty before each
# run); curl adds the raw upload ceiling.
push_case() {
  local case=$1 nruns=$3 v=$4 ceiling=${5:-}
  cur=$2
  local layout=$work/layouts/$cur bytes=${BYTES[$cur]} r tool
  say "$case: push the OCI layout of ${IMG[$cur]} to an empty registry ($nruns runs; dst restarted with empty storage before each run)"
  for ((r = 1; r <= nruns; r++)); do
    for tool in "${tools[@]}" ${ceiling:+curl-upload}; do
      restart_empty dst
      cur_target=${REG[dst]}/v2/bench/push/manifests/v1
      local to=${REG[dst]}/bench/push:v1
      case $tool in
      rr) measure "$case" rr "$r" "$bytes" dst expect_manifest -- "${RR[@]}" -q push "$layout" "$to" ;;
      skopeo)
        clear_skopeo_cache
        measure "$case" skopeo "$r" "$bytes" dst expect_manifest -- skopeo copy -q "${SK_DST[@]}" \
          "oci:$layout:v1" "docker://$to"
        ;;
      crane) measure "$case" crane "$r" "$bytes" dst expect_manifest -- "$crane" push "${CRANE_TLS[@]}" "$layout" "$to" ;;
      curl-upload)
        local files=() d
        for d in $(blobs "$cur"); do files+=("$(blob_path "$cur" "$d")"); done
        measure "$case" curl-upload "$r" "$bytes" dst ok -- "$root/benches/ceiling.sh" upload \
          "$scheme://${REG[dst]}" bench/push "${files[@]}"
        ;;
      esac
    done
  done
  if [[ $v == yes ]]; then
    restart_empty dst
    verbose "$case" "${RR[@]}" -v --progress none push "$layout" "${REG[dst]}/bench/push:v1"
  fi
}

# repush_case NAME IMAGE NRUNS: the image, its blobs and its tag are all in dst already.
repush_case() {
  local case=$1 nruns=$3
  cur=$2
  local layout=$work/layouts/$cur r tool
  restart_empty dst
  local to=${REG[dst]}/bench/push:v1
  cur_target=${REG[dst]}/v2/bench/push/manifests/v1
  "${RR[@]}" -q push "$layout" "$to" >/dev/null || die "the first push of $case failed"
  say "$case: push the same layout again to ${to} (everything present; $nruns runs)"
  for ((r = 1; r <= nruns; r++)); do
    for tool in "${tools[@]}" curl-head; do
      case $tool in
      rr) measure "$case" rr "$r" 0 dst expect_manifest -- "${RR[@]}" -q push "$layout" "$to" ;;
      skopeo)
        clear_skopeo_cache
        measure "$case" skopeo "$r" 0 dst expect_manifest -- skopeo copy -q "${SK_DST[@]}" \
          "oci:$layout:v1" "docker://$to"
        ;;
      crane) measure "$case" crane "$r" 0 dst expect_manifest -- "$crane" push "${CRANE_TLS[@]}" "$layout" "$to" ;;
      curl-head)
        measure "$case" curl-head "$r" 0 dst ok -- curl -sS -f -o /dev/null -I \
          -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
          -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "$scheme://$cur_target"
        ;;
      esac
    done
  done
  verbose "$case" "${RR[@]}" -v --progress none push "$layout" "$to"
}

# copy_case NAME IMAGE NRUNS: copy to a new repository of the same registry (src).
copy_case() {
  local case=$1 nruns=$3
  cur=$2
  local ref=${IMG[$cur]} r tool
  local from=${ref#*/}
  from=${from%:*}
  say "$case: copy ${ref} to new repositories of the same registry ($nruns runs; blobs can be mounted)"
  for ((r = 1; r <= nruns; r++)); do
    for tool in "${tools[@]}" curl-mount; do
      local repo=bench/copy-$tool-$r
      local to=$src/$repo:v1
      cur_target=$src/v2/$repo/manifests/v1
      case $tool in
      rr) measure "$case" rr "$r" 0 src expect_manifest -- "${RR[@]}" -q copy "$ref" "$to" ;;
      skopeo)
        clear_skopeo_cache
        measure "$case" skopeo "$r" 0 src expect_manifest -- skopeo copy -q "${SK_SRC[@]}" \
          "${SK_DST[@]}" "docker://$ref" "docker://$to"
        ;;
      crane) measure "$case" crane "$r" 0 src expect_manifest -- "$crane" copy "${CRANE_TLS[@]}" "$ref" "$to" ;;
      curl-mount)
        # shellcheck disable=SC2046
        measure "$case" curl-mount "$r" 0 src expect_manifest -- "$root/benches/ceiling.sh" mount \
          "$scheme://$src" "$from" "$repo" v1 "$(manifest_of "$cur")" $(blobs "$cur")
        ;;
      esac
    done
  done
  verbose "$case" "${RR[@]}" -v --progress none copy "$ref" "$src/bench/copy-rr-v:v1"
}

# ls_case NAME NRUNS
ls_case() {
  local case=$1 nruns=$2 r tool
  say "$case: list the $ntags tags of $tags_repo ($nruns runs)"
  for ((r = 1; r <= nruns; r++)); do
    for tool in "${tools[@]}" curl-get; do
      case $tool in
      rr) measure "$case" rr "$r" 0 src expect_tags -- "${RR[@]}" ls "$tags_repo" ;;
      skopeo) measure "$case" skopeo "$r" 0 src expect_tags -- skopeo list-tags "${SK_LS[@]}" "docker://$tags_repo" ;;
      crane) measure "$case" crane "$r" 0 src expect_tags -- "$crane" ls "${CRANE_TLS[@]}" "$tags_repo" ;;
      curl-get) measure "$case" curl-get "$r" 0 src ok -- curl -sS -f -o /dev/null "$scheme://$src/v2/bench/tags/tags/list" ;;
      esac
    done
  done
  verbose "$case" "${RR[@]}" -v ls "$tags_repo"
}

note "every fresh-push run starts on an empty registry: dst is stopped, its storage deleted, and started again"
note "skopeo's blob-info cache (~/.local/share/containers/cache, /var/lib/containers/cache/blob-info-cache-v1.boltdb) is deleted before every skopeo run"

pull_case "pull-$small_case" small "$runs" yes file
pull_case "pull-$big_case" big "$runs" yes file,null,dgst
push_case "push-$small_case" small "$runs" yes curl
push_case "push-$big_case" big "$runs" yes curl
repush_case "repush-$small_case" small "$runs"
copy_case "copy-$small_case" small "$runs"
ls_case "ls-${ntags}tags" "$runs"
# The memory check: one run each, the layer as big as the machine allows for a benchmark.
# The memory-check cases are long; up to 3 runs give them a median without doubling the time.
huge_runs=$((runs < 3 ? runs : 3))
pull_case "pull-$huge_case" huge "$huge_runs" no
push_case "push-$huge_case" huge "$huge_runs" no
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- profile (--profile) --------------------------------------------------------------------
# io_sizes FILE: how many of each syscall moved how many bytes (strace -e output).
io_sizes() {
  grep -E '^[0-9]+ +(read|write|recvfrom|sendto|writev|sendmsg|recvmsg)\(' "$1" |
    sed -E 's/^[0-9]+ +([a-z]+)\(.* = (-?[0-9]+).*$/\1 \2/' | sort | uniq -c | sort -rn | head -8
}
if ((profile)); then
  say "profile: rr pull and push of ${IMG[big]} (perf record, strace)"
  prof=$root/benches/results/profile-$label.txt
  mkdir -p "$root/benches/results"
  {
    echo "rr profile, $(date -u '+%Y-%m-%d %H:%M UTC'), $machine; ${IMG[big]} (${BYTES[big]} bytes)"
    for op in pull push; do
      # prep: a fresh start for the run, and its command in cmd
      if [[ $op == pull ]]; then
        prep() { rm -rf "$work/out/prof"; cmd=("${RR[@]}" -q pull "${IMG[big]}" "$work/out/prof"); }
      else
        prep() { restart_empty dst; cmd=("${RR[@]}" -q push "$work/layouts/big" "${REG[dst]}/bench/push:v1"); }
      fi
      echo
      echo "==== rr $op $big_case"
      if command -v perf >/dev/null 2>&1; then
        prep
        perf record -q -F 1999 -o "$work/perf.$op.data" -- "${cmd[@]}" >/dev/null 2>"$work/logs/perf.$op.err"
        echo "-- perf: samples by thread"
        perf report -i "$work/perf.$op.data" --no-children --sort comm --stdio 2>/dev/null | grep '%' | head -8
        echo "-- perf: top symbols (all threads)"
        perf report -i "$work/perf.$op.data" --no-children --sort dso,sym --stdio 2>/dev/null | grep '%' | head -25
      else
        echo "(perf is not installed: apt-get install linux-perf)"
      fi
      if command -v strace >/dev/null 2>&1; then
        prep
        echo "-- strace -f -c"
        strace -f -c -o "$work/strace.$op.txt" "${cmd[@]}" >/dev/null 2>&1
        head -12 "$work/strace.$op.txt"
        prep
        echo "-- the commonest transfer syscalls and their sizes (count, syscall, bytes)"
        strace -f -e trace=read,write,recvfrom,sendto,writev,sendmsg,recvmsg -o "$work/strace.$op.io" \
          "${cmd[@]}" >/dev/null 2>&1
        io_sizes "$work/strace.$op.io"
      fi
    done
    rm -rf "$work/out/prof"
  } >"$prof" 2>&1
  note "written: ${prof#"$root"/}"
fi

# ---- report --------------------------------------------------------------------------------
say "results"
summary=$work/summary.tsv
# median of the numbers on stdin
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v c="$1" -v t="$2" -v k="$3" 'NR > 1 && $1 == c && $2 == t && $11 == 0 { print $k }' "$tsv"; }
printf 'case\ttool\truns\tfailed\tbytes\twall_s\tcpu_s\trss_kib\trequests\tpings\tregistry_cpu_s\n' >"$summary"
while IFS=$'\t' read -r c t; do
  n=$(col "$c" "$t" 1 | wc -l)
  nf=$(awk -F'\t' -v c="$c" -v t="$t" 'NR > 1 && $1 == c && $2 == t && $11 != 0' "$tsv" | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$t" "$n" "$nf" "$(col "$c" "$t" 4 | head -1)" \
    "$(col "$c" "$t" 5 | median)" \
    "$(awk -F'\t' -v c="$c" -v t="$t" 'NR > 1 && $1 == c && $2 == t && $11 == 0 { print $6 + $7 }' "$tsv" | median)" \
    "$(col "$c" "$t" 8 | median)" "$(col "$c" "$t" 9 | median)" "$(col "$c" "$t" 10 | median)" \
    "$(col "$c" "$t" 13 | median)" >>"$summary"
done < <(awk -F'\t' 'NR > 1 && !seen[$1 FS $2]++ { print $1 "\t" $2 }' "$tsv")

# get CASE TOOL FIELD (wall_s cpu_s rss_kib requests pings bytes runs registry_cpu_s)
get() {
  awk -F'\t' -v c="$1" -v t="$2" -v f="$3" 'NR == 1 { for (i = 1; i <= NF; i++) k[$i] = i; next }
    $1 == c && $2 == t { print $(k[f]); exit }' "$summary"
}
calc() { awk "BEGIN { x = $1; printf \"%.${2:-2}f\", x }" 2>/dev/null; }

md=$work/report.md
{
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $machine."
  echo "Load average at start / end: $load_start / $load_end (other work on the machine shares the cores)."
  echo "$v_rr (release build), $v_skopeo, crane ${v_crane}, ${v_curl}, ${v_openssl}; registry: distribution ${v_registry:-2.8} on 127.0.0.1 over $( ((tls)) && echo "https (the harness's test CA, Basic auth; distribution offers HTTP/2 by ALPN, rr speaks HTTP/1.1)" || echo "plain http"), storage on $(dirname "$(dirname "${STORE[src]}")")."
  echo "Layers: random bytes in a tar, $gzip_how. $( ((runs > 1)) && echo "Medians of $runs runs, tools alternating within each round" || echo "One run each (no medians)"); the ${huge_case} cases run $( ((huge_runs == 1)) && echo once || echo "$huge_runs times")."
  echo "Every fresh push starts on an empty registry (stopped, storage deleted, restarted); skopeo's blob-info cache is deleted before each skopeo run, so skopeo neither mounts nor skips from memory."
  if ((tls)); then
    echo "Requests: lines in the registry's access log during the run (the \`GET /v2/\` pings included)."
  else
    echo "Requests: lines in the registry's access log during the run (the \`GET /v2/\` pings included); rr also tries https first on a loopback registry, which fails before any HTTP and is not in the log."
  fi
  echo
  echo "| case | tool | wall s | MiB/s | CPU s | CPU/wall | registry CPU s | peak RSS MiB | requests | rr time / tool | rr RSS / tool |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  while IFS=$'\t' read -r c t n nf bytes wall cpu rss req pings regcpu; do
    [[ $c == case ]] && continue
    if ((n == 0)); then
      echo "| $c | $t | failed ($nf runs) | | | | | | | | |"
      continue
    fi
    rate=''
    ((bytes > 0)) && rate=$(calc "$bytes / 1048576 / $wall" 0)
    rt='' rm=''
    if [[ $t != rr ]]; then
      rrw=$(get "$c" rr wall_s) rrm=$(get "$c" rr rss_kib)
      [[ -n $rrw ]] && rt=$(calc "$rrw / $wall" 2)
      [[ -n $rrm && $t != curl* && $t != openssl* ]] && rm=$(calc "$rrm / $rss" 2)
    fi
    fails=''
    ((nf > 0)) && fails=" ($nf failed)"
    echo "| $c | $t$fails | $(calc "$wall" 3) | $rate | $(calc "$cpu" 2) | $(calc "$cpu / $wall" 2) | $(calc "${regcpu:-0}" 2) | $(calc "$rss / 1024" 1) | $req | $rt | $rm |"
  done <"$summary"
  echo
  echo "rr's own request log (\`rr -v\`, a separate untimed run per case): $(awk -F'\t' 'NR > 1 { printf "%s%s %d (%d https attempt%s)", sep, $1, $2, $3, ($3 == 1 ? "" : "s"); sep = "; " }' "$verbose_tsv")."
} >"$md"

# ---- targets --------------------------------------------------------------------------------
targets=$work/targets.md
verdict() { if [[ $(calc "$1" 0) == 1 ]]; then echo met; else echo "**missed**"; fi; }
{
  echo
  echo "| target | measured | |"
  echo "|---|---|---|"
  pb="pull-$big_case" ps="pull-$small_case" ub="push-$big_case" us="push-$small_case" rp="repush-$small_case"
  rw=$(get "$pb" rr wall_s) sw=$(get "$pb" skopeo wall_s) ow=$(get "$pb" openssl-dgst wall_s)
  if [[ -n $rw && -n $sw ]]; then
    echo "| $pb ≥ 4x faster than skopeo | $(calc "$sw / $rw" 2)x ($(calc "$rw" 3) s vs $(calc "$sw" 3) s) | $(verdict "$sw / $rw >= 4") |"
  fi
  if [[ -n $rw && -n $ow ]]; then
    echo "| $pb ≥ 85% of \`openssl dgst -sha256\` speed on the file | $(calc "100 * $ow / $rw" 0)% ($(calc "${BYTES[big]} / 1048576 / $rw" 0) vs $(calc "${BYTES[big]} / 1048576 / $ow" 0) MiB/s; curl to a file: $(calc "${BYTES[big]} / 1048576 / $(get "$pb" curl-file wall_s)" 0) MiB/s) | $(verdict "$ow / $rw >= 0.85") |"
  fi
  rw=$(get "$ps" rr wall_s) sw=$(get "$ps" skopeo wall_s) rc=$(get "$ps" rr cpu_s)
  if [[ -n $rw && -n $sw ]]; then
    echo "| $ps ≥ 3x faster than skopeo, using both cores | $(calc "$sw / $rw" 2)x ($(calc "$rw" 3) s vs $(calc "$sw" 3) s); rr CPU/wall $(calc "$rc / $rw" 2) | $(verdict "$sw / $rw >= 3") |"
  fi
  rw=$(get "$ub" rr wall_s) cw=$(get "$ub" curl-upload wall_s)
  if [[ -n $rw && -n $cw ]]; then
    echo "| $ub ≥ 95% of raw curl POST + PUT | $(calc "100 * $cw / $rw" 0)% ($(calc "$rw" 3) s vs $(calc "$cw" 3) s) | $(verdict "$cw / $rw >= 0.95") |"
  fi
  rw=$(get "$us" rr wall_s) sw=$(get "$us" skopeo wall_s)
  if [[ -n $rw && -n $sw ]]; then
    echo "| $us ≥ 1.7x faster than skopeo | $(calc "$sw / $rw" 2)x ($(calc "$rw" 3) s vs $(calc "$sw" 3) s) | $(verdict "$sw / $rw >= 1.7") |"
  fi
  rq=$(get "$rp" rr requests) rpg=$(get "$rp" rr pings) rw=$(get "$rp" rr wall_s) sw=$(get "$rp" skopeo wall_s)
  if [[ -n $rq ]]; then
    echo "| $rp: ≤ 2 requests after auth | $((rq - rpg)) after the ping ($rq in all) | $(verdict "$rq - $rpg <= 2") |"
  fi
  if [[ -n $rw && -n $sw ]]; then
    echo "| $rp: ≤ half of skopeo's time | $(calc "100 * $rw / $sw" 0)% ($(calc "$rw" 3) s vs $(calc "$sw" 3) s) | $(verdict "$rw / $sw <= 0.5") |"
  fi
  maxrss=$(awk -F'\t' 'NR > 1 && $2 == "rr" && $3 > 0 && $8 > m { m = $8; c = $1 } END { print m "\t" c }' "$summary")
  if [[ -n ${maxrss%%$'\t'*} ]]; then
    echo "| rr peak RSS ≤ 16 MiB in every case | largest $(calc "${maxrss%%$'\t'*} / 1024" 1) MiB (${maxrss#*$'\t'}) | $(verdict "${maxrss%%$'\t'*} <= 16384") |"
  fi
  for op in pull push; do
    h=$(get "$op-$huge_case" rr rss_kib) s=$(get "$op-$small_case" rr rss_kib) b=$(get "$op-$big_case" rr rss_kib)
    if [[ -n $h && -n $s ]]; then
      echo "| rr $op: peak RSS with a ${huge_mib} MiB layer no more than with ${small_mib} MiB layers (+10%) | $(calc "$h / 1024" 1) MiB vs $(calc "$s / 1024" 1) MiB ($nsmall layers at once)${b:+; one ${big_mib} MiB layer: $(calc "$b / 1024" 1) MiB} | $(verdict "$h <= 1.1 * $s") |"
    fi
  done
  if [[ -n $crane ]]; then
    slower=$(awk -F'\t' 'NR > 1 && $3 > 0 { w[$1 FS $2] = $6; c[$1] = 1 } END { for (k in c) if ((k FS "rr") in w && (k FS "crane") in w && w[k FS "rr"] >= w[k FS "crane"]) printf "%s %.3f vs %.3f s; ", k, w[k FS "rr"], w[k FS "crane"] }' "$summary")
    if [[ -z $slower ]]; then
      echo "| faster than crane in every case | rr faster in every case | met |"
    else
      echo "| faster than crane in every case | rr slower or equal in: ${slower%; } | **missed** |"
    fi
  else
    echo "| faster than crane in every case | crane unavailable | not measured |"
  fi

  # What a pull costs here, whoever the client: the registry reading and sending the blob,
  # the client receiving and writing it (curl's own CPU), and SHA-256 at openssl's speed.
  # All of it shares the machine's cores, which puts a floor under any client's wall time.
  cores=$(nproc)
  floor_lines=''
  for c in "$pb" "$ps"; do
    cfc=$(get "$c" curl-file cpu_s) cfr=$(get "$c" curl-file registry_cpu_s) nb=$(get "$c" rr bytes)
    rw=$(get "$c" rr wall_s) rc=$(get "$c" rr cpu_s) rrg=$(get "$c" rr registry_cpu_s) sw=$(get "$c" skopeo wall_s)
    [[ -n $cfc && -n $cfr && -n $nb && -n $rw && -n $sw && ${sha_rate:-0} -gt 0 ]] || continue
    hash=$(calc "$nb / $sha_rate" 3)
    floor=$(calc "($cfc + $cfr + $hash) / $cores" 3)
    line="- $c: curl writing the blobs to files used $(calc "$cfc" 2) CPU s and the registry $(calc "$cfr" 2) s serving them; SHA-256 at openssl's speed takes $hash s. Any client that receives, writes and verifies them needs at least $(calc "$cfc + $cfr + $hash" 2) CPU s, so at least $floor s on $cores cores: $(calc "$sw / $floor" 2)x skopeo's time at best"
    if [[ $c == "$pb" ]]; then
      ow=$(get "$c" openssl-dgst wall_s)
      [[ -n $ow ]] && line+=", $(calc "100 * $ow / $floor" 0)% of \`openssl dgst\` at best (targets: 4x, 85%)"
    else
      line+=" (target: 3x)"
    fi
    line+=". rr used $(calc "$rc" 2) CPU s and the registry $(calc "${rrg:-0}" 2) s during rr's runs: $(calc "($rc + ${rrg:-0}) / $cores" 3) s of both cores against rr's $(calc "$rw" 3) s wall ($(calc "100 * ($rc + ${rrg:-0}) / $cores / $rw" 0)% busy)."
    floor_lines+="$line"$'\n'
  done
  if [[ -n $floor_lines ]]; then
    echo
    echo "What bounds the pulls: the registry, the client and SHA-256 share the $cores cores (median CPU seconds of the runs above)."
    printf '%s' "$floor_lines"
  fi
} >"$targets"

mkdir -p "$root/benches/results"
{
  echo "# rr benchmark ($label)"
  echo
  echo "Produced by \`scripts/bench.sh$( ((quick)) && echo ' --quick')$( ((tls)) && echo ' --tls')\`."
  echo
  cat "$md"
  echo
  echo "## Targets (issue 6)"
  cat "$targets"
} >"$root/benches/results/$label.md"
cp "$tsv" "$root/benches/results/$label.tsv"
cat "$md" "$targets"
echo
echo "written: benches/results/$label.md and benches/results/$label.tsv (every run); $(calc "$EPOCHREALTIME - $started" 0) s in all"
