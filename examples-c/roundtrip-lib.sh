# roundtrip-lib.sh: what the ctest roundtrip scripts share. Sourced, not run:
#
#   prog=${0##*/}
#   . "$(dirname "${BASH_SOURCE[0]}")/roundtrip-lib.sh"
#   roundtrip_args NAME... -- "$@"
#   roundtrip_setup TMP_PREFIX TOOL...
#   ... checks that call fail (go on) or die (stop) ...
#   roundtrip_finish
#
# roundtrip_setup checks the variables run-with-env.sh exports for the open registry
# fixture (RR_TEST_REGISTRY, RR_TEST_IMAGE, RR_TEST_IMAGE_DIGEST, RR_TEST_INDEX,
# RR_TEST_INDEX_DIGEST, RR_TEST_LOG) and that every TOOL is installed, then makes $tmp,
# removed on exit. `run` puts the wrapper (valgrind) in front of the command; a script that
# runs its commands another way defines its own `run` after sourcing this file.

failed=0

# roundtrip_args NAME... -- ARGS...: the script's arguments, ARG... [-- WRAPPER...], one
# ARG for each NAME (the variable it goes to); WRAPPER (valgrind and its options) into the
# array wrapper. Exits 64 with the usage line when they do not fit.
roundtrip_args() {
    local names=() name
    while [[ $1 != -- ]]; do
        names+=("$1")
        shift
    done
    shift
    local n=${#names[@]}
    if (($# < n)) || { (($# > n)) && [[ ${*:n+1:1} != -- ]]; }; then
        echo "usage: $prog ${names[*]^^} [-- WRAPPER...]" >&2
        exit 64
    fi
    for name in "${names[@]}"; do
        printf -v "$name" '%s' "$1"
        shift
    done
    (($#)) && shift
    wrapper=("$@")
}
fail() {
    echo "$prog: FAILED: $*" >&2
    failed=1
}
die() {
    echo "$prog: FAILED: $*" >&2
    exit 1
}

roundtrip_setup() {
    local prefix=$1 var tool
    shift
    for var in RR_TEST_REGISTRY RR_TEST_IMAGE RR_TEST_IMAGE_DIGEST RR_TEST_INDEX \
        RR_TEST_INDEX_DIGEST RR_TEST_LOG; do
        if [[ -z ${!var:-} ]]; then
            echo "$prog: $var is not set (run me through run-with-env.sh)" >&2
            exit 1
        fi
    done
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "$prog: $tool is not installed (Debian: apt-get install $tool)" >&2
            exit 1
        fi
    done
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/$prefix.XXXXXX") || exit 1
    trap 'rm -rf "$tmp"' EXIT
}

# run NAME CMD...: runs CMD with the wrapper, stdout to $tmp/NAME.out and
# stderr to $tmp/NAME.err, echoes both; returns CMD's exit status.
run() {
    local name=$1 status
    shift
    "${wrapper[@]}" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    status=$?
    echo "---- $name: $* (exit $status)"
    echo "---- stdout:"
    cat "$tmp/$name.out"
    echo "---- stderr:"
    cat "$tmp/$name.err"
    echo "----"
    return $status
}

# The value of `KEY: VALUE` on stdout of run NAME.
field() {
    sed -n "s/^$2: //p" "$tmp/$1.out" | head -n 1
}

sha256_of() {
    sha256sum "$1" | cut -d' ' -f1
}

# Waits up to 5 s for a line matching the ERE $1 in the registry's access log
# (it writes a line once it has answered, which may be after our client is done).
log_has() {
    local i
    for ((i = 0; i < 50; i++)); do
        grep -qE -- "$1" "$RR_TEST_LOG" && return 0
        sleep 0.1
    done
    return 1
}

roundtrip_finish() {
    if ((failed)); then
        exit 1
    fi
    echo "$prog: all checks passed"
    exit 0
}
