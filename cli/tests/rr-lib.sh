# rr-lib.sh: what the ctest scripts of the rr tool share. Sourced, not run, with the
# script's arguments (RR [-- WRAPPER...]):
#
#   . "$(dirname "${BASH_SOURCE[0]}")/rr-lib.sh" "$@"
#   roundtrip_setup TMP_PREFIX TOOL...
#
# Sets prog, rr and wrapper (roundtrip_args), sources the project's roundtrip-lib.sh
# (fail, die, roundtrip_setup, sha256_of, log_has, roundtrip_finish) and replaces its
# `run` with one that runs rr, adding `expect`, `out` and `digest_out`.

prog=${0##*/}
. "$(dirname "${BASH_SOURCE[0]}")/../../examples-c/roundtrip-lib.sh"
roundtrip_args rr -- "$@"

# run [--check] NAME ARGS...: runs rr ARGS (with the wrapper when --check),
# stdout to $tmp/NAME.out and stderr to $tmp/NAME.err, echoes both; returns
# rr's exit status. The keychain is never read.
run() {
    local use_wrapper=0 name status
    if [[ $1 == --check ]]; then
        use_wrapper=1
        shift
    fi
    name=$1
    shift
    if ((use_wrapper)); then
        "${wrapper[@]}" "$rr" --no-keychain "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    else
        "$rr" --no-keychain "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    fi
    status=$?
    echo "---- $name: rr $* (exit $status$( ((use_wrapper)) && ((${#wrapper[@]})) && echo ", under ${wrapper[0]##*/}"))"
    echo "---- stdout:"
    cat -v "$tmp/$name.out"
    [[ -s $tmp/$name.out && $(tail -c 1 "$tmp/$name.out" | od -An -c) != *'\n'* ]] && echo
    echo "---- stderr:"
    cat -v "$tmp/$name.err"
    echo "----"
    return $status
}

# expect NAME STATUS ARGS...: run, and the exit status must be STATUS.
expect() {
    local name=$1 want=$2 status
    shift 2
    run "$name" "$@"
    status=$?
    [[ $status == "$want" ]] || fail "$name: exit status $status, expected $want"
}

out() { cat "$tmp/$1.out"; }
# The one line of stdout of run NAME, which must be a digest.
digest_out() {
    local lines
    lines=$(wc -l <"$tmp/$1.out")
    [[ $lines == 1 ]] || fail "$1: $lines lines on stdout, expected one"
    head -n 1 "$tmp/$1.out"
}
