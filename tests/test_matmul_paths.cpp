// The special paths inside matmul and linear (core/matmul.cpp): products split over OpenMP threads
// (with OpenBLAS at one thread and two OpenMP threads, every shape and transpose gives what the
// single-threaded path gives), and one-row / one-column products done as gemv.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "helpers.h"
#include "layers/rnn.h"

using namespace seqgrad;

namespace {
struct ThreadSetting {
    ThreadSetting(int blas, int omp) : blas_(openblas_get_num_threads()), omp_(omp_get_max_threads()) {
        openblas_set_num_threads(blas);
        omp_set_num_threads(omp);
    }
    ~ThreadSetting() {
        openblas_set_num_threads(blas_);
        omp_set_num_threads(omp_);
    }
    int blas_, omp_;
};

// Forward and gradients of linear and of matmul with every transpose flag, float32.
std::vector<Tensor> products(std::int64_t M, std::int64_t K, std::int64_t N) {
    Generator gen(7);
    std::vector<Tensor> out;
    Tensor x = uniform({M, K}, -1, 1, {.requires_grad = true}, &gen);
    Tensor w = uniform({N, K}, -1, 1, {.requires_grad = true}, &gen);
    Tensor b = uniform({N}, -1, 1, {.requires_grad = true}, &gen);
    Tensor y = linear(x, w, b);
    sum(y * y).backward();
    out.insert(out.end(), {y.detach(), x.grad(), w.grad(), b.grad()});
    for (const bool ta : {false, true})
        for (const bool tb : {false, true}) {
            Tensor a = uniform(ta ? Shape{K, M} : Shape{M, K}, -1, 1, {.requires_grad = true}, &gen);
            Tensor c = uniform(tb ? Shape{N, K} : Shape{K, N}, -1, 1, {.requires_grad = true}, &gen);
            Tensor z = matmul(a, c, {.transpose_lhs = ta, .transpose_rhs = tb});
            sum(z * z).backward();
            out.insert(out.end(), {z.detach(), a.grad(), c.grad()});
        }
    return out;
}
}  // namespace

TEST_CASE("threads: products split over OpenMP threads equal the single-threaded ones", "[threads][matmul]") {
    for (const auto& [M, K, N] : {std::tuple{200, 64, 70}, std::tuple{40, 96, 500}, std::tuple{333, 129, 257}}) {
        INFO("M " << M << " K " << K << " N " << N);
        std::vector<Tensor> one, two;
        {
            ThreadSetting s(1, 1);
            one = products(M, K, N);
        }
        {
            ThreadSetting s(1, 2);
            two = products(M, K, N);
        }
        REQUIRE(one.size() == two.size());
        for (std::size_t i = 0; i < one.size(); ++i) {
            const auto a = one[i].to_vector(), b = two[i].to_vector();
            double worst = 0, scale = 0;
            for (std::size_t j = 0; j < a.size(); ++j) worst = std::max(worst, std::abs(a[j] - b[j])), scale = std::max(scale, std::abs(a[j]));
            INFO("tensor " << i << ": largest difference " << worst << " for values up to " << scale);
            CHECK(worst <= 1e-5 * scale);
        }
    }
}

TEST_CASE("matmul: one-row and one-column products (the gemv path) equal the definition", "[matmul]") {
    // Every transpose flag, M = 1 or N = 1, float64 against sums written out, then gradcheck.
    for (const auto& [M, K, N] : {std::tuple{1, 5, 4}, std::tuple{4, 5, 1}, std::tuple{1, 3, 1}})
        for (const bool ta : {false, true})
            for (const bool tb : {false, true}) {
                INFO("M " << M << " K " << K << " N " << N << " ta " << ta << " tb " << tb);
                const Tensor a = seqgrad::testing::param(ta ? Shape{K, M} : Shape{M, K}, 51);
                const Tensor b = seqgrad::testing::param(tb ? Shape{N, K} : Shape{K, N}, 52);
                const Tensor c = matmul(a, b, {.transpose_lhs = ta, .transpose_rhs = tb});
                REQUIRE(c.shape() == Shape{M, N});
                for (int m = 0; m < M; ++m)
                    for (int n = 0; n < N; ++n) {
                        double want = 0;
                        for (int k = 0; k < K; ++k)
                            want += (ta ? a.at({k, m}) : a.at({m, k})) * (tb ? b.at({n, k}) : b.at({k, n}));
                        CHECK(c.at({m, n}) == Approx(want).epsilon(1e-12));
                    }
                seqgrad::testing::require_gradcheck(
                    [&](const std::vector<Tensor>& in) {
                        return matmul(in[0], in[1], {.transpose_lhs = ta, .transpose_rhs = tb});
                    },
                    {a, b});
            }
    // linear on one row (a batch-1 step), float32, with a buffer that held NaN before.
    Generator gen(9);
    const Tensor x = uniform({1, 6}, -1, 1, {}, &gen), w = uniform({7, 6}, -1, 1, {}, &gen);
    { Tensor junk = full({1, 7}, std::nan("")); }  // freed into the caching allocator, maybe reused below
    const Tensor y = linear(x, w, Tensor());
    for (int j = 0; j < 7; ++j) {
        double want = 0;
        for (int k = 0; k < 6; ++k) want += x.at({0, k}) * w.at({j, k});
        CHECK(y.at({0, j}) == Approx(want).epsilon(1e-5));
    }
}

TEST_CASE("matmul: matmul_accumulate adds into a buffer and checks its shapes", "[matmul]") {
    const Tensor a = seqgrad::testing::f64({1, 2, 3, 4, 5, 6}, {3, 2});  // used transposed: [2, 3]
    const Tensor b = seqgrad::testing::f64({1, 0, 0, 1, 1, 1}, {3, 2});
    Tensor out = seqgrad::testing::f64({10, 20, 30, 40}, {2, 2});
    matmul_accumulate(out, a, b, {.transpose_lhs = true});  // out += aᵀ b
    seqgrad::testing::check_values(out, {10 + 1 + 5, 20 + 3 + 5, 30 + 2 + 6, 40 + 4 + 6});
    CHECK_THROWS_WITH(matmul_accumulate(zeros({3, 3}, {.dtype = DType::Float64}), a, b, {.transpose_lhs = true}),
                      "matmul_accumulate: out [3, 3] cannot take op(lhs) op(rhs) for lhs [3, 2] (transposed: true), "
                      "rhs [3, 2] (transposed: false)");
}

TEST_CASE("autograd: a weight used at every step accumulates into its gradient buffer exactly", "[autograd][matmul]") {
    // The second and later uses of w find its gradient buffer offered (Grads::accumulator) and add
    // into it; the result must equal the sum of the per-use gradients, also when someone holds the
    // gradient (then the engine does not offer the buffer and accumulates as before, in place as
    // PyTorch does: the held handle sees the sum).
    Generator gen(3);
    Tensor w = uniform({4, 3}, -1, 1, {.dtype = DType::Float64, .requires_grad = true}, &gen);
    Tensor h = uniform({2, 4}, -1, 1, {.dtype = DType::Float64}, &gen);
    std::vector<Tensor> xs;
    for (int t = 0; t < 5; ++t) xs.push_back(uniform({2, 3}, -1, 1, {.dtype = DType::Float64}, &gen));
    auto loss = [&] {
        Tensor acc = zeros({2, 4}, {.dtype = DType::Float64});
        for (auto& x : xs) acc = tanh(acc + linear(x, w));
        return sum(acc * h);
    };
    loss().backward();
    const Tensor first = w.grad().clone();
    Tensor held = w.grad();
    loss().backward();
    CHECK(allclose(w.grad(), first * 2.0, 1e-12, 1e-12));
    CHECK(allclose(held, w.grad(), 0, 0));
    held = Tensor();
    loss().backward();  // nobody holds it now: offered and added into
    CHECK(allclose(w.grad(), first * 3.0, 1e-12, 1e-12));
    seqgrad::testing::require_gradcheck([&](const std::vector<Tensor>& in) {
        Tensor acc = zeros({2, 4}, {.dtype = DType::Float64});
        for (auto& x : xs) acc = tanh(acc + linear(x, in[0]));
        return sum(acc * h);
    }, {w});
}

TEST_CASE("autograd: deferred weight gradients of a batch-1 unroll equal the per-use ones", "[autograd][matmul]") {
    // Rows < Grads::kDeferMaxRows, so linear and the fused GRU cell hand their weight gradients to the
    // engine as products, summed in one gemm at the end; set_fast_paths(false) is the plain path.
    auto run = [](bool defer) {
        FastPathGuard fast(defer);
        Generator gen(8);
        nn::GRU gru({.input_size = 3, .hidden_size = 4, .dtype = DType::Float64, .generator = &gen});
        Tensor w = uniform({2, 4}, -1, 1, {.dtype = DType::Float64, .requires_grad = true}, &gen);
        Tensor x = uniform({1, 6, 3}, -1, 1, {.dtype = DType::Float64, .requires_grad = true}, &gen);
        Tensor out = gru.forward(x).output;  // [1, 6, 4]
        Tensor loss = sum(tanh(linear(out, w)));
        for (std::int64_t t = 0; t < 6; ++t) loss = loss + sum(linear(select(out, 1, t), w) * static_cast<double>(t));
        loss.backward();
        std::vector<Tensor> grads = {x.grad(), w.grad()};
        for (auto& [name, p] : gru.named_parameters()) grads.push_back(p.grad());
        return grads;
    };
    const auto deferred = run(true), plain = run(false);
    REQUIRE(deferred.size() == plain.size());
    for (std::size_t i = 0; i < plain.size(); ++i) {
        INFO("gradient " << i);
        CHECK(allclose(deferred[i], plain[i], 1e-12, 1e-12));
    }
    const Tensor h = seqgrad::testing::param({1, 4}, 61);
    seqgrad::testing::require_gradcheck(
        [&](const std::vector<Tensor>& in) {
            Tensor s = h;
            for (int t = 0; t < 4; ++t) s = tanh(linear(s, in[0]));
            return s;
        },
        {seqgrad::testing::param({4, 4}, 62)});
}
