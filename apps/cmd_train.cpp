// `seqgrad train`: train a translator on a bundled task or a TSV corpus into a model folder.
#include <csignal>
#include <iostream>

#include "apps/commands.h"
#include "core/blas.h"
#include "apps/options.h"
#include "core/random.h"
#include "models/bench.h"
#include "models/terminal.h"
#include "models/trainer.h"

namespace seqgrad::apps {

namespace {
extern "C" void on_sigint(int) { models::stop_requested() = true; }
}  // namespace

StopOnCtrlC::StopOnCtrlC() { std::signal(SIGINT, on_sigint); }
StopOnCtrlC::~StopOnCtrlC() { std::signal(SIGINT, SIG_DFL); }

void add_train_options(CLI::App& cmd, models::TrainOptions& o, int& threads) {
    cmd.add_option("--task", o.data.task, "Bundled task: dates, enfr, reverse, copy")
        ->check(CLI::IsMember({"dates", "enfr", "reverse", "copy"}));
    cmd.add_option("--data", o.data.file, "A tab-separated corpus: source<TAB>target[<TAB>anything]")->check(CLI::ExistingFile);
    cmd.add_option("--source-tokenizer", o.data.source_tokenizer, "word or char (default: word; dates: char)")
        ->check(CLI::IsMember({"word", "char"}));
    cmd.add_option("--target-tokenizer", o.data.target_tokenizer, "word or char")->check(CLI::IsMember({"word", "char"}));
    cmd.add_flag("--reverse", o.data.reverse, "Swap the columns: translate target -> source");
    cmd.add_option("--max-len", o.data.max_len, "Keep pairs with at most this many tokens per side (0 = all)");
    cmd.add_flag("--eng-prefixes", o.data.eng_prefixes, "Keep only sources starting like the PyTorch tutorial's eng_prefixes");
    cmd.add_flag("--strict", o.strict, "A blank or malformed corpus line is an error instead of a skip");
    cmd.add_option("--attention", o.model.attention,
                   "none, additive, dot, general, concat, location, scaled-dot, cosine, local-m, local-p")
        ->check(CLI::IsMember({"none", "additive", "dot", "general", "concat", "location", "scaled-dot", "cosine", "local-m", "local-p", "hard"}));
    cmd.add_option_function<std::string>(
           "--cell", [&o](const std::string& v) { o.model.cell = models::parse_cell_kind(v); }, "gru or lstm")
        ->check(CLI::IsMember({"gru", "lstm"}));
    cmd.add_option("--hidden", o.model.hidden_size, "Hidden size (also the embedding size unless --embed)")->check(CLI::PositiveNumber);
    cmd.add_option("--embed", o.model.embed_size, "Embedding size")->check(CLI::PositiveNumber);
    cmd.add_option("--layers", o.model.num_layers, "Recurrent layers")->check(CLI::Range(1, 8));
    cmd.add_flag("--bidirectional", o.model.bidirectional, "Bidirectional encoder (bridged to the decoder's size)");
    cmd.add_flag("--input-feeding", o.model.input_feeding, "Luong-style decoder with input feeding");
    cmd.add_option("--window", o.model.window, "Window D of local attention")->check(CLI::PositiveNumber);
    cmd.add_option("--dropout", o.model.dropout, "Dropout between recurrent layers")->check(CLI::Range(0.0, 0.95));
    cmd.add_option("--batch", o.batch_size, "Sentence pairs per batch")->check(CLI::PositiveNumber);
    cmd.add_option("--epochs", o.epochs, "Epochs")->check(CLI::PositiveNumber);
    cmd.add_option("--lr", o.lr, "Learning rate")->check(CLI::PositiveNumber);
    cmd.add_option("--optimizer", o.optimizer, "adam, adamw, sgd, rmsprop, adagrad")
        ->check(CLI::IsMember({"adam", "adamw", "sgd", "rmsprop", "adagrad"}));
    cmd.add_option("--schedule", o.schedule, "Learning-rate schedule: none, step, exponential, cosine, plateau, noam")
        ->check(CLI::IsMember({"none", "step", "exponential", "cosine", "plateau", "noam"}));
    cmd.add_option("--warmup", o.warmup_steps, "Linear warm-up steps")->check(CLI::NonNegativeNumber);
    cmd.add_option("--clip", o.clip, "Clip the global gradient norm to this (0 = off)")->check(CLI::NonNegativeNumber);
    cmd.add_option("--teacher-forcing", o.teacher_forcing, "Probability of feeding the reference token")->check(CLI::Range(0.0, 1.0));
    cmd.add_option("--teacher-forcing-decay", o.teacher_forcing_decay, "Scheduled sampling: multiply the ratio by this every epoch")
        ->check(CLI::Range(0.0, 1.0));
    cmd.add_option("--seed", o.seed, "Random seed (same seed and threads: bit-identical run)");
    cmd.add_option("--patience", o.patience, "Early stopping after this many epochs without a better validation loss (0 = off)")
        ->check(CLI::NonNegativeNumber);
    cmd.add_option("--min-freq", o.min_freq, "Vocabulary: keep tokens seen at least this often")->check(CLI::PositiveNumber);
    cmd.add_option("--max-pairs", o.max_pairs, "Use at most this many pairs (0 = all)");
    cmd.add_option("--bleu-examples", o.bleu_examples, "Validation sentences decoded for BLEU each epoch (0 = all)");
    cmd.add_option("--time-limit", o.time_limit_s, "Stop after the epoch that passes this many seconds")->check(CLI::NonNegativeNumber);
    cmd.add_flag("--detect-anomaly", o.detect_anomaly, "Check every op's output and gradient for NaN/Inf and name the op");
    cmd.add_option("--threads", threads, "Threads for BLAS and elementwise loops")->check(CLI::Range(1, 256));
}

void prepare_train_options(models::TrainOptions& o) {
    if (o.data.task.empty() == o.data.file.empty()) fail("train: give exactly one of --task NAME or --data FILE.tsv");
    if (!o.data.task.empty()) {
        auto [s, t] = models::task_tokenizers(o.data.task);
        o.data.source_tokenizer = s;
        o.data.target_tokenizer = t;
    }
}

void add_train(CLI::App& app) {
    auto* cmd = app.add_subcommand("train", "Train a translator into a model folder");
    auto o = std::make_shared<models::TrainOptions>();
    auto threads = std::make_shared<int>(1);
    o->interactive = viz::stdout_is_terminal();
    cmd->add_option("--out", o->out_dir, "The model folder to write")->required();
    cmd->add_flag("--resume", o->resume, "Continue the run in --out where it stopped");
    add_train_options(*cmd, *o, *threads);
    auto gemm = std::make_shared<std::string>();
    cmd->add_option("--gemm", *gemm, "Matrix-product backend: " + blas::built_backends_str() + " (default: the first)");
    cmd->callback([o, threads, gemm] {
        if (!gemm->empty()) blas::set_backend(blas::parse_backend(*gemm));
        prepare_train_options(*o);
        models::set_num_threads(*threads);
        models::TrainResult r;
        {
            StopOnCtrlC ctrl_c;
            r = models::train(*o, std::cout);
        }
        std::cout << fmt::format("stopped: {}; best epoch {} (validation loss {:.4f}); model folder {}\n", r.stop_reason,
                                 r.best_epoch, r.best_valid_loss, o->out_dir);
        if (r.stop_reason == "NaN loss") set_exit_code(1);
        if (r.stop_reason == "interrupted") set_exit_code(130);
    });
}

}  // namespace seqgrad::apps
