// Adagrad's update, element by element over the parameter's raw data.
#include "optim/adagrad.h"

#include <cmath>

#include "core/kernels.h"

namespace seqgrad::optim {

Adagrad::Adagrad(std::vector<Tensor> params, AdagradOptions options)
    : Adagrad(std::vector<ParamGroup>{{.params = std::move(params)}}, options) {}

Adagrad::Adagrad(std::vector<ParamGroup> groups, AdagradOptions options)
    : Optimizer("Adagrad", std::move(groups), options.lr, options.weight_decay), options_(options) {
    check_option(options.lr_decay >= 0.0, "lr_decay", "must be >= 0", options.lr_decay);
    check_option(options.initial_accumulator_value >= 0.0, "initial_accumulator_value", "must be >= 0",
                 options.initial_accumulator_value);
    check_option(options.eps >= 0.0, "eps", "must be >= 0", options.eps);
}

// Adagrad (torch.optim.Adagrad), for every element, t = the parameter's update count (1 on its
// first update), the sum starting at initial_accumulator_value:
//   g = grad + weight_decay * p
//   clr = lr / (1 + (t - 1) * lr_decay)
//   sum = sum + g^2
//   p = p - clr * g / (sqrt(sum) + eps)
void Adagrad::update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) {
    const std::int64_t n = param.numel();
    Tensor sum_buf = buffer(state, "sum", param, options_.initial_accumulator_value);
    const double clr = *group.lr / (1.0 + static_cast<double>(state.step - 1) * options_.lr_decay);
    dispatch_floating(param.dtype(), "Adagrad", [&](auto tag) {
        using T = decltype(tag);
        const T lr = static_cast<T>(clr), wd = static_cast<T>(*group.weight_decay);
        const T eps = static_cast<T>(options_.eps);
        T* p = param.data<T>();
        const T* gr = grad.data<T>();
        T* s = sum_buf.data<T>();
#pragma omp parallel for if (n >= kernels::kParallelThreshold) schedule(static)
        for (std::int64_t i = 0; i < n; ++i) {
            T g = gr[i];
            if (wd != T(0)) g += wd * p[i];
            s[i] += g * g;
            p[i] -= lr * g / (std::sqrt(s[i]) + eps);
        }
    });
}

}  // namespace seqgrad::optim
