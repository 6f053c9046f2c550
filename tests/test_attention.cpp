// The attention family (layers/attention.h, layers/attention_scores.h): a float64 gradcheck of every
// variant with a padded mask, golden values by hand, masking, prepared keys, local windows, errors.
#include <cmath>

#include "helpers.h"
#include "layers/attention.h"
#include "layers/attention_scores.h"

using namespace seqgrad;
using seqgrad::testing::f64;
using seqgrad::testing::param;
using nn::AttentionKind;

namespace {
// Every kind of the library's table, so a new score is gradchecked and checked here without an edit.
const std::vector<AttentionKind> kAllKinds = [] {
    std::vector<AttentionKind> kinds;
    for (const std::string& name : nn::attention_kind_names()) kinds.push_back(nn::parse_attention_kind(name));
    return kinds;
}();

// Tiny sizes for every variant: Hq = Hk = 3, A = 4, D = 1, room for 5 source positions.
nn::AttentionOptions tiny(AttentionKind kind, Generator* gen) {
    return {.kind = kind, .query_size = 3, .key_size = 3, .attention_size = 4, .window = 1, .max_source_len = 5,
            .generator = gen};
}

// B = 2, S = 4: the second sentence has one padding position at the end.
Tensor padded_mask() { return f64({1, 1, 1, 1, 1, 1, 1, 0}, {2, 4}); }

// Everything attend returns that depends on the inputs, flattened into one tensor for gradcheck.
Tensor flat_outputs(const nn::AttentionOutput& out) {
    return cat({reshape(out.context, {-1}), reshape(out.weights, {-1}), reshape(out.scores, {-1})}, 0);
}

std::vector<std::string> param_names(const nn::Module& m) {
    std::vector<std::string> names;
    for (auto& [name, t] : m.named_parameters()) names.push_back(name);
    return names;
}

// Both undefined, or the same shape and values.
void check_same(const Tensor& a, const Tensor& b, const std::string& what) {
    INFO(what);
    REQUIRE(a.defined() == b.defined());
    if (a.defined()) CHECK(allclose(a, b, 1e-10, 1e-12));
}
}  // namespace

TEST_CASE("attention: kind names parse and print both ways - unknown names list the valid ones", "[attention]") {
    for (AttentionKind kind : kAllKinds) CHECK(nn::parse_attention_kind(nn::attention_kind_name(kind)) == kind);
    CHECK(nn::parse_attention_kind("scaled-dot") == AttentionKind::ScaledDot);
    CHECK(std::string(nn::attention_kind_name(AttentionKind::LocalP)) == "local-p");
    CHECK_THROWS_AS(nn::parse_attention_kind("luong"), ShapeError);
    CHECK_THROWS_WITH(nn::parse_attention_kind("luong"),
                      Catch::Contains("'luong'") &&
                          Catch::Contains("additive, dot, general, concat, location, scaled-dot, cosine, local-m, local-p"));
}

TEST_CASE("attention: gradcheck of every variant over query, keys, values and parameters, with padding",
          "[attention][gradcheck]") {
    for (AttentionKind kind : kAllKinds) {
        INFO("variant " << nn::attention_kind_name(kind));
        Generator gen(11);
        auto att = nn::make_attention(tiny(kind, &gen));
        att->to(DType::Float64);  // built in float32, converted in place
        Tensor q = param({2, 3}, 1), k = param({2, 4, 3}, 2), v = param({2, 4, 3}, 3);
        Tensor mask = padded_mask();
        std::vector<Tensor> inputs = {q, k, v};
        for (const Tensor& p : att->parameters()) inputs.push_back(p);
        if (kind == AttentionKind::LocalP) {
            // The window's edges are steps in p_t: keep every position clear of |s - p_t| = D.
            Tensor p_t = static_cast<nn::LocalPAttention&>(*att).predict_centre(q, mask);
            for (std::int64_t b = 0; b < 2; ++b)
                for (std::int64_t s = 0; s < 4; ++s) CHECK(std::abs(std::abs(s - p_t.at({b})) - 1.0) > 1e-3);
        }
        auto f = [&](const std::vector<Tensor>& in) {
            return flat_outputs(att->attend(in[0], in[1], in[2], mask, {.target_position = 2}));
        };
        seqgrad::testing::require_gradcheck(f, inputs);
    }
}

TEST_CASE("attention: gradcheck of cosine with a learned temperature and of local windows over other scores",
          "[attention][gradcheck]") {
    Tensor q = param({2, 3}, 4), k = param({2, 4, 3}, 5), v = param({2, 4, 2}, 6);  // Hv = 2 != Hk
    Tensor mask = f64({1, 1, 1, 0, 1, 1, 1, 1}, {2, 4});
    std::vector<nn::AttentionOptions> variants = {
        {.kind = AttentionKind::Cosine, .query_size = 3, .key_size = 3, .temperature = 0.5, .learn_temperature = true},
        {.kind = AttentionKind::LocalM, .query_size = 3, .key_size = 3, .attention_size = 2, .window = 1,
         .local_score = AttentionKind::Additive},
        {.kind = AttentionKind::LocalP, .query_size = 3, .key_size = 3, .attention_size = 2, .window = 2,
         .local_score = AttentionKind::Concat},
    };
    for (auto options : variants) {
        INFO("variant " << nn::attention_kind_name(options.kind));
        Generator gen(21);
        options.dtype = DType::Float64;
        options.generator = &gen;
        auto att = nn::make_attention(options);
        std::vector<Tensor> inputs = {q, k, v};
        for (const Tensor& p : att->parameters()) inputs.push_back(p);
        CHECK(inputs.size() > 3);
        auto f = [&](const std::vector<Tensor>& in) {
            return flat_outputs(att->attend(in[0], in[1], in[2], mask, {.target_position = 0}));
        };
        seqgrad::testing::require_gradcheck(f, inputs);
    }
}

TEST_CASE("attention: 2x2 dot attention by hand", "[attention]") {
    auto att = nn::make_attention({.kind = AttentionKind::Dot, .query_size = 2, .key_size = 2});
    Tensor q = f64({1, 0}, {1, 2}, true);
    Tensor k = f64({1, 0, 0, 1}, {1, 2, 2});
    Tensor v = f64({1, 2, 3, 4}, {1, 2, 2});
    auto out = att->attend(q, k, v, Tensor());
    // e = [q·k_0, q·k_1] = [1, 0]
    // α = softmax(e) = [e/(e+1), 1/(e+1)] = [0.7310585786300049, 0.2689414213699951]
    // c = α_0 [1, 2] + α_1 [3, 4] = [1 + 2α_1, 2 + 2α_1] = [1.5378828427399902, 2.5378828427399902]
    CHECK(out.scores.to_vector() == std::vector<double>{1.0, 0.0});
    CHECK(out.weights.at({0, 0}) == Approx(0.7310585786300049).epsilon(1e-14));
    CHECK(out.weights.at({0, 1}) == Approx(0.2689414213699951).epsilon(1e-14));
    CHECK(out.context.at({0, 0}) == Approx(1.5378828427399902).epsilon(1e-14));
    CHECK(out.context.at({0, 1}) == Approx(2.5378828427399902).epsilon(1e-14));
    // L = c_0: dα = [v_00, v_10] = [1, 3]; de = α ⊙ (dα - α·dα) with α·dα = c_0 = 1 + 2α_1,
    // so de = [-2α_0α_1, 2α_0α_1] and dq = Σ_s de_s k_s = [-2α_0α_1, 2α_0α_1] = [-0.39322..., 0.39322...].
    sum(select(out.context, 1, 0)).backward();
    CHECK(q.grad().at({0, 0}) == Approx(-0.3932238664829637).epsilon(1e-12));
    CHECK(q.grad().at({0, 1}) == Approx(0.3932238664829637).epsilon(1e-12));
}

TEST_CASE("attention: additive attention with hand-set weights", "[attention]") {
    auto att = nn::make_attention({.kind = AttentionKind::Additive, .query_size = 1, .key_size = 1,
                                   .attention_size = 2, .dtype = DType::Float64});
    auto& add = static_cast<nn::AdditiveAttention&>(*att);
    // A module lists its own parameters first, then its children's.
    CHECK(param_names(add) == std::vector<std::string>{"v", "W_query.weight", "W_query.bias", "W_key.weight"});
    add.W_query->weight.copy_(f64({1, 0}, {2, 1}));
    add.W_query->bias.copy_(f64({0, 0.5}, {2}));
    add.W_key->weight.copy_(f64({1, 2}, {2, 1}));
    add.v.copy_(f64({1, -1}, {2}));
    Tensor q = f64({0.5}, {1, 1});
    Tensor k = f64({0.25, -0.25}, {1, 2, 1});
    Tensor values = f64({1, 0}, {1, 2, 1});
    // W_query q + b = [0.5, 0.5]
    // s = 0: W_key k = [0.25, 0.5];   e_0 = tanh(0.75) - tanh(1.0) = 0.63514895 - 0.76159416 = -0.12644520
    // s = 1: W_key k = [-0.25, -0.5]; e_1 = tanh(0.25) - tanh(0.0) = 0.24491866
    // α_0 = 1 / (1 + exp(e_1 - e_0)) = 0.40821150;  context = α_0 · 1 + α_1 · 0 = α_0
    for (bool fast : {true, false}) {
        FastPathGuard guard(fast);
        auto out = att->attend(q, k, values, Tensor());
        CHECK(out.scores.at({0, 0}) == Approx(-0.12644520356847755).epsilon(1e-12));
        CHECK(out.scores.at({0, 1}) == Approx(0.24491866240370913).epsilon(1e-12));
        CHECK(out.weights.at({0, 0}) == Approx(0.40821150461917877).epsilon(1e-12));
        CHECK(out.context.item() == Approx(0.40821150461917877).epsilon(1e-12));
    }
}

TEST_CASE("attention: additive fast path equals the composite path, values and gradients", "[attention][fused]") {
    Generator gen(5);
    auto att = nn::make_attention({.kind = AttentionKind::Additive, .query_size = 3, .key_size = 2,
                                   .attention_size = 4, .dtype = DType::Float64, .generator = &gen});
    Tensor q = param({2, 3}, 1), k = param({2, 4, 2}, 2), v = param({2, 4, 3}, 3);
    auto run = [&](bool fast) {
        FastPathGuard guard(fast);
        att->zero_grad();
        for (const Tensor& t : {q, k, v}) t.zero_grad();
        auto out = att->attend(q, k, v, padded_mask());
        sum(out.context * param({2, 3}, 9).detach()).backward();
        std::vector<Tensor> r = {out.context.detach(), out.weights.detach(), q.grad(), k.grad(), v.grad()};
        for (const Tensor& p : att->parameters()) r.push_back(p.grad());
        return r;
    };
    auto fast = run(true), composite = run(false);
    for (std::size_t i = 0; i < fast.size(); ++i) check_same(fast[i], composite[i], "tensor " + std::to_string(i));
}

TEST_CASE("attention: masked positions get exactly zero weight and zero gradient - rows sum to 1",
          "[attention]") {
    for (AttentionKind kind : kAllKinds) {
        INFO("variant " << nn::attention_kind_name(kind));
        Generator gen(3);
        auto att = nn::make_attention(tiny(kind, &gen));  // float32, the training dtype
        Tensor q = uniform({3, 3}, -2, 2, {.requires_grad = true}, &gen);
        Tensor k = uniform({3, 4, 3}, -2, 2, {.requires_grad = true}, &gen);
        Tensor v = uniform({3, 4, 3}, -2, 2, {.requires_grad = true}, &gen);
        Tensor mask = Tensor::from({1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0}, {3, 4});
        auto out = att->attend(q, k, v, mask, {.target_position = 1});
        sum(out.context).backward();
        for (std::int64_t b = 0; b < 3; ++b) {
            double row = 0;
            for (std::int64_t s = 0; s < 4; ++s) {
                row += out.weights.at({b, s});
                if (mask.at({b, s}) == 0) {
                    CHECK(out.weights.at({b, s}) == 0.0);
                    for (std::int64_t j = 0; j < 3; ++j) {
                        CHECK(v.grad().at({b, s, j}) == 0.0);
                        if (k.grad().defined()) CHECK(k.grad().at({b, s, j}) == 0.0);
                    }
                }
            }
            if (kind == AttentionKind::LocalP) {
                // The Gaussian takes weight away: 0 < row <= 1.
                CHECK(row > 0.0);
                CHECK(row <= 1.0 + 1e-6);
            } else {
                CHECK(row == Approx(1.0).epsilon(1e-6));
            }
        }
    }
}

TEST_CASE("attention: a row with every position masked is an error naming the row", "[attention][errors]") {
    for (AttentionKind kind : kAllKinds) {
        INFO("variant " << nn::attention_kind_name(kind));
        auto att = nn::make_attention(tiny(kind, nullptr));
        Tensor mask = Tensor::from({1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, {3, 4});
        auto call = [&] { att->attend(zeros({3, 3}), zeros({3, 4, 3}), zeros({3, 4, 3}), mask, {.target_position = 0}); };
        CHECK_THROWS_AS(call(), ShapeError);
        CHECK_THROWS_WITH(call(), Catch::Contains(std::string(nn::attention_kind_name(kind)) +
                                                  " attention: row 2 has every source position masked"));
    }
}

TEST_CASE("attention: prepared keys give the same values and gradients as the plain path", "[attention]") {
    for (AttentionKind kind : kAllKinds) {
        INFO("variant " << nn::attention_kind_name(kind));
        Generator gen(8);
        auto att = nn::make_attention(tiny(kind, &gen));
        att->to(DType::Float64);
        Tensor q1 = param({2, 3}, 1), q2 = param({2, 3}, 2), k = param({2, 4, 3}, 3), v = param({2, 4, 3}, 4);
        Tensor w1 = param({2, 3}, 5).detach(), w2 = param({2, 4}, 6).detach();
        // Two decoder steps over the same source: with prepared keys, both use one projection, and
        // its gradient must collect both steps' contributions.
        auto run = [&](bool prepared) {
            att->zero_grad();
            for (const Tensor& t : {q1, q2, k, v}) t.zero_grad();
            nn::PreparedKeys keys_once;
            nn::AttendContext ctx{.target_position = 1};
            if (prepared) {
                keys_once = att->prepare(k);
                ctx.prepared = &keys_once;
            }
            auto o1 = att->attend(q1, k, v, padded_mask(), ctx);
            ctx.target_position = 2;
            auto o2 = att->attend(q2, k, v, padded_mask(), ctx);
            (sum(o1.context * w1) + sum(o2.weights * w2)).backward();
            std::vector<Tensor> r = {o1.context.detach(), o1.weights.detach(), o2.context.detach(),
                                     o2.weights.detach(), q1.grad(), q2.grad(), k.grad(), v.grad()};
            for (const Tensor& p : att->parameters()) r.push_back(p.grad());
            return r;
        };
        auto with = run(true), without = run(false);
        REQUIRE(with.size() == without.size());
        for (std::size_t i = 0; i < with.size(); ++i) check_same(with[i], without[i], "tensor " + std::to_string(i));
    }
}

TEST_CASE("attention: prepared keys must come from the same attention and the same keys", "[attention][errors]") {
    Generator gen(2);
    auto a = nn::make_attention(tiny(AttentionKind::General, &gen));
    auto b = nn::make_attention(tiny(AttentionKind::General, &gen));
    Tensor k = zeros({2, 4, 3}), other = zeros({2, 4, 3});
    nn::PreparedKeys prepared = a->prepare(k);
    CHECK(prepared.projected.shape() == Shape{2, 4, 3});  // W_a k_s: [B, S, Hq]
    CHECK_THROWS_WITH(b->attend(zeros({2, 3}), k, k, Tensor(), {.prepared = &prepared}),
                      Catch::Contains("different attention"));
    CHECK_THROWS_WITH(a->attend(zeros({2, 3}), other, other, Tensor(), {.prepared = &prepared}),
                      Catch::Contains("other keys"));
}

TEST_CASE("attention: local-m attends to ±D around t, clamped to each sentence's length", "[attention]") {
    auto att = nn::make_attention({.kind = AttentionKind::LocalM, .query_size = 2, .key_size = 2, .window = 1,
                                   .local_score = AttentionKind::Dot, .dtype = DType::Float64});
    Tensor q = f64({0.3, -0.2, 0.1, 0.4}, {2, 2});
    Tensor k = param({2, 6, 2}, 7).detach();
    Tensor mask = f64({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 6});  // lengths 6 and 4
    auto nonzero = [&](std::int64_t t, std::int64_t b) {
        auto out = att->attend(q, k, k, mask, {.target_position = t});
        std::vector<std::int64_t> where;
        for (std::int64_t s = 0; s < 6; ++s)
            if (out.weights.at({b, s}) != 0.0) where.push_back(s);
        return where;
    };
    using P = std::vector<std::int64_t>;
    CHECK(nonzero(0, 0) == P{0, 1});     // [t - 1, t + 1] cut at the start
    CHECK(nonzero(2, 0) == P{1, 2, 3});
    CHECK(nonzero(2, 1) == P{1, 2, 3});
    CHECK(nonzero(4, 0) == P{3, 4, 5});
    CHECK(nonzero(4, 1) == P{2, 3});     // centre clamped to the last real position, 3
    CHECK(nonzero(9, 0) == P{4, 5});     // t past the end: centre 5
    CHECK(nonzero(9, 1) == P{2, 3});
    // Inside the window the weights are the softmax of the dot scores over the window alone.
    auto out = att->attend(q, k, k, mask, {.target_position = 2});
    const double e1 = out.scores.at({0, 1}), e2 = out.scores.at({0, 2}), e3 = out.scores.at({0, 3});
    const double z = std::exp(e1) + std::exp(e2) + std::exp(e3);
    CHECK(out.weights.at({0, 2}) == Approx(std::exp(e2) / z).epsilon(1e-12));
    CHECK_THROWS_WITH(att->attend(q, k, k, mask), Catch::Contains("local-m attention") && Catch::Contains("target_position"));
}

TEST_CASE("attention: local-p predicts its centre as S_b sigmoid(v_p tanh(W_p q)) and weights by a Gaussian",
          "[attention]") {
    auto att = nn::make_attention({.kind = AttentionKind::LocalP, .query_size = 2, .key_size = 2,
                                   .attention_size = 2, .window = 1, .local_score = AttentionKind::Dot,
                                   .dtype = DType::Float64});
    auto& local = static_cast<nn::LocalPAttention&>(*att);
    CHECK(param_names(local) == std::vector<std::string>{"v_p", "W_p.weight"});  // the dot score has none
    local.W_p->weight.copy_(f64({1, 0, 0, 1}, {2, 2}));
    local.v_p.copy_(f64({1, 1}, {2}));
    Tensor q = f64({0.5, -0.25, 0, 0}, {2, 2});
    Tensor k = param({2, 4, 2}, 3).detach();
    Tensor mask = f64({1, 1, 1, 1, 1, 1, 0, 0}, {2, 4});  // lengths 4 and 2
    // row 0: z = tanh(0.5) + tanh(-0.25) = 0.46211716 - 0.24491866 = 0.21719849; p = 4 σ(z) = 2.21634864
    // row 1: z = 0; p = 2 σ(0) = 1
    Tensor p = local.predict_centre(q, mask);
    CHECK(p.at({0}) == Approx(2.2163486388900813).epsilon(1e-12));
    CHECK(p.at({1}) == Approx(1.0).epsilon(1e-14));
    auto out = att->attend(q, k, k, mask);
    // row 0: window [1.22, 3.22] holds s = 2, 3 only.
    CHECK(out.weights.at({0, 0}) == 0.0);
    CHECK(out.weights.at({0, 1}) == 0.0);
    CHECK(out.weights.at({0, 2}) > 0.0);
    CHECK(out.weights.at({0, 3}) > 0.0);
    // row 1: q = 0, so both scores are 0 and the softmax over the window {0, 1} is [1/2, 1/2];
    // σ = D/2 = 1/2, the Gaussian exp(-(s - 1)² / (2 · 1/4)) is [exp(-2), 1].
    CHECK(out.weights.at({1, 0}) == Approx(0.5 * 0.1353352832366127).epsilon(1e-12));
    CHECK(out.weights.at({1, 1}) == Approx(0.5).epsilon(1e-12));
    CHECK(out.weights.at({1, 2}) == 0.0);
    CHECK(out.weights.at({1, 3}) == 0.0);
}

TEST_CASE("attention: cosine and location scores by hand", "[attention]") {
    auto cosine = nn::make_attention(
        {.kind = AttentionKind::Cosine, .query_size = 2, .key_size = 2, .temperature = 0.5, .dtype = DType::Float64});
    CHECK(cosine->num_parameters() == 0);  // a fixed temperature is not a parameter
    // cos(q, k_0) = 1, cos(q, k_1) = 0, divided by τ = 0.5
    auto out = cosine->attend(f64({3, 0}, {1, 2}), f64({2, 0, 0, 5}, {1, 2, 2}), f64({1, 2}, {1, 2, 1}), Tensor());
    CHECK(out.scores.at({0, 0}) == Approx(2.0).epsilon(1e-8));
    CHECK(out.scores.at({0, 1}) == Approx(0.0).margin(1e-12));
    auto learned = nn::make_attention({.kind = AttentionKind::Cosine, .query_size = 2, .key_size = 2,
                                       .temperature = 0.5, .learn_temperature = true});
    CHECK(param_names(*learned) == std::vector<std::string>{"temperature"});
    CHECK(learned->parameters()[0].item() == 0.5);

    auto location = nn::make_attention({.kind = AttentionKind::Location, .query_size = 2, .key_size = 3,
                                        .max_source_len = 4, .dtype = DType::Float64});
    auto& loc = static_cast<nn::LocationAttention&>(*location);
    loc.W_a->weight.copy_(f64({1, 0, 0, 1, 1, 1, 2, -1}, {4, 2}));
    // e = W_a q for q = [1, 2]: [1, 2, 3, 0]; with S = 3 the first three are used.
    auto lo = location->attend(f64({1, 2}, {1, 2}), zeros({1, 3, 3}, {.dtype = DType::Float64}),
                               zeros({1, 3, 1}, {.dtype = DType::Float64}), Tensor());
    CHECK(lo.scores.to_vector() == std::vector<double>{1, 2, 3});
    CHECK_THROWS_WITH(location->attend(f64({1, 2}, {1, 2}), zeros({1, 5, 3}, {.dtype = DType::Float64}),
                                       zeros({1, 5, 1}, {.dtype = DType::Float64}), Tensor()),
                      Catch::Contains("location attention") && Catch::Contains("max_source_len is 4"));
}

TEST_CASE("attention: parameter names and PyTorch-default initialisation bounds", "[attention]") {
    using Names = std::vector<std::string>;
    Generator gen(1);
    CHECK(param_names(*nn::make_attention(tiny(AttentionKind::Dot, &gen))).empty());
    CHECK(param_names(*nn::make_attention(tiny(AttentionKind::ScaledDot, &gen))).empty());
    CHECK(param_names(*nn::make_attention(tiny(AttentionKind::General, &gen))) == Names{"W_a.weight"});
    CHECK(param_names(*nn::make_attention(tiny(AttentionKind::Concat, &gen))) == Names{"v_a", "W_a.weight"});
    CHECK(param_names(*nn::make_attention(tiny(AttentionKind::Location, &gen))) == Names{"W_a.weight"});
    CHECK(param_names(*nn::make_attention(tiny(AttentionKind::LocalM, &gen))) == Names{"score.W_a.weight"});
    CHECK(param_names(*nn::make_attention(tiny(AttentionKind::LocalP, &gen))) ==
          Names{"v_p", "score.W_a.weight", "W_p.weight"});
    auto additive = nn::make_attention(
        {.kind = AttentionKind::Additive, .query_size = 16, .key_size = 9, .attention_size = 25, .generator = &gen});
    for (auto& [name, t] : additive->named_parameters()) {
        INFO(name);
        // W_query ~ U(±1/√16), W_key ~ U(±1/√9), v ~ U(±1/√25)
        const double bound = name.starts_with("W_query") ? 0.25 : name.starts_with("W_key") ? 1.0 / 3 : 0.2;
        double largest = 0;
        for (double x : t.to_vector()) largest = std::max(largest, std::abs(x));
        CHECK(largest <= bound);
        CHECK(largest > bound / 2);
    }
    CHECK(additive->state_dict().at("W_query.weight").shape() == Shape{25, 16});  // [A, Hq], PyTorch's [out, in]
}

TEST_CASE("attention: bad shapes throw ShapeError naming the variant and the shapes", "[attention][errors]") {
    auto att = nn::make_attention(tiny(AttentionKind::Additive, nullptr));
    auto attend = [&](const Shape& q, const Shape& k, const Shape& v, const Tensor& mask) {
        att->attend(zeros(q), zeros(k), zeros(v), mask);
    };
    // batch mismatch between query and keys
    CHECK_THROWS_AS(attend({2, 3}, {3, 4, 3}, {3, 4, 3}, Tensor()), ShapeError);
    CHECK_THROWS_WITH(attend({2, 3}, {3, 4, 3}, {3, 4, 3}, Tensor()),
                      Catch::Contains("additive attention") && Catch::Contains("[2, 3]") && Catch::Contains("[3, 4, 3]"));
    // query size differs from query_size = 3
    CHECK_THROWS_AS(attend({2, 5}, {2, 4, 3}, {2, 4, 3}, Tensor()), ShapeError);
    CHECK_THROWS_WITH(attend({2, 5}, {2, 4, 3}, {2, 4, 3}, Tensor()),
                      Catch::Contains("additive attention") && Catch::Contains("[2, 5]") && Catch::Contains("[2, 4, 3]"));
    // mask shape
    CHECK_THROWS_AS(attend({2, 3}, {2, 4, 3}, {2, 4, 3}, ones({2, 5})), ShapeError);
    CHECK_THROWS_WITH(attend({2, 3}, {2, 4, 3}, {2, 4, 3}, ones({2, 5})),
                      Catch::Contains("additive attention") && Catch::Contains("[2, 5]") && Catch::Contains("[2, 4, 3]"));
    // key size, values length, dtype
    CHECK_THROWS_WITH(attend({2, 3}, {2, 4, 2}, {2, 4, 3}, Tensor()), Catch::Contains("[2, 4, 2]"));
    CHECK_THROWS_WITH(attend({2, 3}, {2, 4, 3}, {2, 5, 3}, Tensor()), Catch::Contains("[2, 5, 3]"));
    CHECK_THROWS_AS(att->attend(zeros({2, 3}, {.dtype = DType::Float64}), zeros({2, 4, 3}, {.dtype = DType::Float64}),
                                zeros({2, 4, 3}, {.dtype = DType::Float64}), Tensor()),
                    ShapeError);
    // construction: sizes a variant needs
    CHECK_THROWS_WITH(nn::make_attention({.kind = AttentionKind::Dot, .query_size = 3, .key_size = 4}),
                      Catch::Contains("dot attention") && Catch::Contains("query_size == key_size"));
    CHECK_THROWS_WITH(nn::make_attention({.kind = AttentionKind::Additive, .query_size = 3, .key_size = 4}),
                      Catch::Contains("additive attention: attention_size must be positive"));
    CHECK_THROWS_WITH(nn::make_attention({.kind = AttentionKind::LocalM, .query_size = 3, .key_size = 3}),
                      Catch::Contains("local-m attention: window"));
    CHECK_THROWS_AS(nn::make_attention({.kind = AttentionKind::LocalP, .query_size = 3, .key_size = 3, .window = 1,
                                        .local_score = AttentionKind::LocalM}),
                    ShapeError);
}
