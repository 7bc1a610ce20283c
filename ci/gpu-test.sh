#!/usr/bin/env bash
# GPU-only checks, for a machine with an NVIDIA GPU (CI has none): the JUnit tests tagged "gpu"
# (JCuda runtime, JCublas GEMMs, the Llama and Mamba graphs on the device against the CPU), the kernel
# benchmarks (ci/gpu-bench.sh) and end-to-end decode speed of `transfuse generate --device cuda`.
# Prints a summary; exits 1 if a test failed. Without a GPU it says so and exits 0.
#   usage: ci/gpu-test.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-test: no NVIDIA GPU visible (nvidia-smi finds none); the GPU-only tests and benchmarks need one. Nothing run."
  exit 0
fi
. ci/find-jdk.sh
transfuse_find_jdk
mkdir -p build
status=0
summary=("GPU: $(nvidia-smi -L | head -n 1)")

echo "== GPU-only JUnit tests (java/cuda, tag gpu)"
if mvn -B -pl java/cuda -am test -Dgroups=gpu -Dsurefire.failIfNoSpecifiedTests=false >build/gpu-test-junit.log 2>&1; then
  summary+=("JUnit gpu tests: passed ($(grep -E 'Tests run: [0-9]+, Failures' build/gpu-test-junit.log | tail -n 1 | sed 's/^\[[A-Z]*\] //'))")
else
  status=1
  summary+=("JUnit gpu tests: FAILED (log: build/gpu-test-junit.log)")
  grep -E '^\[ERROR\]' build/gpu-test-junit.log | head -n 20 || true
fi

echo "== kernel benchmarks (ci/gpu-bench.sh)"
if ci/gpu-bench.sh >build/gpu-bench.log 2>&1; then
  summary+=("kernel benchmarks: build/gpu-bench.log ($(wc -l <build/gpu-bench.log) lines)")
else
  status=1
  summary+=("kernel benchmarks: FAILED (log: build/gpu-bench.log)")
fi

echo "== end to end: transfuse generate --device cuda"
if ./transfuse generate --device cuda --temperature 0 --max-tokens 200 "Once upon a time" >build/gpu-generate.out 2>build/gpu-generate.err; then
  summary+=("generate --device cuda (stories260K): $(grep -E '^prefill:' build/gpu-generate.err | tail -n 1)")
else
  status=1
  summary+=("generate --device cuda: FAILED: $(tail -n 1 build/gpu-generate.err)")
fi

echo "== summary"
printf '  %s\n' "${summary[@]}"
exit $status
