// The REINFORCE surrogate (Williams 1992), shared by every policy whose choices have no gradient: the
// categorical positions of stochastic hard attention (layers/hard_attention.h) and the Gaussian glimpse
// locations of layers/gaussian_policy.h. For a reward r of sampled choices a ~ p_θ,
//   ∇θ E[r] = E[(r − b) ∇θ log p_θ(a)]     for any baseline b that does not depend on the sample a,
// so a loss whose gradient is minus that estimate, averaged over the batch, is
//   L = −(1/B) Σ_b Σ_t (r_b − b_{b,t}) · log p(a_{b,t})        (r and b constants)
// and minimising it ascends the expected reward.
#pragma once
#include "core/tensor.h"

namespace seqgrad::nn {

// log_prob [B] or [B, T] (with its graph), advantage r − b of the same shape (detached here: a
// constant) -> the scalar L = −(1/B) Σ_{b,t} advantage_{b,t} · log_prob_{b,t}
//   dlog_prob_{b,t} = −advantage_{b,t} / B
// Throws ShapeError naming score_function_surrogate when the shapes differ or are not 1-D or 2-D.
Tensor score_function_surrogate(const Tensor& log_prob, const Tensor& advantage);

}  // namespace seqgrad::nn
