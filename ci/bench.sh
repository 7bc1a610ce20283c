#!/usr/bin/env bash
# ci/bench.sh: Transfuse's CPU benchmarks next to llama.cpp, on the same files, in one run.
#
#   ci/bench.sh [--smoke] [--reps N] [--threads N] [--models stories15M-f32,stories110M-q8_0,...]
#               [--concurrency 1,4,16,64] [--engine-only] [--contention]
#
# 1. builds the CLI, the JMH module and the machine probe (CMake target transfuse_machine_probe);
# 2. measures the machine: STREAM-style triad GB/s and peak FP32 FMA GFLOP/s (2 threads);
# 3. writes random-weight Llama models (stories15M and stories110M shapes, F32 and Q8_0 GGUF; stories110M
#    also Q4_K_M and Q6_K, quantised by make-model with llama.cpp's per-tensor choices, and Q4_K_M with a
#    128k Llama-3-size vocabulary) into
#    build/bench/models with `transfuse make-model` (kept between runs: same seed, same bytes);
# 4. runs `transfuse bench` on each (128-token prefill, 32 decode steps, 2 threads; and decode of 16
#    sequences at once, aggregate tok/s, with the one-sequence figure beside it);
# 5. runs llama.cpp on the same files through the npm package node-llama-cpp (prebuilt CPU
#    binaries, installed once into build/bench/node) with ci/bench-llama.mjs, same settings;
#    4 and 5 alternate, one measured repetition per process after a warm-up (Transfuse: at least 4 s,
#    for the JIT to compile the graph's Java path), --reps times (medians over repetitions);
# 5b. engine rows (issue 16): `transfuse bench --engine` on stories110M F32 and Q8_0: for each concurrency
#    C in --concurrency (1,4,16,64), C requests with distinct random-token prompts (32 tokens) submitted at
#    once to the continuous-batching engine, 64 greedy tokens each: "MODEL engine xC decode (aggregate)" =
#    tokens/s over the passes in which all C decode; "engine xC TTFT p50" (from submission); "engine xC
#    TTFT under load" = one new request's TTFT while C-1 others decode; "engine x16 vs x1" = the x16
#    aggregate over the x1 figure (the issue's >= 6x target). Beside each: llama.cpp at the same C
#    (ci/bench-llama-batch.mjs: C sequences in one node-llama-cpp context, evaluated together so that
#    llama.cpp batches them into one decode per step), and its own x16 vs x1 row; alternating like 4/5;
#    --smoke: a tiny Q8_0 model at C 1 and 4, no peer;
# 6. runs the JMH op benchmarks (java/bench) with short iterations;
# 6b. runs all-MiniLM-L6-v2 (32-token texts, batch 1 and 32) in Transfuse and in ONNX Runtime Java,
#    alternating in one JVM (java/bench io.transfuse.encoders.EncoderVsOnnxRuntime); and "minilm 32
#    concurrent callers": 32 threads each embedding one text at a time through EmbeddingEngine (which
#    joins them into packed batches) beside ONNX Runtime at its best batch size (of 8, 16, 32, 64);
# 6c. Spark row (issue 20): all-MiniLM-L6-v2 embeddings (32-token texts) through TransfuseEmbedder on Spark
#    local[2] beside the same texts through EmbeddingModel.embed directly, alternating in one JVM
#    (java/spark io.transfuse.spark.SparkEmbeddingBench, test classes): "minilm via Spark local[2]", rows/s,
#    the ratio is Spark's overhead; --smoke: 128 rows, one repetition;
# 7. ci/BenchReport.java merges everything into build/bench/bench-results.json, prints a Markdown
#    table (figure, ratio to llama.cpp, decode as % of the measured bandwidth, prefill as % of the
#    measured peak FLOP/s) and flags regressions against ci/bench-baseline.json that exceed the
#    spread measured in this run.
# --engine-only: only the engine rows (5b) and the encoder rows (6b); no single-sequence rows, no JMH.
# --contention: only the busy-machine rows (issue 19): stories110M Q8_0 decode and all-MiniLM-L6-v2 batch 1
#    (32-token texts) with 2 threads on a quiet machine, then with 2 and with 1 thread while a competing busy
#    loop (`sh -c 'while :; do :; done'`, pinned with taskset to the last CPU) runs, side by side in each
#    repetition (--reps, default 3); prints the medians and the ratios busy/quiet (target >= 0.45) and
#    busy 2 threads / busy 1 thread (target >= 1), and the load average before the run (the machine may
#    be shared). Results also in build/bench/contention.txt.
# The last line printed is the path of bench-results.json.
#
# --smoke: the whole path in well under a minute, for ci/test.sh: the bundled stories260K model plus
# a tiny Q8_0 model, one repetition, one JMH benchmark in-process, a small triad, no llama.cpp
# (no network), no baseline comparison (its figures are not comparable); results in build/bench/smoke/.
# Benchmarks are not tests: a regression is reported, the exit status stays 0; only a failing step
# fails the script.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. ci/find-jdk.sh
transfuse_find_jdk

smoke=0 reps=5 threads=2 only="" concurrency=1,4,16,64 engine_only=0 contention=0 reps_given=0
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --reps) reps=${2:?--reps needs a number}; reps_given=1; shift ;;
    --threads) threads=${2:?--threads needs a number}; shift ;;
    --models) only=${2:?--models needs a comma-separated list}; shift ;;
    --concurrency) concurrency=${2:?--concurrency needs a comma-separated list}; shift ;;
    --engine-only) engine_only=1 ;;
    --contention) contention=1 ;;
    -h|--help) sed -n '2,50p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ci/bench.sh: unknown argument '$1' (use --smoke, --reps N, --threads N, --models LIST, --concurrency LIST, --engine-only, --contention)" >&2; exit 2 ;;
  esac
  shift
done
command -v cmake >/dev/null || { echo "ci/bench.sh: cmake not found; install CMake >= 3.25." >&2; exit 1; }
command -v mvn >/dev/null || { echo "ci/bench.sh: Maven (mvn) not found; install Apache Maven >= 3.8." >&2; exit 1; }

out=build/bench
[ "$smoke" = 1 ] && out=build/bench/smoke && reps=1
raw=$out/raw
rm -rf "$raw"
mkdir -p "$raw" build/bench/models
say() { echo "== $*" >&2; }
java=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED)
transfuse() { "${java[@]}" -cp "java/cli/target/transfuse-cli.jar:java/cli/target/lib/*" io.transfuse.cli.Main "$@"; }

say "build (log: $out/build.log)"
if ! mvn -B -DskipTests -Dmaven.source.skip=true -Dmaven.javadoc.skip=true -pl java/cli,java/bench,java/spark -am package >"$out/build.log" 2>&1; then
  grep -E '^\[ERROR\]|transfuse:' "$out/build.log" | head -n 20 >&2
  echo "ci/bench.sh: build failed; full log in $out/build.log" >&2
  exit 1
fi
cmake -S . -B build/bench/native -DTRANSFUSE_KERNELS=OFF -DCMAKE_BUILD_TYPE=Release >>"$out/build.log"
cmake --build build/bench/native --target transfuse_machine_probe -j "$(nproc)" >>"$out/build.log"

if [ "$contention" = 1 ]; then
  [ "$reps_given" = 1 ] || reps=3
  ci/bench-contention.sh "$reps"
  exit 0
fi

say "machine limits ($threads threads)"
if [ "$smoke" = 1 ]; then probe_args=("$threads" 16 1); else probe_args=("$threads" 256 5); fi
build/bench/native/native/cpu/transfuse_machine_probe "${probe_args[@]}" >"$raw/machine.json"
cat "$raw/machine.json" >&2

# name=path of each model to measure (single-sequence rows; engine rows)
models=() engine_models=()
if [ "$smoke" = 1 ]; then
  tiny=$(ls models/stories260K/*.gguf | head -n 1)
  models+=("stories260K-f32=$tiny")
  if [ ! -f "$out/tiny-q8_0.gguf" ]; then
    transfuse make-model --preset stories15M --dim 64 --layers 2 --heads 4 --hidden 128 --vocab 512 --context 256 \
      --dtype q8_0 "$out/tiny-q8_0.gguf" >/dev/null 2>&1
  fi
  models+=("tiny-q8_0=$out/tiny-q8_0.gguf")
  engine_models=("tiny-q8_0=$out/tiny-q8_0.gguf")
  prompt=32 gen=8 warmup=1 batch=4 warm_s=0
  concurrency=1,4 eprompt=8 egen=8
else
  for preset in stories15M stories110M; do
    dtypes="f32 q8_0"
    # K-quant rows on the shape whose rows are whole super-blocks (dim 768, hidden 2048); stories15M's dim
    # 288 would fall back to Q5_0/Q8_0 for most tensors
    [ "$preset" = stories110M ] && dtypes="$dtypes q4_k_m q6_k"
    for dtype in $dtypes; do
      case ",${only:-$preset-$dtype}," in *",$preset-$dtype,"*) ;; *) continue ;; esac
      engine=0
      case "$preset-$dtype" in stories110M-f32|stories110M-q8_0) engine=1 ;; esac
      [ "$engine_only" = 1 ] && [ "$engine" = 0 ] && continue
      f=build/bench/models/$preset-$dtype.gguf
      if [ ! -f "$f" ]; then
        say "make-model $f"
        transfuse make-model --preset "$preset" --dtype "$dtype" "$f" >/dev/null 2>&1
      fi
      [ "$engine_only" = 0 ] && models+=("$preset-$dtype=$f")
      [ "$engine" = 1 ] && engine_models+=("$preset-$dtype=$f")
    done
  done
  # A Llama-3-size vocabulary (128,256 entries) on the stories110M body, Q4_K_M: the output head (Q6_K, 98M
  # values) then outweighs the 12 layers, as in Llama 3.2 1B/3B
  name=stories110M-v128k-q4_k_m
  [ "$engine_only" = 1 ] || case ",${only:-$name}," in *",$name,"*)
    f=build/bench/models/$name.gguf
    if [ ! -f "$f" ]; then
      say "make-model $f"
      transfuse make-model --preset stories110M --vocab 128256 --dtype q4_k_m "$f" >/dev/null 2>&1
    fi
    models+=("$name=$f") ;;
  esac
  prompt=128 gen=32 warmup=1 batch=16 warm_s=4
  # Engine rounds: short prompts and long generations, so that with 64 requests the prefill (chunked into
  # the model's 128-token passes beside the others' decode steps) ends well before the first request does
  eprompt=32 egen=64
fi

# The llama.cpp peer runs on the same files with the same settings, right after Transfuse on each
# file, so that both see the same load on this (possibly shared) machine.
peer=1
if [ "$smoke" = 1 ]; then
  peer=0; say "llama.cpp peer: skipped in --smoke (needs the npm package; rows get no peer)"
elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  peer=0
  say "llama.cpp peer: SKIPPED: node and npm are needed (install Node.js >= 20 with npm, e.g. apt-get install nodejs npm); rows get no peer"
else
  node_home=$root/build/bench/node
  if [ ! -d "$node_home/node_modules/node-llama-cpp" ]; then
    say "npm install node-llama-cpp into $node_home"
    mkdir -p "$node_home"
    [ -f "$node_home/package.json" ] || echo '{"name": "transfuse-bench-peers", "private": true}' >"$node_home/package.json"
    (cd "$node_home" && npm install --no-audit --no-fund node-llama-cpp@3.22.1 >"$root/$out/npm.log" 2>&1) || {
      echo "ci/bench.sh: npm install node-llama-cpp failed (log: $out/npm.log); is the npm registry reachable?" >&2; exit 1; }
  fi
fi

# Repetitions alternate between the engines (each one process per repetition, after its own
# warm-up), so that load from other work on a shared machine hits both alike.
for ((rep = 1; rep <= reps; rep++)); do
  for m in "${models[@]}"; do
    name=${m%%=*} file=${m#*=}
    say "transfuse bench $name (repetition $rep/$reps)"
    transfuse bench --model "$file" --threads "$threads" --prompt-tokens "$prompt" --gen-tokens "$gen" \
      --batch-sequences "$batch" --repetitions 1 --warmup "$warmup" --warmup-seconds "$warm_s" --json "$raw/transfuse-$name.rep$rep.json" | tail -n 4 >&2
    if [ "$peer" = 1 ]; then
      say "llama.cpp bench $name (repetition $rep/$reps)"
      TRANSFUSE_NODE_HOME=$node_home node ci/bench-llama.mjs "$file" --threads "$threads" --prompt "$prompt" \
        --gen "$gen" --reps 1 --warmup "$warmup" >"$raw/llama-$name.rep$rep.json"
    fi
  done
done

for ((rep = 1; rep <= reps; rep++)); do
  for m in "${engine_models[@]}"; do
    name=${m%%=*} file=${m#*=}
    say "transfuse bench --engine $name at concurrency $concurrency (repetition $rep/$reps)"
    transfuse bench --engine --model "$file" --threads "$threads" --concurrency "$concurrency" --prompt-tokens "$eprompt" \
      --gen-tokens "$egen" --repetitions 1 --warmup "$warmup" --warmup-seconds "$warm_s" \
      --json "$raw/engine-transfuse-$name.rep$rep.json" | tail -n +2 >&2
    if [ "$peer" = 1 ]; then
      say "llama.cpp batched $name at concurrency $concurrency (repetition $rep/$reps)"
      TRANSFUSE_NODE_HOME=$node_home node ci/bench-llama-batch.mjs "$file" --threads "$threads" --concurrency "$concurrency" \
        --prompt "$eprompt" --gen "$egen" --reps 1 --warmup "$warmup" >"$raw/engine-llama-$name.rep$rep.json"
    fi
  done
done

if [ "$engine_only" = 1 ]; then
  say "JMH op benchmarks: skipped (--engine-only)"
else
say "JMH op benchmarks"
jmh=("${java[@]}" -cp "java/bench/target/transfuse-bench.jar:java/bench/target/lib/*" org.openjdk.jmh.Main)
if [ "$smoke" = 1 ]; then
  "${jmh[@]}" -f 0 -wi 0 -i 1 -r 100ms -p dtype=Q8_0 -p tokens=1 -rf json -rff "$raw/jmh.json" MatmulBench >"$out/jmh.log" 2>&1
else
  "${jmh[@]}" -f 1 -wi 2 -w 300ms -i 3 -r 500ms -p threads="$threads" -rf json -rff "$raw/jmh.json" >"$out/jmh.log" 2>&1
fi || { tail -n 20 "$out/jmh.log" >&2; echo "ci/bench.sh: JMH failed (log: $out/jmh.log)" >&2; exit 1; }
fi

# Encoder rows: all-MiniLM-L6-v2 (32-token texts, batch 1 and 32) in Transfuse and ONNX Runtime Java on
# the same .onnx file, alternating in one JVM; writes $raw/encoder-minilm-batchB.json. --smoke: one
# short repetition of each (the same code path, both engines).
say "encoder: Transfuse vs ONNX Runtime Java (all-MiniLM-L6-v2)"
enc_args=("$raw" --threads "$threads" --reps "$reps")
[ "$smoke" = 1 ] && enc_args+=(--smoke)
"${java[@]}" -cp "java/bench/target/transfuse-bench.jar:java/bench/target/lib/*" io.transfuse.encoders.EncoderVsOnnxRuntime \
  "${enc_args[@]}" 2>"$out/encoder.log" || { tail -n 20 "$out/encoder.log" >&2; echo "ci/bench.sh: encoder benchmark failed (log: $out/encoder.log)" >&2; exit 1; }
grep -E '^minilm' "$out/encoder.log" >&2 || true

# Spark row: the same model file the encoder rows extracted; Spark's JDK 25 options as the module's tests use them
# (java/spark/pom.xml spark.jdk25.options, filtered into the test classes); Spark on the loopback address only.
if [ "$engine_only" = 0 ]; then
say "Spark: MiniLM through TransfuseEmbedder on local[2] beside the model directly"
spark_cp="java/spark/target/test-classes:java/spark/target/classes:$(cat java/spark/target/test-classpath.txt)"
read -r -a spark_opts <java/spark/target/test-classes/spark-jvm-options.txt
spark_args=("$raw" --model build/bench/encoders/all-minilm-l6-v2/model.onnx --threads "$threads" --reps "$reps")
[ "$smoke" = 1 ] && spark_args+=(--smoke)
SPARK_LOCAL_IP=127.0.0.1 "${java[@]}" "${spark_opts[@]}" -cp "$spark_cp" io.transfuse.spark.SparkEmbeddingBench "${spark_args[@]}" \
  2>"$out/spark.log" || { tail -n 20 "$out/spark.log" >&2; echo "ci/bench.sh: Spark benchmark failed (log: $out/spark.log)" >&2; exit 1; }
grep -E '^minilm spark' "$out/spark.log" >&2 || true
fi

say "report"
# A smoke run (one short repetition, tiny models) is not comparable with the baseline: no regression check.
baseline=ci/bench-baseline.json
[ "$smoke" = 1 ] && baseline=none
"$JAVA_HOME/bin/java" -cp "java/cli/target/lib/*" ci/BenchReport.java "$raw" "$out/bench-results.json" "$baseline"
echo "$root/$out/bench-results.json"
