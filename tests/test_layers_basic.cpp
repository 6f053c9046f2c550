// Embedding, Dropout and LayerNorm: gradchecks, golden values, errors.
#include "helpers.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
#include "core/fused_ops.h"
#include "layers/layer_norm.h"

using namespace seqgrad;
using seqgrad::testing::f64;
using seqgrad::testing::param;

TEST_CASE("embedding: lookup, padding row has zero init and no gradient, gradcheck", "[embedding]") {
    Generator gen(3);
    nn::Embedding emb({.num_embeddings = 5, .embedding_dim = 3, .padding_idx = 0, .dtype = DType::Float64, .generator = &gen});
    for (int j = 0; j < 3; ++j) CHECK(emb.weight.at({0, j}) == 0.0);
    Tensor ids = Tensor::ids({1, 0, 1, 4}, {2, 2});
    Tensor y = emb(ids);
    CHECK(y.shape() == Shape{2, 2, 3});
    CHECK(y.at({1, 0, 2}) == emb.weight.at({1, 2}));
    sum(y).backward();
    CHECK(emb.weight.grad().at({0, 0}) == 0.0);  // padding
    CHECK(emb.weight.grad().at({1, 0}) == 2.0);  // id 1 used twice
    emb.zero_grad();
    // The padding row deliberately gets no gradient, so the gradcheck uses ids without it.
    Tensor real_ids = Tensor::ids({1, 2, 1, 4}, {2, 2});
    seqgrad::testing::require_gradcheck([&](const std::vector<Tensor>&) { return emb(real_ids); }, {emb.weight});
}

TEST_CASE("embedding: out-of-range id is an IndexError naming the id", "[embedding][errors]") {
    nn::Embedding emb({.num_embeddings = 5, .embedding_dim = 2});
    CHECK_THROWS_AS(emb(Tensor::ids({7}, {1})), IndexError);
    CHECK_THROWS_WITH(emb(Tensor::ids({7}, {1})), Catch::Contains("id 7") && Catch::Contains("size 5"));
    CHECK_THROWS_WITH(emb(zeros({1})), Catch::Contains("int64"));
}

TEST_CASE("dropout: active in training, identity in eval", "[dropout]") {
    Generator gen(11);
    nn::Dropout drop({.p = 0.5, .generator = &gen});
    Tensor x = ones({1000});
    Tensor y = drop(x);
    double zeros_seen = 0;
    for (double v : y.to_vector()) {
        CHECK((v == 0.0 || v == 2.0));
        zeros_seen += v == 0.0;
    }
    CHECK(zeros_seen > 400);
    CHECK(zeros_seen < 600);
    drop.eval();
    CHECK(allclose(drop(x), x));
    CHECK_THROWS_WITH(nn::Dropout({.p = 1.0}), Catch::Contains("[0, 1)"));
}

TEST_CASE("dropout: the mask is uniform() < p drawn element by element from the generator", "[dropout]") {
    Generator g1(5), g2(5);
    Tensor x = param({7, 13}, 3).detach().to(DType::Float32).set_requires_grad();
    Tensor y = dropout(x, 0.3, true, &g1);
    const auto xv = x.to_vector(), yv = y.to_vector();
    for (std::size_t i = 0; i < xv.size(); ++i) {
        const bool dropped = g2.uniform() < 0.3;
        REQUIRE(yv[i] == (dropped ? 0.0 : static_cast<double>(static_cast<float>(xv[i]) * static_cast<float>(1.0 / 0.7))));
    }
    CHECK(g1.next_u64() == g2.next_u64());  // the generator moved on by exactly one draw per element
}

TEST_CASE("layer_norm: golden values and gradcheck", "[layer_norm]") {
    nn::LayerNorm ln({.normalized_size = 2, .eps = 0.0, .dtype = DType::Float64});
    // x = [1, 3]: mean 2, var 1 -> [-1, 1]
    Tensor y = ln(f64({1.0, 3.0}, {1, 2}));
    CHECK(y.at({0, 0}) == Approx(-1.0));
    CHECK(y.at({0, 1}) == Approx(1.0));
    nn::LayerNorm ln2({.normalized_size = 4, .dtype = DType::Float64});
    Tensor x = param({3, 4}, 5);
    // perturb affine params away from 1/0 so their gradients are non-trivial
    ln2.weight.copy_(param({4}, 6, 0.5, 1.5).detach());
    seqgrad::testing::require_gradcheck([&](const std::vector<Tensor>& in) { return ln2(in[0]); }, {x, ln2.weight, ln2.bias});
    CHECK_THROWS_WITH(ln2(zeros({3, 5}, {.dtype = DType::Float64})), Catch::Contains("LayerNorm") && Catch::Contains("[3, 5]"));
}

TEST_CASE("layer_norm: the fused op equals the composite, with and without affine, and passes gradcheck",
          "[layer_norm][fused]") {
    nn::LayerNorm ln({.normalized_size = 5, .dtype = DType::Float64});
    ln.weight.copy_(param({5}, 7, 0.5, 1.5).detach());
    ln.bias.copy_(param({5}, 8).detach());
    nn::LayerNorm bare({.normalized_size = 5, .elementwise_affine = false, .dtype = DType::Float64});
    Tensor x = param({2, 3, 5}, 9, -2, 2);
    Tensor w = param({2, 3, 5}, 10).detach();
    for (const nn::LayerNorm* layer : {&ln, &bare}) {
        auto run = [&](bool fast) {
            FastPathGuard guard(fast);
            x.zero_grad();
            if (layer->weight.defined()) layer->weight.zero_grad(), layer->bias.zero_grad();
            Tensor y = layer->forward(x);
            sum(y * w).backward();
            std::vector<Tensor> out{y.detach(), x.grad()};
            if (layer->weight.defined()) out.push_back(layer->weight.grad()), out.push_back(layer->bias.grad());
            return out;
        };
        auto fast = run(true), plain = run(false);
        for (std::size_t i = 0; i < fast.size(); ++i) {
            INFO("tensor " << i);
            CHECK(allclose(fast[i], plain[i], 1e-12, 1e-12));
        }
    }
    seqgrad::testing::require_gradcheck(
        [&](const std::vector<Tensor>& in) { return layer_norm_fused(in[0], in[1], in[2], 1e-5); },
        {x, ln.weight, ln.bias});
    // float32: the fused row loops (partial sums) against the composite in float
    nn::LayerNorm ln32({.normalized_size = 40});
    Tensor x32 = param({7, 40}, 11, -3, 3).detach().to(DType::Float32);
    Tensor y32 = ln32(x32);
    {
        FastPathGuard plain(false);
        CHECK(allclose(y32, ln32(x32), 1e-5, 1e-5));
    }
    CHECK_THROWS_WITH(layer_norm_fused(Tensor::scalar(1.0), Tensor(), Tensor(), 1e-5),
                      "layer_norm: input must have at least one dim, got []");
    CHECK_THROWS_WITH(layer_norm_fused(x, zeros({4}, {.dtype = DType::Float64}), Tensor(), 1e-5),
                      "layer_norm: weight and bias must be [5] to match input [2, 3, 5], got [4]");
}
