// LayerNorm from core ops: mean, centred square, rsqrt, affine. Autograd gives the backward.
#include "layers/layer_norm.h"

#include "core/autograd.h"
#include "core/fused_ops.h"
#include "core/ops.h"
#include "layers/gradcheck_cases.h"

namespace seqgrad::nn {

LayerNorm::LayerNorm(const LayerNormOptions& options) : options_(options) {
    if (options.normalized_size <= 0) fail("LayerNorm: normalized_size must be positive, got {}", options.normalized_size);
    if (options.elementwise_affine) {
        weight = register_parameter("weight", ones({options.normalized_size}, {.dtype = options.dtype}));
        bias = register_parameter("bias", zeros({options.normalized_size}, {.dtype = options.dtype}));
    }
}

Tensor LayerNorm::forward(const Tensor& x) const {
    check_defined("LayerNorm", x);
    if (x.dim() < 1 || x.size(-1) != options_.normalized_size)
        fail("LayerNorm: input {} must end in normalized_size = {}", shape_str(x.shape()), options_.normalized_size);
    // The fused op (one node, core/fused_ops.h); set_fast_paths(false) runs the composite below.
    if (fast_paths_enabled()) return layer_norm_fused(x, weight, bias, options_.eps);
    Tensor mu = mean(x, {-1}, /*keepdim=*/true);            // [..., 1]
    Tensor centred = x - mu;                                  // [..., N]
    Tensor var = mean(centred * centred, {-1}, true);         // biased variance [..., 1]
    Tensor y = centred / sqrt(var + options_.eps);
    if (options_.elementwise_affine) y = y * weight + bias;
    return y;
}

// ---- the gradcheck case `seqgrad gradcheck` runs (layers/gradcheck_cases.h) ---------------------

namespace {
const GradcheckCase layer_norm_case("LayerNorm", [] {
    Generator g(3);
    LayerNorm m({.normalized_size = 4, .dtype = DType::Float64});
    return check_layer(m, {gradcheck_input({2, 4}, g)}, [&](const std::vector<Tensor>& x) { return m(x[0]); });
});
}  // namespace

}  // namespace seqgrad::nn
