// Sequence wrappers RNN / GRU / LSTM (layers/rnn.h): PyTorch's parameter names, float64 gradcheck
// of two bidirectional layers over input, initial state and every parameter, agreement with the
// cells unrolled by hand, padded batches against sequences run alone, dropout, lifetime, errors.
#include <type_traits>

#include "helpers.h"
#include "layers/rnn.h"

using namespace seqgrad;
using seqgrad::testing::param;
using seqgrad::testing::require_gradcheck;

namespace {

std::vector<std::string> names_of(const nn::Module& m) {
    std::vector<std::string> names;
    for (auto& [n, t] : m.named_parameters()) names.push_back(n);
    return names;
}

template <typename M>
constexpr bool is_lstm = std::is_same_v<M, nn::LSTM>;

// Calls any of the three wrappers with h0 (and c0 for LSTM).
template <typename M>
nn::RNNOutput run(const M& m, const Tensor& x, const Tensor& h0, const Tensor& c0,
                  const std::vector<std::int64_t>& lengths = {}) {
    if constexpr (is_lstm<M>)
        return m(x, {h0, c0}, lengths);
    else
        return m(x, h0, lengths);
}

// Everything a wrapper returns as one vector, so gradcheck sees every output.
Tensor flat(const nn::RNNOutput& out) {
    std::vector<Tensor> parts{flatten(out.output), flatten(out.h_n)};
    if (out.c_n.defined()) parts.push_back(flatten(out.c_n));
    return cat(parts, 0);
}

// x [B, T, F] -> its rows b, steps [0, len): [1, len, F]
Tensor sequence(const Tensor& x, std::int64_t b, std::int64_t len) { return narrow(narrow(x, 0, b, 1), 1, 0, len); }

constexpr double kTight = 1e-10;  // float64 agreement of the same math batched differently

template <typename M>
void gradcheck_wrapper(const std::vector<std::int64_t>& lengths) {
    Generator gen(17);
    M m({.input_size = 3, .hidden_size = 2, .num_layers = 2, .bidirectional = true, .dtype = DType::Float64,
         .generator = &gen});
    const Tensor x = param({2, 3, 3}, 1);
    const Tensor h0 = param({4, 2, 2}, 2), c0 = param({4, 2, 2}, 3);
    std::vector<Tensor> inputs{x, h0};
    if constexpr (is_lstm<M>) inputs.push_back(c0);
    const std::size_t first_param = inputs.size();
    for (auto& p : m.parameters()) inputs.push_back(p);
    REQUIRE(inputs.size() == first_param + 16);
    require_gradcheck(
        [&](const std::vector<Tensor>& in) {
            return flat(run(m, in[0], in[1], is_lstm<M> ? in[2] : Tensor(), lengths));
        },
        inputs);
}

// A padded batch against each sequence run alone: same outputs on real steps, zeros on padding,
// same final states, and the same gradients as the sum of the per-sequence losses.
template <typename M>
void check_padding_matches_single_sequences() {
    Generator gen(29);
    const std::int64_t B = 3, T = 4, F = 3, H = 2, LD = 4;
    const std::vector<std::int64_t> lengths{4, 1, 3};
    M m({.input_size = F, .hidden_size = H, .num_layers = 2, .bidirectional = true, .dtype = DType::Float64,
         .generator = &gen});
    // Padding holds random values: the layer must ignore them, not rely on zeros.
    const Tensor x = param({B, T, F}, 5, -2.0, 2.0);
    const Tensor h0 = param({LD, B, H}, 6), c0 = param({LD, B, H}, 7);
    // Random weights for the loss, so every output element gets its own gradient.
    const Tensor r_out = param({B, T, 2 * H}, 8).detach(), r_h = param({LD, B, H}, 9).detach(),
                 r_c = param({LD, B, H}, 10).detach();

    // The padded batch.
    const nn::RNNOutput batch = run(m, x, h0, is_lstm<M> ? c0 : Tensor(), lengths);
    REQUIRE(batch.output.shape() == Shape{B, T, 2 * H});
    REQUIRE(batch.h_n.shape() == Shape{LD, B, H});
    Tensor loss = sum(batch.output * r_out) + sum(batch.h_n * r_h);
    if constexpr (is_lstm<M>) loss = loss + sum(batch.c_n * r_c);
    loss.backward();
    std::vector<Tensor> batch_grads;
    for (auto& p : m.parameters()) batch_grads.push_back(p.grad().clone());
    m.zero_grad();

    // Each sequence alone, batch of one, no lengths.
    for (std::int64_t b = 0; b < B; ++b) {
        const std::int64_t len = lengths[b];
        INFO("sequence " << b << " of length " << len);
        const Tensor xb = sequence(x, b, len).detach().clone().set_requires_grad();
        const Tensor hb = narrow(h0, 1, b, 1).detach().clone().set_requires_grad();
        const Tensor cb = narrow(c0, 1, b, 1).detach().clone().set_requires_grad();
        const nn::RNNOutput alone = run(m, xb, hb, is_lstm<M> ? cb : Tensor());

        CHECK(allclose(sequence(batch.output, b, len).detach(), alone.output.detach(), kTight, kTight));
        if (len < T) {  // exactly zero on padding
            const Tensor pad = narrow(narrow(batch.output, 0, b, 1), 1, len, T - len);
            CHECK(max(abs(pad)).item() == 0.0);
        }
        CHECK(allclose(narrow(batch.h_n, 1, b, 1).detach(), alone.h_n.detach(), kTight, kTight));
        if constexpr (is_lstm<M>) CHECK(allclose(narrow(batch.c_n, 1, b, 1).detach(), alone.c_n.detach(), kTight, kTight));

        Tensor lb = sum(alone.output * sequence(r_out, b, len)) + sum(alone.h_n * narrow(r_h, 1, b, 1));
        if constexpr (is_lstm<M>) lb = lb + sum(alone.c_n * narrow(r_c, 1, b, 1));
        lb.backward();  // parameter gradients accumulate over the sequences

        CHECK(allclose(sequence(x.grad(), b, len), xb.grad(), kTight, kTight));
        if (len < T) {  // padded inputs receive no gradient at all
            const Tensor pad = narrow(narrow(x.grad(), 0, b, 1), 1, len, T - len);
            CHECK(max(abs(pad)).item() == 0.0);
        }
        CHECK(allclose(narrow(h0.grad(), 1, b, 1), hb.grad(), kTight, kTight));
        if constexpr (is_lstm<M>) CHECK(allclose(narrow(c0.grad(), 1, b, 1), cb.grad(), kTight, kTight));
    }
    const auto named = m.named_parameters();
    for (std::size_t i = 0; i < named.size(); ++i) {
        INFO(named[i].first);
        CHECK(allclose(batch_grads[i], named[i].second.grad(), kTight, kTight));
    }
}

}  // namespace

TEST_CASE("rnn: parameter names and shapes are PyTorch's", "[rnn]") {
    nn::LSTM lstm({.input_size = 3, .hidden_size = 5, .num_layers = 2, .bidirectional = true});
    CHECK(names_of(lstm) == std::vector<std::string>{
                                "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",                  //
                                "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",        //
                                "bias_hh_l0_reverse",                                                        //
                                "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",                  //
                                "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse",        //
                                "bias_hh_l1_reverse"});
    const auto sd = lstm.state_dict();
    CHECK(sd.at("weight_ih_l0").shape() == Shape{20, 3});
    CHECK(sd.at("weight_hh_l0_reverse").shape() == Shape{20, 5});
    CHECK(sd.at("weight_ih_l1").shape() == Shape{20, 10});  // layer 1 reads forward ‖ reverse
    CHECK(sd.at("bias_hh_l1_reverse").shape() == Shape{20});
    // The wrapper's parameters are the cells' tensors themselves.
    CHECK(lstm.cell(1, 1).weight_ih.impl() == sd.at("weight_ih_l1_reverse").impl());

    nn::GRU gru({.input_size = 3, .hidden_size = 4});
    CHECK(names_of(gru) == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"});
    CHECK(gru.state_dict().at("weight_ih_l0").shape() == Shape{12, 3});

    nn::RNN rnn({.input_size = 3, .hidden_size = 4, .num_layers = 2, .bias = false});
    CHECK(names_of(rnn) == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1"});
    CHECK(rnn.state_dict().at("weight_ih_l1").shape() == Shape{4, 4});

    // PyTorch's init bound 1/sqrt(H) for every tensor.
    for (auto& [name, t] : lstm.named_parameters())
        for (double v : t.to_vector()) REQUIRE(std::abs(v) <= 1.0 / std::sqrt(5.0));
}

TEST_CASE("rnn: output and state shapes, float32", "[rnn]") {
    nn::GRU gru({.input_size = 3, .hidden_size = 4, .num_layers = 3, .bidirectional = true});
    const nn::RNNOutput out = gru(uniform({2, 5, 3}, -1, 1));
    CHECK(out.output.shape() == Shape{2, 5, 8});
    CHECK(out.h_n.shape() == Shape{6, 2, 4});
    CHECK_FALSE(out.c_n.defined());
    CHECK(out.output.dtype() == DType::Float32);

    nn::LSTM lstm({.input_size = 3, .hidden_size = 4});
    const nn::RNNOutput o2 = lstm(uniform({2, 5, 3}, -1, 1));
    CHECK(o2.output.shape() == Shape{2, 5, 4});
    CHECK(o2.h_n.shape() == Shape{1, 2, 4});
    CHECK(o2.c_n.shape() == Shape{1, 2, 4});
}

TEST_CASE("rnn: gradcheck, 2 bidirectional layers, over input, initial state and all parameters", "[rnn]") {
    SECTION("RNN") { gradcheck_wrapper<nn::RNN>({}); }
    SECTION("GRU") { gradcheck_wrapper<nn::GRU>({}); }
    SECTION("LSTM") { gradcheck_wrapper<nn::LSTM>({}); }
    SECTION("GRU with lengths") { gradcheck_wrapper<nn::GRU>({3, 1}); }
    SECTION("LSTM with lengths") { gradcheck_wrapper<nn::LSTM>({2, 3}); }
}

TEST_CASE("rnn: a 2-layer bidirectional GRU equals its cells unrolled by hand", "[rnn]") {
    Generator gen(3);
    const std::int64_t B = 2, T = 4, H = 3, L = 2;
    nn::GRU gru({.input_size = 2, .hidden_size = H, .num_layers = L, .bidirectional = true, .dtype = DType::Float64,
                 .generator = &gen});
    const Tensor x = param({B, T, 2}, 4), h0 = param({2 * L, B, H}, 5);
    const nn::RNNOutput out = gru(x, h0);

    // Layer by layer: the forward cell walks t = 0..T-1, the reverse cell t = T-1..0, each from its
    // row l*2 + d of h0; the next layer reads [forward ‖ reverse] at every step.
    std::vector<Tensor> inputs(T);  // [B, F] per step
    for (std::int64_t t = 0; t < T; ++t) inputs[t] = select(x, 1, t);
    std::vector<Tensor> finals;
    for (std::int64_t l = 0; l < L; ++l) {
        Tensor hf = select(h0, 0, 2 * l), hr = select(h0, 0, 2 * l + 1);
        std::vector<Tensor> fwd(T), rev(T);
        for (std::int64_t t = 0; t < T; ++t) fwd[t] = hf = gru.cell(l, 0).step(inputs[t], hf);
        for (std::int64_t t = T - 1; t >= 0; --t) rev[t] = hr = gru.cell(l, 1).step(inputs[t], hr);
        for (std::int64_t t = 0; t < T; ++t) inputs[t] = cat({fwd[t], rev[t]}, 1);
        finals.push_back(hf);  // forward: after step T-1
        finals.push_back(hr);  // reverse: after step 0
    }
    CHECK(allclose(out.output, stack(inputs, 1), 0, 0));
    CHECK(allclose(out.h_n, stack(finals, 0), 0, 0));
}

TEST_CASE("rnn: a 2-layer LSTM feeds layer 0's outputs to layer 1", "[rnn]") {
    Generator gen(8);
    const std::int64_t B = 2, T = 3, H = 2;
    nn::LSTM lstm({.input_size = 3, .hidden_size = H, .num_layers = 2, .dtype = DType::Float64, .generator = &gen});
    const Tensor x = param({B, T, 3}, 1);
    const nn::RNNOutput out = lstm(x);  // zero initial state

    nn::LSTMState s0, s1;  // undefined: zeros
    std::vector<Tensor> top;
    for (std::int64_t t = 0; t < T; ++t) {
        s0 = lstm.cell(0).step(select(x, 1, t), s0);
        s1 = lstm.cell(1).step(s0.h, s1);
        top.push_back(s1.h);
    }
    CHECK(allclose(out.output, stack(top, 1), 0, 0));
    CHECK(allclose(out.h_n, stack({s0.h, s1.h}, 0), 0, 0));
    CHECK(allclose(out.c_n, stack({s0.c, s1.c}, 0), 0, 0));
}

TEST_CASE("rnn: a padded batch matches each sequence run alone (GRU, bidirectional, 2 layers)", "[rnn]") {
    check_padding_matches_single_sequences<nn::GRU>();
}

TEST_CASE("rnn: a padded batch matches each sequence run alone (LSTM, bidirectional, 2 layers)", "[rnn]") {
    check_padding_matches_single_sequences<nn::LSTM>();
}

TEST_CASE("rnn: a padded batch matches each sequence run alone (RNN, bidirectional, 2 layers)", "[rnn]") {
    check_padding_matches_single_sequences<nn::RNN>();
}

TEST_CASE("rnn: lengths all equal to T change nothing", "[rnn]") {
    Generator gen(2);
    nn::GRU gru({.input_size = 3, .hidden_size = 2, .bidirectional = true, .dtype = DType::Float64, .generator = &gen});
    const Tensor x = param({2, 3, 3}, 3);
    const nn::RNNOutput a = gru(x), b = gru(x, Tensor(), {3, 3});
    CHECK(allclose(a.output, b.output, 0, 0));
    CHECK(allclose(a.h_n, b.h_n, 0, 0));
}

TEST_CASE("rnn: dropout between layers in training mode only", "[rnn]") {
    Generator init1(4), init2(4), drop(9);
    nn::GRU with({.input_size = 3, .hidden_size = 4, .num_layers = 2, .dropout = 0.5, .dtype = DType::Float64,
                  .generator = &init1, .dropout_generator = &drop});
    nn::GRU without({.input_size = 3, .hidden_size = 4, .num_layers = 2, .dtype = DType::Float64, .generator = &init2});
    REQUIRE(allclose(with.state_dict().at("weight_ih_l1"), without.state_dict().at("weight_ih_l1"), 0, 0));
    const Tensor x = param({2, 5, 3}, 1);

    const Tensor reference = without(x).output;
    CHECK_FALSE(allclose(with(x).output, reference, 1e-6, 1e-6));  // training: layer 0's output dropped
    with.eval();
    CHECK(allclose(with(x).output, reference, 0, 0));  // eval: identity

    // One layer: nothing comes after the last layer, so dropout never applies.
    Generator g1(4), g2(4);
    nn::LSTM one({.input_size = 3, .hidden_size = 4, .dropout = 0.5, .dtype = DType::Float64, .generator = &g1});
    nn::LSTM plain({.input_size = 3, .hidden_size = 4, .dtype = DType::Float64, .generator = &g2});
    CHECK(allclose(one(x).output, plain(x).output, 0, 0));
}

TEST_CASE("rnn: 300 steps backpropagate, and the graph is freed after backward", "[rnn]") {
    Generator gen(1);
    nn::GRU gru({.input_size = 4, .hidden_size = 8, .generator = &gen});
    const Tensor x = uniform({2, 300, 4}, -1, 1, {}, &gen);
    auto step = [&] {
        const nn::RNNOutput out = gru(x);
        sum(out.output).backward();
    };
    step();
    for (auto& p : gru.parameters())
        for (float v : p.grad().to_float_vector()) REQUIRE(std::isfinite(v));
    gru.zero_grad();
    const std::int64_t live = TensorImpl::live_count();
    step();
    gru.zero_grad();
    CHECK(TensorImpl::live_count() == live);
}

TEST_CASE("rnn: bad shapes name the layer and the shapes", "[rnn][errors]") {
    nn::GRU gru({.input_size = 3, .hidden_size = 2, .num_layers = 2, .bidirectional = true});
    nn::LSTM lstm({.input_size = 3, .hidden_size = 2});
    const Tensor x = zeros({2, 5, 3});

    // Wrong feature size, wrong rank.
    CHECK_THROWS_AS(gru(zeros({2, 5, 4})), ShapeError);
    CHECK_THROWS_WITH(gru(zeros({2, 5, 4})),
                      Catch::Contains("GRU") && Catch::Contains("[2, 5, 4]") && Catch::Contains("input_size = 3"));
    CHECK_THROWS_WITH(lstm(zeros({5, 3})), Catch::Contains("LSTM") && Catch::Contains("[5, 3]"));

    // Initial state: [num_layers * num_directions = 4, B = 2, H = 2] expected.
    CHECK_THROWS_AS(gru(x, zeros({2, 2, 2})), ShapeError);
    CHECK_THROWS_WITH(gru(x, zeros({2, 2, 2})),
                      Catch::Contains("GRU") && Catch::Contains("[4, 2, 2]") && Catch::Contains("[2, 2, 2]") &&
                          Catch::Contains("[2, 5, 3]"));
    CHECK_THROWS_WITH(gru(x, zeros({4, 3, 2})), Catch::Contains("[4, 3, 2]"));
    CHECK_THROWS_WITH(lstm(x, {zeros({1, 2, 2}), zeros({1, 2, 5})}),
                      Catch::Contains("LSTM") && Catch::Contains("c0") && Catch::Contains("[1, 2, 5]"));
    CHECK_THROWS_AS(lstm(x, {zeros({1, 2, 2}), Tensor()}), ShapeError);
    CHECK_THROWS_WITH(lstm(x, {zeros({1, 2, 2}), Tensor()}), Catch::Contains("both initial h0 and c0"));

    // Lengths: one per sequence, each in 1..T.
    CHECK_THROWS_AS(gru(x, Tensor(), {5}), ShapeError);
    CHECK_THROWS_WITH(gru(x, Tensor(), {5, 5, 5}),
                      Catch::Contains("GRU") && Catch::Contains("3 entries") && Catch::Contains("[2, 5, 3]"));
    CHECK_THROWS_AS(gru(x, Tensor(), {5, 0}), ShapeError);
    CHECK_THROWS_WITH(gru(x, Tensor(), {5, 0}), Catch::Contains("lengths[1] = 0") && Catch::Contains("[2, 5, 3]"));
    CHECK_THROWS_WITH(lstm(x, {}, {6, 1}), Catch::Contains("LSTM") && Catch::Contains("lengths[0] = 6") &&
                                               Catch::Contains("T = 5"));

    // dtype, cells, options.
    CHECK_THROWS_WITH(gru(zeros({2, 5, 3}, {.dtype = DType::Float64})), Catch::Contains("float64"));
    CHECK_THROWS_AS(gru.cell(2, 0), IndexError);
    CHECK_THROWS_AS(lstm.cell(0, 1), IndexError);
    CHECK_THROWS_WITH(nn::GRU({.input_size = 3, .hidden_size = 2, .dropout = 1.0}), Catch::Contains("dropout"));
    CHECK_THROWS_WITH(nn::RNN({.input_size = 3, .hidden_size = 2, .num_layers = 0}),
                      Catch::Contains("RNN") && Catch::Contains("num_layers=0"));
}
