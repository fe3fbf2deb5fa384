#!/usr/bin/env bash
# The WAN benchmark (issue 15, part 2): rr against crane, regctl and skopeo on a token-auth
# registry reached over an emulated wide-area link (the harness's user-space emulator,
# tests/testkit/src/netem.rs: the kernel here has no netem qdisc), in one run.
#
#   scripts/bench-wan.sh            full: a 12-layer image of 4 KiB to 64 MiB layers, 3 runs
#                                   each (medians), 5000 tags, both profiles
#   scripts/bench-wan.sh --quick    1 run each, 12 layers of 4 KiB to 8 MiB, 500 tags
#   scripts/bench.sh --wan [...]    the same (bench.sh hands the other options on)
#
# Options: --quick, --runs N, --profiles LIST (of 50 and 150; default both), --cases LIST
#          (default all: pull,platform,push,repush,copy-repo,copy-registry,ls,cold),
#          --tools LIST (default rr,rr-nocache,crane,regctl,skopeo; rr-nocache is rr with
#          --no-ping-cache, not a peer), --no-build (use what is built),
#          --no-check (skip scripts/netem-check.sh), --keep (keep the work directory).
# Environment: BENCH_TMPDIR (work directory's parent; default /dev/shm, else /tmp),
#   RR_TESTKIT_TMPDIR (registry storage; the harness defaults to /dev/shm), BENCH_RR_ARGS
#   (more rr options for every rr run, to measure a setting: "-j 8", "--monolithic-threshold 8M").
#
# Profiles: "50": 50 ms RTT, 200 Mbit/s per connection, 1000 Mbit/s in total;
#           "150": 150 ms RTT, 50 Mbit/s per connection, 200 Mbit/s in total.
#
# What it does: builds librr in release and the rr tool against it (build/bench, as
# scripts/bench.sh does) and rr-testkit and rr-netem (debug); installs crane v0.22.1 and,
# unless ~/.cache/rr-tools/bin has it (scripts/install-deps.sh), regctl v0.11.7 into
# build/bench/gobin (`go install`), and skopeo from apt when it is missing. Per profile it
# starts two token-auth registries (distribution 2.8, `rr-testkit serve --mode token
# --netem-rtt-ms ...`): each is reached through an emulator (RR_TEST_WAN_REGISTRY) and its
# token server through another (the realm), both with the profile's link; "A" holds the
# images and receives the pushes and copies, "B" is the target of the copy between
# registries. Fixtures are pushed to A directly (RR_TEST_REGISTRY, no emulator). Every tool
# gets the pusher credentials of the env file: rr -u/-p, crane `crane auth login` into a
# DOCKER_CONFIG of the work directory, skopeo --src-creds/--dest-creds/--creds, regctl a
# REGCTL_CONFIG file with user, pass and tls disabled for both WAN hosts. Plain http, each
# tool's own way: rr --plain-http HOST and regctl tls=disabled (no https attempt), crane
# --insecure and skopeo --*-tls-verify=false (https first, then http).
# The realm names the token emulator as localhost:PORT, not 127.0.0.1:PORT: crane refuses a
# realm at a loopback IP literal that is not the registry's own host:port.
#
# Each case runs every tool once per round; rounds rotate the order (rr crane regctl skopeo,
# then crane regctl skopeo rr, ...); tables report medians. skopeo's blob-info cache is
# deleted before every skopeo run. Around every run both serve processes get SIGUSR1 and
# write their emulators' request logs (registry and token server, one clock): before the
# run to empty them, after it to count. Per run: wall time, requests (token requests among
# them), bytes up and down, when the first logged request started (after the tool was
# started: process start, plus a failed https attempt for tools that try https first; TLS
# bytes are proxied but not logged), and the critical path (`rr-netem critical-path` over
# both logs: the longest chain of requests that waited for each other, a request that
# opened its connection counting two round trips).
#
# Results: benches/results/wan-latest.md, wan-latest.tsv (every run) and
# wan-latest-timelines.txt (each tool's first run of each case, request by request), or
# wan-quick.*.
set -uo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
root=$PWD

quick=0 runs='' build=1 keep=0 check=1
profiles=50,150
cases_all=pull,platform,push,repush,copy-repo,copy-registry,ls,cold
cases=$cases_all
tools_wanted=rr,rr-nocache,crane,regctl,skopeo
while (($#)); do
  case $1 in
  --quick) quick=1 ;;
  --runs) runs=$2; shift ;;
  --runs=*) runs=${1#--runs=} ;;
  --profiles) profiles=$2; shift ;;
  --profiles=*) profiles=${1#--profiles=} ;;
  --cases) cases=$2; shift ;;
  --cases=*) cases=${1#--cases=} ;;
  --tools) tools_wanted=$2; shift ;;
  --tools=*) tools_wanted=${1#--tools=} ;;
  --no-build) build=0 ;;
  --no-check) check=0 ;;
  --keep) keep=1 ;;
  -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "bench-wan.sh: unknown option $1 (try --help)" >&2; exit 64 ;;
  esac
  shift
done

KiB=1024 MiB=$((1 << 20))
if ((quick)); then
  runs=${runs:-1} ntags=500 label=wan-quick check_mib=16
  big_sizes=(4K 8K 16K 32K 64K 128K 256K 512K 1M 2M 4M 8M)
  platform_sizes=(64K 512K 2M)
else
  runs=${runs:-3} ntags=5000 label=wan-latest check_mib=64
  big_sizes=(4K 16K 64K 256K 512K 1M 2M 4M 8M 16M 32M 64M)
  platform_sizes=(256K 2M 16M)
fi
small_size=64K
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench-wan.sh: --runs needs a positive number" >&2; exit 64; }
for p in ${profiles//,/ }; do
  [[ $p == 50 || $p == 150 ]] || { echo "bench-wan.sh: --profiles takes 50 and 150, not $p" >&2; exit 64; }
done
for c in ${cases//,/ }; do
  [[ ,$cases_all, == *",$c,"* ]] || { echo "bench-wan.sh: unknown case $c (cases: $cases_all)" >&2; exit 64; }
done
bytes_of() { # 4K, 2M -> bytes
  local n=${1%[KM]}
  case $1 in *K) echo $((n * KiB)) ;; *M) echo $((n * MiB)) ;; *) echo "$1" ;; esac
}

say() { printf '\n== %s\n' "$*"; }
note() { printf '   %s\n' "$*"; }
die() { printf 'bench-wan.sh: %s\n' "$*" >&2; exit 1; }
started=$EPOCHREALTIME

for tool in curl cmake ninja tar gzip awk python3 go; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (scripts/install-deps.sh installs cmake, ninja-build, Go)"
done

# ---- build and install ---------------------------------------------------------------------
testkit=$root/target/debug/rr-testkit
netem=$root/target/debug/rr-netem
rr=$root/build/bench/rr
gobin=$root/build/bench/gobin
crane=$gobin/crane
regctl=''
tools_dir=${RR_TOOLS_DIR:-$HOME/.cache/rr-tools/bin}
mkdir -p "$root/build/bench"
if ((build)); then
  say "build librr (release), the rr tool (build/bench), rr-testkit and rr-netem (debug)"
  cargo build --release --quiet || die "cargo build --release failed"
  cargo build --quiet -p rr-testkit --bins || die "cargo build -p rr-testkit failed"
  # RelWithDebInfo: see scripts/bench.sh (CMake's -O3 trips -Werror=format-truncation).
  cmake -S examples-c -B build/bench -G Ninja -DRR_LIB_DIR="$root/target/release" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || die "cmake configure of build/bench failed"
  cmake --build build/bench --target rr >/dev/null || die "cmake --build build/bench failed"
fi
go_install() { # NAME PACKAGE@VERSION: into build/bench/gobin unless there
  [[ -x $gobin/$1 ]] && return 0
  note "installing $2 into $gobin"
  mkdir -p "$gobin"
  (cd "$gobin" && GOBIN=$gobin GOFLAGS=-mod=mod go install "$2") >"$root/build/bench/$1-install.log" 2>&1 ||
    note "$1: go install failed (build/bench/$1-install.log); $1 is reported unavailable"
}
[[ ,$tools_wanted, == *,crane,* ]] && go_install crane github.com/google/go-containerregistry/cmd/crane@v0.22.1
if [[ ,$tools_wanted, == *,regctl,* ]]; then
  if [[ -x $tools_dir/regctl && $(cat "$tools_dir/regctl.version" 2>/dev/null) == *@v0.11.7 ]]; then
    regctl=$tools_dir/regctl
  else
    go_install regctl github.com/regclient/regclient/cmd/regctl@v0.11.7
    regctl=$gobin/regctl
  fi
fi
if [[ ,$tools_wanted, == *,skopeo,* ]] && ! command -v skopeo >/dev/null 2>&1; then
  note "installing skopeo from apt"
  sudo=''
  (($(id -u) == 0)) || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends skopeo >/dev/null ||
    note "skopeo: apt-get install failed; skopeo is reported unavailable"
fi
[[ -x $rr ]] || die "no rr tool at $rr (run without --no-build)"
[[ -x $testkit && -x $netem ]] || die "no rr-testkit or rr-netem in target/debug (run without --no-build)"
ldd "$rr" | grep "$root/build/bench/rrlib/librr.so.0" >/dev/null || die "$rr does not use build/bench/rrlib (the release librr)"
[[ $("$testkit" help 2>&1) == *--netem-rtt-ms* ]] || die "$testkit has no --netem-rtt-ms (rebuild it)"
tools=()
for t in ${tools_wanted//,/ }; do
  case $t in
  rr) tools+=(rr) ;;
  rr-nocache) tools+=(rr-nocache) ;;
  crane) [[ -x $crane ]] && tools+=(crane) ;;
  regctl) [[ -n $regctl && -x $regctl ]] && tools+=(regctl) ;;
  skopeo) command -v skopeo >/dev/null 2>&1 && tools+=(skopeo) ;;
  *) die "unknown tool $t (tools: rr, rr-nocache, crane, regctl, skopeo)" ;;
  esac
done
[[ " ${tools[*]} " == *" rr "* ]] || die "rr is not among the tools"

# ---- work directory, registries --------------------------------------------------------------
base=${BENCH_TMPDIR:-/dev/shm}
[[ -d $base && -w $base ]] || base=${TMPDIR:-/tmp}
work=$(mktemp -d "$base/rr-bench-wan.XXXXXX") || die "mktemp in $base failed"
mkdir -p "$work/logs" "$work/out" "$work/layers" "$work/layouts" "$work/wan" "$work/docker"
export DOCKER_CONFIG=$work/docker # crane's login; nobody's own ~/.docker is read or changed
export REGCTL_CONFIG=$work/regctl.json
# rr's ping cache (on in the tool): primed once per profile, as any earlier rr command
# against the registry leaves it; the cold case and rr-nocache run without it.
export RR_PING_CACHE_DIR=$work/pings
declare -A ENVF=()
cleanup() {
  for name in "${!ENVF[@]}"; do
    "$testkit" stop --env-file "${ENVF[$name]}" >/dev/null 2>&1 || true
  done
  if ((keep)); then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

envget() { sed -n "s/^$2=//p" "$1"; }
declare -A DIRECT=() WAN=() WANLOG=() SERVEPID=() REALM=()
# start_registry NAME RTT RATE TOTAL: a token-auth registry behind the link.
start_registry() {
  local env=$work/$1.env
  "$testkit" serve --mode token --max-seconds 7200 --env-file "$env" --detach \
    --netem-rtt-ms "$2" --netem-rate-mbit "$3" --netem-total-mbit "$4" --token-realm-host localhost \
    --log "$work/logs/$1.serve.log" >"$work/logs/$1.detach.out" 2>&1 ||
    { cat "$work/logs/$1.detach.out" >&2; die "rr-testkit serve ($1) failed"; }
  ENVF[$1]=$env
  DIRECT[$1]=$(envget "$env" RR_TEST_REGISTRY)
  WAN[$1]=$(envget "$env" RR_TEST_WAN_REGISTRY)
  WANLOG[$1]=$(envget "$env" RR_TEST_WAN_LOG)
  SERVEPID[$1]=$(envget "$env" RR_TEST_PID)
  REALM[$1]=$(envget "$env" RR_TEST_TOKEN_REALM)
  user=$(envget "$env" RR_TEST_USER) password=$(envget "$env" RR_TEST_PASSWORD)
  [[ -n ${WAN[$1]} && -n ${WANLOG[$1]} && -n $user ]] || die "no WAN address, log or user in $env"
}
stop_registry() {
  "$testkit" stop --env-file "${ENVF[$1]}" >/dev/null 2>&1 || note "rr-testkit stop ($1) failed"
  unset "ENVF[$1]"
}
# wan_dump NAME DEST: the emulators' logs since the last dump, into DEST (or dropped).
wan_dump() {
  local log=${WANLOG[$1]} i
  rm -f "$log"
  kill -USR1 "${SERVEPID[$1]}" 2>/dev/null || die "serve $1 (pid ${SERVEPID[$1]}) is gone"
  for ((i = 0; i < 500; i++)); do
    [[ -f $log ]] && break
    sleep 0.01
  done
  [[ -f $log ]] || die "serve $1 wrote no log after SIGUSR1"
  if [[ -n ${2:-} ]]; then mv "$log" "$2"; else rm -f "$log"; fi
}

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
v_rr=$("$rr" version | head -1)
[[ -n ${BENCH_RR_ARGS:-} ]] && v_rr="$v_rr, run with $BENCH_RR_ARGS"
v_crane=$([[ " ${tools[*]} " == *" crane "* ]] && "$crane" version 2>/dev/null || echo unavailable)
v_regctl=$([[ " ${tools[*]} " == *" regctl "* ]] && "$regctl" version --format '{{.VCSTag}}' 2>/dev/null || echo unavailable)
v_skopeo=$([[ " ${tools[*]} " == *" skopeo "* ]] && skopeo --version | awk '{ print $NF }' || echo unavailable)
v_registry=$( (docker-registry --version || registry --version) 2>/dev/null | awk '{ print $NF }' | head -1)
note "machine: $machine; load average at start: $load_start"
note "$v_rr; crane $v_crane; regctl $v_regctl; skopeo $v_skopeo; registry ${v_registry:-?}"
note "tools: ${tools[*]}; runs per case: $runs; work directory: $work"

# ---- layers (the same bytes for every profile) -----------------------------------------------
say "generate layers (tar of random bytes, gzip stored blocks: incompressible)"
mklayer() { python3 "$root/benches/mklayer.py" "$1" "$2"; }
echo '{"config":{"Env":["PATH=/usr/bin:/bin"]}}' >"$work/config.json"
big_layers=() amd_layers=() arm_layers=()
i=0
for s in "${big_sizes[@]}"; do
  i=$((i + 1))
  mklayer "$work/layers/big$i-$s.tar.gz" "$(bytes_of "$s")" || die "making a layer failed"
  big_layers+=("$work/layers/big$i-$s.tar.gz")
done
i=0
for s in "${platform_sizes[@]}"; do
  i=$((i + 1))
  mklayer "$work/layers/amd64-$i-$s.tar.gz" "$(bytes_of "$s")" && amd_layers+=("$work/layers/amd64-$i-$s.tar.gz")
  mklayer "$work/layers/arm64-$i-$s.tar.gz" "$(bytes_of "$s")" && arm_layers+=("$work/layers/arm64-$i-$s.tar.gz")
done
mklayer "$work/layers/small.tar.gz" "$(bytes_of $small_size)" || die "making a layer failed"
note "12-layer image: ${big_sizes[*]}; index: linux/amd64 and linux/arm64, each ${platform_sizes[*]}; small image: 1 layer of $small_size"

# ---- measuring --------------------------------------------------------------------------------
tsv=$work/runs.tsv
printf 'profile\tcase\ttool\trun\twall_s\trequests\ttoken_requests\tcrit_round_trips\tcrit_requests\tcrit_setups\tfirst_request_ms\tbytes_up\tbytes_down\trc\tload1\tbinding_floor_ms\n' >"$tsv"
# log_stats FILE...: requests, token requests, bytes up, bytes down, first start (us).
log_stats() {
  cat "$@" | awk '
    function num(k,   m) { if (match($0, "\"" k "\":[0-9]+")) return substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3) + 0; return 0 }
    NF { n++; if (index($0, "\"path\":\"/token")) t++; up += num("bytes_up"); down += num("bytes_down")
         s = num("start_us"); if (first == "" || s < first) first = s }
    END { printf "%.0f %.0f %.0f %.0f %.0f\n", n, t, up, down, (first == "" ? 0 : first) }'
}
fmt() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }

# measure PROFILE CASE TOOL RUN CHECK -- CMD...: one timed run, with the logs of A and B
# around it. CHECK is a function called afterwards (untimed); non-zero marks the run failed.
measure() {
  local profile=$1 case=$2 tool=$3 run=$4 check=$5
  shift 6
  local stem=$work/logs/$profile.$case.$tool.$run t0 t1 rc wall load1 reg
  load1=$(cut -d' ' -f1 /proc/loadavg)
  for reg in A B; do wan_dump "$reg"; done
  t0=$EPOCHREALTIME
  "$@" >"$stem.out" 2>"$stem.err"
  rc=$?
  t1=$EPOCHREALTIME
  sleep 0.05 # a connection closed at the end is logged by the emulator's own thread
  for reg in A B; do wan_dump "$reg" "$stem.$reg.jsonl"; done
  if ((rc == 0)) && ! "$check" "$stem.out"; then rc=99; fi
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  local n tok up down first cp crt creq cset first_ms bfloor
  read -r n tok up down first < <(log_stats "$stem.A.jsonl" "$stem.B.jsonl")
  "$netem" critical-path --rtt-ms "$rtt" --rate-mbit "$rate" --total-mbit "$total" \
    "$stem.A.jsonl" "$stem.B.jsonl" >"$stem.critical.txt" 2>/dev/null
  cp=$(head -1 "$stem.critical.txt")
  bfloor=$(sed -n 's/^binding: .*floor_ms=\([0-9.]*\).*/\1/p' "$stem.critical.txt")
  crt=$(sed -n 's/.*round_trips=\([0-9]*\).*/\1/p' <<<"$cp")
  creq=$(sed -n 's/.*requests=\([0-9]*\) .*/\1/p' <<<"$cp")
  cset=$(sed -n 's/.*setups=\([0-9]*\).*/\1/p' <<<"$cp")
  first_ms=$(awk -v f="$first" -v t="${t0/./}" 'BEGIN { if (f > 0) printf "%.0f", (f - t) / 1000; else print "" }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$profile" "$case" "$tool" "$run" "$wall" \
    "$n" "$tok" "${crt:-0}" "${creq:-0}" "${cset:-0}" "$first_ms" "$up" "$down" "$rc" "$load1" "${bfloor:-0}" >>"$tsv"
  printf '   %-14s %-7s run %d: %7.3f s, %3d requests (%d token), %3d critical round trips, first request after %5s ms, %6.1f MiB down, %6.1f MiB up%s\n' \
    "$case" "$tool" "$run" "$wall" "$n" "$tok" "${crt:-0}" "${first_ms:-?}" "$(fmt "$down / 1048576" 1)" "$(fmt "$up / 1048576" 1)" \
    "$( ((rc == 0)) || echo ", FAILED (exit $rc; $stem.err)")"
  if ((rc != 0)); then tail -3 "$stem.err" | sed 's/^/      /'; fi
}

# The tools' flags: the same credentials for all, plain http said each tool's way.
# shellcheck disable=SC2086 # BENCH_RR_ARGS: options, word-split on purpose
rr_run() { "$rr" -q -u "$user" -p "$password" --plain-http "${WAN[A]}" --plain-http "${WAN[B]}" ${BENCH_RR_ARGS:-} "$@"; }
crane_run() { "$crane" --insecure "$@"; }
regctl_run() { "$regctl" "$@"; }

# Checks of each run's result (untimed), against the registry directly.
digest_of() { "$rr" -q -u "$user" -p "$password" digest "$1" 2>/dev/null; }
expect_layout() { grep -q "$cur_digest" "$outdir/index.json" 2>/dev/null; }
expect_blob() { [[ -f $outdir/blobs/sha256/${cur_digest#sha256:} ]]; }
expect_manifest() { [[ $(digest_of "$cur_target") == "$cur_digest" ]]; }
expect_tags() {
  local n
  n=$(grep -cE '^ *"?(t[0-9]+|v1)"?,?$' "$1")
  ((n == ntags))
}

# order ROUND: the tools, rotated by the round.
order() {
  local r=$1 n=${#tools[@]} k
  for ((k = 0; k < n; k++)); do printf '%s\n' "${tools[$(((k + r - 1) % n))]}"; done
}

# pull_case PROFILE CASE REF DIGEST CHECK [PLATFORM]
pull_case() {
  local profile=$1 case=$2 ref=$3 platform=${6:-} r tool
  cur_digest=$4
  local check=$5
  say "$profile ms: $case: pull $ref${platform:+ for $platform} into an OCI layout ($runs runs)"
  for ((r = 1; r <= runs; r++)); do
    for tool in $(order "$r"); do
      outdir=$work/out/$tool
      rm -rf "$outdir"
      # A first pull: nothing remembered either.
      [[ $case == cold ]] && rm -rf "$work/pings-cold"
      local -x RR_PING_CACHE_DIR=$work/pings
      [[ $case == cold ]] && RR_PING_CACHE_DIR=$work/pings-cold
      case $tool in
      rr) measure "$profile" "$case" rr "$r" "$check" -- rr_run ${platform:+--platform "$platform"} pull "$ref" "$outdir" ;;
      rr-nocache) measure "$profile" "$case" rr-nocache "$r" "$check" -- rr_run --no-ping-cache ${platform:+--platform "$platform"} pull "$ref" "$outdir" ;;
      crane) measure "$profile" "$case" crane "$r" "$check" -- crane_run pull ${platform:+--platform "$platform"} --format=oci "$ref" "$outdir" ;;
      regctl) measure "$profile" "$case" regctl "$r" "$check" -- regctl_run image copy ${platform:+--platform "$platform"} "$ref" "ocidir://$outdir:v1" ;;
      skopeo)
        clear_skopeo_cache
        measure "$profile" "$case" skopeo "$r" "$check" -- skopeo copy -q --src-tls-verify=false \
          --src-creds "$user:$password" ${platform:+--override-os "${platform%/*}" --override-arch "${platform#*/}"} \
          "docker://$ref" "oci:$outdir:v1"
        ;;
      esac
      rm -rf "$outdir"
    done
  done
}

# push_case PROFILE CASE LAYOUT DIGEST REPO_PREFIX|FIXED_REF
push_case() {
  local profile=$1 case=$2 layout=$3 target=$5 r tool
  cur_digest=$4
  say "$profile ms: $case: push the OCI layout $(basename "$layout") to $target ($runs runs)"
  for ((r = 1; r <= runs; r++)); do
    for tool in $(order "$r"); do
      local to=$target
      [[ $case == push ]] && to=$target-$tool-$r:v1
      cur_target=${DIRECT[A]}/${to#*/}
      case $tool in
      rr) measure "$profile" "$case" rr "$r" expect_manifest -- rr_run push "$layout" "$to" ;;
      rr-nocache) measure "$profile" "$case" rr-nocache "$r" expect_manifest -- rr_run --no-ping-cache push "$layout" "$to" ;;
      crane) measure "$profile" "$case" crane "$r" expect_manifest -- crane_run push "$layout" "$to" ;;
      regctl) measure "$profile" "$case" regctl "$r" expect_manifest -- regctl_run image copy "ocidir://$layout:v1" "$to" ;;
      skopeo)
        clear_skopeo_cache
        measure "$profile" "$case" skopeo "$r" expect_manifest -- skopeo copy -q --dest-tls-verify=false \
          --dest-creds "$user:$password" "oci:$layout:v1" "docker://$to"
        ;;
      esac
    done
  done
}

# copy_case PROFILE CASE SRC DIGEST TARGET_REGISTRY(A|B)
copy_case() {
  local profile=$1 case=$2 src=$3 reg=$5 r tool
  cur_digest=$4
  say "$profile ms: $case: copy $src to new repositories of registry $reg ($runs runs)"
  for ((r = 1; r <= runs; r++)); do
    for tool in $(order "$r"); do
      local to=${WAN[$reg]}/bench/$case-$tool-$r:v1
      cur_target=${DIRECT[$reg]}/bench/$case-$tool-$r:v1
      case $tool in
      rr) measure "$profile" "$case" rr "$r" expect_manifest -- rr_run copy "$src" "$to" ;;
      rr-nocache) measure "$profile" "$case" rr-nocache "$r" expect_manifest -- rr_run --no-ping-cache copy "$src" "$to" ;;
      crane) measure "$profile" "$case" crane "$r" expect_manifest -- crane_run copy "$src" "$to" ;;
      regctl) measure "$profile" "$case" regctl "$r" expect_manifest -- regctl_run image copy "$src" "$to" ;;
      skopeo)
        clear_skopeo_cache
        measure "$profile" "$case" skopeo "$r" expect_manifest -- skopeo copy -q --src-tls-verify=false \
          --dest-tls-verify=false --src-creds "$user:$password" --dest-creds "$user:$password" \
          "docker://$src" "docker://$to"
        ;;
      esac
    done
  done
}

# ls_case PROFILE CASE REPO
ls_case() {
  local profile=$1 case=$2 repo=$3 r tool
  say "$profile ms: $case: list the $ntags tags of $repo ($runs runs)"
  for ((r = 1; r <= runs; r++)); do
    for tool in $(order "$r"); do
      case $tool in
      rr) measure "$profile" "$case" rr "$r" expect_tags -- rr_run ls "$repo" ;;
      rr-nocache) measure "$profile" "$case" rr-nocache "$r" expect_tags -- rr_run --no-ping-cache ls "$repo" ;;
      crane) measure "$profile" "$case" crane "$r" expect_tags -- crane_run ls "$repo" ;;
      regctl) measure "$profile" "$case" regctl "$r" expect_tags -- regctl_run tag ls "$repo" ;;
      skopeo) measure "$profile" "$case" skopeo "$r" expect_tags -- skopeo list-tags --tls-verify=false \
        --creds "$user:$password" "docker://$repo" ;;
      esac
    done
  done
}

# ---- one profile -------------------------------------------------------------------------------
declare -A CASE_BYTES=() CASE_WHAT=() PROFILE_TEXT=() HTTPS_MS=() CHECK_MD=()
layouts_made=0
run_profile() {
  local p=$1 rtt rate total
  case $p in
  50) rtt=50 rate=200 total=1000 ;;
  150) rtt=150 rate=50 total=200 ;;
  esac
  PROFILE_TEXT[$p]="$rtt ms RTT, $rate Mbit/s per connection, $total Mbit/s in total"
  say "profile $p: ${PROFILE_TEXT[$p]}"
  if ((check)); then
    note "emulator check (scripts/netem-check.sh, ${check_mib} MiB)"
    CHECK_MD[$p]=$("$root/scripts/netem-check.sh" --no-build --rtt-ms "$rtt" --rate-mbit "$rate" \
      --total-mbit "$total" --size-mib "$check_mib" 2>"$work/logs/netem-check.$p.err") ||
      CHECK_MD[$p]="(scripts/netem-check.sh failed: $(tail -2 "$work/logs/netem-check.$p.err" | tr '\n' ' '))"
    printf '%s\n' "${CHECK_MD[$p]}" | sed 's/^/   /'
  fi
  start_registry A "$rtt" "$rate" "$total"
  start_registry B "$rtt" "$rate" "$total"
  note "A: ${WAN[A]} through the emulator (direct ${DIRECT[A]}), realm ${REALM[A]}; B: ${WAN[B]} (direct ${DIRECT[B]})"
  "$crane" auth login "${WAN[A]}" -u "$user" -p "$password" >/dev/null 2>&1 &&
    "$crane" auth login "${WAN[B]}" -u "$user" -p "$password" >/dev/null 2>&1 || note "crane auth login failed"
  # rr's ping cache, as an earlier command against each registry leaves it (crane's login
  # above is the same kind of state).
  rm -rf "$RR_PING_CACHE_DIR"
  rr_run auth check "${WAN[A]}/bench/prime:x" >/dev/null 2>&1 || note "rr auth check of A failed"
  rr_run auth check "${WAN[B]}/bench/prime:x" >/dev/null 2>&1 || note "rr auth check of B failed"
  ls "$RR_PING_CACHE_DIR"/*.json >/dev/null 2>&1 || note "rr's ping cache is empty after the priming"
  printf '{"hosts": {"%s": {"tls": "disabled", "user": "%s", "pass": "%s"}, "%s": {"tls": "disabled", "user": "%s", "pass": "%s"}}, "incDockerCred": false, "incDockerCert": false}\n' \
    "${WAN[A]}" "$user" "$password" "${WAN[B]}" "$user" "$password" >"$REGCTL_CONFIG"

  # Fixtures, straight to A.
  local d=${DIRECT[A]} big_digest amd_digest arm_digest index_digest small_digest
  big_digest=$("$rr" -q -u "$user" -p "$password" build --config "$work/config.json" "$d/bench/big:v1" "${big_layers[@]}") ||
    die "rr build of the 12-layer image failed"
  amd_digest=$("$rr" -q -u "$user" -p "$password" --platform linux/amd64 build --config "$work/config.json" "$d/bench/multi:amd64" "${amd_layers[@]}") ||
    die "rr build (amd64) failed"
  arm_digest=$("$rr" -q -u "$user" -p "$password" --platform linux/arm64 build --config "$work/config.json" "$d/bench/multi:arm64" "${arm_layers[@]}") ||
    die "rr build (arm64) failed"
  local amd_size arm_size mt
  amd_size=$("$rr" -q -u "$user" -p "$password" manifest "$d/bench/multi:amd64" | wc -c)
  arm_size=$("$rr" -q -u "$user" -p "$password" manifest "$d/bench/multi:arm64" | wc -c)
  mt=$("$rr" -q -u "$user" -p "$password" manifest "$d/bench/multi:amd64" | grep -o '"mediaType": *"[^"]*"' | head -1 | sed 's/.*"\([^"]*\)"$/\1/')
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"%s","digest":"%s","size":%d,"platform":{"architecture":"amd64","os":"linux"}},{"mediaType":"%s","digest":"%s","size":%d,"platform":{"architecture":"arm64","os":"linux"}}]}' \
    "$mt" "$amd_digest" "$amd_size" "$mt" "$arm_digest" "$arm_size" >"$work/index.json"
  "$rr" -q -u "$user" -p "$password" put-manifest --media-type application/vnd.oci.image.index.v1+json \
    "$d/bench/multi:v1" "$work/index.json" >/dev/null || die "put-manifest of the index failed"
  index_digest=sha256:$(sha256sum "$work/index.json" | cut -d' ' -f1)
  small_digest=$("$rr" -q -u "$user" -p "$password" build --config "$work/config.json" "$d/bench/small:v1" "$work/layers/small.tar.gz") ||
    die "rr build of the small image failed"
  # The layout the pushes read: skopeo's, as scripts/bench.sh makes them (the same files for
  # every tool and profile: the layers and config are the same bytes, so is the digest).
  if ((layouts_made == 0)); then
    clear_skopeo_cache
    skopeo copy -q --src-tls-verify=false --src-creds "$user:$password" "docker://$d/bench/big:v1" \
      "oci:$work/layouts/big:v1" >/dev/null || die "skopeo copy of the 12-layer image to a layout failed"
    layouts_made=1
  fi
  grep -q "$big_digest" "$work/layouts/big/index.json" || die "the layout has another digest than $big_digest"
  # The target of the re-push: everything there already.
  "$rr" -q -u "$user" -p "$password" push "$work/layouts/big" "$d/bench/repush:v1" >/dev/null || die "the first push of repush failed"

  # ntags tags: the small image (its blobs in bench/tags too), then its manifest PUT under
  # t1..t(ntags-1) (curl in parallel, one token).
  local tok
  "$rr" -q -u "$user" -p "$password" build --config "$work/config.json" "$d/bench/tags:v1" "$work/layers/small.tar.gz" >/dev/null ||
    die "rr build of bench/tags:v1 failed"
  tok=$(curl -sS -f -u "$user:$password" "${REALM[A]}?service=rr-test-registry&scope=repository:bench/tags:pull,push" |
    sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')
  [[ -n $tok ]] || die "no token for seeding the tags"
  "$rr" -q -u "$user" -p "$password" manifest "$d/bench/small:v1" >"$work/tags-manifest.json"
  {
    for ((i = 1; i < ntags; i++)); do
      printf 'url = "http://%s/v2/bench/tags/manifests/t%d"\nupload-file = "%s"\noutput = "/dev/null"\n' "$d" "$i" "$work/tags-manifest.json"
    done
  } >"$work/tags.curl"
  curl -sS -f --no-progress-meter --parallel --parallel-max 16 -H "Authorization: Bearer $tok" \
    -H "Content-Type: $mt" -K "$work/tags.curl" 2>"$work/logs/tags.err" || { tail -3 "$work/logs/tags.err" >&2; die "tagging failed"; }
  local got
  got=$("$rr" -q -u "$user" -p "$password" ls "$d/bench/tags" | wc -l)
  ((got == ntags)) || die "bench/tags has $got tags, expected $ntags"

  # Bytes each case must move (for the floor): blobs and manifests.
  local layout_blobs=$work/layouts/big/blobs/sha256 f sum=0 sz
  for f in "$layout_blobs"/*; do
    sz=$(stat -c %s "$f")
    sum=$((sum + sz))
  done
  CASE_BYTES[pull]=$sum CASE_WHAT[pull]="the image's manifest, config and layers"
  CASE_BYTES[push]=$sum CASE_WHAT[push]="the same, up"
  CASE_BYTES[copy-registry]=$sum CASE_WHAT[copy-registry]="the same, down from A and up to B at once (separate links)"
  CASE_BYTES[repush]=0 CASE_WHAT[repush]="nothing (everything is there)"
  CASE_BYTES[copy-repo]=0 CASE_WHAT[copy-repo]="nothing (every blob can be mounted)"
  sum=$(($(wc -c <"$work/index.json") + arm_size))
  for f in "${arm_layers[@]}"; do
    sz=$(stat -c %s "$f")
    sum=$((sum + sz))
  done
  sum=$((sum + $("$rr" -q -u "$user" -p "$password" config "$d/bench/multi:arm64" | wc -c)))
  CASE_BYTES[platform]=$sum CASE_WHAT[platform]="the index, the arm64 manifest, config and layers"
  sz=$(stat -c %s "$work/layers/small.tar.gz")
  sum=$((sz + $("$rr" -q -u "$user" -p "$password" manifest "$d/bench/small:v1" | wc -c) + $("$rr" -q -u "$user" -p "$password" config "$d/bench/small:v1" | wc -c)))
  CASE_BYTES[cold]=$sum CASE_WHAT[cold]="its manifest, config and layer"
  sz=$(curl -sS -f -H "Authorization: Bearer $tok" "http://$d/v2/bench/tags/tags/list" | wc -c)
  CASE_BYTES[ls]=$sz CASE_WHAT[ls]="the tag list's JSON"
  note "fixtures: bench/big:v1 $big_digest (${CASE_BYTES[pull]} bytes of blobs), bench/multi:v1 $index_digest, bench/small:v1, bench/tags ($ntags tags)"

  # What an https attempt on the plain-http host costs a tool that makes one first (rr
  # without --plain-http; crane and skopeo always), as rr -v reports it.
  rm -rf "$work/out/rr-v"
  "$rr" -v --progress none -u "$user" -p "$password" --insecure "${WAN[A]}" pull "${WAN[A]}/bench/small:v1" \
    "$work/out/rr-v" >/dev/null 2>"$work/logs/$p.rr-v.err" || note "rr -v pull failed"
  rm -rf "$work/out/rr-v"
  HTTPS_MS[$p]=$(sed -n 's/^rr: GET https:.* -> failed after \([0-9]*\) ms.*/\1/p' "$work/logs/$p.rr-v.err" | head -1)
  note "rr -v --insecure: the https attempt on ${WAN[A]} failed after ${HTTPS_MS[$p]:-?} ms ($(fmt "${HTTPS_MS[$p]:-0} / $rtt" 1) RTT); the runs use --plain-http, which makes none"

  local c
  for c in ${cases//,/ }; do
    case $c in
    pull) pull_case "$p" pull "${WAN[A]}/bench/big:v1" "$big_digest" expect_layout ;;
    platform) pull_case "$p" platform "${WAN[A]}/bench/multi:v1" "$arm_digest" expect_blob linux/arm64 ;;
    push) push_case "$p" push "$work/layouts/big" "$big_digest" "${WAN[A]}/bench/push" ;;
    repush) push_case "$p" repush "$work/layouts/big" "$big_digest" "${WAN[A]}/bench/repush:v1" ;;
    copy-repo) copy_case "$p" copy-repo "${WAN[A]}/bench/big:v1" "$big_digest" A ;;
    copy-registry) copy_case "$p" copy-registry "${WAN[A]}/bench/big:v1" "$big_digest" B ;;
    ls) ls_case "$p" ls "${WAN[A]}/bench/tags" ;;
    cold) pull_case "$p" cold "${WAN[A]}/bench/small:v1" "$small_digest" expect_layout ;;
    esac
  done
  stop_registry A
  stop_registry B
  PROFILE_RTT[$p]=$rtt PROFILE_RATE[$p]=$rate PROFILE_TOTAL[$p]=$total
}

declare -A PROFILE_RTT=() PROFILE_RATE=() PROFILE_TOTAL=()
for p in ${profiles//,/ }; do run_profile "$p"; done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report --------------------------------------------------------------------------------------
say "results"
summary=$work/summary.tsv
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# col PROFILE CASE TOOL FIELD#: the field of the successful runs
col() { awk -F'\t' -v p="$1" -v c="$2" -v t="$3" -v k="$4" 'NR > 1 && $1 == p && $2 == c && $3 == t && $14 == 0 { print $k }' "$tsv"; }
printf 'profile\tcase\ttool\truns\tfailed\twall_s\trequests\ttoken_requests\tcrit_round_trips\tcrit_requests\tfirst_request_ms\tbytes_up\tbytes_down\tbinding_floor_ms\n' >"$summary"
while IFS=$'\t' read -r p c t; do
  n=$(col "$p" "$c" "$t" 1 | wc -l)
  nf=$(awk -F'\t' -v p="$p" -v c="$c" -v t="$t" 'NR > 1 && $1 == p && $2 == c && $3 == t && $14 != 0' "$tsv" | wc -l)
  printf '%s\t%s\t%s\t%s\t%s' "$p" "$c" "$t" "$n" "$nf" >>"$summary"
  for k in 5 6 7 8 9 11 12 13 16; do printf '\t%s' "$(col "$p" "$c" "$t" $k | median)" >>"$summary"; done
  printf '\n' >>"$summary"
done < <(awk -F'\t' 'NR > 1 && !seen[$1 FS $2 FS $3]++ { print $1 "\t" $2 "\t" $3 }' "$tsv")

# get PROFILE CASE TOOL FIELD
get() {
  awk -F'\t' -v p="$1" -v c="$2" -v t="$3" -v f="$4" 'NR == 1 { for (i = 1; i <= NF; i++) k[$i] = i; next }
    $1 == p && $2 == c && $3 == t && $4 > 0 { print $(k[f]); exit }' "$summary"
}
calc() { awk "BEGIN { x = $1; printf \"%.${2:-2}f\", x }" 2>/dev/null; }
declare -A CASE_TITLE=(
  [pull]="pull, 12 layers (${big_sizes[0]}–${big_sizes[11]})"
  [platform]="pull linux/arm64 of a 2-platform index"
  [push]="push to an empty repository"
  [repush]="re-push (everything present)"
  [copy-repo]="copy between repositories (mounts)"
  [copy-registry]="copy between registries"
  [ls]="ls, $ntags tags"
  [cold]="first pull, cold token cache, 1 layer of $small_size"
)

md=$work/report.md
{
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $machine."
  echo "Load average at start / end: $load_start / $load_end (other work on the machine shares the cores)."
  echo "$v_rr (release build, default 8 jobs), crane ${v_crane}, regctl ${v_regctl}, skopeo ${v_skopeo}; registry: distribution ${v_registry:-2.8} with token auth (\`rr-testkit serve --mode token --netem-...\`), plain http."
  echo "$( ((runs > 1)) && echo "Medians of $runs runs, the tools' order rotating from round to round" || echo "One run each (no medians)"). Layers: random bytes in a tar, gzip stored blocks (incompressible)."
  echo
  echo "How it is measured: every client reaches the registry and its token server through the harness's emulator (a user-space TCP proxy: RTT/2 each way per chunk, one RTT for the handshake, token buckets per connection and in total), by address, with nothing client-specific. *requests*: HTTP exchanges in both emulators' logs during the run (token requests in brackets). *critical RT*: round trips on the critical path, the longest chain of logged requests each of which started after the previous one ended (\`rr-netem critical-path\`, 2 ms slack), a request that opened its connection counting 2. *first req*: when the first logged request started, after the tool was started: process start-up, plus ~2 RTT for a tool that tries https first and waits for it to fail (skopeo does; crane races https against http but starts http only when https failed or after 300 ms, go-containerregistry's fallbackDelay, so it pays min(2 RTT, 300 ms); rr, told --plain-http, and regctl, told tls=disabled, go straight to http); TLS bytes are proxied but not logged, so that attempt is in the wall time only, not in the requests or the critical path."
  echo "rr's ping cache (on in the tool, RR_PING_CACHE_DIR): each profile starts by running \`rr auth check\` once against A and B, which leaves the registries' challenges remembered, as any earlier rr command against them would (crane's \`auth login\` is the same kind of state); rr then starts its token exchange with the ping beside it instead of after it. The first pull with a cold token cache starts every rr run with an empty one. *rr-nocache* is rr with --no-ping-cache in the same rounds, to show what the cache is worth; it is not counted as a peer."
  echo "rr's own floor in a case: what the link alone makes its requests take, the largest of three lower bounds: its critical round trips × RTT (those requests did not overlap); the *binding chain* (from the request that ended last, each time the request that ended last before it started: the chain that decided when rr finished) at its round trips × RTT plus its bytes at the per-connection rate (\`rr-netem critical-path --rtt-ms ...\`, its \`binding:\` line); and the case's bytes at the total rate. Process start-up is outside it. Bytes per case: pull, push, copy between registries: the image's manifest, config and 12 layers (a copy moves them down from A and up to B at once, over separate links, so once); platform: the index and the arm64 image's manifest, config and layers; first pull: the small image's manifest, config and layer; ls: the tag list's JSON; re-push and copy between repositories: none."
  for p in ${profiles//,/ }; do
    rtt=${PROFILE_RTT[$p]} rate=${PROFILE_RATE[$p]} total=${PROFILE_TOTAL[$p]}
    echo
    echo "## ${PROFILE_TEXT[$p]}"
    echo
    echo "What an https attempt on this plain-http host costs before the http ping (\`rr -v --insecure\`, not used in the runs): ${HTTPS_MS[$p]:-?} ms, $(calc "${HTTPS_MS[$p]:-0} / $rtt" 1) RTT (a TLS handshake answered by an http server: connect, ClientHello, the refusal; rr then races http after 25 ms)."
    echo
    echo "| case | tool | wall s | requests (token) | critical RT | critical requests | first req ms | MiB down | MiB up | rr time / tool |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for c in ${cases//,/ }; do
      for t in "${tools[@]}"; do
        n=$(awk -F'\t' -v p="$p" -v c="$c" -v t="$t" '$1 == p && $2 == c && $3 == t { print $4 " " $5 }' "$summary")
        [[ -z $n ]] && continue
        if [[ ${n% *} == 0 ]]; then
          echo "| ${CASE_TITLE[$c]} | $t | failed (${n#* } runs) | | | | | | | |"
          continue
        fi
        w=$(get "$p" "$c" "$t" wall_s) rw=$(get "$p" "$c" rr wall_s) ratio=''
        [[ $t != rr && -n $rw ]] && ratio=$(calc "$rw / $w" 2)
        fails=''
        [[ ${n#* } != 0 ]] && fails=" (${n#* } failed)"
        echo "| ${CASE_TITLE[$c]} | $t$fails | $(calc "$w" 3) | $(calc "$(get "$p" "$c" "$t" requests)" 0) ($(calc "$(get "$p" "$c" "$t" token_requests)" 0)) | $(calc "$(get "$p" "$c" "$t" crit_round_trips)" 0) | $(calc "$(get "$p" "$c" "$t" crit_requests)" 0) | $(calc "$(get "$p" "$c" "$t" first_request_ms)+0" 0) | $(calc "$(get "$p" "$c" "$t" bytes_down) / 1048576" 1) | $(calc "$(get "$p" "$c" "$t" bytes_up) / 1048576" 1) | $ratio |"
      done
    done
    echo
    echo "Headline: rr against the best peer, and against its floor."
    echo
    echo "| case | rr s | best peer | its s | rr / best peer | rr requests | peer requests | rr critical RT | peer critical RT | bytes | floor s | rr / floor |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for c in ${cases//,/ }; do
      rw=$(get "$p" "$c" rr wall_s)
      [[ -z $rw ]] && { echo "| ${CASE_TITLE[$c]} | failed | | | | | | | | | | |"; continue; }
      best='' bw=''
      for t in "${tools[@]}"; do
        [[ $t == rr || $t == rr-nocache ]] && continue
        w=$(get "$p" "$c" "$t" wall_s)
        [[ -z $w ]] && continue
        if [[ -z $bw || $(calc "$w < $bw" 0) == 1 ]]; then best=$t bw=$w; fi
      done
      rcrt=$(get "$p" "$c" rr crit_round_trips)
      bytes=${CASE_BYTES[$c]}
      bfloor=$(get "$p" "$c" rr binding_floor_ms)
      floor=$(awk -v crt="$rcrt" -v rtt="$rtt" -v b="${bfloor:-0}" -v bytes="$bytes" -v total="$total" 'BEGIN {
        f = crt * rtt / 1000; if (b / 1000 > f) f = b / 1000
        t = 8 * bytes / (total * 1e6); if (t > f) f = t
        printf "%.3f", f }')
      if [[ -n $best ]]; then
        echo "| ${CASE_TITLE[$c]} | $(calc "$rw" 3) | $best | $(calc "$bw" 3) | **$(calc "$rw / $bw" 2)** | $(calc "$(get "$p" "$c" rr requests)" 0) | $(calc "$(get "$p" "$c" "$best" requests)" 0) | $(calc "$rcrt" 0) | $(calc "$(get "$p" "$c" "$best" crit_round_trips)" 0) | $bytes | $floor | $(calc "$rw / $floor" 2) |"
      else
        echo "| ${CASE_TITLE[$c]} | $(calc "$rw" 3) | (none) | | | $(calc "$(get "$p" "$c" rr requests)" 0) | | $(calc "$rcrt" 0) | | $bytes | $floor | $(calc "$rw / $floor" 2) |"
      fi
    done
    echo
    echo "Floor: the largest of rr's critical RT × ${rtt} ms, its binding chain (round trips × ${rtt} ms + its bytes × 8 / ${rate} Mbit/s) and the bytes × 8 / ${total} Mbit/s; bytes as above."
    if [[ -n ${CHECK_MD[$p]:-} ]]; then
      echo
      echo "### The emulator at this profile (scripts/netem-check.sh)"
      echo
      printf '%s\n' "${CHECK_MD[$p]}"
    fi
  done
} >"$md"

# The timeline of each tool's first run of every case: the input for finding what waits.
timeline() { # LOG...: one line per request, times from the first request's start
  cat "$@" | awk '
    function num(k) { if (match($0, "\"" k "\":[0-9]+")) return substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3) + 0; return 0 }
    function str(k) { if (match($0, "\"" k "\":\"[^\"]*\"")) return substr($0, RSTART + length(k) + 4, RLENGTH - length(k) - 5); return "" }
    NF { print sprintf("%.0f\t%.0f", num("start_us"), num("end_us")) "\t" num("conn") "#" num("seq") "\t" str("method") "\t" num("status") "\t" num("bytes_up") "\t" num("bytes_down") "\t" str("path") }' |
    sort -n | awk -F'\t' 'NR == 1 { t0 = $1 } { p = $8; if (length(p) > 90) p = substr(p, 1, 90) "..."
      printf "  %8.1f %8.1f ms  %-7s %-6s %3d  up %9d  down %9d  %s\n", ($1 - t0) / 1000, ($2 - t0) / 1000, $3, $4, $5, $6, $7, p }'
}
timelines=$root/benches/results/$label-timelines.txt
mkdir -p "$root/benches/results"
{
  echo "# Request timelines of the WAN benchmark ($label): the first run of each case and tool"
  echo "# (both emulators' logs merged; ms from the first logged request; conn#seq, #0 opened its"
  echo "# connection; then the critical path as \`rr-netem critical-path\` prints it)."
  for p in ${profiles//,/ }; do
    for c in ${cases//,/ }; do
      for t in "${tools[@]}"; do
        stem=$work/logs/$p.$c.$t.1
        [[ -f $stem.A.jsonl ]] || continue
        echo
        echo "== $p ms RTT: $c: $t (wall $(awk -F'\t' -v p="$p" -v c="$c" -v t="$t" '$1 == p && $2 == c && $3 == t && $4 == 1 { print $5 }' "$tsv") s)"
        timeline "$stem.A.jsonl" "$stem.B.jsonl"
        echo "  critical path: $(head -1 "$stem.critical.txt" 2>/dev/null)"
      done
    done
  done
} >"$timelines"

{
  echo "# rr WAN benchmark ($label)"
  echo
  echo "Produced by \`scripts/bench-wan.sh$( ((quick)) && echo ' --quick')\` (also \`scripts/bench.sh --wan\`)."
  echo
  cat "$md"
} >"$root/benches/results/$label.md"
cp "$tsv" "$root/benches/results/$label.tsv"
cat "$md"
echo
echo "written: benches/results/$label.md, $label.tsv (every run) and $label-timelines.txt; $(calc "$EPOCHREALTIME - $started" 0) s in all"
