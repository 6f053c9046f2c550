// Batching: a hand-checked padded batch (src, mask, tgt_in, tgt_out, lengths), bad input, and the
// Batcher's epochs: every pair once, deterministic in (seed, epoch), drop_last, bucketing.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "models/data/batching.h"

using namespace seqgrad::data;
using Ids = std::vector<std::int64_t>;
using Catch::Contains;

namespace {

// n pairs with sources of varying length 1..max_len and targets one shorter or longer.
std::vector<EncodedPair> make_pairs(std::size_t n, std::size_t max_len, std::uint64_t seed) {
    SplitMix64 rng(seed);
    std::vector<EncodedPair> pairs;
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t ls = 1 + rng.below(max_len), lt = 1 + rng.below(max_len);
        Ids src(ls), tgt(lt);
        for (auto& x : src) x = 4 + static_cast<std::int64_t>(rng.below(20));
        for (auto& y : tgt) y = 4 + static_cast<std::int64_t>(rng.below(20));
        pairs.emplace_back(src, tgt);
    }
    return pairs;
}

std::size_t padding(const std::vector<Batch>& batches) {
    std::size_t pad = 0;
    for (const auto& b : batches)
        for (float m : b.src_mask) pad += m == 0.0f;
    return pad;
}

}  // namespace

TEST_CASE("batching: a padded batch, checked by hand", "[batching]") {
    // pair 0: x = 5 6 7, y = 10      pair 1: x = 8 9, y = 11 12 13
    const std::vector<EncodedPair> pairs = {{{5, 6, 7}, {10}}, {{8, 9}, {11, 12, 13}}};
    const Batch b = make_batch(pairs, {1, 0});
    CHECK(b.batch == 2);
    CHECK(b.src_len == 3);
    CHECK(b.tgt_len == 4);  // longest target (3) + <sos>/<eos>
    CHECK(b.src == Ids{8, 9, 0,  //
                       5, 6, 7});
    CHECK(b.src_mask == std::vector<float>{1, 1, 0,  //
                                           1, 1, 1});
    CHECK(b.src_lengths == Ids{2, 3});
    CHECK(b.tgt_in == Ids{1, 11, 12, 13,  //   <sos> y
                          1, 10, 0, 0});
    CHECK(b.tgt_out == Ids{11, 12, 13, 2,  //  y <eos>
                           10, 2, 0, 0});
    CHECK(b.tgt_lengths == Ids{4, 2});
    CHECK(b.indices == std::vector<std::size_t>{1, 0});

    // An empty target is allowed: the decoder learns to stop at once.
    const Batch e = make_batch({{{4}, {}}}, {0});
    CHECK(e.tgt_in == Ids{1});
    CHECK(e.tgt_out == Ids{2});
}

TEST_CASE("batching: bad input names the pair and the problem", "[batching]") {
    const std::vector<EncodedPair> good = {{{5}, {6}}};
    CHECK_THROWS_AS(make_batch(good, {}), seqgrad::ShapeError);
    CHECK_THROWS_AS(make_batch(good, {1}), seqgrad::IndexError);
    CHECK_THROWS_WITH(make_batch(good, {1}), Contains("index 1 is out of range for 1 pairs"));
    CHECK_THROWS_AS(make_batch({{{}, {6}}}, {0}), seqgrad::ShapeError);
    CHECK_THROWS_WITH(make_batch({{{5, -1}, {6}}}, {0}), Contains("pair 0 source position 1 has negative id -1"));
    CHECK_THROWS_AS(make_batch({{{5, -1}, {6}}}, {0}), seqgrad::IndexError);
    CHECK_THROWS_WITH(make_batch({{{5}, {6, 2}}}, {0}), Contains("special id 2 (<eos>)"));
    CHECK_THROWS_AS(make_batch({{{0}, {6}}}, {0}), seqgrad::ShapeError);

    CHECK_THROWS_AS(Batcher({}, {}), seqgrad::ShapeError);
    BatcherOptions zero;
    zero.batch_size = 0;
    CHECK_THROWS_AS(Batcher(good, zero), seqgrad::ShapeError);
    CHECK_THROWS_WITH(Batcher({{{5}, {6}}, {{7}, {1}}}, {}), Contains("pair 1 target position 0"));
}

TEST_CASE("batching: encode_pairs maps tokens through the vocabularies", "[batching]") {
    const Vocab src = Vocab::build({{"le", "chat"}});
    const Vocab tgt = Vocab::build({{"the", "cat"}});
    SentencePair p;
    p.source = {"le", "chien"};
    p.target = {"the", "cat"};
    const auto enc = encode_pairs({p}, src, tgt);
    REQUIRE(enc.size() == 1);
    CHECK(enc[0].first == Ids{src.id("le"), Vocab::unk_id});
    CHECK(enc[0].second == Ids{tgt.id("the"), tgt.id("cat")});
}

TEST_CASE("batching: every pair appears once per epoch, deterministically", "[batching]") {
    const auto pairs = make_pairs(103, 12, 1);
    BatcherOptions o;
    o.batch_size = 10;
    o.seed = 7;
    const Batcher batcher(pairs, o);
    CHECK(batcher.size() == 103);
    CHECK(batcher.num_batches() == 11);

    const auto plan0 = batcher.plan(0);
    REQUIRE(plan0.size() == 11);
    CHECK(plan0.back().size() == 3);
    std::multiset<std::size_t> seen;
    for (const auto& b : plan0) seen.insert(b.begin(), b.end());
    CHECK(seen.size() == 103);
    for (std::size_t i = 0; i < 103; ++i) CHECK(seen.count(i) == 1);

    // Same (seed, epoch) -> same order, also from a second Batcher; other epochs and seeds differ.
    CHECK(batcher.plan(0) == plan0);
    CHECK(Batcher(pairs, o).plan(0) == plan0);
    CHECK(batcher.plan(1) != plan0);
    BatcherOptions other = o;
    other.seed = 8;
    CHECK(Batcher(pairs, other).plan(0) != plan0);

    // The batches are the padded forms of the plan.
    const auto batches = batcher.epoch(0);
    REQUIRE(batches.size() == plan0.size());
    for (std::size_t k = 0; k < batches.size(); ++k) CHECK(batches[k].indices == plan0[k]);

    // Without shuffling, corpus order.
    BatcherOptions plain = o;
    plain.shuffle = false;
    const auto ordered = Batcher(pairs, plain).plan(5);
    CHECK(ordered[0] == std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK(ordered.back() == std::vector<std::size_t>{100, 101, 102});

    // drop_last drops the short final batch only.
    BatcherOptions drop = o;
    drop.drop_last = true;
    const Batcher dropper(pairs, drop);
    CHECK(dropper.num_batches() == 10);
    for (const auto& b : dropper.plan(3)) CHECK(b.size() == 10);
}

TEST_CASE("batching: bucketing groups similar lengths and cuts padding", "[batching]") {
    const auto pairs = make_pairs(2000, 40, 3);
    BatcherOptions o;
    o.batch_size = 16;
    o.seed = 11;
    const Batcher plain(pairs, o);
    o.bucket = true;
    o.bucket_chunk = 20;
    const Batcher bucketed(pairs, o);

    const auto plan = bucketed.plan(0);
    CHECK(plan.size() == plain.num_batches());
    std::set<std::size_t> seen;
    for (const auto& b : plan) seen.insert(b.begin(), b.end());
    CHECK(seen.size() == pairs.size());
    CHECK(bucketed.plan(0) == plan);
    CHECK(bucketed.plan(1) != plan);

    // Inside a batch the sources are sorted by length.
    for (const auto& b : plan)
        for (std::size_t i = 1; i < b.size(); ++i) CHECK(pairs[b[i - 1]].first.size() <= pairs[b[i]].first.size());

    const std::size_t pad_plain = padding(plain.epoch(0)), pad_bucketed = padding(bucketed.epoch(0));
    CHECK(pad_bucketed * 5 < pad_plain);  // much less padding

    // The order of batches is shuffled, not sorted short to long across the epoch.
    std::vector<std::size_t> first_len;
    for (const auto& b : plan) first_len.push_back(pairs[b.front()].first.size());
    CHECK_FALSE(std::is_sorted(first_len.begin(), first_len.end()));

    BatcherOptions bad = o;
    bad.bucket_chunk = 0;
    CHECK_THROWS_AS(Batcher(pairs, bad), seqgrad::ShapeError);
}
