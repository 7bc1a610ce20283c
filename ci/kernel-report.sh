#!/usr/bin/env bash
# ci/kernel-report.sh: one row per CUDA kernel and architecture, from the PTX and the ptxas -v
# log that the build keeps for every translation unit of native/kernels (target
# kernel_report_artifacts, see native/cuda/CMakeLists.txt).
#
#   kernel  arch  registers  spill_bytes  shared_bytes  mma_sync  ldmatrix  cp_async   (TSV)
#
# Exits non-zero if any kernel spills (spill stores + loads > 0) or if any attention kernel
# (name contains "attention") has no mma.sync. Exempt from the mma rule: kernels whose name
# matches $KERNEL_REPORT_NO_MMA_OK (default "combine|rel_bias_attention": the split-KV combine step of decode
# is a reduction of partial softmax results, with no matrix product to put on tensor cores; the encoder-decoder
# models' relative-bias attention (rel_bias_attention.cuh, one warp per token and head) is a scalar first
# version, exempt until its tensor-core form exists: a known gap, listed in the README's seq2seq section).
# shared_bytes is ptxas's static shared memory; dynamic shared memory is sized at launch.
# Without nvcc it says so and exits 0.
# Build dir: build/kernel-report (kept between runs; reruns only rebuild what changed).
# Usage: ci/kernel-report.sh [build-dir]
#        KERNEL_REPORT_ARTIFACTS=<dir> ci/kernel-report.sh   (only parse <dir>/*.sm_XX.ptx + .ptxas.log)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/kernel-report}"

if ! command -v nvcc >/dev/null 2>&1 && [ -z "${CUDACXX:-}" ]; then
  echo "kernel-report: nvcc not found; no CUDA kernels to report (skipped)"
  exit 0
fi

if [ -n "${KERNEL_REPORT_ARTIFACTS:-}" ]; then
  report="$KERNEL_REPORT_ARTIFACTS"   # parse existing artifacts only (used to test this script)
else
  report="$build/kernel-report"
  cmake -S "$root" -B "$build" -DTRANSFUSE_KERNELS=ON >"$build.configure.log" 2>&1 || {
  cat "$build.configure.log" >&2; echo "kernel-report: configure failed" >&2; exit 1; }
  if grep -q "skipping the CUDA build" "$build.configure.log"; then
    echo "kernel-report: CMake found no usable CUDA compiler; no CUDA kernels to report (skipped)"
    exit 0
  fi
  cmake --build "$build" --target kernel_report_artifacts -j"$(nproc)" >"$build.build.log" 2>&1 || {
  tail -50 "$build.build.log" >&2; echo "kernel-report: building the PTX / ptxas logs failed" >&2; exit 1; }

fi

python3 - "$report" "${KERNEL_REPORT_NO_MMA_OK:-combine|rel_bias_attention}" <<'PY'
import glob, os, re, subprocess, sys

report_dir = sys.argv[1]
no_mma_ok = re.compile(sys.argv[2]) if sys.argv[2] else None

def demangle(names):
    try:
        out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True).stdout
        return out.splitlines()
    except Exception:
        return names

def readable(demangled):
    # Drop the parameter list and a leading return type: "void k<64, __half>(...)" -> "k<64, __half>"
    depth, cut = 0, len(demangled)
    for i, ch in enumerate(demangled):
        if ch == '<': depth += 1
        elif ch == '>': depth -= 1
        elif ch == '(' and depth == 0: cut = i; break
    name = demangled[:cut]
    if name.startswith("void "): name = name[5:]
    return name

def ptx_entries(text):
    """entry name -> instruction counts inside its body."""
    out = {}
    for m in re.finditer(r"^\.(?:visible\s+)?\.entry\s+([\w$]+)\s*\(", text, re.M):
        body_start = text.find("{", m.end())
        # the body ends at the first "}" at column 0 after it
        end = re.compile(r"^}", re.M).search(text, body_start)
        body = text[body_start:end.start() if end else len(text)]
        out[m.group(1)] = (
            len(re.findall(r"^\s*(?:@!?%\w+\s+)?mma\.sync", body, re.M)),
            len(re.findall(r"^\s*(?:@!?%\w+\s+)?ldmatrix", body, re.M)),
            len(re.findall(r"^\s*(?:@!?%\w+\s+)?cp\.async\.c[ag]\b", body, re.M)),
        )
    return out

def ptxas_entries(text):
    """entry name -> (registers, spill bytes, shared bytes)."""
    out, current = {}, None
    for line in text.splitlines():
        m = re.search(r"Compiling entry function '([^']+)'", line)
        if m: current = m.group(1); out[current] = [0, 0, 0]; continue
        m = re.search(r"Function properties for (\S+)", line)
        if m: current = m.group(1) if m.group(1) in out else current; continue
        if current is None: continue
        m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m: out[current][1] = int(m.group(1)) + int(m.group(2))
        m = re.search(r"Used (\d+) registers", line)
        if m: out[current][0] = int(m.group(1))
        m = re.search(r"(\d+) bytes smem", line)
        if m: out[current][2] = int(m.group(1))
    return out

rows, failures = [], []
for ptx_path in sorted(glob.glob(os.path.join(report_dir, "*.sm_*.ptx"))):
    arch = ptx_path.rsplit(".", 2)[-2]            # sm_80
    log_path = ptx_path[:-len(".ptx")] + ".ptxas.log"
    counts = ptx_entries(open(ptx_path).read())
    stats = ptxas_entries(open(log_path).read()) if os.path.exists(log_path) else {}
    mangled = sorted(counts)
    for name, shown in zip(mangled, demangle(mangled)):
        regs, spill, smem = stats.get(name, [-1, -1, -1])
        mma, ldm, cpa = counts[name]
        kernel = readable(shown)
        rows.append((kernel, arch, regs, spill, smem, mma, ldm, cpa))
        if spill > 0: failures.append(f"{kernel} ({arch}) spills {spill} bytes")
        if spill < 0: failures.append(f"{kernel} ({arch}) has no ptxas -v record")
        if "attention" in kernel and mma == 0 and not (no_mma_ok and no_mma_ok.search(kernel)): failures.append(f"{kernel} ({arch}) is an attention kernel without mma.sync")

print("kernel\tarch\tregisters\tspill_bytes\tshared_bytes\tmma_sync\tldmatrix\tcp_async")
for r in rows: print("\t".join(str(x) for x in r))
if not rows:
    print("kernel-report: no kernels found in " + report_dir, file=sys.stderr)
for f in failures: print("kernel-report: FAIL " + f, file=sys.stderr)
sys.exit(1 if failures else 0)
PY
