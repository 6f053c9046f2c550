// Gradient clipping: global-norm clipping (L2, L1, max norm) with PyTorch's coefficient, clipping by
// value, parameters without gradients, both float dtypes, and bad arguments.
#include <cmath>
#include <limits>

#include <functional>
#include <memory>

#include "helpers.h"
#include "optim/adam.h"
#include "optim/clip.h"
#include "optim/sgd.h"

using namespace seqgrad;
using seqgrad::testing::f64;

namespace {
// A float64 parameter whose gradient is set to `grad`.
Tensor with_grad(const std::vector<double>& grad, const Shape& shape, DType dtype = DType::Float64) {
    Tensor p = zeros(shape, {.dtype = dtype, .requires_grad = true});
    p.set_grad(Tensor::from(grad, shape, {.dtype = dtype}));
    return p;
}
}  // namespace

TEST_CASE("clip: global L2 norm over all parameters", "[clip]") {
    // grads (3, 4) and (12): total = sqrt(9 + 16 + 144) = 13; max_norm 6.5 -> coef = 6.5/(13 + 1e-6)
    Tensor a = with_grad({3.0, 4.0}, {2}), b = with_grad({12.0}, {1, 1});
    const double total = optim::clip_grad_norm({a, b}, 6.5);
    CHECK(total == Approx(13.0).epsilon(1e-15));
    const double coef = 6.5 / (13.0 + 1e-6);
    CHECK(a.grad().to_vector() == std::vector<double>{3.0 * coef, 4.0 * coef});
    CHECK(b.grad().item() == 12.0 * coef);
    // The new norm is max_norm (up to the 1e-6 guard).
    CHECK(std::sqrt(std::pow(a.grad().at({0}), 2) + std::pow(a.grad().at({1}), 2) + std::pow(b.grad().item(), 2)) ==
          Approx(6.5).epsilon(1e-6));
}

TEST_CASE("clip: gradients under the limit are left exactly as they were", "[clip]") {
    Tensor a = with_grad({0.3, -0.4}, {2});
    CHECK(optim::clip_grad_norm({a}, 1.0) == Approx(0.5));
    CHECK(a.grad().to_vector() == std::vector<double>{0.3, -0.4});
    // Exactly at the limit: coef = 0.5/(0.5 + 1e-6) < 1, a tiny scale as in PyTorch.
    optim::clip_grad_norm({a}, 0.5);
    CHECK(a.grad().at({0}) == 0.3 * (0.5 / (0.5 + 1e-6)));
}

TEST_CASE("clip: L1 and infinity norms", "[clip]") {
    Tensor a = with_grad({3.0, -4.0}, {2}), b = with_grad({-1.0}, {1});
    // L1: 3 + 4 + 1 = 8; max_norm 4 -> every gradient halved (coef 4/(8 + 1e-6))
    CHECK(optim::clip_grad_norm({a, b}, 4.0, 1.0) == Approx(8.0));
    CHECK(a.grad().at({1}) == Approx(-2.0).epsilon(1e-6));
    CHECK(b.grad().at({0}) == Approx(-0.5).epsilon(1e-6));
    // inf: max |g| = 2 (after the halving); max_norm 1 -> halved again
    CHECK(optim::clip_grad_norm({a, b}, 1.0, std::numeric_limits<double>::infinity()) == Approx(2.0).epsilon(1e-6));
    CHECK(a.grad().at({1}) == Approx(-1.0).epsilon(1e-6));
    // p = 3: (27 + 64 + 1)^(1/3) before any clipping
    Tensor c = with_grad({3.0, -4.0}, {2}), d = with_grad({-1.0}, {1});
    CHECK(optim::clip_grad_norm({c, d}, 100.0, 3.0) == Approx(std::cbrt(92.0)));
}

TEST_CASE("clip: parameters without a gradient are skipped", "[clip]") {
    Tensor a = with_grad({6.0, 8.0}, {2});
    Tensor none = f64({1.0, 2.0}, {2}, true);
    CHECK(optim::clip_grad_norm({none, a}, 5.0) == Approx(10.0));
    CHECK_FALSE(none.grad().defined());
    CHECK(a.grad().at({0}) == Approx(3.0).epsilon(1e-6));
    CHECK(optim::clip_grad_norm({none}, 1.0) == 0.0);
    CHECK_NOTHROW(optim::clip_grad_value({none, a}, 1.0));
    CHECK_FALSE(none.grad().defined());
}

TEST_CASE("clip: float32 gradients, and gradients from backward", "[clip]") {
    Tensor w = Tensor::from({1.0, 2.0, 2.0}, {3}, {.requires_grad = true});
    sum(w * w).backward();  // grad = 2w = (2, 4, 4), norm 6
    CHECK(optim::clip_grad_norm({w}, 3.0) == Approx(6.0));
    CHECK(w.grad().dtype() == DType::Float32);
    const auto g = w.grad().to_vector();
    CHECK(g[0] == Approx(1.0).epsilon(1e-5));
    CHECK(g[1] == Approx(2.0).epsilon(1e-5));
}

TEST_CASE("clip: clip_grad_value clamps every element", "[clip]") {
    Tensor a = with_grad({-3.0, 0.25, 2.0}, {3}), b = with_grad({0.5, -0.75}, {2}, DType::Float32);
    optim::clip_grad_value({a, b}, 0.5);
    CHECK(a.grad().to_vector() == std::vector<double>{-0.5, 0.25, 0.5});
    CHECK(b.grad().to_vector() == std::vector<double>{0.5, -0.5});
}

TEST_CASE("clip: bad arguments name the function", "[clip][errors]") {
    Tensor a = with_grad({1.0}, {1});
    CHECK_THROWS_AS(optim::clip_grad_norm({a}, -1.0), ShapeError);
    CHECK_THROWS_WITH(optim::clip_grad_norm({a}, -1.0), Catch::Contains("clip_grad_norm") && Catch::Contains("max_norm"));
    CHECK_THROWS_WITH(optim::clip_grad_norm({a}, 1.0, 0.0), Catch::Contains("clip_grad_norm") && Catch::Contains("norm_type"));
    CHECK_THROWS_WITH(optim::clip_grad_value({a}, -0.1), Catch::Contains("clip_grad_value") && Catch::Contains("clip"));
    CHECK_THROWS_AS(optim::clip_grad_norm({Tensor()}, 1.0), ShapeError);
    CHECK_THROWS_WITH(optim::clip_coefficient({a}, -1.0), "clip_coefficient: max_norm must be >= 0, got -1");
    CHECK_THROWS_WITH(optim::clip_coefficient({a}, 1.0, -2.0), "clip_coefficient: norm_type must be > 0 (or infinity), got -2");
}

// The float32 L2 norm's fast path (core/row_kernels.h sum_squares: 16 partial sums in double) against
// the plain loop (set_fast_paths(false)): the same norm to double rounding and the same clipped values,
// over parameters of lengths around the 16-wide blocks.
TEST_CASE("clip: the float32 L2 fast path equals the plain loop", "[clip][fast]") {
    std::vector<std::int64_t> sizes = {0, 1, 15, 16, 17, 33, 1000, 100003};
    auto make = [&](std::uint64_t seed) {
        Generator g(seed);
        std::vector<Tensor> params;
        for (auto n : sizes) {
            Tensor p = zeros({n}, {.requires_grad = true});
            p.set_grad(randn({n}, {}, &g));
            params.push_back(p);
        }
        return params;
    };
    const auto fast = make(5), plain = make(5);
    double fast_norm = 0, plain_norm = 0;
    {
        FastPathGuard on(true);
        fast_norm = optim::clip_grad_norm(fast, 10.0);
    }
    {
        FastPathGuard off(false);
        plain_norm = optim::clip_grad_norm(plain, 10.0);
    }
    CHECK(fast_norm == Approx(plain_norm).epsilon(1e-13));
    CHECK(fast_norm > 10.0);  // so both clipped
    for (std::size_t i = 0; i < fast.size(); ++i) {
        const auto a = fast[i].grad().to_vector(), b = plain[i].grad().to_vector();
        REQUIRE(a.size() == b.size());
        std::size_t differ = 0;
        for (std::size_t k = 0; k < a.size(); ++k) differ += std::abs(a[k] - b[k]) > 1e-6 * std::abs(b[k]);
        CHECK(differ == 0);
    }
}

// clip_coefficient + step(coefficient) against clip_grad_norm + step(): the same parameters and
// optimizer state bit for bit after several steps (Adam's fused kernel and its plain loop, AdamW with
// weight decay, amsgrad, and SGD, which takes a scaled copy), with and without fast paths, float32 and
// float64, steps that clip and a step that does not; the gradients are left as backward made them.
TEST_CASE("clip: step with the clip coefficient updates exactly as clipping first, and leaves the gradients alone",
          "[clip][optim][fast]") {
    using Make = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;
    const std::vector<std::pair<const char*, Make>> optimizers = {
        {"Adam", [](std::vector<Tensor> p) { return std::make_unique<optim::Adam>(std::move(p), optim::AdamOptions{.lr = 0.01}); }},
        {"Adam amsgrad", [](std::vector<Tensor> p) {
             return std::make_unique<optim::Adam>(std::move(p), optim::AdamOptions{.lr = 0.01, .amsgrad = true});
         }},
        {"AdamW", [](std::vector<Tensor> p) {
             return std::make_unique<optim::AdamW>(std::move(p), optim::AdamWOptions{.lr = 0.01, .weight_decay = 0.1});
         }},
        {"SGD", [](std::vector<Tensor> p) {
             return std::make_unique<optim::SGD>(std::move(p), optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
         }},
    };
    const std::vector<std::int64_t> sizes = {1, 17, 100003};
    for (const DType dtype : {DType::Float32, DType::Float64})
        for (const bool fast : {true, false})
            for (const auto& [name, make] : optimizers) {
                CAPTURE(name, dtype_name(dtype), fast);
                FastPathGuard guard(fast);
                auto params = [&] {
                    Generator g(3);
                    std::vector<Tensor> ps;
                    for (auto n : sizes) ps.push_back(randn({n}, {.dtype = dtype, .requires_grad = true}, &g));
                    return ps;
                };
                std::vector<Tensor> a = params(), b = params();
                auto opt_a = make(a), opt_b = make(b);
                Generator grads(11);
                // Max norms: the first three steps clip (the gradients' norm is ~ sqrt(100021) * scale),
                // the last does not.
                for (const double max_norm : {1.0, 5.0, 0.5, 1e6}) {
                    for (std::size_t i = 0; i < a.size(); ++i) {
                        const Tensor g = randn({sizes[i]}, {.dtype = dtype}, &grads);
                        a[i].set_grad(g.clone());
                        b[i].set_grad(g.clone());
                    }
                    std::vector<std::vector<double>> before;
                    for (const Tensor& p : b) before.push_back(p.grad().to_vector());
                    const double total = optim::clip_grad_norm(a, max_norm);
                    opt_a->step();
                    const optim::ClipCoefficient c = optim::clip_coefficient(b, max_norm);
                    CHECK(c.total == total);
                    CHECK(c.coefficient == (max_norm < 1e6 ? max_norm / (total + 1e-6) : 1.0));
                    opt_b->step(c.coefficient);
                    for (std::size_t i = 0; i < a.size(); ++i) {
                        CHECK(b[i].grad().to_vector() == before[i]);  // untouched
                        CHECK(a[i].to_vector() == b[i].to_vector());  // bit for bit
                    }
                }
                const auto sa = opt_a->state_dict(), sb = opt_b->state_dict();
                REQUIRE(sa.size() == sb.size());
                for (const auto& [key, t] : sa) CHECK(t.to_vector() == sb.at(key).to_vector());
            }
    Tensor p = with_grad({1.0}, {1});
    optim::Adam adam({p});
    CHECK_THROWS_WITH(adam.step(std::numeric_limits<double>::infinity()), "Adam: step: grad_scale must be finite, got inf");
    CHECK(p.to_vector() == std::vector<double>{0.0});  // nothing changed
    CHECK(adam.step_count() == 0);
}
