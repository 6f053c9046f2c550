// `seqgrad bench epoch`: the time a user waits per epoch, split into its parts. One real training run
// (models/trainer.h: the corpus, its split and vocabularies, the model, the epoch loop with validation
// and checkpoints) into a temporary model folder that is removed afterwards, timed epoch by epoch
// (EpochTiming). The step benchmarks (models/bench.h) time one step on random ids of one shape; this
// one times what `seqgrad train` does on real sentences: short and bucketed batches of many lengths,
// validation loss and greedy decoding for BLEU each epoch, and the checkpoints.
//
// With `export_file` it also writes the first epoch's training batches (token ids, padded as seqgrad
// pads them), the vocabulary sizes and the validation set's sizes as JSON, so that
// bench/side_by_side_epoch.py can train the PyTorch tutorial's model on exactly the same batches.
// Under mpirun the run is data-parallel as `seqgrad train`'s; rank 0 reports, and its export holds its
// own shard of each batch.
#pragma once
#include <cstdint>
#include <string>

#include "models/trainer.h"

namespace seqgrad::models {

struct EpochBenchOptions {
    TrainOptions train;       // every option of `seqgrad train`; out_dir is ignored (a temporary folder is used)
    std::string export_file;  // empty: none. Must not exist yet (nothing that exists is replaced).
};

struct EpochBenchResult {
    TrainResult run;
    std::size_t train_pairs = 0, valid_pairs = 0, bleu_sentences = 0;
    std::int64_t batches = 0;         // training batches per epoch
    std::int64_t target_tokens = 0;   // target tokens (with <eos>) per training epoch
    std::int64_t source_tokens = 0;   // source tokens per training epoch
    std::int64_t padded_positions = 0;  // batch × (source length + target length), summed: the work done
    std::int64_t src_vocab = 0, tgt_vocab = 0;
    std::int64_t parameters = 0;
};

EpochBenchResult run_epoch_bench(const EpochBenchOptions& options);

// The table `seqgrad bench epoch` prints: per epoch, each part's seconds, then the mean of the epochs
// after the first (the first pays for warm-up: allocations, page faults) with each part's share.
std::string epoch_bench_text(const EpochBenchResult& r);

}  // namespace seqgrad::models
