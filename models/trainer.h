// Training a translator: data loading and splitting, vocabularies, the epoch loop with teacher
// forcing (and scheduled sampling), gradient clipping, a learning-rate schedule, validation loss and
// BLEU every epoch, early stopping, checkpoints (best and last), metrics.jsonl and loss.svg, exact
// resume, anomaly detection, and a clean stop on Ctrl-C.
//
// Determinism: every source of randomness is seeded from (seed, epoch) at the start of each epoch
// (batch order, teacher-forcing coins, dropout), and the optimizer and scheduler state is saved at
// every epoch end, so training N epochs straight equals training k, stopping, --resume, and the rest.
//
// Under mpirun (core/distributed.h) train() runs data-parallel: each rank trains on its shard of
// every global batch, the gradients are summed over the ranks, and rank 0 alone writes and logs.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "models/data/batching.h"
#include "models/metrics.h"
#include "models/model_folder.h"
#include "models/rnn/seq2seq_config.h"
#include "models/translator.h"

namespace seqgrad::models {

struct TrainOptions {
    DataSource data;                 // --task or --data, --reverse, --max-len, tokenizers, --vocab-size, --sp-model
    std::string tokenizer;           // --tokenizer: both sides' tokenizer unless a side's own flag is given
    std::string out_dir;             // --out
    std::string architecture = "rnn";  // make_model's name for the model (models/translation_model.h)
    Seq2SeqConfig model;             // the recurrent model's options; vocabulary sizes are filled in from the data
    std::string architecture_options = "{}";  // another architecture's options, as JSON
    // The three above as the model's configuration.
    ModelConfig model_config() const;
    std::int64_t batch_size = 32;
    std::int64_t epochs = 10;
    double lr = 1e-3;
    std::string optimizer = "adam";  // adam | adamw | sgd | rmsprop | adagrad
    std::string schedule = "none";   // none | step | exponential | cosine | plateau | noam
    std::int64_t warmup_steps = 0;   // linear warm-up in optimizer steps, composable with the schedule
    double clip = 1.0;               // global gradient-norm clip; 0 = off
    double teacher_forcing = 1.0;    // initial ratio
    double teacher_forcing_decay = 1.0;  // scheduled sampling: ratio *= decay after every epoch
    std::uint64_t seed = 1;
    std::int64_t patience = 0;       // early stopping: epochs without a better validation loss; 0 = off
    std::size_t min_freq = 1;
    std::size_t max_pairs = 0;       // use at most this many pairs of the corpus (0 = all)
    double valid_fraction = 0.1;
    double test_fraction = 0.1;
    std::size_t bleu_examples = 500; // validation sentences decoded for BLEU each epoch (0 = all)
    bool bucket = true;
    bool strict = false;             // malformed corpus lines are errors
    bool detect_anomaly = false;
    bool resume = false;             // continue the run in out_dir
    bool force = false;              // first remove the model files an earlier run left in out_dir (models/output_folder.h)
    double time_limit_s = 0;         // stop after the epoch that crosses this budget (0 = none)
    std::int64_t log_every = 0;      // also log (and append to metrics.jsonl) every N optimizer steps (0 = off)
    bool quiet = false;
    bool interactive = false;        // redraw one progress line (a terminal) instead of plain lines
    bool background_save = true;     // write each epoch's checkpoints while the next one trains (models/background_save.h)
    // Called with every training batch before its step (`seqgrad bench epoch --export` writes them).
    std::function<void(std::int64_t epoch, const data::Batch&)> on_train_batch;
};

// Where one epoch's wall time went, in seconds (`seqgrad bench epoch` prints it).
struct EpochTiming {
    double train = 0;       // the whole pass over the training batches: the four below and the rest
    double batches = 0;     //   padding the batches and making their id tensors
    double forward = 0;     //   the teacher-forced loss
    double backward = 0;    //   loss.backward() (under mpirun: and the gradient all-reduce)
    double update = 0;      //   gradient clipping, the optimizer and the schedule
    double valid_loss = 0;  // the validation loss
    double decode = 0;      // greedy decoding of the --bleu-examples validation sentences, BLEU and exact match
    double checkpoint = 0;  // the checkpoints (model/last.safetensors, optimizer.safetensors, metrics.jsonl,
                            // loss.svg): the time the training waited for them. Written in the background
                            // (background_save), that is the copy of the tensors and any wait for the
                            // previous epoch's files; the last epoch's includes the wait for its own.
    double total() const { return train + valid_loss + decode + checkpoint; }
};

struct TrainResult {
    std::vector<EpochMetrics> history;
    std::int64_t best_epoch = 0;
    double best_valid_loss = 0;
    std::string stop_reason;  // "epochs", "early stopping", "time limit", "interrupted", "NaN loss"
    double setup_seconds = 0;         // from the call to the first epoch: corpus, split, vocabularies, model
    std::vector<EpochTiming> timings;  // one per epoch trained by this call
};

TrainResult train(const TrainOptions& options, std::ostream& log);

// Set by the SIGINT handler of the command line: training stops at the next batch, saves and exits.
std::atomic<bool>& stop_requested();

// Held-out evaluation on a split of the model folder's corpus (or on another TSV file).
struct EvalResult {
    double bleu = 0;
    double exact_match = 0;
    double token_accuracy = 0;
    double perplexity = 0;
    double source_unk_rate = 0;  // share of the sentences' source tokens that the source vocabulary lacks (0-1)
    double target_unk_rate = 0;  // the same for the references and the target vocabulary
    std::size_t n = 0;
    std::vector<std::string> hypotheses;  // detokenized, in the order of the split
    std::vector<std::string> references;
    std::vector<std::string> sources;
    // Each sentence's translation (tokens, scores, attention) and its reference's tokens, in the same order.
    std::vector<Translation> translations;
    std::vector<std::vector<std::string>> reference_tokens;
};
struct EvalOptions {
    std::string split = "test";  // test | valid | train (from the model folder's split.json)
    std::string data_file = {};  // evaluate on this TSV instead of the split
    std::int64_t beam = 1;
    double length_penalty = kDefaultLengthPenalty;  // GNMT's alpha (models/decoding.h)
    bool layer_attention = false;  // keep every layer's and head's attention in `translations`
    std::size_t limit = 0;       // at most this many sentences (0 = all)
};
EvalResult evaluate(const Translator& translator, const std::string& model_dir, const EvalOptions& options);

// Mean token cross-entropy over all batches (no grad): validation loss and eval's perplexity.
double mean_loss(const TranslationModel& model, const data::Batcher& batcher);

}  // namespace seqgrad::models
