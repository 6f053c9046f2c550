// Multi-head attention and sinusoidal positional encoding (layers/multihead_attention.h,
// layers/positional_encoding.h): gradcheck, causal and padding masks, agreement with single-head
// scaled dot-product attention, PyTorch-style names and initialisation, golden encodings, errors.
#include <cmath>

#include "helpers.h"
#include "layers/attention.h"
#include "layers/multihead_attention.h"
#include "layers/positional_encoding.h"

using namespace seqgrad;
using seqgrad::testing::f64;
using seqgrad::testing::param;

TEST_CASE("mha: gradcheck over query, key, value and all parameters, with padding and a causal mask",
          "[mha][gradcheck]") {
    Generator gen(4);
    nn::MultiHeadAttention mha({.embed_dim = 4, .num_heads = 2, .generator = &gen});
    mha.to(DType::Float64);
    // PyTorch starts the biases at 0; give them values so their gradients are checked away from 0.
    std::uint64_t seed = 50;
    for (auto& p : mha.parameters()) p.copy_(param(p.shape(), seed++).detach());
    Tensor query = param({2, 3, 4}, 1), key = param({2, 3, 4}, 2), value = param({2, 3, 4}, 3);
    Tensor mask = f64({1, 1, 1, 1, 1, 0}, {2, 3});
    std::vector<Tensor> inputs = {query, key, value};
    for (const Tensor& p : mha.parameters()) inputs.push_back(p);
    CHECK(inputs.size() == 3 + 4);  // in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias
    for (bool causal : {false, true}) {
        INFO("causal " << causal);
        auto f = [&](const std::vector<Tensor>& in) {
            auto out = mha(in[0], in[1], in[2], mask, causal);
            return cat({reshape(out.output, {-1}), reshape(out.weights, {-1})}, 0);
        };
        seqgrad::testing::require_gradcheck(f, inputs);
    }
}

TEST_CASE("mha: a causal mask gives zero weight above the diagonal and blocks later positions", "[mha]") {
    Generator gen(6);
    nn::MultiHeadAttention mha({.embed_dim = 6, .num_heads = 3, .generator = &gen});
    Tensor x = uniform({2, 4, 6}, -1, 1, {.requires_grad = true}, &gen);
    auto out = mha(x, x, x, Tensor(), /*causal=*/true);
    REQUIRE(out.weights.shape() == Shape{2, 3, 4, 4});
    for (std::int64_t b = 0; b < 2; ++b)
        for (std::int64_t h = 0; h < 3; ++h)
            for (std::int64_t t = 0; t < 4; ++t) {
                double row = 0;
                for (std::int64_t s = 0; s < 4; ++s) {
                    row += out.weights.at({b, h, t, s});
                    if (s > t) CHECK(out.weights.at({b, h, t, s}) == 0.0);
                    else CHECK(out.weights.at({b, h, t, s}) > 0.0);
                }
                CHECK(row == Approx(1.0).epsilon(1e-6));
            }
    // The first output position sees only x_0: no gradient reaches later positions.
    sum(select(out.output, 1, 0)).backward();
    for (std::int64_t b = 0; b < 2; ++b)
        for (std::int64_t t = 1; t < 4; ++t)
            for (std::int64_t j = 0; j < 6; ++j) CHECK(x.grad().at({b, t, j}) == 0.0);
    CHECK(x.grad().at({0, 0, 0}) != 0.0);
}

TEST_CASE("mha: the key padding mask gets zero weight and padded keys and values change nothing", "[mha]") {
    Generator gen(7);
    nn::MultiHeadAttention mha({.embed_dim = 4, .num_heads = 2, .dtype = DType::Float64, .generator = &gen});
    Tensor query = param({2, 3, 4}, 1).detach(), key = param({2, 5, 4}, 2).detach(), value = param({2, 5, 4}, 3).detach();
    Tensor mask = f64({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5});
    auto out = mha(query, key, value, mask);
    for (std::int64_t h = 0; h < 2; ++h)
        for (std::int64_t t = 0; t < 3; ++t) {
            CHECK(out.weights.at({1, h, t, 3}) == 0.0);
            CHECK(out.weights.at({1, h, t, 4}) == 0.0);
            CHECK(out.weights.at({0, h, t, 4}) > 0.0);
        }
    // Scribble over the padded keys and values: the output must not move.
    Tensor key2 = key.clone(), value2 = value.clone();
    for (std::int64_t s = 3; s < 5; ++s)
        for (std::int64_t j = 0; j < 4; ++j) {
            key2.data<double>()[(1 * 5 + s) * 4 + j] = 100.0 + j;
            value2.data<double>()[(1 * 5 + s) * 4 + j] = -50.0 * s;
        }
    CHECK(allclose(mha(query, key2, value2, mask).output, out.output, 0, 1e-12));
    CHECK_FALSE(allclose(mha(query, key2, value2, Tensor()).output, out.output, 0, 1e-6));
}

TEST_CASE("mha: each head is scaled dot-product attention over its slice of the projections", "[mha]") {
    for (std::int64_t heads : {1, 2}) {
        INFO("num_heads " << heads);
        Generator gen(9);
        nn::MultiHeadAttention mha({.embed_dim = 4, .num_heads = heads, .dtype = DType::Float64, .generator = &gen});
        std::uint64_t seed = 70;
        for (auto& p : mha.parameters()) p.copy_(param(p.shape(), seed++).detach());  // non-zero biases too
        Tensor query = param({2, 3, 4}, 1).detach(), key = param({2, 5, 4}, 2).detach(), value = param({2, 5, 4}, 3).detach();
        Tensor mask = f64({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5});
        auto out = mha(query, key, value, mask);
        const std::int64_t d = mha.head_dim();
        auto plain = nn::make_attention(
            {.kind = nn::AttentionKind::ScaledDot, .query_size = d, .key_size = d, .dtype = DType::Float64});
        Tensor Q = mha.project_query(query), K = mha.project_key(key), V = mha.project_value(value);
        for (std::int64_t t = 0; t < 3; ++t) {
            std::vector<Tensor> contexts;
            for (std::int64_t j = 0; j < heads; ++j) {
                auto o = plain->attend(narrow(select(Q, 1, t), 1, j * d, d), narrow(K, 2, j * d, d),
                                       narrow(V, 2, j * d, d), mask);
                contexts.push_back(o.context);
                CHECK(allclose(select(select(out.weights, 2, t), 1, j), o.weights, 1e-10, 1e-12));
            }
            Tensor expected = mha.out_proj->forward(cat(contexts, 1));  // [B, E]
            CHECK(allclose(select(out.output, 1, t), expected, 1e-10, 1e-12));
        }
    }
}

TEST_CASE("mha: PyTorch parameter names and initialisation", "[mha]") {
    Generator gen(1);
    nn::MultiHeadAttention mha({.embed_dim = 8, .num_heads = 2, .generator = &gen});
    std::vector<std::string> names;
    for (auto& [name, t] : mha.named_parameters()) names.push_back(name);
    CHECK(names == std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"});
    CHECK(mha.in_proj_weight.shape() == Shape{3 * 8, 8});
    CHECK(mha.in_proj_bias.shape() == Shape{3 * 8});
    const double xavier = std::sqrt(6.0 / (8 + 3 * 8)), linear = 1.0 / std::sqrt(8.0);
    for (auto& [name, t] : mha.named_parameters()) {
        INFO(name);
        double largest = 0;
        for (double x : t.to_vector()) largest = std::max(largest, std::abs(x));
        if (name.ends_with("bias")) CHECK(largest == 0.0);
        else if (name.starts_with("out_proj")) CHECK((largest <= linear && largest > linear / 2));  // 1/√8 < the xavier bound
        else CHECK((largest <= xavier && largest > xavier / 2));
    }
    nn::MultiHeadAttention no_bias({.embed_dim = 4, .num_heads = 4, .bias = false});
    CHECK(no_bias.num_parameters() == 4 * 4 * 4);
    CHECK(no_bias.head_dim() == 1);
}

TEST_CASE("mha: dropout acts on the weights in training only - the returned weights are before dropout", "[mha]") {
    Generator gen(12);
    nn::MultiHeadAttention mha({.embed_dim = 4, .num_heads = 2, .dropout = 0.5, .generator = &gen});
    Tensor x = uniform({2, 5, 4}, -1, 1, {}, &gen);
    mha.eval();
    auto a = mha(x, x, x), b = mha(x, x, x);
    CHECK(allclose(a.output, b.output, 0, 0));
    mha.train();
    auto c = mha(x, x, x);
    CHECK(allclose(c.weights, a.weights, 1e-6, 1e-7));
    CHECK_FALSE(allclose(c.output, a.output, 1e-3, 1e-4));
}

TEST_CASE("mha: bad configuration and bad shapes are errors naming the layer and the shapes", "[mha][errors]") {
    CHECK_THROWS_AS(nn::MultiHeadAttention({.embed_dim = 6, .num_heads = 4}), ShapeError);
    CHECK_THROWS_WITH(nn::MultiHeadAttention({.embed_dim = 6, .num_heads = 4}),
                      Catch::Contains("embed_dim=6 is not divisible by num_heads=4"));
    nn::MultiHeadAttention mha({.embed_dim = 4, .num_heads = 2});
    CHECK_THROWS_WITH(mha(zeros({2, 3, 5}), zeros({2, 3, 4}), zeros({2, 3, 4})),
                      Catch::Contains("MultiHeadAttention") && Catch::Contains("[2, 3, 5]"));
    CHECK_THROWS_WITH(mha(zeros({2, 3, 4}), zeros({3, 3, 4}), zeros({3, 3, 4})), Catch::Contains("[3, 3, 4]"));
    CHECK_THROWS_WITH(mha(zeros({2, 3, 4}), zeros({2, 5, 4}), zeros({2, 5, 4}), ones({2, 4})),
                      Catch::Contains("key_padding_mask") && Catch::Contains("[2, 4]") && Catch::Contains("[2, 5, 4]"));
    CHECK_THROWS_WITH(mha(zeros({2, 3, 4}), zeros({2, 2, 4}), zeros({2, 2, 4}), Tensor::from({1, 1, 0, 0}, {2, 2})),
                      Catch::Contains("query position 0 of row 1 has every key position masked"));
}

// ---- positional encoding ----------------------------------------------------------------------------

TEST_CASE("positional encoding: golden values at positions 0 and 1", "[mha][positional]") {
    nn::PositionalEncoding pe({.d_model = 4, .max_len = 10, .dtype = DType::Float64});
    // pos 0: sin(0), cos(0), sin(0), cos(0)
    CHECK(select(pe.pe, 0, 0).to_vector() == std::vector<double>{0, 1, 0, 1});
    // pos 1: columns 0, 1 have frequency 1/10000^(0/4) = 1; columns 2, 3 have 1/10000^(2/4) = 1/100
    const std::vector<double> pos1 = select(pe.pe, 0, 1).to_vector();
    CHECK(pos1[0] == Approx(0.8414709848078965).epsilon(1e-14));  // sin(1)
    CHECK(pos1[1] == Approx(0.5403023058681398).epsilon(1e-14));  // cos(1)
    CHECK(pos1[2] == Approx(0.009999833334166664).epsilon(1e-14));  // sin(0.01)
    CHECK(pos1[3] == Approx(0.9999500004166653).epsilon(1e-14));  // cos(0.01)
}

TEST_CASE("positional encoding: added to B x T x d input as a buffer, gradient passes through", "[mha][positional]") {
    nn::PositionalEncoding pe({.d_model = 4, .max_len = 6});
    CHECK(pe.num_parameters() == 0);
    REQUIRE(pe.named_buffers().size() == 1);
    CHECK(pe.named_buffers()[0].first == "pe");
    CHECK(pe.pe.shape() == Shape{6, 4});
    pe.to(DType::Float64);
    CHECK(pe.pe.dtype() == DType::Float64);
    Tensor x = param({2, 3, 4}, 1);
    Tensor y = pe(x);
    CHECK(allclose(select(y, 0, 1), select(x, 0, 1).detach() + narrow(pe.pe, 0, 0, 3), 0, 1e-15));
    seqgrad::testing::require_gradcheck([&](const std::vector<Tensor>& in) { return pe(in[0]); }, {x});
    CHECK_THROWS_WITH(pe(zeros({1, 7, 4}, {.dtype = DType::Float64})), Catch::Contains("max_len is 6"));
    CHECK_THROWS_WITH(pe(zeros({1, 3, 5}, {.dtype = DType::Float64})),
                      Catch::Contains("PositionalEncoding") && Catch::Contains("[1, 3, 5]"));

    Generator gen(3);
    nn::PositionalEncoding dropped({.d_model = 4, .max_len = 6, .dropout = 0.5, .generator = &gen});
    Tensor ones_in = ones({1, 6, 4});
    std::int64_t zeroed = 0;
    for (double v : dropped(ones_in).to_vector()) zeroed += v == 0.0;
    CHECK(zeroed > 0);
    dropped.eval();
    CHECK(allclose(dropped(ones_in), ones_in + dropped.pe, 0, 1e-7));
}
