#!/usr/bin/env bash
# GPU-machine check of `hpa-detect predict --provider auto|cpu|cuda`, run from the repository root
# with the pack of scripts/device-pack.sh carried in .devpack/ (the device image has no node):
#
#   device run:  bash scripts/device-check.sh        carry [".devpack"]
#
# Logs to $OUT/device-check.log and writes $OUT/summary.json. Every step is bounded by `timeout`
# and by a deadline for the whole script (DEADLINE_S, default 220 s); a failed step is logged and
# the script goes on. Steps:
#   a. machine: nvidia-smi, driver/CUDA version, uname -m, nproc
#   b. unpack node and the runtime into $RT (default /tmp/hpa-rt); node is used by absolute path
#   c. probe ONNX Runtime CUDA provider libraries and CUDA/cuDNN libraries on the machine
#   d. synth -> merge -> train (light preset, a few steps, small images) on the CPU
#   e. predict with --provider cpu, auto, cuda (stdout, stderr, exit codes)
#   f. if a libonnxruntime_providers_cuda.so of ORT 1.30.x is found: install it beside
#      onnxruntime-node's binding in $RT, predict with --provider cuda, time CPU vs CUDA and compare
#      the detections
set -u
START=$(date +%s)
DEADLINE_S=${DEADLINE_S:-220}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$ROOT/device-check-out}
RT=${RT:-/tmp/hpa-rt}
WORK=${WORK:-/tmp/hpa-check}
PACK=${PACK:-$ROOT/.devpack}
export PATH="$PATH:/usr/local/nvidia/bin:/usr/local/cuda/bin:/usr/sbin:/sbin"
export PYTHONUNBUFFERED=1 NO_COLOR=1
mkdir -p "$OUT"
LOG="$OUT/device-check.log"
: >"$LOG"
SUM="$WORK/summary.tsv" # key<TAB>json-value lines, turned into summary.json at the end
rm -rf "$WORK"; mkdir -p "$WORK"
: >"$SUM"

log() { printf '%s\n' "$*" | tee -a "$LOG"; }
now() { date +%s.%N; }
elapsed() { echo $(($(date +%s) - START)); }
jstr() { # JSON string of $1
  local s
  s=$(printf '%s' "$1" | tr -d '\000-\010\013\014\016-\037') # control characters (ANSI colours) out
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\t'/ }; s=${s//$'\r'/}
  printf '"%s"' "$s"
}
put() { printf '%s\t%s\n' "$1" "$2" >>"$SUM"; }   # put key raw-json
puts() { put "$1" "$(jstr "$2")"; }                # put key string

# step NAME LIMIT_S CMD...: run CMD bounded by min(LIMIT_S, time left), output into the log and
# $WORK/NAME.out (stdout) / NAME.err (stderr); records rc and seconds in the summary.
step() {
  local name=$1 limit=$2; shift 2
  local left=$((DEADLINE_S - $(elapsed) - 5))
  if [ "$left" -lt 3 ]; then
    log "### [$name] SKIPPED: deadline (${DEADLINE_S}s) reached"
    put "step.$name" '{"rc":null,"skipped":"deadline"}'
    return 124
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  log "### [$name] (limit ${limit}s, t=$(elapsed)s) \$ $*"
  local t0 t1 rc
  t0=$(now)
  # through bash -c so that exported shell functions run too
  timeout -k 5 "$limit" bash -c '"$@"' _ "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null
  rc=$?
  t1=$(now)
  local secs
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
  if [ -s "$WORK/$name.out" ]; then echo "--- stdout:" >>"$LOG"; head -c 20000 "$WORK/$name.out" >>"$LOG"; echo >>"$LOG"; fi
  if [ -s "$WORK/$name.err" ]; then echo "--- stderr:" >>"$LOG"; grep -v -E '^(predict|merge|train): [0-9]+/[0-9]+ ' "$WORK/$name.err" | head -c 20000 >>"$LOG"; fi
  local note=""
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && note=" TIMED OUT"
  log "### [$name] rc=$rc${note} ${secs}s"
  log ""
  put "step.$name" "{\"rc\":$rc,\"seconds\":$secs}"
  return "$rc"
}

unxz_to() { # unxz_to FILE.xz DEST: xz, else python3's lzma
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" >"$2"
  else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],"wb"), 1<<20)' "$1" "$2"; fi
}
untar_xz() { # untar_xz FILE.tar.xz DIR
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" | tar -xf - -C "$2"
  else python3 -c 'import tarfile,sys; tarfile.open(sys.argv[1],"r:xz").extractall(sys.argv[2])' "$1" "$2"; fi
}

log "hpa-detect device check $(date -u +%FT%TZ), repo $ROOT, OUT=$OUT"
[ -f "$PACK/MANIFEST" ] && { log "pack manifest:"; sed 's/^/  /' "$PACK/MANIFEST" | tee -a "$LOG" >/dev/null; }
puts started "$(date -u +%FT%TZ)"

# ---- a. machine -------------------------------------------------------------------------------
log "== a. machine"
NPROC=$(nproc 2>/dev/null || echo 1)
log "uname -m: $(uname -m); nproc: $NPROC; kernel: $(uname -r)"
puts arch "$(uname -m)"; put nproc "$NPROC"
step nvidia_smi_L 20 nvidia-smi -L
puts gpu "$(head -1 "$WORK/nvidia_smi_L.out" 2>/dev/null)"
log "GPU: $(head -2 "$WORK/nvidia_smi_L.out" 2>/dev/null | tr '\n' ' ')"
step nvidia_smi 20 nvidia-smi
puts driver "$(grep -o 'Driver Version: [0-9.]*' "$WORK/nvidia_smi.out" 2>/dev/null | head -1)"
puts cuda_driver_api "$(grep -o 'CUDA Version: [0-9.]*' "$WORK/nvidia_smi.out" 2>/dev/null | head -1)"
log "$(grep -o 'Driver Version: [0-9.]*' "$WORK/nvidia_smi.out" 2>/dev/null | head -1) $(grep -o 'CUDA Version: [0-9.]*' "$WORK/nvidia_smi.out" 2>/dev/null | head -1)"
step nvidia_smi_query 20 nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv

# ---- b. unpack --------------------------------------------------------------------------------
log "== b. unpack node and runtime into $RT"
NODE="$RT/node"
CLI="$RT/bin/hpa-detect.js"
unpack() {
  set -e
  [ -f "$PACK/node.xz" ] && [ -f "$PACK/runtime.tar.xz" ] || { echo "pack missing: $PACK/node.xz, $PACK/runtime.tar.xz (run scripts/device-pack.sh and carry .devpack)"; exit 2; }
  rm -rf "$RT" "$RT.tmp"; mkdir -p "$RT.tmp"
  untar_xz "$PACK/runtime.tar.xz" "$RT.tmp"   # the tarball holds rt/...
  mv "$RT.tmp/rt" "$RT"; rmdir "$RT.tmp"
  unxz_to "$PACK/node.xz" "$NODE"
  chmod +x "$NODE"
  "$NODE" --version
  ls -la "$RT" "$RT/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"
}
export RT PACK NODE CLI WORK
export -f unxz_to untar_xz unpack
step unpack 60 unpack
RT_OK=0; [ -x "$NODE" ] && [ -f "$CLI" ] && RT_OK=1
put runtime_ok "$RT_OK"
hpa() { "$NODE" "$CLI" "$@"; }
export -f hpa
[ "$RT_OK" = 1 ] && step info 30 hpa info --json

# ---- c. probes --------------------------------------------------------------------------------
log "== c. ONNX Runtime CUDA provider and CUDA/cuDNN libraries on this machine"
step py_ort 30 python3 -c 'import onnxruntime as o; print(o.__version__, o.get_available_providers(), o.__file__)'
puts python_onnxruntime "$(head -1 "$WORK/py_ort.out" 2>/dev/null)"
log "python onnxruntime: $(head -1 "$WORK/py_ort.out" 2>/dev/null)"
step py_torch 60 python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), "cudnn", torch.backends.cudnn.version(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
puts python_torch "$(head -1 "$WORK/py_torch.out" 2>/dev/null)"
log "python torch: $(head -1 "$WORK/py_torch.out" 2>/dev/null)"
find_ort_cuda() {
  find /opt /usr/local /usr/lib /usr/lib64 /root /home /tmp -xdev \
    \( -name 'libonnxruntime_providers_cuda*' -o -name 'libonnxruntime_providers_tensorrt*' -o -name 'libonnxruntime_providers_shared*' \) \
    -not -path "$RT/*" 2>/dev/null
  true
}
export -f find_ort_cuda
step find_ort_cuda 30 find_ort_cuda
puts ort_provider_libs_found "$(tr '\n' ' ' <"$WORK/find_ort_cuda.out" 2>/dev/null)"
log "ORT provider libraries found: $(tr '\n' ' ' <"$WORK/find_ort_cuda.out" 2>/dev/null)"
cuda_libs() {
  echo "# ldconfig -p (cuda, cublas, cudnn, cufft, curand, nvrtc, nvinfer):"
  ldconfig -p 2>/dev/null | grep -E 'libcuda\.|libcudart|libcublas|libcudnn|libcufft|libcurand|libnvrtc|libnvinfer' || echo "(none)"
  echo "# pip nvidia-* lib folders:"
  python3 - <<'EOF' 2>/dev/null || echo "(python3 failed)"
import glob, os, site, sys
roots = set(site.getsitepackages() + [site.getusersitepackages()] + [p for p in sys.path if p.endswith("site-packages")])
for r in sorted(roots):
    for d in sorted(glob.glob(os.path.join(r, "nvidia", "*", "lib")) + glob.glob(os.path.join(r, "nvidia", "cu*", "lib"))):
        libs = sorted(f for f in os.listdir(d) if ".so" in f)
        print("LIBDIR", d, " ".join(libs))
EOF
  echo "# /usr/local/cuda*:"
  ls -d /usr/local/cuda* 2>/dev/null; ls /usr/local/cuda/lib64 2>/dev/null | grep -E 'cudart|cublas|cudnn' | head -20
  echo "# CUDA 12 runtime libraries (onnxruntime-node 1.30's CUDA provider is built for CUDA 12 + cuDNN 9):"
  for l in libcudart.so.12 libcublas.so.12 libcublasLt.so.12 libcufft.so.11 libcurand.so.10 libcudnn.so.9; do
    hit=$( (ldconfig -p 2>/dev/null | grep -o "/[^ ]*/$l\$"; find /opt /usr/local /usr/lib -xdev -name "$l" 2>/dev/null) | head -1)
    echo "$l: ${hit:-absent}"
  done
  true
}
export -f cuda_libs
step cuda_libs 40 cuda_libs
puts cuda12_libs "$(grep -E '^lib[a-zA-Z]+\.so\.[0-9]+: ' "$WORK/cuda_libs.out" 2>/dev/null | tr '\n' ';')"
log "CUDA 12 libraries: $(grep -E '^lib[a-zA-Z]+\.so\.[0-9]+: ' "$WORK/cuda_libs.out" 2>/dev/null | tr '\n' ';')"
# lib dirs for LD_LIBRARY_PATH in step f
CUDA_LIBDIRS=$(grep '^LIBDIR ' "$WORK/cuda_libs.out" 2>/dev/null | awk '{print $2}' | tr '\n' ':')
[ -d /usr/local/cuda/lib64 ] && CUDA_LIBDIRS="${CUDA_LIBDIRS}/usr/local/cuda/lib64:"

# ---- d. dataset and a short training run (CPU) ------------------------------------------------
log "== d. synth -> merge -> train (CPU)"
D="$WORK/data"
if [ "$RT_OK" = 1 ]; then
  step synth 30 hpa synth --out "$D/synth" --count 16 --size 320 --seed 1 --json
  step merge 30 hpa merge "$D/synth" "$D/merged" --json
  mkdir -p "$D/pred-in"
  # 8 images for the provider checks; all 16 for the timing
  for f in $(ls "$D/merged"/*.png 2>/dev/null | head -8); do ln -sf "$f" "$D/pred-in/"; done
  step train 75 hpa train --data "$D/synth" --images "$D/merged" --preset light --epochs 1 --batch 2 \
    --val-fraction 0 --min-size 256 --max-size 256 --augment none --threads "$NPROC" --out "$D/train" --json
  MODEL="$D/train/checkpoint-last.safetensors"
  [ -f "$MODEL" ] && put trained true || put trained false
else
  log "runtime not unpacked: steps d-f skipped"
  MODEL=/nonexistent
fi

# ---- e. predict with each provider ------------------------------------------------------------
log "== e. predict --provider cpu | auto | cuda"
predict() { # predict NAME PROVIDER INPUT
  local name=$1 p=$2 in=$3
  step "$name" 60 hpa predict "$MODEL" "$in" --out "$D/$name" --provider "$p" --score-threshold 0.05 \
    --threads "$NPROC" --overwrite --no-overlays --no-voc
}
provider_line() { grep -o 'provider: [a-z]* (asked: [a-z]*)' "$WORK/$1.err" "$WORK/$1.out" 2>/dev/null | head -1 | sed 's/^[^:]*:provider/provider/'; }
if [ -f "$MODEL" ]; then
  for p in cpu auto cuda; do
    predict "predict_$p" "$p" "$D/pred-in"
    rc=$?
    puts "predict_$p.provider_line" "$(provider_line "predict_$p")"
    log "predict --provider $p: rc=$rc, $(provider_line "predict_$p")"
    put "predict_$p.rc" "${rc:-null}"
  done
  # The expectations of the issue, checked
  cuda_err=$(cat "$WORK/predict_cuda.err" 2>/dev/null)
  puts predict_cuda.stderr_head "$(grep -v -E '^predict: [0-9]+/' "$WORK/predict_cuda.err" 2>/dev/null | head -6)"
  log "predict --provider cuda stderr:"; grep -v -E '^predict: [0-9]+/' "$WORK/predict_cuda.err" 2>/dev/null | head -6 | sed 's/^/  | /' | tee -a "$LOG"
  case "$cuda_err" in *"ONNXRUNTIME_NODE_INSTALL="*) put predict_cuda.has_install_hint true ;; *) put predict_cuda.has_install_hint false ;; esac
  if grep -qE '^\s+at .*\(.*:[0-9]+:[0-9]+\)|^\s+at file:' "$WORK/predict_cuda.err" 2>/dev/null; then put predict_cuda.stack_trace true; else put predict_cuda.stack_trace false; fi
fi

# ---- f. CUDA provider, if a matching library exists on the machine ----------------------------
log "== f. onnxruntime-node with the CUDA provider"
ORT_VER=$("$NODE" -p "require('$RT/node_modules/onnxruntime-node/package.json').version" 2>/dev/null || echo "?")
log "onnxruntime-node version: $ORT_VER"
puts onnxruntime_node "$ORT_VER"
lib_version() { # version of the ORT build a providers library belongs to
  local f=$1 d v
  d=$(dirname "$f")
  # pip wheel: <site>/onnxruntime/capi/lib...; version in <site>/onnxruntime*.dist-info
  v=$(ls -d "$d"/../../onnxruntime*.dist-info 2>/dev/null | head -1 | sed -E 's/.*onnxruntime[_a-z]*-([0-9][0-9.]*[0-9]).*/\1/')
  [ -z "$v" ] && v=$(grep -aoE 'onnxruntime[^ ]{0,40}1\.[0-9]+\.[0-9]+' "$f" 2>/dev/null | grep -oE '1\.[0-9]+\.[0-9]+' | head -1)
  echo "${v:-unknown}"
}
CUDA_LIB=""
if [ -s "$WORK/find_ort_cuda.out" ]; then
  while read -r f; do
    case "$(basename "$f")" in libonnxruntime_providers_cuda.so*) ;; *) continue ;; esac
    v=$(lib_version "$f")
    log "candidate: $f (ORT $v)"
    case "$v" in 1.30.*) [ -z "$CUDA_LIB" ] && CUDA_LIB=$f ;; esac
  done <"$WORK/find_ort_cuda.out"
fi
if [ -z "$CUDA_LIB" ]; then
  log "no libonnxruntime_providers_cuda.so of ONNX Runtime 1.30.x on this machine: the CUDA run and the CPU/CUDA timing are skipped"
  put cuda_provider_found false
elif [ ! -f "$MODEL" ]; then
  log "found $CUDA_LIB but no trained model: skipped"
  put cuda_provider_found true
else
  put cuda_provider_found true
  puts cuda_provider_lib "$CUDA_LIB"
  BINDIR="$RT/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"
  install_cuda() {
    set -e
    cp -v "$CUDA_LIB" "$BINDIR/libonnxruntime_providers_cuda.so"
    shared=$(dirname "$CUDA_LIB")/libonnxruntime_providers_shared.so
    [ -f "$shared" ] && cp -v "$shared" "$BINDIR/"
    ls -la "$BINDIR"
  }
  export CUDA_LIB BINDIR
  export -f install_cuda
  step install_cuda 20 install_cuda
  export LD_LIBRARY_PATH="${CUDA_LIBDIRS}${LD_LIBRARY_PATH:-}"
  log "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  step info_cuda 30 hpa info --json
  predict predict_cuda_lib cuda "$D/pred-in"
  puts predict_cuda_lib.provider_line "$(provider_line predict_cuda_lib)"
  puts predict_cuda_lib.stderr_head "$(grep -v -E '^predict: [0-9]+/' "$WORK/predict_cuda_lib.err" 2>/dev/null | head -6)"
  log "predict --provider cuda with the library:"; grep -v -E '^predict: [0-9]+/' "$WORK/predict_cuda_lib.err" 2>/dev/null | head -6 | sed 's/^/  | /' | tee -a "$LOG"
  predict predict_auto_lib auto "$D/pred-in"
  puts predict_auto_lib.provider_line "$(provider_line predict_auto_lib)"
  # timing over all 16 images, each provider twice (the first run pays session creation / CUDA init)
  for r in 1 2; do
    predict "time_cpu_$r" cpu "$D/merged"
    predict "time_cuda_$r" cuda "$D/merged"
  done
  for n in time_cpu_1 time_cpu_2 time_cuda_1 time_cuda_2; do
    puts "$n.summary" "$(grep -h -E 'image\(s\) predicted' "$WORK/$n.err" "$WORK/$n.out" 2>/dev/null | head -1)"
    log "$n: $(grep -h -E 'provider: ' "$WORK/$n.err" 2>/dev/null | head -1) | $(grep -h -E 'image\(s\) predicted' "$WORK/$n.err" "$WORK/$n.out" 2>/dev/null | head -1)"
  done
  cat >"$WORK/compare.mjs" <<'EOF'
import { readFileSync } from 'node:fs';
const [a, b] = process.argv.slice(2).map((f) => JSON.parse(readFileSync(f, 'utf8')));
const iou = (p, q) => {
  const w = Math.max(0, Math.min(p[2], q[2]) - Math.max(p[0], q[0])), h = Math.max(0, Math.min(p[3], q[3]) - Math.max(p[1], q[1]));
  const i = w * h, u = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - i;
  return u > 0 ? i / u : 0;
};
let na = 0, nb = 0, matched = 0, worstIou = 1, worstScore = 0;
const byName = new Map(b.images.map((im) => [im.name, im]));
for (const im of a.images) {
  const other = byName.get(im.name)?.detections ?? [];
  na += im.detections.length; nb += other.length;
  const used = new Set();
  for (const d of im.detections) {
    let best = -1, bi = 0;
    other.forEach((e, k) => { if (!used.has(k) && e.label === d.label) { const v = iou(d.box, e.box); if (v > bi) { bi = v; best = k; } } });
    if (best >= 0 && bi >= 0.9) { used.add(best); matched++; worstIou = Math.min(worstIou, bi); worstScore = Math.max(worstScore, Math.abs(d.score - other[best].score)); }
  }
}
const res = { providerA: a.provider, providerB: b.provider, detectionsA: na, detectionsB: nb, matchedIou90: matched, worstIou, worstScoreDiff: worstScore,
  same: na === nb && matched === na && worstScore < 0.02 };
console.log(JSON.stringify(res));
EOF
  step compare 20 "$NODE" "$WORK/compare.mjs" "$D/time_cpu_2/predictions.json" "$D/time_cuda_2/predictions.json"
  [ -s "$WORK/compare.out" ] && put compare "$(head -1 "$WORK/compare.out")"
fi

# ---- summary ----------------------------------------------------------------------------------
put total_seconds "$(elapsed)"
puts finished "$(date -u +%FT%TZ)"
{
  echo "{"
  first=1
  while IFS=$'\t' read -r k v; do
    [ -z "$k" ] && continue
    [ "$first" = 1 ] || echo ","
    first=0
    printf '  %s: %s' "$(jstr "$k")" "${v:-null}"
  done <"$SUM"
  echo; echo "}"
} >"$OUT/summary.json"
log "== summary ($OUT/summary.json)"
cat "$OUT/summary.json" | tee -a "$LOG"
log "device check done in $(elapsed)s"
exit 0
