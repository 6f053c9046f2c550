// bench_matmul: how close the seqgrad matmul op comes to raw cblas_sgemm.
//
//   (a) raw cblas_sgemm GFLOP/s for square N x N x N products (N = 256, 512, 1024);
//   (b) the matmul op, forward + backward (three gemms: C = A B, dA = dC B^T, dB = A^T dC) with both
//       inputs requiring grad, in GFLOP/s and as a percentage of the same three raw sgemm calls
//       (target: >= 95%); raw and op batches interleaved, the percentage the median per-pair ratio;
//   (c) the per-call overhead of the op at M x K x N = 32 x 128 x 128 over the raw sgemm call, in
//       microseconds: forward only under NoGradGuard, and forward + record with grad (target: <= 2 us).
//
// Timing: std::chrono::steady_clock, a warm-up, then the median of several repetitions. For (c) raw
// and op batches are interleaved and the overhead is the median of the per-pair differences, so
// that drift from other processes on the machine cancels; the batches are short (~2 ms) and many
// (30 x reps + 1 pairs), so a batch disturbed by another process moves one pair, not the median.
//
//   bench_matmul [--threads N] [--reps R] [--json]
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "seqgrad.h"

using namespace seqgrad;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Seconds per call of f, as the median over `reps` batches, each batch long enough (>= min_batch_s)
// to make the clock's resolution irrelevant.
template <typename F>
double time_per_call(F&& f, int reps, double min_batch_s = 0.05) {
    // warm-up, and find a batch size
    f();
    f();
    int batch = 1;
    for (;;) {
        const auto t0 = Clock::now();
        for (int i = 0; i < batch; ++i) f();
        if (seconds_since(t0) >= min_batch_s || batch >= (1 << 24)) break;
        batch *= 2;
    }
    std::vector<double> samples;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = Clock::now();
        for (int i = 0; i < batch; ++i) f();
        samples.push_back(seconds_since(t0) / batch);
    }
    return median(samples);
}

// Interleaved batches of `reference` and `subject`; returns the medians of the reference time, the
// subject time and the per-pair difference (seconds per call).
struct Paired {
    double reference, subject, difference, ratio;  // ratio: median of reference / subject per pair
};
template <typename R, typename S>
Paired time_paired(R&& reference, S&& subject, int reps, double min_batch_s = 0.002) {
    for (int i = 0; i < 3; ++i) reference(), subject();
    int batch = 1;
    for (;;) {
        const auto t0 = Clock::now();
        for (int i = 0; i < batch; ++i) reference();
        if (seconds_since(t0) >= min_batch_s || batch >= (1 << 24)) break;
        batch *= 2;
    }
    std::vector<double> ref, sub, diff, ratio;
    for (int r = 0; r < reps; ++r) {
        auto t0 = Clock::now();
        for (int i = 0; i < batch; ++i) reference();
        const double a = seconds_since(t0) / batch;
        t0 = Clock::now();
        for (int i = 0; i < batch; ++i) subject();
        const double b = seconds_since(t0) / batch;
        ref.push_back(a);
        sub.push_back(b);
        diff.push_back(b - a);
        ratio.push_back(a / b);
    }
    return {median(ref), median(sub), median(diff), median(ratio)};
}

std::vector<float> random_floats(std::size_t n, std::uint64_t seed) {
    Generator gen(seed);
    std::vector<float> v(n);
    for (auto& x : v) x = static_cast<float>(gen.uniform(-1, 1));
    return v;
}

void sgemm(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb,
                0.0f, C, ldc);
}

struct SizeResult {
    int n;
    double raw_gflops;          // (a) one sgemm N x N x N
    double raw3_ms;             // the three sgemm calls of forward + backward
    double op_ms;               // (b) the op forward + backward
    double op_gflops;
    double percent_of_raw;      // raw3_ms / op_ms
};

struct OverheadResult {
    int m, k, n;
    double raw_us, nograd_us, nograd_overhead_us, grad_us, grad_overhead_us;
};

}  // namespace

int main(int argc, char** argv) {
    int threads = 1, reps = 7;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
        else if (a == "--json") json = true;
        else if (a == "--help" || a == "-h") {
            fmt::print("usage: bench_matmul [--threads N] [--reps R] [--json]\n");
            return 0;
        } else {
            fmt::print(stderr, "bench_matmul: unknown argument '{}' (try --help)\n", a);
            return 2;
        }
    }
    if (threads < 1 || reps < 1) {
        fmt::print(stderr, "bench_matmul: --threads and --reps must be positive\n");
        return 2;
    }
    openblas_set_num_threads(threads);

    // ---- (a) and (b): square sizes -----------------------------------------------------------------
    std::vector<SizeResult> sizes;
    for (int n : {256, 512, 1024}) {
        const std::size_t nn = static_cast<std::size_t>(n) * n;
        const auto a = random_floats(nn, 1), b = random_floats(nn, 2), dc = random_floats(nn, 3);
        std::vector<float> c(nn), da(nn), db(nn);
        const double flops = 2.0 * n * n * n;

        const double t_raw = time_per_call([&] { sgemm(false, false, n, n, n, a.data(), n, b.data(), n, c.data(), n); }, reps);
        auto raw3 = [&] {
            sgemm(false, false, n, n, n, a.data(), n, b.data(), n, c.data(), n);   // C = A B
            sgemm(false, true, n, n, n, dc.data(), n, b.data(), n, da.data(), n);  // dA = dC B^T
            sgemm(true, false, n, n, n, a.data(), n, dc.data(), n, db.data(), n);  // dB = A^T dC
        };
        Tensor A = Tensor::from_float(a, {n, n}, {.requires_grad = true});
        Tensor B = Tensor::from_float(b, {n, n}, {.requires_grad = true});
        Tensor dC = Tensor::from_float(dc, {n, n});
        auto op = [&] {
            Tensor C = matmul(A, B);
            C.backward(dC);
            A.zero_grad();
            B.zero_grad();
        };
        // raw and op interleaved, batches of >= 20 ms; the percentage is the median per-pair ratio
        const Paired p = time_paired(raw3, op, 3 * reps, 0.02);
        sizes.push_back({n, flops / t_raw / 1e9, p.reference * 1e3, p.subject * 1e3, 3 * flops / p.subject / 1e9, 100.0 * p.ratio});
    }

    // ---- (c): per-call overhead at 32 x 128 x 128 --------------------------------------------------
    OverheadResult ov{32, 128, 128, 0, 0, 0, 0, 0};
    {
        const int M = ov.m, K = ov.k, N = ov.n;
        const auto a = random_floats(static_cast<std::size_t>(M) * K, 4), b = random_floats(static_cast<std::size_t>(K) * N, 5);
        std::vector<float> c(static_cast<std::size_t>(M) * N);
        auto raw = [&] { sgemm(false, false, M, N, K, a.data(), K, b.data(), N, c.data(), N); };
        Tensor A = Tensor::from_float(a, {M, K}), B = Tensor::from_float(b, {K, N});
        Tensor Ag = Tensor::from_float(a, {M, K}, {.requires_grad = true}), Bg = Tensor::from_float(b, {K, N}, {.requires_grad = true});
        // the results must agree with the raw call (the op is the same gemm plus bookkeeping)
        raw();
        const auto op_values = matmul(A, B).to_float_vector();
        if (std::memcmp(op_values.data(), c.data(), c.size() * sizeof(float)) != 0) {
            fmt::print(stderr, "bench_matmul: the op's result differs from the raw sgemm result\n");
            return 1;
        }
        // many short interleaved batches: a batch hit by another process only moves one pair
        const int pairs = 30 * reps + 1;
        const Paired nograd = time_paired(raw,
                                          [&] {
                                              NoGradGuard guard;
                                              Tensor C = matmul(A, B);
                                          },
                                          pairs);
        const Paired grad = time_paired(raw, [&] { Tensor C = matmul(Ag, Bg); }, pairs);
        ov.raw_us = 0.5 * (nograd.reference + grad.reference) * 1e6;
        ov.nograd_us = nograd.subject * 1e6;
        ov.nograd_overhead_us = nograd.difference * 1e6;
        ov.grad_us = grad.subject * 1e6;
        ov.grad_overhead_us = grad.difference * 1e6;
    }

    if (json) {
        std::string out = fmt::format("{{\n  \"threads\": {},\n  \"reps\": {},\n  \"sizes\": [\n", threads, reps);
        for (std::size_t i = 0; i < sizes.size(); ++i) {
            const auto& s = sizes[i];
            out += fmt::format(
                "    {{\"n\": {}, \"raw_sgemm_gflops\": {:.2f}, \"raw_3gemm_ms\": {:.4f}, \"op_fwd_bwd_ms\": {:.4f}, "
                "\"op_fwd_bwd_gflops\": {:.2f}, \"op_percent_of_raw\": {:.1f}}}{}\n",
                s.n, s.raw_gflops, s.raw3_ms, s.op_ms, s.op_gflops, s.percent_of_raw, i + 1 < sizes.size() ? "," : "");
        }
        out += fmt::format(
            "  ],\n  \"overhead\": {{\"m\": {}, \"k\": {}, \"n\": {}, \"raw_sgemm_us\": {:.3f}, \"op_nograd_us\": {:.3f}, "
            "\"op_nograd_overhead_us\": {:.3f}, \"op_grad_us\": {:.3f}, \"op_grad_overhead_us\": {:.3f}}}\n}}\n",
            ov.m, ov.k, ov.n, ov.raw_us, ov.nograd_us, ov.nograd_overhead_us, ov.grad_us, ov.grad_overhead_us);
        fmt::print("{}", out);
        return 0;
    }

    fmt::print("seqgrad matmul op vs raw cblas_sgemm  (OpenBLAS threads: {}, median of {} repetitions)\n\n", threads, reps);
    fmt::print("(a) raw sgemm and (b) op forward + backward (3 gemms, inputs requiring grad)\n");
    fmt::print("  {:>5} | {:>15} | {:>14} | {:>16} | {:>16} | {:>9}\n", "N", "raw sgemm GF/s", "raw 3 gemm ms", "op fwd+bwd ms",
               "op fwd+bwd GF/s", "% of raw");
    fmt::print("  {:-<5}-+-{:-<15}-+-{:-<14}-+-{:-<16}-+-{:-<16}-+-{:-<9}\n", "", "", "", "", "", "");
    for (const auto& s : sizes)
        fmt::print("  {:>5} | {:>15.1f} | {:>14.3f} | {:>16.3f} | {:>16.1f} | {:>8.1f}%\n", s.n, s.raw_gflops, s.raw3_ms, s.op_ms,
                   s.op_gflops, s.percent_of_raw);
    fmt::print("  target: >= 95% of raw\n\n");
    fmt::print("(c) per-call overhead at M x K x N = {} x {} x {}\n", ov.m, ov.k, ov.n);
    fmt::print("  {:<36} | {:>10} | {:>13}\n", "", "us / call", "overhead us");
    fmt::print("  {:-<36}-+-{:-<10}-+-{:-<13}\n", "", "", "");
    fmt::print("  {:<36} | {:>10.2f} | {:>13}\n", "raw cblas_sgemm", ov.raw_us, "-");
    fmt::print("  {:<36} | {:>10.2f} | {:>13.2f}\n", "op forward, NoGradGuard", ov.nograd_us, ov.nograd_overhead_us);
    fmt::print("  {:<36} | {:>10.2f} | {:>13.2f}\n", "op forward + record (requires grad)", ov.grad_us, ov.grad_overhead_us);
    fmt::print("  target: <= 2 us overhead\n");
    return 0;
}
