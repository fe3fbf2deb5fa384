#!/usr/bin/env bash
# Installs librr into a temporary prefix and builds a tiny consumer against it three ways:
# pkg-config (shared), find_package (shared) and find_package (static); runs each.
# Usage: packaging/test-install.sh [--no-build]   (run by ctest as `install_consumer`)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/rr-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

"$root/scripts/install.sh" "$prefix" "$@"
test -L "$prefix/lib/librr.so" && test -L "$prefix/lib/librr.so.0"
# Searches read all their input (grep >/dev/null, not grep -q): under pipefail the writer
# would otherwise die of SIGPIPE when grep quits early, and fail the check at random.
readelf -d "$prefix/lib/librr.so.0" | grep 'SONAME.*\[librr.so.0\]' >/dev/null

echo "-- pkg-config"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --exists 'rr >= 0.1'
cc -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags rr) "$here/consumer/consumer.c" \
   -o "$work/consumer_pkgconfig" $(pkg-config --libs rr) -Wl,-rpath,"$(pkg-config --variable=libdir rr)"
"$work/consumer_pkgconfig"
# Statically: librr.a plus the Libs.private system libraries.
cc -std=c11 $(pkg-config --cflags rr) "$here/consumer/consumer.c" -o "$work/consumer_pkgconfig_static" \
   "$prefix/lib/librr.a" $(pkg-config --static --libs-only-l rr | sed 's/-lrr//')
"$work/consumer_pkgconfig_static"
! ldd "$work/consumer_pkgconfig_static" | grep librr >/dev/null

echo "-- find_package"
cmake -S "$here/consumer" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/consumer_shared"
"$work/build/consumer_static"
ldd "$work/build/consumer_shared" | grep "$prefix/lib/librr.so.0" >/dev/null
! ldd "$work/build/consumer_static" | grep librr >/dev/null

echo "-- a moved prefix still works with find_package"
mv "$prefix" "$work/moved"
cmake -S "$here/consumer" -B "$work/build2" -G Ninja -DCMAKE_PREFIX_PATH="$work/moved" >/dev/null
cmake --build "$work/build2" >/dev/null
"$work/build2/consumer_static"
echo "install and consumers: ok"
