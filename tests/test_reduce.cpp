// Reductions (core/reduce.cpp): sum, mean and max over all elements and over dims with keepdim,
// argmax. Golden values by hand, float64 gradchecks (max on well-separated values, away from ties),
// the tie and empty conventions, and bad dims / dtypes with the exact error type and message.
#include <algorithm>
#include <numeric>

#include "core/autograd.h"
#include "core/random.h"
#include "helpers.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

// [[1, 5, 3], [4, 2, 6]]
Tensor small(bool requires_grad = false) { return f64({1, 5, 3, 4, 2, 6}, {2, 3}, requires_grad); }

// A float64 tensor holding 0.1 * a shuffled 0..n-1, shifted: every pair of values differs by at
// least 0.1, so a central difference with eps = 1e-6 never crosses a tie of max.
Tensor distinct(const Shape& shape, std::uint64_t seed) {
    const std::int64_t n = numel_of(shape);
    std::vector<double> v(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) v[i] = 0.1 * static_cast<double>(i) - 0.05 * static_cast<double>(n);
    Generator gen(seed);
    for (std::int64_t i = n - 1; i > 0; --i) std::swap(v[i], v[gen.randint(static_cast<std::uint64_t>(i + 1))]);
    return f64(v, shape, true);
}

const std::vector<std::vector<std::int64_t>> kDimSets = {{0}, {1}, {2}, {-1}, {0, 2}, {2, 0}, {0, 1, 2}, {-3, 1}};

}  // namespace

// ---- sum ------------------------------------------------------------------------------------------

TEST_CASE("reduce: sum golden values over all elements and over dims", "[reduce]") {
    Tensor x = small();
    Tensor all = sum(x);
    CHECK(all.shape() == Shape{});
    CHECK(all.item() == 21);
    check_values(sum(x, {0}), {5, 7, 9});
    CHECK(sum(x, {0}).shape() == Shape{3});
    check_values(sum(x, {1}), {9, 12});
    check_values(sum(x, {-1}), {9, 12});
    CHECK(sum(x, {0}, true).shape() == Shape{1, 3});
    CHECK(sum(x, {1}, true).shape() == Shape{2, 1});
    check_values(sum(x, {1}, true), {9, 12});
    CHECK(sum(x, {0, 1}).shape() == Shape{});
    CHECK(sum(x, {0, 1}).item() == 21);
    CHECK(sum(x, {1, 0}, true).shape() == Shape{1, 1});

    // [2,3,4] = arange: sum over dims 0 and 2 leaves j: sum_{i,k} (12 i + 4 j + k) = 32 j + 60
    Tensor a = reshape(arange(24, {.dtype = DType::Float64}), {2, 3, 4});
    check_values(sum(a, {0, 2}), {60, 92, 124});
    CHECK(sum(a, {0, 2}, true).shape() == Shape{1, 3, 1});
    check_values(sum(a, {1}), {12, 15, 18, 21, 48, 51, 54, 57});

    // float32 input gives float32 output
    CHECK(sum(ones({4})).dtype() == DType::Float32);
    CHECK(sum(ones({4})).item() == 4);
}

TEST_CASE("reduce: the float32 column-sum fast path equals the plain loop bit for bit", "[reduce]") {
    Generator gen(21);
    // [rows, cols] over dim 0 (a bias gradient), and [2, rows, cols] over dims 1 and 0: widths below,
    // at and past the kernel's 64-column blocks.
    for (const std::int64_t cols : {5, 64, 130, 2803}) {
        for (const Shape& shape : {Shape{33, cols}, Shape{2, 9, cols}}) {
            INFO(shape_str(shape));
            const Tensor x = randn(shape, {}, &gen);
            for (const std::vector<std::int64_t>& dims : {std::vector<std::int64_t>{0}, std::vector<std::int64_t>{0, 1}}) {
                if (dims.size() >= shape.size()) continue;
                const Tensor fast = sum(x, dims);
                Tensor plain;
                {
                    FastPathGuard off(false);
                    plain = sum(x, dims);
                }
                CHECK(fast.shape() == plain.shape());
                CHECK(fast.to_vector() == plain.to_vector());
            }
        }
    }
    // Hand-checkable: the columns of [[1, 2, ...], [10, 20, ...]] sum to 11, 22, ...
    std::vector<double> v(2 * 70);
    for (int j = 0; j < 70; ++j) v[j] = j + 1, v[70 + j] = 10.0 * (j + 1);
    const auto s = sum(Tensor::from(v, {2, 70}), {0}).to_vector();
    REQUIRE(s.size() == 70);
    for (int j = 0; j < 70; ++j) CHECK(s[j] == 11.0 * (j + 1));
}

TEST_CASE("reduce: sum of empty tensors is zero - 0-d tensors reduce to themselves", "[reduce]") {
    CHECK(sum(zeros({0})).item() == 0);
    Tensor e = sum(zeros({2, 0}), {1});
    CHECK(e.shape() == Shape{2});
    check_values(e, {0, 0});
    Tensor s = f64({2.5}, {}, true);
    CHECK(sum(s).item() == 2.5);
    Tensor r = sum(s, {0});
    CHECK(r.shape() == Shape{});
    CHECK(r.item() == 2.5);
    CHECK(sum(s, {-1}, true).shape() == Shape{});
    r.backward();
    CHECK(s.grad().item() == 1);
    CHECK(mean(s, {0}).item() == 2.5);
}

TEST_CASE("reduce: sum of many float32 values accumulates accurately", "[reduce]") {
    // 2^20 copies of 0.1f: a float accumulator drifts by about 1%, the double accumulator does not
    const std::int64_t n = 1 << 20;
    Tensor x = full({n}, 0.1);
    const double exact = static_cast<double>(n) * static_cast<double>(0.1f);
    CHECK(sum(x).item() == Approx(exact).epsilon(1e-6));
}

TEST_CASE("reduce: sum gradcheck over all elements and every dim set, with and without keepdim", "[reduce]") {
    Tensor x = param({2, 3, 4}, 1);
    require_gradcheck([](const std::vector<Tensor>& in) { return sum(in[0]); }, {x});
    for (const auto& dims : kDimSets)
        for (bool keepdim : {false, true}) {
            INFO("dims [" << fmt::format("{}", fmt::join(dims, ", ")) << "] keepdim " << keepdim);
            require_gradcheck([&](const std::vector<Tensor>& in) { return sum(in[0], dims, keepdim); }, {x});
        }
    // repeated use: sum(x) * x
    require_gradcheck([](const std::vector<Tensor>& in) { return mul(sum(in[0], {1}, true), in[0]); }, {param({2, 3}, 2)});
}

// ---- mean -----------------------------------------------------------------------------------------

TEST_CASE("reduce: mean golden values and gradient 1/n", "[reduce]") {
    Tensor x = small(true);
    CHECK(mean(x).item() == 3.5);
    check_values(mean(x, {0}), {2.5, 3.5, 4.5});
    check_values(mean(x, {1}), {3, 4});
    CHECK(mean(x, {-1}, true).shape() == Shape{2, 1});
    CHECK(mean(x, {0, 1}).item() == 3.5);
    mean(x).backward();
    check_values(x.grad(), std::vector<double>(6, 1.0 / 6));
    x.zero_grad();
    sum(mean(x, {0})).backward();
    check_values(x.grad(), std::vector<double>(6, 0.5));
}

TEST_CASE("reduce: mean gradcheck over all elements and every dim set", "[reduce]") {
    Tensor x = param({2, 3, 4}, 3);
    require_gradcheck([](const std::vector<Tensor>& in) { return mean(in[0]); }, {x});
    for (const auto& dims : kDimSets)
        for (bool keepdim : {false, true}) {
            INFO("dims [" << fmt::format("{}", fmt::join(dims, ", ")) << "] keepdim " << keepdim);
            require_gradcheck([&](const std::vector<Tensor>& in) { return mean(in[0], dims, keepdim); }, {x});
        }
}

// ---- max and argmax -------------------------------------------------------------------------------

TEST_CASE("reduce: max golden values - the gradient goes to the maximum", "[reduce]") {
    Tensor x = small(true);
    Tensor m = max(x);
    CHECK(m.shape() == Shape{});
    CHECK(m.item() == 6);
    m.backward();
    check_values(x.grad(), {0, 0, 0, 0, 0, 1});

    x.zero_grad();
    Tensor m0 = max(x, 0);
    CHECK(m0.shape() == Shape{3});
    check_values(m0, {4, 5, 6});
    sum(mul(m0, f64({1, 2, 3}, {3}))).backward();
    check_values(x.grad(), {0, 2, 0, 1, 0, 3});

    x.zero_grad();
    Tensor m1 = max(x, -1, true);
    CHECK(m1.shape() == Shape{2, 1});
    check_values(m1, {5, 6});
    sum(m1).backward();
    check_values(x.grad(), {0, 1, 0, 0, 0, 1});

    // 3-D, middle dim
    Tensor a = reshape(arange(24, {.dtype = DType::Float64}), {2, 3, 4});
    check_values(max(a, 1), {8, 9, 10, 11, 20, 21, 22, 23});
    // 0-d
    Tensor s = f64({-1.5}, {});
    CHECK(max(s, 0).shape() == Shape{});
    CHECK(max(s, 0).item() == -1.5);
    CHECK(argmax(s, 0).item() == 0);
}

TEST_CASE("reduce: max with ties gives the whole gradient to the first maximum", "[reduce]") {
    Tensor x = f64({3, 1, 3, 2, 2, 0}, {2, 3}, true);
    max(x).backward();
    check_values(x.grad(), {1, 0, 0, 0, 0, 0});
    x.zero_grad();
    sum(max(x, 1)).backward();
    check_values(x.grad(), {1, 0, 0, 1, 0, 0});
}

TEST_CASE("reduce: max gradcheck over all elements and each dim, away from ties", "[reduce]") {
    Tensor x = distinct({2, 3, 4}, 4);
    require_gradcheck([](const std::vector<Tensor>& in) { return max(in[0]); }, {x});
    for (std::int64_t dim : {0, 1, 2, -1})
        for (bool keepdim : {false, true}) {
            INFO("dim " << dim << " keepdim " << keepdim);
            require_gradcheck([&](const std::vector<Tensor>& in) { return max(in[0], dim, keepdim); }, {x});
        }
    // max combined with its own input: x - max(x) (the softmax shift)
    require_gradcheck([](const std::vector<Tensor>& in) { return sub(in[0], max(in[0], 1, true)); }, {distinct({3, 4}, 5)});
}

TEST_CASE("reduce: argmax golden values, first of ties, keepdim, int64 and no gradient", "[reduce]") {
    Tensor x = small(true);
    Tensor a0 = argmax(x, 0);
    CHECK(a0.dtype() == DType::Int64);
    CHECK(a0.to_ids() == std::vector<std::int64_t>{1, 0, 1});
    CHECK(argmax(x, 1).to_ids() == std::vector<std::int64_t>{1, 2});
    CHECK(argmax(x, -1, true).shape() == Shape{2, 1});
    CHECK(argmax(x, -1, true).to_ids() == std::vector<std::int64_t>{1, 2});
    CHECK_FALSE(argmax(x, 0).requires_grad());
    CHECK(argmax(f64({1, 3, 3, 0}, {4}), 0).item() == 1);  // ties: the first
    // int64 input works (argmax over token scores already converted to ids, say)
    Tensor ids = Tensor::ids({4, 9, 2, 9, 1, 0}, {2, 3});
    CHECK(argmax(ids, 1).to_ids() == std::vector<std::int64_t>{1, 0});
    Tensor mi = max(ids, 0);
    CHECK(mi.dtype() == DType::Int64);
    CHECK(mi.to_ids() == std::vector<std::int64_t>{9, 9, 2});
    // float32
    CHECK(argmax(Tensor::from({0.5, -1, 2, 1.5}, {2, 2}), 1).to_ids() == std::vector<std::int64_t>{0, 0});
}

// ---- errors ---------------------------------------------------------------------------------------

TEST_CASE("reduce: bad dims are IndexErrors naming the op and the rank", "[reduce][errors]") {
    Tensor x = small();
    CHECK_THROWS_MATCHES(sum(x, {2}), IndexError,
                         Catch::Matchers::Message("sum: dim 2 out of range for a tensor with 2 dims (expected -2 to 1)"));
    CHECK_THROWS_MATCHES(mean(x, {-3}), IndexError,
                         Catch::Matchers::Message("mean: dim -3 out of range for a tensor with 2 dims (expected -2 to 1)"));
    CHECK_THROWS_MATCHES(max(x, 5), IndexError,
                         Catch::Matchers::Message("max: dim 5 out of range for a tensor with 2 dims (expected -2 to 1)"));
    CHECK_THROWS_MATCHES(argmax(x, 2), IndexError,
                         Catch::Matchers::Message("argmax: dim 2 out of range for a tensor with 2 dims (expected -2 to 1)"));
    CHECK_THROWS_AS(sum(x, {2}), std::out_of_range);
    CHECK_THROWS_MATCHES(sum(x, {0, -2}), ShapeError, Catch::Matchers::Message("sum: dim listed twice in [0, -2]"));
    CHECK_THROWS_MATCHES(mean(x, {1, 1}), ShapeError, Catch::Matchers::Message("mean: dim listed twice in [1, 1]"));
}

TEST_CASE("reduce: empty inputs and int64 sums are ShapeErrors naming the op", "[reduce][errors]") {
    CHECK_THROWS_MATCHES(mean(zeros({0})), ShapeError, Catch::Matchers::Message("mean: the tensor [0] is empty"));
    CHECK_THROWS_MATCHES(mean(zeros({2, 0}), {1}), ShapeError,
                         Catch::Matchers::Message("mean: reducing over an empty dim of [2, 0]"));
    CHECK_THROWS_MATCHES(max(zeros({0, 3})), ShapeError, Catch::Matchers::Message("max: the tensor [0, 3] is empty"));
    CHECK_THROWS_MATCHES(max(zeros({2, 0}), 1), ShapeError, Catch::Matchers::Message("max: dim 1 of [2, 0] is empty"));
    CHECK_THROWS_MATCHES(argmax(zeros({2, 0}), -1), ShapeError, Catch::Matchers::Message("argmax: dim 1 of [2, 0] is empty"));
    CHECK_THROWS_MATCHES(sum(Tensor::ids({1, 2}, {2})), ShapeError,
                         Catch::Matchers::Message("sum: expects a floating-point tensor (float32 or float64), got int64"));
    CHECK_THROWS_MATCHES(sum(Tensor()), ShapeError, Catch::Matchers::Message("sum: input is an undefined tensor"));
}
