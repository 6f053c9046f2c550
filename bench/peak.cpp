// peak: this core's FMA throughput on one thread, for AVX2 fp32, AVX-512 fp32 and the AVX512-BF16
// dot product (bench/peak.h has the loops). Clocks vary from minute to minute on a shared machine:
// compare ratios measured in one run, not figures from different runs.
//
//   peak [--reps R]
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "bench/peak.h"

int main(int argc, char** argv) {
    int reps = 5;
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
    const seqgrad::bench::Peak p = seqgrad::bench::measure_peak(reps);
    auto show = [](const char* what, double g) {
        if (g > 0) fmt::print("  {:<34} {:8.1f} GFLOP/s\n", what, g);
        else fmt::print("  {:<34} {:>8} (this CPU does not have it)\n", what, "-");
    };
    fmt::print("FMA throughput of one core (best of {} runs, 12 independent accumulators):\n", reps);
    show("AVX2 fp32 (vfmadd, 8 lanes)", p.avx2_fp32);
    show("AVX-512 fp32 (vfmadd, 16 lanes)", p.avx512_fp32);
    show("AVX512-BF16 dot product (vdpbf16ps)", p.avx512_bf16);
    return 0;
}
