#!/usr/bin/env bash
# Regenerates llama.cpp's reference outputs for the Llama-family architecture tests
# (java/core/src/test/resources/llama-cpp/*.json.gz): for every tiny preset of `transfuse make-model`
# (random weights, seed 1) in each TYPE, llama.cpp (npm node-llama-cpp, prebuilt CPU build, installed by
# ci/bench.sh under build/bench/node) teacher-forces the test prompt and records its logits at every
# position and 8 greedy tokens after it (ci/llama-logits.mjs). Needs the network only to install node-llama-cpp.
# Then (java/core/src/test/resources/llamacpp/quantized) files quantised by llama.cpp itself (its
# llama_model_quantize, through Panama: ci/LlamaQuantize.java) from make-model's F32 files: the one-layer micro
# presets as GGUF (small enough to commit) with llama.cpp's logits on them, and llama.cpp's per-tensor type choices
# for larger models (ci/gguf-tensor-types.mjs; the files themselves are not kept).
#   usage: ci/llama-fixtures.sh [PRESET...]        (default: all Llama-family tiny presets, then the quantized part)
#          ci/llama-fixtures.sh --llama-quantized  (only the llama.cpp-quantised part)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. ci/find-jdk.sh
transfuse_find_jdk
node_home=${TRANSFUSE_NODE_HOME:-build/bench/node}
[ -d "$node_home/node_modules/node-llama-cpp" ] || { echo "llama-fixtures: no node-llama-cpp under $node_home (run ci/bench.sh once, or set TRANSFUSE_NODE_HOME)" >&2; exit 1; }
quantized=all
if [ "${1:-}" = --llama-quantized ]; then quantized=only; shift; elif [ $# -gt 0 ]; then quantized=no; fi
presets=("$@")
[ "$quantized" = only ] || [ ${#presets[@]} -gt 0 ] || presets=(llama3-tiny mistral-tiny qwen2-tiny qwen3-tiny gemma-tiny gemma2-tiny gemma3-tiny phi3-tiny)
# The test prompt: BOS, then 23 ids spread over the 512-token vocabulary (LlamaVariantsLlamaCppTest.PROMPT).
tokens=1,45,300,77,12,400,263,5,99,310,150,61,222,480,33,270,19,350,90,130,444,8,201,377
mvn -B -q -o -pl java/cli -am package -DskipTests -Dmaven.source.skip=true -Dmaven.javadoc.skip=true >/dev/null
java=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "java/cli/target/transfuse-cli.jar:java/cli/target/lib/*" io.transfuse.cli.Main)
out=java/core/src/test/resources/llamacpp/variants
mkdir -p build/llama-fixtures "$out"
for p in "${presets[@]+"${presets[@]}"}"; do
  # f32 and q8_0 as make-model writes them; K-quants made from the f32 file by `transfuse quantize` (our blocks,
  # llama.cpp's per-tensor preset rules)
  types=(f32 q8_0 q4_k_m q5_k_m q6_k)
  for t in "${types[@]}"; do
    f=build/llama-fixtures/$p-$t.gguf
    case "$t" in
      f32|q8_0) "${java[@]}" make-model --preset "$p" --dtype "$t" --seed 1 "$f" >/dev/null ;;
      *) "${java[@]}" quantize "build/llama-fixtures/$p-f32.gguf" "$f" "$t" >/dev/null 2>&1 ;;
    esac
    TRANSFUSE_NODE_HOME="$node_home" node ci/llama-logits.mjs "$f" --tokens "$tokens" --gen 8 --ctx 256 | gzip -9n >"$out/$p-$t.json.gz"
    echo "llama-fixtures: $out/$p-$t.json.gz"
  done
done

[ "$quantized" != no ] || exit 0
# libllama of the same node-llama-cpp build (prebuilt CPU binaries, libggml*.so beside it)
lib=$(ls "$node_home"/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libllama*.so | head -1)
llama_quantize=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED ci/LlamaQuantize.java "$lib")
q=java/core/src/test/resources/llamacpp/quantized
mkdir -p build/llama-fixtures/quantized "$q"
b=build/llama-fixtures/quantized
# The micro presets' prompt: BOS, then 23 ids below their 260-token vocabulary (LlamaCppQuantizedFilesTest.PROMPT).
micro_tokens=1,45,200,77,12,150,233,5,99,210,141,61,222,180,33,170,19,250,90,130,244,8,201,177
for f in llama3-micro:q4_k_m llama3-micro:q6_k gemma2-micro:q5_k_m; do
  p=${f%%:*} t=${f#*:}
  "${java[@]}" make-model --preset "$p" --dtype f32 --seed 1 "$b/$p-f32.gguf" >/dev/null
  "${llama_quantize[@]}" "$b/$p-f32.gguf" "$b/$p-$t.gguf" "$t" 2>/dev/null
  gzip -9nc "$b/$p-$t.gguf" >"$q/$p-$t.gguf.gz"
  TRANSFUSE_NODE_HOME="$node_home" node ci/llama-logits.mjs "$b/$p-$t.gguf" --tokens "$micro_tokens" --gen 8 --ctx 256 | gzip -9n >"$q/$p-$t.json.gz"
  echo "llama-fixtures: $q/$p-$t.gguf.gz and .json.gz"
done
# llama.cpp's per-tensor types: every tiny preset (2 layers; phi3's fused attn_qkv), kquant-tiny (4 layers, so
# use_more_bits differs between layers) and kquant-tiny with dim 288 (rows no K-quant block divides: fallbacks)
pairs=()
for m in llama3-tiny mistral-tiny qwen2-tiny qwen3-tiny gemma-tiny gemma2-tiny gemma3-tiny phi3-tiny llama3-micro gemma2-micro kquant-tiny kquant-tiny-dim288; do
  case "$m" in
    kquant-tiny-dim288) "${java[@]}" make-model --preset kquant-tiny --dim 288 --seed 1 "$b/$m-f32.gguf" >/dev/null 2>&1 ;;
    *) "${java[@]}" make-model --preset "$m" --dtype f32 --seed 1 "$b/$m-f32.gguf" >/dev/null 2>&1 ;;
  esac
  for t in q8_0 q4_k_m q5_k_m q6_k; do
    "${llama_quantize[@]}" "$b/$m-f32.gguf" "$b/$m-$t.gguf" "$t" 2>/dev/null
    pairs+=("$m/$t=$b/$m-$t.gguf")
  done
done
TRANSFUSE_NODE_HOME="$node_home" node ci/gguf-tensor-types.mjs "${pairs[@]}" | gzip -9n >"$q/tensor-types.json.gz"
echo "llama-fixtures: $q/tensor-types.json.gz"
