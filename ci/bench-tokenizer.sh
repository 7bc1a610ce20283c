#!/usr/bin/env bash
# Tokenizer scaling (issue 19): encodes one text of 1k, 10k and 100k words with real vocabularies (Llama 2's
# SentencePiece pieces as a GGUF "llama" vocabulary, Llama 3's byte-level BPE as GGUF "gpt2", and the Llama 3 and
# Llama 2 tokenizer.json files and the T5/XLM-R-layout SentencePiece Unigram ones from
# java/core/src/test/resources/tokenizers) and prints a Markdown table of
# seconds, microseconds per word, CPU seconds of the encoding thread and megabytes allocated. Linear growth
# shows as a flat per-word time. Target: 100k words in under 2 s.
#
#   ci/bench-tokenizer.sh [--words 1000,10000,100000] [--only gguf-llama,gguf-gpt2,json-llama3,json-llama2,json-t5,json-xlmr]
#                         [--max-seconds S] [--reps N]
#
# The arguments go to io.transfuse.tokenizers.TokenizerScaling (java/bench). No network, no model files.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
case "${1:-}" in -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
. ci/find-jdk.sh
transfuse_find_jdk
command -v mvn >/dev/null || { echo "ci/bench-tokenizer.sh: Maven (mvn) not found; install Apache Maven >= 3.8." >&2; exit 1; }
mkdir -p build/bench
echo "== build (log: build/bench/tokenizer-build.log)" >&2
if ! TRANSFUSE_SKIP_NVCC=1 mvn -B -DskipTests -pl java/bench -am package >build/bench/tokenizer-build.log 2>&1; then
  grep -E '^\[ERROR\]' build/bench/tokenizer-build.log | head -n 20 >&2
  echo "ci/bench-tokenizer.sh: build failed; full log in build/bench/tokenizer-build.log" >&2
  exit 1
fi
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "java/bench/target/transfuse-bench.jar:java/bench/target/lib/*" \
  io.transfuse.tokenizers.TokenizerScaling --fixtures java/core/src/test/resources/tokenizers "$@"
