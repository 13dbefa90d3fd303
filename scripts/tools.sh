#!/usr/bin/env bash
# tools.sh installs the pinned external tools the tests need and prints where they are.
#
#   scripts/tools.sh minio        # builds the MinIO server (test/dev only, never linked)
#   scripts/tools.sh env          # prints LANTERN_*_BIN=... lines for every installed tool
#
# Everything is cached under $LANTERN_CACHE (default ~/.cache/lantern) by name and version,
# so a second run is instant. Only the Go module proxy, Debian packages and npm are used.
set -euo pipefail

CACHE="${LANTERN_CACHE:-$HOME/.cache/lantern}"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"

log() { echo "tools: $*" >&2; }

# go_tool NAME MODULE@VERSION BINARY: go install into a versioned cache folder.
go_tool() {
  local name=$1 pkg=$2 bin=$3
  local ver=${pkg##*@}
  local dir="$CACHE/tools/$name-$ver"
  if [ ! -x "$dir/$bin" ]; then
    log "building $pkg (first time only; cached in $dir)"
    mkdir -p "$dir.tmp"
    GOBIN="$dir.tmp" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install "$pkg"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir/$bin"
}

minio() { go_tool minio "github.com/minio/minio@$MINIO_VERSION" minio; }

case "${1:-}" in
  minio) minio ;;
  env)
    echo "LANTERN_MINIO_BIN=$(minio)"
    ;;
  *) echo "usage: $0 minio|env" >&2; exit 2 ;;
esac
