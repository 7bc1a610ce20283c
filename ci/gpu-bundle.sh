#!/usr/bin/env bash
# Builds the GPU kit: everything ci/gpu-test.sh needs on a GPU machine that has the CUDA toolkit but no
# Java, no Maven and no network (the lent H200). Runs here, needs no GPU. Output (an ignored folder):
#   runtime.tar.xz   a jlinked Java 25 runtime with only the modules the jars need (xz -1: 86 -> 24 MiB;
#                    cached under build/gpu-bundle-cache by JDK and module list, as packing takes a while)
#   lib/             the project's jars, their runtime dependencies (JCuda with its runtime and driver natives
#                    only), the test jars and test dependencies, JUnit Platform's console launcher
#   models/          the models the GPU tests load (stories260K; the others are made on the spot)
#   MANIFEST         what is inside: versions, commit, modules, every file with its size and sha256
# The last line printed is the kit's folder. Size limit: 48 MiB (the working tree that travels is 64 MiB).
#   usage: ci/gpu-bundle.sh [KIT_DIR]        (default build/gpu-bundle)
#   TRANSFUSE_MVN_ARGS="-o" passes extra Maven arguments (offline builds).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
kit=${1:-$root/build/gpu-bundle}
max_mib=48
. ci/find-jdk.sh
transfuse_find_jdk
command -v mvn >/dev/null || { echo "gpu-bundle: Maven (mvn) not found; install Apache Maven >= 3.8." >&2; exit 1; }
say() { echo "gpu-bundle: $*" >&2; }

# 1. Jars, test classes and the test classpath of java/cuda (its GPU tests and their dependencies).
say "building jars (mvn package, tests skipped)"
# shellcheck disable=SC2086
mvn -B -q ${TRANSFUSE_MVN_ARGS:-} -DskipTests -Dmaven.source.skip=true -Dmaven.javadoc.skip=true -pl java/cli,java/cuda -am package dependency:build-classpath \
  -Dmdep.includeScope=test -Dmdep.outputFile=target/gpu-kit.classpath >"$root/build/gpu-bundle.mvn.log" 2>&1 ||
  { tail -n 30 "$root/build/gpu-bundle.mvn.log" >&2; say "Maven build failed (log: build/gpu-bundle.mvn.log)"; exit 1; }

rm -rf "$kit"
mkdir -p "$kit/lib" "$kit/models"
# Left out on purpose: ONNX Runtime and the MiniLM/BGE model jars (the CI-only agreement tests use them; 100+ MiB),
# JCublas (cuBLAS is bound through Panama), and what only `serve` (Helidon, Prometheus) and chat templates
# (Jinjava with Guava and its other dependencies) need: the GPU run generates from a model without a chat template
# and serves nothing, and the working tree plus the kit must stay within the 64 MiB that travel.
skip='^(onnxruntime|langchain4j-embeddings|jcublas|transfuse-server|helidon-|prometheus-|jinjava|guava|failureaccess|listenablefuture|javassist|commons-lang3|commons-net|snakeyaml|jackson-dataformat-yaml|jackson-datatype-jdk8|re2j|hubspot-style|immutable-collection-encodings|immutables-exceptions|derive4j-annotation|algebra-|big-math|java-ipv6|checker-qual|error_prone_annotations|j2objc-annotations|encode-)'
IFS=: read -r -a deps <"java/cuda/target/gpu-kit.classpath" || true  # no newline at its end
for jar in "${deps[@]}" java/cli/target/transfuse-cli.jar java/cli/target/lib/*.jar; do  # the CLI and all it needs (picocli, JLine, ...)
  [ -f "$jar" ] || continue
  name=$(basename "$jar")
  [[ $name =~ $skip ]] && continue
  cp "$jar" "$kit/lib/$name"
done
for jar in java/cuda/target/transfuse-cuda-*.jar; do  # the jar itself: not the sources or javadoc of an earlier install
  case $jar in *-sources.jar|*-javadoc.jar) ;; *) cp "$jar" "$kit/lib/" ;; esac
done
(cd java/cuda/target/test-classes && "$JAVA_HOME/bin/jar" --create --file "$kit/lib/transfuse-cuda-tests.jar" .)
# jar_without JAR PATTERN...: rewrites JAR without the entries matching the patterns (the JDK's jar tool cannot
# delete; zip may be missing). The jar's own manifest is kept as it is (--no-manifest: none generated).
jar_without() {
  local jar=$1 tmp; shift
  tmp=$(mktemp -d)
  (cd "$tmp" && "$JAVA_HOME/bin/jar" --extract --file "$jar" && for pattern in "$@"; do rm -rf $pattern; done &&
    "$JAVA_HOME/bin/jar" --create --no-manifest --file "$jar.new" .)
  mv "$jar.new" "$jar"
  rm -rf "$tmp"
}
# JCuda's natives jar holds the NVRTC and PTX-compiler bindings too (24 MiB): keep the runtime and driver ones.
for natives in "$kit"/lib/jcuda-natives-*.jar; do
  jar_without "$natives" 'lib/libJNvPTXCompiler-*' 'lib/libJNvrtc-*'
done
# Core's test jar: the kit's tests load only MiniLM's tokenizer of its fixtures (RandomBert); the other tokenizers,
# llama.cpp's logits and the chat renderings are 10 MiB.
for tests in "$kit"/lib/transfuse-core-*-tests.jar; do
  jar_without "$tests" tokenizers/qwen3-tokenizer.json.gz tokenizers/gpt2-tokenizer.json.gz \
    tokenizers/llama2-tokenizer.json.gz tokenizers/bge-small-en-v1.5-tokenizer.json.gz \
    tokenizers/llama3-tokenizer.json.gz tokenizers/gemma3-tokenizer.json.gz llamacpp chat
done
if ! unzip -l "$kit"/lib/transfuse-cuda-[0-9]*.jar | grep -q 'libtransfuse_cuda.so'; then
  say "warning: transfuse-cuda's jar has no libtransfuse_cuda.so (built without nvcc or with TRANSFUSE_SKIP_NVCC=1);"
  say "         on the GPU ci/gpu-test.sh uses the one it builds (step b)"
fi
cp -r models/stories260K "$kit/models/"

# 2. The Java runtime: the modules the jars need (jdeps) plus java.logging and java.xml (JUnit's launcher loads
#    them), jdk.zipfs (JUnit scans test jars through the "jar" file system) and java.desktop (images: ViT).
# jdeps per jar: one named module whose requirement is not resolvable (jackson-dataformat-yaml -> snakeyaml)
# would fail a run over all jars at once; lines that are not a module list (jdeps' errors) are dropped
modules=$(for j in "$kit"/lib/*.jar; do
  "$JAVA_HOME/bin/jdeps" --ignore-missing-deps --print-module-deps --multi-release 25 -q --class-path "$kit/lib/*" "$j" 2>/dev/null || true
done | grep -E '^[A-Za-z0-9._]+(,[A-Za-z0-9._]+)*$' | paste -sd, || true)
# Development-time modules some libraries reference on paths the kit never takes (javassist via Jinjava: the
# debugger and agent interfaces) would add 20 MiB to the runtime: left out.
modules=$(echo "$modules" | tr ',' '\n' | grep -vE '^(jdk\.jdi|jdk\.attach|java\.instrument|java\.compiler)$' | paste -sd, || true)
modules=$(echo "java.base,java.desktop,java.logging,java.xml,jdk.unsupported,jdk.zipfs,${modules}" | tr ',' '\n' | grep -v '^$' | sort -u | paste -sd,)
say "jlink: $modules"
cache=$root/build/gpu-bundle-cache
key=$( ("$JAVA_HOME/bin/java" -version 2>&1; echo "$modules") | sha256sum | cut -c1-16)
if [ ! -f "$cache/runtime-$key.tar.xz" ]; then
  rm -rf "$cache" && mkdir -p "$cache"
  # Uncompressed modules (zip-0): xz packs them far better than jlink's own zip does.
  "$JAVA_HOME/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --compress zip-0 \
    --output "$cache/runtime"
  strip --strip-unneeded "$cache"/runtime/lib/server/libjvm.so 2>/dev/null || true
  "$cache/runtime/bin/java" -version >/dev/null 2>&1 || { say "the jlinked runtime does not start"; exit 1; }
  say "packing the runtime (xz)"
  tar -C "$cache" -cf - runtime | xz -T0 -1 >"$cache/runtime-$key.tar.xz.part"
  mv "$cache/runtime-$key.tar.xz.part" "$cache/runtime-$key.tar.xz"
  rm -rf "$cache/runtime"
fi
cp "$cache/runtime-$key.tar.xz" "$kit/runtime.tar.xz"

# 3. Manifest, then the size check.
{
  echo "Transfuse GPU kit"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "java: $("$JAVA_HOME/bin/java" -version 2>&1 | head -n 1), jlinked modules: $modules"
  echo "nvcc here: $(command -v nvcc >/dev/null && nvcc --version | tail -n 1 || echo none)"
  echo "natives: $(unzip -l "$kit"/lib/transfuse-cuda-[0-9]*.jar | grep -o 'native/[^ ]*\.so' | tr '\n' ' ')"
  echo "files (bytes, sha256):"
  (cd "$kit" && find . -type f ! -name MANIFEST | sort | while read -r f; do
    printf '  %s %s %s\n' "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -c1-16)"; done)
} >"$kit/MANIFEST"
size_kib=$(du -sk "$kit" | cut -f1)
say "kit size: $((size_kib / 1024)) MiB ($size_kib KiB), limit $max_mib MiB"
if [ "$size_kib" -gt $((max_mib * 1024)) ]; then
  say "the kit is over $max_mib MiB; see $kit/MANIFEST for what is inside"
  exit 1
fi
echo "$kit"
