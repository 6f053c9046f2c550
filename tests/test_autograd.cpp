// The autograd engine: accumulation, retain_graph, the freed graph, no-grad, hooks, lifetime
// (no leaks, no cycles, no stack overflow on long chains), anomaly mode and tracing.
#include <sstream>

#include "helpers.h"

using namespace seqgrad;
using seqgrad::testing::f64;

TEST_CASE("autograd: gradient of a small expression by hand", "[autograd]") {
    // y = (a * b + a)^2 with a = 2, b = 3: y = 64; dy/da = 2 (ab + a)(b + 1) = 64; dy/db = 2 (ab + a) a = 32
    Tensor a = f64({2.0}, {}, true), b = f64({3.0}, {}, true);
    Tensor y = pow(a * b + a, 2.0);
    y.backward();
    CHECK(y.item() == 64.0);
    CHECK(a.grad().item() == 64.0);
    CHECK(b.grad().item() == 32.0);
}

TEST_CASE("autograd: a tensor used twice accumulates both gradients", "[autograd]") {
    Tensor x = f64({1.0, 2.0}, {2}, true);
    Tensor y = sum(x * x + x);  // dy/dx = 2x + 1
    y.backward();
    CHECK(x.grad().to_vector() == std::vector<double>{3.0, 5.0});
    // Leaf gradients accumulate across backward calls until zero_grad.
    sum(x).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{4.0, 6.0});
    x.zero_grad();
    CHECK_FALSE(x.grad().defined());
}

TEST_CASE("autograd: add(a, a) does not alias the accumulated gradient", "[autograd]") {
    Tensor a = f64({1.0, 1.0}, {2}, true);
    sum(add(a, a)).backward();
    CHECK(a.grad().to_vector() == std::vector<double>{2.0, 2.0});
}

TEST_CASE("autograd: second backward without retain_graph is a clear error", "[autograd]") {
    Tensor x = f64({1.0, 2.0}, {2}, true);
    Tensor y = sum(tanh(x) * 2.0);
    y.backward();
    CHECK_THROWS_WITH(y.backward(), Catch::Contains("already freed") && Catch::Contains("retain_graph"));

    Tensor x2 = f64({1.0, 2.0}, {2}, true);
    Tensor y2 = sum(tanh(x2) * 2.0);
    y2.backward({.retain_graph = true});
    auto first = x2.grad().to_vector();
    y2.backward();
    auto twice = x2.grad().to_vector();
    CHECK(twice[0] == Approx(2 * first[0]));
}

TEST_CASE("autograd: backward errors name the problem", "[autograd][errors]") {
    Tensor x = f64({1.0, 2.0}, {2}, true);
    CHECK_THROWS_AS((x * 2.0).backward(), ShapeError);
    CHECK_THROWS_WITH((x * 2.0).backward(), Catch::Contains("[2]") && Catch::Contains("one-element"));
    Tensor c = f64({1.0}, {});
    CHECK_THROWS_WITH(c.backward(), Catch::Contains("does not require grad"));
    CHECK_THROWS_WITH((x * 2.0).backward(f64({1.0}, {1})), Catch::Contains("does not match"));
}

TEST_CASE("autograd: NoGradGuard builds no graph", "[autograd]") {
    Tensor x = f64({1.0}, {1}, true);
    {
        NoGradGuard guard;
        Tensor y = x * 2.0;
        CHECK_FALSE(y.requires_grad());
        CHECK(y.grad_fn() == nullptr);
    }
    CHECK((x * 2.0).requires_grad());
}

TEST_CASE("autograd: detach cuts the history", "[autograd]") {
    Tensor x = f64({3.0}, {}, true);
    Tensor y = x * x;
    Tensor z = y.detach() * x;  // dz/dx = y = 9 (y treated as a constant)
    z.backward();
    CHECK(x.grad().item() == 9.0);
}

TEST_CASE("autograd: the graph is freed after backward", "[autograd][lifetime]") {
    std::weak_ptr<Node> inner;
    Tensor x = f64({0.5, 0.25}, {2}, true);
    Tensor loss;
    {
        Tensor h = tanh(x);
        inner = h.grad_fn();
        loss = sum(h * h);
    }
    REQUIRE_FALSE(inner.expired());  // alive while the loss holds the graph
    loss.backward();
    CHECK(inner.expired());  // gone after backward
}

TEST_CASE("autograd: live tensors return to baseline after 1,000 training-like iterations", "[autograd][lifetime]") {
    Tensor w = seqgrad::testing::param({4, 3}, 1);
    Tensor b = seqgrad::testing::param({4}, 2);
    Tensor x = seqgrad::testing::param({5, 3}, 3);
    x.set_requires_grad(false);
    const auto baseline = TensorImpl::live_count();
    for (int it = 0; it < 1000; ++it) {
        Tensor loss = mean(pow(tanh(linear(x, w, b)), 2.0));
        loss.backward();
        NoGradGuard ng;
        // a plain SGD update in place
        double* pw = w.data<double>();
        const double* gw = w.grad().data<double>();
        for (std::int64_t i = 0; i < w.numel(); ++i) pw[i] -= 0.01 * gw[i];
        w.zero_grad();
        b.zero_grad();
    }
    CHECK(TensorImpl::live_count() == baseline);
}

TEST_CASE("autograd: a 2,000-step chain builds, runs backward and is destroyed without overflow", "[autograd][lifetime]") {
    const auto baseline = TensorImpl::live_count();
    {
        Tensor w = f64({0.5}, {1}, true);
        Tensor h = f64({0.1}, {1});
        for (int t = 0; t < 2000; ++t) h = tanh(h * w + 0.1);
        sum(h).backward();
        CHECK(w.grad().defined());
    }
    {
        // destroyed without backward: the Node destructor must not recurse 2,000 levels either
        Tensor w = f64({0.5}, {1}, true);
        Tensor h = f64({0.1}, {1});
        for (int t = 0; t < 200000; ++t) h = h * w;
    }
    CHECK(TensorImpl::live_count() == baseline);
}

TEST_CASE("autograd: retain_grad and hooks expose intermediate gradients", "[autograd]") {
    Tensor x = f64({1.0, 2.0}, {2}, true);
    Tensor h = x * 3.0;
    h.retain_grad();
    Tensor seen;
    h.register_hook([&](const Tensor& g) {
        seen = g.clone();
        return Tensor();  // keep the gradient unchanged
    });
    sum(h * h).backward();  // dL/dh = 2h = [6, 12]
    CHECK(h.grad().to_vector() == std::vector<double>{6.0, 12.0});
    CHECK(seen.to_vector() == std::vector<double>{6.0, 12.0});
    CHECK(x.grad().to_vector() == std::vector<double>{18.0, 36.0});

    // A hook can replace the gradient.
    Tensor x2 = f64({1.0}, {1}, true);
    Tensor h2 = x2 * 2.0;
    h2.register_hook([](const Tensor& g) { return mul(g, 10.0); });
    sum(h2).backward();
    CHECK(x2.grad().item() == 20.0);
}

TEST_CASE("autograd: anomaly mode names the op that produced NaN", "[autograd][anomaly]") {
    Tensor x = f64({-1.0}, {1}, true);
    {
        AnomalyGuard on;
        CHECK_THROWS_AS(log(x), AnomalyError);
        CHECK_THROWS_WITH(log(x), Catch::Contains("forward of 'log'") && Catch::Contains("NaN"));
    }
    // Backward: sqrt at 0 has an infinite derivative.
    Tensor z = f64({0.0}, {1}, true);
    Tensor y = sum(sqrt(z));
    AnomalyGuard on;
    CHECK_THROWS_WITH(y.backward(), Catch::Contains("backward of 'sqrt'") && Catch::Contains("Inf"));
}

TEST_CASE("autograd: tracing prints each backward node", "[autograd]") {
    std::ostringstream out;
    set_backward_trace(&out);
    Tensor x = f64({1.0, 2.0}, {2}, true);
    sum(tanh(x)).backward();
    set_backward_trace(nullptr);
    CHECK_THAT(out.str(), Catch::Contains("tanh") && Catch::Contains("sum"));
}

TEST_CASE("autograd: a backward returning a wrong shape names the op", "[autograd][errors]") {
    Tensor x = f64({1.0, 2.0}, {2}, true);
    Tensor y = record("broken_op", x.detach() * 1.0, {x}, [](const Tensor&, Grads& g) {
        g[0] = zeros({3}, {.dtype = DType::Float64});
    });
    CHECK_THROWS_WITH(sum(y).backward(), Catch::Contains("broken_op") && Catch::Contains("[3]") && Catch::Contains("[2]"));
}
