// Embedding, Dropout and LayerNorm: gradchecks, golden values, errors.
#include "helpers.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
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
