// The score-function surrogate (see the header for the estimator).
#include "layers/reinforce.h"

#include "core/ops.h"

namespace seqgrad::nn {

// L = −(1/B) Σ_{b,t} A_{b,t} log p_{b,t}      dlog p = −A / B   (from autograd through mul and sum)
Tensor score_function_surrogate(const Tensor& log_prob, const Tensor& advantage) {
    const char* op = "score_function_surrogate";
    check_defined(op, log_prob, "log_prob");
    check_defined(op, advantage, "advantage");
    if ((log_prob.dim() != 1 && log_prob.dim() != 2) || advantage.shape() != log_prob.shape())
        fail("{}: log_prob and advantage must both be [B] or [B, T], got log_prob {} vs advantage {}", op,
             shape_str(log_prob.shape()), shape_str(advantage.shape()));
    const double B = static_cast<double>(log_prob.size(0));
    return sum(advantage.detach().to(log_prob.dtype()) * log_prob) * (-1.0 / B);
}

}  // namespace seqgrad::nn
