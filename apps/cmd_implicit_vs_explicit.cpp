// `seqgrad experiment implicit-vs-explicit`: does the explicit attention α point where the output
// depends on the source? For each task and each attention type, a small model is trained, then over
// held-out (test split) sentences every output token's attention row α_t is compared with its
// saliency row (models/saliency.h: ‖∂ log p(y_t)/∂e_s‖ over the source embeddings e_s, and
// |gradient × input|):
//   argmax   the share of output tokens whose largest α and largest saliency sit on one source
//            position (chance: the mean of 1/S over the rows)
//   ρ        Spearman's rank correlation of α_t with the saliency row, averaged over the rows
// For the Transformer α is what decoding reports for a step: the last decoder layer's cross-attention
// averaged over its heads. Writes the runs (one model folder per task and variant), table.txt,
// agreement.svg (the table as a heatmap) and saliency_<task>_<variant>.svg (α beside the saliency of
// the first test sentence).
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>

#include <fmt/ranges.h>

#include "apps/checks.h"
#include "apps/commands.h"
#include "apps/experiment_runs.h"
#include "apps/options.h"
#include "apps/views.h"
#include "models/bench.h"
#include "models/fileio.h"
#include "models/output_folder.h"
#include "models/saliency.h"
#include "models/trainer.h"
#include "models/translator.h"
#include "models/viz/svg.h"

namespace seqgrad::apps {

namespace fs = std::filesystem;

namespace {

// The variants this experiment can train: the recurrent model's soft attentions and the Transformer.
std::vector<std::string> variant_choices() {
    std::vector<std::string> v;
    for (const auto& a : models::attention_names())
        if (a != "none" && a != "hard") v.push_back(a);
    v.push_back("transformer");
    return v;
}

struct Row {
    std::string task, variant;
    double exact = 0, bleu = 0;
    models::Agreement norm, gxi;  // against ‖∇‖ and against |gradient × input|
};

// A mean ρ, or "-" when no row had one.
std::string number(double v) { return std::isnan(v) ? std::string("-") : fmt::format("{:.3f}", v); }

}  // namespace

void add_implicit_vs_explicit(CLI::App& experiment) {
    auto* cmd = experiment.add_subcommand(
        "implicit-vs-explicit",
        "Explicit attention α against saliency ‖∂ log p(y_t)/∂e_s‖ on held-out enfr and reverse: argmax agreement, Spearman");
    struct Opts {
        std::string out = "experiment-implicit-vs-explicit";
        std::vector<std::string> tasks = {"enfr", "reverse"};
        std::vector<std::string> variants = {"additive", "dot", "general", "location", "local-p", "transformer"};
        std::size_t max_pairs = 4000, max_len = 12, sentences = 200;
        std::int64_t epochs = 15, hidden = 64, embed = 32, batch = 32;
        double lr = 3e-3;
        TransformerRunOptions transformer{.d_model = 32, .heads = 4, .layers = 2, .ff = 64, .lr = 2e-3};
        std::uint64_t seed = 1;
        int threads = 1;
        bool force = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--out", o->out, "Folder for the runs, the table and the pictures");
    cmd->add_option("--tasks", o->tasks, "Bundled tasks, from: " + listed(models::task_names()))
        ->delimiter(',')
        ->check(CLI::IsMember(models::task_names()));
    cmd->add_option("--variants", o->variants, "Attention types to train and compare, from: " + listed(variant_choices()))
        ->delimiter(',')
        ->check(CLI::IsMember(variant_choices()));
    cmd->add_option("--max-pairs", o->max_pairs, "Pairs per task after the length filter (80% train, 10% validation, 10% test)")
        ->check(integer_range(30, 1000000));
    cmd->add_option("--max-len", o->max_len, "Keep pairs of at most this many tokens")->check(integer_range(1, 200));
    cmd->add_option("--sentences", o->sentences, "Held-out (test) sentences compared per run")->check(positive_integer());
    cmd->add_option("--epochs", o->epochs, "Epochs per run")->check(positive_integer());
    cmd->add_option("--hidden", o->hidden, "RNN: hidden size (GRU encoder and decoder)")->check(positive_integer());
    cmd->add_option("--embed", o->embed, "RNN: embedding size")->check(positive_integer());
    cmd->add_option("--batch", o->batch, "Sentence pairs per batch")->check(positive_integer());
    cmd->add_option("--lr", o->lr, "RNN: learning rate (Adam)")->check(positive_number());
    add_transformer_options(*cmd, o->transformer);
    cmd->add_option("--seed", o->seed, "Seed of the split and the initial weights");
    add_threads_option(*cmd, o->threads);
    add_force_flag(*cmd, o->force);
    cmd->callback([o] {
        const TransformerRunOptions& tf = o->transformer;
        if (tf.d_model % tf.heads != 0)
            fail("experiment implicit-vs-explicit: --d-model {} is not a multiple of --heads {}", tf.d_model, tf.heads);
        start_experiment(o->out, "experiment implicit-vs-explicit", o->force, o->threads);
        const std::string settings = fmt::format(
            "tasks {}, pairs of at most {} tokens, {} pairs per task (80/10/10 split), {} epochs, batch {}, {} held-out "
            "sentences per run, seed {}, {} thread(s); rnn: GRU (one direction, so dot attention fits), hidden {}, embed {}, Adam lr {}, clip 1; "
            "transformer: d_model {}, {} heads, {}+{} layers, ff {}, dropout 0.1, label smoothing 0.1, Adam + Noam to {}, "
            "clip 1; saliency rows: ‖∂ log p(y_t)/∂e_s‖ and |e_s · ∂ log p(y_t)/∂e_s|\n",
            fmt::join(o->tasks, ", "), o->max_len, o->max_pairs, o->epochs, o->batch, o->sentences, o->seed, o->threads,
            o->hidden, o->embed, o->lr, tf.d_model, tf.heads, tf.layers, tf.layers, tf.ff, tf.lr);
        std::string table = fmt::format("{:<8} {:<12} {:>7} {:>6} {:>6}  {:>10} {:>7}  {:>10} {:>7}  {:>7}\n", "task",
                                        "attention", "exact", "BLEU", "rows", "argmax ‖∇‖", "ρ ‖∇‖", "argmax g×i",
                                        "ρ g×i", "chance");
        std::cout << settings << table << std::flush;
        std::vector<Row> rows;
        for (const auto& task : o->tasks) {
            for (const auto& variant : o->variants) {
                models::TrainOptions t = experiment_run(
                    (fs::path(o->out) / fmt::format("{}_{}", task, variant)).string(), o->epochs, o->batch, 100);
                t.data.task = task;
                std::tie(t.data.source_tokenizer, t.data.target_tokenizer) = models::task_tokenizers(task);
                t.data.max_len = o->max_len;
                t.max_pairs = o->max_pairs;
                t.clip = 1.0;
                t.seed = o->seed;
                if (variant == "transformer") {
                    use_transformer(t, tf, std::max<std::size_t>(64, 2 * o->max_len + 12));
                } else {
                    t.model.attention = variant;
                    t.model.hidden_size = o->hidden;
                    t.model.embed_size = o->embed;
                    t.model.max_source_len = std::max<std::int64_t>(64, static_cast<std::int64_t>(o->max_len));
                    t.lr = o->lr;
                }
                models::train(t, std::cout);
                const models::Translator tr = models::Translator::load(t.out_dir);
                models::EvalOptions held_out;
                held_out.split = "test";
                held_out.limit = o->sentences;
                const models::EvalResult ev = models::evaluate(tr, t.out_dir, held_out);
                Row row{task, variant, 100 * ev.exact_match, ev.bleu, {}, {}};
                for (std::size_t i = 0; i < ev.sources.size(); ++i) {
                    const models::Translation x = tr.translate(ev.sources[i]);
                    const models::TranslationSaliency s = models::translation_saliency(tr, x);
                    models::add_agreement(row.norm, x.attention, s.saliency);
                    models::Rows magnitude = s.gradient_x_input;
                    for (auto& r : magnitude)
                        for (double& v : r) v = std::abs(v);
                    models::add_agreement(row.gxi, x.attention, magnitude);
                    if (i == 0)
                        write_saliency_svg(tr, x, (fs::path(o->out) / fmt::format("saliency_{}_{}.svg", task, variant)).string(),
                                           fmt::format("{}, {}: {}", task, variant, ev.sources[i]));
                }
                const std::string line = fmt::format(
                    "{:<8} {:<12} {:>6.1f}% {:>6.1f} {:>6}  {:>9.1f}% {:>7}  {:>9.1f}% {:>7}  {:>6.1f}%\n", task, variant,
                    row.exact, row.bleu, row.norm.rows, 100 * row.norm.argmax_share(), number(row.norm.mean_spearman()),
                    100 * row.gxi.argmax_share(), number(row.gxi.mean_spearman()), 100 * row.norm.chance_share());
                std::cout << line << std::flush;
                table += line;
                rows.push_back(std::move(row));
            }
        }
        write_file_atomic((fs::path(o->out) / "table.txt").string(), settings + table);

        viz::Matrix m;
        std::vector<std::string> labels;
        for (const Row& r : rows) {
            m.push_back({r.norm.argmax_share(), r.norm.mean_spearman(), r.gxi.argmax_share(), r.gxi.mean_spearman(),
                         r.norm.chance_share()});
            labels.push_back(r.task + ": " + r.variant);
        }
        const std::string svg = (fs::path(o->out) / "agreement.svg").string();
        write_file_atomic(svg, viz::heatmap_svg(m, {"argmax ‖∇‖", "ρ ‖∇‖", "argmax |g×i|", "ρ |g×i|", "chance argmax"},
                                                labels,
                                                {.title = "Explicit α vs saliency on held-out sentences (shares and mean ρ)",
                                                 .x_label = "agreement", .y_label = "task: attention",
                                                 .scale = viz::ColourScale::Diverging, .vmin = -1.0, .vmax = 1.0,
                                                 .cell_size = 56, .show_values = viz::HeatmapOptions::Values::Always}));
        std::cout << "plot: " << svg << "; examples: " << (fs::path(o->out) / "saliency_<task>_<attention>.svg").string()
                  << "\n";
    });
}

}  // namespace seqgrad::apps
