// The training loop, checkpoints and evaluation (see models/trainer.h).
#include "models/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/random.h"
#include "core/safetensors.h"
#include "models/data/batching.h"
#include "models/fileio.h"
#include "models/output_folder.h"
#include "models/viz/svg.h"
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

namespace {

std::string path_in(const std::string& dir, const char* name) { return (fs::path(dir) / name).string(); }

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

std::map<std::string, Tensor> prefixed(const std::string& prefix, const std::map<std::string, Tensor>& m) {
    std::map<std::string, Tensor> out;
    for (auto& [k, v] : m) out.emplace(prefix + k, v);
    return out;
}
std::map<std::string, Tensor> unprefixed(const std::string& prefix, const std::map<std::string, Tensor>& m) {
    std::map<std::string, Tensor> out;
    for (auto& [k, v] : m)
        if (k.rfind(prefix, 0) == 0) out.emplace(k.substr(prefix.size()), v);
    return out;
}
Tensor scalar64(double v) { return Tensor::scalar(v, DType::Float64); }

nlohmann::json metrics_json(const EpochMetrics& m) {
    return {{"epoch", m.epoch},         {"train_loss", m.train_loss},       {"valid_loss", m.valid_loss},
            {"valid_bleu", m.valid_bleu}, {"valid_exact_match", m.valid_exact}, {"lr", m.lr},
            {"teacher_forcing", m.teacher_forcing}, {"seconds", m.seconds}, {"tokens_per_s", m.tokens_per_s},
            {"grad_norm", m.grad_norm}};
}

void write_metrics(const std::string& dir, const std::vector<EpochMetrics>& history,
                   const std::vector<nlohmann::json>& extras) {
    std::string lines;
    for (std::size_t i = 0; i < history.size(); ++i) {
        nlohmann::json j = metrics_json(history[i]);
        if (i < extras.size())
            for (auto& [k, v] : extras[i].items()) j[k] = v;
        lines += j.dump() + "\n";
    }
    write_file_atomic(path_in(dir, "metrics.jsonl"), lines);
    viz::Series train{"train loss", {}, {}}, valid{"validation loss", {}, {}};
    for (auto& m : history) {
        train.x.push_back(static_cast<double>(m.epoch));
        train.y.push_back(m.train_loss);
        valid.x.push_back(static_cast<double>(m.epoch));
        valid.y.push_back(m.valid_loss);
    }
    if (!history.empty())
        write_file_atomic(path_in(dir, "loss.svg"),
                          viz::line_plot_svg({train, valid}, {.title = "Loss by epoch", .x_label = "epoch",
                                                              .y_label = "cross-entropy per token"}));
}

std::vector<EpochMetrics> read_metrics(const std::string& dir, std::int64_t upto, std::vector<nlohmann::json>& extras) {
    std::vector<EpochMetrics> out;
    std::ifstream in(path_in(dir, "metrics.jsonl"));
    std::string line;
    while (std::getline(in, line) && static_cast<std::int64_t>(out.size()) < upto) {
        try {
            auto j = nlohmann::json::parse(line);
            EpochMetrics m;
            m.epoch = j.at("epoch");
            m.train_loss = j.at("train_loss");
            m.valid_loss = j.at("valid_loss");
            m.valid_bleu = j.at("valid_bleu");
            m.valid_exact = j.value("valid_exact_match", 0.0);
            m.lr = j.at("lr");
            m.teacher_forcing = j.at("teacher_forcing");
            m.seconds = j.at("seconds");
            m.tokens_per_s = j.at("tokens_per_s");
            m.grad_norm = j.value("grad_norm", 0.0);
            out.push_back(m);
            nlohmann::json extra;
            if (j.contains("grad_norms")) extra["grad_norms"] = j["grad_norms"];
            extras.push_back(extra);
        } catch (const nlohmann::json::exception&) {
            fail<Error>("{}: line {} is not a metrics record; the folder is damaged", path_in(dir, "metrics.jsonl"),
                        out.size() + 1);
        }
    }
    return out;
}

std::vector<std::size_t> take(const std::vector<std::size_t>& v, std::size_t limit) {
    if (limit == 0 || v.size() <= limit) return v;
    return {v.begin(), v.begin() + static_cast<std::ptrdiff_t>(limit)};
}

// Mean token cross-entropy over all batches of `pairs` (no grad).
double mean_loss(const Seq2Seq& model, const data::Batcher& batcher) {
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

}  // namespace

TrainResult train(const TrainOptions& o, std::ostream& log) {
    if (o.out_dir.empty()) fail("train: --out DIR is required");
    if (o.batch_size < 1) fail("train: --batch must be at least 1, got {}", o.batch_size);
    if (o.epochs < 1) fail("train: --epochs must be at least 1, got {}", o.epochs);
    if (!(o.lr > 0)) fail("train: --lr must be positive, got {}", o.lr);
    if (!(o.teacher_forcing >= 0 && o.teacher_forcing <= 1))
        fail("train: --teacher-forcing must be in [0, 1], got {}", o.teacher_forcing);
    if (o.clip < 0) fail("train: --clip must be >= 0, got {}", o.clip);
    stop_requested() = false;

    // ---- data ----
    DataSource source = o.data;
    if (o.max_pairs > 0) source.max_pairs = o.max_pairs;  // recorded in the model folder, so eval sees the same pairs
    data::Corpus corpus = load_corpus(source, o.strict);
    if (!o.quiet) log << corpus.report.summary() << "\n";
    if (corpus.pairs.size() < 3)
        fail<Error>("train: {} has only {} usable sentence pairs; at least 3 are needed for train/valid/test",
                    corpus.report.origin, corpus.pairs.size());

    prepare_output_folder(o.out_dir, {.resume = o.resume, .force = o.force});  // checks: the command's, before the data
    const bool resuming = o.resume && fs::exists(path_in(o.out_dir, "optimizer.safetensors"));
    if (o.resume && !resuming)
        fail<Error>("train: --resume: {} holds no run to resume (no optimizer.safetensors)", o.out_dir);

    data::Split split;
    data::Vocab sv, tv;
    Seq2SeqConfig config = o.model;
    if (resuming) {
        split = data::load_split(path_in(o.out_dir, "split.json"));
        if (split.n != corpus.pairs.size())
            fail<Error>("train: --resume: the corpus now has {} pairs but the run was split over {}; resume with the "
                        "same data and filters",
                        corpus.pairs.size(), split.n);
        Translator previous = Translator::load(o.out_dir, "last.safetensors");
        sv = previous.source_vocab();
        tv = previous.target_vocab();
        config = previous.model().config();
    } else {
        split = data::split_corpus(corpus.pairs.size(), o.seed, 1.0 - o.valid_fraction - o.test_fraction, o.valid_fraction);
        std::vector<std::vector<std::string>> src_tokens, tgt_tokens;
        for (auto i : split.train) {
            src_tokens.push_back(corpus.pairs[i].source);
            tgt_tokens.push_back(corpus.pairs[i].target);
        }
        sv = data::Vocab::build(src_tokens, {.min_freq = o.min_freq});
        tv = data::Vocab::build(tgt_tokens, {.min_freq = o.min_freq});
    }
    if (split.valid.empty())
        fail<Error>("train: the validation split of {} sentence pairs is empty ({:g}% of them rounds to none); use a "
                    "corpus of at least 5 pairs (a larger --max-pairs or --max-len)",
                    corpus.pairs.size(), 100 * o.valid_fraction);

    Generator init_gen(o.seed);
    Translator translator(config, sv, tv, source, &init_gen);
    Seq2Seq& model = translator.model();
    nlohmann::json training = {{"batch_size", o.batch_size}, {"epochs", o.epochs},   {"lr", o.lr},
                               {"optimizer", o.optimizer},   {"schedule", o.schedule}, {"warmup_steps", o.warmup_steps},
                               {"clip", o.clip},             {"teacher_forcing", o.teacher_forcing},
                               {"teacher_forcing_decay", o.teacher_forcing_decay}, {"seed", o.seed},
                               {"min_freq", o.min_freq},     {"max_pairs", o.max_pairs}};
    if (!resuming) {
        translator.save_definition(o.out_dir, training.dump());
        data::save_split(split, path_in(o.out_dir, "split.json"));
    }

    auto subset = [&](const std::vector<std::size_t>& idx) {
        std::vector<data::SentencePair> p;
        for (auto i : idx) p.push_back(corpus.pairs[i]);
        return data::encode_pairs(p, sv, tv);
    };
    data::Batcher train_batches(subset(split.train), {.batch_size = static_cast<std::size_t>(o.batch_size),
                                                      .shuffle = true, .bucket = o.bucket, .seed = o.seed});
    data::Batcher valid_batches(subset(split.valid), {.batch_size = 64, .shuffle = false});
    const auto per_epoch = static_cast<std::int64_t>(train_batches.num_batches());

    auto optimizer = make_optimizer(o.optimizer, model.parameters(), o.lr);
    auto schedule = make_schedule(o, *optimizer, per_epoch);
    const bool plateau = o.schedule == "plateau";

    TrainResult result;
    std::vector<nlohmann::json> extras;
    std::int64_t start_epoch = 1, bad_epochs = 0;
    double teacher = o.teacher_forcing;
    result.best_valid_loss = std::numeric_limits<double>::infinity();
    if (resuming) {
        const std::string state_path = path_in(o.out_dir, "optimizer.safetensors");
        SafetensorsFile st = load_safetensors(state_path);
        optimizer->load_state_dict(unprefixed("optimizer.", st.tensors));
        if (schedule) schedule->load_state_dict(unprefixed("scheduler.", st.tensors));
        auto get = [&](const char* key) {
            auto it = st.tensors.find(key);
            if (it == st.tensors.end()) fail<Error>("{}: missing '{}'", state_path, key);
            return it->second.item();
        };
        const auto done = static_cast<std::int64_t>(get("trainer.epoch"));
        start_epoch = done + 1;
        result.best_valid_loss = get("trainer.best_valid_loss");
        result.best_epoch = static_cast<std::int64_t>(get("trainer.best_epoch"));
        bad_epochs = static_cast<std::int64_t>(get("trainer.bad_epochs"));
        teacher = get("trainer.teacher_forcing");
        auto targets = model.state_dict();
        load_into(load_safetensors(path_in(o.out_dir, "last.safetensors")), targets, path_in(o.out_dir, "last.safetensors"));
        result.history = read_metrics(o.out_dir, done, extras);
        if (!o.quiet) log << fmt::format("resuming {} after epoch {}\n", o.out_dir, done);
    }
    if (!o.quiet)
        log << fmt::format("{} train / {} valid / {} test pairs; vocab {} source, {} target; {} parameters\n",
                           split.train.size(), split.valid.size(), split.test.size(), sv.size(), tv.size(),
                           model.num_parameters());

    AnomalyGuard anomaly(o.detect_anomaly || anomaly_detection());
    const auto t_start = Clock::now();
    result.stop_reason = "epochs";
    for (std::int64_t epoch = start_epoch; epoch <= o.epochs; ++epoch) {
        // Every random draw of this epoch comes from (seed, epoch): resume reproduces it exactly.
        Generator coin(data::mix_seed(o.seed, static_cast<std::uint64_t>(epoch)));
        default_generator().manual_seed(data::mix_seed(o.seed + 1, static_cast<std::uint64_t>(epoch)));
        model.train();
        const auto t0 = Clock::now();
        double loss_sum = 0, norm_sum = 0;
        std::int64_t tokens = 0, steps = 0;
        std::map<std::string, double> last_norms;
        viz::ProgressBar bar(static_cast<long>(per_epoch), fmt::format("epoch {}/{}", epoch, o.epochs), log,
                             {.interactive = o.interactive && !o.quiet, .plain_every_percent = 25});
        const auto plan = train_batches.plan(static_cast<std::uint64_t>(epoch));
        bool nan = false;
        for (const auto& idx : plan) {
            if (stop_requested()) break;
            const data::Batch b = train_batches.make(idx);
            optimizer->zero_grad();
            Tensor loss = model.loss(ids_tensor(b.src, b.batch, b.src_len), b.src_lengths,
                                     ids_tensor(b.tgt_in, b.batch, b.tgt_len), ids_tensor(b.tgt_out, b.batch, b.tgt_len),
                                     {.teacher_forcing = teacher, .generator = &coin});
            const double l = loss.item();
            if (!std::isfinite(l)) {
                nan = true;
                break;
            }
            loss.backward();
            const auto params = model.parameters();
            norm_sum += o.clip > 0 ? optim::clip_grad_norm(params, o.clip) : optim::clip_grad_norm(params, 1e300);
            optimizer->step();
            if (schedule && !plateau) schedule->step();
            std::int64_t n = 0;
            for (auto id : b.tgt_out) n += id != kPad;
            loss_sum += l * static_cast<double>(n);
            tokens += n;
            ++steps;
            const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
            if (!o.quiet)
                bar.update(static_cast<long>(steps), {{"loss", loss_sum / static_cast<double>(tokens)},
                                                      {"tok/s", static_cast<double>(tokens) / std::max(secs, 1e-9)}});
            if (steps == static_cast<std::int64_t>(plan.size()))
                for (auto& [name, p] : model.named_parameters())
                    if (p.grad().defined()) last_norms[name] = std::sqrt(sum(mul(p.grad(), p.grad())).item());
        }
        if (!o.quiet) bar.finish();
        if (nan) {
            result.stop_reason = "NaN loss";
            log << fmt::format("training stopped: the loss became NaN/Inf in epoch {}; {} keeps the last good "
                               "checkpoint (epoch {}). Try a lower --lr, --clip, or --detect-anomaly to find the op.\n",
                               epoch, o.out_dir, epoch - 1);
            break;
        }
        if (stop_requested()) {
            result.stop_reason = "interrupted";
            save_safetensors(path_in(o.out_dir, "interrupted.safetensors"), model.state_dict(),
                             {{"epoch", std::to_string(epoch)}, {"note", "weights at interruption, mid-epoch"}});
            log << fmt::format("\ninterrupted: weights saved to {}; the last complete epoch ({}) is in last.safetensors "
                               "and `seqgrad train --resume --out {}` continues from it\n",
                               path_in(o.out_dir, "interrupted.safetensors"), epoch - 1, o.out_dir);
            break;
        }

        EpochMetrics m;
        m.epoch = epoch;
        m.train_loss = tokens ? loss_sum / static_cast<double>(tokens) : 0;
        m.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        m.tokens_per_s = static_cast<double>(tokens) / std::max(m.seconds, 1e-9);
        m.teacher_forcing = teacher;
        m.lr = optimizer->lr();
        m.grad_norm = steps ? norm_sum / static_cast<double>(steps) : 0;
        model.eval();
        m.valid_loss = mean_loss(model, valid_batches);
        {
            std::vector<std::vector<std::string>> srcs, refs;
            for (auto i : take(split.valid, o.bleu_examples)) {
                srcs.push_back(corpus.pairs[i].source);
                refs.push_back(corpus.pairs[i].target);
            }
            auto hyps = translator.translate_tokens(srcs);
            m.valid_bleu = metrics::corpus_bleu(hyps, refs).bleu;
            m.valid_exact = metrics::exact_match(hyps, refs);
        }
        if (plateau && schedule) schedule->step(m.valid_loss);
        result.history.push_back(m);
        nlohmann::json extra;
        extra["grad_norms"] = last_norms;
        extras.push_back(extra);

        const bool best = m.valid_loss < result.best_valid_loss;
        if (best) {
            result.best_valid_loss = m.valid_loss;
            result.best_epoch = epoch;
            bad_epochs = 0;
            save_safetensors(path_in(o.out_dir, "model.safetensors"), model.state_dict(), {{"epoch", std::to_string(epoch)}});
        } else {
            ++bad_epochs;
        }
        teacher *= o.teacher_forcing_decay;
        save_safetensors(path_in(o.out_dir, "last.safetensors"), model.state_dict(), {{"epoch", std::to_string(epoch)}});
        auto state = prefixed("optimizer.", optimizer->state_dict());
        if (schedule)
            for (auto& [k, v] : prefixed("scheduler.", schedule->state_dict())) state.emplace(k, v);
        state.emplace("trainer.epoch", scalar64(static_cast<double>(epoch)));
        state.emplace("trainer.best_valid_loss", scalar64(result.best_valid_loss));
        state.emplace("trainer.best_epoch", scalar64(static_cast<double>(result.best_epoch)));
        state.emplace("trainer.bad_epochs", scalar64(static_cast<double>(bad_epochs)));
        state.emplace("trainer.teacher_forcing", scalar64(teacher));
        save_safetensors(path_in(o.out_dir, "optimizer.safetensors"), state);
        write_metrics(o.out_dir, result.history, extras);
        if (!o.quiet)
            log << fmt::format("epoch {:>3}  train loss {:.4f}  valid loss {:.4f}  valid BLEU {:5.1f}  exact {:5.1f}%  "
                               "lr {:.2e}  {:.0f} tok/s  {:.1f}s{}\n",
                               epoch, m.train_loss, m.valid_loss, m.valid_bleu, 100 * m.valid_exact, m.lr,
                               m.tokens_per_s, m.seconds, best ? "  *best" : "");
        if (o.patience > 0 && bad_epochs >= o.patience) {
            result.stop_reason = "early stopping";
            if (!o.quiet) log << fmt::format("early stopping: no better validation loss for {} epochs\n", bad_epochs);
            break;
        }
        if (o.time_limit_s > 0 && std::chrono::duration<double>(Clock::now() - t_start).count() > o.time_limit_s) {
            result.stop_reason = "time limit";
            break;
        }
    }
    return result;
}

EvalResult evaluate(const Translator& t, const std::string& model_dir, const EvalOptions& o) {
    std::vector<data::SentencePair> pairs;
    if (!o.data_file.empty()) {
        DataSource s = t.data_source();
        s.task.clear();
        s.file = o.data_file;
        pairs = load_corpus(s).pairs;
    } else {
        data::Corpus corpus = load_corpus(t.data_source());
        data::Split split = data::load_split(path_in(model_dir, "split.json"));
        if (split.n != corpus.pairs.size())
            fail<Error>("eval: {} was split over {} pairs but the corpus now has {}; the data changed since training",
                        path_in(model_dir, "split.json"), split.n, corpus.pairs.size());
        const std::vector<std::size_t>* idx = o.split == "test" ? &split.test
                                            : o.split == "valid" ? &split.valid
                                            : o.split == "train" ? &split.train
                                                                 : nullptr;
        if (!idx) fail("eval: unknown split '{}' (valid: test, valid, train)", o.split);
        for (auto i : *idx) pairs.push_back(corpus.pairs[i]);
    }
    if (o.limit > 0 && pairs.size() > o.limit) pairs.resize(o.limit);
    if (pairs.empty()) fail<Error>("eval: no sentence pairs to evaluate");
    EvalResult r;
    r.n = pairs.size();
    std::vector<std::vector<std::string>> srcs, refs;
    for (auto& p : pairs) {
        srcs.push_back(p.source);
        refs.push_back(p.target);
        r.sources.push_back(p.source_text);
        r.references.push_back(p.target_text);
    }
    auto hyps = t.translate_tokens(srcs, o.beam);
    for (auto& h : hyps) r.hypotheses.push_back(t.target_tokenizer().detokenize(h));
    r.bleu = metrics::corpus_bleu(hyps, refs).bleu;
    r.exact_match = metrics::exact_match(hyps, refs);
    r.token_accuracy = metrics::token_accuracy(hyps, refs);
    data::Batcher batches(data::encode_pairs(pairs, t.source_vocab(), t.target_vocab()), {.batch_size = 64, .shuffle = false});
    r.perplexity = std::exp(mean_loss(t.model(), batches));
    return r;
}

}  // namespace seqgrad::models
