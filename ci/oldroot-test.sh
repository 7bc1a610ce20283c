#!/usr/bin/env bash
# ci/oldroot-test.sh [--jar JAR] [--native-dir DIR] [--self-test]: loads the shipped native library under an older
# glibc and checks that it computes what it computes on the host (issue 19: the jars must load on old systems).
#
# How: Debian 11's libc6 package (glibc 2.31; Debian 10's 2.28 is no longer on deb.debian.org) is fetched once into
# build/oldroot/ and unpacked with dpkg-deb. The host's JDK is then started through that package's dynamic loader
# (ld-2.31.so --library-path <its lib dir> java ...), so the JVM and every library it loads, ours included, bind
# against glibc 2.31 and fail to load if they need a newer symbol. No chroot, root or debootstrap is needed: the
# JDK itself only needs libc, libm, libdl, libpthread and librt, all in libc6. The command is `transfuse generate`
# on the bundled stories260K (greedy, so the text is fixed); its stdout must equal the same command on the host,
# and the loader's own log (LD_DEBUG=libs) must show libtransfuse_cpu.so initialised against the old libc.
#
# Before that, a canary proves the old root rejects what it should: the real library wrapped by a small one that
# calls arc4random (GLIBC_2.36) must fail to load there. --self-test runs only the canary, with the whole check
# (host run, then old root) on it, and exits 0 when the check failed as it must.
#
# Downloads are verified: InRelease by its OpenPGP signature (gpgv with Debian's bullseye keys, when installed),
# Packages.xz by its SHA256 in InRelease, the .deb by its SHA256 in Packages. When the mirror cannot be reached
# this prints one SKIP line and exits 0 (a network outage is not a failure of ours); a checksum or signature
# mismatch, and any failure to load or run, exits 1. TRANSFUSE_DEBIAN_MIRROR overrides the mirror.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
caller_dir=$PWD
cd "$root"
. ci/find-jdk.sh
transfuse_find_jdk

default_jar=java/cli/target/transfuse-cli.jar
jar=$default_jar
native_dir=""
self_test=false
while [ $# -gt 0 ]; do
  case "$1" in
    --jar) jar=$(cd "$caller_dir" && readlink -f "${2:?--jar needs a path}"); shift 2 ;;
    --native-dir) native_dir=$(cd "$caller_dir" && readlink -f "${2:?--native-dir needs a directory}"); shift 2 ;;
    --self-test) self_test=true; shift ;;
    *) echo "usage: ci/oldroot-test.sh [--jar JAR] [--native-dir DIR] [--self-test]" >&2; exit 2 ;;
  esac
done
mirror=${TRANSFUSE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bullseye
cache=build/oldroot
say() { echo "oldroot-test: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
skip() { echo "SKIP: ci/oldroot-test.sh: $* (the load test under Debian $suite's glibc did not run)"; exit 0; }

for tool in curl xz; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done
command -v dpkg-deb >/dev/null || command -v ar >/dev/null || skip "neither dpkg-deb nor ar (binutils) is installed to unpack a .deb"

if [ ! -f "$jar" ]; then
  [ "$jar" = "$default_jar" ] || fail "$jar: no such file (--jar)"
  say "$jar not found; building it (mvn package, tests and GPU kernels skipped)"
  mvn -B -q -DskipTests -Dmaven.source.skip=true -Dmaven.javadoc.skip=true -Dtransfuse.cuda=false -pl java/cli -am package \
    >build/oldroot-mvn.log 2>&1 || { tail -n 30 build/oldroot-mvn.log >&2; fail "Maven build failed (log: build/oldroot-mvn.log)"; }
fi
jar=$(readlink -f "$jar")
ls "$(dirname "$jar")"/lib/transfuse-core-*.jar >/dev/null 2>&1 || fail "no lib/transfuse-core-*.jar beside $jar (the CLI jar's class path)"
[ -z "$native_dir" ] || [ -d "$native_dir" ] || fail "$native_dir: no such directory (--native-dir)"

# --- the old root: Debian 11's libc6, verified, unpacked once --------------------------------------------------
fetch() {  # fetch URL FILE: downloads, or SKIPs when the mirror is unreachable
  curl -fsS --retry 2 --connect-timeout 15 --max-time 300 -o "$2.part" "$1" 2>"$cache/curl.err" ||
    skip "cannot download $1: $(tail -n 1 "$cache/curl.err")"
  mv "$2.part" "$2"
}
sha256_is() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ] || fail "$1: SHA256 is not $2 (named by $3)"; }
libdir=$cache/root/lib/x86_64-linux-gnu
if [ ! -f "$cache/root/.verified" ]; then
  mkdir -p "$cache"
  rm -rf "$cache/root"
  fetch "$mirror/dists/$suite/InRelease" "$cache/InRelease"
  keyrings=()
  for k in /usr/share/keyrings/debian-archive-keyring.gpg /usr/share/keyrings/debian-archive-$suite-*.gpg; do
    [ -f "$k" ] && keyrings+=(--keyring "$k")
  done
  if command -v gpgv >/dev/null && [ ${#keyrings[@]} -gt 0 ]; then
    # As apt does: one good signature by a key we hold suffices (InRelease is also signed with newer releases' keys,
    # which an older keyring lacks), and any bad one fails.
    gpgv --status-fd 1 "${keyrings[@]}" "$cache/InRelease" >"$cache/gpgv.status" 2>"$cache/gpgv.out" || true
    if grep -q '^\[GNUPG:\] BADSIG' "$cache/gpgv.status" || ! grep -q '^\[GNUPG:\] VALIDSIG' "$cache/gpgv.status"; then
      cat "$cache/gpgv.out" >&2; fail "$cache/InRelease: no good OpenPGP signature by a Debian archive key"
    fi
  else
    say "note: InRelease signature not checked (no gpgv, or no /usr/share/keyrings/debian-archive-*.gpg: package debian-archive-keyring)"
  fi
  packages_sha=$(awk '/^SHA256:/{s=1; next} /^[^ ]/{s=0} s && $3 == "main/binary-amd64/Packages.xz" {print $1}' "$cache/InRelease")
  [ -n "$packages_sha" ] || fail "$cache/InRelease names no SHA256 for main/binary-amd64/Packages.xz"
  fetch "$mirror/dists/$suite/main/binary-amd64/Packages.xz" "$cache/Packages.xz"
  sha256_is "$cache/Packages.xz" "$packages_sha" "$cache/InRelease"
  # The libc6 stanza: its pool file name and SHA256.
  read -r deb_path deb_sha < <(xz -dc "$cache/Packages.xz" | awk '
    /^Package: / {p = ($2 == "libc6")} p && /^Filename: / {f = $2} p && /^SHA256: / {s = $2}
    /^$/ && p && f != "" {print f, s; exit}') || true
  [ -n "${deb_path:-}" ] && [ -n "${deb_sha:-}" ] || fail "$cache/Packages.xz has no libc6 with a Filename and SHA256"
  deb=$cache/$(basename "$deb_path")
  fetch "$mirror/$deb_path" "$deb"
  sha256_is "$deb" "$deb_sha" "$cache/Packages.xz"
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$deb" "$cache/root"
  else  # a .deb is an ar archive whose data.tar.* holds the files
    mkdir -p "$cache/root"
    ar t "$deb" | grep -qx 'data\.tar\.xz' || fail "$deb has no data.tar.xz member"
    ar p "$deb" data.tar.xz | xz -dc | tar -x -C "$cache/root"
  fi
  echo "$deb_path $deb_sha" >"$cache/root/.verified"
fi
loader=$(ls "$libdir"/ld-2.*.so 2>/dev/null | head -n 1)  # lib64/ld-linux-x86-64.so.2 is an absolute link: the host's
[ -n "$loader" ] || fail "no ld-2.*.so in $libdir (remove $cache to fetch it again)"
old_glibc=$(basename "$loader" .so); old_glibc=${old_glibc#ld-}
libdir=$(readlink -f "$libdir")

# --- the runs -----------------------------------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/transfuse-oldroot.XXXXXX")
trap 'rm -rf "$work"' EXIT
generate_args=(generate --threads 2 --max-tokens 48 --temperature 0 "Once upon a time")
# run_generate NAME DEVICE NATIVE_DIR [OLD]: stdout to $work/NAME.out, stderr to $work/NAME.err, loader log to $work/NAME.ld.*
run_generate() {
  local name=$1 device=$2 dir=$3 old=${4:-} props=()
  [ -n "$dir" ] && props+=("-Dtransfuse.native.path=$dir")
  local java=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Dtransfuse.home="$root" "${props[@]}" -jar "$jar" "${generate_args[@]}" --device "$device")
  if [ -n "$old" ]; then
    LD_DEBUG=libs LD_DEBUG_OUTPUT="$work/$name.ld" "$loader" --library-path "$libdir" "${java[@]}" >"$work/$name.out" 2>"$work/$name.err"
  else
    "${java[@]}" >"$work/$name.out" 2>"$work/$name.err"
  fi
}
# check NAME DEVICE LIBRARY NATIVE_DIR: the host run, then the old-root run with the same natives, on DEVICE (cpu
# loads libtransfuse_cpu, cuda-emu libtransfuse_emu: LIBRARY); returns 1 (after saying why) on any difference or failure.
check() {
  local name=$1 device=$2 library=$3 dir=$4
  run_generate "$name-host" "$device" "$dir" || { cat "$work/$name-host.err" >&2; say "$name: generate fails on the host"; return 1; }
  [ -s "$work/$name-host.out" ] || { say "$name: generate printed nothing on the host"; return 1; }
  if ! run_generate "$name-old" "$device" "$dir" old; then
    tail -n 5 "$work/$name-old.err" >&2
    # The loader's reason (a version not found), which java.lang.foreign does not pass on.
    grep -h -m 3 -E "version .* not found|error while loading|cannot open" "$work/$name-old.ld".* >&2 2>/dev/null || true
    say "$name: generate fails under glibc $old_glibc"
    return 1
  fi
  # The loader's log: our library was initialised, and the only libc that was is the old one.
  grep -hq "calling init: .*$library\.so" "$work/$name-old.ld".* || { say "$name: the loader's log shows no $library.so"; return 1; }
  local libcs
  libcs=$(grep -ho "calling init: .*/libc\.so\.6" "$work/$name-old.ld".* | sort -u)
  [ "$libcs" = "calling init: $libdir/libc.so.6" ] || { say "$name: the JVM did not run on the old libc alone: $libcs"; return 1; }
  cmp -s "$work/$name-host.out" "$work/$name-old.out" || {
    diff "$work/$name-host.out" "$work/$name-old.out" >&2 || true
    say "$name: generate's output under glibc $old_glibc differs from the host's"; return 1; }
}

# The canary: the real library (from the jar) behind a wrapper that needs arc4random@GLIBC_2.36. The wrapper names
# the real one as NEEDED (found through its RUNPATH), and java.lang.foreign's lookup in the wrapper searches its
# dependencies too, so on the host the wrapper works exactly as the real library does.
canary_dir=$work/canary
mkdir -p "$canary_dir/real"
(cd "$canary_dir/real" && "$JAVA_HOME/bin/jar" --extract --file "$(ls "$(dirname "$jar")"/lib/transfuse-core-*.jar | grep -v -e sources -e javadoc -e tests | head -n 1)" \
  native/linux-x86_64/libtransfuse_cpu.so && mv native/linux-x86_64/libtransfuse_cpu.so . && rm -r native)
printf '#include <stdlib.h>\n/* arc4random is new in glibc 2.36. */\nunsigned transfuse_canary_needs_glibc_2_36(void) { return arc4random(); }\n' >"$canary_dir/canary.c"
# It builds only where the C library has arc4random at GLIBC_2.36 (glibc >= 2.36), which is where it matters.
if ${CC:-cc} -shared -fPIC -o "$canary_dir/libtransfuse_cpu.so" "$canary_dir/canary.c" -L"$canary_dir/real" \
     -Wl,--no-as-needed -l:libtransfuse_cpu.so -Wl,-rpath,'$ORIGIN/real' 2>"$work/canary-cc.err" &&
   objdump -T "$canary_dir/libtransfuse_cpu.so" | grep -q "GLIBC_2\.36.*arc4random"; then
  if $self_test; then
    if check canary cpu libtransfuse_cpu "$canary_dir"; then fail "self-test: the canary (needs GLIBC_2.36) passed under glibc $old_glibc"; fi
    say "self-test: ok: the check fails, as it must, on a library that needs GLIBC_2.36"
    exit 0
  fi
  run_generate canary-old cpu "$canary_dir" old &&
    fail "the canary library (needs GLIBC_2.36 for arc4random) loaded under glibc $old_glibc: the old root is not in effect"
  grep -hq "GLIBC_2.36' not found" "$work/canary-old.ld".* "$work/canary-old.err" 2>/dev/null ||
    { tail -n 5 "$work/canary-old.err" >&2; fail "the canary failed under glibc $old_glibc, but not for its GLIBC_2.36 symbol"; }
  say "canary: a library needing GLIBC_2.36 fails to load under glibc $old_glibc, as it must"
else
  $self_test && { cat "$work/canary-cc.err" >&2; fail "self-test: cannot build a library that needs arc4random@GLIBC_2.36 here (\$CC or cc, glibc >= 2.36, objdump)"; }
  say "note: no canary (cannot build a library needing arc4random@GLIBC_2.36 here: no cc, glibc < 2.36 or no objdump)"
fi

# The shipped libraries: libtransfuse_cpu (core's jar) and libtransfuse_emu (the CUDA backend's jar, on the host
# emulator). libtransfuse_cuda needs a GPU driver and is left to ci/glibc-check.sh.
for device in cpu cuda-emu; do
  library=libtransfuse_cpu; [ "$device" = cuda-emu ] && library=libtransfuse_emu
  check "$device" "$device" "$library" "$native_dir" || fail "$library does not work under glibc $old_glibc (jar $jar${native_dir:+, natives $native_dir})"
  echo "oldroot-test: ok: generate --device $device ($library) under glibc $old_glibc (Debian $suite, $(cut -d' ' -f1 "$cache/root/.verified" | xargs basename)) prints what it prints on the host ($(wc -c <"$work/$device-host.out") bytes)"
done
