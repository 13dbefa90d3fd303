#!/usr/bin/env bash
# onnxruntime.sh fetches the ONNX Runtime shared library that serving/ort loads, and prints its path.
#
#   scripts/onnxruntime.sh          # fetch (first time only) and print the library's path
#   scripts/onnxruntime.sh locale   # make sure the en_US.UTF-8 locale exists (ORT's StringNormalizer needs it)
#
# The library comes from the npm package onnxruntime-node: `npm pack` downloads the tarball
# without running its install scripts (`npm install` would try to fetch execution providers from
# nuget), and only bin/napi-v6/linux/<arch>/libonnxruntime.so.1 is extracted. Its sha256 must
# match the value pinned below. It is cached in $LANTERN_CACHE/tools/onnxruntime-<version>/, so
# a second run is instant. Point Lantern at another build with --ort-lib or LANTERN_ORT_LIB.
set -euo pipefail

ORT_VERSION="1.30.0"
# sha256 of package/bin/napi-v6/linux/<arch>/libonnxruntime.so.1 in onnxruntime-node-1.30.0.tgz.
ORT_SHA256_X64="ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23"
ORT_SHA256_ARM64="1f549d46250b005580b597f4164984aaf75b3bcb9f3aeb07c7f8a8fe60b23c76"

CACHE="${LANTERN_CACHE:-$HOME/.cache/lantern}"
DIR="$CACHE/tools/onnxruntime-$ORT_VERSION"
LIB="$DIR/libonnxruntime.so.1"

log() { echo "onnxruntime: $*" >&2; }
die() { log "$*"; exit 1; }

arch_and_sum() {
  case "$(uname -s)/$(uname -m)" in
    Linux/x86_64 | Linux/amd64) echo "x64 $ORT_SHA256_X64" ;;
    Linux/aarch64 | Linux/arm64) echo "arm64 $ORT_SHA256_ARM64" ;;
    *) die "no pinned ONNX Runtime build for $(uname -s)/$(uname -m); build one and pass --ort-lib or LANTERN_ORT_LIB" ;;
  esac
}

fetch() {
  local arch sum
  read -r arch sum < <(arch_and_sum)
  if [ -f "$LIB" ]; then
    echo "$LIB"
    return
  fi
  command -v npm > /dev/null || die "npm is needed to fetch onnxruntime-node@$ORT_VERSION (apt-get install npm)"
  log "fetching onnxruntime-node@$ORT_VERSION with npm pack (first time only; cached in $DIR)"
  local tmp
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/lantern-ort.XXXXXX")"
  # shellcheck disable=SC2064 # expand $tmp now: the trap runs after fetch has returned
  trap "rm -rf '$tmp'" EXIT
  (cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" > /dev/null) ||
    die "npm pack onnxruntime-node@$ORT_VERSION failed"
  local member="package/bin/napi-v6/linux/$arch/libonnxruntime.so.1"
  tar -xzf "$tmp/onnxruntime-node-$ORT_VERSION.tgz" -C "$tmp" "$member" ||
    die "$member is not in onnxruntime-node-$ORT_VERSION.tgz"
  local got
  got="$(sha256sum "$tmp/$member" | cut -d' ' -f1)"
  [ "$got" = "$sum" ] || die "sha256 mismatch for $member: got $got, want $sum"
  mkdir -p "$DIR"
  chmod 0644 "$tmp/$member"
  mv "$tmp/$member" "$LIB.tmp" && mv "$LIB.tmp" "$LIB"
  echo "$LIB"
}

# locale makes sure en_US.UTF-8 exists: ORT's StringNormalizer operator refuses to run without it.
locale_setup() {
  if locale -a 2> /dev/null | grep -qiE '^en_US\.utf-?8$'; then
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    log "the en_US.UTF-8 locale is missing and this is not root: skipping (models using StringNormalizer will fail;"
    log "  as root: apt-get install -y locales && sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen && locale-gen)"
    return
  fi
  log "installing the en_US.UTF-8 locale (needed by ONNX Runtime's StringNormalizer)"
  if ! command -v locale-gen > /dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y locales > /dev/null ||
      { apt-get update > /dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y locales > /dev/null; } ||
      die "apt-get install locales failed"
  fi
  if grep -qE '^# *en_US.UTF-8 UTF-8' /etc/locale.gen; then
    sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen
  elif ! grep -qE '^en_US.UTF-8 UTF-8' /etc/locale.gen; then
    echo "en_US.UTF-8 UTF-8" >> /etc/locale.gen
  fi
  locale-gen > /dev/null
}

case "${1:-}" in
  "" | fetch)
    fetch
    locale_setup
    ;;
  locale) locale_setup ;;
  *) echo "usage: $0 [fetch|locale]" >&2; exit 2 ;;
esac
