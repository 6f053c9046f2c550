// Matrix products (core/matmul.cpp): matmul for 2-D, batched 3-D and 3-D x 2-D (a weight broadcast
// over the batch), every transpose_lhs / transpose_rhs combination checked against matmul of
// explicitly transposed copies (values and gradients), and linear with and without bias on 2-D
// and 3-D input. Golden values by hand, float64 gradchecks, and the exact error messages.
#include <cmath>

#include "helpers.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

// The last two dims swapped, as an explicit copy.
Tensor t_copy(const Tensor& x) { return transpose(x, -1, -2).detach(); }

struct Grads2 {
    Tensor value, dA, dB;
};

// C = f(A, B), then backward with a fixed upstream gradient; returns C and both gradients.
Grads2 run(const Tensor& A0, const Tensor& B0, const std::function<Tensor(const Tensor&, const Tensor&)>& f,
           std::uint64_t seed) {
    Tensor A = A0.detach().clone().set_requires_grad(true);
    Tensor B = B0.detach().clone().set_requires_grad(true);
    Tensor C = f(A, B);
    Generator gen(seed);
    C.backward(uniform(C.shape(), -1, 1, {.dtype = C.dtype()}, &gen));
    return {C.detach(), A.grad(), B.grad()};
}

}  // namespace

// ---- golden values --------------------------------------------------------------------------------

TEST_CASE("matmul: 2x2 golden values and gradients by hand", "[matmul]") {
    Tensor A = f64({1, 2, 3, 4}, {2, 2}, true);
    Tensor B = f64({5, 6, 7, 8}, {2, 2}, true);
    Tensor C = matmul(A, B);
    CHECK(C.shape() == Shape{2, 2});
    check_values(C, {19, 22, 43, 50});
    sum(C).backward();
    // dA = 1 B^T: each row holds B's row sums; dB = A^T 1: each column holds A's column sums
    check_values(A.grad(), {11, 15, 11, 15});
    check_values(B.grad(), {4, 4, 6, 6});

    // non-square: [1, 3] x [3, 2]
    check_values(matmul(f64({1, 2, 3}, {1, 3}), f64({1, 0, 0, 1, 1, 1}, {3, 2})), {4, 5});
    // float32 through sgemm
    Tensor Cf = matmul(Tensor::from({1, 2, 3, 4}, {2, 2}), Tensor::from({5, 6, 7, 8}, {2, 2}));
    CHECK(Cf.dtype() == DType::Float32);
    check_values(Cf, {19, 22, 43, 50});
}

TEST_CASE("matmul: batched 3-D and 3-D x 2-D golden values", "[matmul]") {
    // batch 0: identity times [[1,2],[3,4]]; batch 1: [[2,0],[0,2]] times [[1,1],[1,1]]
    Tensor A = f64({1, 0, 0, 1, 2, 0, 0, 2}, {2, 2, 2});
    Tensor B = f64({1, 2, 3, 4, 1, 1, 1, 1}, {2, 2, 2});
    Tensor C = matmul(A, B);
    CHECK(C.shape() == Shape{2, 2, 2});
    check_values(C, {1, 2, 3, 4, 2, 2, 2, 2});
    // the same weight for every batch: [2, 2, 2] x [2, 3]
    Tensor W = f64({1, 0, 1, 0, 1, 1}, {2, 3});
    Tensor D = matmul(B, W);
    CHECK(D.shape() == Shape{2, 2, 3});
    check_values(D, {1, 2, 3, 3, 4, 7, 1, 1, 2, 1, 1, 2});
}

TEST_CASE("matmul: float32 agrees with a float64 reference", "[matmul]") {
    Generator gen(3);
    Tensor A = uniform({5, 7}, -1, 1, {}, &gen), B = uniform({7, 3}, -1, 1, {}, &gen);
    Tensor ref = matmul(A.to(DType::Float64), B.to(DType::Float64));
    CHECK(allclose(matmul(A, B).to(DType::Float64), ref, 1e-5, 1e-6));
    const auto a = A.to_vector(), b = B.to_vector(), c = ref.to_vector();
    for (int i = 0; i < 5; ++i)
        for (int j = 0; j < 3; ++j) {
            double s = 0;
            for (int k = 0; k < 7; ++k) s += a[i * 7 + k] * b[k * 3 + j];
            CHECK(c[i * 3 + j] == Approx(s).epsilon(1e-12));
        }
}

TEST_CASE("matmul: empty dims give empty or zero results", "[matmul]") {
    Tensor C = matmul(zeros({2, 0}), zeros({0, 3}));  // K = 0: a sum of nothing
    CHECK(C.shape() == Shape{2, 3});
    check_values(C, {0, 0, 0, 0, 0, 0});
    CHECK(matmul(zeros({0, 4}), zeros({4, 3})).shape() == Shape{0, 3});
    CHECK(matmul(zeros({2, 4}), zeros({4, 0})).shape() == Shape{2, 0});
    CHECK(matmul(zeros({0, 2, 4}), zeros({0, 4, 3})).shape() == Shape{0, 2, 3});
    CHECK(matmul(zeros({2, 0, 4}), zeros({4, 3})).shape() == Shape{2, 0, 3});
    // gradients of a K = 0 product are empty, of an N = 0 product zero
    Tensor A = zeros({2, 4}, {.dtype = DType::Float64, .requires_grad = true});
    Tensor B = zeros({4, 0}, {.dtype = DType::Float64, .requires_grad = true});
    matmul(A, B).backward(zeros({2, 0}, {.dtype = DType::Float64}));
    check_values(A.grad(), std::vector<double>(8, 0.0));
    CHECK(B.grad().shape() == Shape{4, 0});
}

// ---- gradcheck ------------------------------------------------------------------------------------

TEST_CASE("matmul: gradcheck 2-D, batched 3-D, 3-D x 2-D and repeated use", "[matmul]") {
    require_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {param({3, 4}, 1), param({4, 5}, 2)});
    require_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
                      {param({2, 3, 4}, 3), param({2, 4, 5}, 4)});
    require_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
                      {param({2, 3, 4}, 5), param({4, 5}, 6)});
    require_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[0]); }, {param({3, 3}, 7)});
    require_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[0], {.transpose_rhs = true}); },
                      {param({3, 4}, 8)});
    require_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[0], {.transpose_lhs = true}); },
                      {param({2, 3, 4}, 9)});
    // a chain: (A B) C with B used twice
    require_gradcheck([](const std::vector<Tensor>& in) { return matmul(matmul(in[0], in[1]), in[1]); },
                      {param({2, 3}, 10), param({3, 3}, 11)});
}

// ---- transposes -----------------------------------------------------------------------------------

TEST_CASE("matmul: every transpose combination equals matmul of transposed copies, 2-D", "[matmul]") {
    const std::int64_t M = 3, K = 4, N = 5;
    for (bool ta : {false, true})
        for (bool tb : {false, true}) {
            INFO("transpose_lhs " << ta << " transpose_rhs " << tb);
            Tensor A = param(ta ? Shape{K, M} : Shape{M, K}, 20);
            Tensor B = param(tb ? Shape{N, K} : Shape{K, N}, 21);
            const MatmulOptions opt{.transpose_lhs = ta, .transpose_rhs = tb};
            auto flagged = run(A, B, [&](const Tensor& a, const Tensor& b) { return matmul(a, b, opt); }, 22);
            auto explicit_ = run(A, B,
                                 [&](const Tensor& a, const Tensor& b) {
                                     return matmul(ta ? transpose(a, 0, 1) : a, tb ? transpose(b, 0, 1) : b);
                                 },
                                 22);
            CHECK(flagged.value.shape() == Shape{M, N});
            check_close(flagged.value, explicit_.value);
            check_close(flagged.dA, explicit_.dA);
            check_close(flagged.dB, explicit_.dB);
            // and against a copy made without autograd
            check_close(flagged.value, matmul(ta ? t_copy(A) : A.detach(), tb ? t_copy(B) : B.detach()));
            require_gradcheck([&](const std::vector<Tensor>& in) { return matmul(in[0], in[1], opt); }, {A, B});
        }
}

TEST_CASE("matmul: every transpose combination equals matmul of transposed copies, batched 3-D", "[matmul]") {
    const std::int64_t Bt = 2, M = 3, K = 4, N = 2;
    for (bool ta : {false, true})
        for (bool tb : {false, true}) {
            INFO("transpose_lhs " << ta << " transpose_rhs " << tb);
            Tensor A = param(ta ? Shape{Bt, K, M} : Shape{Bt, M, K}, 30);
            Tensor B = param(tb ? Shape{Bt, N, K} : Shape{Bt, K, N}, 31);
            const MatmulOptions opt{.transpose_lhs = ta, .transpose_rhs = tb};
            auto flagged = run(A, B, [&](const Tensor& a, const Tensor& b) { return matmul(a, b, opt); }, 32);
            auto explicit_ = run(A, B,
                                 [&](const Tensor& a, const Tensor& b) {
                                     return matmul(ta ? transpose(a, 1, 2) : a, tb ? transpose(b, 1, 2) : b);
                                 },
                                 32);
            CHECK(flagged.value.shape() == Shape{Bt, M, N});
            check_close(flagged.value, explicit_.value);
            check_close(flagged.dA, explicit_.dA);
            check_close(flagged.dB, explicit_.dB);
            require_gradcheck([&](const std::vector<Tensor>& in) { return matmul(in[0], in[1], opt); }, {A, B});
        }
}

TEST_CASE("matmul: 3-D x 2-D with transpose_rhs equals the transposed copy - batched = per-batch 2-D", "[matmul]") {
    Tensor A = param({2, 3, 4}, 40);
    Tensor W = param({5, 4}, 41);  // [out, in], as Linear stores it
    auto flagged = run(A, W, [](const Tensor& a, const Tensor& w) { return matmul(a, w, {.transpose_rhs = true}); }, 42);
    auto explicit_ = run(A, W, [](const Tensor& a, const Tensor& w) { return matmul(a, transpose(w, 0, 1)); }, 42);
    CHECK(flagged.value.shape() == Shape{2, 3, 5});
    check_close(flagged.value, explicit_.value);
    check_close(flagged.dA, explicit_.dA);
    check_close(flagged.dB, explicit_.dB);
    require_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1], {.transpose_rhs = true}); }, {A, W});

    // each batch of a batched product is the 2-D product of that batch
    Tensor X = param({3, 2, 4}, 43), Y = param({3, 4, 2}, 44);
    Tensor Z = matmul(X, Y);
    for (std::int64_t b = 0; b < 3; ++b) check_close(select(Z, 0, b), matmul(select(X, 0, b), select(Y, 0, b)));
}

// ---- errors ---------------------------------------------------------------------------------------

TEST_CASE("matmul: errors name the op, the problem and both shapes", "[matmul][errors]") {
    CHECK_THROWS_MATCHES(matmul(zeros({32, 128}), zeros({64, 10})), ShapeError,
                         Catch::Matchers::Message("matmul: inner dimensions differ: lhs [32, 128] vs rhs [64, 10] (128 != 64)"));
    CHECK_THROWS_MATCHES(matmul(zeros({128, 32}), zeros({64, 10}), {.transpose_lhs = true}), ShapeError,
                         Catch::Matchers::Message("matmul: inner dimensions differ: lhs [128, 32]^T vs rhs [64, 10] (128 != 64)"));
    CHECK_THROWS_MATCHES(matmul(zeros({32, 128}), zeros({10, 64}), {.transpose_rhs = true}), ShapeError,
                         Catch::Matchers::Message("matmul: inner dimensions differ: lhs [32, 128] vs rhs [10, 64]^T (128 != 64)"));
    CHECK_THROWS_MATCHES(matmul(zeros({2, 3, 4}), zeros({2, 5, 6})), ShapeError,
                         Catch::Matchers::Message("matmul: inner dimensions differ: lhs [2, 3, 4] vs rhs [2, 5, 6] (4 != 5)"));
    // the 3-D x 2-D case reports the caller's shapes, not an internal reshape
    CHECK_THROWS_MATCHES(matmul(zeros({2, 3, 4}), zeros({5, 6})), ShapeError,
                         Catch::Matchers::Message("matmul: inner dimensions differ: lhs [2, 3, 4] vs rhs [5, 6] (4 != 5)"));
    CHECK_THROWS_MATCHES(matmul(zeros({2, 3, 4}), zeros({3, 4, 5})), ShapeError,
                         Catch::Matchers::Message("matmul: batch sizes differ: lhs [2, 3, 4] vs rhs [3, 4, 5] (2 != 3)"));
    CHECK_THROWS_MATCHES(matmul(zeros({3, 4}), zeros({2, 4, 5})), ShapeError,
                         Catch::Matchers::Message("matmul: expects 2-D x 2-D, 3-D x 3-D or 3-D x 2-D, got lhs [3, 4] vs rhs [2, 4, 5]"));
    CHECK_THROWS_MATCHES(matmul(zeros({4}), zeros({4, 5})), ShapeError,
                         Catch::Matchers::Message("matmul: expects 2-D x 2-D, 3-D x 3-D or 3-D x 2-D, got lhs [4] vs rhs [4, 5]"));
    CHECK_THROWS_MATCHES(matmul(zeros({2, 3, 4}), zeros({4, 5}), {.transpose_lhs = true}), ShapeError,
                         Catch::Matchers::Message("matmul: transpose_lhs is not supported for a 3-D lhs [2, 3, 4] with a 2-D rhs [4, 5]"));
    CHECK_THROWS_MATCHES(matmul(zeros({2, 2}), zeros({2, 2}, {.dtype = DType::Float64})), ShapeError,
                         Catch::Matchers::Message("matmul: dtypes differ: float32 vs float64 (convert one with .to())"));
    CHECK_THROWS_MATCHES(matmul(Tensor::ids({1, 2, 3, 4}, {2, 2}), Tensor::ids({1, 2, 3, 4}, {2, 2})), ShapeError,
                         Catch::Matchers::Message("matmul: expects a floating-point tensor (float32 or float64), got int64"));
    CHECK_THROWS_MATCHES(matmul(Tensor(), zeros({2, 2})), ShapeError, Catch::Matchers::Message("matmul: lhs is an undefined tensor"));
    CHECK_THROWS_AS(matmul(zeros({32, 128}), zeros({64, 10})), std::invalid_argument);
}

// ---- linear ---------------------------------------------------------------------------------------

TEST_CASE("linear: golden values with and without bias, 2-D and 3-D input", "[matmul]") {
    Tensor x = f64({1, 2, -1, 3}, {2, 2});
    Tensor W = f64({1, 0, 0, 1, 1, 1}, {3, 2});  // [out = 3, in = 2]
    Tensor b = f64({0.5, -0.5, 0}, {3});
    Tensor y = linear(x, W, b);
    CHECK(y.shape() == Shape{2, 3});
    check_values(y, {1.5, 1.5, 3, -0.5, 2.5, 2});
    check_values(linear(x, W), {1, 2, 3, -1, 3, 2});
    Tensor x3 = reshape(x, {2, 1, 2});
    Tensor y3 = linear(x3, W, b);
    CHECK(y3.shape() == Shape{2, 1, 3});
    check_values(y3, {1.5, 1.5, 3, -0.5, 2.5, 2});
    // a single vector
    check_values(linear(f64({1, 2}, {2}), W, b), {1.5, 1.5, 3});
    // gradients by hand for y = sum(x W^T + b): dx = 1 W (column sums of W), dW = 1^T x, db = rows
    Tensor xg = x.clone().set_requires_grad(true), Wg = W.clone().set_requires_grad(true), bg = b.clone().set_requires_grad(true);
    sum(linear(xg, Wg, bg)).backward();
    check_values(xg.grad(), {2, 2, 2, 2});
    check_values(Wg.grad(), {0, 5, 0, 5, 0, 5});
    check_values(bg.grad(), {2, 2, 2});
}

TEST_CASE("linear: equals matmul with transpose_rhs plus bias, values and gradients", "[matmul]") {
    Tensor x = param({2, 3, 4}, 50), W = param({5, 4}, 51), b = param({5}, 52);
    auto fused = [&](const Tensor& xx, const Tensor& ww, const Tensor& bb) { return linear(xx, ww, bb); };
    auto composite = [&](const Tensor& xx, const Tensor& ww, const Tensor& bb) {
        return add(matmul(xx, ww, {.transpose_rhs = true}), bb);
    };
    std::vector<Tensor> grads[2];
    Tensor values[2];
    int i = 0;
    for (const auto& f : {std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>(fused), std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>(composite)}) {
        for (auto* t : {&x, &W, &b}) t->zero_grad();
        Tensor y = f(x, W, b);
        y.backward(reshape(arange(30, {.dtype = DType::Float64}), {2, 3, 5}));
        values[i] = y.detach();
        grads[i] = {x.grad(), W.grad(), b.grad()};
        ++i;
    }
    check_close(values[0], values[1]);
    for (int k = 0; k < 3; ++k) check_close(grads[0][k], grads[1][k]);
}

TEST_CASE("linear: gradcheck over input, weight and bias - with and without bias - 3-D input", "[matmul]") {
    require_gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                      {param({3, 4}, 60), param({2, 4}, 61), param({2}, 62)});
    require_gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                      {param({2, 3, 4}, 63), param({5, 4}, 64), param({5}, 65)});
    require_gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); }, {param({2, 3, 4}, 66), param({5, 4}, 67)});
    // a square layer applied twice (shared weight)
    require_gradcheck([](const std::vector<Tensor>& in) { return linear(tanh(linear(in[0], in[1], in[2])), in[1], in[2]); },
                      {param({3, 4}, 68), param({4, 4}, 69), param({4}, 70)});
}

TEST_CASE("linear: zero in_features gives the bias in every row", "[matmul]") {
    Tensor y = linear(zeros({5, 0}), zeros({3, 0}), Tensor::from({1, 2, 3}, {3}));
    CHECK(y.shape() == Shape{5, 3});
    for (std::int64_t r = 0; r < 5; ++r) check_values(select(y, 0, r), {1, 2, 3});
    check_values(linear(zeros({2, 0}), zeros({3, 0})), std::vector<double>(6, 0.0));
}

TEST_CASE("linear: errors name the shapes", "[matmul][errors]") {
    Tensor W = zeros({3, 2});
    CHECK_THROWS_MATCHES(linear(zeros({2, 2}), zeros({3})), ShapeError,
                         Catch::Matchers::Message("linear: weight must be [out_features, in_features], got [3]"));
    CHECK_THROWS_MATCHES(linear(zeros({2, 5}), W), ShapeError,
                         Catch::Matchers::Message("linear: input [2, 5] does not end in in_features = 2 (weight [3, 2])"));
    CHECK_THROWS_MATCHES(linear(zeros({2, 2}), W, zeros({2})), ShapeError,
                         Catch::Matchers::Message("linear: bias [2] must be [3] to match weight [3, 2]"));
    CHECK_THROWS_MATCHES(linear(zeros({2, 2}), W, zeros({3}, {.dtype = DType::Float64})), ShapeError,
                         Catch::Matchers::Message("linear: dtypes differ: float32 vs float64 (convert one with .to())"));
    CHECK_THROWS_MATCHES(linear(zeros({2, 2}, {.dtype = DType::Float64}), W), ShapeError,
                         Catch::Matchers::Message("linear: dtypes differ: float64 vs float32 (convert one with .to())"));
    CHECK_THROWS_MATCHES(linear(zeros({}), W), ShapeError,
                         Catch::Matchers::Message("linear: input [] does not end in in_features = 2 (weight [3, 2])"));
}
