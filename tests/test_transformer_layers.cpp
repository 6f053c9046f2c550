// The Transformer's layers: scaled_dot_product_attention (layers/scaled_dot_product.h), FeedForward
// and GELU (layers/feed_forward.h), the encoder and decoder layers and their step cache
// (layers/transformer_layer.h), the stacks and nn.Transformer (layers/transformer.h), ModuleList and
// clones (layers/module.h), the scaled embedding and the tied output projection
// (layers/transformer_embedding.h). Gradchecks in float64, golden values small enough to check by
// hand, fused against composite, incremental decoding against the full causal forward, errors.
#include <cmath>
#include <set>

#include "helpers.h"
#include "layers/attention.h"
#include "layers/feed_forward.h"
#include "layers/multihead_attention.h"
#include "layers/scaled_dot_product.h"
#include "layers/transformer.h"
#include "layers/transformer_embedding.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

// Gives every parameter of m a value drawn from its own seed (biases and LayerNorms too, so their
// gradients are checked away from their special starting values 0 and 1).
void scramble(nn::Module& m, std::uint64_t seed, double scale = 0.5) {
    for (auto& p : m.parameters()) p.copy_((param(p.shape(), seed++) * scale).detach());
}

std::vector<Tensor> with_parameters(std::vector<Tensor> inputs, const nn::Module& m) {
    for (const Tensor& p : m.parameters()) inputs.push_back(p);
    return inputs;
}

nn::TransformerLayerOptions tiny_layer(bool norm_first, nn::Activation act = nn::Activation::ReLU) {
    return {.d_model = 4, .nhead = 2, .dim_feedforward = 6, .dropout = 0.0, .activation = act,
            .norm_first = norm_first, .dtype = DType::Float64};
}

}  // namespace

// ---- scaled dot-product attention ---------------------------------------------------------------------

TEST_CASE("sdpa: golden values of a 2x2 attention - no mask, causal, key padding", "[transformer][sdpa]") {
    // One sentence, one head, Q = K = I (2x2), V = [[1, 2], [3, 4]]: e = I / √2, so each row's weights
    // are softmax([1/√2, 0]) = [σ(1/√2), 1 − σ(1/√2)] = [0.66976..., 0.33023...] (own position first).
    Tensor q = f64({1, 0, 0, 1}, {1, 1, 2, 2}), v = f64({1, 2, 3, 4}, {1, 1, 2, 2});
    const double a = 0.6697615493266569, b = 0.3302384506733431;
    auto plain = nn::scaled_dot_product_attention(q, q, v);
    check_values(plain.scores, {1 / std::sqrt(2.0), 0, 0, 1 / std::sqrt(2.0)});
    check_values(plain.weights, {a, b, b, a});
    check_values(plain.output, {a * 1 + b * 3, a * 2 + b * 4, b * 1 + a * 3, b * 2 + a * 4});  // 1.6605 2.6605 2.3395 3.3395
    // Causal: position 0 sees only itself (weight 1), position 1 sees both.
    auto causal = nn::scaled_dot_product_attention(q, q, v, {.causal = true});
    check_values(causal.weights, {1, 0, b, a});
    check_values(causal.output, {1, 2, b * 1 + a * 3, b * 2 + a * 4});
    // Key 1 is padding: both queries see only key 0.
    auto padded = nn::scaled_dot_product_attention(q, q, v, {.key_padding_mask = f64({1, 0}, {1, 2})});
    check_values(padded.weights, {1, 0, 1, 0});
    check_values(padded.output, {1, 2, 1, 2});
}

TEST_CASE("sdpa: gradcheck over query, key and value with padding and causal masks, T = S and T < S",
          "[transformer][sdpa][gradcheck]") {
    const Tensor mask = f64({1, 1, 1, 1, 1, 0, 1, 1}, {2, 4});
    for (std::int64_t T : {4, 2}) {
        for (bool causal : {false, true}) {
            INFO("T " << T << " causal " << causal);
            Tensor q = param({2, 2, T, 3}, 1), k = param({2, 2, 4, 3}, 2), v = param({2, 2, 4, 5}, 3);
            auto f = [&](const std::vector<Tensor>& in) {
                auto r = nn::scaled_dot_product_attention(in[0], in[1], in[2],
                                                          {.key_padding_mask = mask, .causal = causal});
                return cat({reshape(r.output, {-1}), reshape(r.weights, {-1})}, 0);
            };
            seqgrad::testing::require_gradcheck(f, {q, k, v});
        }
    }
}

TEST_CASE("sdpa: causal with a cache - the last T queries of S positions see keys up to their own",
          "[transformer][sdpa]") {
    Tensor q = param({1, 1, 2, 2}, 4).detach(), k = param({1, 1, 3, 2}, 5).detach(), v = param({1, 1, 3, 2}, 6).detach();
    auto r = nn::scaled_dot_product_attention(q, k, v, {.causal = true});
    // The two queries are positions 1 and 2 of 3: query 0 sees keys 0, 1; query 1 sees all three.
    CHECK(r.weights.at({0, 0, 0, 2}) == 0.0);
    CHECK(r.weights.at({0, 0, 0, 1}) > 0.0);
    CHECK(r.weights.at({0, 0, 1, 2}) > 0.0);
    // Same as the full causal attention's last two rows when position 0's query is prepended.
    Tensor q_full = cat({param({1, 1, 1, 2}, 7).detach(), q}, 2);
    auto full = nn::scaled_dot_product_attention(q_full, k, v, {.causal = true});
    CHECK(allclose(r.output, narrow(full.output, 2, 1, 2), 0, 1e-14));
}

TEST_CASE("sdpa: the fast paths (fused masked softmax, fused one-query context) equal the plain ops",
          "[transformer][sdpa][fused]") {
    const Tensor mask = f64({1, 1, 1, 0, 1, 1, 1, 1}, {2, 4});
    for (std::int64_t T : {3, 1}) {
        INFO("T " << T);
        Tensor q = param({2, 2, T, 3}, 11), k = param({2, 2, 4, 3}, 12), v = param({2, 2, 4, 5}, 13);
        Tensor g = param({2, 2, T, 5}, 14).detach();
        auto run = [&](bool fast) {
            FastPathGuard guard(fast);
            for (auto* t : {&q, &k, &v}) t->zero_grad();
            auto r = nn::scaled_dot_product_attention(q, k, v, {.key_padding_mask = mask, .causal = T > 1});
            sum(r.output * g).backward();
            return std::vector<Tensor>{r.output.detach(), r.weights.detach(), q.grad(), k.grad(), v.grad()};
        };
        auto fast = run(true), plain = run(false);
        for (std::size_t i = 0; i < fast.size(); ++i) {
            INFO("tensor " << i);
            CHECK(allclose(fast[i], plain[i], 1e-12, 1e-13));
        }
    }
}

TEST_CASE("sdpa: ScaledDotAttention is one head and one query of the same function", "[transformer][sdpa]") {
    auto sd = nn::make_attention({.kind = nn::AttentionKind::ScaledDot, .query_size = 3, .key_size = 3,
                                  .dtype = DType::Float64});
    Tensor q = param({2, 3}, 21).detach(), keys = param({2, 4, 3}, 22).detach(), values = param({2, 4, 5}, 23).detach();
    Tensor mask = f64({1, 1, 1, 1, 1, 1, 0, 0}, {2, 4});
    nn::AttentionOutput o = sd->attend(q, keys, values, mask);
    auto r = nn::scaled_dot_product_attention(reshape(q, {2, 1, 1, 3}), unsqueeze(keys, 1), unsqueeze(values, 1),
                                              {.key_padding_mask = mask});
    CHECK(allclose(o.context, reshape(r.output, {2, 5}), 0, 0));
    CHECK(allclose(o.weights, reshape(r.weights, {2, 4}), 0, 0));
    CHECK(o.weights.at({1, 3}) == 0.0);
    // Its scores are q·k/√3 by hand.
    double dot = 0;
    for (std::int64_t j = 0; j < 3; ++j) dot += q.at({0, j}) * keys.at({0, 2, j});
    CHECK(o.scores.at({0, 2}) == Approx(dot / std::sqrt(3.0)).epsilon(1e-14));
}

TEST_CASE("sdpa: masks and shapes that do not fit are errors naming the function and the shapes",
          "[transformer][sdpa][errors]") {
    Tensor q = zeros({1, 1, 2, 2}, {.dtype = DType::Float64});
    CHECK_THROWS_WITH(nn::scaled_dot_product_attention(q, zeros({1, 1, 3, 4}, {.dtype = DType::Float64}), q),
                      "scaled_dot_product_attention: expects query [B, H, T, d], key [B, H, S, d] and value [B, H, S, "
                      "dv]; got query [1, 1, 2, 2], key [1, 1, 3, 4], value [1, 1, 2, 2]");
    CHECK_THROWS_WITH(nn::scaled_dot_product_attention(q, q, q, {.key_padding_mask = ones({1, 3})}),
                      "scaled_dot_product_attention: key_padding_mask must be [B, S] = [1, 2] to match key [1, 1, 2, "
                      "2], got [1, 3]");
    CHECK_THROWS_WITH(nn::scaled_dot_product_attention(q, q, q, {.key_padding_mask = zeros({1, 2})}),
                      "scaled_dot_product_attention: query position 0 of row 0 has every key position masked "
                      "(key_padding_mask [1, 2])");
    CHECK_THROWS_WITH(nn::scaled_dot_product_attention(q, zeros({1, 1, 0, 2}, {.dtype = DType::Float64}),
                                                       zeros({1, 1, 0, 2}, {.dtype = DType::Float64})),
                      "scaled_dot_product_attention: no key positions: key [1, 1, 0, 2]");
}

TEST_CASE("mha: self-attention's one stacked projection equals the three separate ones, values and gradients",
          "[transformer][mha]") {
    Generator gen(31);
    nn::MultiHeadAttention mha({.embed_dim = 4, .num_heads = 2, .dtype = DType::Float64, .generator = &gen});
    scramble(mha, 40);
    Tensor x = param({2, 3, 4}, 41);
    auto grads = [&](bool stacked) {
        mha.zero_grad();
        x.zero_grad();
        Tensor k = stacked ? x : x * 1.0, v = stacked ? x : x * 1.0;  // other tensors, same values
        auto out = mha(x, k, v, f64({1, 1, 1, 1, 1, 0}, {2, 3}), true);
        sum(out.output * out.output).backward();
        std::vector<Tensor> g{out.output.detach(), x.grad()};
        for (auto& p : mha.parameters()) g.push_back(p.grad());
        return g;
    };
    auto a = grads(true), b = grads(false);
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(allclose(a[i], b[i], 1e-12, 1e-13));
    FastPathGuard plain(false);  // the switch turns the stacked gemm off: same tensor, three projections
    auto c = grads(true);
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(allclose(a[i], c[i], 1e-12, 1e-13));
}

// ---- feed-forward -------------------------------------------------------------------------------------

TEST_CASE("feed-forward: golden values by hand, ReLU and GELU", "[transformer][feedforward]") {
    nn::FeedForward ff({.d_model = 1, .dim_feedforward = 2, .dtype = DType::Float64});
    ff.linear1->weight.copy_(f64({1, -1}, {2, 1}));
    ff.linear1->bias.fill_(0.0);
    ff.linear2->weight.copy_(f64({1, 2}, {1, 2}));
    ff.linear2->bias.fill_(0.5);
    // x = 3: hidden [3, −3] -> relu [3, 0] -> 1·3 + 2·0 + 0.5 = 3.5;  x = −2: [−2, 2] -> [0, 2] -> 4.5
    check_values(ff(f64({3, -2}, {2, 1})), {3.5, 4.5});
    // gelu(x) = x/2 (1 + tanh(√(2/π)(x + 0.044715 x³))): gelu(1) = 0.841192, gelu(−1) = −0.158808
    check_values(nn::gelu(f64({1, -1, 0}, {3})), {0.8411919906082768, -0.15880800939172324, 0.0});
    nn::FeedForward g({.d_model = 1, .dim_feedforward = 2, .activation = nn::Activation::GELU, .dtype = DType::Float64});
    g.load_state_dict(ff.state_dict());
    // x = 1: hidden [1, −1] -> [0.841192, −0.158808] -> 0.841192 − 2·0.158808 + 0.5
    check_values(g(f64({1}, {1, 1})), {0.8411919906082768 - 2 * 0.15880800939172324 + 0.5});
    CHECK(nn::parse_activation("gelu") == nn::Activation::GELU);
    CHECK(std::string(nn::activation_name(nn::Activation::ReLU)) == "relu");
    CHECK_THROWS_WITH(nn::parse_activation("swish"), "activation: unknown activation 'swish'; valid activations: relu, gelu");
}

TEST_CASE("feed-forward: gradcheck with ReLU and GELU, parameters named as PyTorch's layers",
          "[transformer][feedforward][gradcheck]") {
    for (auto act : {nn::Activation::ReLU, nn::Activation::GELU}) {
        INFO(nn::activation_name(act));
        Generator gen(5);
        nn::FeedForward ff({.d_model = 3, .dim_feedforward = 5, .activation = act, .dtype = DType::Float64,
                            .generator = &gen});
        Tensor x = param({2, 4, 3}, 6);
        seqgrad::testing::require_gradcheck([&](const std::vector<Tensor>& in) { return ff(in[0]); },
                                            with_parameters({x}, ff));
        std::vector<std::string> names;
        for (auto& [name, t] : ff.named_parameters()) names.push_back(name);
        CHECK(names == std::vector<std::string>{"linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"});
    }
    CHECK_THROWS_WITH(nn::FeedForward({.d_model = 2, .dim_feedforward = 0}),
                      "FeedForward: d_model and dim_feedforward must be positive, got d_model=2, dim_feedforward=0");
    CHECK_THROWS_WITH(nn::FeedForward({.d_model = 2, .dim_feedforward = 2, .dropout = 1.5}),
                      "FeedForward: dropout must be in [0, 1), got 1.5");
}

// ---- encoder and decoder layers -----------------------------------------------------------------------

TEST_CASE("transformer layers: golden values - with the sublayers switched off, post-norm is LayerNorm and "
          "pre-norm the identity",
          "[transformer][layers]") {
    // Zero out_proj and linear2 (weights and biases): every sublayer adds exactly 0 to the residual.
    // Then post-norm gives LayerNorm(x) (with eps = 0, a second LayerNorm changes nothing more):
    // [1, 3, 5, 7] has mean 4 and variance 5 -> (x − 4)/√5.
    Tensor x = f64({1, 3, 5, 7}, {1, 1, 4});
    const double sd = std::sqrt(5.0);
    const std::vector<double> normed{-3 / sd, -1 / sd, 1 / sd, 3 / sd};
    for (bool pre : {false, true}) {
        INFO("norm_first " << pre);
        auto o = tiny_layer(pre);
        o.layer_norm_eps = 0.0;
        nn::TransformerEncoderLayer enc(o);
        nn::TransformerDecoderLayer dec(o);
        for (auto& [name, p] : enc.named_parameters())
            if (name.starts_with("self_attn.out_proj") || name.starts_with("linear2")) p.fill_(0.0);
        for (auto& [name, p] : dec.named_parameters())
            if (name.find("out_proj") != std::string::npos || name.starts_with("linear2")) p.fill_(0.0);
        Tensor memory = param({1, 2, 4}, 3).detach();
        check_values(enc.forward(x).output, pre ? x.to_vector() : normed, 1e-12);
        check_values(dec.forward(x, memory).output, pre ? x.to_vector() : normed, 1e-12);
    }
}

TEST_CASE("transformer layers: the encoder layer is the composition of its sublayers as written",
          "[transformer][layers]") {
    for (bool pre : {false, true}) {
        INFO("norm_first " << pre);
        Generator gen(8);
        auto o = tiny_layer(pre, nn::Activation::GELU);
        o.generator = &gen;
        nn::TransformerEncoderLayer enc(o);
        scramble(enc, 80);
        Tensor x = param({2, 3, 4}, 9).detach(), mask = f64({1, 1, 1, 1, 0, 0}, {2, 3});
        auto sa = [&](const Tensor& in) { return enc.self_attn->forward(in, in, in, mask).output; };
        auto ff = [&](const Tensor& in) { return enc.linear2->forward(nn::gelu(enc.linear1->forward(in))); };
        Tensor expected;
        if (pre) {
            Tensor h = x + sa(enc.norm1->forward(x));
            expected = h + ff(enc.norm2->forward(h));
        } else {
            Tensor h = enc.norm1->forward(x + sa(x));
            expected = enc.norm2->forward(h + ff(h));
        }
        CHECK(allclose(enc.forward(x, mask).output, expected, 0, 1e-13));
    }
}

TEST_CASE("transformer layers: gradcheck of the encoder layer, post-norm and pre-norm, with padding",
          "[transformer][layers][gradcheck]") {
    for (bool pre : {false, true}) {
        INFO("norm_first " << pre);
        Generator gen(10);
        auto o = tiny_layer(pre);
        o.generator = &gen;
        nn::TransformerEncoderLayer enc(o);
        scramble(enc, 100);
        Tensor x = param({2, 3, 4}, 11), mask = f64({1, 1, 1, 1, 1, 0}, {2, 3});
        auto f = [&](const std::vector<Tensor>& in) {
            auto r = enc.forward(in[0], mask);
            return cat({reshape(r.output, {-1}), reshape(r.self_weights, {-1})}, 0);
        };
        seqgrad::testing::require_gradcheck(f, with_parameters({x}, enc));
    }
}

TEST_CASE("transformer layers: gradcheck of the decoder layer, post-norm and pre-norm, causal and padded",
          "[transformer][layers][gradcheck]") {
    for (bool pre : {false, true}) {
        INFO("norm_first " << pre);
        Generator gen(12);
        auto o = tiny_layer(pre, nn::Activation::GELU);
        o.generator = &gen;
        nn::TransformerDecoderLayer dec(o);
        scramble(dec, 120);
        CHECK(dec.parameters().size() == 2 * 4 + 4 + 3 * 2);
        Tensor tgt = param({2, 3, 4}, 13), memory = param({2, 4, 4}, 14);
        Tensor tgt_mask = f64({1, 1, 1, 1, 1, 0}, {2, 3}), mem_mask = f64({1, 1, 1, 1, 1, 1, 0, 0}, {2, 4});
        auto f = [&](const std::vector<Tensor>& in) {
            auto r = dec.forward(in[0], in[1], tgt_mask, mem_mask);
            return cat({reshape(r.output, {-1}), reshape(r.self_weights, {-1}), reshape(r.cross_weights, {-1})}, 0);
        };
        seqgrad::testing::require_gradcheck(f, with_parameters({tgt, memory}, dec));
    }
}

TEST_CASE("transformer layers: dropout acts in training only", "[transformer][layers]") {
    Generator gen(15);
    auto o = tiny_layer(false);
    o.dropout = 0.5;
    o.generator = &gen;
    nn::TransformerEncoderLayer enc(o);
    Tensor x = param({1, 5, 4}, 16).detach();
    enc.eval();
    Tensor a = enc.forward(x).output;
    CHECK(allclose(enc.forward(x).output, a, 0, 0));
    enc.train();
    CHECK_FALSE(allclose(enc.forward(x).output, a, 1e-3, 1e-4));
}

// ---- stacks, incremental decoding, nn.Transformer -------------------------------------------------------

TEST_CASE("transformer: decoding step by step with the cache equals the full causal forward",
          "[transformer][decoding]") {
    for (bool pre : {false, true}) {
        INFO("norm_first " << pre);
        Generator gen(17);
        auto o = tiny_layer(pre);
        o.generator = &gen;
        nn::TransformerDecoder dec({.layer = o, .num_layers = 2});
        scramble(dec, 170);
        dec.eval();
        const std::int64_t B = 2, T = 5, S = 3;
        Tensor tgt = param({B, T, 4}, 18).detach(), memory = param({B, S, 4}, 19).detach();
        Tensor mem_mask = f64({1, 1, 1, 1, 1, 0}, {B, S});
        auto full = dec.forward(tgt, memory, Tensor(), mem_mask);
        nn::DecoderCache cache = dec.start(memory, mem_mask);
        CHECK(cache.length() == 0);
        for (std::int64_t t = 0; t < T; ++t) {
            INFO("step " << t);
            auto r = dec.step(narrow(tgt, 1, t, 1), cache);
            CHECK(cache.length() == t + 1);
            CHECK(allclose(r.output, narrow(full.output, 1, t, 1), 0, 1e-13));
            for (std::size_t l = 0; l < 2; ++l) {
                CHECK(r.self_weights[l].shape() == Shape{B, 2, 1, t + 1});
                CHECK(allclose(r.self_weights[l], narrow(narrow(full.self_weights[l], 2, t, 1), 3, 0, t + 1), 0, 1e-13));
                CHECK(allclose(r.cross_weights[l], narrow(full.cross_weights[l], 2, t, 1), 0, 1e-13));
            }
        }
        // The cache holds t keys per layer, [B, h, t, d]: one new row per step, not a recomputed prefix.
        CHECK(cache.layers[1].self_keys.shape() == Shape{B, 2, T, 2});
        CHECK(cache.layers[0].memory_keys.shape() == Shape{B, 2, S, 2});
    }
}

TEST_CASE("transformer: reordering the cache picks rows as beam search needs", "[transformer][decoding]") {
    Generator gen(20);
    auto o = tiny_layer(false);
    o.generator = &gen;
    nn::TransformerDecoder dec({.layer = o, .num_layers = 1});
    dec.eval();
    Tensor memory = param({2, 3, 4}, 21).detach(), x0 = param({2, 1, 4}, 22).detach(), x1 = param({2, 1, 4}, 23).detach();
    nn::DecoderCache cache = dec.start(memory);
    dec.step(x0, cache);
    cache.reorder(Tensor::ids({1, 1, 0}, {3}));  // row 1 twice, then row 0
    auto r = dec.step(index_select(x1, 0, Tensor::ids({1, 1, 0}, {3})), cache);
    // The same as decoding the reordered rows from the start.
    nn::DecoderCache fresh = dec.start(index_select(memory, 0, Tensor::ids({1, 1, 0}, {3})));
    dec.step(index_select(x0, 0, Tensor::ids({1, 1, 0}, {3})), fresh);
    auto expected = dec.step(index_select(x1, 0, Tensor::ids({1, 1, 0}, {3})), fresh);
    CHECK(allclose(r.output, expected.output, 0, 1e-14));
}

TEST_CASE("transformer: ModuleList and clones - numbered names, equal starts, trained apart", "[transformer][module]") {
    Generator gen(24);
    auto list = nn::clones<nn::LayerNorm>(3, [&] {
        auto n = std::make_shared<nn::LayerNorm>(nn::LayerNormOptions{.normalized_size = 2});
        n->weight.copy_(uniform({2}, 0, 1, {}, &gen));  // each draw differs
        return n;
    });
    REQUIRE(list->size() == 3);
    std::vector<std::string> names;
    for (auto& [name, t] : list->named_parameters()) names.push_back(name);
    CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"});
    CHECK(allclose((*list)[2].weight, (*list)[0].weight, 0, 0));
    (*list)[1].weight.fill_(5.0);  // copies, not shared tensors
    CHECK((*list)[0].weight.at({0}) != 5.0);
    CHECK(list->type_name() == "ModuleList");
}

TEST_CASE("transformer: nn.Transformer's parameter names, order and xavier initialisation",
          "[transformer][module]") {
    Generator gen(25);
    nn::Transformer t({.d_model = 8, .nhead = 2, .num_encoder_layers = 2, .num_decoder_layers = 1,
                       .dim_feedforward = 16, .generator = &gen});
    std::vector<std::string> names;
    for (auto& [name, p] : t.named_parameters()) names.push_back(name);
    const std::vector<std::string> first{
        "encoder.layers.0.self_attn.in_proj_weight", "encoder.layers.0.self_attn.in_proj_bias",
        "encoder.layers.0.self_attn.out_proj.weight", "encoder.layers.0.self_attn.out_proj.bias",
        "encoder.layers.0.linear1.weight", "encoder.layers.0.linear1.bias", "encoder.layers.0.linear2.weight",
        "encoder.layers.0.linear2.bias", "encoder.layers.0.norm1.weight", "encoder.layers.0.norm1.bias",
        "encoder.layers.0.norm2.weight", "encoder.layers.0.norm2.bias"};
    REQUIRE(names.size() == 12 * 2 + 2 + 18 + 2);
    CHECK(std::vector<std::string>(names.begin(), names.begin() + 12) == first);
    CHECK(names[24] == "encoder.norm.weight");
    CHECK(names[26] == "decoder.layers.0.self_attn.in_proj_weight");
    CHECK(names[30] == "decoder.layers.0.multihead_attn.in_proj_weight");
    CHECK(names.back() == "decoder.norm.bias");
    // Every matrix is xavier-uniform U(±√(6 / (fan_in + fan_out))); the layers' matrices differ.
    for (auto& [name, p] : t.named_parameters()) {
        if (p.dim() < 2) continue;
        INFO(name);
        const double bound = std::sqrt(6.0 / double(p.size(0) + p.size(1)));
        double largest = 0;
        for (double v : p.to_vector()) largest = std::max(largest, std::abs(v));
        CHECK((largest <= bound && largest > bound / 2));
    }
    CHECK_FALSE(allclose((*t.encoder->layers)[0].linear1->weight, (*t.encoder->layers)[1].linear1->weight, 0, 1e-3));
    // Biases keep the clones' common start (PyTorch: deepcopy, then only matrices are re-drawn).
    CHECK(allclose((*t.encoder->layers)[0].linear1->bias, (*t.encoder->layers)[1].linear1->bias, 0, 0));
}

TEST_CASE("transformer: gradcheck of the whole nn.Transformer with padding and the causal mask",
          "[transformer][gradcheck]") {
    Generator gen(26);
    nn::Transformer t({.d_model = 4, .nhead = 2, .num_encoder_layers = 1, .num_decoder_layers = 1,
                       .dim_feedforward = 5, .dropout = 0.0, .norm_first = true, .dtype = DType::Float64,
                       .generator = &gen});
    scramble(t, 260);
    Tensor src = param({2, 3, 4}, 27), tgt = param({2, 2, 4}, 28);
    Tensor src_mask = f64({1, 1, 1, 1, 0, 0}, {2, 3});
    auto f = [&](const std::vector<Tensor>& in) { return t.forward(in[0], in[1], src_mask); };
    seqgrad::testing::require_gradcheck(f, with_parameters({src, tgt}, t));
}

TEST_CASE("transformer: bad options and shapes are errors naming the layer and the shapes",
          "[transformer][errors]") {
    CHECK_THROWS_WITH(nn::TransformerEncoderLayer({.d_model = 4, .nhead = 2, .dim_feedforward = 0}),
                      "TransformerEncoderLayer: d_model, nhead and dim_feedforward must be positive, got d_model=4, "
                      "nhead=2, dim_feedforward=0");
    CHECK_THROWS_WITH(nn::TransformerDecoderLayer({.d_model = 4, .nhead = 2, .dropout = 1.0}),
                      "TransformerDecoderLayer: dropout must be in [0, 1), got 1");
    CHECK_THROWS_WITH(nn::TransformerEncoder({.layer = tiny_layer(false), .num_layers = 0}),
                      "TransformerEncoder: num_layers must be positive, got 0");
    nn::TransformerEncoderLayer enc(tiny_layer(false));
    CHECK_THROWS_WITH(enc.forward(zeros({2, 3, 5}, {.dtype = DType::Float64})),
                      "TransformerEncoderLayer: src must be [B, L, d_model] with d_model = 4, got [2, 3, 5]");
    nn::TransformerDecoder dec({.layer = tiny_layer(false), .num_layers = 1});
    Tensor memory = zeros({2, 3, 4}, {.dtype = DType::Float64});
    CHECK_THROWS_WITH(dec.forward(zeros({2, 3, 4}, {.dtype = DType::Float64}), zeros({2, 3})),
                      "TransformerDecoderLayer: memory must be [B, L, d_model] with d_model = 4, got [2, 3]");
    CHECK_THROWS_WITH(dec.start(memory, ones({2, 4})),
                      "TransformerDecoderLayer: memory_key_padding_mask must be [B, S] = [2, 3] to match memory [2, "
                      "3, 4], got [2, 4]");
    nn::DecoderCache cache = dec.start(memory);
    CHECK_THROWS_WITH(dec.step(zeros({2, 2, 4}, {.dtype = DType::Float64}), cache),
                      "TransformerDecoderLayer: step expects one new position x [B, 1, d_model] = [2, 1, 4], got [2, "
                      "2, 4]");
    nn::DecoderCache empty;
    CHECK_THROWS_WITH(dec.step(zeros({2, 1, 4}, {.dtype = DType::Float64}), empty),
                      "TransformerDecoder: step needs a cache from start() of this decoder (1 layers), got one for 0");
    nn::DecoderCache blank{.layers = {nn::DecoderLayerCache{}}};
    CHECK_THROWS_WITH(dec.step(zeros({2, 1, 4}, {.dtype = DType::Float64}), blank),
                      "TransformerDecoderLayer: step needs a cache from start(memory)");
}

// ---- embeddings and the output projection -----------------------------------------------------------

TEST_CASE("transformer embedding: token embedding times √d_model plus PE, with an offset for decoding steps",
          "[transformer][embedding]") {
    nn::TransformerEmbedding emb({.vocab_size = 3, .d_model = 4, .padding_idx = 0, .max_len = 8,
                                  .dtype = DType::Float64});
    emb.embedding->weight.copy_(f64({0, 0, 0, 0, 1, 2, 3, 4, 0.5, 0.5, 0.5, 0.5}, {3, 4}));
    Tensor y = emb(Tensor::ids({1, 2}, {1, 2}));
    // Row 0: id 1 at position 0: [1, 2, 3, 4] · √4 + [sin 0, cos 0, sin 0, cos 0] = [2, 5, 6, 9]
    check_values(select(select(y, 0, 0), 0, 0), {2, 5, 6, 9});
    // Row 1: id 2 at position 1: 0.5 · 2 + [sin 1, cos 1, sin 0.01, cos 0.01]
    check_values(select(select(y, 0, 0), 0, 1),
                 {1 + std::sin(1.0), 1 + std::cos(1.0), 1 + std::sin(0.01), 1 + std::cos(0.01)});
    // A decoding step at position 1 gives the same row.
    check_values(emb(Tensor::ids({2}, {1, 1}), 1), select(select(y, 0, 0), 0, 1).to_vector());
    CHECK_THROWS_WITH(emb(Tensor::ids({2}, {1, 1}), 8),
                      "PositionalEncoding: positions 8..8 of input [1, 1, 4] are outside the table's 0..7 (max_len 8)");
    // The initial draw is N(0, 1/d_model) with the padding row at 0.
    nn::TransformerEmbedding fresh({.vocab_size = 200, .d_model = 16, .padding_idx = 0});
    const auto w = fresh.embedding->weight.to_vector();
    double sq = 0;
    for (std::size_t i = 16; i < w.size(); ++i) sq += w[i] * w[i];
    CHECK(sq / double(w.size() - 16) == Approx(1.0 / 16).epsilon(0.15));
    for (std::size_t i = 0; i < 16; ++i) CHECK(w[i] == 0.0);
}

TEST_CASE("transformer embedding: the tied output projection shares the embedding weight, trained from both ends",
          "[transformer][embedding][gradcheck]") {
    Generator gen(30);
    nn::TransformerEmbedding emb({.vocab_size = 5, .d_model = 4, .dtype = DType::Float64, .generator = &gen});
    nn::OutputProjection tied({.d_model = 4, .vocab_size = 5, .dtype = DType::Float64, .generator = &gen},
                              emb.embedding->weight);
    CHECK(tied.tied());
    CHECK(tied.weight.impl() == emb.embedding->weight.impl());
    REQUIRE(tied.named_parameters().size() == 1);
    CHECK(tied.named_parameters()[0].first == "bias");
    Tensor ids = Tensor::ids({1, 4, 2}, {1, 3});
    auto f = [&](const std::vector<Tensor>&) { return tied(emb(ids)); };
    seqgrad::testing::require_gradcheck(f, {emb.embedding->weight, tied.bias});
    // Its gradient is the sum of both uses: the output projection's alone differs from the total.
    sum(tied(emb(ids))).backward();
    Tensor both = emb.embedding->weight.grad().clone();
    emb.embedding->weight.zero_grad();
    sum(tied(emb(ids).detach())).backward();
    CHECK_FALSE(allclose(emb.embedding->weight.grad(), both, 0, 1e-6));
    nn::OutputProjection own({.d_model = 4, .vocab_size = 5});
    CHECK(own.named_parameters().size() == 2);
    CHECK_THROWS_WITH(nn::OutputProjection({.d_model = 4, .vocab_size = 6}, emb.embedding->weight),
                      "OutputProjection: the tied weight must be [vocab_size, d_model] = [6, 4], got [5, 4]");
    CHECK_THROWS_WITH(nn::OutputProjection({.d_model = 0, .vocab_size = 6}),
                      "OutputProjection: d_model and vocab_size must be positive, got d_model=0, vocab_size=6");
    CHECK_THROWS_WITH(own(zeros({2, 3})), "OutputProjection: input [2, 3] must end in d_model = 4 (weight [5, 4])");
}
