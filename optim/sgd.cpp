// SGD's update, element by element over the parameter's raw data.
#include "optim/sgd.h"

#include "core/kernels.h"

namespace seqgrad::optim {

SGD::SGD(std::vector<Tensor> params, SGDOptions options)
    : SGD(std::vector<ParamGroup>{{.params = std::move(params)}}, options) {}

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions options)
    : Optimizer("SGD", std::move(groups), options.lr, options.weight_decay), options_(options) {
    check_option(options.momentum >= 0.0, "momentum", "must be >= 0", options.momentum);
    check_option(options.dampening >= 0.0, "dampening", "must be >= 0", options.dampening);
    if (options.nesterov) {
        check_option(options.momentum > 0.0, "momentum", "must be > 0 with nesterov", options.momentum);
        check_option(options.dampening == 0.0, "dampening", "must be 0 with nesterov", options.dampening);
    }
}

std::vector<std::string> SGD::buffer_names() const {
    if (options_.momentum == 0.0) return {};
    return {"momentum_buffer"};
}

// SGD (torch.optim.SGD), for every element, with lr and weight_decay from the parameter's group:
//   g = grad + weight_decay * p
//   if momentum != 0:
//       b = g                                     on the parameter's first update (no dampening)
//       b = momentum * b + (1 - dampening) * g    on later updates
//       g = g + momentum * b    with nesterov,    g = b    without
//   p = p - lr * g
void SGD::update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) {
    const std::int64_t n = param.numel();
    const bool use_momentum = options_.momentum != 0.0;
    const bool first = state.step == 1;
    Tensor buf = use_momentum ? buffer(state, "momentum_buffer", param) : Tensor();
    dispatch_floating(param.dtype(), "SGD", [&](auto tag) {
        using T = decltype(tag);
        const T lr = static_cast<T>(*group.lr), wd = static_cast<T>(*group.weight_decay);
        const T mu = static_cast<T>(options_.momentum), damp = static_cast<T>(1.0 - options_.dampening);
        const bool nesterov = options_.nesterov;
        T* p = param.data<T>();
        const T* gr = grad.data<T>();
        T* b = use_momentum ? buf.data<T>() : nullptr;
#pragma omp parallel for if (n >= kernels::kParallelThreshold) schedule(static)
        for (std::int64_t i = 0; i < n; ++i) {
            T g = gr[i];
            if (wd != T(0)) g += wd * p[i];
            if (b) {
                b[i] = first ? g : mu * b[i] + damp * g;
                g = nesterov ? g + mu * b[i] : b[i];
            }
            p[i] -= lr * g;
        }
    });
}

}  // namespace seqgrad::optim
