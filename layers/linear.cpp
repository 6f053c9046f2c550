// Linear layer: one call to the fused linear op (a single gemm with the transpose flag, bias added
// in the same pass); its backward is in core/matmul.cpp.
#include "layers/linear.h"

#include <cmath>

#include "core/ops.h"
#include "layers/gradcheck_cases.h"
#include "layers/init.h"

namespace seqgrad::nn {

Linear::Linear(const LinearOptions& options) : options_(options) {
    if (options.in_features <= 0 || options.out_features <= 0)
        fail("Linear: in_features and out_features must be positive, got in_features={}, out_features={}",
             options.in_features, options.out_features);
    const double bound = 1.0 / std::sqrt(static_cast<double>(options.in_features));
    weight = Tensor::empty({options.out_features, options.in_features}, options.dtype);
    init::uniform_(weight, -bound, bound, options.generator);
    register_parameter("weight", weight);
    if (options.bias) {
        bias = Tensor::empty({options.out_features}, options.dtype);
        init::uniform_(bias, -bound, bound, options.generator);
        register_parameter("bias", bias);
    }
}

Tensor Linear::forward(const Tensor& x) const {
    check_defined("Linear", x);
    if (x.dim() < 1 || x.size(-1) != options_.in_features)
        fail("Linear: input {} must end in in_features = {} (weight {})", shape_str(x.shape()), options_.in_features,
             shape_str(weight.shape()));
    return linear(x, weight, bias);
}

// ---- the gradcheck case `seqgrad gradcheck` runs (layers/gradcheck_cases.h) ---------------------

namespace {
const GradcheckCase linear_case("Linear", [] {
    Generator g(1);
    Linear m({.in_features = 3, .out_features = 4, .dtype = DType::Float64, .generator = &g});
    return check_layer(m, {gradcheck_input({2, 3}, g)}, [&](const std::vector<Tensor>& x) { return m(x[0]); });
});
}  // namespace

}  // namespace seqgrad::nn
