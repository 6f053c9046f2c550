// The trainer in three stages (see models/trainer.h):
//   1. prepare_run: the data (corpus, split, vocabularies) and the model's configuration, new or read
//      back from the folder when resuming;
//   2. the model folder (models/model_folder.h) writes and reads every file;
//   3. the epoch loop: train one epoch, validate, save the checkpoints, stop when asked.
//
// Under mpirun (core/distributed.h) every rank runs all three stages on the same corpus and split.
// Rank 0 alone writes the model folder and prints; each global batch of the plan is cut into one
// shard per rank, and the gradients are summed over the ranks before clipping and the optimizer
// step, so every rank holds the same weights after every step (the single-process update on the
// whole batch, up to float rounding). Decisions that could differ between ranks (a stop request,
// a NaN loss, the time limit) are agreed on collectively, so all ranks leave the loop together.
#include "models/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <streambuf>

#include "core/autograd.h"
#include "core/distributed.h"
#include "core/ops.h"
#include "core/random.h"
#include "core/safetensors.h"
#include "models/background_save.h"
#include "models/data/batching.h"
#include "models/data/sentencepiece.h"
#include "models/model_folder.h"
#include "models/output_folder.h"
#include "models/viz/terminal.h"
#include "optim/adagrad.h"
#include "optim/adam.h"
#include "optim/clip.h"
#include "optim/rmsprop.h"
#include "optim/scheduler.h"
#include "optim/sgd.h"

namespace seqgrad::models {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::atomic<bool>& stop_requested() {
    static std::atomic<bool> flag{false};
    return flag;
}

ModelConfig TrainOptions::model_config() const {
    ModelConfig c;
    c.architecture = architecture;
    c.rnn = model;
    c.options_json = architecture_options;
    return c;
}

namespace {

std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& name, const std::vector<Tensor>& params, double lr) {
    if (name == "adam") return std::make_unique<optim::Adam>(params, optim::AdamOptions{.lr = lr});
    if (name == "adamw") return std::make_unique<optim::AdamW>(params, optim::AdamWOptions{.lr = lr});
    if (name == "sgd") return std::make_unique<optim::SGD>(params, optim::SGDOptions{.lr = lr, .momentum = 0.9});
    if (name == "rmsprop") return std::make_unique<optim::RMSprop>(params, optim::RMSpropOptions{.lr = lr});
    if (name == "adagrad") return std::make_unique<optim::Adagrad>(params, optim::AdagradOptions{.lr = lr});
    fail("unknown optimizer '{}' (valid: adam, adamw, sgd, rmsprop, adagrad)", name);
}

// Every schedule except plateau steps once per batch; plateau steps once per epoch on the
// validation loss.
std::unique_ptr<optim::Scheduler> make_schedule(const TrainOptions& o, optim::Optimizer& opt, std::int64_t per_epoch) {
    std::unique_ptr<optim::Scheduler> s;
    const std::int64_t total = std::max<std::int64_t>(1, per_epoch * o.epochs);
    if (o.schedule == "none") {
    } else if (o.schedule == "step") {
        s = std::make_unique<optim::StepLR>(opt, optim::StepLROptions{.step_size = std::max<std::int64_t>(1, per_epoch), .gamma = 0.5});
    } else if (o.schedule == "exponential") {
        s = std::make_unique<optim::ExponentialLR>(opt, optim::ExponentialLROptions{
            .gamma = std::pow(0.8, 1.0 / static_cast<double>(std::max<std::int64_t>(1, per_epoch)))});
    } else if (o.schedule == "cosine") {
        s = std::make_unique<optim::CosineAnnealingLR>(opt, optim::CosineAnnealingLROptions{.T_max = total, .eta_min = o.lr * 0.01});
    } else if (o.schedule == "noam") {
        const double warm = static_cast<double>(std::max<std::int64_t>(1, o.warmup_steps > 0 ? o.warmup_steps : per_epoch));
        // The peak, at n = warmup, is factor * d^-0.5 * warmup^-0.5: factor = lr * sqrt(d * warmup) makes it --lr.
        const double d = static_cast<double>(o.model.hidden_size);
        s = std::make_unique<optim::NoamLR>(opt, optim::NoamLROptions{
            .d_model = o.model.hidden_size, .warmup_steps = static_cast<std::int64_t>(warm), .factor = o.lr * std::sqrt(d * warm)});
        return s;  // Noam has its own warm-up
    } else if (o.schedule == "plateau") {
        if (o.warmup_steps > 0) fail("--warmup cannot be combined with --schedule plateau");
        return std::make_unique<optim::ReduceLROnPlateau>(opt, optim::ReduceLROnPlateauOptions{.factor = 0.5, .patience = 1});
    } else {
        fail("unknown schedule '{}' (valid: none, step, exponential, cosine, plateau, noam)", o.schedule);
    }
    if (o.warmup_steps > 0)
        s = std::make_unique<optim::LinearWarmup>(opt, optim::LinearWarmupOptions{.warmup_steps = o.warmup_steps}, std::move(s));
    return s;
}

Tensor ids_tensor(const std::vector<std::int64_t>& v, std::int64_t rows, std::int64_t cols) {
    return Tensor::ids(v, {rows, cols});
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
// The seconds since `t`, and `t` moved to now: consecutive laps of one stopwatch.
double lap(Clock::time_point& t) {
    const auto now = Clock::now();
    const double s = std::chrono::duration<double>(now - t).count();
    t = now;
    return s;
}

std::vector<std::size_t> take(const std::vector<std::size_t>& v, std::size_t limit) {
    if (limit == 0 || v.size() <= limit) return v;
    return {v.begin(), v.begin() + static_cast<std::ptrdiff_t>(limit)};
}

// ---- stage 1: the data and the model's configuration ---------------------------------------------

struct Run {
    DataSource source;
    data::Corpus corpus;
    data::Split split;
    data::Vocab sv, tv;
    ModelConfig config;
    SideTokenizers tokenizers;  // the sentencepiece sides' models (null for the others)
    bool resuming = false;
};

// Trains the sentencepiece model of each side that uses one on the TRAINING split's texts only (the
// held-out sentences stay unseen), then tokenizes every pair with it.
SideTokenizers train_subwords(const TrainOptions& o, const Run& run) {
    const auto [source_side, target_side] = side_tokenizers(run.source);
    SideTokenizers t;
    auto train_side = [&](bool source) {
        std::vector<std::string> texts;
        for (auto i : run.split.train)
            texts.push_back(source ? run.corpus.pairs[i].source_text : run.corpus.pairs[i].target_text);
        const data::SentencePieceOptions sp{.vocab_size = static_cast<std::int64_t>(run.source.vocab_size),
                                            .model_type = run.source.sp_model, .seed = o.seed};
        return std::make_shared<data::SentencePieceTokenizer>(data::train_sentencepiece(texts, sp),
                                                              source ? "source.spm" : "target.spm");
    };
    if (source_side == "sentencepiece") t.source = train_side(true);
    if (target_side == "sentencepiece") t.target = train_side(false);
    return t;
}

// The corpus, before anything is written (under mpirun every rank reads its own copy and all of
// them agree that it worked before rank 0 touches the folder).
Run load_run_corpus(const TrainOptions& o, std::ostream& log) {
    Run run;
    run.source = o.data;
    if (o.max_pairs > 0) run.source.max_pairs = o.max_pairs;  // recorded in the model folder, so eval sees the same pairs
    run.corpus = load_corpus(run.source, o.strict);
    if (!o.quiet) log << run.corpus.report.summary() << "\n";
    if (run.corpus.pairs.size() < 3)
        fail<Error>("train: {} has only {} usable sentence pairs; at least 3 are needed for train/valid/test",
                    run.corpus.report.origin, run.corpus.pairs.size());
    return run;
}

// The split, the vocabularies and the model's configuration: new, or read back from the folder.
void prepare_run(Run& run, const TrainOptions& o, const ModelFolder& folder) {
    if (!o.resume) {  // a new run: its split and subword models, before anything is written (they can fail)
        run.split = data::split_corpus(run.corpus.pairs.size(), o.seed, 1.0 - o.valid_fraction - o.test_fraction,
                                       o.valid_fraction);
        run.tokenizers = train_subwords(o, run);
    }
    // Checks: the command's, before the data. Under mpirun only rank 0 writes the folder; the others
    // read it only when resuming (it must then be on a file system that they see too).
    if (dist::rank() == 0) prepare_output_folder(folder.dir(), {.resume = o.resume, .force = o.force});
    // A folder interrupted before its first epoch ended holds the run's definition but no optimizer
    // state: resuming it starts the run again from epoch 1 (the same run, as everything is seeded).
    run.resuming = o.resume && (folder.has_run() || folder.has("config.json"));
    if (o.resume && !run.resuming)
        fail<Error>("train: --resume: {} holds no run to resume (no optimizer.safetensors)", folder.dir());

    if (run.resuming) {
        run.split = folder.read_split();
        if (run.split.n != run.corpus.pairs.size())
            fail<Error>("train: --resume: the corpus now has {} pairs but the run was split over {}; resume with the "
                        "same data and filters",
                        run.corpus.pairs.size(), run.split.n);
        FolderContents previous = folder.read();
        run.sv = std::move(previous.source_vocab);
        run.tv = std::move(previous.target_vocab);
        run.config = previous.definition.model;
        run.tokenizers = read_side_tokenizers(folder, run.source);
        retokenize(run.corpus, run.source, run.tokenizers);
    } else {
        retokenize(run.corpus, run.source, run.tokenizers);
        std::vector<std::vector<std::string>> src_tokens, tgt_tokens;
        for (auto i : run.split.train) {
            src_tokens.push_back(run.corpus.pairs[i].source);
            tgt_tokens.push_back(run.corpus.pairs[i].target);
        }
        // --vocab-size caps a word or char side's vocabulary; a sentencepiece side's model is its budget.
        const auto [source_side, target_side] = side_tokenizers(run.source);
        auto cap = [&](const std::string& side) { return side == "sentencepiece" ? std::size_t{0} : run.source.vocab_size; };
        run.sv = data::Vocab::build(src_tokens, {.min_freq = o.min_freq, .max_size = cap(source_side)});
        run.tv = data::Vocab::build(tgt_tokens, {.min_freq = o.min_freq, .max_size = cap(target_side)});
        run.config = o.model_config();
    }
    if (run.split.valid.empty())
        fail<Error>("train: the validation split of {} sentence pairs is empty ({:g}% of them rounds to none); use a "
                    "corpus of at least 5 pairs (a larger --max-pairs or --max-len)",
                    run.corpus.pairs.size(), 100 * o.valid_fraction);
}

std::string training_json(const TrainOptions& o) {
    const nlohmann::json training = {{"batch_size", o.batch_size}, {"epochs", o.epochs},   {"lr", o.lr},
                                     {"optimizer", o.optimizer},   {"schedule", o.schedule}, {"warmup_steps", o.warmup_steps},
                                     {"clip", o.clip},             {"teacher_forcing", o.teacher_forcing},
                                     {"teacher_forcing_decay", o.teacher_forcing_decay}, {"seed", o.seed},
                                     {"min_freq", o.min_freq},     {"max_pairs", o.max_pairs},
                                     {"bleu_examples", o.bleu_examples}};
    return training.dump();
}

// ---- stage 3: the epoch loop ----------------------------------------------------------------------

// What one pass over the training batches measured.
struct EpochPass {
    double loss_sum = 0, norm_sum = 0;
    std::int64_t tokens = 0, steps = 0;
    std::map<std::string, double> last_norms;  // per-parameter gradient norms of the last step
    bool nan = false;
    EpochTiming timing;  // its train, batches, forward, backward and update parts
};

class EpochLoop {
public:
    EpochLoop(const TrainOptions& o, Run& run, const ModelFolder& folder, Translator& translator, std::ostream& log)
        : o_(o), run_(run), folder_(folder), translator_(translator), model_(translator.model()), log_(log),
          train_batches_(encode(run.split.train), {.batch_size = static_cast<std::size_t>(o.batch_size),
                                                   .shuffle = true, .bucket = o.bucket, .seed = o.seed}),
          // Sorted by length (bucketed without shuffling): the same pairs and tokens as corpus order with
          // far less padding; the mean loss differs only by the order of its sums.
          valid_batches_(encode(run.split.valid), {.batch_size = 64, .shuffle = false, .bucket = true}),
          per_epoch_(static_cast<std::int64_t>(train_batches_.num_batches())),
          optimizer_(make_optimizer(o.optimizer, model_.parameters(), o.lr)),
          schedule_(make_schedule(o, *optimizer_, per_epoch_)),
          plateau_(o.schedule == "plateau") {
        state_.teacher_forcing = o.teacher_forcing;
        state_.best_valid_loss = std::numeric_limits<double>::infinity();
        if (dist::active()) reducer_.emplace(model_.parameters());
    }

    // Continues from the folder's last complete epoch.
    void restore() {
        if (!folder_.has_run()) {  // interrupted in its first epoch: nothing to restore
            if (!o_.quiet) log_ << fmt::format("resuming {} from the start: no epoch was complete\n", folder_.dir());
            return;
        }
        std::map<std::string, Tensor> optimizer, scheduler;
        state_ = folder_.load_training_state(optimizer, scheduler);
        optimizer_->load_state_dict(optimizer);
        if (schedule_) schedule_->load_state_dict(scheduler);
        folder_.load_weights("last.safetensors", model_);
        result_.history = folder_.read_metrics(state_.epoch, extras_, &steps_);
        if (!o_.quiet) log_ << fmt::format("resuming {} after epoch {}\n", folder_.dir(), state_.epoch);
    }

    // `called`: when train() was called (the set-up time is until the first epoch starts). Returns once
    // the last checkpoint is on disk; the wait for it counts as the last epoch's saving time.
    TrainResult run(Clock::time_point called) {
        TrainResult r = run_epochs(called);
        const auto t = Clock::now();
        save_.wait();
        if (!r.timings.empty()) r.timings.back().checkpoint += seconds_since(t);
        return r;
    }

private:
    TrainResult run_epochs(Clock::time_point called) {
        result_.setup_seconds = seconds_since(called);
        result_.best_valid_loss = state_.best_valid_loss;
        result_.best_epoch = state_.best_epoch;
        AnomalyGuard anomaly(o_.detect_anomaly || anomaly_detection());
        const auto t_start = Clock::now();
        result_.stop_reason = "epochs";
        if (o_.resume && state_.epoch >= o_.epochs) {
            result_.stop_reason = "finished";
            log_ << fmt::format("{} has finished its {} epochs; nothing to train (`seqgrad train --resume --out {} --epochs N` "
                                "with N > {} trains further)\n",
                                o_.out_dir, state_.epoch, o_.out_dir, state_.epoch);
            return result_;
        }
        for (std::int64_t epoch = state_.epoch + 1; epoch <= o_.epochs; ++epoch) {
            const auto t0 = Clock::now();
            const EpochPass pass = train_epoch(epoch);
            if (pass.nan) {
                result_.stop_reason = "NaN loss";
                log_ << fmt::format("training stopped: the loss became NaN/Inf in epoch {}; {} keeps the last good "
                                    "checkpoint (epoch {}). Try a lower --lr, --clip, or --detect-anomaly to find the op.\n",
                                    epoch, o_.out_dir, epoch - 1);
                break;
            }
            if (stop_requested()) {
                result_.stop_reason = "interrupted";
                save_.wait();  // the last epoch's job would remove the file written here
                if (writer())
                    folder_.save_weights("interrupted.safetensors", model_,
                                         {{"epoch", std::to_string(epoch)}, {"note", "weights at interruption, mid-epoch"}});
                // Only files that exist and a command that works: before the first epoch ends there is
                // no last.safetensors, and --resume starts the run again.
                if (epoch > 1)
                    log_ << fmt::format("\ninterrupted: weights saved to {}; the last complete epoch ({}) is in "
                                        "last.safetensors and `seqgrad train --resume --out {}` continues from it\n",
                                        folder_.path("interrupted.safetensors"), epoch - 1, o_.out_dir);
                else
                    log_ << fmt::format("\ninterrupted: weights saved to {}; no epoch is complete yet, and "
                                        "`seqgrad train --resume --out {}` starts the run again from epoch 1\n",
                                        folder_.path("interrupted.safetensors"), o_.out_dir);
                break;
            }
            EpochTiming timing = pass.timing;
            const EpochMetrics m = validate(epoch, pass, t0, timing);
            const auto t_save = Clock::now();
            const bool best = save_epoch(m, pass);
            timing.checkpoint = seconds_since(t_save);
            result_.timings.push_back(timing);
            if (!o_.quiet)
                log_ << fmt::format("epoch {:>3}  train loss {:.4f} (ppl {})  valid loss {:.4f} (ppl {})  valid BLEU {:5.1f}  "
                                    "exact {:5.1f}%  lr {:.2e}  {:.0f} tok/s  {:.1f}s{}\n",
                                    epoch, m.train_loss, perplexity_text(m.train_loss), m.valid_loss,
                                    perplexity_text(m.valid_loss), m.valid_bleu, 100 * m.valid_exact, m.lr,
                                    m.tokens_per_s, m.seconds, best ? "  *best" : "");
            if (o_.patience > 0 && state_.bad_epochs >= o_.patience) {
                result_.stop_reason = "early stopping";
                if (!o_.quiet)
                    log_ << fmt::format("early stopping: no better validation loss for {} epochs\n", state_.bad_epochs);
                break;
            }
            bool out_of_time =
                o_.time_limit_s > 0 && std::chrono::duration<double>(Clock::now() - t_start).count() > o_.time_limit_s;
            if (o_.time_limit_s > 0 && dist::active()) out_of_time = dist::broadcast_value(out_of_time ? 1 : 0) > 0;  // rank 0's clock
            if (out_of_time) {
                result_.stop_reason = "time limit";
                break;
            }
        }
        return result_;
    }

private:
    // exp(loss) for the log: "12.34", or "inf" for a loss beyond exp's range.
    static std::string perplexity_text(double loss) {
        const double p = std::exp(loss);
        return std::isfinite(p) ? fmt::format("{:.2f}", p) : "inf";
    }

    // --log-every: the window of steps since the last record.
    struct Window {
        double loss_sum = 0, norm_sum = 0;
        std::int64_t tokens = 0, steps = 0;
        Clock::time_point start = Clock::now();
    };

    // One per-N-steps record: printed, appended to metrics.jsonl, and kept for the epoch-end rewrite.
    void log_steps(std::int64_t epoch, std::int64_t step, Window& w) {
        const double loss = w.loss_sum / static_cast<double>(std::max<std::int64_t>(w.tokens, 1));
        const double secs = std::chrono::duration<double>(Clock::now() - w.start).count();
        const double ppl = std::exp(loss);
        nlohmann::json j = {{"kind", "step"},
                            {"epoch", epoch},
                            {"step", step},
                            {"train_loss", loss},
                            {"train_perplexity", std::isfinite(ppl) ? nlohmann::json(ppl) : nlohmann::json()},
                            {"lr", optimizer_->lr()},
                            {"grad_norm", w.norm_sum / static_cast<double>(std::max<std::int64_t>(w.steps, 1))},
                            {"tokens_per_s", static_cast<double>(w.tokens) / std::max(secs, 1e-9)},
                            {"steps", w.steps}};
        steps_.push_back(j.dump());
        save_.wait();  // the last epoch's job rewrites metrics.jsonl
        folder_.append_metrics_step(steps_.back());
        if (!o_.quiet)  // on a terminal, over the progress line (which the next update draws again)
            log_ << fmt::format("{}step {:>6}  epoch {}  train loss {:.4f} (ppl {})  lr {:.2e}  {:.0f} tok/s\n",
                                o_.interactive ? "\r\033[2K" : "", step, epoch, loss, perplexity_text(loss),
                                optimizer_->lr(), static_cast<double>(w.tokens) / std::max(secs, 1e-9));
        w = Window{};
    }

    std::vector<data::EncodedPair> encode(const std::vector<std::size_t>& idx) const {
        std::vector<data::SentencePair> p;
        for (auto i : idx) p.push_back(run_.corpus.pairs[i]);
        return data::encode_pairs(p, run_.sv, run_.tv);
    }

    EpochPass train_epoch(std::int64_t epoch) {
        // Every random draw of this epoch comes from (seed, epoch): resume reproduces it exactly.
        // Under mpirun each rank draws its own coins and dropout masks (rank 0's are a single process's).
        auto per_rank = [](std::uint64_t seed) {
            return dist::rank() == 0 ? seed : data::mix_seed(seed, static_cast<std::uint64_t>(dist::rank()));
        };
        Generator coin(per_rank(data::mix_seed(o_.seed, static_cast<std::uint64_t>(epoch))));
        default_generator().manual_seed(per_rank(data::mix_seed(o_.seed + 1, static_cast<std::uint64_t>(epoch))));
        model_.train();
        const auto t0 = Clock::now();
        EpochPass p;
        viz::ProgressBar bar(static_cast<long>(per_epoch_), fmt::format("epoch {}/{}", epoch, o_.epochs), log_,
                             {.interactive = o_.interactive && !o_.quiet, .plain_every_percent = 25});
        const auto plan = train_batches_.plan(static_cast<std::uint64_t>(epoch));
        Window window;
        for (const auto& idx : plan) {
            const double loss_before = p.loss_sum, norm_before = p.norm_sum;
            const std::int64_t tokens_before = p.tokens;
            if (reducer_) {
                if (!data_parallel_step(epoch, idx, p.steps + 1 == static_cast<std::int64_t>(plan.size()), coin, p)) break;
            } else {
                if (stop_requested()) break;
                auto t = Clock::now();
                const data::Batch b = train_batches_.make(idx);
                if (o_.on_train_batch) o_.on_train_batch(epoch, b);
                optimizer_->zero_grad();
                const Tensor src = ids_tensor(b.src, b.batch, b.src_len), tgt_in = ids_tensor(b.tgt_in, b.batch, b.tgt_len),
                             tgt_out = ids_tensor(b.tgt_out, b.batch, b.tgt_len);
                p.timing.batches += lap(t);
                Tensor loss = model_.loss(src, b.src_lengths, tgt_in, tgt_out,
                                          {.teacher_forcing = state_.teacher_forcing, .generator = &coin});
                const double l = loss.item();
                p.timing.forward += lap(t);
                if (!std::isfinite(l)) {
                    p.nan = true;
                    break;
                }
                loss.backward();
                p.timing.backward += lap(t);
                clip_and_step(p.steps + 1 == static_cast<std::int64_t>(plan.size()), p);
                if (schedule_ && !plateau_) schedule_->step();
                p.timing.update += lap(t);
                std::int64_t n = 0;
                for (auto id : b.tgt_out) n += id != kPad;
                p.loss_sum += l * static_cast<double>(n);
                p.tokens += n;
                ++p.steps;
            }
            if (o_.log_every > 0) {
                window.loss_sum += p.loss_sum - loss_before;
                window.norm_sum += p.norm_sum - norm_before;
                window.tokens += p.tokens - tokens_before;
                ++window.steps;
                // Numbered over the whole run (the same numbers after --resume: every epoch has per_epoch_ steps).
                const std::int64_t step = (epoch - 1) * per_epoch_ + p.steps;
                if (step % o_.log_every == 0) {
                    if (writer()) log_steps(epoch, step, window);  // under mpirun rank 0 alone logs
                    else window = Window{};
                }
            }
            const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
            if (!o_.quiet)
                bar.update(static_cast<long>(p.steps), {{"loss", p.loss_sum / static_cast<double>(p.tokens)},
                                                        {"tok/s", static_cast<double>(p.tokens) / std::max(secs, 1e-9)}});
            if (p.steps == static_cast<std::int64_t>(plan.size()))
                for (auto& [name, param] : model_.named_parameters())
                    if (param.grad().defined())
                        p.last_norms[name] = std::sqrt(sum(mul(param.grad(), param.grad())).item());
        }
        if (!o_.quiet) bar.finish();
        p.timing.train = seconds_since(t0);
        return p;
    }

    // Clips the gradients to --clip (none: max norm 1e300) and updates. The rescaling is folded into
    // the optimizer's own pass (clip_coefficient + step(coefficient): the same update bit for bit,
    // tests/test_clip.cpp), except on the epoch's last step, whose clipped gradients the epoch reports
    // (last_norms), and with fast paths off.
    void clip_and_step(bool last, EpochPass& p) {
        const auto params = model_.parameters();
        const double max_norm = o_.clip > 0 ? o_.clip : 1e300;
        if (last || !fast_paths_enabled()) {
            p.norm_sum += optim::clip_grad_norm(params, max_norm);
            optimizer_->step();
        } else {
            const optim::ClipCoefficient c = optim::clip_coefficient(params, max_norm);
            p.norm_sum += c.total;
            optimizer_->step(c.coefficient);
        }
    }

    // One step under mpirun on the global batch `idx`: this rank's shard forward and backward, the
    // gradients summed over the ranks (dist::GradientReducer), then the same clip and update as one
    // process. False when the loop must stop (a stop request or a non-finite loss on any rank).
    bool data_parallel_step(std::int64_t epoch, const std::vector<std::size_t>& idx, bool last, Generator& coin,
                            EpochPass& p) {
        const dist::Range mine = dist::shard(idx.size(), dist::rank(), dist::size());
        // The global batch's target tokens (each pair: its words and <eos>), known to every rank.
        std::int64_t total = 0;
        for (auto i : idx) total += static_cast<std::int64_t>(train_batches_.pairs()[i].second.size()) + 1;
        optimizer_->zero_grad();
        // [loss · tokens, stop requests, non-finite losses], summed over the ranks.
        double local[3] = {0, stop_requested() ? 1.0 : 0.0, 0};
        Tensor loss;
        std::int64_t n = 0;
        auto t = Clock::now();
        if (!mine.empty() && local[1] == 0) {
            const data::Batch b = train_batches_.make({idx.begin() + static_cast<std::ptrdiff_t>(mine.begin),
                                                       idx.begin() + static_cast<std::ptrdiff_t>(mine.end)});
            if (o_.on_train_batch) o_.on_train_batch(epoch, b);
            const Tensor src = ids_tensor(b.src, b.batch, b.src_len), tgt_in = ids_tensor(b.tgt_in, b.batch, b.tgt_len),
                         tgt_out = ids_tensor(b.tgt_out, b.batch, b.tgt_len);
            p.timing.batches += lap(t);
            loss = model_.loss(src, b.src_lengths, tgt_in, tgt_out,
                               {.teacher_forcing = state_.teacher_forcing, .generator = &coin});
            for (auto id : b.tgt_out) n += id != kPad;
            const double l = loss.item();
            if (std::isfinite(l)) local[0] = l * static_cast<double>(n);
            else local[2] = 1;
            p.timing.forward += lap(t);
        }
        dist::allreduce_sum(std::span<double>(local, 3));
        if (local[1] > 0) {
            stop_requested() = true;  // every rank leaves at this batch
            return false;
        }
        if (local[2] > 0) {
            p.nan = true;
            return false;
        }
        if (loss.defined()) loss.backward();
        reducer_->reduce(static_cast<double>(n), static_cast<double>(total));
        p.timing.backward += lap(t);
        clip_and_step(last, p);
        if (schedule_ && !plateau_) schedule_->step();
        p.timing.update += lap(t);
        p.loss_sum += local[0];
        p.tokens += total;
        ++p.steps;
        return true;
    }

    // Also fills in timing's valid_loss and decode.
    EpochMetrics validate(std::int64_t epoch, const EpochPass& p, Clock::time_point t0, EpochTiming& timing) {
        EpochMetrics m;
        m.epoch = epoch;
        m.train_loss = p.tokens ? p.loss_sum / static_cast<double>(p.tokens) : 0;
        m.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        m.tokens_per_s = static_cast<double>(p.tokens) / std::max(m.seconds, 1e-9);
        m.teacher_forcing = state_.teacher_forcing;
        m.lr = optimizer_->lr();
        m.grad_norm = p.steps ? p.norm_sum / static_cast<double>(p.steps) : 0;
        model_.eval();
        // Under mpirun rank 0 validates (the same weights on every rank) and tells the others.
        if (writer()) {
            auto t = Clock::now();
            m.valid_loss = mean_loss(model_, valid_batches_);
            timing.valid_loss = lap(t);
            std::vector<std::vector<std::string>> srcs, refs;
            for (auto i : take(run_.split.valid, o_.bleu_examples)) {
                srcs.push_back(run_.corpus.pairs[i].source);
                refs.push_back(translator_.scoring_tokens(run_.corpus.pairs[i].target));
            }
            std::vector<std::vector<std::string>> hyps;
            for (const auto& h : translator_.translate_tokens(srcs)) hyps.push_back(translator_.scoring_tokens(h));
            m.valid_bleu = metrics::corpus_bleu(hyps, refs).bleu;
            m.valid_exact = metrics::exact_match(hyps, refs);
            timing.decode = lap(t);
        }
        if (dist::active()) {
            double v[3] = {m.valid_loss, m.valid_bleu, m.valid_exact};
            dist::broadcast(std::span<double>(v, 3));
            m.valid_loss = v[0];
            m.valid_bleu = v[1];
            m.valid_exact = v[2];
        }
        if (plateau_ && schedule_) schedule_->step(m.valid_loss);
        return m;
    }

    // Records the epoch and writes its checkpoints; true when it is the best so far.
    bool save_epoch(const EpochMetrics& m, const EpochPass& p) {
        result_.history.push_back(m);
        nlohmann::json extra;
        extra["grad_norms"] = p.last_norms;
        extras_.push_back(extra.dump());
        const bool best = m.valid_loss < result_.best_valid_loss;
        if (best) {
            result_.best_valid_loss = m.valid_loss;
            result_.best_epoch = m.epoch;
            state_.bad_epochs = 0;
        } else {
            ++state_.bad_epochs;
        }
        state_.teacher_forcing *= o_.teacher_forcing_decay;
        state_.epoch = m.epoch;
        state_.best_valid_loss = result_.best_valid_loss;
        state_.best_epoch = result_.best_epoch;
        if (!writer()) return best;
        // What the files will hold is copied now; the writing overlaps the next epoch (background_save.h).
        // The order of the files is the synchronous one: a run killed in between leaves what it did.
        // (A map of Tensor handles copies as handles: the lambda holds the snapshots, not copies of them.)
        std::optional<std::map<std::string, Tensor>> scheduler;
        if (schedule_) scheduler = snapshot(schedule_->state_dict());
        save_.submit([this, best, weights = snapshot(model_.state_dict()), optimizer = snapshot(optimizer_->state_dict()),
                      scheduler = std::move(scheduler), state = state_, history = result_.history, extras = extras_,
                      steps = steps_] {
            const std::map<std::string, std::string> meta{{"epoch", std::to_string(state.epoch)}};
            if (best) save_safetensors(folder_.path("model.safetensors"), weights, meta);
            save_safetensors(folder_.path("last.safetensors"), weights, meta);
            folder_.save_training_state(optimizer, scheduler ? &*scheduler : nullptr, state);
            folder_.write_metrics(history, extras, steps);
            // A complete epoch supersedes the weights of an earlier interruption.
            if (folder_.has("interrupted.safetensors")) fs::remove(folder_.path("interrupted.safetensors"));
        });
        return best;
    }

    // Under mpirun only rank 0 writes the model folder.
    static bool writer() { return dist::rank() == 0; }

    const TrainOptions& o_;
    Run& run_;
    const ModelFolder& folder_;
    Translator& translator_;
    TranslationModel& model_;
    std::ostream& log_;
    data::Batcher train_batches_, valid_batches_;
    std::int64_t per_epoch_;
    std::unique_ptr<optim::Optimizer> optimizer_;
    std::unique_ptr<optim::Scheduler> schedule_;
    bool plateau_;
    TrainerState state_;
    TrainResult result_;
    std::vector<std::string> extras_;
    std::optional<dist::GradientReducer> reducer_;  // under mpirun
    std::vector<std::string> steps_;  // --log-every records (JSON text), in order
    BackgroundSave save_{o_.background_save};  // last: destroyed (joined) before what its job reads
};

// Where the ranks other than 0 write their log: nowhere.
std::ostream& null_log() {
    struct Discard : std::streambuf {
        int overflow(int c) override { return c; }
    };
    static Discard discard;
    static std::ostream out(&discard);
    return out;
}

}  // namespace

TrainResult train(const TrainOptions& options, std::ostream& rank0_log) {
    const auto called = Clock::now();
    // Under mpirun the ranks other than 0 print nothing (unless they fail: that is main's).
    TrainOptions o = options;
    if (dist::rank() != 0) o.quiet = true;
    // mpirun hands every rank a terminal of its own whether or not its own output is one: plain lines.
    if (dist::active()) o.interactive = false;
    std::ostream& log = dist::rank() == 0 ? rank0_log : null_log();
    const ModelFolder folder(o.out_dir);
    std::optional<Run> run;
    std::optional<Translator> translator;
    std::unique_ptr<EpochLoop> loop;
    // Everything that can fail on bad input, agreed on by all ranks: one rank that cannot read its
    // corpus stops every rank, with that rank's error.
    dist::agree([&] {
        if (o.out_dir.empty()) fail("train: --out DIR is required");
        if (o.batch_size < 1) fail("train: --batch must be at least 1, got {}", o.batch_size);
        if (o.epochs < 1) fail("train: --epochs must be at least 1, got {}", o.epochs);
        if (!(o.lr > 0)) fail("train: --lr must be positive, got {}", o.lr);
        if (!(o.teacher_forcing >= 0 && o.teacher_forcing <= 1))
            fail("train: --teacher-forcing must be in [0, 1], got {}", o.teacher_forcing);
        if (o.clip < 0) fail("train: --clip must be >= 0, got {}", o.clip);
        stop_requested() = false;
        run.emplace(load_run_corpus(o, log));
    });
    // Draws the initial weights, and stays alive for the whole run: layers keep it for their dropout
    // masks (the Transformer's), so it must not be local to the lambda below.
    Generator init_gen(o.seed);
    dist::agree([&] {
        prepare_run(*run, o, folder);
        translator.emplace(run->config, run->sv, run->tv, run->source, &init_gen, run->tokenizers);
        if (!run->resuming && dist::rank() == 0) {
            for (const char* side : {"source", "target"}) {
                const auto& t = std::string(side) == "source" ? run->tokenizers.source : run->tokenizers.target;
                if (t) folder.write_sentencepiece(side, dynamic_cast<const data::SentencePieceTokenizer&>(*t).serialized());
            }
            folder.write_definition(
                {.model = translator->model().model_config(), .data = run->source, .training_json = training_json(o)});
            folder.write_vocabs(run->sv, run->tv);
            folder.write_split(run->split);
        }
        loop = std::make_unique<EpochLoop>(o, *run, folder, *translator, log);
        if (run->resuming) loop->restore();
    });
    // Every rank starts from rank 0's weights (the same seed gives the same ones; this makes sure).
    if (dist::active()) dist::broadcast(translator->model().parameters());
    if (!o.quiet)
        log << fmt::format("{} train / {} valid / {} test pairs; vocab {} source, {} target; {} parameters{}\n",
                           run->split.train.size(), run->split.valid.size(), run->split.test.size(), run->sv.size(),
                           run->tv.size(), translator->model().num_parameters(),
                           dist::active() ? fmt::format("; {} processes, {} pairs per process and batch", dist::size(),
                                                        dist::shard(static_cast<std::size_t>(o.batch_size), 0, dist::size()).size())
                                          : std::string());
    return loop->run(called);
}

// Mean token cross-entropy over all batches (no grad).
double mean_loss(const TranslationModel& model, const data::Batcher& batcher) {
    double nll = 0;
    std::int64_t tokens = 0;
    NoGradGuard no_grad;
    for (const auto& b : batcher.epoch(0)) {
        auto [sum, n] = model.nll_sum(ids_tensor(b.src, b.batch, b.src_len), b.src_lengths,
                                      ids_tensor(b.tgt_in, b.batch, b.tgt_len), ids_tensor(b.tgt_out, b.batch, b.tgt_len));
        nll += sum;
        tokens += n;
    }
    return tokens ? nll / static_cast<double>(tokens) : 0.0;
}

}  // namespace seqgrad::models
