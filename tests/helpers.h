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

inline Tensor f64(const std::vector<double>& v, const Shape& shape, bool requires_grad = false) {
    return Tensor::from(v, shape, {.dtype = DType::Float64, .requires_grad = requires_grad});
}

}  // namespace seqgrad::testing
