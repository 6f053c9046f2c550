// The Transformer translator (models/transformer/transformer_translator.h): gradcheck of the whole
// model on a tiny configuration, the label-smoothed loss by hand, the one-pass teacher forcing
// equal to incremental decoding, tying, attention maps, and a tiny reverse task learnt in seconds.
#include <cmath>
#include <set>

#include "helpers.h"
#include "models/rnn/seq2seq.h"
#include "models/transformer/transformer_translator.h"
#include "optim/adam.h"

using namespace seqgrad;
using models::TransformerConfig;
using models::TransformerTranslator;

namespace {

TransformerConfig tiny(bool tie, bool pre) {
    return {.src_vocab = 7, .tgt_vocab = 7, .d_model = 4, .nhead = 2, .num_encoder_layers = 1,
            .num_decoder_layers = 1, .dim_feedforward = 6, .dropout = 0.0, .norm_first = pre, .tie_embeddings = tie,
            .label_smoothing = 0.1, .max_len = 16};
}

// Two sentences: source lengths 4 and 2; targets <sos> y .. and y .. <eos>, padded with 0.
struct Batch {
    Tensor src = Tensor::ids({4, 5, 6, 3, 5, 4, 0, 0}, {2, 4});
    std::vector<std::int64_t> lengths{4, 2};
    Tensor tgt_in = Tensor::ids({1, 6, 5, 4, 1, 4, 0, 0}, {2, 4});
    Tensor tgt_out = Tensor::ids({6, 5, 4, 2, 4, 2, 0, 0}, {2, 4});
};

}  // namespace

TEST_CASE("transformer translator: gradcheck of the loss over every parameter, untied post-norm and tied pre-norm",
          "[transformer][translator][gradcheck]") {
    for (auto [tie, pre] : {std::pair{false, false}, std::pair{true, true}}) {
        {
            INFO("tie " << tie << " pre-norm " << pre);
            Generator gen(3);
            TransformerTranslator model(tiny(tie, pre), &gen);
            model.to(DType::Float64);
            Batch b;
            auto f = [&](const std::vector<Tensor>&) { return model.loss(b.src, b.lengths, b.tgt_in, b.tgt_out); };
            seqgrad::testing::require_gradcheck(f, model.parameters());
        }
    }
}

TEST_CASE("transformer translator: parameter names, tying, and the smoothed loss by hand", "[transformer][translator]") {
    Generator gen(4);
    TransformerTranslator untied(tiny(false, false), &gen), tied(tiny(true, false), &gen);
    auto names = [](const nn::Module& m) {
        std::set<std::string> out;
        for (auto& [name, t] : m.named_parameters()) out.insert(name);
        return out;
    };
    CHECK(names(untied).count("generator.weight") == 1);
    CHECK(names(untied).count("transformer.encoder.layers.0.self_attn.in_proj_weight") == 1);
    CHECK(names(untied).count("transformer.decoder.norm.bias") == 1);
    CHECK(names(tied).count("generator.weight") == 0);
    CHECK(names(tied).size() + 1 == names(untied).size());
    CHECK(tied.generator->weight.impl() == tied.tgt_embed->embedding->weight.impl());

    // The loss from the logits by hand: per real token (1 − ε)(−log p[y]) + ε · mean_v(−log p[v]).
    untied.to(DType::Float64);
    Batch b;
    Tensor z = untied.logits(b.src, b.lengths, b.tgt_in);
    REQUIRE(z.shape() == Shape{2, 4, 7});
    const auto ids = b.tgt_out.to_ids();
    double total = 0, nll = 0;
    int count = 0;
    for (std::int64_t i = 0; i < 8; ++i) {
        if (ids[i] == 0) continue;
        const std::int64_t r = i / 4, t = i % 4;
        double mx = -1e300, se = 0, mean_lp = 0;
        for (std::int64_t v = 0; v < 7; ++v) mx = std::max(mx, z.at({r, t, v}));
        for (std::int64_t v = 0; v < 7; ++v) se += std::exp(z.at({r, t, v}) - mx);
        const double lse = mx + std::log(se);
        for (std::int64_t v = 0; v < 7; ++v) mean_lp += (z.at({r, t, v}) - lse) / 7.0;
        const double lp_y = z.at({r, t, ids[i]}) - lse;
        total += 0.9 * -lp_y + 0.1 * -mean_lp;
        nll += -lp_y;
        ++count;
    }
    CHECK(count == 6);
    CHECK(untied.loss(b.src, b.lengths, b.tgt_in, b.tgt_out).item() == Approx(total / count).epsilon(1e-12));
    auto [sum_nll, tokens] = untied.nll_sum(b.src, b.lengths, b.tgt_in, b.tgt_out);
    CHECK(tokens == 6);
    CHECK(sum_nll == Approx(nll).epsilon(1e-12));
}

TEST_CASE("transformer translator: the fast paths (fused loss and layers) give the plain path's loss and gradients",
          "[transformer][translator][fused]") {
    Generator gen(6);
    TransformerTranslator model(tiny(false, true), &gen);
    model.to(DType::Float64);
    Batch b;
    auto run = [&](bool fast) {
        FastPathGuard guard(fast);
        for (auto& p : model.parameters()) p.zero_grad();
        Tensor loss = model.loss(b.src, b.lengths, b.tgt_in, b.tgt_out);
        loss.backward();
        std::vector<Tensor> out{loss.detach()};
        for (auto& p : model.parameters()) out.push_back(p.grad());
        out.push_back(Tensor::scalar(model.nll_sum(b.src, b.lengths, b.tgt_in, b.tgt_out).first, DType::Float64));
        return out;
    };
    auto fast = run(true), plain = run(false);
    REQUIRE(fast.size() == plain.size());
    for (std::size_t i = 0; i < fast.size(); ++i) {
        INFO("tensor " << i);
        CHECK(allclose(fast[i], plain[i], 1e-10, 1e-12));
    }
}

TEST_CASE("transformer translator: the one-pass teacher-forced logits equal incremental decoding step by step",
          "[transformer][translator][decoding]") {
    Generator gen(5);
    TransformerTranslator model(tiny(true, false), &gen);
    model.to(DType::Float64);
    model.eval();
    Batch b;
    models::TransformerAttentionMaps maps;
    Tensor z = model.logits(b.src, b.lengths, b.tgt_in, &maps);
    REQUIRE(maps.cross.size() == 1);
    CHECK(maps.cross[0].shape() == Shape{2, 2, 4, 4});
    CHECK(maps.encoder_self[0].shape() == Shape{2, 2, 4, 4});
    CHECK(maps.decoder_self[0].at({0, 1, 0, 1}) == 0.0);  // causal
    CHECK(maps.cross[0].at({1, 0, 2, 3}) == 0.0);         // source padding
    models::TransformerMemory m = model.encode(b.src, b.lengths);
    nn::DecoderCache cache = model.start(m);
    for (std::int64_t t = 0; t < 4; ++t) {
        INFO("step " << t);
        models::TransformerStep s = model.step(select(b.tgt_in, 1, t), cache);
        CHECK(allclose(s.logits, select(z, 1, t), 0, 1e-12));
        CHECK(allclose(s.cross_weights[0], narrow(maps.cross[0], 2, t, 1), 0, 1e-12));
    }
}

TEST_CASE("transformer translator: learns to reverse short sequences in a few seconds",
          "[transformer][translator][train]") {
    // Tokens 4..9 (vocabulary 10 with the four specials), lengths 3..6: target = source reversed.
    Generator data(11);
    auto sample = [&] {
        const std::int64_t n = 3 + static_cast<std::int64_t>(data.uniform(0, 4));
        std::vector<std::int64_t> s;
        for (std::int64_t i = 0; i < n; ++i) s.push_back(4 + static_cast<std::int64_t>(data.uniform(0, 6)));
        return s;
    };
    Generator gen(12);
    TransformerTranslator model({.src_vocab = 10, .tgt_vocab = 10, .d_model = 32, .nhead = 4, .num_encoder_layers = 1,
                                 .num_decoder_layers = 1, .dim_feedforward = 64, .dropout = 0.0,
                                 .tie_embeddings = true, .label_smoothing = 0.05, .max_len = 16},
                                &gen);
    optim::Adam opt(model.parameters(), {.lr = 3e-3});
    const std::int64_t B = 32, L = 6;
    for (int it = 0; it < 400; ++it) {
        std::vector<std::int64_t> src(B * L, 0), tin(B * (L + 1), 0), tout(B * (L + 1), 0), lengths;
        for (std::int64_t b = 0; b < B; ++b) {
            auto s = sample();
            const std::int64_t n = static_cast<std::int64_t>(s.size());
            lengths.push_back(n);
            tin[b * (L + 1)] = models::kSos;
            for (std::int64_t i = 0; i < n; ++i) {
                src[b * L + i] = s[i];
                tin[b * (L + 1) + i + 1] = s[n - 1 - i];
                tout[b * (L + 1) + i] = s[n - 1 - i];
            }
            tout[b * (L + 1) + n] = models::kEos;
        }
        opt.zero_grad();
        Tensor loss = model.loss(Tensor::ids(src, {B, L}), lengths, Tensor::ids(tin, {B, L + 1}),
                                 Tensor::ids(tout, {B, L + 1}));
        loss.backward();
        opt.step();
    }
    model.eval();
    int exact = 0;
    const int held_out = 50;
    for (int i = 0; i < held_out; ++i) {
        auto s = sample();
        std::vector<std::int64_t> want(s.rbegin(), s.rend());
        exact += models::transformer_greedy(model, s, 10) == want;
    }
    INFO("exact " << exact << " of " << held_out);
    CHECK(exact >= 46);  // 49 of 50 when written
}

TEST_CASE("transformer translator: bad configuration and batches are errors naming the field",
          "[transformer][translator][errors]") {
    auto c = tiny(false, false);
    c.nhead = 3;
    CHECK_THROWS_WITH(TransformerTranslator(c), "transformer config: d_model (4) must be a positive multiple of nhead (3)");
    c = tiny(false, false);
    c.src_vocab = 0;
    CHECK_THROWS_WITH(TransformerTranslator(c), "transformer config: src_vocab and tgt_vocab must be positive, got 0 and 7");
    c = tiny(false, false);
    c.num_decoder_layers = 0;
    CHECK_THROWS_WITH(TransformerTranslator(c), "transformer config: layers, dim_feedforward and max_len must be "
                                                "positive, got encoder 1, decoder 0, ff 6, max_len 16");
    c = tiny(false, false);
    c.dropout = 1.0;
    CHECK_THROWS_WITH(TransformerTranslator(c), "transformer config: dropout must be in [0, 1), got 1");
    c = tiny(false, false);
    c.label_smoothing = -0.1;
    CHECK_THROWS_WITH(TransformerTranslator(c), "transformer config: label_smoothing must be in [0, 1), got -0.1");
    TransformerTranslator model(tiny(false, false));
    Batch b;
    CHECK_THROWS_WITH(model.encode(b.src, {4}), "TransformerTranslator: 1 source lengths for a batch of 2");
    CHECK_THROWS_WITH(model.encode(b.src, {4, 5}), "TransformerTranslator: source length 5 outside 1..4 (src [2, 4])");
    CHECK_THROWS_WITH(model.encode(zeros({2, 4}), {4, 2}), "TransformerTranslator: src must be int64 ids [B, S], got "
                                                           "float32 [2, 4]");
    CHECK_THROWS_WITH(model.logits(b.src, b.lengths, Tensor::ids({1, 2, 3}, {1, 3})),
                      "TransformerTranslator: tgt_in must be [B, T] with B = 2, got [1, 3]");
    CHECK_THROWS_WITH(model.loss(b.src, b.lengths, b.tgt_in, Tensor::ids({1, 2}, {2, 1})),
                      "TransformerTranslator: tgt_out [2, 1] must have tgt_in's shape [2, 4]");
}
