// RMSprop's update, element by element over the parameter's raw data.
#include "optim/rmsprop.h"

#include <cmath>

#include "core/kernels.h"

namespace seqgrad::optim {

RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions options)
    : RMSprop(std::vector<ParamGroup>{{.params = std::move(params)}}, options) {}

RMSprop::RMSprop(std::vector<ParamGroup> groups, RMSpropOptions options)
    : Optimizer("RMSprop", std::move(groups), options.lr, options.weight_decay), options_(options) {
    check_option(options.alpha >= 0.0 && options.alpha <= 1.0, "alpha", "must be in [0, 1]", options.alpha);
    check_option(options.eps >= 0.0, "eps", "must be >= 0", options.eps);
    check_option(options.momentum >= 0.0, "momentum", "must be >= 0", options.momentum);
}

std::vector<std::string> RMSprop::buffer_names() const {
    std::vector<std::string> names = {"square_avg"};
    if (options_.momentum > 0.0) names.push_back("momentum_buffer");
    if (options_.centered) names.push_back("grad_avg");
    return names;
}

// RMSprop (torch.optim.RMSprop), for every element, s, a and b starting at 0:
//   g = grad + weight_decay * p
//   s = alpha * s + (1 - alpha) * g^2                  running mean of g^2   ("square_avg")
//   centered:  a = alpha * a + (1 - alpha) * g         running mean of g     ("grad_avg")
//              d = sqrt(s - a^2) + eps
//   otherwise: d = sqrt(s) + eps
//   momentum > 0:  b = momentum * b + g / d,  p = p - lr * b                 ("momentum_buffer")
//   otherwise:     p = p - lr * g / d
void RMSprop::update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) {
    const std::int64_t n = param.numel();
    Tensor s_buf = buffer(state, "square_avg", param);
    Tensor b_buf = options_.momentum > 0.0 ? buffer(state, "momentum_buffer", param) : Tensor();
    Tensor a_buf = options_.centered ? buffer(state, "grad_avg", param) : Tensor();
    dispatch_floating(param.dtype(), "RMSprop", [&](auto tag) {
        using T = decltype(tag);
        const T lr = static_cast<T>(*group.lr), wd = static_cast<T>(*group.weight_decay);
        const T alpha = static_cast<T>(options_.alpha), one_alpha = static_cast<T>(1.0 - options_.alpha);
        const T eps = static_cast<T>(options_.eps), mu = static_cast<T>(options_.momentum);
        T* p = param.data<T>();
        const T* gr = grad.data<T>();
        T* s = s_buf.data<T>();
        T* b = b_buf.defined() ? b_buf.data<T>() : nullptr;
        T* a = a_buf.defined() ? a_buf.data<T>() : nullptr;
#pragma omp parallel for if (n >= kernels::kParallelThreshold) schedule(static)
        for (std::int64_t i = 0; i < n; ++i) {
            T g = gr[i];
            if (wd != T(0)) g += wd * p[i];
            s[i] = alpha * s[i] + one_alpha * g * g;
            T d;
            if (a) {
                a[i] = alpha * a[i] + one_alpha * g;
                d = std::sqrt(s[i] - a[i] * a[i]) + eps;
            } else {
                d = std::sqrt(s[i]) + eps;
            }
            if (b) {
                b[i] = mu * b[i] + g / d;
                p[i] -= lr * b[i];
            } else {
                p[i] -= lr * g / d;
            }
        }
    });
}

}  // namespace seqgrad::optim
