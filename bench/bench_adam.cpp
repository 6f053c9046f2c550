// bench_adam: nanoseconds per parameter of Adam's fused float32 update (core/row_kernels.h
// adam_update: one pass reading the gradient and rewriting the parameter and both moments, one sqrt
// and one division per element) for parameter counts whose four arrays fit the L2 cache, the L3
// cache, and neither: where the update is bound by its arithmetic and where by memory. 868,703 is
// the Tatoeba model of `seqgrad bench epoch --data ... --reverse --max-len 10`.
//
// Time is the thread's CPU time (bench/peak.h); the figure is the median of --reps batches.
//
//   bench_adam [--reps R]
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "bench/peak.h"
#include "core/row_kernels.h"

using namespace seqgrad;

int main(int argc, char** argv) {
    int reps = 7;
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
    const kernels::AdamConstants c{.b1 = 0.9, .b2 = 0.999, .one_b1 = 0.1, .one_b2 = 0.001, .step_size = 1e-3,
                                   .inv_bias2_sqrt = 1.0, .eps = 1e-8, .grad_scale = 0.5};
    fmt::print("Adam's fused float32 update (p, grad, m, v: 16 bytes a parameter), 1 thread, median of {}:\n", reps);
    for (const std::int64_t n : {16384L, 65536L, 868703L, 4000000L}) {
        std::vector<float> p(n, 0.1f), g(n, 0.01f), m(n, 0.0f), v(n, 0.0f);
        const std::int64_t calls = std::max<std::int64_t>(1, 100000000 / n);
        kernels::adam_update(p.data(), g.data(), m.data(), v.data(), n, c);  // first touch
        std::vector<double> ns;
        for (int r = 0; r < reps; ++r) {
            const double t0 = bench::thread_cpu_seconds();
            for (std::int64_t k = 0; k < calls; ++k) kernels::adam_update(p.data(), g.data(), m.data(), v.data(), n, c);
            ns.push_back((bench::thread_cpu_seconds() - t0) / static_cast<double>(calls * n) * 1e9);
        }
        std::sort(ns.begin(), ns.end());
        fmt::print("  {:>9} parameters ({:>6.1f} MB of state)  {:.3f} ns a parameter\n", n,
                   static_cast<double>(n) * 16 / 1e6, ns[ns.size() / 2]);
    }
    return 0;
}
