#!/usr/bin/env bash
# Installs what building and testing rr needs on a Debian machine (run as root, or with
# sudo available). Safe to run again: it installs only what is missing.
set -euo pipefail

packages=(docker-registry skopeo cmake ninja-build gcc g++ pkg-config libcurl4-openssl-dev valgrind)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "install-deps: cargo (Rust) is required" >&2; exit 1; }
echo "install-deps: ok"
