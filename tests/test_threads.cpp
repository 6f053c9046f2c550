// matmul split over OpenMP threads (core/matmul.cpp): with OpenBLAS at one thread and two OpenMP
// threads, every product shape and transpose gives what the single-threaded path gives.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "helpers.h"

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
