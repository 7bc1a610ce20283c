// cpu_configs.h: the kernel configurations every libtransfuse_cpu test runs under, and a bound check.
//
// A configuration is an instruction-set table (tf_cpu_set_isa: generic, avx2, avx512; on a CPU with
// AVX512-VNNI the avx512 ISA has two tables, with and without VNNI, chosen by TRANSFUSE_CPU_VNNI, and
// each holds its own compiled copy of every kernel) and a thread count (1 and 2: the serial path and
// the pool's split). matmul tests add AMX on/off (TRANSFUSE_CPU_AMX). ISAs this CPU lacks are skipped.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tf_test.h"
#include "transfuse.h"

struct CpuConfig {
  int isa;
  bool vnni, amx;
  int threads;

  std::string name() const {
    std::string s = isa == TF_CPU_ISA_GENERIC ? "generic" : isa == TF_CPU_ISA_AVX2 ? "avx2" : "avx512";
    if (isa == TF_CPU_ISA_AVX512) s += std::string(vnni ? "+vnni" : "-vnni") + (amx ? "+amx" : "-amx");
    return s + " threads=" + std::to_string(threads);
  }

  // Selects this configuration; false (and a test failure) if the library refuses it.
  bool apply() const {
    setenv("TRANSFUSE_CPU_VNNI", vnni ? "1" : "0", 1);
    setenv("TRANSFUSE_CPU_AMX", amx ? "1" : "0", 1);
    tf_cpu_set_threads(threads);
    return tf_cpu_set_isa(isa) == isa;
  }
};

inline bool cpu_supports_isa(int isa) {
  const int before = tf_cpu_get_isa();
  const bool ok = tf_cpu_set_isa(isa) == isa;
  tf_cpu_set_isa(before);
  return ok;
}

// Every supported ISA table x {1, 2} threads; with_amx adds AMX on and off for AVX-512 (on: whatever the
// CPU has, which is the plain path where it lacks AMX).
inline std::vector<CpuConfig> cpu_configs(bool with_amx = false) {
  std::vector<CpuConfig> v;
  for (int threads : {1, 2}) {
    v.push_back({TF_CPU_ISA_GENERIC, false, false, threads});
    if (cpu_supports_isa(TF_CPU_ISA_AVX2)) v.push_back({TF_CPU_ISA_AVX2, false, false, threads});
    if (cpu_supports_isa(TF_CPU_ISA_AVX512))
      for (bool vnni : {false, true})
        for (bool amx : {false, true}) {
          if (amx && !with_amx) continue;
          v.push_back({TF_CPU_ISA_AVX512, vnni, amx, threads});
        }
  }
  return v;
}

// Back to the library's defaults after a test.
inline void cpu_restore_defaults() {
  setenv("TRANSFUSE_CPU_VNNI", "1", 1);
  setenv("TRANSFUSE_CPU_AMX", "1", 1);
  tf_cpu_set_isa(tf_cpu_best_isa());
  tf_cpu_set_threads(1);
}

// Per-element bound check |got - ref| <= bound; reports the worst offender. A NaN passes only where ref is
// NaN too (a value that must stay unwritten).
inline bool expect_within(const std::string& what, const float* got, const double* ref, const double* bound, size_t n,
                          const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  size_t bad = 0, worst = 0;
  double worst_ratio = -1;
  for (size_t i = 0; i < n; ++i) {
    const double err = std::fabs(double(got[i]) - ref[i]);
    if (!(err <= bound[i]) && !(std::isnan(ref[i]) && std::isnan(got[i]))) {
      ++bad;
      const double ratio = std::isnan(err) ? INFINITY : err / bound[i];
      if (ratio > worst_ratio) { worst_ratio = ratio; worst = i; }
    }
  }
  if (bad == 0) return true;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s: %zu of %zu elements off; worst [%zu] got %.9g want %.9g (|err| %.3g, bound %.3g)",
                what.c_str(), bad, n, worst, double(got[worst]), ref[worst], std::fabs(double(got[worst]) - ref[worst]),
                bound[worst]);
  tf_test::fail(file, line, buf);
  return false;
}

// Bit-for-bit equality of two float arrays (NaN payloads included); reports the first difference.
inline bool expect_same_bits(const std::string& what, const float* got, const float* want, size_t n,
                             const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  for (size_t i = 0; i < n; ++i)
    if (std::memcmp(&got[i], &want[i], 4) != 0) {
      char buf[512];
      std::snprintf(buf, sizeof buf, "%s: [%zu] got %.9g, want the bits of %.9g", what.c_str(), i, double(got[i]),
                    double(want[i]));
      tf_test::fail(file, line, buf);
      return false;
    }
  return true;
}
