// Gradient clipping by global norm and by value, over the gradients' raw data.
#include "optim/clip.h"

#include <algorithm>
#include <cmath>

#include <type_traits>

#include "core/autograd.h"
#include "core/row_kernels.h"

namespace seqgrad::optim {

namespace {
// total = ||(g_1, ..., g_N)||_p over all gradient elements (p = norm_type; inf: max |g|)
// coef  = max_norm / (total + 1e-6), or 1 when that is not below 1
ClipCoefficient norm_and_coefficient(const char* who, const std::vector<Tensor>& params, double max_norm,
                                     double norm_type, std::vector<Tensor>& grads) {
    if (!(max_norm >= 0.0)) fail("{}: max_norm must be >= 0, got {}", who, max_norm);
    if (!(norm_type > 0.0)) fail("{}: norm_type must be > 0 (or infinity), got {}", who, norm_type);
    const bool inf_norm = std::isinf(norm_type);
    for (const Tensor& p : params) {
        check_defined(who, p, "parameter");
        Tensor g = p.grad();
        if (g.defined()) grads.push_back(g);
    }
    // Accumulated in double in a fixed order, so the result does not depend on the thread count.
    double acc = 0.0;
    for (const Tensor& g : grads) {
        dispatch_floating(g.dtype(), who, [&](auto tag) {
            using T = decltype(tag);
            const T* d = g.data<T>();
            const std::int64_t n = g.numel();
            if constexpr (std::is_same_v<T, float>) {
                // The fast path (one vectorised pass, 16 partial sums in double; core/row_kernels.h);
                // the loop below is the plain path, tests/test_optim.cpp compares both.
                if (norm_type == 2.0 && !inf_norm && fast_paths_enabled()) {
                    acc += kernels::sum_squares(d, n);
                    return;
                }
            }
            for (std::int64_t i = 0; i < n; ++i) {
                const double a = std::abs(static_cast<double>(d[i]));
                if (inf_norm) acc = std::max(acc, a);
                else if (norm_type == 2.0) acc += a * a;
                else if (norm_type == 1.0) acc += a;
                else acc += std::pow(a, norm_type);
            }
        });
    }
    const double total = inf_norm        ? acc
                         : norm_type == 2.0 ? std::sqrt(acc)
                         : norm_type == 1.0 ? acc
                                            : std::pow(acc, 1.0 / norm_type);
    const double coef = max_norm / (total + 1e-6);
    return {.total = total, .coefficient = coef < 1.0 ? coef : 1.0};
}
}  // namespace

// if coef < 1: g = g * coef for every gradient
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type) {
    std::vector<Tensor> grads;
    const ClipCoefficient c = norm_and_coefficient("clip_grad_norm", params, max_norm, norm_type, grads);
    const double total = c.total, coef = c.coefficient;  // plain names: a lambda below captures coef
    if (coef < 1.0) {
        for (Tensor& g : grads) {
            dispatch_floating(g.dtype(), "clip_grad_norm", [&](auto tag) {
                using T = decltype(tag);
                T* d = g.data<T>();
                const T c = static_cast<T>(coef);
                const std::int64_t n = g.numel();
                for (std::int64_t i = 0; i < n; ++i) d[i] *= c;
            });
        }
    }
    return total;
}

ClipCoefficient clip_coefficient(const std::vector<Tensor>& params, double max_norm, double norm_type) {
    std::vector<Tensor> grads;
    return norm_and_coefficient("clip_coefficient", params, max_norm, norm_type, grads);
}

// g = clamp(g, -clip, clip)
void clip_grad_value(const std::vector<Tensor>& params, double clip) {
    if (!(clip >= 0.0)) fail("clip_grad_value: clip must be >= 0, got {}", clip);
    for (const Tensor& p : params) {
        check_defined("clip_grad_value", p, "parameter");
        Tensor g = p.grad();
        if (!g.defined()) continue;
        dispatch_floating(g.dtype(), "clip_grad_value", [&](auto tag) {
            using T = decltype(tag);
            T* d = g.data<T>();
            const T hi = static_cast<T>(clip), lo = -hi;
            const std::int64_t n = g.numel();
            for (std::int64_t i = 0; i < n; ++i) d[i] = std::min(std::max(d[i], lo), hi);
        });
    }
}

}  // namespace seqgrad::optim
