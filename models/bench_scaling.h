// `seqgrad bench scaling`: a small model of what data-parallel training (core/distributed.h) costs at
// scale, fed with two measurements of this machine: the compute time of one process's training step
// and the all-reduce of its gradients.
//
// The model (assumptions, also in bench/RESULTS.md):
//   - weak scaling: every process keeps its own batch of b pairs, so the global batch is N·b and one
//     process's compute time per step, t_c, does not change with N;
//   - a ring all-reduce of G bytes of gradients over N processes sends and receives 2(N−1)/N · G bytes
//     per process, at the link's bandwidth β: t_ring = 2(N−1)/N · G / β, plus a latency α per message
//     step, 2(N−1) steps per call and one call per bucket: t_comm = t_ring + 2(N−1)·α·buckets;
//   - β is the nominal line rate times an efficiency (what MPI reaches of it, 0.8 by default), one
//     process per machine, no other traffic; α is 5 µs by default (a TCP or RoCE network);
//   - no overlap of the all-reduce with the backward pass (the trainer reduces after backward):
//     efficiency = t_c / (t_c + t_comm), speed-up = N · efficiency. With perfect overlap it would be
//     t_c / max(t_c, t_comm); both are printed.
// The all-reduce measured here (under mpirun on one machine: shared memory) gives this machine's bus
// bandwidth; the time inside the all-reduce during the measured steps is larger by the waits for the
// slower process. The network figures are predictions.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/bench.h"

namespace seqgrad::models {

struct ScalingOptions {
    std::string model = "seq2seq";         // seq2seq | transformer: the step whose gradients are reduced
    BenchOptions seq2seq{.hidden = 256, .batch = 128};
    TransformerBenchOptions transformer{};
    std::vector<int> processes = {4, 8, 16, 32, 64};
    std::vector<double> gbit_per_s = {10, 25, 100};
    double link_efficiency = 0.8;          // share of the line rate an all-reduce reaches
    double latency_us = 5;                 // α: per message step
    std::int64_t allreduce_reps = 10;      // timed all-reduces of the whole gradient (under mpirun)
};

struct ScalingRow {
    int processes = 0;
    double gbit_per_s = 0;
    double comm_ms = 0;
    double efficiency = 0;          // no overlap
    double efficiency_overlap = 0;  // perfect overlap
};

struct ScalingResult {
    std::string model;
    std::int64_t batch_per_process = 0;
    double compute_ms = 0;           // one process's step without its all-reduce: CPU time (load-robust)
    double step_ms = 0;              // the whole measured step (with the all-reduce when N > 1)
    double gradient_mb = 0;          // G, float32
    std::size_t buckets = 0;
    int measured_processes = 1;      // N of the run that measured
    double measured_allreduce_ms = 0;    // one all-reduce of the whole gradient (0 for one process)
    double measured_bus_gb_per_s = 0;    // 2(N−1)/N · G / t: the bandwidth the ring formula sees
    double step_comm_ms = 0;             // time inside the all-reduce during the measured steps (waits included)
    std::vector<ScalingRow> rows;
};

// The communication time of the model above, in seconds.
double ring_allreduce_seconds(double bytes, int processes, double bytes_per_s, double latency_s, std::size_t buckets);
// Measures (compute, and the all-reduce when run under mpirun with N > 1), then predicts every row.
ScalingResult run_scaling(const ScalingOptions& options);
// The predictions alone, for a given compute time and gradient (the tests check them by hand).
std::vector<ScalingRow> predict_scaling(const ScalingOptions& options, double compute_ms, double gradient_bytes,
                                        std::size_t buckets);
std::string scaling_markdown(const ScalingResult& result, const ScalingOptions& options);
std::string scaling_svg(const ScalingResult& result);
// scaling.md and scaling.svg into dir (created if missing).
void write_scaling(const ScalingResult& result, const ScalingOptions& options, const std::string& dir);

}  // namespace seqgrad::models
