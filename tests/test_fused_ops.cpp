// Fused fast paths against their composite twins (values and gradients), plus gradchecks.
#include <cmath>

#include "core/kernels.h"
#include "core/row_kernels.h"
#include "helpers.h"
#include "layers/attention.h"
#include "layers/rnn.h"
#include "models/rnn/seq2seq.h"

using namespace seqgrad;
using seqgrad::testing::param;
using seqgrad::testing::require_gradcheck;

namespace {
// Composite GRU cell from primitives (the reference the fused kernel must match).
Tensor gru_composite(const Tensor& gx, const Tensor& h, const Tensor& w, const Tensor& b) {
    const std::int64_t H = h.size(1);
    Tensor gh = linear(h, w, b);
    Tensor r = sigmoid(narrow(gx, 1, 0, H) + narrow(gh, 1, 0, H));
    Tensor z = sigmoid(narrow(gx, 1, H, H) + narrow(gh, 1, H, H));
    Tensor n = tanh(narrow(gx, 1, 2 * H, H) + r * narrow(gh, 1, 2 * H, H));
    return (1.0 - z) * n + z * h;
}
Tensor lstm_composite(const Tensor& gx, const Tensor& h, const Tensor& c, const Tensor& w, const Tensor& b) {
    const std::int64_t H = h.size(1);
    Tensor a = gx + linear(h, w, b);
    Tensor i = sigmoid(narrow(a, 1, 0, H)), f = sigmoid(narrow(a, 1, H, H));
    Tensor g = tanh(narrow(a, 1, 2 * H, H)), o = sigmoid(narrow(a, 1, 3 * H, H));
    Tensor c1 = f * c + i * g;
    return cat({o * tanh(c1), c1}, 1);
}
Tensor additive_composite(const Tensor& qp, const Tensor& kp, const Tensor& v) {
    Tensor t = tanh(unsqueeze(qp, 1) + kp);                 // [B, S, A]
    return squeeze(matmul(t, unsqueeze(v, 1)), 2);           // [B, S]
}

// Runs f on clones of the inputs and returns the output and every input's gradient.
std::vector<Tensor> value_and_grads(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                    const std::vector<Tensor>& inputs) {
    std::vector<Tensor> xs;
    for (auto& x : inputs) xs.push_back(x.detach().clone().set_requires_grad(true));
    Tensor y = f(xs);
    Generator gen(99);
    Tensor w = uniform(y.shape(), 0.5, 1.5, {.dtype = y.dtype()}, &gen);
    sum(y * w).backward();
    std::vector<Tensor> out = {y.detach()};
    for (auto& x : xs) out.push_back(x.grad());
    return out;
}

void require_same(const std::vector<Tensor>& a, const std::vector<Tensor>& b, double tol) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        INFO("tensor " << i << ": " << a[i].str() << " vs " << b[i].str());
        CHECK(allclose(a[i], b[i], tol, tol));
    }
}
}  // namespace

TEST_CASE("fused: fast_exp matches std::exp to float precision", "[fused]") {
    double worst = 0;
    for (float x = -80.0f; x < 80.0f; x += 0.0137f) {
        const double exact = std::exp(static_cast<double>(x));
        worst = std::max(worst, std::abs(kernels::fast_exp(x) - exact) / exact);
    }
    CHECK(worst < 5e-7);
    CHECK(kernels::fast_tanh(20.0f) == 1.0f);
    CHECK(kernels::fast_tanh(-20.0f) == -1.0f);
    CHECK(kernels::fast_sigmoid(0.0f) == 0.5f);
}

TEST_CASE("fused: GRU cell equals its composite twin and passes gradcheck", "[fused]") {
    const std::int64_t B = 3, H = 4;
    std::vector<Tensor> in = {param({B, 3 * H}, 1), param({B, H}, 2), param({3 * H, H}, 3), param({3 * H}, 4)};
    auto fused = [](const std::vector<Tensor>& x) { return gru_cell_fused(x[0], x[1], x[2], x[3]); };
    auto composite = [](const std::vector<Tensor>& x) { return gru_composite(x[0], x[1], x[2], x[3]); };
    require_same(value_and_grads(fused, in), value_and_grads(composite, in), 1e-12);
    require_gradcheck(fused, in);
    // float32: same within float rounding
    std::vector<Tensor> in32;
    for (auto& x : in) in32.push_back(x.detach().to(DType::Float32));
    require_same(value_and_grads(fused, in32), value_and_grads(composite, in32), 1e-5);
}

TEST_CASE("fused: LSTM cell equals its composite twin and passes gradcheck", "[fused]") {
    const std::int64_t B = 2, H = 3;
    std::vector<Tensor> in = {param({B, 4 * H}, 5), param({B, H}, 6), param({B, H}, 7), param({4 * H, H}, 8),
                              param({4 * H}, 9)};
    auto fused = [](const std::vector<Tensor>& x) { return lstm_cell_fused(x[0], x[1], x[2], x[3], x[4]); };
    auto composite = [](const std::vector<Tensor>& x) { return lstm_composite(x[0], x[1], x[2], x[3], x[4]); };
    require_same(value_and_grads(fused, in), value_and_grads(composite, in), 1e-12);
    require_gradcheck(fused, in);
}

TEST_CASE("fused: cross_entropy equals log_softmax + nll_loss, with ignore_index", "[fused]") {
    Tensor logits = param({5, 7}, 10, -3, 3);
    Tensor target = Tensor::ids({1, 0, 6, 3, 0}, {5});
    for (Reduction red : {Reduction::Mean, Reduction::Sum}) {
        NllOptions opt{.ignore_index = 0, .reduction = red};
        auto fused = [&](const std::vector<Tensor>& x) { return cross_entropy_fused(x[0], target, opt); };
        auto composite = [&](const std::vector<Tensor>& x) { return nll_loss(log_softmax(x[0], 1), target, opt); };
        require_same(value_and_grads(fused, {logits}), value_and_grads(composite, {logits}), 1e-12);
        require_gradcheck(fused, {logits});
    }
    // float32 with large logits stays finite and close
    Tensor big = mul(param({4, 9}, 11), 500.0).detach().to(DType::Float32);
    Tensor t = Tensor::ids({1, 2, 3, 4}, {4});
    auto a = value_and_grads([&](const std::vector<Tensor>& x) { return cross_entropy_fused(x[0], t); }, {big});
    auto b = value_and_grads([&](const std::vector<Tensor>& x) { return cross_entropy(x[0], t); }, {big});
    require_same(a, b, 1e-4);
    CHECK_THROWS_AS(cross_entropy_fused(big, Tensor::ids({1, 2, 3, 99}, {4})), IndexError);
}

TEST_CASE("fused: label-smoothed cross_entropy equals its composite twin and passes gradcheck", "[fused]") {
    Tensor logits = param({5, 7}, 15, -3, 3);
    Tensor target = Tensor::ids({1, 0, 6, 3, 0}, {5});  // rows 1 and 4 ignored
    for (Reduction red : {Reduction::Mean, Reduction::Sum}) {
        NllOptions opt{.ignore_index = 0, .reduction = red};
        auto fused = [&](const std::vector<Tensor>& x) { return cross_entropy_fused(x[0], target, opt, 0.1); };
        auto composite = [&](const std::vector<Tensor>& x) { return cross_entropy(x[0], target, opt, 0.1); };
        require_same(value_and_grads(fused, {logits}), value_and_grads(composite, {logits}), 1e-12);
        require_gradcheck(fused, {logits});
        require_gradcheck(composite, {logits});
    }
    // By hand: one row of 2 classes, logits (0, 0), target 0, ε = 0.5: −log p = log 2 for both classes,
    // so the loss is log 2; its gradient is softmax − (1 − ε)·onehot − ε/C = (0.5 − 0.5 − 0.25, 0.5 − 0.25).
    Tensor x = zeros({1, 2}, {.dtype = DType::Float64, .requires_grad = true});
    Tensor y = cross_entropy_fused(x, Tensor::ids({0}, {1}), {}, 0.5);
    CHECK(y.item() == Approx(std::log(2.0)));
    y.backward();
    CHECK(x.grad().at({0, 0}) == Approx(-0.25));
    CHECK(x.grad().at({0, 1}) == Approx(0.25));
    // ε = 0 is the plain loss; a per-row loss (Reduction::None) takes the composite path.
    auto plain = [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], target, {.ignore_index = 0}); };
    auto eps0 = [&](const std::vector<Tensor>& in) { return cross_entropy_fused(in[0], target, {.ignore_index = 0}, 0.0); };
    require_same(value_and_grads(eps0, {logits}), value_and_grads(plain, {logits}), 1e-12);
    NllOptions none{.ignore_index = 0, .reduction = Reduction::None};
    CHECK(allclose(cross_entropy_fused(logits, target, none, 0.2), cross_entropy(logits, target, none, 0.2), 1e-12, 1e-12));
    // float32 over a wide row: the fused form matches the composite within float rounding.
    Tensor wide = param({6, 300}, 16, -4, 4).detach().to(DType::Float32);
    Tensor tw = Tensor::ids({5, 299, 0, 17, 3, 100}, {6});
    auto f32 = [&](const std::vector<Tensor>& in) { return cross_entropy_fused(in[0], tw, {.ignore_index = 3}, 0.1); };
    auto c32 = [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], tw, {.ignore_index = 3}, 0.1); };
    require_same(value_and_grads(f32, {wide}), value_and_grads(c32, {wide}), 1e-5);
    CHECK_THROWS_WITH(cross_entropy_fused(logits, target, {}, 1.0), "cross_entropy: label_smoothing must be in [0, 1), got 1");
    CHECK_THROWS_WITH(cross_entropy(logits, target, {}, -0.5), "cross_entropy: label_smoothing must be in [0, 1), got -0.5");
}

TEST_CASE("fused: additive attention scores equal the composite twin", "[fused]") {
    std::vector<Tensor> in = {param({2, 3}, 12), param({2, 4, 3}, 13), param({3}, 14)};
    auto fused = [](const std::vector<Tensor>& x) { return additive_scores_fused(x[0], x[1], x[2]); };
    auto composite = [](const std::vector<Tensor>& x) { return additive_composite(x[0], x[1], x[2]); };
    require_same(value_and_grads(fused, in), value_and_grads(composite, in), 1e-12);
    require_gradcheck(fused, in);
    CHECK_THROWS_WITH(additive_scores_fused(in[0], param({3, 4, 3}, 1), in[2]),
                      Catch::Contains("additive_scores") && Catch::Contains("[3, 4, 3]"));
}

TEST_CASE("fused: attention context equals the batched matmul and passes gradcheck", "[fused]") {
    auto fused = [](const std::vector<Tensor>& in) { return attention_context_fused(in[0], in[1]); };
    auto composite = [](const std::vector<Tensor>& in) { return squeeze(matmul(unsqueeze(in[0], 1), in[1]), 1); };
    const std::vector<Tensor> inputs = {param({3, 4}, 31), param({3, 4, 5}, 32)};
    require_same(value_and_grads(fused, inputs), value_and_grads(composite, inputs), 1e-12);
    require_gradcheck(fused, inputs);
    CHECK_THROWS_WITH(attention_context_fused(param({3, 4}, 1), param({3, 5, 2}, 2)),
                      "attention_context: expects weights [B, S] and values [B, S, H]; got weights [3, 4], values [3, 5, 2]");
}

TEST_CASE("fused: masked softmax equals masked_fill + softmax * keep, gradients included", "[fused]") {
    // Rows with some, all and (the degenerate case) no positions kept; keep also gets a gradient.
    const Tensor keep = seqgrad::testing::f64({1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0}, {3, 4});
    auto fused = [&](const std::vector<Tensor>& in) { return masked_softmax_fused(in[0], in[1]); };
    auto composite = [&](const std::vector<Tensor>& in) {
        return softmax(masked_fill(in[0], eq(in[1], 0.0), -1e30), -1) * in[1];
    };
    const std::vector<Tensor> inputs = {param({3, 4}, 41, -3, 3), keep};
    require_same(value_and_grads(fused, inputs), value_and_grads(composite, inputs), 1e-12);
    require_gradcheck([&](const std::vector<Tensor>& in) { return masked_softmax_fused(in[0], keep); }, {inputs[0]});
    {
        FastPathGuard off(false);
        const Tensor plain = nn::masked_softmax(inputs[0].detach(), keep);
        FastPathGuard on(true);
        CHECK(allclose(nn::masked_softmax(inputs[0].detach(), keep), plain, 1e-12, 1e-12));
    }
}

TEST_CASE("fused: bad cell shapes name the op and the shapes", "[fused][errors]") {
    CHECK_THROWS_WITH(gru_cell_fused(param({2, 5}, 1), param({2, 2}, 2), param({6, 2}, 3), Tensor()),
                      Catch::Contains("gru_cell") && Catch::Contains("[2, 5]"));
    CHECK_THROWS_AS(lstm_cell_fused(param({2, 8}, 1), param({2, 2}, 2), param({3, 2}, 3), param({8, 2}, 3), Tensor()),
                    ShapeError);
}

// ---- sequence-level fast paths (bench/RESULTS.md, issue 6) ----------------------------------------

TEST_CASE("fused: narrow and select pass slice gradients that the engine accumulates in place", "[fused]") {
    // x is used whole and sliced step by step, both as a leaf and through a non-leaf h = 2x, so the
    // engine sees slice gradients arrive first, after a full gradient, and onto a shared one.
    auto f = [](const std::vector<Tensor>& in) {
        const Tensor& x = in[0];
        Tensor h = x * 2.0;
        Tensor acc = sum(x * x) + sum(narrow(x, 2, 1, 2)) * 0.5;
        for (std::int64_t t = 0; t < x.size(1); ++t)
            acc = acc + sum(select(h, 1, t) * static_cast<double>(t + 1)) + sum(select(x, 1, t) * select(h, 1, t));
        Tensor shared = h * 1.0;  // add's backward hands the same gradient to both inputs
        acc = acc + sum(select(shared + shared, 1, 0) * select(shared, 1, 2));
        return acc;
    };
    require_gradcheck(f, {param({2, 4, 3}, 11)});
    // And the gradient itself, by hand, for y = sum_t (t+1) x[:, t, :]: dx[:, t, :] = t + 1.
    Tensor x = zeros({2, 3, 2}, {.dtype = DType::Float64, .requires_grad = true});
    Tensor y = select(x, 1, 0) + select(x, 1, 1) * 2.0 + select(x, 1, 2) * 3.0;
    sum(y).backward();
    seqgrad::testing::check_values(x.grad(), {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
}

namespace {
// Output, final states and every gradient (input and parameters) of a recurrent layer run with the
// fast paths on or off.
template <typename Layer>
std::vector<Tensor> rnn_values_and_grads(bool fast, const nn::RecurrentOptions& options,
                                         const std::vector<std::int64_t>& lengths) {
    FastPathGuard guard(fast);
    Generator gen(5);
    nn::RecurrentOptions o = options;
    o.generator = &gen;
    Layer layer(o);
    Tensor x = param({3, 5, options.input_size}, 21);
    nn::RNNOutput r = layer.forward(x, {}, lengths);
    Tensor loss = sum(r.output * uniform(r.output.shape(), 0.5, 1.5, {.dtype = DType::Float64}, &gen)) +
                  sum(r.h_n * r.h_n);
    if (r.c_n.defined()) loss = loss + sum(r.c_n * 0.3);
    loss.backward();
    std::vector<Tensor> out = {r.output.detach(), r.h_n.detach(), x.grad()};
    for (auto& [name, p] : layer.named_parameters()) out.push_back(p.grad());
    return out;
}
}  // namespace

TEST_CASE("fused: GRU and LSTM layers with one input projection for all steps equal the plain path", "[fused]") {
    for (const bool bidirectional : {false, true})
        for (const auto& lengths : {std::vector<std::int64_t>{}, std::vector<std::int64_t>{5, 2, 4}}) {
            INFO("bidirectional " << bidirectional << ", padded " << !lengths.empty());
            const nn::RecurrentOptions o{.input_size = 4, .hidden_size = 3, .num_layers = 2,
                                         .bidirectional = bidirectional, .dtype = DType::Float64};
            require_same(rnn_values_and_grads<nn::GRU>(true, o, lengths), rnn_values_and_grads<nn::GRU>(false, o, lengths),
                         1e-10);
            require_same(rnn_values_and_grads<nn::LSTM>(true, o, lengths),
                         rnn_values_and_grads<nn::LSTM>(false, o, lengths), 1e-10);
        }
}

namespace {
// Loss and every parameter gradient of a small translator, fast paths on or off.
std::vector<Tensor> seq2seq_values_and_grads(bool fast, models::CellKind cell, const std::string& attention,
                                             bool input_feeding) {
    FastPathGuard guard(fast);
    models::Seq2SeqConfig c;
    c.src_vocab = 11;
    c.tgt_vocab = 9;
    c.embed_size = 4;
    c.hidden_size = 5;
    c.cell = cell;
    c.attention = attention;
    c.input_feeding = input_feeding;
    Generator gen(3);
    models::Seq2Seq model(c, &gen);
    model.to(DType::Float64);
    const Tensor src = Tensor::ids({4, 5, 6, 7, 8, 9, 10, 4, 0, 0, 0, 0}, {3, 4});
    const Tensor tin = Tensor::ids({1, 4, 5, 1, 6, 0, 1, 7, 8}, {3, 3});
    const Tensor tout = Tensor::ids({4, 5, 2, 6, 2, 0, 7, 8, 2}, {3, 3});
    Tensor loss = model.loss(src, {4, 4, 1}, tin, tout);
    loss.backward();
    std::vector<Tensor> out = {loss.detach()};
    for (auto& [name, p] : model.named_parameters()) out.push_back(p.grad());
    return out;
}
}  // namespace

TEST_CASE("fused: the seq2seq loss with batched target embedding and output layer equals the plain path", "[fused]") {
    for (const auto cell : {models::CellKind::GRU, models::CellKind::LSTM})
        for (const std::string attention : {"additive", "general", "none"})
            for (const bool feeding : {false, true}) {
                if (feeding && attention == "none") continue;
                INFO(models::cell_kind_name(cell) << " " << attention << " input feeding " << feeding);
                require_same(seq2seq_values_and_grads(true, cell, attention, feeding),
                             seq2seq_values_and_grads(false, cell, attention, feeding), 1e-9);
            }
}
