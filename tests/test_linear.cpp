// Linear layer and the Module API it exercises: names, state_dict, train/eval, dtype, errors.
#include "helpers.h"
#include "layers/linear.h"

using namespace seqgrad;
using seqgrad::testing::f64;
using seqgrad::testing::param;

TEST_CASE("linear: golden values by hand", "[linear]") {
    nn::Linear lin({.in_features = 2, .out_features = 1, .dtype = DType::Float64});
    lin.weight.copy_(f64({2.0, -1.0}, {1, 2}));
    lin.bias.copy_(f64({0.5}, {1}));
    // y = 2*3 - 1*4 + 0.5 = 2.5
    CHECK(lin(f64({3.0, 4.0}, {1, 2})).item() == 2.5);
}

TEST_CASE("linear: gradcheck over input, weight and bias (2-D and 3-D input)", "[linear]") {
    Generator gen(7);
    nn::Linear lin({.in_features = 3, .out_features = 4, .dtype = DType::Float64, .generator = &gen});
    Tensor x2 = param({5, 3}, 1), x3 = param({2, 5, 3}, 2);
    auto f = [&](const std::vector<Tensor>& in) { return lin(in[0]); };
    seqgrad::testing::require_gradcheck(f, {x2, lin.weight, lin.bias});
    seqgrad::testing::require_gradcheck(f, {x3, lin.weight, lin.bias});
}

TEST_CASE("linear: PyTorch default init bounds and weight layout", "[linear]") {
    nn::Linear lin({.in_features = 16, .out_features = 8});
    CHECK(lin.weight.shape() == Shape{8, 16});
    for (double v : lin.weight.to_vector()) CHECK(std::abs(v) <= 0.25);
    CHECK(lin.num_parameters() == 8 * 16 + 8);
}

TEST_CASE("linear: bad shapes name the layer and the shapes", "[linear][errors]") {
    nn::Linear lin({.in_features = 3, .out_features = 4});
    CHECK_THROWS_AS(lin(zeros({2, 5})), ShapeError);
    CHECK_THROWS_WITH(lin(zeros({2, 5})), Catch::Contains("Linear") && Catch::Contains("[2, 5]") && Catch::Contains("[4, 3]"));
    CHECK_THROWS_WITH(nn::Linear({.in_features = 0, .out_features = 4}), Catch::Contains("positive"));
}

namespace {
struct TwoLayer : nn::Module {
    TwoLayer() {
        first = register_module("first", std::make_shared<nn::Linear>(nn::LinearOptions{.in_features = 2, .out_features = 3}));
        second = register_module("second", std::make_shared<nn::Linear>(nn::LinearOptions{.in_features = 3, .out_features = 1, .bias = false}));
    }
    std::string type_name() const override { return "TwoLayer"; }
    std::shared_ptr<nn::Linear> first, second;
};
}  // namespace

TEST_CASE("module: dotted names, state_dict round trip, train/eval, to(dtype)", "[module]") {
    TwoLayer m;
    std::vector<std::string> names;
    for (auto& [n, t] : m.named_parameters()) names.push_back(n);
    CHECK(names == std::vector<std::string>{"first.weight", "first.bias", "second.weight"});
    CHECK(m.num_parameters() == 2 * 3 + 3 + 3);

    TwoLayer other;
    std::map<std::string, Tensor> copy;
    for (auto& [n, t] : m.state_dict()) copy.emplace(n, t.clone());
    other.load_state_dict(copy);
    CHECK(allclose(other.first->weight, m.first->weight, 0, 0));

    m.eval();
    CHECK_FALSE(m.first->is_training());
    m.train();
    CHECK(m.second->is_training());

    m.to(DType::Float64);
    CHECK(m.first->weight.dtype() == DType::Float64);
    CHECK(m.first->weight.requires_grad());
    CHECK(m.summary().find("first: Linear") != std::string::npos);
}

TEST_CASE("module: load_state_dict lists missing, unexpected and mis-shaped entries", "[module][errors]") {
    TwoLayer m;
    std::map<std::string, Tensor> bad;
    bad.emplace("first.weight", zeros({5, 5}));
    bad.emplace("first.bias", zeros({3}));
    bad.emplace("extra", zeros({1}));
    try {
        m.load_state_dict(bad);
        FAIL("expected an error");
    } catch (const ShapeError& e) {
        const std::string msg = e.what();
        CHECK_THAT(msg, Catch::Contains("missing [second.weight]"));
        CHECK_THAT(msg, Catch::Contains("unexpected [extra]"));
        CHECK_THAT(msg, Catch::Contains("'first.weight' is [5, 5]"));
    }
}

namespace {
struct Dup : nn::Module {
    Dup() {
        register_parameter("w", zeros({1}));
        register_parameter("w", zeros({1}));
    }
    std::string type_name() const override { return "Dup"; }
};
}  // namespace

TEST_CASE("module: duplicate names are an error", "[module][errors]") {
    CHECK_THROWS_WITH(Dup(), Catch::Contains("'w' is already registered"));
}
