// Shared helpers for the Catch2 tests: gradcheck assertions and small tensor builders.
#pragma once
#include <catch2/catch.hpp>

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

inline Tensor f64(const std::vector<double>& v, const Shape& shape, bool requires_grad = false) {
    return Tensor::from(v, shape, {.dtype = DType::Float64, .requires_grad = requires_grad});
}

}  // namespace seqgrad::testing
