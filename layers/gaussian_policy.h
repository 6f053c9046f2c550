// A Gaussian policy for a continuous choice (where to look next), and the REINFORCE surrogate that
// trains it (Williams 1992; Mnih et al. 2014, "Recurrent Models of Visual Attention").
//
// The policy maps a state h to the mean of an isotropic Gaussian over actions in [-1, 1]^A:
//   μ = tanh(W h + b)          [B, A]      (mean_head, a Linear)
//   a = μ + σ ε,  ε ~ N(0, I)  [B, A]      in training mode; a = μ in eval mode (no sampling)
// σ is fixed, as in Mnih et al. The sample a is a constant: nothing downstream of it (the glimpse it
// chooses, the classifier) passes a gradient back to μ. μ learns by the score-function estimator
// instead. For a reward r that depends on the actions,
//   ∇θ E[r] = E[ r · ∇θ log p(a) ],   log p(a) = Σ_d −(a_d − μ_d)² / (2σ²) − log σ − ½ log 2π
// and subtracting a baseline b that does not depend on the sampled a (here: on a itself; it may
// depend on the state that chose it) keeps the estimate unbiased, because E[∇ log p(a)] = 0, while
// cutting its variance. Minimising the surrogate
//   L = −(1/B) Σ_b Σ_t (r_b − b_{b,t}) · log p(a_{b,t})       (r and b constants)
// therefore ascends the expected reward (score_function_surrogate, layers/reinforce.h, shared with the
// categorical choices of layers/hard_attention.h; the only difference between the two is log p).
#pragma once
#include <cstdint>
#include <memory>

#include "core/random.h"
#include "layers/linear.h"
#include "layers/reinforce.h"

namespace seqgrad::nn {

// log N(a; μ, σ² I), summed over the last dim:
//   mean μ [B, A], action a [B, A] (a constant: no gradient flows to it), sigma > 0 -> [B]
//   log p_b = Σ_d −(a_{b,d} − μ_{b,d})² / (2σ²) − A (log σ + ½ log 2π)
// Backward (autograd through sub, pow, sum): dμ_{b,d} = dy_b · (a_{b,d} − μ_{b,d}) / σ²
// Throws ShapeError naming gaussian_log_prob for shapes that differ or are not 2-D, or sigma <= 0.
Tensor gaussian_log_prob(const Tensor& mean, const Tensor& action, double sigma);

struct GaussianPolicyOptions {
    std::int64_t input_size = 0;   // the state h
    std::int64_t action_size = 2;  // A: (y, x) for a glimpse location
    double sigma = 0.15;           // the fixed standard deviation of every action component
    DType dtype = DType::Float32;
    Generator* generator = nullptr;  // initialisation; nullptr: the default generator
    std::uint64_t seed = 0;          // the sampler's own generator (reseed with sampler().manual_seed)
};

struct PolicyStep {
    Tensor mean;      // μ [B, A], with its graph
    Tensor action;    // a [B, A], a constant (sampled in training mode, μ's values in eval mode)
    Tensor log_prob;  // log p(a) [B], with its graph through μ
};

class GaussianPolicy : public Module {
public:
    // Throws ShapeError naming the layer for sigma <= 0 or a non-positive size.
    explicit GaussianPolicy(const GaussianPolicyOptions& options);
    std::string type_name() const override { return "GaussianPolicy"; }

    // h [B, input_size] -> μ = tanh(W h + b) [B, A]
    Tensor mean(const Tensor& h) const;
    // h [B, input_size] -> {μ, a, log p(a)}. Training mode: a = μ + σ ε with ε from sampler().
    // Eval mode: a = μ (detached) and log p(a) is the density's peak.
    PolicyStep act(const Tensor& h) const;
    PolicyStep operator()(const Tensor& h) const { return act(h); }
    // log p(action | h) for a given action [B, A]: gaussian_log_prob(mean(h), action, sigma).
    Tensor log_prob(const Tensor& h, const Tensor& action) const;

    std::shared_ptr<Linear> mean_head;  // [A, input_size]
    Generator& sampler() const { return sampler_; }
    const GaussianPolicyOptions& options() const { return options_; }

private:
    GaussianPolicyOptions options_;
    mutable Generator sampler_;
};

}  // namespace seqgrad::nn
