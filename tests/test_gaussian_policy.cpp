// The Gaussian location policy and the score-function surrogate (layers/gaussian_policy.h): golden
// log-densities, gradcheck of the log-density (through the mean head too) and of the surrogate,
// sampling statistics, eval mode, and the REINFORCE estimator's unbiasedness against an expectation
// known in closed form, E[1(a > 0)] = Φ(μ/σ), with and without a baseline (which must also cut the
// variance), errors.
#include <cmath>
#include <numbers>

#include "helpers.h"
#include "layers/gaussian_policy.h"

using namespace seqgrad;
using seqgrad::testing::f64;
using seqgrad::testing::param;

namespace {
const double kHalfLog2Pi = 0.5 * std::log(2.0 * std::numbers::pi);
double phi(double z) { return std::exp(-0.5 * z * z) / std::sqrt(2.0 * std::numbers::pi); }  // N(0, 1) density
double Phi(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }                          // its CDF
}  // namespace

TEST_CASE("gaussian policy: log-density golden values by hand", "[gaussian_policy]") {
    // One row, A = 2, σ = 0.5, a − μ = (σ, 0): log p = −½ − 2 (log σ + ½ log 2π).
    const Tensor lp = nn::gaussian_log_prob(f64({0.1, -0.2}, {1, 2}), f64({0.6, -0.2}, {1, 2}), 0.5);
    seqgrad::testing::check_values(lp, {-0.5 - 2 * (std::log(0.5) + kHalfLog2Pi)});
    // The gradient: dμ = (a − μ) / σ² = (2, 0).
    Tensor mu = f64({0.1, -0.2}, {1, 2}, true);
    nn::gaussian_log_prob(mu, f64({0.6, -0.2}, {1, 2}), 0.5).backward(ones({1}, {.dtype = DType::Float64}));
    seqgrad::testing::check_values(mu.grad(), {2.0, 0.0});
    // The surrogate: −(1/B) Σ A log p, here B = 2.
    const Tensor s = nn::score_function_surrogate(f64({-1.0, -3.0}, {2}), f64({2.0, -1.0}, {2}));
    CHECK(s.item() == Approx(-(2.0 * -1.0 + -1.0 * -3.0) / 2.0));
}

TEST_CASE("gaussian policy: gradcheck of the log-density, the policy and the surrogate", "[gaussian_policy]") {
    const Tensor action = f64({0.3, -0.7, 0.1, 0.9, -0.2, 0.4}, {3, 2});
    seqgrad::testing::require_gradcheck(
        [&](const std::vector<Tensor>& in) { return nn::gaussian_log_prob(in[0], action, 0.3); }, {param({3, 2}, 1)});
    Generator gen(4);
    nn::GaussianPolicy policy({.input_size = 4, .action_size = 2, .sigma = 0.3, .dtype = DType::Float64, .generator = &gen});
    Tensor h = param({3, 4}, 2);
    seqgrad::testing::require_gradcheck([&](const std::vector<Tensor>& in) { return policy.log_prob(in[0], action); },
                                        {h, policy.mean_head->weight, policy.mean_head->bias});
    const Tensor advantage = f64({0.5, -1.0, 2.0, 0.25, 1.5, -0.5}, {3, 2});
    seqgrad::testing::require_gradcheck(
        [&](const std::vector<Tensor>& in) { return nn::score_function_surrogate(in[0], advantage); }, {param({3, 2}, 3)});
}

TEST_CASE("gaussian policy: samples have mean μ and deviation σ, eval mode takes μ", "[gaussian_policy]") {
    nn::GaussianPolicy policy({.input_size = 1, .action_size = 2, .sigma = 0.2, .dtype = DType::Float64, .seed = 9});
    const std::int64_t B = 20000;
    const Tensor h = full({B, 1}, 0.5, {.dtype = DType::Float64});
    const nn::PolicyStep step = policy.act(h);
    CHECK_FALSE(step.action.requires_grad());
    CHECK(step.log_prob.requires_grad());
    const auto a = step.action.to_vector(), mu = step.mean.to_vector();
    double mean = 0, var = 0;
    for (std::int64_t b = 0; b < B; ++b) mean += (a[b * 2] - mu[b * 2]) / B;
    for (std::int64_t b = 0; b < B; ++b) var += (a[b * 2] - mu[b * 2] - mean) * (a[b * 2] - mu[b * 2] - mean) / (B - 1);
    CHECK(std::abs(mean) < 4 * 0.2 / std::sqrt(static_cast<double>(B)));  // 4 standard errors
    CHECK(std::sqrt(var) == Approx(0.2).epsilon(0.03));
    policy.eval();
    const nn::PolicyStep greedy = policy.act(h);
    CHECK(allclose(greedy.action, greedy.mean.detach(), 0, 0));
}

TEST_CASE("gaussian policy: the REINFORCE estimate is unbiased (closed form) and a baseline cuts its variance",
          "[gaussian_policy][reinforce]") {
    // μ = tanh(w h + b) with h = 1; reward r(a) = 1 when a > 0 (a "right answer"), so
    //   E[r] = Φ(μ/σ),   dE/dμ = φ(μ/σ)/σ,   dμ/dw = (1 − μ²) h,   dμ/db = 1 − μ².
    // One act() over B identical rows draws B samples; −d(surrogate)/dθ is the estimator averaged over them.
    const double sigma = 0.4, w = 0.3, bias = -0.1, hv = 1.0;
    nn::GaussianPolicy policy({.input_size = 1, .action_size = 1, .sigma = sigma, .dtype = DType::Float64, .seed = 21});
    policy.mean_head->weight.copy_(f64({w}, {1, 1}));
    policy.mean_head->bias.copy_(f64({bias}, {1}));
    const double mu = std::tanh(w * hv + bias);
    const double dE_dmu = phi(mu / sigma) / sigma;
    const double exact_dw = dE_dmu * (1 - mu * mu) * hv, exact_db = dE_dmu * (1 - mu * mu);

    const std::int64_t B = 200000;
    const Tensor h = full({B, 1}, hv, {.dtype = DType::Float64});
    for (const double baseline : {0.0, Phi(mu / sigma)}) {
        policy.zero_grad();
        const nn::PolicyStep step = policy.act(h);
        const auto a = step.action.to_vector();
        std::vector<double> adv(static_cast<std::size_t>(B));
        // Per-sample estimates of dE/db, for the standard error: (r − c) · (a − μ)/σ² · (1 − μ²).
        double m = 0, m2 = 0;
        for (std::int64_t i = 0; i < B; ++i) {
            adv[i] = (a[i] > 0 ? 1.0 : 0.0) - baseline;
            const double g = adv[i] * (a[i] - mu) / (sigma * sigma) * (1 - mu * mu);
            m += g / B;
            m2 += g * g / B;
        }
        const double se = std::sqrt((m2 - m * m) / B);
        nn::score_function_surrogate(step.log_prob, f64(adv, {B})).backward();
        const double est_dw = -policy.mean_head->weight.grad().item(), est_db = -policy.mean_head->bias.grad().item();
        INFO("baseline " << baseline << ": estimate " << est_db << " vs exact " << exact_db << " (standard error " << se << ")");
        CHECK(est_db == Approx(m).margin(1e-9));                  // the autograd gradient is the estimator's mean
        CHECK(std::abs(est_db - exact_db) < 4 * se);               // and it is unbiased
        CHECK(std::abs(est_dw - exact_dw) < 4 * se * hv);
        CHECK(se < 0.02 * exact_db);                               // the test can tell a wrong gradient apart
        // The variance of the per-sample estimate in closed form (z = (a − μ)/σ, a > 0 ⇔ z > −μ/σ):
        //   Var = E[(r − c)² z²] ((1 − μ²)/σ)² − (dE/db)²,   E[(r − c)² z²] = (1 − 2c) E[r z²] + c²  (r² = r)
        //   E[r z²] = ∫_lo^∞ z² φ(z) dz = lo φ(lo) + 1 − Φ(lo),   lo = −μ/σ
        const double lo = -mu / sigma;
        const double e_rz2 = lo * phi(lo) + (1 - Phi(lo));
        const double var_exact = ((1 - 2 * baseline) * e_rz2 + baseline * baseline) * std::pow((1 - mu * mu) / sigma, 2) -
                                 exact_db * exact_db;
        CHECK(se * se * B == Approx(var_exact).epsilon(0.05));
    }
    // The baseline c = E[r] gives a smaller variance than none: (1 − 2c) E[r z²] + c² < E[r z²] here.
    const double lo = -mu / sigma, e_rz2 = lo * phi(lo) + (1 - Phi(lo)), c = Phi(mu / sigma);
    CHECK((1 - 2 * c) * e_rz2 + c * c < 0.7 * e_rz2);
}

TEST_CASE("gaussian policy: bad options and shapes are clear errors", "[gaussian_policy][errors]") {
    CHECK_THROWS_WITH(nn::gaussian_log_prob(zeros({2, 2}), zeros({2, 3}), 1.0),
                      "gaussian_log_prob: mean and action must both be [B, A], got mean [2, 2] vs action [2, 3]");
    CHECK_THROWS_WITH(nn::gaussian_log_prob(zeros({2, 2}), zeros({2, 2}), 0.0),
                      "gaussian_log_prob: sigma must be positive and finite, got 0");
    CHECK_THROWS_WITH(nn::score_function_surrogate(zeros({2, 3}), zeros({2})),
                      "score_function_surrogate: log_prob and advantage must both be [B] or [B, T], got log_prob [2, 3] "
                      "vs advantage [2]");
    CHECK_THROWS_WITH(nn::GaussianPolicy({.input_size = 0}),
                      "GaussianPolicy: input_size and action_size must be positive, got input_size=0, action_size=2");
    CHECK_THROWS_WITH(nn::GaussianPolicy({.input_size = 2, .sigma = -1}),
                      "GaussianPolicy: sigma must be positive and finite, got -1");
}
