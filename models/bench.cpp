// The training-step benchmarks, seq2seq and Transformer, and the seq2seq sweep (see models/bench.h).
//
// Under mpirun the two training-step benchmarks run data-parallel as the trainer does: --batch is the
// global batch, each rank takes its shard of rows (dist::shard), and the gradients are summed over
// the ranks (dist::GradientReducer) before Adam's step; the time inside the all-reduce is reported
// apart, as the step's communication share.
#include "models/bench.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>

#include "core/blas.h"
#include "core/distributed.h"
#include "core/fused_ops.h"
#include "core/random.h"
#include "models/transformer/transformer_translator.h"
#include "models/translation_model.h"
#include "models/viz/svg.h"
#include "optim/adam.h"

namespace seqgrad::models {

double peak_rss_mb() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0) {
            std::istringstream s(line.substr(6));
            double kb = 0;
            s >> kb;
            return kb / 1024.0;
        }
    return 0;
}

// The thread setup lives in the gemm seam (core/blas.h); this name stays for the callers.
void set_num_threads(int threads) { blas::set_num_threads(threads); }

namespace {
// This rank's rows [begin, end) of a [B, T] id matrix (all of it for one process).
Tensor rows_of(const std::vector<std::int64_t>& ids, std::int64_t T, dist::Range rows) {
    const auto first = ids.begin() + static_cast<std::ptrdiff_t>(rows.begin) * T;
    return Tensor::ids(std::vector<std::int64_t>(first, first + static_cast<std::ptrdiff_t>(rows.size()) * T),
                       {static_cast<std::int64_t>(rows.size()), T});
}

// One data-parallel training step's pieces for `model` under mpirun: the same starting weights on
// every rank, this rank's rows, and the gradient reducer (none for one process).
struct DataParallel {
    dist::Range rows;
    std::optional<dist::GradientReducer> reducer;
    DataParallel(std::int64_t batch, const std::vector<Tensor>& parameters)
        : rows(dist::shard(static_cast<std::size_t>(batch), dist::rank(), dist::size())) {
        if (!dist::active()) return;
        dist::broadcast(parameters);
        reducer.emplace(parameters);
    }
    void reduce(std::int64_t T, std::int64_t batch) {
        if (reducer) reducer->reduce(static_cast<double>(rows.size()) * static_cast<double>(T),
                                     static_cast<double>(batch * T));
    }
};

// Runs `warmup` untimed steps, then `steps` timed ones; fills the wall and CPU times per step, pairs
// per second (batch pairs per step), the last step's loss and the peak RSS.
template <class Step>
void time_steps(BenchResult& r, std::int64_t warmup, std::int64_t steps, std::int64_t batch, Step step) {
    for (std::int64_t i = 0; i < warmup; ++i) r.final_loss = step();
    dist::barrier();  // the ranks start the timed steps together
    dist::reset_comm_seconds();
    auto cpu_now = [] {
        timespec ts{};
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
    };
    const double cpu0 = cpu_now();
    const auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < steps; ++i) r.final_loss = step();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.cpu_ms_per_step = (cpu_now() - cpu0) * 1e3 / static_cast<double>(steps);
    r.ms_per_step = seconds * 1e3 / static_cast<double>(steps);
    r.pairs_per_s = static_cast<double>(steps * batch) / seconds;
    r.comm_ms_per_step = dist::comm_seconds() * 1e3 / static_cast<double>(steps);
    r.processes = dist::size();
    r.peak_rss_mb = peak_rss_mb();
}
// A random B x T batch (ids from 4: 0..3 are the specials; the target fed in is the reference shifted
// by <sos>), this process's rows of it under mpirun, and the timed training step on it: forward,
// backward, the all-reduce, Adam. The same for both benches, so their figures compare.
template <typename Model, typename Options>
void time_training(BenchResult& r, Model& model, optim::Adam& adam, Generator& gen, const Options& o) {
    const std::int64_t B = o.batch, T = o.len;
    std::vector<std::int64_t> src(B * T), tin(B * T), tout(B * T);
    for (auto& v : src) v = 4 + static_cast<std::int64_t>(gen.randint(o.src_vocab - 4));
    for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t t = 0; t < T; ++t) {
            tout[b * T + t] = 4 + static_cast<std::int64_t>(gen.randint(o.tgt_vocab - 4));
            tin[b * T + t] = t == 0 ? kSos : tout[b * T + t - 1];
        }
    DataParallel dp(B, model.parameters());
    const Tensor s = rows_of(src, T, dp.rows), ti = rows_of(tin, T, dp.rows), to = rows_of(tout, T, dp.rows);
    const std::vector<std::int64_t> lengths(dp.rows.size(), T);
    time_steps(r, o.warmup, o.steps, B, [&] {
        adam.zero_grad();
        Tensor loss = model.loss(s, lengths, ti, to);
        loss.backward();
        dp.reduce(T, B);
        adam.step();
        return loss.item();
    });
}

}  // namespace

BenchResult run_seq2seq_bench(const BenchOptions& o) {
    dist::agree([&] {  // under mpirun: every rank's options are fine, or all stop
        if (o.hidden < 1 || o.batch < 1 || o.len < 1 || o.src_vocab < 5 || o.tgt_vocab < 5 || o.steps < 1)
            fail("bench seq2seq: hidden, batch, len and steps must be positive and vocabularies at least 5");
        if (o.batch < dist::size()) fail("bench: --batch {} is smaller than the {} processes", o.batch, dist::size());
    });
    set_num_threads(o.threads);
    FastPathGuard fast(o.fast_paths);
    Generator gen(0);
    ModelConfig model_config;  // the recurrent model ("rnn"): the FLOP count below is for it
    Seq2SeqConfig& config = model_config.rnn;
    model_config.set_vocab_sizes(o.src_vocab, o.tgt_vocab);
    config.embed_size = o.hidden;
    config.hidden_size = o.hidden;
    config.cell = parse_cell_kind(o.cell);
    config.attention = o.attention;
    config.max_source_len = std::max<std::int64_t>(64, o.len);
    const std::shared_ptr<TranslationModel> made = make_model(model_config, &gen);
    TranslationModel& model = *made;
    optim::Adam adam(model.parameters(), {.lr = 1e-3});

    BenchResult r;
    time_training(r, model, adam, gen, o);

    // FLOPs of the matrix products and attention scores, forward; backward costs twice that.
    const double H = static_cast<double>(o.hidden), Bd = static_cast<double>(o.batch), Td = static_cast<double>(o.len);
    const double V = static_cast<double>(o.tgt_vocab), G = config.cell == CellKind::GRU ? 3 : 4;
    double fwd = 2 * Bd * Td * H * G * H * 2;                 // encoder: input and hidden projections
    fwd += 2 * Bd * Td * (2 * H) * G * H + 2 * Bd * Td * H * G * H;  // decoder cell: [emb; ctx] and hidden
    fwd += 2 * Bd * Td * H * H + 2 * Bd * Td * H * H;         // keys projection, query projection per step
    fwd += 2 * Bd * Td * Td * H * 2;                          // scores (v . tanh) and the context sum
    fwd += 2 * Bd * Td * H * V;                               // output projection
    r.parameters = model.num_parameters();
    r.gflop_per_step = 3 * fwd / 1e9;
    r.gflops = r.gflop_per_step / (r.ms_per_step / 1e3);
    return r;
}

// ---- the Transformer step -----------------------------------------------------------------------

double transformer_forward_flop(const TransformerBenchOptions& o) {
    const double D = static_cast<double>(o.d_model), F = static_cast<double>(o.ff), B = static_cast<double>(o.batch);
    const double S = static_cast<double>(o.len), T = S, V = static_cast<double>(o.tgt_vocab);
    const double N = static_cast<double>(o.layers);
    const double block = 2 * (4 * D * D + 2 * D * F);  // Q, K, V and output projections; feed-forward
    const double encoder = B * S * N * (block + 4 * S * D);
    const double decoder = B * T * N * (block + 4 * T * D + 2 * 2 * D * D + 4 * S * D) + B * S * N * 2 * 2 * D * D;
    return encoder + decoder + B * T * 2 * D * V;
}

BenchResult run_transformer_bench(const TransformerBenchOptions& o) {
    dist::agree([&] {  // under mpirun: every rank's options are fine, or all stop
        if (o.d_model < 1 || o.heads < 1 || o.layers < 1 || o.ff < 1 || o.batch < 1 || o.len < 1 || o.steps < 1 ||
            o.src_vocab < 5 || o.tgt_vocab < 5)
            fail("bench transformer: d_model, heads, layers, ff, batch, len and steps must be positive and vocabularies at "
                 "least 5");
        if (o.batch < dist::size()) fail("bench: --batch {} is smaller than the {} processes", o.batch, dist::size());
    });
    set_num_threads(o.threads);
    FastPathGuard fast(o.fast_paths);
    Generator gen(0);
    TransformerConfig config;
    config.src_vocab = o.src_vocab;
    config.tgt_vocab = o.tgt_vocab;
    config.d_model = o.d_model;
    config.nhead = o.heads;
    config.num_encoder_layers = o.layers;
    config.num_decoder_layers = o.layers;
    config.dim_feedforward = o.ff;
    config.dropout = o.dropout;
    config.label_smoothing = 0.0;  // torch's side: F.cross_entropy without smoothing
    config.max_len = std::max<std::int64_t>(64, o.len);
    config.validate();  // d_model a multiple of heads, dropout in [0, 1)
    TransformerTranslator model(config, &gen);
    model.train();
    optim::Adam adam(model.parameters(), {.lr = 1e-4});

    BenchResult r;
    time_training(r, model, adam, gen, o);
    r.parameters = model.num_parameters();
    r.gflop_per_step = 3 * transformer_forward_flop(o) / 1e9;
    r.gflops = r.gflop_per_step / (r.ms_per_step / 1e3);
    return r;
}

// ---- the sweep ----------------------------------------------------------------------------------

namespace {
const BenchOptions kReference{};  // hidden 128, batch 32, length 10
std::int64_t reference_value(const std::string& axis) {
    return axis == "hidden" ? kReference.hidden : axis == "batch" ? kReference.batch : kReference.len;
}
}  // namespace

std::vector<SweepPoint> run_bench_sweep(const SweepOptions& o, std::ostream* progress) {
    std::vector<SweepPoint> points;
    auto run = [&](const std::string& axis, std::int64_t value) {
        SweepPoint p{.axis = axis, .value = value, .options = kReference, .result = {}};
        p.options.steps = o.steps;
        p.options.warmup = o.warmup;
        p.options.threads = o.threads;
        p.options.fast_paths = o.fast_paths;
        (axis == "hidden" ? p.options.hidden : axis == "batch" ? p.options.batch : p.options.len) = value;
        p.result = run_seq2seq_bench(p.options);
        if (progress)
            *progress << fmt::format("{:>6} {:>4}: {:8.2f} ms/step (CPU {:8.2f})  {:7.0f} pairs/s\n", axis, value,
                                     p.result.ms_per_step, p.result.cpu_ms_per_step, p.result.pairs_per_s)
                      << std::flush;
        points.push_back(std::move(p));
    };
    {
        // An untimed first run: process start-up (OpenBLAS's threads spinning before they learn they
        // are not needed, first-touch page faults) would otherwise land in the first point's CPU time.
        BenchOptions warm = kReference;
        warm.steps = 1;
        warm.warmup = 1;
        warm.threads = o.threads;
        warm.fast_paths = o.fast_paths;
        (void)run_seq2seq_bench(warm);
    }
    for (auto v : o.hidden) run("hidden", v);
    for (auto v : o.batch) run("batch", v);
    for (auto v : o.len) run("len", v);
    return points;
}

std::string sweep_markdown(const std::vector<SweepPoint>& points) {
    std::string out =
        "| varied | hidden | batch | len | ms/step | CPU ms/step | pairs/s | GFLOP/step | GFLOP/s | peak RSS MB (process, so far) |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& p : points)
        out += fmt::format("| {} | {} | {} | {} | {:.2f} | {:.2f} | {:.0f} | {:.3f} | {:.1f} | {:.0f} |\n", p.axis,
                           p.options.hidden, p.options.batch, p.options.len, p.result.ms_per_step,
                           p.result.cpu_ms_per_step, p.result.pairs_per_s, p.result.gflop_per_step, p.result.gflops,
                           p.result.peak_rss_mb);
    return out;
}

std::string sweep_csv(const std::vector<SweepPoint>& points) {
    std::string out = "varied,hidden,batch,len,ms_per_step,cpu_ms_per_step,pairs_per_s,gflop_per_step,gflops,peak_rss_mb\n";
    for (const auto& p : points)
        out += fmt::format("{},{},{},{},{:.4f},{:.4f},{:.2f},{:.5f},{:.3f},{:.1f}\n", p.axis, p.options.hidden,
                           p.options.batch, p.options.len, p.result.ms_per_step, p.result.cpu_ms_per_step,
                           p.result.pairs_per_s, p.result.gflop_per_step, p.result.gflops, p.result.peak_rss_mb);
    return out;
}

std::string sweep_svg(const std::vector<SweepPoint>& points) {
    std::vector<viz::Series> series;
    for (const std::string axis : {"hidden", "batch", "len"}) {
        viz::Series s{.name = fmt::format("{} (reference {})", axis, reference_value(axis)), .x = {}, .y = {}};
        for (const auto& p : points)
            if (p.axis == axis) {
                s.x.push_back(static_cast<double>(p.value) / static_cast<double>(reference_value(axis)));
                s.y.push_back(p.result.cpu_ms_per_step);
            }
        if (!s.x.empty()) series.push_back(std::move(s));
    }
    if (series.empty()) fail("bench sweep: no points to plot");
    return viz::line_plot_svg(series, {.title = "seq2seq training step: CPU time against one size at a time",
                                       .x_label = "size / reference size (hidden 128, batch 32, length 10)",
                                       .y_label = "CPU ms per step",
                                       .width = 720,
                                       .height = 440,
                                       .log_x = true,
                                       .log_y = true});
}

std::string sweep_axis_svg(const std::vector<SweepPoint>& points, const std::string& axis) {
    viz::Series cpu{.name = "CPU ms/step", .x = {}, .y = {}}, wall{.name = "wall ms/step", .x = {}, .y = {}};
    for (const auto& p : points)
        if (p.axis == axis) {
            cpu.x.push_back(static_cast<double>(p.value));
            cpu.y.push_back(p.result.cpu_ms_per_step);
            wall.x.push_back(static_cast<double>(p.value));
            wall.y.push_back(p.result.ms_per_step);
        }
    if (cpu.x.empty()) fail("bench sweep: no points for axis '{}'", axis);
    const std::string label = axis == "len" ? "source and target length" : axis == "hidden" ? "hidden size" : "batch size";
    return viz::line_plot_svg({cpu, wall}, {.title = fmt::format("seq2seq training step against {}", label),
                                            .x_label = label,
                                            .y_label = "ms per step",
                                            .y_min = 0.0});
}

void write_bench_sweep(const std::vector<SweepPoint>& points, const std::string& dir) {
    std::filesystem::create_directories(dir);
    auto write = [&](const std::string& name, const std::string& text) {
        const std::string path = (std::filesystem::path(dir) / name).string();
        std::ofstream f(path);
        f << text;
        if (!f) fail<Error>("bench sweep: cannot write {}", path);
    };
    write("sweep.md", sweep_markdown(points));
    write("sweep.csv", sweep_csv(points));
    write("sweep.svg", sweep_svg(points));
    for (const std::string axis : {"hidden", "batch", "len"})
        if (std::any_of(points.begin(), points.end(), [&](const SweepPoint& p) { return p.axis == axis; }))
            write("sweep_" + axis + ".svg", sweep_axis_svg(points, axis));
}

}  // namespace seqgrad::models
