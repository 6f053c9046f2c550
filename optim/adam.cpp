// Adam's and AdamW's update, element by element over the parameter's raw data.
#include "optim/adam.h"

#include <algorithm>
#include <cmath>

#include "core/fused_ops.h"
#include "core/kernels.h"
#include "core/row_kernels.h"

namespace seqgrad::optim {

namespace {
AdamOptions as_adam(const AdamWOptions& o) {
    return {.lr = o.lr, .betas = o.betas, .eps = o.eps, .weight_decay = o.weight_decay, .amsgrad = o.amsgrad};
}
}  // namespace

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : Adam("Adam", std::vector<ParamGroup>{{.params = std::move(params)}}, options, false) {}
Adam::Adam(std::vector<ParamGroup> groups, AdamOptions options) : Adam("Adam", std::move(groups), options, false) {}

Adam::Adam(const char* name, std::vector<ParamGroup> groups, AdamOptions options, bool decoupled)
    : Optimizer(name, std::move(groups), options.lr, options.weight_decay), options_(options), decoupled_(decoupled) {
    check_option(options.eps >= 0.0, "eps", "must be >= 0", options.eps);
    check_option(options.betas[0] >= 0.0 && options.betas[0] < 1.0, "betas[0]", "must be in [0, 1)", options.betas[0]);
    check_option(options.betas[1] >= 0.0 && options.betas[1] < 1.0, "betas[1]", "must be in [0, 1)", options.betas[1]);
}

AdamW::AdamW(std::vector<Tensor> params, AdamWOptions options)
    : Adam("AdamW", std::vector<ParamGroup>{{.params = std::move(params)}}, as_adam(options), true) {}
AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options)
    : Adam("AdamW", std::move(groups), as_adam(options), true) {}

std::vector<std::string> Adam::buffer_names() const {
    if (options_.amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
    return {"exp_avg", "exp_avg_sq"};
}

// Adam (torch.optim.Adam) and AdamW (torch.optim.AdamW), for every element, t = the parameter's
// update count (1 on its first update), m and v starting at 0:
//   g = grad_scale * grad                                             (1 unless step(grad_scale))
//   AdamW only:  p = p - lr * weight_decay * p                       (decoupled weight decay)
//   Adam only:   g = grad + weight_decay * p                          (L2 penalty)
//   m = beta1 * m + (1 - beta1) * g                                   first moment
//   v = beta2 * v + (1 - beta2) * g^2                                 second moment
//   v_max = max(v_max, v), used in place of v below                   (amsgrad only)
//   p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
void Adam::update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) {
    const std::int64_t n = param.numel();
    Tensor m_buf = buffer(state, "exp_avg", param);
    Tensor v_buf = buffer(state, "exp_avg_sq", param);
    Tensor vmax_buf = options_.amsgrad ? buffer(state, "max_exp_avg_sq", param) : Tensor();
    const double beta1 = options_.betas[0], beta2 = options_.betas[1];
    const auto t = static_cast<double>(state.step);
    const double bias1 = 1.0 - std::pow(beta1, t), bias2 = 1.0 - std::pow(beta2, t);
    dispatch_floating(param.dtype(), name().c_str(), [&](auto tag) {
        using T = decltype(tag);
        const T wd = static_cast<T>(*group.weight_decay);
        const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2);
        const T one_b1 = static_cast<T>(1.0 - beta1), one_b2 = static_cast<T>(1.0 - beta2);
        const T step_size = static_cast<T>(*group.lr / bias1);
        const T bias2_sqrt = static_cast<T>(std::sqrt(bias2));
        const T eps = static_cast<T>(options_.eps);
        const T scale = static_cast<T>(grad_scale());
        const T decay = static_cast<T>(1.0 - *group.lr * *group.weight_decay);  // AdamW's shrink factor
        const bool decoupled = decoupled_;
        T* p = param.data<T>();
        const T* gr = grad.data<T>();
        T* m = m_buf.data<T>();
        T* v = v_buf.data<T>();
        T* vmax = options_.amsgrad ? vmax_buf.data<T>() : nullptr;
        if (wd == T(0) && !vmax && fast_paths_enabled()) {
            // The common case in one vectorised pass (core/row_kernels.h), in blocks across threads; the
            // loop below is the plain path (set_fast_paths(false)), tests/test_kernels.cpp compares both.
            const kernels::AdamConstants c{.b1 = beta1, .b2 = beta2, .one_b1 = 1.0 - beta1, .one_b2 = 1.0 - beta2,
                                           .step_size = *group.lr / bias1, .inv_bias2_sqrt = 1.0 / std::sqrt(bias2),
                                           .eps = options_.eps, .grad_scale = grad_scale()};
            constexpr std::int64_t kBlock = 1 << 14;
#pragma omp parallel for if (n >= kernels::kParallelThreshold) schedule(static)
            for (std::int64_t b = 0; b < n; b += kBlock) {
                const std::int64_t len = std::min(kBlock, n - b);
                kernels::adam_update(p + b, gr + b, m + b, v + b, len, c);
            }
            return;
        }
#pragma omp parallel for if (n >= kernels::kParallelThreshold) schedule(static)
        for (std::int64_t i = 0; i < n; ++i) {
            T g = gr[i] * scale;
            if (wd != T(0)) {
                if (decoupled) p[i] *= decay;
                else g += wd * p[i];
            }
            m[i] = b1 * m[i] + one_b1 * g;
            v[i] = b2 * v[i] + one_b2 * g * g;
            T second = v[i];
            if (vmax) second = vmax[i] = std::max(vmax[i], v[i]);
            p[i] -= step_size * m[i] / (std::sqrt(second) / bias2_sqrt + eps);
        }
    });
}

}  // namespace seqgrad::optim
