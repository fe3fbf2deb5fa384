#!/usr/bin/env bash
# check-output.sh [CHECKS...] -- COMMAND [ARGS...]
#
# Runs COMMAND, echoes its stdout and stderr (for ctest --output-on-failure),
# and fails unless every check holds:
#   --exit N                     exit status is N (default 0)
#   --stdout-has TEXT            stdout contains TEXT (fixed string)
#   --stderr-has TEXT            stderr contains TEXT (fixed string)
#   --stdout-match REGEX         a line of stdout matches REGEX (grep -E)
#   --stderr-match REGEX         a line of stderr matches REGEX (grep -E)
#   --stdout-lines REGEX COUNT   exactly COUNT lines of stdout match REGEX
#   --stderr-lines REGEX COUNT   exactly COUNT lines of stderr match REGEX
set -uo pipefail

prog=${0##*/}
usage() {
    echo "usage: $prog [--exit N] [--stdout-has TEXT] [--stderr-has TEXT]" \
        "[--stdout-match RE] [--stderr-match RE] [--stdout-lines RE COUNT]" \
        "[--stderr-lines RE COUNT] -- COMMAND [ARGS...]" >&2
    exit 64
}

want_exit=0
checks=()
while (($#)); do
    case $1 in
    --exit)
        (($# >= 2)) || usage
        want_exit=$2
        shift 2
        ;;
    --stdout-has | --stderr-has | --stdout-match | --stderr-match)
        (($# >= 2)) || usage
        checks+=("$1" "$2" "")
        shift 2
        ;;
    --stdout-lines | --stderr-lines)
        (($# >= 3)) || usage
        checks+=("$1" "$2" "$3")
        shift 3
        ;;
    --)
        shift
        break
        ;;
    *) usage ;;
    esac
done
(($#)) || usage

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rr-check.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

"$@" >"$tmp/out" 2>"$tmp/err"
status=$?

echo "---- command: $* (exit $status)"
echo "---- stdout:"
cat "$tmp/out"
echo "---- stderr:"
cat "$tmp/err"
echo "----"

failed=0
fail() {
    echo "$prog: FAILED: $*" >&2
    failed=1
}

[[ $status == "$want_exit" ]] || fail "exit status $status, expected $want_exit"

for ((i = 0; i < ${#checks[@]}; i += 3)); do
    kind=${checks[i]}
    arg=${checks[i + 1]}
    count=${checks[i + 2]}
    case $kind in
    --stdout-has) grep -qF -- "$arg" "$tmp/out" || fail "stdout lacks '$arg'" ;;
    --stderr-has) grep -qF -- "$arg" "$tmp/err" || fail "stderr lacks '$arg'" ;;
    --stdout-match) grep -qE -- "$arg" "$tmp/out" || fail "no stdout line matches /$arg/" ;;
    --stderr-match) grep -qE -- "$arg" "$tmp/err" || fail "no stderr line matches /$arg/" ;;
    --stdout-lines)
        n=$(grep -cE -- "$arg" "$tmp/out")
        [[ $n == "$count" ]] || fail "$n stdout lines match /$arg/, expected $count"
        ;;
    --stderr-lines)
        n=$(grep -cE -- "$arg" "$tmp/err")
        [[ $n == "$count" ]] || fail "$n stderr lines match /$arg/, expected $count"
        ;;
    esac
done

if ((failed)); then
    exit 1
fi
echo "$prog: all checks passed"
exit 0
