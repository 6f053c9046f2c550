// `seqgrad train`: train a translator on a bundled task or a TSV corpus into a model folder.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <csignal>
#include <thread>
#include <iostream>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "apps/checks.h"
#include "apps/commands.h"
#include "core/blas.h"
#include "core/distributed.h"
#include "apps/options.h"
#include "core/random.h"
#include "layers/attention.h"
#include "models/bench.h"
#include "models/output_folder.h"
#include "models/resume.h"
#include "models/trainer.h"
#include "models/viz/terminal.h"

namespace seqgrad::apps {

namespace {
// For a SIGINT delivered to a thread that does not block it (one a library started before us).
extern "C" void on_sigint(int) { models::stop_requested() = true; }
}  // namespace

struct StopOnCtrlC::Watcher {
    sigset_t set{};
    sigset_t previous{};
    std::atomic<bool> done{false};
    std::thread thread;
};

StopOnCtrlC::StopOnCtrlC() : watcher_(new Watcher) {
    std::signal(SIGINT, on_sigint);
    sigemptyset(&watcher_->set);
    sigaddset(&watcher_->set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &watcher_->set, &watcher_->previous);
    watcher_->thread = std::thread([w = watcher_] {
        while (!w->done.load()) {
            int sig = 0;
            if (sigwait(&w->set, &sig) == 0 && !w->done.load()) models::stop_requested() = true;
        }
    });
}

StopOnCtrlC::~StopOnCtrlC() {
    watcher_->done = true;
    pthread_kill(watcher_->thread.native_handle(), SIGINT);  // wakes the sigwait
    watcher_->thread.join();
    std::signal(SIGINT, SIG_DFL);
    // A Ctrl-C that came while we were leaving is still pending: discard it rather than die of it
    // once unblocked (training has already stopped).
    struct timespec zero {};
    while (sigtimedwait(&watcher_->set, nullptr, &zero) == SIGINT) {
    }
    pthread_sigmask(SIG_SETMASK, &watcher_->previous, nullptr);
    delete watcher_;
}

std::string listed(const std::vector<std::string>& names) { return fmt::format("{}", fmt::join(names, ", ")); }

// The library's table (models::attention_names()), so the CLI never lists a name of its own.
const std::vector<std::string>& attention_choices() {
    static const std::vector<std::string> names = models::attention_names();
    return names;
}

namespace {
// Sets one key of another architecture's options (TrainOptions::architecture_options, JSON text):
// the Transformer's flags write there, under the keys of its config.json (models/transformer/transformer_model.h).
void set_architecture_option(models::TrainOptions& o, const std::string& key, const nlohmann::json& value) {
    nlohmann::json j = nlohmann::json::parse(o.architecture_options);
    if (!j.is_object()) j = nlohmann::json::object();
    j[key] = value;
    o.architecture_options = j.dump();
}
}  // namespace

void add_train_options(CLI::App& cmd, models::TrainOptions& o, int& threads) {
    cmd.add_option("--task", o.data.task, "Bundled task: " + listed(models::task_names()))
        ->check(CLI::IsMember(models::task_names()));
    cmd.add_option("--data", o.data.file, "A tab-separated corpus: source<TAB>target[<TAB>anything]")->check(CLI::ExistingFile);
    // Left empty until prepare_train_options: a flag the user gave wins over the task's tokenizer.
    o.data.source_tokenizer.clear();
    o.data.target_tokenizer.clear();
    const std::vector<std::string> tokenizers = {"word", "char", "sentencepiece"};
    cmd.add_option("--tokenizer", o.tokenizer, "Tokenizer of both columns: word, char or sentencepiece (subwords)")
        ->check(CLI::IsMember(tokenizers))
        ->default_str("the task's: char for dates, else word");
    cmd.add_option("--source-tokenizer", o.data.source_tokenizer,
                   "Tokenizer of the corpus's first column (the target's with --reverse): word, char or sentencepiece")
        ->check(CLI::IsMember(tokenizers))
        ->default_str("--tokenizer, else the task's");
    cmd.add_option("--target-tokenizer", o.data.target_tokenizer,
                   "Tokenizer of the corpus's second column (the source's with --reverse): word, char or sentencepiece")
        ->check(CLI::IsMember(tokenizers))
        ->default_str("--tokenizer, else the task's");
    cmd.add_option("--vocab-size", o.data.vocab_size,
                   "Vocabulary per side: a sentencepiece model's size, or the most frequent word/char tokens kept")
        ->check(non_negative_integer())
        ->default_str("4000 (sentencepiece), 0 = all (word, char)");
    cmd.add_option("--sp-model", o.data.sp_model, "SentencePiece model type: unigram or bpe")
        ->check(CLI::IsMember({"unigram", "bpe"}));
    cmd.add_flag("--reverse", o.data.reverse, "Swap the columns: translate target -> source");
    cmd.add_option("--max-len", o.data.max_len, "Keep pairs with at most this many tokens per side (0 = all)")
        ->check(non_negative_integer());
    cmd.add_flag("--eng-prefixes", o.data.eng_prefixes, "Keep only sources starting like the PyTorch tutorial's eng_prefixes");
    cmd.add_flag("--strict", o.strict, "A blank or malformed corpus line is an error instead of a skip");
    cmd.add_option("--arch", o.architecture, "Model architecture: " + listed(models::architecture_names()))
        ->check(CLI::IsMember(models::architecture_names()));
    cmd.add_option("--attention", o.model.attention, "Attention: " + listed(attention_choices()))
        ->check(CLI::IsMember(attention_choices()));
    cmd.add_option_function<std::string>(
           "--cell", [&o](const std::string& v) { o.model.cell = models::parse_cell_kind(v); }, "Recurrent cell: gru or lstm")
        ->check(CLI::IsMember({"gru", "lstm"}))
        ->default_str(models::cell_kind_name(o.model.cell));
    cmd.add_option("--hidden", o.model.hidden_size, "Hidden size (also the embedding size unless --embed)")->check(positive_integer());
    o.model.embed_size = 0;  // 0 until prepare_train_options: the same as --hidden unless --embed is given
    cmd.add_option("--embed", o.model.embed_size, "Embedding size")->check(positive_integer())->default_str("--hidden");
    cmd.add_option_function<std::int64_t>(
           "--layers",
           [&o](std::int64_t v) {
               o.model.num_layers = v;
               set_architecture_option(o, "encoder_layers", v);
               set_architecture_option(o, "decoder_layers", v);
           },
           "Recurrent layers (rnn); encoder layers and decoder layers, each (transformer)")
        ->check(integer_range(1, 8))
        ->default_str("1 (rnn), 2 (transformer)");
    cmd.add_flag("--bidirectional", o.model.bidirectional, "Bidirectional encoder (bridged to the decoder's size)");
    cmd.add_flag("--input-feeding", o.model.input_feeding, "Luong-style decoder with input feeding");
    cmd.add_option("--window", o.model.window, "Window D of local attention")->check(positive_integer());
    cmd.add_option_function<double>(
           "--dropout",
           [&o](double v) {
               o.model.dropout = v;
               set_architecture_option(o, "dropout", v);
           },
           "Dropout between recurrent layers (rnn); on embeddings, attention and feed-forward (transformer)")
        ->check(number_range(0.0, 0.95))
        ->default_str("0 (rnn), 0.1 (transformer)");
    // The Transformer's own (--arch transformer; docs/transformer.md).
    cmd.add_option_function<std::int64_t>(
           "--d-model", [&o](std::int64_t v) { set_architecture_option(o, "d_model", v); }, "Transformer: model width")
        ->check(positive_integer())
        ->default_str("128");
    cmd.add_option_function<std::int64_t>(
           "--heads", [&o](std::int64_t v) { set_architecture_option(o, "heads", v); },
           "Transformer: attention heads (--d-model must be a multiple)")
        ->check(positive_integer())
        ->default_str("4");
    cmd.add_option_function<std::int64_t>(
           "--ff", [&o](std::int64_t v) { set_architecture_option(o, "ff", v); }, "Transformer: feed-forward width")
        ->check(positive_integer())
        ->default_str("512");
    cmd.add_option_function<double>(
           "--label-smoothing", [&o](double v) { set_architecture_option(o, "label_smoothing", v); },
           "Transformer: label smoothing epsilon of the training loss")
        ->check(number_range(0.0, 0.9))
        ->default_str("0.1");
    cmd.add_flag_function(
        "--pre-norm", [&o](std::int64_t) { set_architecture_option(o, "pre_norm", true); },
        "Transformer: LayerNorm before each sublayer (default: after, as Vaswani et al.)");
    cmd.add_flag_function(
        "--tie-embeddings", [&o](std::int64_t) { set_architecture_option(o, "tie_embeddings", true); },
        "Transformer: the output projection shares the target embedding's weight");
    cmd.add_option("--batch", o.batch_size, "Sentence pairs per batch")->check(positive_integer());
    cmd.add_option("--epochs", o.epochs, "Epochs")->check(positive_integer());
    cmd.add_option("--lr", o.lr, "Learning rate: the start of every schedule, and the peak of noam and --warmup")
        ->check(positive_number());
    cmd.add_option("--optimizer", o.optimizer, "Optimizer: adam, adamw, sgd, rmsprop, adagrad")
        ->check(CLI::IsMember({"adam", "adamw", "sgd", "rmsprop", "adagrad"}));
    cmd.add_option("--schedule", o.schedule, "Learning-rate schedule: none, step, exponential, cosine, plateau, noam")
        ->check(CLI::IsMember({"none", "step", "exponential", "cosine", "plateau", "noam"}));
    cmd.add_option("--warmup", o.warmup_steps, "Linear warm-up steps up to --lr (noam: 0 = one epoch)")
        ->check(non_negative_integer());
    cmd.add_option("--clip", o.clip, "Clip the global gradient norm to this (0 = off)")->check(non_negative_number());
    cmd.add_option("--teacher-forcing", o.teacher_forcing, "Probability of feeding the reference token")->check(number_range(0.0, 1.0));
    cmd.add_option("--teacher-forcing-decay", o.teacher_forcing_decay, "Scheduled sampling: multiply the ratio by this every epoch")
        ->check(number_range(0.0, 1.0));
    cmd.add_option("--seed", o.seed, "Random seed (same seed and threads: bit-identical run)");
    cmd.add_option("--patience", o.patience, "Early stopping after this many epochs without a better validation loss (0 = off)")
        ->check(non_negative_integer());
    cmd.add_option("--min-freq", o.min_freq, "Vocabulary: keep tokens seen at least this often")->check(positive_integer());
    cmd.add_option("--max-pairs", o.max_pairs, "Use at most this many pairs (0 = all)")->check(non_negative_integer());
    cmd.add_option("--bleu-examples", o.bleu_examples, "Validation sentences decoded for BLEU each epoch (0 = all)")
        ->check(non_negative_integer());
    cmd.add_option("--time-limit", o.time_limit_s, "Stop after the epoch that passes this many seconds")->check(non_negative_number());
    cmd.add_option("--log-every", o.log_every,
                   "Also log train loss and perplexity every N steps (printed and in metrics.jsonl; 0 = per epoch only)")
        ->check(non_negative_integer());
    cmd.add_flag("--detect-anomaly", o.detect_anomaly, "Check every op's output and gradient for NaN/Inf and name the op");
    cmd.add_flag("--blocking-save{false}", o.background_save,
                 "Write each epoch's checkpoints before the next epoch starts (default: while it runs)");
    cmd.add_option("--threads", threads, "Threads for BLAS and elementwise loops")->check(integer_range(1, 256));
}

void prepare_new_run(const CLI::App& cmd, models::TrainOptions& o) {
    // The Transformer's usual schedule: Noam (a linear warm-up over one epoch to --lr, then
    // 1/sqrt(step) decay), unless --schedule is given.
    if (o.architecture == "transformer" && cmd.count("--schedule") == 0) o.schedule = "noam";
    check_architecture_flags(cmd, o);
    prepare_train_options(o);
}

void prepare_train_options(models::TrainOptions& o) {
    if (o.data.task.empty() == o.data.file.empty()) fail("train: give exactly one of --task NAME or --data FILE.tsv");
    const auto [task_source, task_target] =
        o.data.task.empty() ? std::pair<std::string, std::string>{"word", "word"} : models::task_tokenizers(o.data.task);
    if (o.data.source_tokenizer.empty()) o.data.source_tokenizer = o.tokenizer.empty() ? task_source : o.tokenizer;
    if (o.data.target_tokenizer.empty()) o.data.target_tokenizer = o.tokenizer.empty() ? task_target : o.tokenizer;
    if (o.data.vocab_size == 0 && (o.data.source_tokenizer == "sentencepiece" || o.data.target_tokenizer == "sentencepiece"))
        o.data.vocab_size = 4000;
    if (o.model.embed_size == 0) o.model.embed_size = o.model.hidden_size;
    if (o.architecture == "transformer") {
        // Defaults that train the bundled tasks well (README, "The Transformer"); a flag given wins.
        const nlohmann::json defaults = {{"d_model", 128},        {"heads", 4},       {"encoder_layers", 2},
                                         {"decoder_layers", 2},   {"ff", 512},        {"dropout", 0.1},
                                         {"label_smoothing", 0.1}, {"max_len", 512}};
        nlohmann::json j = nlohmann::json::parse(o.architecture_options);
        if (!j.is_object()) j = nlohmann::json::object();
        for (const auto& [key, value] : defaults.items())
            if (!j.contains(key)) j[key] = value;
        o.architecture_options = j.dump();
    }
}

void check_architecture_flags(const CLI::App& cmd, const models::TrainOptions& o) {
    static const std::vector<std::string> rnn_only = {"--attention", "--cell",           "--hidden",
                                                      "--embed",     "--bidirectional",  "--input-feeding",
                                                      "--window",    "--teacher-forcing", "--teacher-forcing-decay"};
    static const std::vector<std::string> transformer_only = {"--d-model",         "--heads",    "--ff",
                                                              "--label-smoothing", "--pre-norm", "--tie-embeddings"};
    const bool transformer = o.architecture == "transformer";
    for (const auto& flag : transformer ? rnn_only : transformer_only)
        if (cmd.count(flag) > 0)
            fail("train: {} is an option of --arch {}, not of --arch {} (see seqgrad train --help)", flag,
                 transformer ? "rnn" : "transformer", o.architecture);
}

namespace {

// Flags that are not part of the run: where it is, how it is shown, how long this session may take.
bool outside_the_run(const std::string& flag) {
    for (const char* f : {"--out", "--resume", "--threads", "--epochs", "--patience", "--time-limit", "--detect-anomaly",
                          "--bleu-examples", "--strict", "--force", "--gemm", "--log-every", "--precision", "--blocking-save",
                          "--help"})
        if (flag == f) return true;
    return false;
}
}  // namespace

// --resume: the run's data, model, optimizer and schedule come from the folder (models/resume.h).
// Each flag given with it is applied to the stored run on its own; one that changes a setting of the
// run is an error naming the flag, its value and the stored one. --epochs may extend the run.
void resolve_resume(const CLI::App& cmd, models::TrainOptions& o) {
    models::TrainOptions stored = models::stored_train_options(o.out_dir);
    stored.interactive = o.interactive;
    stored.quiet = o.quiet;
    const auto settings = models::run_settings(stored);
    // add_train_options leaves the tokenizers and --embed open (empty, 0) for prepare_train_options;
    // for a stored run, open means the stored value.
    auto keep_stored = [&stored](models::TrainOptions& t) {
        if (t.data.source_tokenizer.empty()) t.data.source_tokenizer = t.tokenizer.empty() ? stored.data.source_tokenizer : t.tokenizer;
        if (t.data.target_tokenizer.empty()) t.data.target_tokenizer = t.tokenizer.empty() ? stored.data.target_tokenizer : t.tokenizer;
        if (t.model.embed_size == 0) t.model.embed_size = stored.model.embed_size;
    };
    models::TrainOptions merged = stored;
    std::vector<std::string> free_args;
    for (const CLI::Option* opt : cmd.get_options()) {
        if (opt->count() == 0 || opt->get_lnames().empty()) continue;
        const std::string flag = "--" + opt->get_lnames().front();
        std::vector<std::string> args = {flag};
        if (opt->get_expected_max() != 0)
            for (const auto& r : opt->results()) args.push_back(r);
        if (outside_the_run(flag)) {
            if (flag != "--out" && flag != "--resume" && flag != "--gemm" && flag != "--precision") free_args.insert(free_args.end(), args.begin(), args.end());
            continue;
        }
        models::TrainOptions probe = stored;
        int threads = 1;
        CLI::App one;
        add_train_options(one, probe, threads);
        one.parse(std::vector<std::string>(args.rbegin(), args.rend()));
        keep_stored(probe);
        for (const auto& [key, value] : models::run_settings(probe))
            if (settings.at(key) != value)
                fail<Error>("train: --resume: {} {} conflicts with the run in {}, trained with {} = {}; drop the flag to "
                            "continue the run, or train a new folder",
                            flag, fmt::join(std::vector<std::string>(args.begin() + 1, args.end()), " "), o.out_dir, key,
                            settings.at(key));
    }
    int threads = 1;
    CLI::App rest;
    add_train_options(rest, merged, threads);
    rest.parse(std::vector<std::string>(free_args.rbegin(), free_args.rend()));
    keep_stored(merged);
    merged.out_dir = o.out_dir;
    merged.resume = true;
    o = merged;
}

void add_train(CLI::App& app) {
    auto* cmd = app.add_subcommand("train", "Train a translator into a model folder");
    auto o = std::make_shared<models::TrainOptions>();
    auto threads = std::make_shared<int>(1);
    o->interactive = viz::stdout_is_terminal();
    cmd->add_option("--out", o->out_dir, "The model folder to write")->required();
    cmd->add_flag("--resume", o->resume, "Continue the run in --out where it stopped");
    cmd->add_flag("--force", o->force,
                  "Write into --out even if it holds a model (its model files are replaced) or other files (kept)");
    add_train_options(*cmd, *o, *threads);
    auto gemm = std::make_shared<std::string>();
    cmd->add_option("--gemm", *gemm, "Matrix-product backend: " + blas::built_backends_str() + " (default: the first)");
    auto precision = std::make_shared<std::string>("fp32");
    cmd->add_option("--precision", *precision,
                    "fp32, or bf16: matrix products on bf16 inputs with fp32 accumulation, the rest fp32 (needs oneDNN "
                    "and avx512_bf16)")
        ->check(CLI::IsMember({"fp32", "bf16"}));
    cmd->callback([cmd, o, threads, gemm, precision] {
        // Under mpirun every rank runs this; a failure on any of them stops all (core/distributed.h).
        dist::agree([&] {
            if (!gemm->empty()) blas::set_backend(blas::parse_backend(*gemm));
            blas::set_precision(blas::parse_precision(*precision));
            // Before any data is read: a folder that must not or cannot be written costs nothing. Only
            // rank 0 writes it; the other ranks read it when resuming.
            if (dist::rank() == 0) models::check_output_folder(o->out_dir, {.resume = o->resume, .force = o->force});
            if (o->resume) {
                resolve_resume(*cmd, *o);
            } else {
                prepare_new_run(*cmd, *o);
            }
        });
        models::set_num_threads(*threads);
        models::TrainResult r;
        {
            StopOnCtrlC ctrl_c;
            r = models::train(*o, std::cout);
        }
        if (dist::rank() == 0)
            std::cout << fmt::format("stopped: {}; best epoch {} (validation loss {:.4f}); model folder {}\n",
                                     r.stop_reason, r.best_epoch, r.best_valid_loss, o->out_dir);
        if (r.stop_reason == "NaN loss") set_exit_code(1);
        if (r.stop_reason == "interrupted") set_exit_code(130);
    });
}

}  // namespace seqgrad::apps
