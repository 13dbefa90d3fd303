#!/usr/bin/env bash
# protoc.sh regenerates the Go code for every .proto file the project owns.
#
#   scripts/protoc.sh            # regenerate everything listed in PROTOS below
#
# Generation is reproducible from the repository alone: the .proto files are checked in next to
# the generated code, protoc comes from Debian (protobuf-compiler, 3.21.12 on bookworm) and the Go
# plugins are built at pinned versions into $LANTERN_CACHE (default ~/.cache/lantern), so a second
# run does not rebuild them. Only the Go module proxy and Debian packages are used.
set -euo pipefail

CACHE="${LANTERN_CACHE:-$HOME/.cache/lantern}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODULE="github.com/lantern-mlops/lantern"

PROTOC_WANT="3.21.12"
PROTOC_GEN_GO="google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12"
PROTOC_GEN_GO_GRPC="google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0"

# PROTOS lists one .proto per line: "<path relative to the repository> <plugins>".
# The Go package is the directory of the file (go_package is set with protoc's M option, so the
# .proto files stay byte-for-byte as upstream publishes them); the plugins are a comma-separated
# subset of go,go-grpc. Each file is compiled with its own directory as the only include path.
PROTOS=(
  "internal/onnx/onnxpb/onnx.proto go"
  "serving/oip/oippb/grpc_predict_v2.proto go,go-grpc"
)

log() { echo "protoc.sh: $*" >&2; }

# go_plugin NAME MODULE@VERSION: go install into a versioned cache folder; prints the binary path.
go_plugin() {
  local name=$1 pkg=$2
  local ver=${pkg##*@}
  local dir="$CACHE/tools/$name-$ver"
  if [ ! -x "$dir/$name" ]; then
    log "building $pkg (first time only; cached in $dir)"
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    GOBIN="$dir.tmp" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install "$pkg"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir/$name"
}

need_protoc() {
  if ! command -v protoc >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "protoc not found; installing Debian's protobuf-compiler"
      apt-get update -q >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q protobuf-compiler >&2
    else
      log "protoc not found. Install it, then run this script again:"
      log "  sudo apt-get install -y protobuf-compiler    # Debian/Ubuntu ($PROTOC_WANT on bookworm)"
      exit 1
    fi
  fi
  local have
  have="$(protoc --version | awk '{print $2}')"
  if [ "$have" != "$PROTOC_WANT" ]; then
    log "warning: protoc $have found, the checked-in code was generated with $PROTOC_WANT;"
    log "  only the version comment in the generated files should differ"
  fi
}

main() {
  need_protoc
  local gen_go gen_go_grpc=""
  gen_go="$(go_plugin protoc-gen-go "$PROTOC_GEN_GO")"

  local line file plugins dir base pkg args
  for line in "${PROTOS[@]}"; do
    read -r file plugins <<<"$line"
    dir="$(dirname "$file")"
    base="$(basename "$file")"
    pkg="$MODULE/$dir"
    args=(--proto_path="$ROOT/$dir")
    case ",$plugins," in *,go,*)
      args+=(--plugin=protoc-gen-go="$gen_go" --go_out="$ROOT/$dir"
        --go_opt=paths=source_relative --go_opt="M$base=$pkg") ;;
    esac
    case ",$plugins," in *,go-grpc,*)
      if [ -z "$gen_go_grpc" ]; then
        gen_go_grpc="$(go_plugin protoc-gen-go-grpc "${PROTOC_GEN_GO_GRPC:?set PROTOC_GEN_GO_GRPC in $0}")"
      fi
      args+=(--plugin=protoc-gen-go-grpc="$gen_go_grpc" --go-grpc_out="$ROOT/$dir"
        --go-grpc_opt=paths=source_relative --go-grpc_opt="M$base=$pkg") ;;
    esac
    log "$file -> $pkg ($plugins)"
    (cd "$ROOT/$dir" && protoc "${args[@]}" "$base")
  done
}

main "$@"
