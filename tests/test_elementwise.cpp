// Elementwise ops (core/elementwise.cpp): add sub mul div neg with broadcasting, the scalar variants
// and operators, pow exp log sqrt abs tanh sigmoid relu clamp, comparisons and sum_to.
// For each op: a float64 gradcheck over every input (broadcast, scalar-shaped and repeated-use
// cases, inputs kept away from kinks), golden values small enough to check by hand, and bad input
// with the exact error type and a message naming the op and the shapes.
#include <cmath>
#include <functional>
#include <numbers>

#include "core/kernels.h"
#include "helpers.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

using Binary = std::function<Tensor(const Tensor&, const Tensor&)>;
struct NamedBinary {
    const char* name;
    Binary f;
};

const std::vector<NamedBinary>& binary_ops() {
    static const std::vector<NamedBinary> ops = {
        {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }},
        {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }},
        {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }},
        {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }},
    };
    return ops;
}

// Shape pairs that exercise every broadcasting path: equal shapes, a trailing vector, a middle
// size-1 dim against a missing leading dim, scalar-shaped on either side, size-1 on both sides.
const std::vector<std::pair<Shape, Shape>> kBroadcastCases = {
    {{2, 3}, {2, 3}}, {{2, 3}, {3}},    {{2, 1, 4}, {3, 1}}, {{}, {2, 3}},
    {{2, 3}, {}},     {{3, 1}, {1, 4}}, {{1}, {2, 3}},       {{2, 3}, {2, 1}},
};

// Values in [0.5, 1.5) with alternating sign: safe as a divisor, far from 0.
Tensor away_from_zero(const Shape& shape, std::uint64_t seed) {
    Tensor t = param(shape, seed, 0.5, 1.5);
    double* p = t.data<double>();
    for (std::int64_t i = 0; i < t.numel(); i += 2) p[i] = -p[i];
    return t;
}

}  // namespace

// ---- broadcasting ---------------------------------------------------------------------------------

TEST_CASE("elementwise: broadcast_shapes aligns from the right", "[elementwise]") {
    CHECK(broadcast_shapes("t", {2, 3}, {3}) == Shape{2, 3});
    CHECK(broadcast_shapes("t", {2, 1, 4}, {3, 1}) == Shape{2, 3, 4});
    CHECK(broadcast_shapes("t", {}, {2, 3}) == Shape{2, 3});
    CHECK(broadcast_shapes("t", {5, 1}, {}) == Shape{5, 1});
    CHECK(broadcast_shapes("t", {1}, {0}) == Shape{0});
    CHECK_THROWS_MATCHES(broadcast_shapes("add", {2, 3}, {4}), ShapeError,
                         Catch::Matchers::Message("add: shapes cannot be broadcast: [2, 3] vs [4] (dim 1: 3 != 4)"));
}

TEST_CASE("elementwise: add sub mul div golden values with broadcasting", "[elementwise]") {
    Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor b = f64({10, 20, 30}, {3});
    check_values(add(a, b), {11, 22, 33, 14, 25, 36});
    check_values(sub(a, b), {-9, -18, -27, -6, -15, -24});
    check_values(mul(a, b), {10, 40, 90, 40, 100, 180});
    check_values(div(b, a), {10, 10, 10, 2.5, 4, 5});
    CHECK(add(a, b).shape() == Shape{2, 3});

    // [2,1,4] * [3,1] -> [2,3,4]: out[i][j][k] = x[i][0][k] * y[j][0]
    Tensor x = f64({1, 2, 3, 4, 5, 6, 7, 8}, {2, 1, 4});
    Tensor y = f64({1, 10, 100}, {3, 1});
    Tensor z = mul(x, y);
    REQUIRE(z.shape() == Shape{2, 3, 4});
    CHECK(z.at({0, 0, 0}) == 1);
    CHECK(z.at({0, 1, 2}) == 30);
    CHECK(z.at({1, 2, 3}) == 800);
    CHECK(z.at({1, 0, 1}) == 6);

    // scalar-shaped on either side
    Tensor s = f64({2}, {});
    check_values(sub(s, a), {1, 0, -1, -2, -3, -4});
    check_values(div(a, s), {0.5, 1, 1.5, 2, 2.5, 3});
    CHECK(add(s, s).shape() == Shape{});
    CHECK(add(s, s).item() == 4);

    // float32 goes through the same kernels
    Tensor af = Tensor::from({1.5, -2}, {2});
    Tensor bf = Tensor::from({0.5}, {1});
    CHECK(add(af, bf).dtype() == DType::Float32);
    check_values(add(af, bf), {2, -1.5});
    check_values(div(af, bf), {3, -4});
}

TEST_CASE("elementwise: add sub mul div gradcheck over every broadcasting case", "[elementwise]") {
    for (const auto& op : binary_ops()) {
        for (const auto& [sa, sb] : kBroadcastCases) {
            INFO(op.name << " " << shape_str(sa) << " with " << shape_str(sb));
            Tensor a = param(sa, 1);
            Tensor b = std::string(op.name) == "div" ? away_from_zero(sb, 2) : param(sb, 2);
            require_gradcheck([&](const std::vector<Tensor>& in) { return op.f(in[0], in[1]); }, {a, b});
        }
    }
}

TEST_CASE("elementwise: gradient of a broadcast input is summed back to its shape", "[elementwise]") {
    // y = a * b, a [2,3], b [3]: db_j = sum_i a_ij, da_ij = b_j
    Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3}, true);
    Tensor b = f64({10, 20, 30}, {3}, true);
    sum(mul(a, b)).backward();
    REQUIRE(b.grad().shape() == Shape{3});
    check_values(b.grad(), {5, 7, 9});
    check_values(a.grad(), {10, 20, 30, 10, 20, 30});

    // scalar-shaped: ds = sum of everything
    Tensor s = f64({2}, {}, true);
    Tensor x = f64({1, 2, 3, 4}, {2, 2}, true);
    sum(sub(x, s)).backward();
    REQUIRE(s.grad().shape() == Shape{});
    CHECK(s.grad().item() == -4);
    check_values(x.grad(), {1, 1, 1, 1});

    // div: d/db (a / b) = -a / b^2
    Tensor n = f64({3}, {1}, true);
    Tensor d = f64({2, 4}, {2}, true);
    sum(div(n, d)).backward();
    CHECK(n.grad().item() == Approx(0.5 + 0.25));
    check_values(d.grad(), {-3.0 / 4, -3.0 / 16});
}

TEST_CASE("elementwise: repeated use of one tensor accumulates its gradient", "[elementwise]") {
    Tensor x = param({2, 3}, 7);
    require_gradcheck([](const std::vector<Tensor>& in) { return mul(in[0], in[0]); }, {x});
    require_gradcheck([](const std::vector<Tensor>& in) { return add(in[0], in[0]); }, {x});
    require_gradcheck([](const std::vector<Tensor>& in) { return sub(in[0], in[0]); }, {x});
    require_gradcheck([](const std::vector<Tensor>& in) { return div(in[0], in[0]); }, {away_from_zero({2, 3}, 8)});
    // the same tensor in two broadcast roles: an outer product [3] x [3,1] -> [3,3]
    Tensor v = param({3}, 9);
    require_gradcheck([](const std::vector<Tensor>& in) { return mul(in[0], reshape(in[0], {3, 1})); }, {v});

    // by hand: d/dx sum(x*x + x) = 2x + 1; d/dx sum(x + x) = 2
    Tensor h = f64({1, -2}, {2}, true);
    sum(add(mul(h, h), h)).backward();
    check_values(h.grad(), {3, -3});
    h.zero_grad();
    sum(add(h, h)).backward();
    check_values(h.grad(), {2, 2});
}

// ---- scalar variants and operators ----------------------------------------------------------------

TEST_CASE("elementwise: scalar variants golden values and gradients", "[elementwise]") {
    Tensor a = f64({1, 2, 4}, {3}, true);
    check_values(add(a, 1.5), {2.5, 3.5, 5.5});
    check_values(sub(a, 1.5), {-0.5, 0.5, 2.5});
    check_values(rsub(1.5, a), {0.5, -0.5, -2.5});
    check_values(mul(a, -2.0), {-2, -4, -8});
    check_values(div(a, 4.0), {0.25, 0.5, 1});
    check_values(rdiv(8.0, a), {8, 4, 2});
    check_values(neg(a), {-1, -2, -4});

    auto grad_of = [&](const std::function<Tensor(const Tensor&)>& f) {
        a.zero_grad();
        sum(f(a)).backward();
        return a.grad();
    };
    check_values(grad_of([](const Tensor& t) { return add(t, 1.5); }), {1, 1, 1});
    check_values(grad_of([](const Tensor& t) { return sub(t, 1.5); }), {1, 1, 1});
    check_values(grad_of([](const Tensor& t) { return rsub(1.5, t); }), {-1, -1, -1});
    check_values(grad_of([](const Tensor& t) { return mul(t, -2.0); }), {-2, -2, -2});
    check_values(grad_of([](const Tensor& t) { return div(t, 4.0); }), {0.25, 0.25, 0.25});
    check_values(grad_of([](const Tensor& t) { return rdiv(8.0, t); }), {-8, -2, -0.5});  // -s / a^2
    check_values(grad_of([](const Tensor& t) { return neg(t); }), {-1, -1, -1});
}

TEST_CASE("elementwise: scalar variants gradcheck, including scalar-shaped inputs", "[elementwise]") {
    const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> ops = {
        {"add", [](const Tensor& t) { return add(t, 0.7); }},   {"sub", [](const Tensor& t) { return sub(t, 0.7); }},
        {"rsub", [](const Tensor& t) { return rsub(0.7, t); }}, {"mul", [](const Tensor& t) { return mul(t, -1.3); }},
        {"div", [](const Tensor& t) { return div(t, -1.3); }},  {"rdiv", [](const Tensor& t) { return rdiv(1.3, t); }},
        {"neg", [](const Tensor& t) { return neg(t); }},
    };
    for (const auto& [name, f] : ops)
        for (const Shape& shape : {Shape{2, 3}, Shape{}}) {
            INFO(name << " " << shape_str(shape));
            require_gradcheck([&](const std::vector<Tensor>& in) { return f(in[0]); }, {away_from_zero(shape, 3)});
        }
}

TEST_CASE("elementwise: operators match the named functions, values and gradients", "[elementwise]") {
    Tensor a = away_from_zero({2, 3}, 11);
    Tensor b = away_from_zero({3}, 12);
    CHECK(allclose(a + b, add(a, b), 0, 0));
    CHECK(allclose(a - b, sub(a, b), 0, 0));
    CHECK(allclose(a * b, mul(a, b), 0, 0));
    CHECK(allclose(a / b, div(a, b), 0, 0));
    CHECK(allclose(-a, neg(a), 0, 0));
    CHECK(allclose(a + 2.0, add(a, 2.0), 0, 0));
    CHECK(allclose(2.0 + a, add(a, 2.0), 0, 0));
    CHECK(allclose(a - 2.0, sub(a, 2.0), 0, 0));
    CHECK(allclose(2.0 - a, rsub(2.0, a), 0, 0));
    CHECK(allclose(a * 2.0, mul(a, 2.0), 0, 0));
    CHECK(allclose(2.0 * a, mul(a, 2.0), 0, 0));
    CHECK(allclose(a / 2.0, div(a, 2.0), 0, 0));
    CHECK(allclose(2.0 / a, rdiv(2.0, a), 0, 0));
    // hand values for the reversed scalar operators
    Tensor t = f64({4}, {1});
    CHECK((1.0 - t).item() == -3);
    CHECK((1.0 / t).item() == 0.25);

    require_gradcheck(
        [](const std::vector<Tensor>& in) {
            const Tensor& x = in[0];
            const Tensor& y = in[1];
            return (x + y) * 2.0 - 1.0 / x + (3.0 - y) / 2.0 + -x * y + 1.5 + 0.5 * x - x / y - y;
        },
        {a, b});
}

TEST_CASE("elementwise: division by the scalar zero is rejected", "[elementwise][errors]") {
    CHECK_THROWS_AS(div(f64({1}, {1}), 0.0), ShapeError);
    CHECK_THROWS_WITH(div(f64({1}, {1}), 0.0), Catch::Contains("div"));
}

// ---- unary math -----------------------------------------------------------------------------------

TEST_CASE("elementwise: pow golden values, gradients and gradcheck", "[elementwise]") {
    check_values(pow(f64({1, 2, 3}, {3}), 2.0), {1, 4, 9});
    check_values(pow(f64({4, 9}, {2}), 0.5), {2, 3});
    check_values(pow(f64({2, -4}, {2}), -1.0), {0.5, -0.25});
    Tensor x = f64({2}, {}, true);
    pow(x, 3.0).backward();
    CHECK(x.grad().item() == Approx(12.0));  // 3 x^2

    for (double p : {2.0, 3.0, -1.0, 0.5, 1.7}) {
        INFO("exponent " << p);
        // fractional exponents need x > 0
        Tensor in = p == std::floor(p) ? away_from_zero({2, 3}, 21) : param({2, 3}, 21, 0.5, 2.0);
        require_gradcheck([p](const std::vector<Tensor>& v) { return pow(v[0], p); }, {in});
    }
}

TEST_CASE("elementwise: exp log sqrt golden values and gradcheck", "[elementwise]") {
    const double e = std::numbers::e;
    check_values(exp(f64({0, 1, -1}, {3})), {1, e, 1 / e});
    check_values(log(f64({1, e, e * e}, {3})), {0, 1, 2}, 1e-15);
    check_values(sqrt(f64({4, 0.25, 0}, {3})), {2, 0.5, 0});

    Tensor x = f64({4}, {}, true);
    sqrt(x).backward();
    CHECK(x.grad().item() == Approx(0.25));  // 1 / (2 sqrt x)
    x.zero_grad();
    log(x).backward();
    CHECK(x.grad().item() == Approx(0.25));  // 1 / x
    x.zero_grad();
    exp(x).backward();
    CHECK(x.grad().item() == Approx(std::exp(4.0)));

    require_gradcheck([](const std::vector<Tensor>& in) { return exp(in[0]); }, {param({2, 3}, 31)});
    require_gradcheck([](const std::vector<Tensor>& in) { return log(in[0]); }, {param({2, 3}, 32, 0.2, 3.0)});
    require_gradcheck([](const std::vector<Tensor>& in) { return sqrt(in[0]); }, {param({2, 3}, 33, 0.2, 3.0)});
    // repeated use inside one unary chain
    require_gradcheck([](const std::vector<Tensor>& in) { return mul(exp(in[0]), log(add(in[0], 2.0))); },
                      {param({4}, 34)});
}

TEST_CASE("elementwise: abs relu clamp golden values and kink conventions", "[elementwise]") {
    check_values(abs(f64({-3, 0, 2.5}, {3})), {3, 0, 2.5});
    check_values(relu(f64({-1, 0, 2}, {3})), {0, 0, 2});
    check_values(clamp(f64({-2, 0.5, 3, -1, 1}, {5}), -1, 1), {-1, 0.5, 1, -1, 1});

    // gradients: sign(x) for abs, (x > 0) for relu, (lo < x < hi) for clamp; 0 exactly at the kinks
    Tensor x = f64({-3, 0, 2.5}, {3}, true);
    sum(abs(x)).backward();
    check_values(x.grad(), {-1, 0, 1});
    x.zero_grad();
    sum(relu(x)).backward();
    check_values(x.grad(), {0, 0, 1});
    Tensor c = f64({-2, 0.5, 3, -1, 1}, {5}, true);
    sum(clamp(c, -1, 1)).backward();
    check_values(c.grad(), {0, 1, 0, 0, 0});
}

TEST_CASE("elementwise: abs relu clamp gradcheck away from the kinks", "[elementwise]") {
    // every value at least 0.2 from 0 and from the clamp bounds -0.5 and 0.5
    Tensor x = f64({-1.3, -0.7, -0.25, 0.2, 0.3, 0.75, 1.4, -2.1}, {2, 4}, true);
    require_gradcheck([](const std::vector<Tensor>& in) { return abs(in[0]); }, {x});
    require_gradcheck([](const std::vector<Tensor>& in) { return relu(in[0]); }, {x});
    require_gradcheck([](const std::vector<Tensor>& in) { return clamp(in[0], -0.5, 0.5); }, {x});
    require_gradcheck([](const std::vector<Tensor>& in) { return mul(relu(in[0]), abs(in[0])); }, {x});
}

TEST_CASE("elementwise: clamp with lo above hi is an error naming clamp", "[elementwise][errors]") {
    CHECK_THROWS_MATCHES(clamp(f64({1}, {1}), 2, 1), ShapeError,
                         Catch::Matchers::Message("clamp: lo (2) is greater than hi (1)"));
    // lo == hi is allowed: everything becomes lo, nothing gets a gradient
    Tensor x = f64({-1, 3}, {2}, true);
    Tensor y = clamp(x, 0.5, 0.5);
    check_values(y, {0.5, 0.5});
    sum(y).backward();
    check_values(x.grad(), {0, 0});
}

TEST_CASE("elementwise: tanh and sigmoid golden values, stability and gradcheck", "[elementwise]") {
    check_values(tanh(f64({0, std::atanh(0.5), -std::atanh(0.5)}, {3})), {0, 0.5, -0.5}, 1e-15);
    check_values(sigmoid(f64({0, std::log(3.0), -std::log(3.0)}, {3})), {0.5, 0.75, 0.25}, 1e-15);
    // large inputs saturate without NaN or Inf, in float32 and float64
    for (DType dt : {DType::Float32, DType::Float64}) {
        Tensor big = Tensor::from({-1000, 1000, -90, 90}, {4}, {.dtype = dt, .requires_grad = true});
        check_values(sigmoid(big), {0, 1, 0, 1}, 1e-30);
        check_values(tanh(big), {-1, 1, -1, 1});
        sum(sigmoid(big) + tanh(big)).backward();
        for (double g : big.grad().to_vector()) CHECK(std::isfinite(g));
    }
    Tensor x = f64({0.5}, {}, true);
    tanh(x).backward();
    CHECK(x.grad().item() == Approx(1 - std::tanh(0.5) * std::tanh(0.5)));
    x.zero_grad();
    sigmoid(x).backward();
    const double s = 1 / (1 + std::exp(-0.5));
    CHECK(x.grad().item() == Approx(s * (1 - s)));

    require_gradcheck([](const std::vector<Tensor>& in) { return tanh(in[0]); }, {param({2, 3}, 41, -2, 2)});
    require_gradcheck([](const std::vector<Tensor>& in) { return sigmoid(in[0]); }, {param({2, 3}, 42, -4, 4)});
    require_gradcheck([](const std::vector<Tensor>& in) { return mul(tanh(in[0]), sigmoid(in[0])); },
                      {param({5}, 43, -2, 2)});
}

TEST_CASE("elementwise: unary ops keep shape and dtype, and reject int64", "[elementwise][errors]") {
    Tensor f = Tensor::from({0.25, 1, 4}, {3, 1});
    for (const auto& out : {exp(f), log(f), sqrt(f), abs(f), tanh(f), sigmoid(f), relu(f), clamp(f, 0, 1), pow(f, 2.0), neg(f)}) {
        CHECK(out.shape() == Shape{3, 1});
        CHECK(out.dtype() == DType::Float32);
    }
    CHECK_THROWS_MATCHES(exp(Tensor::ids({1, 2}, {2})), ShapeError,
                         Catch::Matchers::Message("exp: expects a floating-point tensor (float32 or float64), got int64"));
    CHECK_THROWS_AS(tanh(Tensor()), ShapeError);
    CHECK_THROWS_WITH(tanh(Tensor()), Catch::Contains("tanh") && Catch::Contains("undefined"));
}

TEST_CASE("elementwise: binary ops reject mismatched dtypes, int64 and undefined inputs", "[elementwise][errors]") {
    Tensor a = zeros({2, 3});
    Tensor b = zeros({3}, {.dtype = DType::Float64});
    CHECK_THROWS_MATCHES(add(a, b), ShapeError,
                         Catch::Matchers::Message("add: dtypes differ: float32 vs float64 (convert one with .to())"));
    CHECK_THROWS_MATCHES(mul(zeros({2, 3}), zeros({2, 2})), ShapeError,
                         Catch::Matchers::Message("mul: shapes cannot be broadcast: [2, 3] vs [2, 2] (dim 1: 3 != 2)"));
    // the dim in the message counts in the broadcast result (ranks differ here)
    CHECK_THROWS_MATCHES(sub(zeros({4, 3}), zeros({2, 1, 3, 5})), ShapeError,
                         Catch::Matchers::Message("sub: shapes cannot be broadcast: [4, 3] vs [2, 1, 3, 5] (dim 2: 4 != 3)"));
    CHECK_THROWS_WITH(div(zeros({2, 3}), zeros({3, 2})), Catch::StartsWith("div: shapes cannot be broadcast: [2, 3] vs [3, 2]"));
    CHECK_THROWS_MATCHES(add(Tensor::ids({1}, {1}), Tensor::ids({2}, {1})), ShapeError,
                         Catch::Matchers::Message("add: expects a floating-point tensor (float32 or float64), got int64"));
    CHECK_THROWS_MATCHES(add(Tensor(), a), ShapeError, Catch::Matchers::Message("add: lhs is an undefined tensor"));
    CHECK_THROWS_MATCHES(sub(a, Tensor()), ShapeError, Catch::Matchers::Message("sub: rhs is an undefined tensor"));
    // and the type hierarchy the callers rely on
    CHECK_THROWS_AS(add(a, b), std::invalid_argument);
}

TEST_CASE("elementwise: large tensors take the threaded path and give the same values", "[elementwise]") {
    const std::int64_t n = 3 * kernels::kParallelThreshold;  // well above the threshold
    Generator gen(5);
    Tensor a = uniform({n}, -1, 1, {}, &gen);
    Tensor b = uniform({n}, 0.5, 1.5, {}, &gen);
    const auto va = a.to_float_vector(), vb = b.to_float_vector();
    const auto sum_v = add(a, b).to_float_vector();
    const auto div_v = div(a, b).to_float_vector();
    const auto tanh_v = tanh(a).to_float_vector();
    const auto scaled = mul(a, 3.0).to_float_vector();
    std::int64_t bad = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        bad += sum_v[i] != va[i] + vb[i];
        bad += div_v[i] != va[i] / vb[i];
        bad += tanh_v[i] != std::tanh(va[i]);
        bad += scaled[i] != static_cast<float>(va[i] * 3.0);
    }
    CHECK(bad == 0);
}

// ---- comparisons ----------------------------------------------------------------------------------

TEST_CASE("elementwise: comparisons give 0/1 masks with broadcasting", "[elementwise]") {
    Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor b = f64({2, 5, 3}, {3});
    check_values(eq(a, b), {0, 0, 1, 0, 1, 0});
    check_values(ne(a, b), {1, 1, 0, 1, 0, 1});
    check_values(lt(a, b), {1, 1, 0, 0, 0, 0});
    check_values(le(a, b), {1, 1, 1, 0, 1, 0});
    check_values(gt(a, b), {0, 0, 0, 1, 0, 1});
    check_values(ge(a, b), {0, 0, 1, 1, 1, 1});
    CHECK(eq(a, b).shape() == Shape{2, 3});
    CHECK(eq(a, b).dtype() == DType::Float64);
    check_values(eq(a, 3.0), {0, 0, 1, 0, 0, 0});
    check_values(ne(a, 3.0), {1, 1, 0, 1, 1, 1});
    check_values(gt(a, 3.5), {0, 0, 0, 1, 1, 1});
    check_values(lt(a, 2.5), {1, 1, 0, 0, 0, 0});
    // float32 in, float32 mask out
    CHECK(gt(zeros({2}), 0.0).dtype() == DType::Float32);
}

TEST_CASE("elementwise: comparisons carry no gradient", "[elementwise]") {
    Tensor a = f64({1, 2, 3}, {3}, true);
    Tensor b = f64({2, 2, 2}, {3}, true);
    for (const Tensor& m : {eq(a, b), ne(a, b), lt(a, b), le(a, b), gt(a, b), ge(a, b), gt(a, 1.0), lt(a, 1.0)}) {
        CHECK_FALSE(m.requires_grad());
        CHECK(m.grad_fn() == nullptr);
    }
    // a mask used as a constant factor: d/da sum(a * (a > 2)) = (a > 2)
    sum(mul(a, gt(a, 2.0))).backward();
    check_values(a.grad(), {0, 0, 1});
}

TEST_CASE("elementwise: comparisons of int64 tensors give float32 masks", "[elementwise]") {
    Tensor ids = Tensor::ids({0, 3, 5, 3}, {2, 2});
    Tensor pad = Tensor::ids({3}, {1});
    Tensor m = eq(ids, pad);
    CHECK(m.dtype() == DType::Float32);
    CHECK(m.shape() == Shape{2, 2});
    check_values(m, {0, 1, 0, 1});
    check_values(ne(ids, pad), {1, 0, 1, 0});
    check_values(lt(ids, pad), {1, 0, 0, 0});
    check_values(ge(ids, pad), {0, 1, 1, 1});
    check_values(eq(ids, 3.0), {0, 1, 0, 1});
    check_values(gt(ids, 2.0), {0, 1, 1, 1});
    CHECK(gt(ids, 2.0).dtype() == DType::Float32);
    // a non-integral threshold is compared exactly, not truncated to an integer first
    check_values(lt(ids, 0.5), {1, 0, 0, 0});
    check_values(gt(ids, -0.5), {1, 1, 1, 1});
    check_values(eq(ids, 3.5), {0, 0, 0, 0});
    check_values(ne(ids, 2.9), {1, 1, 1, 1});
    // mixing int64 and float tensors is an error naming the op
    CHECK_THROWS_MATCHES(eq(ids, zeros({2, 2})), ShapeError,
                         Catch::Matchers::Message("eq: dtypes differ: int64 vs float32 (convert one with .to())"));
    CHECK_THROWS_WITH(lt(zeros({2, 3}), zeros({2})), Catch::StartsWith("lt: shapes cannot be broadcast: [2, 3] vs [2]"));
}

// ---- sum_to ---------------------------------------------------------------------------------------

TEST_CASE("elementwise: sum_to reduces a broadcast gradient to an input shape", "[elementwise]") {
    Tensor g = f64({1, 2, 3, 4, 5, 6}, {2, 3});
    check_values(sum_to(g, {3}), {5, 7, 9});
    CHECK(sum_to(g, {1, 3}).shape() == Shape{1, 3});
    check_values(sum_to(g, {2, 1}), {6, 15});
    CHECK(sum_to(g, {}).shape() == Shape{});
    CHECK(sum_to(g, {}).item() == 21);
    CHECK(sum_to(g, {2, 3}).impl() == g.impl());  // nothing to do: the same tensor
    Tensor g3 = arange(24, {.dtype = DType::Float64});
    Tensor r = sum_to(reshape(g3, {2, 3, 4}), {3, 1});  // sum over dims 0 and 2
    check_values(r, {0 + 1 + 2 + 3 + 12 + 13 + 14 + 15, 4 + 5 + 6 + 7 + 16 + 17 + 18 + 19, 8 + 9 + 10 + 11 + 20 + 21 + 22 + 23});
    CHECK_THROWS_AS(sum_to(g, {1, 2, 3}), ShapeError);
    CHECK_THROWS_WITH(sum_to(g, {1, 2, 3}), Catch::Contains("sum_to") && Catch::Contains("[2, 3]") && Catch::Contains("[1, 2, 3]"));
}
