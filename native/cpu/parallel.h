/*
 * parallel.h: how the baseline op files (ops.cpp, elementwise_ops.cpp, attention_ops.cpp, ssm_ops.cpp)
 * split an op's work over OpenMP threads. Not for the ISA units (cpu_internal.h says why): the
 * functions are `static inline`, so each file gets its own copy anyway.
 *
 * Small work stays on the calling thread: an OpenMP region, even one with a false if() clause, costs
 * about half a microsecond to a few, and stories260K's rows are 64 floats.
 */
#ifndef TRANSFUSE_CPU_PARALLEL_H
#define TRANSFUSE_CPU_PARALLEL_H

#include <omp.h>

#include "cpu_internal.h"

/* f(begin, end) over [0, n): one call on the calling thread when the work (about one unit per
 * multiply-add or element operation) is below TF_PARALLEL_MIN_WORK, else one contiguous share per thread
 * (sizes differ by at most one). */
template <class F>
static inline void tf_parallel_ranges(long n, long work, F f) {
    const int threads = tf_cpu_get_threads();
    if (threads <= 1 || n < 2 || work < TF_PARALLEL_MIN_WORK) {
        f(0L, n);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        const long nt = omp_get_num_threads(), id = omp_get_thread_num();
        const long per = n / nt, extra = n % nt;
        const long a = id * per + (id < extra ? id : extra);
        f(a, a + per + (id < extra ? 1 : 0));
    }
}

/* f(first, step) for items first, first + step, ... < n: thread i of nt takes items i, i + nt, ...
 * (f(0, 1) on the calling thread for small work). For items of uneven cost that grow or shrink with
 * the index, such as causal attention rows. */
template <class F>
static inline void tf_parallel_cyclic(long n, long work, F f) {
    const int threads = tf_cpu_get_threads();
    if (threads <= 1 || n < 2 || work < TF_PARALLEL_MIN_WORK) {
        f(0L, 1L);
        return;
    }
#pragma omp parallel num_threads(threads)
    f((long)omp_get_thread_num(), (long)omp_get_num_threads());
}

#endif
