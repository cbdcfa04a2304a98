#!/usr/bin/env bash
# Build .devpack/ for scripts/device-check.sh: what the CLI needs to run on the GPU machine, whose
# image has no node. Rerun it after code changes, right before a device call; the device call then
# carries [".devpack"] (untracked; ignored through .git/info/exclude).
#
#   .devpack/node.xz          this machine's node binary (xz; reused while the binary is unchanged)
#   .devpack/node.sha256      checksum of the uncompressed binary (decides the reuse)
#   .devpack/runtime.tar.xz   package.json, bin/, dist/src/, build/Release/*.node, node_modules pruned
#                             to run time (no typescript/@types/build tools, linux-x64 binaries only)
#   .devpack/MANIFEST         versions, git commit, sizes
#
# Usage: bash scripts/device-pack.sh            (from anywhere; works in the repository root)
#        NODE=/path/to/node bash scripts/device-pack.sh
#        SKIP_TSC=1 ...                          use dist/ as it is (no recompile)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
NODE=${NODE:-$(command -v node)}
NODE=$(readlink -f "$NODE")
PACK=.devpack
XZ_THREADS=${XZ_THREADS:-2}

# Local ignore only (never .gitignore).
EXCLUDE=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$EXCLUDE")"
grep -qxF '/.devpack/' "$EXCLUDE" 2>/dev/null || echo '/.devpack/' >>"$EXCLUDE"
mkdir -p "$PACK"

[ "$(uname -m)" = x86_64 ] || { echo "device-pack: $(uname -m) is not x86_64; the device is x86-64" >&2; exit 1; }
[ -f build/Release/hpa_detect_native.node ] || { echo "device-pack: build/Release/hpa_detect_native.node missing (npm run build:native)" >&2; exit 1; }
newer=$(find native CMakeLists.txt -newer build/Release/hpa_detect_native.node -type f 2>/dev/null | head -5 || true)
[ -z "$newer" ] || echo "device-pack: WARNING: native sources newer than the addon (rebuild with npm run build:native?): $newer" >&2

# 1. Compile the TypeScript (fails on type errors).
if [ "${SKIP_TSC:-0}" != 1 ]; then
  echo "device-pack: tsc"
  node_modules/.bin/tsc -p tsconfig.json
fi
[ -f dist/src/cli/main.js ] || { echo "device-pack: dist/src/cli/main.js missing" >&2; exit 1; }

# 2. node binary (slow to compress: reuse while unchanged).
sum=$(sha256sum "$NODE" | cut -d' ' -f1)
if [ -f "$PACK/node.xz" ] && [ "$(cat "$PACK/node.sha256" 2>/dev/null)" = "$sum" ]; then
  echo "device-pack: node.xz up to date"
else
  echo "device-pack: compressing $NODE ($(du -h "$NODE" | cut -f1))"
  nice -n 10 xz -T"$XZ_THREADS" -9 -c "$NODE" >"$PACK/node.xz.tmp"
  mv "$PACK/node.xz.tmp" "$PACK/node.xz"
  echo "$sum" >"$PACK/node.sha256"
fi

# 3. runtime tree: staged with hard links/copies in a temp dir, pruned, then one tar.xz.
STAGE=$(mktemp -d /tmp/hpa-devpack.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/rt/dist" "$STAGE/rt/build/Release"
cp package.json "$STAGE/rt/"
cp -r bin "$STAGE/rt/bin"
cp -r dist/src "$STAGE/rt/dist/src"
find "$STAGE/rt/dist" \( -name '*.map' -o -name '*.d.ts' \) -delete
cp build/Release/*.node "$STAGE/rt/build/Release/"
cp -r node_modules "$STAGE/rt/node_modules"
NM="$STAGE/rt/node_modules"
# dev-only and build-time packages (typescript, types, the native build chain)
rm -rf "$NM/typescript" "$NM/@types" "$NM/.bin" "$NM/cmake-js" "$NM/node-api-headers" "$NM/node-addon-api" \
       "$NM/.package-lock.json"
# onnxruntime-node: linux/x64 binaries only
for d in "$NM"/onnxruntime-node/bin/napi-v6/*/*; do
  case "$d" in */linux/x64) ;; *) rm -rf "$d" ;; esac
done
find "$NM/onnxruntime-node/bin/napi-v6" -mindepth 1 -maxdepth 1 -type d ! -name linux -exec rm -rf {} +
# sharp: linux-x64 (glibc) binaries only
for d in "$NM"/@img/*; do
  case "$(basename "$d")" in colour|sharp-linux-x64|sharp-libvips-linux-x64) ;; *) rm -rf "$d" ;; esac
done
# docs, sources maps, type declarations of dependencies
find "$NM" -type f \( -name '*.md' -o -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.ts.map' \) -delete
[ -f "$NM/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node" ] || { echo "device-pack: onnxruntime-node linux-x64 binding missing" >&2; exit 1; }

# Smoke test of the staged tree with this machine's node, before packing.
if ! out=$("$NODE" "$STAGE/rt/bin/hpa-detect.js" info 2>&1); then
  echo "device-pack: staged CLI failed to start:" >&2; echo "$out" >&2; exit 1
fi

echo "device-pack: compressing runtime ($(du -sh "$STAGE/rt" | cut -f1) staged)"
(cd "$STAGE" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2026-01-01 00:00Z' -cf - rt) \
  | nice -n 10 xz -T"$XZ_THREADS" -9 >"$PACK/runtime.tar.xz.tmp"
mv "$PACK/runtime.tar.xz.tmp" "$PACK/runtime.tar.xz"

{
  echo "built: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse HEAD)$(git diff --quiet HEAD -- src bin package.json 2>/dev/null || echo ' (+ uncommitted changes in src/bin)')"
  echo "node: $("$NODE" --version) $NODE sha256 $sum"
  echo "onnxruntime-node: $("$NODE" -p "require('$ROOT/node_modules/onnxruntime-node/package.json').version")"
  echo "addon: $(ls build/Release/*.node)"
  ls -l "$PACK"/node.xz "$PACK"/runtime.tar.xz | awk '{print "size: " $5 " " $NF}'
} >"$PACK/MANIFEST"
cat "$PACK/MANIFEST"
echo "device-pack: total $(du -sh "$PACK" | cut -f1) in $PACK"
