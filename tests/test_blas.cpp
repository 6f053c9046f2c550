// The gemm seam (core/blas.h): every built backend against the reference loops, which are in turn
// checked against sums written out; every transpose flag, leading dimensions larger than the rows,
// beta = 0 (C not read, even when it holds NaN) and beta = 1 (accumulation), one-row and one-column
// products (OpenBLAS's gemv path), K = 0, both dtypes, and the split over two threads.
// The matmul/linear test set also runs once per built backend (tests/CMakeLists.txt, SEQGRAD_GEMM).
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <tuple>

#include "core/blas.h"
#include "helpers.h"

using namespace seqgrad;

namespace {

template <typename T>
std::vector<T> random_values(std::size_t n, std::uint64_t seed) {
    Generator gen(seed);
    const auto v = uniform({static_cast<std::int64_t>(n)}, -1, 1, {.dtype = DType::Float64}, &gen).to_vector();
    return {v.begin(), v.end()};
}

// One product through `gemm_with(backend)` (threads = 1) or `gemm` (the split, current backend),
// against the definition summed in long double. Leading dimensions are padded by `pad` columns.
template <typename T>
void check_product(blas::Backend backend, bool split, bool ta, bool tb, int M, int N, int K, T beta, int pad,
                   double tol) {
    const int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    const int lda = ac + pad, ldb = bc + pad, ldc = N + pad;
    const auto A = random_values<T>(static_cast<std::size_t>(ar) * lda + 1, 11);
    const auto B = random_values<T>(static_cast<std::size_t>(br) * ldb + 1, 12);
    std::vector<T> C = random_values<T>(static_cast<std::size_t>(M) * ldc + 1, 13);
    if (beta == T(0)) std::fill(C.begin(), C.end(), static_cast<T>(std::nan("")));  // must not be read
    const std::vector<T> C0 = C;
    if (split) {
        blas::BackendGuard use(backend);
        blas::gemm(ta, tb, M, N, K, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
    } else {
        blas::gemm_with(backend, ta, tb, M, N, K, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
    }
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
            long double want = beta == T(0) ? 0.0L : static_cast<long double>(beta) * C0[i * ldc + j];
            for (int k = 0; k < K; ++k)
                want += static_cast<long double>(ta ? A[k * lda + i] : A[i * lda + k]) *
                        static_cast<long double>(tb ? B[j * ldb + k] : B[k * ldb + j]);
            INFO("C[" << i << ", " << j << "]");
            REQUIRE(std::abs(static_cast<double>(C[i * ldc + j] - static_cast<T>(want))) <= tol * (1 + K));
        }
    // The padding after each row of C is never written.
    for (int i = 0; i < M; ++i)
        for (int j = N; j < ldc; ++j)
            if (!(std::isnan(C0[i * ldc + j]) && std::isnan(C[i * ldc + j]))) REQUIRE(C[i * ldc + j] == C0[i * ldc + j]);
}

template <typename T>
void check_every_case(blas::Backend backend, double tol) {
    const std::vector<std::tuple<int, int, int>> shapes = {
        {3, 5, 7}, {1, 9, 4}, {6, 1, 5}, {1, 1, 3}, {1, 7, 1}, {17, 33, 65}, {2, 3, 0}, {40, 70, 96}};
    for (const auto& [M, N, K] : shapes)
        for (const bool ta : {false, true})
            for (const bool tb : {false, true})
                for (const T beta : {T(0), T(1), T(0.5)})
                    for (const int pad : {0, 3}) {
                        INFO(blas::backend_name(backend) << " M " << M << " N " << N << " K " << K << " ta " << ta
                                                          << " tb " << tb << " beta " << beta << " pad " << pad);
                        check_product<T>(backend, false, ta, tb, M, N, K, beta, pad, tol);
                    }
}

}  // namespace

TEST_CASE("blas: every built backend computes the definition for every flag, stride, beta and edge shape", "[blas]") {
    for (const blas::Backend b : blas::built_backends()) {
        check_every_case<float>(b, 2e-6);
        check_every_case<double>(b, 1e-14);
    }
}

TEST_CASE("blas: the split over two threads gives the definition with every backend", "[blas][threads]") {
    const int before = omp_get_max_threads();
    blas::set_num_threads(2);
    for (const blas::Backend b : blas::built_backends())
        for (const bool ta : {false, true})
            for (const bool tb : {false, true}) {
                INFO(blas::backend_name(b) << " ta " << ta << " tb " << tb);
                check_product<float>(b, true, ta, tb, 130, 70, 200, 1.0f, 2, 2e-6);  // rows split
                check_product<float>(b, true, ta, tb, 40, 300, 180, 0.0f, 0, 2e-6);  // columns split
            }
    blas::set_num_threads(before);
}

TEST_CASE("blas: gemv through the seam equals the definition, both dtypes, strided vectors", "[blas]") {
    for (const blas::Backend b : blas::built_backends()) {
        blas::BackendGuard use(b);
        for (const bool tx : {false, true}) {
            const int rows = 5, cols = 4, ldx = 6, incx = 2, incy = 3;
            const auto X = random_values<double>(rows * ldx, 21);
            const auto x = random_values<double>(8 * incx, 22);
            std::vector<double> y = random_values<double>(8 * incy, 23);
            const std::vector<double> y0 = y;
            blas::gemv(tx, rows, cols, X.data(), ldx, x.data(), incx, 1.0, y.data(), incy);
            const int out = tx ? cols : rows, in = tx ? rows : cols;
            for (int i = 0; i < out; ++i) {
                double want = y0[i * incy];
                for (int k = 0; k < in; ++k) want += (tx ? X[k * ldx + i] : X[i * ldx + k]) * x[k * incx];
                CHECK(y[i * incy] == Approx(want).epsilon(1e-13));
            }
            std::vector<float> Xf(X.begin(), X.end()), xf(x.begin(), x.end()), yf(y.size(), std::nanf(""));
            blas::gemv(tx, rows, cols, Xf.data(), ldx, xf.data(), incx, 0.0f, yf.data(), incy);
            for (int i = 0; i < out; ++i) {
                double want = 0;
                for (int k = 0; k < in; ++k) want += (tx ? X[k * ldx + i] : X[i * ldx + k]) * x[k * incx];
                CHECK(yf[i * incy] == Approx(want).epsilon(1e-5));
            }
        }
    }
}

TEST_CASE("blas: backend names, the default, SEQGRAD_GEMM values and errors", "[blas][errors]") {
    const auto built = blas::built_backends();
    REQUIRE(built.back() == blas::Backend::Reference);
    CHECK(blas::backend_built(blas::Backend::OpenBLAS));
    CHECK(blas::backend_from_env(nullptr) == built.front());  // the fastest built one
    CHECK(blas::backend_from_env("") == built.front());
    for (const blas::Backend b : built) {
        CHECK(blas::parse_backend(blas::backend_name(b)) == b);
        CHECK(blas::backend_from_env(blas::backend_name(b)) == b);
        blas::BackendGuard use(b);
        CHECK(blas::backend() == b);
    }
    if (blas::backend_built(blas::Backend::OneDNN)) CHECK(built.front() == blas::Backend::OneDNN);
    CHECK_THROWS_AS(blas::parse_backend("mkl"), ShapeError);
    CHECK_THROWS_WITH(blas::parse_backend("mkl"),
                      "gemm backend 'mkl' is unknown; this build has: " + blas::built_backends_str());
    CHECK_THROWS_WITH(blas::backend_from_env("cublas"),
                      "SEQGRAD_GEMM=cublas: not a gemm backend (this build has: " + blas::built_backends_str() + ")");
    if (!blas::backend_built(blas::Backend::OneDNN)) {
        CHECK_THROWS_WITH(blas::backend_from_env("onednn"),
                          Catch::Contains("SEQGRAD_GEMM=onednn: this build has no onednn backend"));
        CHECK_THROWS_WITH(blas::set_backend(blas::Backend::OneDNN),
                          Catch::Contains("gemm backend 'onednn' is not in this build"));
    }
    CHECK_THROWS_WITH(blas::set_num_threads(0), "threads must be at least 1, got 0");
}

TEST_CASE("blas: the matmul op gives the same values and gradients on every backend", "[blas][matmul]") {
    const seqgrad::testing::MatmulLinearCase c;
    auto run = [&](blas::Backend backend) {
        blas::BackendGuard use(backend);
        return c.run();
    };
    const auto want = run(blas::Backend::Reference);
    for (const blas::Backend b : blas::built_backends()) {
        const auto got = run(b);
        for (std::size_t i = 0; i < want.size(); ++i) {
            INFO(blas::backend_name(b) << " tensor " << i);
            CHECK(allclose(got[i], want[i], 1e-5, 1e-5));
        }
    }
}
