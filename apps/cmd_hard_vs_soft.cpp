// `seqgrad experiment hard-vs-soft`: soft (additive) attention against stochastic hard attention
// (layers/hard_attention.h) on the same small toy task, same data, same initial weights.
//
// Soft attention is differentiable end to end: the loss's gradient tells every score how to move.
// Hard attention samples one source position per step, so its scores only learn from REINFORCE
// (reward = −the sentence's cross-entropy, minus a moving-average baseline): a noisy, unbiased
// estimate. The learning curves (validation exact match and loss by epoch) show what that costs, and
// the alignment score (how often the argmax of the attention row sits on the source token the output
// token copies, L-1-t for reverse and t for copy, up to a constant offset) shows whether the attention
// itself learned or the decoder's state did the work.
// Writes <out>/<task>.tsv, one trainer run folder per variant, table.txt, exact_match.svg, loss.svg,
// and one attention heatmap per variant of the first test sentence.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>

#include "apps/checks.h"
#include "apps/commands.h"
#include "apps/experiment_runs.h"
#include "apps/views.h"
#include "models/bench.h"
#include "models/fileio.h"
#include "models/data/toy_tasks.h"
#include "models/output_folder.h"
#include "models/viz/svg.h"
#include "models/trainer.h"
#include "models/translator.h"

namespace seqgrad::apps {

namespace fs = std::filesystem;

namespace {
// How well the attention aligns: the share of output steps t < min(output length, L) whose attention
// row peaks on the source token that output token comes from (L-1-t for reverse, t for copy) shifted
// by a constant offset δ in {-1, 0, +1}, the best δ for the model. A model may well learn to look one
// position to the side (the encoder state there has just read the token it needs), which is still a
// clean alignment; an attention the decoder does not rely on scores low for every δ.
struct Alignment {
    double share = 0;
    int offset = 0;
};
Alignment alignment(const models::Translator& tr, const std::vector<std::string>& sources, const std::string& task) {
    std::array<std::size_t, 3> right{};  // δ = -1, 0, +1
    std::size_t total = 0;
    for (const auto& s : sources) {
        const models::Translation x = tr.translate(s);
        const auto L = static_cast<std::int64_t>(x.source_tokens.size());
        const auto steps = std::min<std::size_t>({x.output_tokens.size(), x.source_tokens.size(), x.attention.size()});
        for (std::size_t t = 0; t < steps; ++t) {
            const auto& row = x.attention[t];
            const auto peak = static_cast<std::int64_t>(std::max_element(row.begin(), row.end()) - row.begin());
            const std::int64_t expected = task == "reverse" ? L - 1 - static_cast<std::int64_t>(t) : static_cast<std::int64_t>(t);
            for (int d = -1; d <= 1; ++d) right[d + 1] += peak == expected + d;
            ++total;
        }
    }
    Alignment best;
    for (int d = -1; d <= 1; ++d) {
        const double share = total ? static_cast<double>(right[d + 1]) / static_cast<double>(total) : 0.0;
        if (share > best.share) best = {share, d};
    }
    return best;
}
}  // namespace

void add_hard_vs_soft(CLI::App& experiment) {
    auto* cmd = experiment.add_subcommand(
        "hard-vs-soft", "Soft (additive) vs stochastic hard attention (REINFORCE) on a toy task: learning curves");
    struct Opts {
        std::string out = "experiment-hard-vs-soft";
        std::string task = "reverse";
        std::size_t pairs = 4000;
        std::size_t min_len = 4, max_len = 10;
        std::int64_t epochs = 30, hidden = 64;
        double lr = 3e-3;
        std::uint64_t seed = 1;
        int threads = 2;
        bool force = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--out", o->out, "Folder for the data, the runs, the table and the plots");
    cmd->add_option("--task", o->task, "Toy task: reverse or copy")->check(CLI::IsMember({"reverse", "copy"}));
    cmd->add_option("--pairs", o->pairs, "Generated sentence pairs (80% train, 10% validation, 10% test)")
        ->check(integer_range(30, 1000000));
    cmd->add_option("--min-len", o->min_len, "Shortest sequence")->check(integer_range(1, 200));
    cmd->add_option("--max-len", o->max_len, "Longest sequence")->check(integer_range(1, 200));
    cmd->add_option("--epochs", o->epochs, "Epochs per variant")->check(positive_integer());
    cmd->add_option("--hidden", o->hidden, "Hidden size")->check(positive_integer());
    cmd->add_option("--lr", o->lr, "Learning rate (Adam)")->check(positive_number());
    cmd->add_option("--seed", o->seed, "Seed of the data, the initial weights and the sampling");
    add_threads_option(*cmd, o->threads);
    add_force_flag(*cmd, o->force);
    cmd->callback([o] {
        if (o->min_len > o->max_len)
            fail("experiment hard-vs-soft: --min-len {} is greater than --max-len {}", o->min_len, o->max_len);
        start_experiment(o->out, "experiment hard-vs-soft", o->force, o->threads);
        const std::string data = (fs::path(o->out) / (o->task + ".tsv")).string();
        write_digit_task(data, o->task, o->seed, o->pairs, o->min_len, o->max_len);
        std::cout << fmt::format("{}: {} pairs of length {}..{} in {}\n", o->task, o->pairs, o->min_len, o->max_len, data);

        struct Run {
            const char* attention;
            const char* label;
            models::TrainResult result;
            double test_exact = 0;
            Alignment test_alignment;
            double seconds = 0;
            std::string heatmap;
        };
        std::vector<Run> runs = {{"additive", "soft (additive)", {}, 0, {}, 0, {}}, {"hard", "hard (REINFORCE)", {}, 0, {}, 0, {}}};
        for (Run& run : runs) {
            models::TrainOptions t = experiment_run((fs::path(o->out) / run.attention).string(), o->epochs, 32, 200);
            t.data.file = data;
            t.model.attention = run.attention;
            t.model.hidden_size = o->hidden;
            t.model.embed_size = 32;
            t.lr = o->lr;
            t.seed = o->seed;  // same split, same initial weights (the hard score wraps the same additive one)
            std::cout << fmt::format("training {} ...\n", run.label) << std::flush;
            const auto t0 = std::chrono::steady_clock::now();
            run.result = models::train(t, std::cout);
            run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const models::Translator tr = models::Translator::load(t.out_dir);
            const models::EvalResult ev = models::evaluate(tr, t.out_dir, {.split = "test"});
            run.test_exact = ev.exact_match;
            run.test_alignment = alignment(tr, ev.sources, o->task);
            if (!ev.sources.empty()) {
                run.heatmap = (fs::path(o->out) / fmt::format("attention_{}.svg", run.attention)).string();
                write_attention_svg(tr.translate(ev.sources[0]), run.heatmap, fmt::format("{}: {}", run.label, ev.sources[0]));
            }
        }

        std::string table = fmt::format("{:>5}  {:>14} {:>11}  {:>14} {:>11}\n", "epoch", "soft: v.loss", "v.exact",
                                        "hard: v.loss", "v.exact");
        const auto& soft = runs[0].result.history;
        const auto& hard = runs[1].result.history;
        for (std::size_t i = 0; i < std::max(soft.size(), hard.size()); ++i) {
            auto cell = [](const std::vector<models::EpochMetrics>& h, std::size_t i) {
                return i < h.size() ? fmt::format("{:>14.4f} {:>10.1f}%", h[i].valid_loss, 100 * h[i].valid_exact)
                                    : fmt::format("{:>14} {:>11}", "-", "-");
            };
            table += fmt::format("{:>5}  {}  {}\n", i + 1, cell(soft, i), cell(hard, i));
        }
        table += fmt::format("{:>5}  {:>14} {:>10.1f}%  {:>14} {:>10.1f}%\n", "test", "exact match:", 100 * runs[0].test_exact,
                             "exact match:", 100 * runs[1].test_exact);
        auto aligned = [](const Alignment& a) {
            return fmt::format("{:>14} {:>10.1f}%", fmt::format("align (δ={:+d}):", a.offset), 100 * a.share);
        };
        table += fmt::format("{:>5}  {}  {}\n", "test", aligned(runs[0].test_alignment), aligned(runs[1].test_alignment));
        table += fmt::format("{:>5}  {:>25.1f}s  {:>25.1f}s\n", "time", runs[0].seconds, runs[1].seconds);
        std::cout << "\n" << table;
        write_file_atomic((fs::path(o->out) / "table.txt").string(), table);

        std::vector<viz::Series> exact, loss;
        for (const Run& run : runs) {
            viz::Series e{run.label, {}, {}}, l{run.label, {}, {}};
            for (const auto& m : run.result.history) {
                e.x.push_back(static_cast<double>(m.epoch));
                e.y.push_back(100 * m.valid_exact);
                l.x.push_back(static_cast<double>(m.epoch));
                l.y.push_back(m.valid_loss);
            }
            exact.push_back(e);
            loss.push_back(l);
        }
        const std::string title = fmt::format("Soft vs hard attention on `{}` (lengths {}..{})", o->task, o->min_len, o->max_len);
        const std::string exact_svg = (fs::path(o->out) / "exact_match.svg").string();
        const std::string loss_svg = (fs::path(o->out) / "loss.svg").string();
        write_file_atomic(exact_svg, viz::line_plot_svg(exact, {.title = title, .x_label = "epoch",
                                                                .y_label = "validation exact match (%)",
                                                                .y_min = 0.0, .y_max = 100.0}));
        write_file_atomic(loss_svg, viz::line_plot_svg(loss, {.title = title, .x_label = "epoch",
                                                              .y_label = "validation cross-entropy per token"}));
        std::cout << "plots: " << exact_svg << ", " << loss_svg;
        for (const Run& run : runs)
            if (!run.heatmap.empty()) std::cout << ", " << run.heatmap;
        std::cout << "\n";
    });
}

}  // namespace seqgrad::apps
