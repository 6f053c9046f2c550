// This core's arithmetic limit, measured: loops of independent fused multiply-adds, one per ISA.
//   AVX2 fp32      vfmadd on 8 floats: 16 FLOP per instruction
//   AVX-512 fp32   vfmadd on 16 floats: 32 FLOP per instruction
//   AVX512-BF16    vdpbf16ps: 16 lanes, each adding two bf16 products: 64 FLOP per instruction
// Twelve independent accumulators per loop hide the FMA latency (4 cycles, 2 ports: 8 in flight),
// so the loop runs at the core's FMA throughput. An ISA the CPU lacks gives 0 (not measured).
// Used by bench/peak.cpp (prints the three figures) and bench/bench_gemm.cpp (shares of them).
#pragma once
#include <immintrin.h>

#include <algorithm>

#include <time.h>

namespace seqgrad::bench {

struct Peak {
    double avx2_fp32 = 0, avx512_fp32 = 0, avx512_bf16 = 0;  // GFLOP/s on one thread; 0 = not on this CPU
    // The fp32 limit products are measured against: AVX-512 when the CPU has it, else AVX2.
    double fp32() const { return avx512_fp32 > 0 ? avx512_fp32 : avx2_fp32; }
};

// Seconds of CPU time of the calling thread: on a machine shared with other jobs, wall time
// measures the share of the core this thread got; CPU time measures the core.
inline double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

namespace detail {

// The body of each loop below: twelve accumulators of vector type V (SET1 broadcasts a float,
// ADD adds two, STORE writes LANES floats), each updated `iterations` times by acc[i] = STEP(acc[i]),
// then summed so that nothing is optimised away. A macro, not a template: each expansion must be
// compiled for its own function's target ISA.
#define SEQGRAD_PEAK_LOOP(V, SET1, ADD, STORE, LANES, STEP)                         \
    V acc[12];                                                                      \
    for (int i = 0; i < 12; ++i) acc[i] = SET1(0.001f * static_cast<float>(i));     \
    for (long it = 0; it < iterations; ++it)                                        \
        for (int i = 0; i < 12; ++i) acc[i] = STEP(acc[i]);                         \
    V s = acc[0];                                                                   \
    for (int i = 1; i < 12; ++i) s = ADD(s, acc[i]);                                \
    float out[LANES];                                                               \
    STORE(out, s);                                                                  \
    return out[0]

__attribute__((target("avx2,fma"))) inline float fma_loop_avx2(long iterations) {
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
#define SEQGRAD_PEAK_STEP(x) _mm256_fmadd_ps(x, a, b)
    SEQGRAD_PEAK_LOOP(__m256, _mm256_set1_ps, _mm256_add_ps, _mm256_storeu_ps, 8, SEQGRAD_PEAK_STEP);
#undef SEQGRAD_PEAK_STEP
}

__attribute__((target("avx512f"))) inline float fma_loop_avx512(long iterations) {
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
#define SEQGRAD_PEAK_STEP(x) _mm512_fmadd_ps(x, a, b)
    SEQGRAD_PEAK_LOOP(__m512, _mm512_set1_ps, _mm512_add_ps, _mm512_storeu_ps, 16, SEQGRAD_PEAK_STEP);
#undef SEQGRAD_PEAK_STEP
}

__attribute__((target("avx512f,avx512bf16"))) inline float dpbf16_loop(long iterations) {
    const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
#define SEQGRAD_PEAK_STEP(x) _mm512_dpbf16_ps(x, a, a)
    SEQGRAD_PEAK_LOOP(__m512, _mm512_set1_ps, _mm512_add_ps, _mm512_storeu_ps, 16, SEQGRAD_PEAK_STEP);
#undef SEQGRAD_PEAK_STEP
}
#undef SEQGRAD_PEAK_LOOP

// GFLOP per CPU-second of loop(iterations) doing flop_per_iteration each: the best of `reps` runs.
template <typename F>
double gflops_of(F loop, double flop_per_iteration, int reps) {
    volatile float sink = loop(1000);  // warm-up (and the clock up to speed)
    long iterations = 1 << 20;
    double best = 0;
    for (int r = 0; r < reps; ++r) {
        const double t0 = thread_cpu_seconds();
        sink = sink + loop(iterations);
        const double s = thread_cpu_seconds() - t0;
        if (s < 0.05) {  // too short to time well: longer, and this run does not count
            iterations *= 4;
            --r;
            continue;
        }
        best = std::max(best, flop_per_iteration * static_cast<double>(iterations) / s / 1e9);
    }
    return best;
}
}  // namespace detail

inline Peak measure_peak(int reps = 5) {
    __builtin_cpu_init();
    Peak p;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        p.avx2_fp32 = detail::gflops_of(detail::fma_loop_avx2, 12 * 16.0, reps);
    if (__builtin_cpu_supports("avx512f")) p.avx512_fp32 = detail::gflops_of(detail::fma_loop_avx512, 12 * 32.0, reps);
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16"))
        p.avx512_bf16 = detail::gflops_of(detail::dpbf16_loop, 12 * 64.0, reps);
    return p;
}

}  // namespace seqgrad::bench
