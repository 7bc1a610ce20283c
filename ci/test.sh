#!/usr/bin/env bash
# All tests: native (ctest: CPU kernels and the emulated CUDA kernels under two schedules), the glibc
# baseline of the shipped libraries (ci/glibc-check.sh: 2.28; ci/oldroot-test.sh loads them under Debian 11's
# glibc 2.31, once the jars are built), the
# kernel report (register spills, tensor-core use) where nvcc exists, the Java tests (Maven), and the GPU kit's
# dry run (ci/gpu-test.sh --dry-run) so the kit for GPU machines cannot rot.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. ci/find-jdk.sh
transfuse_find_jdk
command -v cmake >/dev/null || { echo "ci/test.sh: cmake not found; install CMake >= 3.25." >&2; exit 1; }
command -v mvn >/dev/null || { echo "ci/test.sh: Maven (mvn) not found; install Apache Maven >= 3.8." >&2; exit 1; }
jobs=$(nproc)

echo "== native build (build/ci)"
cmake -S . -B build/ci -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/ci -j "$jobs"

echo "== native tests (ctest)"
ctest --test-dir build/ci --output-on-failure -j "$jobs"

echo "== shipped libraries need at most glibc 2.28 (ci/glibc-check.sh)"
libs=(build/ci/native/cpu/libtransfuse_cpu.so build/ci/native/emu/libtransfuse_emu.so)
[ -f build/ci/native/cuda/libtransfuse_cuda.so ] && libs+=(build/ci/native/cuda/libtransfuse_cuda.so)
ci/glibc-check.sh --max 2.28 "${libs[@]}"

if [ -x ci/kernel-report.sh ]; then
  echo "== kernel report"
  ci/kernel-report.sh
fi

echo "== Java tests (Maven)"
mvn -B test
echo "== GPU kit dry run (ci/gpu-bundle.sh, then ci/gpu-test.sh --dry-run: the kit and every GPU-run step that needs no GPU)"
ci/gpu-bundle.sh >/dev/null
ci/gpu-test.sh --dry-run >build/gpu-test-dry-run.out 2>&1 || { cat build/gpu-test-dry-run.out; exit 1; }
sed -n '/^| step/,/^$/p' build/gpu-test-dry-run.out
echo "== the shipped libraries load and run under an older glibc (ci/oldroot-test.sh: Debian 11's libc6, the jars just built)"
ci/oldroot-test.sh
echo "== benchmark smoke (ci/bench.sh --smoke: the whole benchmark path on tiny models)"; ci/bench.sh --smoke | tail -n 2
