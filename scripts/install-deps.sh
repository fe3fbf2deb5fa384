#!/usr/bin/env bash
# Installs what building and testing rr needs on a Debian machine (run as root, or with
# sudo available). Safe to run again: it installs only what is missing.
set -euo pipefail

packages=(docker-registry skopeo cmake ninja-build gcc g++ pkg-config libcurl4-openssl-dev valgrind
  zstd tar gzip)
# The Go binding needs Go 1.23 or newer; Debian's golang-go is used only when no Go is on
# PATH (a newer toolchain already installed is kept).
command -v go >/dev/null || packages+=(golang-go)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "install-deps: cargo (Rust) is required" >&2; exit 1; }
go_minor=$(go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
if [ -z "$go_minor" ] || [ "$go_minor" -lt 23 ]; then
  echo "install-deps: Go 1.23 or newer is required for go/ (found $(go version 2>/dev/null || echo none))" >&2
  exit 1
fi

# Registry servers besides Debian's distribution 2.8, built from the Go module proxy at
# pinned versions (the versions rr-testkit's src/server.rs names) into the tools directory,
# each under a name of its own: every one of them is called `registry` upstream.
tools_dir="${RR_TOOLS_DIR:-$HOME/.cache/rr-tools/bin}"
mkdir -p "$tools_dir"
go_tool() { # NAME MODULE/PACKAGE VERSION
  local name=$1 package=$2 version=$3
  local stamp="$tools_dir/$name.version"
  if [ -x "$tools_dir/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$package@$version" ]; then
    return
  fi
  echo "install-deps: building $package@$version as $tools_dir/$name"
  local gobin
  gobin=$(mktemp -d)
  GOBIN="$gobin" GOFLAGS=-mod=mod go install "$package@$version"
  mv "$gobin/$(basename "$package")" "$tools_dir/$name"
  rmdir "$gobin"
  echo "$package@$version" >"$stamp"
}
go_tool rr-registry-distribution-v3 github.com/distribution/distribution/v3/cmd/registry v3.1.2
go_tool rr-registry-ggcr github.com/google/go-containerregistry/cmd/registry v0.22.1
# Peer clients the referrers tests push and read with (rr-testkit's oras() and regctl()).
go_tool oras oras.land/oras/cmd/oras v1.3.6
go_tool regctl github.com/regclient/regclient/cmd/regctl v0.11.7

# The OCI 1.1 referrers registry: go-containerregistry's registry behind the harness's
# middleware, built from tests/testkit/ggcr-referrers (its own Go module); rebuilt when its
# sources change.
local_go_tool() { # NAME DIR
  local name=$1 dir=$2
  local stamp="$tools_dir/$name.version" version
  version="local:$(cat "$dir/main.go" "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -d' ' -f1)"
  if [ -x "$tools_dir/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    return
  fi
  echo "install-deps: building $dir as $tools_dir/$name"
  (cd "$dir" && go build -buildvcs=false -o "$tools_dir/$name.tmp" .)
  mv "$tools_dir/$name.tmp" "$tools_dir/$name"
  echo "$version" >"$stamp"
}
local_go_tool rr-registry-ggcr-referrers "$(cd "$(dirname "$0")/.." && pwd)/tests/testkit/ggcr-referrers"
echo "install-deps: ok"
