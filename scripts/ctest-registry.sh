#!/usr/bin/env bash
# Start and stop a harness registry (rr-testkit) for ctest fixtures.
#
#   ctest-registry.sh start MODE ENVFILE   # MODE: open | basic | tls | token | mtls
#                                          # (mtls: tls that also requires a client certificate)
#   ctest-registry.sh stop ENVFILE
#
# `start` runs `$RR_TESTKIT serve --mode MODE --seed --env-file ENVFILE` in the
# background (its own session, output to ENVFILE.log), waits up to
# $RR_REGISTRY_WAIT_SECONDS (default 120) for ENVFILE to appear, and fails
# with the log tail if it does not. `stop` runs `$RR_TESTKIT stop`; if that
# fails or the server is still alive, it signals the PID it started itself.
#
# RR_TESTKIT defaults to target/debug/rr-testkit of this checkout.
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RR_TESTKIT=${RR_TESTKIT:-$here/../target/debug/rr-testkit}
wait_seconds=${RR_REGISTRY_WAIT_SECONDS:-120}

die() {
    echo "$prog: $*" >&2
    exit 1
}

usage() {
    echo "usage: $prog start MODE ENVFILE | stop ENVFILE" >&2
    exit 64
}

# The value of KEY in an env file (KEY=VALUE lines), or nothing.
env_value() {
    local file=$1 key=$2 line
    [[ -f $file ]] || return 0
    while IFS= read -r line || [[ -n $line ]]; do
        if [[ $line == "$key="* ]]; then
            printf '%s\n' "${line#*=}"
            return 0
        fi
    done <"$file"
}

# True when PID is a live (non-zombie) rr-testkit process.
is_testkit() {
    local pid=$1 state
    [[ $pid =~ ^[0-9]+$ ]] && ((pid > 1)) || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep 'rr-testkit' >/dev/null || return 1
    state=$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)
    [[ -n $state && $state != Z && $state != X ]]
}

# Sends SIGTERM to PID, then SIGKILL after 20 s; only if it is rr-testkit.
kill_testkit() {
    local pid=$1 i
    is_testkit "$pid" || return 0
    echo "$prog: stopping rr-testkit pid $pid with SIGTERM" >&2
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 200; i++)); do
        is_testkit "$pid" || return 0
        sleep 0.1
    done
    echo "$prog: pid $pid ignored SIGTERM; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

log_tail() {
    local log=$1
    if [[ -f $log ]]; then
        echo "---- last 40 lines of $log ----" >&2
        tail -n 40 "$log" >&2
        echo "----" >&2
    else
        echo "($log does not exist)" >&2
    fi
}

start() {
    local mode=$1 envfile=$2
    local log=$envfile.log pidfile=$envfile.pid pid i rc
    [[ -x $RR_TESTKIT ]] ||
        die "rr-testkit not found at $RR_TESTKIT (run \`cargo build -p rr-testkit\` or set RR_TESTKIT)"
    mkdir -p "$(dirname "$envfile")"

    # A server left over from an interrupted run: stop it first.
    if [[ -f $envfile || -f $pidfile ]]; then
        stop "$envfile" || true
    fi
    rm -f "$envfile" "$pidfile"

    local serve=(serve --mode "$mode" --seed --env-file "$envfile")
    [[ $mode == mtls ]] && serve=(serve --mode tls --mtls --seed --env-file "$envfile")
    # Own session, no inherited stdio: ctest waits for the test's pipes to
    # close, so the server must not hold them.
    if command -v setsid >/dev/null 2>&1; then
        setsid "$RR_TESTKIT" "${serve[@]}" </dev/null >"$log" 2>&1 &
    else
        nohup "$RR_TESTKIT" "${serve[@]}" </dev/null >"$log" 2>&1 &
    fi
    pid=$!
    echo "$pid" >"$pidfile"

    for ((i = 0; i < wait_seconds * 10; i++)); do
        if [[ -s $envfile ]]; then
            echo "$prog: $mode registry ready (pid $pid):"
            cat "$envfile"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null && rc=0 || rc=$?
            echo "$prog: rr-testkit serve --mode $mode exited early (status $rc)" >&2
            log_tail "$log"
            rm -f "$pidfile"
            exit 1
        fi
        sleep 0.1
    done
    echo "$prog: no $envfile after ${wait_seconds} s" >&2
    log_tail "$log"
    kill_testkit "$pid"
    rm -f "$pidfile"
    exit 1
}

stop() {
    local envfile=$1 pidfile=$1.pid pid_env pid_started rc=0
    pid_env=$(env_value "$envfile" RR_TEST_PID)
    pid_started=$(cat "$pidfile" 2>/dev/null || true)

    if [[ -x $RR_TESTKIT ]]; then
        "$RR_TESTKIT" stop --env-file "$envfile" || rc=$?
        ((rc == 0)) || echo "$prog: rr-testkit stop failed (status $rc); falling back to kill" >&2
    else
        echo "$prog: rr-testkit not found at $RR_TESTKIT; falling back to kill" >&2
    fi
    # Fallback (and belt and braces): the PIDs we know of, if still rr-testkit.
    for pid in $pid_env $pid_started; do
        kill_testkit "$pid"
    done
    rm -f "$pidfile" "$envfile"
    return 0
}

case ${1:-} in
start)
    (($# == 3)) || usage
    start "$2" "$3"
    ;;
stop)
    (($# == 2)) || usage
    stop "$2"
    ;;
*) usage ;;
esac
