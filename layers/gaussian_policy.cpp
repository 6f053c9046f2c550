// The Gaussian policy: mean head, sampling, log-density. The header derives the estimator that trains
// it and why a baseline keeps it unbiased.
#include "layers/gaussian_policy.h"

#include <cmath>
#include <numbers>

#include "core/autograd.h"
#include "core/ops.h"

namespace seqgrad::nn {

// log p_b = Σ_d −(a − μ)² / (2σ²) − A (log σ + ½ log 2π)          μ, a [B, A] -> [B]
//   dμ = dy · (a − μ) / σ²   (from autograd: the square's backward, then sub's sign)
Tensor gaussian_log_prob(const Tensor& mean, const Tensor& action, double sigma) {
    const char* op = "gaussian_log_prob";
    check_defined(op, mean, "mean");
    check_defined(op, action, "action");
    if (mean.dim() != 2 || action.shape() != mean.shape())
        fail("{}: mean and action must both be [B, A], got mean {} vs action {}", op, shape_str(mean.shape()),
             shape_str(action.shape()));
    if (!(sigma > 0.0) || !std::isfinite(sigma)) fail("{}: sigma must be positive and finite, got {}", op, sigma);
    const double A = static_cast<double>(mean.size(1));
    const double norm = A * (std::log(sigma) + 0.5 * std::log(2.0 * std::numbers::pi));
    Tensor diff = action.detach().to(mean.dtype()) - mean;                     // a − μ
    return sum(pow(diff, 2.0), {1}) * (-0.5 / (sigma * sigma)) - norm;        // [B]
}

GaussianPolicy::GaussianPolicy(const GaussianPolicyOptions& options) : options_(options), sampler_(options.seed) {
    if (options.input_size <= 0 || options.action_size <= 0)
        fail("GaussianPolicy: input_size and action_size must be positive, got input_size={}, action_size={}",
             options.input_size, options.action_size);
    if (!(options.sigma > 0.0) || !std::isfinite(options.sigma))
        fail("GaussianPolicy: sigma must be positive and finite, got {}", options.sigma);
    mean_head = register_module("mean_head", std::make_shared<Linear>(LinearOptions{.in_features = options.input_size,
                                                                                  .out_features = options.action_size,
                                                                                  .dtype = options.dtype,
                                                                                  .generator = options.generator}));
}

Tensor GaussianPolicy::mean(const Tensor& h) const { return tanh(mean_head->forward(h)); }

// a = μ + σ ε (training) or μ (eval); the action is built from values, so it carries no graph.
PolicyStep GaussianPolicy::act(const Tensor& h) const {
    PolicyStep step;
    step.mean = mean(h);
    std::vector<double> a = step.mean.to_vector();
    if (is_training())
        for (double& v : a) v += options_.sigma * sampler_.normal();
    step.action = Tensor::from(a, step.mean.shape(), {.dtype = step.mean.dtype()});
    step.log_prob = gaussian_log_prob(step.mean, step.action, options_.sigma);
    return step;
}

Tensor GaussianPolicy::log_prob(const Tensor& h, const Tensor& action) const {
    return gaussian_log_prob(mean(h), action, options_.sigma);
}

}  // namespace seqgrad::nn
