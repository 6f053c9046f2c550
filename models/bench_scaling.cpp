// `seqgrad bench scaling`: measure one step and the gradient all-reduce, predict data-parallel
// efficiency at scale (the model and its assumptions: models/bench_scaling.h).
#include "models/bench_scaling.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <span>

#include "core/distributed.h"
#include "models/fileio.h"
#include "models/viz/svg.h"

namespace seqgrad::models {

double ring_allreduce_seconds(double bytes, int processes, double bytes_per_s, double latency_s, std::size_t buckets) {
    if (processes < 2) return 0;
    const double n = processes;
    return 2 * (n - 1) / n * bytes / bytes_per_s + 2 * (n - 1) * latency_s * static_cast<double>(buckets);
}

std::vector<ScalingRow> predict_scaling(const ScalingOptions& o, double compute_ms, double gradient_bytes,
                                        std::size_t buckets) {
    std::vector<ScalingRow> rows;
    for (double gbit : o.gbit_per_s)
        for (int n : o.processes) {
            ScalingRow r{.processes = n, .gbit_per_s = gbit};
            const double bytes_per_s = gbit * 1e9 / 8 * o.link_efficiency;
            r.comm_ms = 1e3 * ring_allreduce_seconds(gradient_bytes, n, bytes_per_s, o.latency_us * 1e-6, buckets);
            r.efficiency = compute_ms / (compute_ms + r.comm_ms);
            r.efficiency_overlap = compute_ms / std::max(compute_ms, r.comm_ms);
            rows.push_back(r);
        }
    return rows;
}

ScalingResult run_scaling(const ScalingOptions& o) {
    if (o.model != "seq2seq" && o.model != "transformer")
        fail("bench scaling: unknown model '{}' (valid: seq2seq, transformer)", o.model);
    ScalingResult s;
    s.model = o.model;
    const BenchResult step = o.model == "seq2seq" ? run_seq2seq_bench(o.seq2seq) : run_transformer_bench(o.transformer);
    const std::int64_t batch = o.model == "seq2seq" ? o.seq2seq.batch : o.transformer.batch;
    s.batch_per_process = static_cast<std::int64_t>(dist::shard(static_cast<std::size_t>(batch), 0, dist::size()).size());
    s.step_ms = step.ms_per_step;
    // Process CPU time, steadier than wall time on a shared machine; under mpirun the all-reduce
    // (MPI busy-polls: its wall time is CPU time too) is taken out.
    s.compute_ms = std::max(step.cpu_ms_per_step - step.comm_ms_per_step, 1e-3);
    s.step_comm_ms = step.comm_ms_per_step;
    s.gradient_mb = static_cast<double>(step.parameters) * 4 / 1e6;
    // The trainer's buckets hold whole parameters of up to kBucketFloats floats: about this many calls.
    s.buckets = std::max<std::size_t>(1, (static_cast<std::size_t>(step.parameters) + dist::kBucketFloats - 1) /
                                             dist::kBucketFloats);
    s.measured_processes = dist::size();
    if (dist::active()) {
        // The whole gradient, bucket by bucket, as the trainer sends it.
        std::vector<float> grad(static_cast<std::size_t>(step.parameters), 1.0f);
        auto once = [&] {
            for (std::size_t at = 0; at < grad.size(); at += dist::kBucketFloats)
                dist::allreduce_sum(std::span<float>(grad.data() + at, std::min(dist::kBucketFloats, grad.size() - at)));
        };
        once();
        dist::barrier();
        const auto t0 = std::chrono::steady_clock::now();
        for (std::int64_t i = 0; i < o.allreduce_reps; ++i) once();
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(o.allreduce_reps);
        const double n = dist::size(), bytes = static_cast<double>(step.parameters) * 4;
        s.measured_allreduce_ms = secs * 1e3;
        s.measured_bus_gb_per_s = 2 * (n - 1) / n * bytes / secs / 1e9;
    }
    s.rows = predict_scaling(o, s.compute_ms, s.gradient_mb * 1e6, s.buckets);
    return s;
}

std::string scaling_markdown(const ScalingResult& s, const ScalingOptions& o) {
    std::string out = fmt::format(
        "Model: {} step, {} pairs per process; compute {:.1f} ms per step (process CPU time, 1 thread, without the all-reduce); "
        "gradient {:.1f} MB float32 in {} all-reduce call(s) per step.\n\n",
        s.model, s.batch_per_process, s.compute_ms, s.gradient_mb, s.buckets);
    if (s.measured_processes > 1)
        out += fmt::format("Measured here with {} processes: one all-reduce of the gradient {:.2f} ms, bus bandwidth "
                           "2(N-1)/N·G/t = {:.2f} GB/s; the whole data-parallel step {:.1f} ms, of which {:.1f} ms inside the "
                           "all-reduce (waits for the slower process included).\n\n",
                           s.measured_processes, s.measured_allreduce_ms, s.measured_bus_gb_per_s, s.step_ms,
                           s.step_comm_ms);
    out += fmt::format("Network: line rate × {:.2f} (what MPI reaches of it), latency α = {:g} µs per message step, one "
                       "process per machine, weak scaling (each process keeps its batch), no overlap of the all-reduce "
                       "with backward (and, in brackets, perfect overlap).\n\n",
                       o.link_efficiency, o.latency_us);
    out += "| processes |";
    for (double g : o.gbit_per_s) out += fmt::format(" {:g} Gbit/s: all-reduce ms | efficiency |", g);
    out += "\n|---:|";
    for (std::size_t i = 0; i < o.gbit_per_s.size(); ++i) out += "---:|---:|";
    out += "\n";
    for (int n : o.processes) {
        out += fmt::format("| {} |", n);
        for (double g : o.gbit_per_s)
            for (const auto& r : s.rows)
                if (r.processes == n && r.gbit_per_s == g)
                    out += fmt::format(" {:.1f} | {:.0f}% ({:.0f}%) |", r.comm_ms, 100 * r.efficiency, 100 * r.efficiency_overlap);
        out += "\n";
    }
    return out;
}

std::string scaling_svg(const ScalingResult& s) {
    std::vector<viz::Series> series;
    std::vector<double> rates;
    for (const auto& r : s.rows)
        if (std::find(rates.begin(), rates.end(), r.gbit_per_s) == rates.end()) rates.push_back(r.gbit_per_s);
    for (double g : rates) {
        viz::Series line{.name = fmt::format("{:g} Gbit/s", g), .x = {}, .y = {}};
        for (const auto& r : s.rows)
            if (r.gbit_per_s == g) {
                line.x.push_back(r.processes);
                line.y.push_back(100 * r.efficiency);
            }
        series.push_back(std::move(line));
    }
    if (series.empty()) fail("bench scaling: no rows to plot");
    return viz::line_plot_svg(series, {.title = fmt::format("{}: predicted data-parallel efficiency ({:.1f} MB of gradients, "
                                                            "{:.0f} ms compute per step)",
                                                            s.model, s.gradient_mb, s.compute_ms),
                                       .x_label = "processes (one per machine)",
                                       .y_label = "efficiency, % (no overlap)",
                                       .width = 720,
                                       .height = 440,
                                       .log_x = true,
                                       .y_min = 0.0,
                                       .y_max = 100.0});
}

void write_scaling(const ScalingResult& s, const ScalingOptions& o, const std::string& dir) {
    std::filesystem::create_directories(dir);
    write_file_atomic((std::filesystem::path(dir) / "scaling.md").string(), scaling_markdown(s, o));
    write_file_atomic((std::filesystem::path(dir) / "scaling.svg").string(), scaling_svg(s));
}

}  // namespace seqgrad::models
