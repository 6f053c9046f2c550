// Attention pooling (layers/attention_pooling.h): a 2-position golden value by hand, gradcheck of the
// features, the query and every score parameter (with a masked position), errors.
#include <cmath>

#include "helpers.h"
#include "layers/attention_pooling.h"

using namespace seqgrad;
using seqgrad::testing::f64;
using seqgrad::testing::param;

TEST_CASE("attention pooling: golden values by hand (dot score)", "[attention_pooling]") {
    nn::AttentionPooling pool({.feature_size = 2, .kind = nn::AttentionKind::Dot, .dtype = DType::Float64});
    pool.query.copy_(f64({1.0, 0.0}, {2}));
    // f_1 = (1, 0), f_2 = (0, 2): e = (1, 0), α = (e/(1+e), 1/(1+e)), c = (α_1, 2 α_2).
    const nn::AttentionOutput out = pool(f64({1, 0, 0, 2}, {1, 2, 2}));
    const double e = std::exp(1.0), a1 = e / (1 + e), a2 = 1 / (1 + e);
    seqgrad::testing::check_values(out.weights, {a1, a2});
    seqgrad::testing::check_values(out.context, {a1, 2 * a2});
    seqgrad::testing::check_values(out.scores, {1.0, 0.0});
    // A masked position gets exactly zero weight.
    const nn::AttentionOutput masked = pool(f64({1, 0, 0, 2}, {1, 2, 2}), f64({0, 1}, {1, 2}));
    seqgrad::testing::check_values(masked.weights, {0.0, 1.0});
    seqgrad::testing::check_values(masked.context, {0.0, 2.0});
}

TEST_CASE("attention pooling: gradcheck over features, query and the additive score's parameters", "[attention_pooling]") {
    Generator gen(11);
    nn::AttentionPooling pool({.feature_size = 3, .attention_size = 4, .dtype = DType::Float64, .generator = &gen});
    Tensor features = param({2, 4, 3}, 5);
    const Tensor mask = f64({1, 1, 1, 1, 1, 1, 0, 1}, {2, 4});
    std::vector<Tensor> inputs = {features};
    for (const Tensor& p : pool.parameters()) inputs.push_back(p);
    CHECK(pool.named_parameters().front().first == "query");
    seqgrad::testing::require_gradcheck([&](const std::vector<Tensor>& in) { return pool(in[0], mask).context; }, inputs);
    seqgrad::testing::require_gradcheck([&](const std::vector<Tensor>& in) { return pool(in[0], mask).weights; }, inputs);
}

TEST_CASE("attention pooling: bad options and bad features are clear errors", "[attention_pooling][errors]") {
    CHECK_THROWS_WITH(nn::AttentionPooling({.feature_size = 0}), "AttentionPooling: feature_size must be positive, got 0");
    CHECK_THROWS_WITH(nn::AttentionPooling({.feature_size = 2, .kind = nn::AttentionKind::LocalM}),
                      Catch::StartsWith("AttentionPooling: the score must not depend on a decoder step or a source length") &&
                          Catch::EndsWith("got local-m"));
    nn::AttentionPooling pool({.feature_size = 2, .kind = nn::AttentionKind::Dot});
    CHECK_THROWS_AS(pool(zeros({1, 3, 4})), ShapeError);
    CHECK_THROWS_WITH(pool(zeros({1, 3, 4})), "AttentionPooling: features must be [B, S, 2], got [1, 3, 4]");
}
