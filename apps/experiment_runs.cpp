#include "apps/experiment_runs.h"

#include <nlohmann/json.hpp>

#include "apps/checks.h"
#include "models/bench.h"
#include "models/data/toy_tasks.h"
#include "models/fileio.h"
#include "models/output_folder.h"

namespace seqgrad::apps {

void add_force_flag(CLI::App& cmd, bool& force) {
    cmd.add_flag("--force", force,
                 "Write into --out even if it is not empty and not this experiment's earlier output (other files are kept)");
}

void add_threads_option(CLI::App& cmd, int& threads) {
    cmd.add_option("--threads", threads, "Threads")->check(integer_range(1, 256));
}

void add_transformer_options(CLI::App& cmd, TransformerRunOptions& o) {
    cmd.add_option("--d-model", o.d_model, "Transformer: model width")->check(positive_integer());
    cmd.add_option("--heads", o.heads, "Transformer: attention heads")->check(positive_integer());
    cmd.add_option("--layers", o.layers, "Transformer: encoder and decoder layers, each")->check(integer_range(1, 8));
    cmd.add_option("--ff", o.ff, "Transformer: feed-forward width")->check(positive_integer());
    cmd.add_option("--transformer-lr", o.lr, "Transformer: peak learning rate (Adam, Noam schedule)")
        ->check(positive_number());
}

void start_experiment(const std::string& out, const std::string& who, bool force, int threads) {
    models::check_command_folder(out, who, force);
    models::claim_command_folder(out, who);
    models::set_num_threads(threads);
}

void write_digit_task(const std::string& path, const std::string& task, std::uint64_t seed, std::size_t n,
                      std::size_t lo, std::size_t hi) {
    data::ToyTaskOptions opt;
    opt.min_len = lo;
    opt.max_len = hi;
    opt.alphabet = "0123456789";
    write_file_atomic(path, data::to_tsv(data::generate_task(task, seed, n, opt)));
}

models::TrainOptions experiment_run(const std::string& out_dir, std::int64_t epochs, std::int64_t batch,
                                    std::size_t bleu_examples) {
    models::TrainOptions t;
    t.out_dir = out_dir;
    t.epochs = epochs;
    t.batch_size = batch;
    t.bleu_examples = bleu_examples;
    t.quiet = true;
    t.force = true;  // a run folder of this experiment's earlier output
    return t;
}

void use_transformer(models::TrainOptions& t, const TransformerRunOptions& o, std::size_t max_len) {
    t.architecture = "transformer";
    t.architecture_options = nlohmann::json{{"d_model", o.d_model}, {"heads", o.heads}, {"encoder_layers", o.layers},
                                            {"decoder_layers", o.layers}, {"ff", o.ff}, {"dropout", o.dropout},
                                            {"label_smoothing", o.label_smoothing}, {"max_len", max_len}}
                                 .dump();
    t.schedule = "noam";
    t.lr = o.lr;
}

}  // namespace seqgrad::apps
