/* The AVX-512 kernels with VNNI (vpdpbusd) for the Q8_0/Q4_0 dot products: isa_avx512.cpp compiled
 * again with TF_VNNI and -mavx512vnni. ops.cpp uses this table for TF_CPU_ISA_AVX512 when the CPU
 * has AVX512_VNNI (and TRANSFUSE_CPU_VNNI is not 0). */
#define TF_VNNI 1
#include "isa_avx512.cpp"
