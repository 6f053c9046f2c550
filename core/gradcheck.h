// gradcheck: compare the autograd gradient of f with central finite differences, in float64.
//
// f maps the inputs to one tensor; when it is not a scalar, the check uses L = sum(f(x) * R) with a
// fixed random R (a random projection checks every output direction at the cost of one backward).
// Each input that requires grad is perturbed element by element: numeric = (L(x+eps) - L(x-eps)) / 2eps.
// On failure the result names the worst element: input index, element index, analytic vs numeric.
// Every evaluation of f runs in the caller's grad mode (ops such as dropout depend on it); a NaN
// on either side is a failure.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace seqgrad {

struct GradcheckOptions {
    double eps = 1e-6;
    double atol = 1e-5;
    double rtol = 1e-3;
};

struct GradcheckResult {
    bool ok = true;
    double max_abs_error = 0;
    double max_rel_error = 0;
    std::size_t checked = 0;  // how many elements were perturbed
    // The worst element.
    std::size_t input = 0;
    std::int64_t element = 0;
    double analytic = 0;
    double numeric = 0;
    std::string message;  // a one-line report
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Inputs must be float64; the ones with requires_grad are checked.
GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs, GradcheckOptions options = {});

}  // namespace seqgrad
