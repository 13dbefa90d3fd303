#!/usr/bin/env bash
# tools.sh installs the pinned external tools the tests need and prints where they are.
#
#   scripts/tools.sh minio        # builds the MinIO server (test/dev only, never linked)
#   scripts/tools.sh onnxruntime  # fetches the ONNX Runtime shared library (scripts/onnxruntime.sh)
#   scripts/tools.sh env          # prints LANTERN_*=... lines for every installed tool
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

# Load generators for make bench-serving (not needed by the tests).
ghz() { go_tool ghz "github.com/bojand/ghz/cmd/ghz@v0.93.0" ghz; }
hey() { go_tool hey "github.com/rakyll/hey@v0.1.5" hey; }

# Real gRPC clients the end-to-end tests use against lantern.
grpcurl() { go_tool grpcurl "github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4" grpcurl; }
grpc_health_probe() { go_tool grpc-health-probe "github.com/grpc-ecosystem/grpc-health-probe@v0.4.62" grpc-health-probe; }

onnxruntime() { "$(dirname "${BASH_SOURCE[0]}")/onnxruntime.sh"; }

# debs installs the Debian packages tests read data from (root only; otherwise
# it says what to run). libonnx-testdata: the ONNX backend conformance cases.
debs() {
  local missing=()
  [ -d /usr/share/libonnx-testdata/data/node ] || missing+=(libonnx-testdata)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
  else
    log "missing Debian packages: ${missing[*]}; run: sudo apt-get install -y ${missing[*]}"
    return 1
  fi
}

case "${1:-}" in
  minio) minio ;;
  onnxruntime) onnxruntime ;;
  debs) debs ;;
  ghz) ghz ;;
  grpcurl) grpcurl ;;
  grpc-health-probe) grpc_health_probe ;;
  hey) hey ;;
  env)
    # Each tool on its own line (not inside echo), so a failure stops the script.
    debs >&2
    minio_bin="$(minio)"
    ort_lib="$(onnxruntime)"
    grpcurl_bin="$(grpcurl)"
    probe_bin="$(grpc_health_probe)"
    echo "LANTERN_MINIO_BIN=$minio_bin"
    echo "LANTERN_ORT_LIB=$ort_lib"
    echo "LANTERN_GRPCURL_BIN=$grpcurl_bin"
    echo "LANTERN_GRPC_HEALTH_PROBE_BIN=$probe_bin"
    ;;
  *) echo "usage: $0 minio|onnxruntime|debs|ghz|hey|grpcurl|grpc-health-probe|env" >&2; exit 2 ;;
esac
