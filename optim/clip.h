// Gradient clipping, applied between backward() and optimizer.step(): rescale all gradients
// together so their global norm is at most max_norm (torch.nn.utils.clip_grad_norm_), or clamp each
// gradient element into [-clip, clip] (torch.nn.utils.clip_grad_value_). Both modify the gradients
// in place and skip parameters that have no gradient.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace seqgrad::optim {

// total = (sum over every element g of every parameter's gradient of |g|^norm_type)^(1/norm_type),
// or max |g| when norm_type is infinity. When max_norm / (total + 1e-6) < 1, every gradient is
// multiplied by that coefficient. Returns total, the norm before clipping (0 when no parameter has
// a gradient). Throws ShapeError for a negative max_norm or a norm_type that is not > 0.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

// clip_grad_norm without touching the gradients: total as above, and the coefficient it would
// multiply them by (1 when it would leave them alone). Optimizer::step(coefficient) then updates
// exactly as clip_grad_norm followed by step() would, the rescaling folded into the update.
struct ClipCoefficient {
    double total = 0.0;
    double coefficient = 1.0;
};
ClipCoefficient clip_coefficient(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

// g = min(max(g, -clip), clip) for every gradient element. Throws ShapeError for a negative clip.
void clip_grad_value(const std::vector<Tensor>& params, double clip);

}  // namespace seqgrad::optim
