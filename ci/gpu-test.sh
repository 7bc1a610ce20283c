#!/usr/bin/env bash
# Everything GPU-only in one command, for a machine with an NVIDIA GPU and the CUDA 13 toolkit but no Java,
# no Maven and no network (the lent H200). Needs the kit of ci/gpu-bundle.sh (build/gpu-bundle, carried along).
# Steps, each under its own time limit (all together at most 8 minutes); a failing step never stops the next:
#   a  system: nvidia-smi, driver, nvcc, compute-sanitizer versions
#   b  build: libtransfuse_cuda and the native GPU tests for this GPU's architecture only (ninja, all cores)
#   c  kernel tests: every emulated kernel test source (native/test/emu_*.cpp), compiled by nvcc, on the GPU
#      against the same double-precision references
#   d  compute-sanitizer memcheck and racecheck on a short selection of them
#   e  Java with the kit's runtime: which GPU path works (driver, JCuda runtime, Panama cuBLAS), the tests tagged
#      gpu through JUnit's console launcher, `transfuse generate --device cuda` against the CPU's text, and (e6)
#      conv2d on cuDNN 9 through Panama against the CUDA-dialect conv kernel and the CPU (CudnnConvGpuTest)
#   f  ci/gpu-bench.sh (kernel timings) and end-to-end decode tokens/s on a stories110M-shape random model
#   g  writes summary.md first, then one log per step, under $OUT if set, else build/gpu-test/
# The whole run has a budget of 470 s (TRANSFUSE_GPU_TEST_BUDGET_S); a step gets at most what is left of it.
# --dry-run (any machine, no GPU): checks what needs none: the kit is complete, its Java runtime starts, the
# tests are discovered, nvcc builds the sm_90 GPU tests, and the same Java GPU tests pass on cuda-emu.
# Exit status: 0 when every step that ran passed.
#   usage: ci/gpu-test.sh [--dry-run] [--kit DIR]
set -uo pipefail
set -a  # every variable is exported: the steps run in child shells under `timeout`
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dry=0 kit=$root/build/gpu-bundle
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) dry=1 ;;
    --kit) kit=$2; shift ;;
    *) echo "usage: ci/gpu-test.sh [--dry-run] [--kit DIR]" >&2; exit 2 ;;
  esac
  shift
done
out=${OUT:-$root/build/gpu-test}
mkdir -p "$out"
work=$root/build/gpu-test-work        # build trees and the unpacked runtime (not sent back)
mkdir -p "$work"
rm -f "$work"/gen-cpu.txt "$work"/gen-device.txt "$work"/gen-device.err "$work"/discovered.txt
summary=$out/summary.md
rm -f "$summary" "$out"/[0-9]-*.log   # this run's files only
start=$(date +%s)
budget=${TRANSFUSE_GPU_TEST_BUDGET_S:-470}   # 8 minutes less the summary
status=0
rows=()
echo "# Transfuse GPU test ($([ $dry = 1 ] && echo dry run || echo GPU run)), $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$summary"
echo "(running; this file is rewritten at the end)" >>"$summary"

# step NAME LOG LIMIT_S COMMAND...: runs COMMAND with a time limit, appends its output to LOG, records a row.
step() {
  local name=$1 log=$2 limit=$3; shift 3
  if declare -F "$1" >/dev/null; then export -f "$1"; fi
  # The whole run stays within its budget: a step gets at most what is left of it.
  local left=$(( budget - ($(date +%s) - start) ))
  if [ $left -lt 10 ]; then
    rows+=("| $name | NOT RUN (the ${budget}s budget is spent) | | |"); status=1
    echo "== $name: not run, the ${budget}s budget is spent" | tee -a "$log"
    return
  fi
  [ $limit -gt $left ] && limit=$left
  local t0 rc
  t0=$(date +%s)
  echo "== $name (limit ${limit}s)" | tee -a "$log"
  # Functions and variables reach the timed shell through the environment (set -a; export -f).
  timeout --kill-after=10 "$limit" bash -o pipefail -c '"$@"' step "$@" >>"$log" 2>&1
  rc=$?
  local took=$(( $(date +%s) - t0 )) verdict=passed
  if [ $rc = 124 ] || [ $rc = 137 ]; then verdict="TIMED OUT after ${limit}s"; status=1
  elif [ $rc != 0 ]; then verdict="FAILED (exit $rc)"; status=1; fi
  rows+=("| $name | $verdict | ${took}s | $(basename "$log") |")
  echo "   $verdict in ${took}s" | tee -a "$log"
}
note() { rows+=("| $1 | $2 | | |"); }

jobs=$(nproc)
nvcc=$(command -v nvcc || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; } || true)
gpu=0
if [ $dry = 0 ]; then
  command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 && gpu=1
  [ $gpu = 1 ] || echo "gpu-test: no NVIDIA GPU visible (nvidia-smi finds none); the GPU steps will fail. Use --dry-run on a machine without one." >&2
fi
arch=90
[ $gpu = 1 ] && arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d '. ')

# ---- a: system ----
system_info() {
  uname -a
  if [ $gpu = 1 ]; then nvidia-smi; nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total,clocks.max.sm --format=csv
  else echo "nvidia-smi: $(command -v nvidia-smi || echo absent) (dry run: not needed)"; fi
  [ -n "$nvcc" ] && "$nvcc" --version | tail -n 2 || echo "nvcc: absent"
  command -v compute-sanitizer >/dev/null && compute-sanitizer --version | tail -n 1 || echo "compute-sanitizer: not on PATH"
  command -v ninja >/dev/null && echo "ninja $(ninja --version)" || echo "ninja: absent (make is used)"
  echo "cores: $jobs; architecture for the builds: sm_$arch"
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>/dev/null || true
}
step "a system" "$out/1-system.log" 30 system_info

# ---- b: build for this GPU only ----
build=$work/native
build_native() {
  [ -n "$nvcc" ] || { echo "nvcc not found"; return 1; }
  local gen=() extra=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  local lib
  for lib in build/maven-native-cuda/native/cuda/libtransfuse_cuda.so build/ci/native/cuda/libtransfuse_cuda.so; do
    if [ $dry = 1 ] && [ -f "$lib" ]; then
      # Reuse the library Maven (ci/gpu-bundle.sh) or ci/test.sh built (sm_80 and sm_90): the dry run then
      # compiles only the tests.
      extra=(-DTRANSFUSE_GPU_TESTS_CUDA_LIBRARY="$root/$lib")
      break
    fi
  done
  [ -f "$build/CMakeCache.txt" ] && gen=()
  cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$nvcc" \
    -DTRANSFUSE_GPU_TESTS=ON -DTRANSFUSE_CUDA_ARCHITECTURES="$arch" "${extra[@]}" &&
  nice -n 5 cmake --build "$build" --target gpu_tests $([ ${#extra[@]} = 0 ] && echo transfuse_cuda) -j "$jobs" &&
  ls "$build"/native/test/gpu/ | grep -v '\.cu$'
}
if [ $dry = 1 ] && [ -z "$nvcc" ]; then
  note "b build (sm_$arch)" "not run (dry run: no nvcc on this machine)"
else
  step "b build (sm_$arch)" "$out/2-build.log" 240 build_native
fi

# ---- c, d: the kernel tests on the GPU, then the sanitizers ----
if [ $dry = 0 ]; then
  kernel_tests() {
    # All test executables at once (16 cores, one GPU), each with its own log, printed in order.
    local t name failed=0
    for t in "$build"/native/test/gpu/gpu_emu_*; do
      [[ $t == *.cu ]] && continue
      name=$(basename "$t")
      ( CUDA_LAUNCH_BLOCKING=1 timeout 120 "$t" >"$work/$name.log" 2>&1; echo "exit $?" >>"$work/$name.log" ) &
    done
    wait
    for t in "$build"/native/test/gpu/gpu_emu_*; do
      [[ $t == *.cu ]] && continue
      name=$(basename "$t")
      echo "-- $name"
      cat "$work/$name.log"
      tail -n 1 "$work/$name.log" | grep -qx 'exit 0' || { echo "-- $name: FAILED"; failed=1; }
    done
    return $failed
  }
  step "c kernel tests on the GPU" "$out/3-kernels.log" 150 kernel_tests
  sanitize() {
    local failed=0 cs
    cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
    for spec in "memcheck gpu_emu_norm" "memcheck gpu_emu_rope" "memcheck gpu_emu_attention_decode" \
                "racecheck gpu_emu_transpose" "racecheck gpu_emu_selective_scan" "racecheck gpu_emu_ssd_scan"; do
      set -- $spec
      echo "-- $1 $2"
      # memcheck: one managed allocation per buffer, so each buffer's exact bounds are checked (not the pool's)
      TF_GPU_TEST_ALLOC=$([ "$1" = memcheck ] && echo each || echo pool) \
        timeout 60 "$cs" --tool "$1" --error-exitcode 3 "$build/native/test/gpu/$2" || { echo "-- $1 $2: FAILED (exit $?)"; failed=1; }
    done
    return $failed
  }
  step "d compute-sanitizer" "$out/4-sanitizer.log" 75 sanitize
else
  note "c kernel tests on the GPU" "not run (dry run: needs a GPU)"
  note "d compute-sanitizer" "not run (dry run: needs a GPU)"
fi

# ---- e: Java with the kit's runtime ----
java_log=$out/5-java.log
runtime=$work/runtime
java_cp="$kit/lib/*"
kit_check() {
  for f in MANIFEST runtime.tar.xz models/stories260K lib/transfuse-cuda-tests.jar; do
    [ -e "$kit/$f" ] || { echo "kit incomplete: $kit/$f is missing (run ci/gpu-bundle.sh here first)"; return 1; }
  done
  ls "$kit"/lib/junit-platform-console-*.jar "$kit"/lib/jcuda-[0-9]*.jar "$kit"/lib/transfuse-core-*.jar >/dev/null || return 1
  rm -rf "$runtime" && mkdir -p "$runtime" || return 1
  if command -v xz >/dev/null; then tar -C "$runtime" --strip-components=1 -xJf "$kit/runtime.tar.xz"
  else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$kit/runtime.tar.xz" "$work" &&
    rm -rf "$runtime" && mv "$work/runtime" "$runtime"; fi || return 1
  "$runtime/bin/java" -version && head -n 4 "$kit/MANIFEST"
}
step "e1 kit complete, Java starts" "$java_log" 30 kit_check
java_run() { "$runtime/bin/java" --enable-native-access=ALL-UNNAMED -Xss4m -Dtransfuse.root="$kit" "$@"; }
export -f java_run
native_opt=""
if [ $dry = 0 ] && [ -f "$build/native/cuda/libtransfuse_cuda.so" ]; then
  # The library step b just built for this GPU, next to the CPU one from the kit's jar.
  mkdir -p "$work/natives" && cp "$build/native/cuda/libtransfuse_cuda.so" "$work/natives/" &&
    python3 - "$work/natives" "$kit"/lib/transfuse-core-[0-9]*.jar <<'PY' &&
import sys, zipfile  # unzip may be missing there; python3 is not
with zipfile.ZipFile(sys.argv[2]) as jar:
    name = next(n for n in jar.namelist() if n.endswith("/libtransfuse_cpu.so"))
    open(sys.argv[1] + "/libtransfuse_cpu.so", "wb").write(jar.read(name))
PY
    native_opt=-Dtransfuse.native.path="$work/natives"
fi
step "e2 GPU stack (driver, JCuda, cuBLAS)" "$java_log" 60 java_run ${native_opt:+"$native_opt"} -cp "$java_cp" io.transfuse.cuda.jcuda.GpuStackReport
junit() {
  java_run ${native_opt:+"$native_opt"} -Dtransfuse.gpu.test.device="$1" -cp "$java_cp" org.junit.platform.console.ConsoleLauncher \
    "$2" --disable-banner --details=tree --include-tag=gpu --select-package=io.transfuse.cuda.gpu "${@:3}"
}
export -f junit
discover() {
  junit cuda discover | tee "$work/discovered.txt" && grep -q 'JCudaGpuTest' "$work/discovered.txt" &&
    grep -q 'EncodersGpuTest' "$work/discovered.txt" && grep -q 'CudnnConvGpuTest' "$work/discovered.txt"
}
step "e3 GPU tests discovered" "$java_log" 60 discover
device=cuda
[ $dry = 1 ] && device=cuda-emu
step "e4 Java GPU tests on $device" "$java_log" 150 junit "$device" execute --fail-if-no-tests --exclude-tag=cudnn
# cuDNN 9 (Panama, -Dtransfuse.cudnn=on) against the CUDA-dialect conv kernel and the CPU; on a GPU it must really run
# cuDNN (the lent machines carry it in PyTorch's pip wheels, which CudnnLocator searches). Dry run: the kernel alone.
cudnn_conv() {
  java_run ${native_opt:+"$native_opt"} -Dtransfuse.gpu.test.device="$1" -cp "$java_cp" org.junit.platform.console.ConsoleLauncher \
    execute --disable-banner --details=tree --include-tag=cudnn --select-class=io.transfuse.cuda.gpu.CudnnConvGpuTest --fail-if-no-tests
}
export -f cudnn_conv
step "e6 conv2d: cuDNN = kernel = cpu on $device" "$java_log" 90 cudnn_conv "$device"
generate_vs_cpu() {
  local args=(-cp "$java_cp" io.transfuse.cli.Main generate --model "$kit/models/stories260K" --temperature 0 --max-tokens 120 "Once upon a time")
  java_run "${args[@]}" --device cpu >"$work/gen-cpu.txt" 2>/dev/null &&
  java_run ${native_opt:+"$native_opt"} "${args[@]}" --device "$device" >"$work/gen-device.txt" 2>"$work/gen-device.err"
  local rc=$?
  cat "$work/gen-device.err"; echo "--- $device:"; cat "$work/gen-device.txt"; echo
  [ $rc = 0 ] || return $rc
  cmp -s "$work/gen-cpu.txt" "$work/gen-device.txt" || { echo "--- cpu (differs):"; cat "$work/gen-cpu.txt"; return 1; }
  echo "same text as the CPU"
}
step "e5 transfuse generate --device $device = cpu" "$java_log" 60 generate_vs_cpu

# ---- f: benchmarks ----
if [ $dry = 0 ]; then
  bench() {
    ci/gpu-bench.sh "$build" || return 1
    java_run ${native_opt:+"$native_opt"} -cp "$java_cp" io.transfuse.cuda.jcuda.GpuStackReport --gemm-bench | grep GEMM || return 1
    local m=$work/stories110M.gguf
    java_run -cp "$java_cp" io.transfuse.cli.Main make-model --preset stories110M --dtype f16 "$m" &&
      java_run ${native_opt:+"$native_opt"} -cp "$java_cp" io.transfuse.cli.Main generate --model "$m" --device cuda \
        --temperature 0 --max-tokens 256 "Once upon a time" >/dev/null
  }
  step "f benchmarks" "$out/6-bench.log" 120 bench
else
  note "f benchmarks" "not run (dry run: needs a GPU)"
fi

# ---- g: the summary ----
{
  echo "# Transfuse GPU test ($([ $dry = 1 ] && echo dry run || echo GPU run)), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "Total $(( $(date +%s) - start ))s; $([ $status = 0 ] && echo 'every step that ran passed' || echo 'SOME STEPS FAILED')."
  [ $gpu = 1 ] && echo "GPU: $(nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader | head -n 1)"
  echo
  echo "| step | result | time | log |"
  echo "| --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
  if [ $dry = 0 ]; then
    echo; echo "## Kernel tests on the GPU"; echo '```'
    grep -E '^(-- gpu_emu|gpu:|[0-9]+ passed|FAIL)' "$out/3-kernels.log" 2>/dev/null | head -n 80; echo '```'
    echo; echo "## compute-sanitizer"; echo '```'
    grep -E '^-- |ERROR SUMMARY|RACECHECK SUMMARY' "$out/4-sanitizer.log" 2>/dev/null | head -n 40; echo '```'
  fi
  echo; echo "## Java GPU path"; echo '```'
  sed -n '/== e2/,/== e3/p' "$java_log" | grep -vE '^(==|   )' | head -n 20
  grep -E 'tests (successful|failed|aborted|skipped)|bert on|vit on' "$java_log" | head -n 20
  grep -E '^(prefill|decode)' "$work/gen-device.err" 2>/dev/null | head -n 2; echo '```'
  if [ $dry = 0 ]; then
    echo; echo "## Benchmarks (H200 peaks: about 990 TFLOP/s dense bf16, 4.8 TB/s)"; echo '```'
    grep -vE '^(==|   |\[|--)' "$out/6-bench.log" 2>/dev/null | grep -E 'TFLOP|GB/s|tok|prefill|decode' | head -n 60; echo '```'
  fi
} >"$summary"
cat "$summary"
exit $status
