#!/usr/bin/env bash
# rr-sigint.sh RR
#
# Ctrl-C cancels any command, not only transfers: `rr ls` against a registry that accepts
# connections and never answers is sent SIGINT after 700 ms; it must exit with 130 and
# an "interrupted" line within a second of the signal (the library returns
# RR_ERR_CANCELLED from the blocked read). Needs python3 for the silent server.
set -euo pipefail
rr=$1
tmp=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$tmp"' EXIT

python3 - "$tmp/port" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
while True:
    c, _ = s.accept()
    held.append(c)  # read nothing, answer nothing
PY
server=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")

"$rr" --no-keychain ls "127.0.0.1:$port/demo/slow" 2>"$tmp/err" &
pid=$!
sleep 0.7
kill -0 "$pid" || { echo "rr ended before the signal"; cat "$tmp/err"; exit 1; }
start=$(date +%s%N)
kill -INT "$pid"
status=0
wait "$pid" || status=$?
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "rr ls exited with $status ${took_ms} ms after SIGINT"
cat "$tmp/err"
[ "$status" -eq 130 ] || { echo "expected exit status 130"; exit 1; }
grep -q "^rr: interrupted" "$tmp/err" || grep -q "interrupted" "$tmp/err" || { echo "no interrupted line"; exit 1; }
[ "$took_ms" -lt 1000 ] || { echo "took ${took_ms} ms"; exit 1; }
