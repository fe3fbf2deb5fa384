#!/usr/bin/env bash
# Honesty check of the network emulator (tests/testkit/src/netem.rs, the rr-netem binary):
# curl through it against what a real path of that RTT and rate would give. Prints a
# markdown table on stdout, for the WAN benchmark to include; progress goes to stderr.
#
#   scripts/netem-check.sh [--rtt-ms N] [--rate-mbit N] [--total-mbit N] [--jitter-ms N]
#                          [--size-mib N] [--runs N] [--no-build]
#
# Defaults: RTT 100 ms, 100 Mbit/s per connection, no total cap, no jitter, a 64 MiB blob,
# 3 runs of each latency check (medians). With --total-mbit, two GETs of the blob in
# parallel also check the sharing of the total (each should get min(rate, total / 2)).
#
# What it does: builds rr-testkit and rr-netem (debug, incremental; not with --no-build),
# starts an open distribution 2.8 registry (`rr-testkit serve --mode open --seed --detach`),
# pushes a blob of random bytes to it with curl (directly), starts rr-netem in front of it,
# and measures with curl's -w timings: time to first byte on a new connection (expected
# 2 x RTT: the handshake, then the request there and the answer back), the second of two
# requests on one connection (1 x RTT), and the blob's GET (2 x RTT + size / rate).
# Environment: RR_TESTKIT_TMPDIR (registry storage), TMPDIR.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

rtt=100 rate=100 total='' jitter=0 size=64 runs=3 build=1
while (($#)); do
  case $1 in
  --rtt-ms) rtt=$2; shift ;;
  --rate-mbit) rate=$2; shift ;;
  --total-mbit) total=$2; shift ;;
  --jitter-ms) jitter=$2; shift ;;
  --size-mib) size=$2; shift ;;
  --runs) runs=$2; shift ;;
  --no-build) build=0 ;;
  -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
  *) echo "netem-check: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

bin=target/debug
if ((build)); then
  cargo build -q -p rr-testkit --bins >&2
fi
for b in rr-testkit rr-netem; do
  [[ -x $bin/$b ]] || { echo "netem-check: $bin/$b is missing (build it, or drop --no-build)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/netem-check.XXXXXX")
netem_pid=''
cleanup() {
  [[ -n $netem_pid ]] && kill "$netem_pid" 2>/dev/null && wait "$netem_pid" 2>/dev/null
  "$bin/rr-testkit" stop --env-file "$work/registry.env" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "netem-check: starting a registry" >&2
"$bin/rr-testkit" serve --mode open --seed --env-file "$work/registry.env" --detach >/dev/null
registry=$(sed -n 's/^RR_TEST_REGISTRY=//p' "$work/registry.env")

echo "netem-check: pushing a $size MiB blob" >&2
head -c "$((size << 20))" /dev/urandom >"$work/blob"
digest=sha256:$(sha256sum "$work/blob" | cut -d' ' -f1)
location=$(curl -sS -f --noproxy '*' -X POST -D - -o /dev/null \
  "http://$registry/v2/netem/check/blobs/uploads/" |
  awk 'tolower($1) == "location:" { print $2 }' | tr -d '\r')
[[ $location == http* ]] || location=http://$registry$location
[[ $location == *\?* ]] && sep='&' || sep='?'
curl -sS -f --noproxy '*' -X PUT -H 'Content-Type: application/octet-stream' \
  --data-binary "@$work/blob" -o /dev/null "$location${sep}digest=$digest"
rm -f "$work/blob"

netem_args=(--upstream "$registry" --rtt-ms "$rtt" --rate-mbit "$rate" --jitter-ms "$jitter"
  --env-file "$work/netem.env")
[[ -n $total ]] && netem_args+=(--total-mbit "$total")
"$bin/rr-netem" "${netem_args[@]}" 2>"$work/netem.log" &
netem_pid=$!
for _ in $(seq 100); do
  [[ -s $work/netem.env ]] && break
  kill -0 "$netem_pid" 2>/dev/null || { cat "$work/netem.log" >&2; exit 1; }
  sleep 0.1
done
netem=$(sed -n 's/^NETEM_HOST=//p' "$work/netem.env")
[[ -n $netem ]] || { echo "netem-check: rr-netem did not start" >&2; exit 1; }

c() { curl -sS -f --noproxy '*' "$@"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "netem-check: latency through $netem" >&2
ttfb=$(for _ in $(seq "$runs"); do
  c -o /dev/null -w '%{time_starttransfer}\n' "http://$netem/v2/"
done | median)
reused=$(for _ in $(seq "$runs"); do
  c -o /dev/null -o /dev/null -w '%{time_starttransfer}\n' "http://$netem/v2/" "http://$netem/v2/" | sed -n 2p
done | median)

echo "netem-check: the $size MiB GET at $rate Mbit/s" >&2
blob_url=http://$netem/v2/netem/check/blobs/$digest
read -r blob_time blob_first < <(c -o /dev/null -w '%{time_total} %{time_starttransfer}\n' "$blob_url")

shared=''
if [[ -n $total ]]; then
  echo "netem-check: two $size MiB GETs in parallel, $total Mbit/s total" >&2
  c -o /dev/null -w '%{time_total}\n' "$blob_url" >"$work/p1" &
  p1=$!
  c -o /dev/null -w '%{time_total}\n' "$blob_url" >"$work/p2" &
  p2=$!
  wait "$p1" "$p2"
  shared=$(cat "$work/p1" "$work/p2")
fi

awk -v rtt="$rtt" -v rate="$rate" -v total="$total" -v jitter="$jitter" -v size="$size" \
  -v runs="$runs" -v ttfb="$ttfb" -v reused="$reused" -v bt="$blob_time" -v bf="$blob_first" \
  -v shared="$shared" -v curlv="$(curl --version | awk 'NR == 1 { print $2 }')" '
function row(what, want, got, unit, scale) {
  printf "| %s | %s %s | %s %s | %.2f |\n", what, num(want * scale), unit, num(got * scale), unit, got / want
}
function num(x) { return sprintf(x >= 100 ? "%.0f" : (x >= 10 ? "%.1f" : "%.2f"), x) }
BEGIN {
  r = rtt / 1000
  printf "Emulator check (rr-netem, curl %s): RTT %s ms, %s Mbit/s per connection, ", curlv, rtt, rate
  printf "%s, jitter %s ms; latencies are medians of %s.\n\n", \
    total == "" ? "no total cap" : "total " total " Mbit/s", jitter, runs
  print "| check | expected | measured | measured / expected |"
  print "|---|---:|---:|---:|"
  row("time to first byte, new connection (2 × RTT)", 2 * r, ttfb, "ms", 1000)
  row("second request on the connection (1 × RTT)", r, reused, "ms", 1000)
  bits = size * 1048576 * 8
  row(sprintf("%s MiB GET at %s Mbit/s (2 × RTT + size / rate)", size, rate), \
    2 * r + bits / (rate * 1e6), bt, "s", 1)
  row("its rate after the first byte", rate, bits / (bt - bf) / 1e6, "Mbit/s", 1)
  if (total != "") {
    each = rate < total / 2 ? rate : total / 2
    n = split(shared, f, /[ \n]+/)
    for (i = 1; i <= n; i++) {
      if (f[i] == "") continue
      row(sprintf("%s MiB GET %d of 2 in parallel, %s Mbit/s total (2 × RTT + size / min(rate, total / 2))", size, i, total), \
        2 * r + bits / (each * 1e6), f[i], "s", 1)
    }
  }
}'
