#!/usr/bin/env bash
# Regenerates llama.cpp's reference outputs for the Llama-family architecture tests
# (java/core/src/test/resources/llama-cpp/*.json.gz): for every tiny preset of `transfuse make-model`
# (random weights, seed 1) in each TYPE, llama.cpp (npm node-llama-cpp, prebuilt CPU build, installed by
# ci/bench.sh under build/bench/node) teacher-forces the test prompt and records its logits at every
# position and 8 greedy tokens after it (ci/llama-logits.mjs). Needs the network only to install node-llama-cpp.
#   usage: ci/llama-fixtures.sh [PRESET...]     (default: all Llama-family tiny presets)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. ci/find-jdk.sh
transfuse_find_jdk
node_home=${TRANSFUSE_NODE_HOME:-build/bench/node}
[ -d "$node_home/node_modules/node-llama-cpp" ] || { echo "llama-fixtures: no node-llama-cpp under $node_home (run ci/bench.sh once, or set TRANSFUSE_NODE_HOME)" >&2; exit 1; }
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(llama3-tiny mistral-tiny qwen2-tiny qwen3-tiny gemma-tiny gemma2-tiny gemma3-tiny phi3-tiny)
# The test prompt: BOS, then 23 ids spread over the 512-token vocabulary (LlamaVariantsLlamaCppTest.PROMPT).
tokens=1,45,300,77,12,400,263,5,99,310,150,61,222,480,33,270,19,350,90,130,444,8,201,377
mvn -B -q -o -pl java/cli -am package -DskipTests >/dev/null
java=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "java/cli/target/transfuse-cli.jar:java/cli/target/lib/*" io.transfuse.cli.Main)
out=java/core/src/test/resources/llamacpp/variants
mkdir -p build/llama-fixtures "$out"
for p in "${presets[@]}"; do
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
