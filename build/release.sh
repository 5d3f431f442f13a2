#!/usr/bin/env bash
# The release build of tetra: static binaries (no cgo), -trimpath so that
# no path of the build machine is recorded, the version stamped with
# -ldflags, and a SHA-256 sum per file. docs/release.md describes it.
#
#   build/release.sh VERSION [OUTDIR]          every platform below
#   build/release.sh --host VERSION [OUTDIR]   this machine's platform only
#
# Binaries are named tetra-VERSION-GOOS-GOARCH (tetra in OUTDIR with
# --host); OUTDIR defaults to dist/.
set -euo pipefail
cd "$(dirname "$0")/.."

# No Windows: the keys file's lock (api/keys.go) uses flock(2).
platforms="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64"
if [ "${1:-}" = "--host" ]; then
  platforms="host"
  shift
fi
version="${1:?usage: build/release.sh [--host] VERSION [OUTDIR]}"
out="${2:-dist}"
mkdir -p "$out"

for p in $platforms; do
  if [ "$p" = host ]; then
    bin="$out/tetra"
    env=()
  else
    goos="${p%/*}" goarch="${p#*/}"
    bin="$out/tetra-$version-$goos-$goarch"
    env=(GOOS="$goos" GOARCH="$goarch")
  fi
  echo "building $bin"
  env "${env[@]}" CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$bin" ./cmd/tetra
done

if [ "$platforms" != host ]; then
  (cd "$out" && sha256sum tetra-"$version"-* > "tetra-$version-SHA256SUMS")
  echo "checksums in $out/tetra-$version-SHA256SUMS"
fi
