#!/usr/bin/env bash
# install-check.sh CMAKE BUILD_DIR
#
# `cmake --install BUILD_DIR` into a temporary prefix, then checks the result:
# bin/rr runs (`rr version` names the installed library's version), finds
# librr.so.0 in PREFIX/lib through its RPATH ($ORIGIN/../lib) rather than in
# the build tree, and lib/ holds librr.so.X.Y.Z with the links librr.so.0 and
# librr.so; include/rr.h and share/man/man1/rr.1 are there.
set -euo pipefail

prog=${0##*/}
if (($# != 2)); then
    echo "usage: $prog CMAKE BUILD_DIR" >&2
    exit 64
fi
cmake=$1
build=$2
prefix=$(mktemp -d "${TMPDIR:-/tmp}/rr-examples-install.XXXXXX")
trap 'rm -rf "$prefix"' EXIT

fail() {
    echo "$prog: FAILED: $*" >&2
    exit 1
}

"$cmake" --install "$build" --prefix "$prefix" || fail "cmake --install exited with $?"
libdir=
for d in lib lib64 lib/*-linux-gnu*; do
    if [[ -e $prefix/$d/librr.so.0 ]]; then
        libdir=$d
        break
    fi
done
[[ -n $libdir ]] || fail "no librr.so.0 under $prefix"
ls -l "$prefix/bin" "$prefix/$libdir"
[[ -x $prefix/bin/rr ]] || fail "no bin/rr"
[[ -f $prefix/include/rr.h ]] || fail "no include/rr.h"
[[ -f $prefix/share/man/man1/rr.1 ]] || fail "no share/man/man1/rr.1"
[[ -L $prefix/$libdir/librr.so && -L $prefix/$libdir/librr.so.0 ]] ||
    fail "librr.so and librr.so.0 are not links"
real=$(readlink -f "$prefix/$libdir/librr.so")
[[ $real =~ /librr\.so\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "librr.so leads to $real"

runpath=$(readelf -d "$prefix/bin/rr" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p')
echo "RPATH of bin/rr: $runpath"
[[ $runpath == "\$ORIGIN/../$libdir" ]] || fail "bin/rr has the RPATH '$runpath'"
resolved=$(env -u LD_LIBRARY_PATH ldd "$prefix/bin/rr" | sed -n 's/^[[:space:]]*librr\.so\.0 => \([^ ]*\).*/\1/p')
echo "librr.so.0 => $resolved"
[[ $(readlink -f "$resolved") == "$real" ]] || fail "bin/rr loads librr.so.0 from $resolved"

out=$(env -u LD_LIBRARY_PATH "$prefix/bin/rr" version) || fail "bin/rr version exited with $?"
echo "$out"
version=${real##*/librr.so.}
[[ $out =~ ^rr\ [0-9]+\.[0-9]+\.[0-9]+\ \(librr\ $version\)$ ]] ||
    fail "'$out' does not name librr $version"
echo "$prog: installed rr works"
