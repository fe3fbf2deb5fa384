#!/usr/bin/env bash
# run-with-env.sh ENVFILE -- COMMAND [ARGS...]
#
# Reads the KEY=VALUE lines of ENVFILE (written by `rr-testkit serve`),
# exports them, replaces every `${NAME}` in COMMAND and ARGS whose NAME is a
# key of the file (e.g. '${RR_TEST_IMAGE}') by its value, and execs the
# command. Nothing is evaluated by the shell: the file is parsed, not
# sourced, and the substitution is plain text. A `${RR_TEST_...}` left over
# (a name the file lacks) is an error, so a typo cannot pass silently.
set -euo pipefail

prog=${0##*/}
if (($# < 3)) || [[ $2 != -- ]]; then
    echo "usage: $prog ENVFILE -- COMMAND [ARGS...]" >&2
    exit 64
fi
envfile=$1
shift 2

if [[ ! -f $envfile ]]; then
    echo "$prog: $envfile does not exist (did the registry fixture start?)" >&2
    if [[ -f $envfile.log ]]; then
        echo "---- last 20 lines of $envfile.log ----" >&2
        tail -n 20 "$envfile.log" >&2
    fi
    exit 1
fi

names=()
declare -A values=()
while IFS= read -r line || [[ -n $line ]]; do
    [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    name=${BASH_REMATCH[1]}
    value=${BASH_REMATCH[2]}
    names+=("$name")
    values[$name]=$value
    export "$name=$value"
done <"$envfile"

args=()
for arg in "$@"; do
    for name in "${names[@]}"; do
        pattern="\${$name}"
        arg=${arg//"$pattern"/"${values[$name]}"}
    done
    if [[ $arg =~ \$\{(RR_TEST_[A-Za-z0-9_]*)\} ]]; then
        echo "$prog: $envfile has no ${BASH_REMATCH[1]} (in argument '$arg')" >&2
        exit 1
    fi
    args+=("$arg")
done

exec "${args[@]}"
