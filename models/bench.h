// The training-step benchmarks behind `seqgrad bench seq2seq` (the PyTorch tutorial's configuration:
// GRU encoder, additive-attention GRU decoder, Adam, teacher forcing) and `seqgrad bench transformer`
// (the Transformer translator against torch.nn.Transformer, bench/side_by_side_transformer.py), on
// random token ids; one step = forward + backward + optimizer update. Under mpirun a step is
// data-parallel (core/distributed.h): each process takes its rows of the batch and the gradients are
// summed over the processes before the update.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

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
    // Under mpirun (data-parallel: --batch is the global batch, split over the processes).
    int processes = 1;
    double comm_ms_per_step = 0;  // wall time inside the gradient all-reduce, per step (rank 0's)
    std::int64_t parameters = 0;  // the model's: the all-reduce sums this many floats per step
};

BenchResult run_seq2seq_bench(const BenchOptions& options);

// `seqgrad bench transformer`: d_model 256, 4 heads, 3 encoder + 3 decoder layers, feed-forward 1024,
// dropout 0.1, batch 64, length 20, vocabularies 8000/8000, Adam (lr 1e-4), the causal mask on the
// target and plain cross-entropy (no label smoothing), as bench/side_by_side_transformer.py builds
// torch.nn.Transformer. Same result fields as the seq2seq bench.
struct TransformerBenchOptions {
    std::int64_t d_model = 256;
    std::int64_t heads = 4;
    std::int64_t layers = 3;  // encoder layers = decoder layers
    std::int64_t ff = 1024;
    double dropout = 0.1;
    std::int64_t batch = 64;
    std::int64_t len = 20;
    std::int64_t src_vocab = 8000;
    std::int64_t tgt_vocab = 8000;
    int threads = 1;
    std::int64_t steps = 10;
    std::int64_t warmup = 3;
    bool fast_paths = true;
};
BenchResult run_transformer_bench(const TransformerBenchOptions& options);
// Forward FLOPs of the Transformer step's matrix products and attention (backward counts twice
// this): per encoder token 2·(4D² + 2DF) + 4SD, per decoder token 2·(4D² + 2DF) + 4TD (self) +
// 2·2D² + 4SD (cross: query and output projections) + 2DV (generator), per source token and decoder
// layer 2·2D² (cross-attention keys and values of the memory).
double transformer_forward_flop(const TransformerBenchOptions& options);

// `seqgrad bench sweep`: step time against hidden size, batch and sequence length, one axis varied
// at a time around the reference configuration (hidden 128, batch 32, length 10), so the growth of
// the cost is visible. Written as a markdown table, CSV and SVG plots by write_bench_sweep.
struct SweepOptions {
    std::vector<std::int64_t> hidden = {64, 128, 256, 512};
    std::vector<std::int64_t> batch = {1, 8, 32, 128};
    std::vector<std::int64_t> len = {5, 10, 20, 40, 80};
    std::int64_t steps = 10;
    std::int64_t warmup = 2;
    int threads = 1;
    bool fast_paths = true;
};
struct SweepPoint {
    std::string axis;  // "hidden", "batch" or "len": the one that differs from the reference
    std::int64_t value = 0;
    BenchOptions options;
    BenchResult result;
};
// Runs every point; `progress` (when not null) gets one line per point.
std::vector<SweepPoint> run_bench_sweep(const SweepOptions& options, std::ostream* progress = nullptr);
std::string sweep_markdown(const std::vector<SweepPoint>& points);
std::string sweep_csv(const std::vector<SweepPoint>& points);
// One log-log plot of CPU ms per step against the multiple of the reference value, one line per
// axis (the slope is the exponent of the growth), and one plot per axis with linear scales.
std::string sweep_svg(const std::vector<SweepPoint>& points);
std::string sweep_axis_svg(const std::vector<SweepPoint>& points, const std::string& axis);
// Writes sweep.md, sweep.csv, sweep.svg and sweep_<axis>.svg into dir (created if missing).
void write_bench_sweep(const std::vector<SweepPoint>& points, const std::string& dir);
// Peak resident set size of this process (VmHWM), in MB.
double peak_rss_mb();
// Set the number of threads for BLAS and the elementwise loops.
void set_num_threads(int threads);

}  // namespace seqgrad::models
