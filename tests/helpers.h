// Shared helpers for the Catch2 tests: gradcheck assertions and small tensor builders.
#pragma once
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "seqgrad.h"

namespace seqgrad::testing {

// A float64 tensor of the given shape with values drawn uniformly in [lo, hi), requiring grad.
inline Tensor param(const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
    Generator gen(seed);
    return uniform(shape, lo, hi, {.dtype = DType::Float64, .requires_grad = true}, &gen);
}

// Asserts that gradcheck passes and prints its report otherwise.
inline void require_gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs, GradcheckOptions opt = {}) {
    const GradcheckResult r = gradcheck(f, inputs, opt);
    INFO(r.message);
    REQUIRE(r.ok);
    REQUIRE(r.checked > 0);
}

// Every element of t equals expected within margin (no relative slack).
inline void check_values(const Tensor& t, const std::vector<double>& expected, double margin = 1e-12) {
    const auto v = t.to_vector();
    REQUIRE(v.size() == expected.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        INFO("element " << i << " of " << t.str());
        CHECK(v[i] == Approx(expected[i]).epsilon(0).margin(margin));
    }
}

// a and b have the same shape and agree elementwise within tol (absolute and relative).
inline void check_close(const Tensor& a, const Tensor& b, double tol = 1e-12) {
    INFO(a.str() << " vs " << b.str());
    REQUIRE(a.shape() == b.shape());
    CHECK(allclose(a, b, tol, tol));
}

// The matmul-and-linear case of tests/test_blas.cpp and test_bf16.cpp: fixed float32 inputs (seed 5),
// a [37, 29], b [29, 41], w [23, 29], bias [23].
struct MatmulLinearCase {
    Tensor a, b, w, bias;
    MatmulLinearCase() {
        Generator gen(5);
        a = uniform({37, 29}, -1, 1, {}, &gen);
        b = uniform({29, 41}, -1, 1, {}, &gen);
        w = uniform({23, 29}, -1, 1, {}, &gen);
        bias = uniform({23}, -1, 1, {}, &gen);
    }
    // y = a b and z = linear(a, w, bias) under the current gemm settings, then the backward of
    // Σ y² + Σ z²: y, z and the gradients of a, b, w and bias.
    std::vector<Tensor> run() const {
        Tensor a_ = a.clone().set_requires_grad(), b_ = b.clone().set_requires_grad();
        Tensor w_ = w.clone().set_requires_grad(), bias_ = bias.clone().set_requires_grad();
        Tensor y = matmul(a_, b_);
        Tensor z = linear(a_, w_, bias_);
        (sum(y * y) + sum(z * z)).backward();
        return std::vector<Tensor>{y.detach(), z.detach(), a_.grad(), b_.grad(), w_.grad(), bias_.grad()};
    }
};

inline Tensor f64(const std::vector<double>& v, const Shape& shape, bool requires_grad = false) {
    return Tensor::from(v, shape, {.dtype = DType::Float64, .requires_grad = requires_grad});
}

// A fresh directory under the system's temporary directory, unique per process and per object
// (ctest runs test cases in parallel processes), removed with everything in it when destroyed.
struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& name = "dir") {
        static std::atomic<int> counter{0};
        path = std::filesystem::temp_directory_path() /
               ("seqgrad_test_" + name + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;  // a test may have taken away the write permission: give it back first
        std::filesystem::permissions(path, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    // The path of an entry in the directory, as a string.
    std::string operator/(const std::string& name) const { return (path / name).string(); }
    std::string file(const std::string& name) const { return (path / name).string(); }
    // Every entry of the directory, sorted by name (to prove nothing extra, such as a temporary, was left).
    std::vector<std::string> listing() const {
        std::vector<std::string> names;
        for (const auto& e : std::filesystem::directory_iterator(path)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }
};

}  // namespace seqgrad::testing
