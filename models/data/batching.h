// Padded mini-batches of sentence pairs, as plain row-major vectors (no Tensor here: the trainer
// wraps them with Tensor::from).
//
// For pairs (x, y) of token ids without <sos>/<eos>, a batch of B pairs holds
//   src      [B, S]  x padded with <pad> = 0, S = longest source in the batch
//   src_mask [B, S]  1 where src is a real token, 0 on padding (attention masks its scores with it)
//   tgt_in   [B, T]  <sos> y1 .. yn, padded       (the decoder's inputs under teacher forcing)
//   tgt_out  [B, T]  y1 .. yn <eos>, padded with 0 (the targets; the loss ignores id 0)
// with T = longest target + 1.
//
// Batcher orders the pairs for one epoch. With shuffle it permutes them with a seed derived from
// (seed, epoch) by mix_seed, so epoch k is the same whether training reaches it directly or resumes
// there. With bucketing the permuted pairs are cut into chunks of ~50 batches, each chunk is sorted by
// source length (then target length, then index) and cut into batches, and the batch order is then
// shuffled: batches hold similar lengths (little padding) yet the epoch still mixes lengths.
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "models/data/corpus.h"
#include "models/data/vocab.h"

namespace seqgrad::data {

// (source ids, target ids), without <sos> / <eos>.
using EncodedPair = std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>>;

struct Batch {
    std::int64_t batch = 0, src_len = 0, tgt_len = 0;
    std::vector<std::int64_t> src;          // [B, S] row-major, pad = 0
    std::vector<std::int64_t> src_lengths;  // [B]
    std::vector<std::int64_t> tgt_in;       // [B, T] <sos> y1..yn, padded with 0
    std::vector<std::int64_t> tgt_out;      // [B, T] y1..yn <eos>, padded with 0
    std::vector<std::int64_t> tgt_lengths;  // [B] n + 1 (real positions of tgt_in / tgt_out)
    std::vector<float> src_mask;            // [B, S] 1 = real token, 0 = padding
    std::vector<std::size_t> indices;       // [B] which pairs, as positions in the Batcher's list
};

// Encodes tokenized pairs with the two vocabularies (unknown tokens -> <unk>), no <sos>/<eos>.
std::vector<EncodedPair> encode_pairs(const std::vector<SentencePair>& pairs, const Vocab& source_vocab,
                                      const Vocab& target_vocab);

// One padded batch of pairs[indices[0]], pairs[indices[1]], ... Throws seqgrad::ShapeError for an
// empty index list or an empty source, seqgrad::IndexError for an index past the end or a negative id,
// and seqgrad::ShapeError for a sequence that already contains <pad>, <sos> or <eos>.
Batch make_batch(const std::vector<EncodedPair>& pairs, const std::vector<std::size_t>& indices);

struct BatcherOptions {
    std::size_t batch_size = 32;
    bool shuffle = true;              // permute each epoch; false keeps corpus order (evaluation)
    bool bucket = false;              // group similar source lengths (see above)
    std::size_t bucket_chunk = 50;    // batches per sorted chunk when bucketing
    bool drop_last = false;           // drop a final batch smaller than batch_size
    std::uint64_t seed = 0;
};

class Batcher {
public:
    // Keeps its own copy of the pairs; checks every pair once here (see make_batch).
    Batcher(std::vector<EncodedPair> pairs, BatcherOptions options);

    std::size_t size() const { return pairs_.size(); }
    std::size_t num_batches() const;
    const std::vector<EncodedPair>& pairs() const { return pairs_; }
    const BatcherOptions& options() const { return options_; }

    // Which pairs go into each batch of `epoch`, in order; deterministic in (seed, epoch).
    std::vector<std::vector<std::size_t>> plan(std::uint64_t epoch) const;
    // All batches of `epoch`.
    std::vector<Batch> epoch(std::uint64_t epoch) const;
    // The padded batch of one plan entry.
    Batch make(const std::vector<std::size_t>& indices) const { return make_batch(pairs_, indices); }

private:
    std::vector<EncodedPair> pairs_;
    BatcherOptions options_;
};

}  // namespace seqgrad::data
