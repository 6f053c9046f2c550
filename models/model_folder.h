// The model folder (`seqgrad train --out DIR`) and the one class that knows its files and their
// formats. The trainer, the Translator, eval and resume go through ModelFolder; nothing else names a
// file of the folder.
//
//   config.json            "model" (ModelConfig: architecture and options), "data" (DataSource: where
//                          the sentences come from and how they were filtered and tokenized),
//                          "training" (the options of the run)
//   source_vocab.json      target_vocab.json
//   source.spm  target.spm the SentencePiece models of the sides that use one (serialized protocol
//                          buffers, as spm_encode --model reads them)
//   split.json             the train/valid/test split (indices into the filtered corpus), so eval
//                          and resume use the same held-out sentences
//   model.safetensors      best weights (by validation loss)
//   last.safetensors       the last complete epoch's weights
//   optimizer.safetensors  optimizer + scheduler + trainer state of the last complete epoch (--resume)
//   interrupted.safetensors weights at a Ctrl-C, mid-epoch (not used by --resume)
//   metrics.jsonl          one JSON object per epoch ("kind": "epoch"), and with --log-every N one per N
//                          steps ("kind": "step") before the epoch's own line    loss.svg   loss curves
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "layers/module.h"
#include "models/data/corpus.h"
#include "models/data/vocab.h"
#include "models/translation_model.h"

namespace seqgrad::models {

// Where the training sentences come from: a bundled task or a TSV file.
struct DataSource {
    std::string task;  // a name of data::task_names(), or empty when file is set
    std::string file;
    bool reverse = false;
    std::size_t max_len = 0;
    bool eng_prefixes = false;
    std::size_t max_pairs = 0;  // keep the first max_pairs pairs after filtering (0 = all)
    std::string source_tokenizer = "word";  // of the file's first column (see side_tokenizers): word, char, sentencepiece
    std::string target_tokenizer = "word";  // of the file's second column
    // Vocabulary budget per side: the most frequent word/char tokens kept (specials included; 0 = all),
    // or the size of a sentencepiece side's model.
    std::size_t vocab_size = 0;
    std::string sp_model = "unigram";       // a sentencepiece side's model type: unigram or bpe
};

struct EpochMetrics {
    std::int64_t epoch = 0;
    double train_loss = 0;
    double valid_loss = 0;
    double valid_bleu = 0;
    double valid_exact = 0;
    double lr = 0;
    double teacher_forcing = 0;
    double seconds = 0;
    double tokens_per_s = 0;
    double grad_norm = 0;  // global norm before clipping, mean over the epoch
};

// What config.json holds.
struct FolderDefinition {
    ModelConfig model;
    DataSource data;
    std::string training_json = "{}";  // the run's options, as written by the trainer
};

// The trainer's own counters at the end of an epoch (optimizer.safetensors, "trainer." entries).
struct TrainerState {
    std::int64_t epoch = 0;  // last complete epoch
    double best_valid_loss = 0;
    std::int64_t best_epoch = 0;
    std::int64_t bad_epochs = 0;
    double teacher_forcing = 1.0;
};

// config.json and both vocabularies, checked against each other.
struct FolderContents {
    FolderDefinition definition;
    data::Vocab source_vocab, target_vocab;
};

class ModelFolder {
public:
    explicit ModelFolder(std::string dir) : dir_(std::move(dir)) {}
    const std::string& dir() const { return dir_; }
    // The path of one of the folder's files ("config.json", "last.safetensors", ...).
    std::string path(const std::string& file) const;
    bool has(const std::string& file) const;
    // True when the folder holds a run that --resume can continue (its optimizer state).
    bool has_run() const { return has("optimizer.safetensors"); }

    // config.json; every problem names the file.
    FolderDefinition read_definition() const;
    void write_definition(const FolderDefinition& definition) const;
    // config.json and the vocabularies; a vocabulary whose size differs from the model's is an error.
    FolderContents read() const;
    data::Vocab read_source_vocab() const;
    data::Vocab read_target_vocab() const;
    void write_vocabs(const data::Vocab& source, const data::Vocab& target) const;
    // A sentencepiece side's model: `side` is "source" or "target" (the model's sides, after reverse).
    std::string sentencepiece_file(const std::string& side) const { return side + ".spm"; }
    std::string read_sentencepiece(const std::string& side) const;
    void write_sentencepiece(const std::string& side, const std::string& serialized) const;
    data::Split read_split() const;
    void write_split(const data::Split& split) const;

    // Weights: `file` is model.safetensors, last.safetensors or interrupted.safetensors. Loading checks
    // every tensor's name, shape and dtype against the model and names the file and the tensor.
    void save_weights(const std::string& file, const nn::Module& model, const std::map<std::string, std::string>& meta) const;
    void load_weights(const std::string& file, nn::Module& model) const;

    // optimizer.safetensors: the optimizer's and scheduler's state_dict (prefixed "optimizer.",
    // "scheduler.") and the trainer's counters ("trainer.").
    void save_training_state(const std::map<std::string, Tensor>& optimizer, const std::map<std::string, Tensor>* scheduler,
                             const TrainerState& trainer) const;
    // Fills the maps with the saved optimizer and scheduler entries (prefixes removed).
    TrainerState load_training_state(std::map<std::string, Tensor>& optimizer, std::map<std::string, Tensor>& scheduler) const;

    // metrics.jsonl (and loss.svg, drawn from it). `extras` holds per-epoch fields beyond EpochMetrics
    // (per-parameter gradient norms), as JSON object text; `steps` the per-N-steps records (JSON object
    // text with an "epoch" key), each written before the line of its epoch. read_metrics reads at most
    // `upto` epochs and the step records of those epochs.
    void write_metrics(const std::vector<EpochMetrics>& history, const std::vector<std::string>& extras,
                       const std::vector<std::string>& steps = {}) const;
    std::vector<EpochMetrics> read_metrics(std::int64_t upto, std::vector<std::string>& extras,
                                           std::vector<std::string>* steps = nullptr) const;
    // Appends one per-N-steps record to metrics.jsonl as it happens (write_metrics rewrites the file
    // at the epoch's end; read_metrics ignores the records of an epoch that never ended).
    void append_metrics_step(const std::string& record) const;

private:
    std::string dir_;
};

}  // namespace seqgrad::models
