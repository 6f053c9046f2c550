// Neural-net primitives (core/nn_ops.cpp): softmax, log_softmax and logsumexp along dim 0, 1 and
// -1 (golden values, numerically stable at 1000, fused vs composite, gradcheck), nll_loss and
// cross_entropy with mean/sum/none and ignore_index (the mean is over non-ignored targets only),
// and dropout (seeded masks, identity in eval mode and under NoGradGuard, gradcheck with a fixed
// generator re-seeded inside f, the expected fraction of zeros).
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>

#include "helpers.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

bool all_finite(const Tensor& t) {
    for (double v : t.to_vector())
        if (!std::isfinite(v)) return false;
    return true;
}

// Value and input gradient of f(x) under a fixed upstream gradient.
std::pair<Tensor, Tensor> value_and_grad(const std::function<Tensor(const Tensor&)>& f, const Tensor& x0, std::uint64_t seed) {
    Tensor x = x0.detach().clone().set_requires_grad(true);
    Tensor y = f(x);
    Generator gen(seed);
    y.backward(uniform(y.shape(), -1, 1, {.dtype = y.dtype()}, &gen));
    return {y.detach(), x.grad()};
}

// The fused op and its composite form give the same value and input gradient at x.
void check_same_value_and_grad(const std::function<Tensor(const Tensor&)>& fused,
                               const std::function<Tensor(const Tensor&)>& composite, const Tensor& x,
                               std::uint64_t seed) {
    const auto a = value_and_grad(fused, x, seed), b = value_and_grad(composite, x, seed);
    check_close(a.first, b.first);
    check_close(a.second, b.second);
}

const double kLn2 = std::numbers::ln2;
const double kLn3 = std::log(3.0);

}  // namespace

// ---- softmax --------------------------------------------------------------------------------------

TEST_CASE("nn: softmax golden values along dim 0, 1 and -1", "[nn]") {
    check_values(softmax(f64({0, kLn2}, {2}), 0), {1.0 / 3, 2.0 / 3});
    Tensor x = f64({0, kLn2, kLn3, 0}, {2, 2});
    check_values(softmax(x, 1), {1.0 / 3, 2.0 / 3, 3.0 / 4, 1.0 / 4});
    check_values(softmax(x, -1), {1.0 / 3, 2.0 / 3, 3.0 / 4, 1.0 / 4});
    // along dim 0: column 0 is [0, ln 3], column 1 is [ln 2, 0]
    check_values(softmax(x, 0), {1.0 / 4, 2.0 / 3, 3.0 / 4, 1.0 / 3});
    // every line along the chosen dim of a 3-D tensor sums to 1
    Tensor a = param({2, 3, 4}, 1);
    for (std::int64_t d : {0, 1, 2}) {
        Tensor s = sum(softmax(a, d), {d});
        check_values(s, std::vector<double>(static_cast<std::size_t>(s.numel()), 1.0), 1e-14);
    }
    // float32
    Tensor f = softmax(Tensor::from({0, kLn2}, {1, 2}), -1);
    CHECK(f.dtype() == DType::Float32);
    check_values(f, {1.0 / 3, 2.0 / 3}, 1e-7);
}

TEST_CASE("nn: softmax, log_softmax and logsumexp are stable for large inputs", "[nn]") {
    for (DType dt : {DType::Float64, DType::Float32}) {
        INFO(dtype_name(dt));
        // float32 spacing at 1000 is 6e-5: the input 1000 + ln 2 itself is off by up to 3e-5
        const double tol = dt == DType::Float64 ? 1e-12 : 5e-5;
        Tensor big = Tensor::from({1000, 1000 + kLn2, -1000, -1000 + kLn2}, {2, 2}, {.dtype = dt, .requires_grad = true});
        check_values(softmax(big, 1), {1.0 / 3, 2.0 / 3, 1.0 / 3, 2.0 / 3}, tol);
        check_values(log_softmax(big, 1), {std::log(1.0 / 3), std::log(2.0 / 3), std::log(1.0 / 3), std::log(2.0 / 3)},
                     tol);
        Tensor same = Tensor::from({1000, 1000}, {2}, {.dtype = dt});
        CHECK(logsumexp(same, 0).item() == Approx(1000 + kLn2).epsilon(1e-7));
        check_values(log_softmax(same, 0), {-kLn2, -kLn2}, tol);
        sum(mul(softmax(big, 1), log_softmax(big, 1))).backward();
        CHECK(all_finite(big.grad()));
        big.zero_grad();
        sum(logsumexp(big, -1)).backward();
        CHECK(all_finite(big.grad()));
        check_values(big.grad(), {1.0 / 3, 2.0 / 3, 1.0 / 3, 2.0 / 3}, tol);
    }
}

TEST_CASE("nn: softmax equals its composite exp(x) / sum(exp(x)), values and gradients", "[nn]") {
    Tensor x = param({2, 3, 4}, 2, -2, 2);
    for (std::int64_t d : {0, 1, -1}) {
        INFO("dim " << d);
        check_same_value_and_grad([d](const Tensor& t) { return softmax(t, d); },
                                  [d](const Tensor& t) { return div(exp(t), sum(exp(t), {d}, true)); }, x, 3);
    }
}

TEST_CASE("nn: softmax gradcheck along each dim", "[nn]") {
    Tensor x = param({2, 3, 4}, 4, -2, 2);
    for (std::int64_t d : {0, 1, 2, -1}) {
        INFO("dim " << d);
        require_gradcheck([d](const std::vector<Tensor>& in) { return softmax(in[0], d); }, {x});
    }
    require_gradcheck([](const std::vector<Tensor>& in) { return softmax(in[0], 0); }, {param({5}, 5)});
    // softmax of a tensor combined with the tensor itself (attention-like)
    require_gradcheck([](const std::vector<Tensor>& in) { return mul(softmax(in[0], -1), in[0]); }, {param({3, 4}, 6)});
}

// ---- log_softmax ----------------------------------------------------------------------------------

TEST_CASE("nn: log_softmax golden values and equality with log(softmax)", "[nn]") {
    check_values(log_softmax(f64({0, kLn2}, {2}), 0), {std::log(1.0 / 3), std::log(2.0 / 3)}, 1e-15);
    Tensor x = f64({0, kLn2, kLn3, 0}, {2, 2});
    check_values(log_softmax(x, 0), {std::log(0.25), std::log(2.0 / 3), std::log(0.75), std::log(1.0 / 3)}, 1e-15);
    Tensor a = param({2, 3, 4}, 7, -2, 2);
    for (std::int64_t d : {0, 1, -1}) {
        INFO("dim " << d);
        check_close(log_softmax(a, d), log(softmax(a, d)), 1e-12);
        check_same_value_and_grad([d](const Tensor& t) { return log_softmax(t, d); },
                                  [d](const Tensor& t) { return sub(t, logsumexp(t, d, true)); }, a, 8);
    }
}

TEST_CASE("nn: log_softmax gradcheck along each dim", "[nn]") {
    Tensor x = param({2, 3, 4}, 9, -2, 2);
    for (std::int64_t d : {0, 1, 2, -1}) {
        INFO("dim " << d);
        require_gradcheck([d](const std::vector<Tensor>& in) { return log_softmax(in[0], d); }, {x});
    }
}

// ---- logsumexp ------------------------------------------------------------------------------------

TEST_CASE("nn: logsumexp golden values, keepdim and -inf", "[nn]") {
    CHECK(logsumexp(f64({0, kLn3}, {2}), 0).item() == Approx(std::log(4.0)).epsilon(1e-15));
    CHECK(logsumexp(f64({0, kLn3}, {2}), 0).shape() == Shape{});
    Tensor x = f64({0, kLn3, kLn2, kLn2}, {2, 2});
    check_values(logsumexp(x, 1), {std::log(4.0), std::log(4.0)}, 1e-15);
    check_values(logsumexp(x, -1), {std::log(4.0), std::log(4.0)}, 1e-15);
    check_values(logsumexp(x, 0), {std::log(3.0), std::log(5.0)}, 1e-15);
    CHECK(logsumexp(x, 0, true).shape() == Shape{1, 2});
    CHECK(logsumexp(x, 1, true).shape() == Shape{2, 1});
    CHECK(logsumexp(param({2, 3, 4}, 10), 1).shape() == Shape{2, 4});
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(logsumexp(f64({-inf, 0}, {2}), 0).item() == 0);
    CHECK(logsumexp(f64({-inf, -inf}, {2}), 0).item() == -inf);
    // the gradient is softmax
    Tensor g = f64({0, kLn2}, {2}, true);
    logsumexp(g, 0).backward();
    check_values(g.grad(), {1.0 / 3, 2.0 / 3});
}

TEST_CASE("nn: logsumexp gradcheck along each dim, with and without keepdim", "[nn]") {
    Tensor x = param({2, 3, 4}, 11, -2, 2);
    for (std::int64_t d : {0, 1, 2, -1})
        for (bool keepdim : {false, true}) {
            INFO("dim " << d << " keepdim " << keepdim);
            require_gradcheck([=](const std::vector<Tensor>& in) { return logsumexp(in[0], d, keepdim); }, {x});
        }
}

TEST_CASE("nn: softmax family errors", "[nn][errors]") {
    CHECK_THROWS_MATCHES(softmax(zeros({2, 3}), 2), IndexError,
                         Catch::Matchers::Message("softmax: dim 2 out of range for a tensor with 2 dims (expected -2 to 1)"));
    CHECK_THROWS_AS(log_softmax(zeros({2, 3}), -3), IndexError);
    CHECK_THROWS_AS(logsumexp(zeros({2, 3}), 5), IndexError);
    CHECK_THROWS_MATCHES(softmax(Tensor::ids({1, 2}, {2}), 0), ShapeError,
                         Catch::Matchers::Message("softmax: expects a floating-point tensor (float32 or float64), got int64"));
    CHECK_THROWS_MATCHES(log_softmax(Tensor(), 0), ShapeError, Catch::Matchers::Message("log_softmax: input is an undefined tensor"));
}

// ---- nll_loss and cross_entropy -------------------------------------------------------------------

namespace {
// picks -1, -0.25 and -4 for targets [1, 1, 2]
Tensor lp3(bool requires_grad = false) { return f64({-0.5, -1, -2, -3, -0.25, -1.5, -1, -2, -4}, {3, 3}, requires_grad); }
}  // namespace

TEST_CASE("nn: nll_loss golden values for mean, sum and none", "[nn]") {
    Tensor t = Tensor::ids({1, 1, 2}, {3});
    CHECK(nll_loss(lp3(), t).shape() == Shape{});
    CHECK(nll_loss(lp3(), t).item() == Approx(5.25 / 3).epsilon(1e-15));
    CHECK(nll_loss(lp3(), t, {.reduction = Reduction::Sum}).item() == 5.25);
    Tensor none = nll_loss(lp3(), t, {.reduction = Reduction::None});
    CHECK(none.shape() == Shape{3});
    check_values(none, {1, 0.25, 4});
}

TEST_CASE("nn: nll_loss ignore_index: ignored rows add nothing and the mean is over the rest", "[nn]") {
    Tensor t = Tensor::ids({1, 0, 2}, {3});
    // ignore class 0 (row 1): mean over rows 0 and 2 only = (1 + 4) / 2
    CHECK(nll_loss(lp3(), t, {.ignore_index = 0}).item() == 2.5);
    CHECK(nll_loss(lp3(), t, {.ignore_index = 0, .reduction = Reduction::Sum}).item() == 5);
    check_values(nll_loss(lp3(), t, {.ignore_index = 0, .reduction = Reduction::None}), {1, 0, 4});
    // the default ignore_index is -100 (padding)
    CHECK(nll_loss(lp3(), Tensor::ids({-100, 1, -100}, {3})).item() == 0.25);
    // every target ignored: the mean over nothing is 0 here, with a zero gradient
    Tensor x = lp3(true);
    Tensor l = nll_loss(x, Tensor::ids({-100, -100, -100}, {3}));
    CHECK(l.item() == 0);
    l.backward();
    check_values(x.grad(), std::vector<double>(9, 0.0));
}

TEST_CASE("nn: nll_loss gradients by hand", "[nn]") {
    Tensor x = lp3(true);
    Tensor t = Tensor::ids({1, 0, 2}, {3});
    nll_loss(x, t).backward();
    check_values(x.grad(), {0, -1.0 / 3, 0, -1.0 / 3, 0, 0, 0, 0, -1.0 / 3});
    x.zero_grad();
    nll_loss(x, t, {.ignore_index = 0}).backward();
    check_values(x.grad(), {0, -0.5, 0, 0, 0, 0, 0, 0, -0.5});
    x.zero_grad();
    nll_loss(x, t, {.ignore_index = 0, .reduction = Reduction::Sum}).backward();
    check_values(x.grad(), {0, -1, 0, 0, 0, 0, 0, 0, -1});
    x.zero_grad();
    nll_loss(x, t, {.reduction = Reduction::None}).backward(f64({1, 2, 3}, {3}));
    check_values(x.grad(), {0, -1, 0, -2, 0, 0, 0, 0, -3});
}

TEST_CASE("nn: nll_loss and cross_entropy gradcheck for every reduction, with ignore_index", "[nn]") {
    Tensor t = Tensor::ids({2, 0, 4, 2, 1}, {5});
    for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None})
        for (std::int64_t ignore : {std::int64_t{-100}, std::int64_t{2}}) {
            INFO("reduction " << static_cast<int>(r) << " ignore_index " << ignore);
            const NllOptions opt{.ignore_index = ignore, .reduction = r};
            require_gradcheck([&](const std::vector<Tensor>& in) { return nll_loss(in[0], t, opt); }, {param({5, 6}, 12, -3, 0)});
            require_gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t, opt); }, {param({5, 6}, 13, -2, 2)});
        }
    // nll over log_softmax of the same logits used elsewhere
    require_gradcheck([&](const std::vector<Tensor>& in) { return add(cross_entropy(in[0], t), mean(mul(in[0], in[0]))); },
                      {param({5, 6}, 14)});
}

TEST_CASE("nn: cross_entropy golden values and equality with nll_loss(log_softmax)", "[nn]") {
    Tensor logits = f64({0, kLn2, 0, kLn2}, {2, 2});
    // softmax of each row is [1/3, 2/3]: -log(2/3) for class 1, -log(1/3) for class 0
    check_values(cross_entropy(logits, Tensor::ids({1, 0}, {2}), {.reduction = Reduction::None}), {std::log(1.5), std::log(3.0)},
                 1e-15);
    CHECK(cross_entropy(logits, Tensor::ids({1, 0}, {2})).item() == Approx((std::log(1.5) + std::log(3.0)) / 2).epsilon(1e-15));
    // gradient: (softmax - one_hot) / N
    Tensor lg = logits.clone().set_requires_grad(true);
    cross_entropy(lg, Tensor::ids({1, 0}, {2})).backward();
    check_values(lg.grad(), {1.0 / 6, -1.0 / 6, -1.0 / 3, 1.0 / 3}, 1e-15);
    // large logits stay finite
    Tensor big = f64({1000, 0, -1000, 1000}, {2, 2}, true);
    Tensor l = cross_entropy(big, Tensor::ids({0, 0}, {2}));
    CHECK(l.item() == Approx(1000.0));
    l.backward();
    CHECK(all_finite(big.grad()));

    Tensor x = param({4, 5}, 15, -2, 2);
    Tensor t = Tensor::ids({3, 0, 3, 1}, {4});
    for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
        const NllOptions opt{.ignore_index = 3, .reduction = r};
        check_same_value_and_grad([&](const Tensor& z) { return cross_entropy(z, t, opt); },
                                  [&](const Tensor& z) { return nll_loss(log_softmax(z, 1), t, opt); }, x, 16);
    }
}

TEST_CASE("nn: nll_loss and cross_entropy errors", "[nn][errors]") {
    CHECK_THROWS_MATCHES(nll_loss(lp3(), Tensor::ids({0, 3, 1}, {3})), IndexError,
                         Catch::Matchers::Message("nll_loss: target 3 at row 1 is out of range for 3 classes (log_probs [3, 3])"));
    CHECK_THROWS_MATCHES(nll_loss(lp3(), Tensor::ids({0, 1, -1}, {3})), IndexError,
                         Catch::Matchers::Message("nll_loss: target -1 at row 2 is out of range for 3 classes (log_probs [3, 3])"));
    CHECK_THROWS_AS(nll_loss(lp3(), Tensor::ids({0, 1, 9}, {3})), std::out_of_range);
    CHECK_THROWS_MATCHES(nll_loss(lp3(), Tensor::from({0, 1, 2}, {3})), ShapeError,
                         Catch::Matchers::Message("nll_loss: target must be int64 class ids, got float32"));
    CHECK_THROWS_MATCHES(nll_loss(lp3(), Tensor::ids({0, 1}, {2})), ShapeError,
                         Catch::Matchers::Message("nll_loss: target [2] must be [N] with N = 3 (log_probs [3, 3])"));
    CHECK_THROWS_MATCHES(nll_loss(f64({-1, -2}, {2}), Tensor::ids({0}, {1})), ShapeError,
                         Catch::Matchers::Message("nll_loss: log_probs must be [N, C], got [2]"));
    CHECK_THROWS_MATCHES(cross_entropy(zeros({2, 3, 4}), Tensor::ids({0, 1}, {2})), ShapeError,
                         Catch::Matchers::Message("cross_entropy: logits must be [N, C], got [2, 3, 4]"));
    CHECK_THROWS_MATCHES(cross_entropy(zeros({2, 3}), Tensor::ids({0, 3}, {2})), IndexError,
                         Catch::Matchers::Message("nll_loss: target 3 at row 1 is out of range for 3 classes (log_probs [2, 3])"));
}

// ---- dropout --------------------------------------------------------------------------------------

TEST_CASE("nn: dropout with the same seed gives the same mask - another seed another mask", "[nn]") {
    Tensor x = ones({64, 32});
    Generator g1(7), g2(7), g3(8);
    Tensor a = dropout(x, 0.5, true, &g1);
    Tensor b = dropout(x, 0.5, true, &g2);
    Tensor c = dropout(x, 0.5, true, &g3);
    REQUIRE(a.numel() == b.numel());
    CHECK(std::memcmp(a.raw_data(), b.raw_data(), static_cast<std::size_t>(a.numel()) * sizeof(float)) == 0);
    CHECK_FALSE(allclose(a, c, 0, 0));
    // the generator moves on: the next call draws a different mask
    CHECK_FALSE(allclose(dropout(x, 0.5, true, &g1), a, 0, 0));
    // the default generator, re-seeded, repeats itself
    manual_seed(123);
    Tensor d1 = dropout(x, 0.3, true);
    manual_seed(123);
    Tensor d2 = dropout(x, 0.3, true);
    CHECK(allclose(d1, d2, 0, 0));
}

TEST_CASE("nn: dropout keeps x / (1 - p) or 0, with the expected fraction of zeros", "[nn]") {
    const std::int64_t n = 20000;
    for (double p : {0.1, 0.3, 0.5, 0.9}) {
        INFO("p " << p);
        Generator gen(static_cast<std::uint64_t>(p * 100));
        Tensor x = full({n}, 2.0, {.dtype = DType::Float64});
        const auto y = dropout(x, p, true, &gen).to_vector();
        std::int64_t zeros_seen = 0, bad = 0;
        for (double v : y) {
            if (v == 0.0) ++zeros_seen;
            else if (std::abs(v - 2.0 / (1 - p)) > 1e-12) ++bad;
        }
        CHECK(bad == 0);
        // the standard deviation of the fraction is sqrt(p (1 - p) / n) <= 0.0036: 0.02 is > 5 of them
        const double fraction = static_cast<double>(zeros_seen) / static_cast<double>(n);
        CHECK(fraction == Approx(p).margin(0.02));
    }
}

TEST_CASE("nn: dropout is the identity in eval mode, under NoGradGuard and for p = 0", "[nn]") {
    Generator gen(1);
    Tensor x = param({4, 5}, 17);
    const Generator::State before = gen.state();
    Tensor e = dropout(x, 0.5, /*training=*/false, &gen);
    check_close(e, x, 0);
    Tensor z = dropout(x, 0.0, true, &gen);
    check_close(z, x, 0);
    {
        NoGradGuard no_grad;
        check_close(dropout(x, 0.5, true, &gen), x, 0);
    }
    // none of these drew from the generator
    const Generator::State after = gen.state();
    CHECK(std::memcmp(before.s, after.s, sizeof before.s) == 0);
    // and the gradient of the identity is 1
    sum(dropout(x, 0.5, false, &gen)).backward();
    check_values(x.grad(), std::vector<double>(20, 1.0));
}

TEST_CASE("nn: dropout gradient is the mask scaled by 1/(1-p) - gradcheck with a re-seeded generator", "[nn]") {
    Generator gen(3);
    Tensor x = ones({200}, {.dtype = DType::Float64, .requires_grad = true});
    Tensor y = dropout(x, 0.25, true, &gen);
    sum(y).backward();
    // x = 1, so y is exactly the scaled mask, and so must the gradient be
    check_close(x.grad(), y.detach(), 0);

    Generator fixed(0);
    auto f = [&](const std::vector<Tensor>& in) {
        fixed.manual_seed(99);  // the same mask on every evaluation, numeric and analytic
        return dropout(in[0], 0.4, true, &fixed);
    };
    require_gradcheck(f, {param({3, 5}, 18)});
    require_gradcheck(
        [&](const std::vector<Tensor>& in) {
            fixed.manual_seed(5);
            return mul(dropout(in[0], 0.5, true, &fixed), in[0]);
        },
        {param({4, 4}, 19)});
}

TEST_CASE("nn: dropout rejects p outside 0 <= p < 1 and int64 input", "[nn][errors]") {
    Tensor x = ones({4});
    CHECK_THROWS_MATCHES(dropout(x, 1.0, true), ShapeError, Catch::Matchers::Message("dropout: p must be in [0, 1), got 1"));
    CHECK_THROWS_MATCHES(dropout(x, -0.1, true), ShapeError, Catch::Matchers::Message("dropout: p must be in [0, 1), got -0.1"));
    CHECK_THROWS_AS(dropout(x, std::nan(""), true), ShapeError);
    CHECK_THROWS_AS(dropout(x, 1.5, false), ShapeError);  // checked in eval mode too
    CHECK_THROWS_MATCHES(dropout(Tensor::ids({1, 2}, {2}), 0.5, true), ShapeError,
                         Catch::Matchers::Message("dropout: expects a floating-point tensor (float32 or float64), got int64"));
}
