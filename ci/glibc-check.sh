#!/usr/bin/env bash
# ci/glibc-check.sh [--max 2.28] LIB...: fails when a shipped native library needs a glibc newer than the
# baseline (issue 19: the jars must load on glibc >= 2.28, e.g. Debian 10, RHEL 8, Ubuntu 20.04).
#
# Reads each library's dynamic symbol table (objdump -T) and version needs (readelf -V): every GLIBC_x.y
# (and GLIBCXX_/CXXABI_, which would mean a dynamic libstdc++) above the baseline is printed with the
# library and the symbols that need it. Also fails on a NEEDED library outside glibc's own (libgomp,
# libstdc++, libgcc_s ...), which an older system may not have. Exit status 0 when all pass.
set -euo pipefail
max=2.28
if [ "${1:-}" = --max ]; then max=${2:?--max needs a version}; shift 2; fi
[ $# -gt 0 ] || { echo "usage: ci/glibc-check.sh [--max 2.28] LIB..." >&2; exit 2; }
command -v objdump >/dev/null && command -v readelf >/dev/null || { echo "ci/glibc-check.sh: objdump and readelf (binutils) are needed" >&2; exit 1; }

newer() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n 1)" = "$1" ] && [ "$1" != "$2" ]; }  # $1 > $2
status=0
for lib in "$@"; do
  [ -f "$lib" ] || { echo "ci/glibc-check.sh: $lib: no such file" >&2; status=1; continue; }
  name=$(basename "$lib")
  highest=0 bad=0
  # "... (GLIBC_2.34) pthread_create" or "... GLIBC_2.34 pthread_create": version and symbol
  while read -r ver sym; do
    v=${ver#GLIBC_}
    if newer "$v" "$highest"; then highest=$v; fi
    if newer "$v" "$max"; then echo "$name: needs GLIBC_$v for $sym (baseline $max)" >&2; bad=1; fi
  done < <(objdump -T "$lib" | grep -oE '\(?GLIBC_[0-9.]+\)?\s+\S+$' | tr -d '()' | sort -u)
  if objdump -T "$lib" | grep -qE 'GLIBCXX_|CXXABI_'; then
    echo "$name: links libstdc++ dynamically: $(objdump -T "$lib" | grep -oE '(GLIBCXX|CXXABI)_[0-9.]+\s+\S+$' | head -n 3 | tr '\n' ' ')" >&2
    bad=1
  fi
  for needed in $(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    case "$needed" in
      libc.so.6|libm.so.6|libpthread.so.0|libdl.so.2|librt.so.1|ld-linux-x86-64.so.2) ;;
      libcuda.so.1|libcudart.so.*|libcublas*.so.*|libnvrtc*.so.*) ;;  # the CUDA library's driver and toolkit
      *) echo "$name: needs $needed, which a glibc $max system may not have" >&2; bad=1 ;;
    esac
  done
  if [ "$bad" = 1 ]; then status=1; else echo "$name: highest glibc symbol version $highest (baseline $max): ok"; fi
done
exit $status
