// Padding pairs into batches and ordering them per epoch; see models/data/batching.h.
#include "models/data/batching.h"

#include <algorithm>

#include "core/error.h"

namespace seqgrad::data {

namespace {

void check_ids(const std::vector<std::int64_t>& ids, std::size_t pair, const char* side) {
    for (std::size_t t = 0; t < ids.size(); ++t) {
        const std::int64_t id = ids[t];
        if (id < 0) fail<IndexError>("batching: pair {} {} position {} has negative id {}", pair, side, t, id);
        if (id == Vocab::pad_id || id == Vocab::sos_id || id == Vocab::eos_id)
            fail<ShapeError>("batching: pair {} {} position {} holds special id {} ({}); pass ids without "
                             "<pad>/<sos>/<eos>, the batcher adds them",
                             pair, side, t, id, Vocab::specials()[static_cast<std::size_t>(id)]);
    }
}

void check_pair(const EncodedPair& p, std::size_t index) {
    if (p.first.empty()) fail<ShapeError>("batching: pair {} has an empty source", index);
    check_ids(p.first, index, "source");
    check_ids(p.second, index, "target");
}

}  // namespace

std::vector<EncodedPair> encode_pairs(const std::vector<SentencePair>& pairs, const Vocab& source_vocab,
                                      const Vocab& target_vocab) {
    std::vector<EncodedPair> out;
    out.reserve(pairs.size());
    for (const auto& p : pairs) out.emplace_back(source_vocab.encode(p.source), target_vocab.encode(p.target));
    return out;
}

Batch make_batch(const std::vector<EncodedPair>& pairs, const std::vector<std::size_t>& indices) {
    if (indices.empty()) fail<ShapeError>("make_batch: no indices (a batch needs at least one pair)");
    Batch b;
    b.batch = static_cast<std::int64_t>(indices.size());
    std::size_t S = 0, T = 0;
    for (std::size_t i : indices) {
        if (i >= pairs.size())
            fail<IndexError>("make_batch: index {} is out of range for {} pairs", i, pairs.size());
        check_pair(pairs[i], i);
        S = std::max(S, pairs[i].first.size());
        T = std::max(T, pairs[i].second.size() + 1);  // + <sos> (in) / <eos> (out)
    }
    b.src_len = static_cast<std::int64_t>(S);
    b.tgt_len = static_cast<std::int64_t>(T);
    const std::size_t B = indices.size();
    b.src.assign(B * S, Vocab::pad_id);
    b.src_mask.assign(B * S, 0.0f);
    b.tgt_in.assign(B * T, Vocab::pad_id);
    b.tgt_out.assign(B * T, Vocab::pad_id);
    b.indices = indices;
    for (std::size_t r = 0; r < B; ++r) {
        const auto& [x, y] = pairs[indices[r]];
        for (std::size_t s = 0; s < x.size(); ++s) {
            b.src[r * S + s] = x[s];  // src[r, s]
            b.src_mask[r * S + s] = 1.0f;
        }
        b.tgt_in[r * T] = Vocab::sos_id;  // tgt_in[r] = <sos> y1 .. yn
        for (std::size_t t = 0; t < y.size(); ++t) {
            b.tgt_in[r * T + t + 1] = y[t];
            b.tgt_out[r * T + t] = y[t];  // tgt_out[r] = y1 .. yn <eos>
        }
        b.tgt_out[r * T + y.size()] = Vocab::eos_id;
        b.src_lengths.push_back(static_cast<std::int64_t>(x.size()));
        b.tgt_lengths.push_back(static_cast<std::int64_t>(y.size() + 1));
    }
    return b;
}

Batcher::Batcher(std::vector<EncodedPair> pairs, BatcherOptions options)
    : pairs_(std::move(pairs)), options_(options) {
    if (pairs_.empty()) fail<ShapeError>("Batcher: no pairs to batch");
    if (options_.batch_size == 0) fail<ShapeError>("Batcher: batch_size must be positive");
    if (options_.bucket && options_.bucket_chunk == 0)
        fail<ShapeError>("Batcher: bucket_chunk must be positive when bucketing");
    for (std::size_t i = 0; i < pairs_.size(); ++i) check_pair(pairs_[i], i);
}

std::size_t Batcher::num_batches() const {
    const std::size_t n = pairs_.size(), bs = options_.batch_size;
    return options_.drop_last ? n / bs : (n + bs - 1) / bs;
}

std::vector<std::vector<std::size_t>> Batcher::plan(std::uint64_t epoch) const {
    const std::size_t n = pairs_.size(), bs = options_.batch_size;
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    SplitMix64 rng(mix_seed(options_.seed, epoch));
    if (options_.shuffle) shuffle(order, rng);

    if (options_.bucket) {
        const std::size_t chunk = bs * options_.bucket_chunk;
        auto by_length = [&](std::size_t a, std::size_t b) {
            const auto& pa = pairs_[a];
            const auto& pb = pairs_[b];
            if (pa.first.size() != pb.first.size()) return pa.first.size() < pb.first.size();
            if (pa.second.size() != pb.second.size()) return pa.second.size() < pb.second.size();
            return a < b;
        };
        for (std::size_t start = 0; start < n; start += chunk)
            std::sort(order.begin() + static_cast<std::ptrdiff_t>(start),
                      order.begin() + static_cast<std::ptrdiff_t>(std::min(n, start + chunk)), by_length);
    }

    std::vector<std::vector<std::size_t>> batches;
    for (std::size_t start = 0; start < n; start += bs) {
        const std::size_t end = std::min(n, start + bs);
        if (options_.drop_last && end - start < bs) break;
        batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start),
                             order.begin() + static_cast<std::ptrdiff_t>(end));
    }
    if (options_.bucket && options_.shuffle) shuffle(batches, rng);
    return batches;
}

std::vector<Batch> Batcher::epoch(std::uint64_t epoch) const {
    std::vector<Batch> out;
    for (const auto& idx : plan(epoch)) out.push_back(make(idx));
    return out;
}

}  // namespace seqgrad::data
