// bench_gemm: the matmul op (forward and both backward products) on every built gemm backend, at the
// shapes of the tutorial training step and at 256³, in GFLOP/s and as a share of this core's fp32
// FMA peak (bench/peak.h: AVX-512 when the CPU has it, else AVX2), and in bf16 mixed precision
// (--precision bf16's products: bf16 inputs, fp32 accumulation) as a share of the BF16 dot-product peak.
//
// Time is the thread's CPU time (bench/peak.h), so that other jobs on a shared machine do not count;
// with --threads > 1 it is wall time. One op call is C = A B, then dA = dC Bᵀ and dB = Aᵀ dC (backward with both inputs requiring grad):
// 3 · 2MNK FLOP. Backends are interleaved: each repetition times a short batch on every backend in
// turn, so drift from other processes on the machine hits all of them alike; the figure is the median.
//
//   bench_gemm [--threads N] [--reps R]
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "bench/peak.h"
#include "core/blas.h"
#include "seqgrad.h"

using namespace seqgrad;

namespace {
using Clock = std::chrono::steady_clock;
int g_threads = 1;
double now_s() {
    return g_threads == 1 ? bench::thread_cpu_seconds()
                          : std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
    int threads = 1, reps = 9;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = std::max(1, std::atoi(argv[++i]));
        else if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
    }
    blas::set_num_threads(threads);
    g_threads = threads;
    const bench::Peak peak = bench::measure_peak(3);
    const double limit = peak.fp32();
    const char* limit_name = peak.avx512_fp32 > 0 ? "AVX-512" : "AVX2 (no AVX-512 on this CPU)";
    fmt::print("matmul op, forward + backward (3 products), float32, {} thread(s), median of {} interleaved runs\n",
               threads, reps);
    fmt::print("fp32 FMA peak of one core: AVX2 {:.1f}, AVX-512 {}, BF16 dot {} GFLOP/s; shares are of the {} peak"
               "{}\n\n",
               peak.avx2_fp32, peak.avx512_fp32 > 0 ? fmt::format("{:.1f}", peak.avx512_fp32) : "-",
               peak.avx512_bf16 > 0 ? fmt::format("{:.1f}", peak.avx512_bf16) : "-", limit_name,
               threads > 1 ? " times the thread count" : "");

    // Columns: every built backend in fp32, then bf16 mixed precision (oneDNN's bf16 matmul; shares
    // of the BF16 dot-product peak) when this build and CPU can run it.
    struct Column {
        blas::Backend backend;
        blas::Precision precision;
    };
    std::vector<Column> columns;
    for (auto b : blas::built_backends()) columns.push_back({b, blas::Precision::FP32});
    const bool bf16 = blas::bf16_unavailable_reason().empty() && peak.avx512_bf16 > 0;
    if (bf16) columns.push_back({blas::built_backends().front(), blas::Precision::BF16});
    fmt::print("{:<16}", "M x N x K");
    for (const Column& c : columns)
        fmt::print(" | {:>10} GF/s  share",
                   c.precision == blas::Precision::BF16 ? "bf16" : blas::backend_name(c.backend));
    fmt::print("\n");
    const std::vector<std::tuple<int, int, int>> shapes = {
        {32, 128, 128}, {32, 384, 128}, {320, 2803, 128}, {320, 128, 2803}, {256, 256, 256}};
    for (const auto& [M, N, K] : shapes) {
        Generator gen(1);
        Tensor A = uniform({M, K}, -1, 1, {.requires_grad = true}, &gen);
        Tensor B = uniform({K, N}, -1, 1, {.requires_grad = true}, &gen);
        Tensor dC = uniform({M, N}, -1, 1, {}, &gen);
        const double flop = 3.0 * 2.0 * M * N * K;
        auto op = [&] {
            A.zero_grad();
            B.zero_grad();
            matmul(A, B).backward(dC);
        };
        // A batch of about 20 ms per backend: calls per batch from one timed call of the slowest.
        std::vector<int> calls(columns.size());
        for (std::size_t i = 0; i < columns.size(); ++i) {
            blas::BackendGuard use(columns[i].backend);
            blas::PrecisionGuard in(columns[i].precision);
            op();
            const double t0 = now_s();
            op();
            const double s = now_s() - t0;
            calls[i] = std::max(1, static_cast<int>(0.02 / std::max(s, 1e-7)));
        }
        std::vector<std::vector<double>> gflops(columns.size());
        for (int r = 0; r < reps; ++r)
            for (std::size_t i = 0; i < columns.size(); ++i) {
                blas::BackendGuard use(columns[i].backend);
                blas::PrecisionGuard in(columns[i].precision);
                const double t0 = now_s();
                for (int c = 0; c < calls[i]; ++c) op();
                const double s = now_s() - t0;
                gflops[i].push_back(flop * calls[i] / s / 1e9);
            }
        fmt::print("{:<16}", fmt::format("{} x {} x {}", M, N, K));
        for (std::size_t i = 0; i < columns.size(); ++i) {
            const double g = median(gflops[i]);
            const double of = columns[i].precision == blas::Precision::BF16 ? peak.avx512_bf16 : limit;
            fmt::print(" | {:>15.1f}  {:>4.0f}%", g, 100.0 * g / (of * threads));
        }
        fmt::print("\n");
    }
    return 0;
}
