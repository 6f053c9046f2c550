// The seq2seq training-step benchmark behind `seqgrad bench seq2seq`: the PyTorch tutorial's
// configuration (GRU encoder, additive-attention GRU decoder, Adam, teacher forcing) on random
// token ids; one step = forward + backward + optimizer update.
#pragma once
#include <cstdint>
#include <string>

namespace seqgrad::models {

struct BenchOptions {
    std::int64_t hidden = 128;
    std::int64_t batch = 32;
    std::int64_t len = 10;
    std::int64_t src_vocab = 4345;
    std::int64_t tgt_vocab = 2803;
    std::string cell = "gru";
    std::string attention = "additive";
    int threads = 1;
    std::int64_t steps = 50;
    std::int64_t warmup = 5;
    bool fast_paths = true;
};

struct BenchResult {
    double pairs_per_s = 0;
    double ms_per_step = 0;
    double cpu_ms_per_step = 0;  // process CPU time per step: steadier than wall time on a shared machine
    double gflop_per_step = 0;  // counted matrix-product and attention FLOPs, forward + backward
    double gflops = 0;          // achieved GFLOP/s
    double peak_rss_mb = 0;
    double final_loss = 0;
};

BenchResult run_seq2seq_bench(const BenchOptions& options);
// Peak resident set size of this process (VmHWM), in MB.
double peak_rss_mb();
// Set the number of threads for BLAS and the elementwise loops.
void set_num_threads(int threads);

}  // namespace seqgrad::models
