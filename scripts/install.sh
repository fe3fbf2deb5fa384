#!/usr/bin/env bash
# Installs librr under a prefix, the way a distribution package would lay it out:
#
#   PREFIX/lib/librr.so.X.Y.Z, librr.so.X -> it, librr.so -> librr.so.X, librr.a
#   PREFIX/include/rr.h
#   PREFIX/lib/pkgconfig/rr.pc                      (pkg-config rr; --static for librr.a)
#   PREFIX/lib/cmake/rr/rrConfig.cmake, rrConfigVersion.cmake   (find_package(rr))
#   PREFIX/bin/rr and PREFIX/share/man/man1/rr.1    (the command-line tool, when built)
#
# Usage: scripts/install.sh PREFIX [--release] [--no-build]
#   --release    install target/release (built with `cargo build --release`)
#   --no-build   install what is already built
# DESTDIR is honoured (staged installs).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 PREFIX [--release] [--no-build]" >&2; exit 64; }
(($# >= 1)) || usage
prefix=$1
shift
profile=debug
build=1
for a in "$@"; do
  case $a in
  --release) profile=release ;;
  --no-build) build=0 ;;
  *) usage ;;
  esac
done
case $prefix in /*) ;; *) prefix="$(pwd)/$prefix" ;; esac

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
major=${version%%.*}
minor=${version#*.}; minor=${minor%%.*}

if ((build)); then
  if [[ $profile == release ]]; then cargo build --release --quiet; else cargo build --quiet; fi
fi
src=target/$profile
[[ -f $src/librr.so && -f $src/librr.a ]] || { echo "$0: $src has no librr.so/librr.a; build first" >&2; exit 1; }

# What librr.a needs from the system, as rustc reports it for this target.
native_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
native_libs_cmake=$(for l in $native_libs; do printf '%s;' "${l#-l}"; done)
native_libs_cmake=${native_libs_cmake%;}

root="${DESTDIR:-}$prefix"
install -d "$root/lib/pkgconfig" "$root/lib/cmake/rr" "$root/include"
install -m 0755 "$src/librr.so" "$root/lib/librr.so.$version"
ln -sfn "librr.so.$version" "$root/lib/librr.so.$major"
ln -sfn "librr.so.$major" "$root/lib/librr.so"
install -m 0644 "$src/librr.a" "$root/lib/librr.a"
install -m 0644 include/rr.h "$root/include/rr.h"

fill() {
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" -e "s|@MAJOR@|$major|g" \
      -e "s|@MINOR@|$minor|g" -e "s|@NATIVE_STATIC_LIBS@|$native_libs|g" \
      -e "s|@NATIVE_STATIC_LIBS_CMAKE@|$native_libs_cmake|g" "$1"
}
fill packaging/rr.pc.in >"$root/lib/pkgconfig/rr.pc"
fill packaging/rrConfig.cmake.in >"$root/lib/cmake/rr/rrConfig.cmake"
fill packaging/rrConfigVersion.cmake.in >"$root/lib/cmake/rr/rrConfigVersion.cmake"

# The tool (cli/), when the CMake project of examples-c has built it for this profile.
tool_build=build/examples-c
if [[ -x $tool_build/rr && $profile == debug ]]; then
  install -d "$root/bin" "$root/share/man/man1"
  install -m 0755 "$tool_build/rr" "$root/bin/rr"
  # Found next to the installed library, wherever the prefix ends up.
  if command -v patchelf >/dev/null; then
    patchelf --set-rpath '$ORIGIN/../lib' "$root/bin/rr"
  fi
  [[ -f cli/rr.1 ]] && install -m 0644 cli/rr.1 "$root/share/man/man1/rr.1"
fi
echo "installed librr $version ($profile) under ${DESTDIR:-}$prefix"
