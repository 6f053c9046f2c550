// Recurrent cells (layers/rnn_cell.h): golden values worked out by hand on one unit, float64
// gradcheck over input, state and every parameter, PyTorch's layout and init, and shape errors.
#include <cmath>

#include "helpers.h"
#include "layers/rnn_cell.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {
const double ln2 = std::log(2.0), ln3 = std::log(3.0);
// Values the hand computations below rely on:
//   σ(ln 3) = 1 / (1 + 1/3) = 3/4,  σ(−ln 3) = 1/4,  σ(0) = 1/2,  tanh(ln 2) = (2 − 1/2) / (2 + 1/2) = 3/5.

std::vector<std::string> names_of(const nn::Module& m) {
    std::vector<std::string> names;
    for (auto& [n, t] : m.named_parameters()) names.push_back(n);
    return names;
}
}  // namespace

TEST_CASE("rnn_cell: RNNCell golden value by hand", "[rnn_cell]") {
    nn::RNNCell cell({.input_size = 1, .hidden_size = 1, .dtype = DType::Float64});
    cell.weight_ih.copy_(f64({0.5}, {1, 1}));
    cell.weight_hh.copy_(f64({-1.0}, {1, 1}));
    cell.bias_ih.copy_(f64({ln2 - 0.25}, {1}));
    cell.bias_hh.copy_(f64({0.25}, {1}));
    // x = 1, h = 0.5:  h' = tanh(0.5·1 + (ln2 − 0.25) − 1·0.5 + 0.25) = tanh(ln 2) = 0.6
    const Tensor h1 = cell.step(f64({1.0}, {1, 1}), f64({0.5}, {1, 1}));
    CHECK(h1.shape() == Shape{1, 1});
    CHECK(h1.item() == Approx(0.6).margin(1e-12));
}

TEST_CASE("rnn_cell: GRUCell golden value by hand (gate order r, z, n - b_hn inside r)", "[rnn_cell]") {
    nn::GRUCell cell({.input_size = 1, .hidden_size = 1, .dtype = DType::Float64});
    // rows r, z, n
    cell.weight_ih.copy_(f64({0.25, -0.5, 0.5}, {3, 1}));
    cell.weight_hh.copy_(f64({1.0, 2.0, -1.0}, {3, 1}));
    cell.bias_ih.copy_(f64({ln3 - 1.5, -ln3, ln2 - 1.75}, {3}));
    cell.bias_hh.copy_(f64({0.5, 0.0, 1.5}, {3}));
    // x = 2, h = 0.5:
    //   r = σ(0.25·2 + (ln3 − 1.5) + 1·0.5 + 0.5) = σ(ln 3) = 3/4
    //   z = σ(−0.5·2 − ln3 + 2·0.5 + 0) = σ(−ln 3) = 1/4
    //   n = tanh(0.5·2 + (ln2 − 1.75) + r·(−1·0.5 + 1.5)) = tanh(ln2 − 0.75 + 3/4) = tanh(ln 2) = 3/5
    //   h' = (1 − z)·n + z·h = 3/4·3/5 + 1/4·1/2 = 0.45 + 0.125 = 0.575
    // (b_hn outside r would give tanh(ln2 + 0.375), r and z swapped would give another value.)
    const Tensor h1 = cell(f64({2.0}, {1, 1}), f64({0.5}, {1, 1}));
    CHECK(h1.item() == Approx(0.575).margin(1e-12));
}

TEST_CASE("rnn_cell: LSTMCell golden value by hand (gate order i, f, g, o)", "[rnn_cell]") {
    nn::LSTMCell cell({.input_size = 1, .hidden_size = 1, .dtype = DType::Float64});
    // rows i, f, g, o
    cell.weight_ih.copy_(f64({1.0, -1.0, 0.5, 2.0}, {4, 1}));
    cell.weight_hh.copy_(f64({2.0, 1.0, -1.0, -4.0}, {4, 1}));
    cell.bias_ih.copy_(f64({ln3 - 2.0, 0.5 - ln3, 0.0, 0.25}, {4}));
    cell.bias_hh.copy_(f64({0.0, 0.0, ln2, -0.25}, {4}));
    // x = 1, h = 0.5, c = 0.2:
    //   i = σ(1 + (ln3 − 2) + 2·0.5 + 0) = σ(ln 3) = 3/4
    //   f = σ(−1 + (0.5 − ln3) + 1·0.5 + 0) = σ(−ln 3) = 1/4
    //   g = tanh(0.5 + 0 − 1·0.5 + ln2) = tanh(ln 2) = 3/5
    //   o = σ(2 + 0.25 − 4·0.5 − 0.25) = σ(0) = 1/2
    //   c' = f·c + i·g = 0.05 + 0.45 = 0.5
    //   h' = o·tanh(c') = 0.5·tanh(0.5) = 0.5·0.46211715726000974 = 0.23105857863000487
    const nn::LSTMState s = cell.step(f64({1.0}, {1, 1}), {f64({0.5}, {1, 1}), f64({0.2}, {1, 1})});
    CHECK(s.c.item() == Approx(0.5).margin(1e-12));
    CHECK(s.h.item() == Approx(0.23105857863000487).margin(1e-12));
}

TEST_CASE("rnn_cell: gradcheck over input, hidden state and all parameters", "[rnn_cell]") {
    Generator gen(11);
    const Tensor x = param({2, 3}, 1), h = param({2, 2}, 2), c = param({2, 2}, 3);
    auto with_params = [](std::vector<Tensor> in, const nn::Module& m) {
        for (auto& p : m.parameters()) in.push_back(p);
        return in;
    };

    SECTION("RNNCell") {
        nn::RNNCell cell({.input_size = 3, .hidden_size = 2, .dtype = DType::Float64, .generator = &gen});
        require_gradcheck([&](const std::vector<Tensor>& in) { return cell.step(in[0], in[1]); },
                          with_params({x, h}, cell));
    }
    SECTION("GRUCell") {
        nn::GRUCell cell({.input_size = 3, .hidden_size = 2, .dtype = DType::Float64, .generator = &gen});
        require_gradcheck([&](const std::vector<Tensor>& in) { return cell.step(in[0], in[1]); },
                          with_params({x, h}, cell));
    }
    SECTION("LSTMCell, both outputs h' and c'") {
        // Built in float32 and converted in place, as a model would be for gradcheck.
        nn::LSTMCell cell({.input_size = 3, .hidden_size = 2, .generator = &gen});
        cell.to(DType::Float64);
        REQUIRE(cell.weight_ih.dtype() == DType::Float64);
        require_gradcheck(
            [&](const std::vector<Tensor>& in) {
                const nn::LSTMState s = cell.step(in[0], {in[1], in[2]});
                return cat({s.h, s.c}, 1);
            },
            with_params({x, h, c}, cell));
    }
    SECTION("GRUCell without bias") {
        nn::GRUCell cell({.input_size = 3, .hidden_size = 2, .bias = false, .dtype = DType::Float64, .generator = &gen});
        REQUIRE(cell.parameters().size() == 2);
        require_gradcheck([&](const std::vector<Tensor>& in) { return cell.step(in[0], in[1]); },
                          with_params({x, h}, cell));
    }
}

TEST_CASE("rnn_cell: an undefined state means zeros", "[rnn_cell]") {
    Generator gen(5);
    const Tensor x = param({3, 4}, 9);
    const Tensor z = zeros({3, 2}, {.dtype = DType::Float64});
    nn::RNNCell rnn({.input_size = 4, .hidden_size = 2, .dtype = DType::Float64, .generator = &gen});
    nn::GRUCell gru({.input_size = 4, .hidden_size = 2, .dtype = DType::Float64, .generator = &gen});
    nn::LSTMCell lstm({.input_size = 4, .hidden_size = 2, .dtype = DType::Float64, .generator = &gen});
    CHECK(allclose(rnn(x), rnn.step(x, z), 0, 0));
    CHECK(allclose(gru(x), gru.step(x, z), 0, 0));
    const nn::LSTMState a = lstm(x), b = lstm.step(x, {z, z});
    CHECK(allclose(a.h, b.h, 0, 0));
    CHECK(allclose(a.c, b.c, 0, 0));
    CHECK(a.h.shape() == Shape{3, 2});
    // The state matters: a nonzero h gives a different result.
    CHECK_FALSE(allclose(gru.step(x, ones({3, 2}, {.dtype = DType::Float64})), gru(x)));
}

TEST_CASE("rnn_cell: PyTorch's parameter names, shapes and init U(-1/sqrt(H), 1/sqrt(H))", "[rnn_cell]") {
    const std::vector<std::string> names{"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    nn::RNNCell rnn({.input_size = 5, .hidden_size = 16});
    nn::GRUCell gru({.input_size = 5, .hidden_size = 16});
    nn::LSTMCell lstm({.input_size = 5, .hidden_size = 16});
    CHECK(names_of(rnn) == names);
    CHECK(names_of(gru) == names);
    CHECK(names_of(lstm) == names);
    CHECK(rnn.weight_ih.shape() == Shape{16, 5});
    CHECK(gru.weight_ih.shape() == Shape{48, 5});
    CHECK(gru.weight_hh.shape() == Shape{48, 16});
    CHECK(gru.bias_hh.shape() == Shape{48});
    CHECK(lstm.weight_ih.shape() == Shape{64, 5});
    CHECK(lstm.weight_hh.shape() == Shape{64, 16});
    CHECK(lstm.bias_ih.shape() == Shape{64});
    CHECK(lstm.num_parameters() == 64 * 5 + 64 * 16 + 2 * 64);
    for (const nn::Module* m : std::initializer_list<const nn::Module*>{&rnn, &gru, &lstm}) {
        for (auto& [name, t] : m->named_parameters()) {
            const std::vector<double> v = t.to_vector();
            double lo = 1, hi = -1;
            for (double e : v) lo = std::min(lo, e), hi = std::max(hi, e);
            INFO(m->type_name() << "." << name);
            CHECK(lo >= -0.25);  // 1/sqrt(16)
            CHECK(hi <= 0.25);
            CHECK(hi - lo > 0.2);  // really drawn from the whole range, not a constant
        }
    }
    nn::LSTMCell nobias({.input_size = 5, .hidden_size = 16, .bias = false});
    CHECK(names_of(nobias) == std::vector<std::string>{"weight_ih", "weight_hh"});
    CHECK_FALSE(nobias.bias_ih.defined());

    // The same generator seed gives the same weights.
    Generator g1(3), g2(3);
    nn::GRUCell a({.input_size = 2, .hidden_size = 3, .generator = &g1});
    nn::GRUCell b({.input_size = 2, .hidden_size = 3, .generator = &g2});
    CHECK(allclose(a.weight_hh, b.weight_hh, 0, 0));
}

TEST_CASE("rnn_cell: bad shapes name the layer and the shapes", "[rnn_cell][errors]") {
    nn::GRUCell gru({.input_size = 3, .hidden_size = 2});
    nn::LSTMCell lstm({.input_size = 3, .hidden_size = 2});
    nn::RNNCell rnn({.input_size = 3, .hidden_size = 2});

    CHECK_THROWS_AS(gru(zeros({4, 5})), ShapeError);
    CHECK_THROWS_WITH(gru(zeros({4, 5})), Catch::Contains("GRUCell") && Catch::Contains("[4, 5]") &&
                                              Catch::Contains("input_size = 3") && Catch::Contains("[6, 3]"));
    CHECK_THROWS_WITH(rnn(zeros({4, 3, 1})), Catch::Contains("RNNCell") && Catch::Contains("[4, 3, 1]"));
    // A hidden state for another batch size or hidden size.
    CHECK_THROWS_AS(gru(zeros({4, 3}), zeros({5, 2})), ShapeError);
    CHECK_THROWS_WITH(gru(zeros({4, 3}), zeros({5, 2})),
                      Catch::Contains("GRUCell") && Catch::Contains("[4, 2]") && Catch::Contains("[5, 2]"));
    CHECK_THROWS_WITH(lstm(zeros({4, 3}), {zeros({4, 2}), zeros({4, 7})}),
                      Catch::Contains("LSTMCell") && Catch::Contains("c must be") && Catch::Contains("[4, 7]"));
    CHECK_THROWS_AS(lstm(zeros({4, 3}), {zeros({4, 2}), Tensor()}), ShapeError);
    CHECK_THROWS_WITH(lstm(zeros({4, 3}), {zeros({4, 2}), Tensor()}), Catch::Contains("both h and c"));
    // dtype mismatch between input and parameters.
    CHECK_THROWS_WITH(gru(zeros({4, 3}, {.dtype = DType::Float64})), Catch::Contains("GRUCell") && Catch::Contains("float64"));
    CHECK_THROWS_AS(nn::GRUCell({.input_size = 0, .hidden_size = 2}), ShapeError);
    CHECK_THROWS_WITH(nn::LSTMCell({.input_size = 3, .hidden_size = -1}),
                      Catch::Contains("LSTMCell") && Catch::Contains("positive"));
}
