// Central-difference gradient check (see core/gradcheck.h).
#include "core/gradcheck.h"

#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/random.h"

namespace seqgrad {

GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs, GradcheckOptions options) {
    for (std::size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i].defined() && inputs[i].requires_grad() && inputs[i].dtype() != DType::Float64)
            fail("gradcheck: input {} is {}; gradients are checked in float64 (convert with .to(DType::Float64))", i,
                 dtype_name(inputs[i].dtype()));

    // L = sum(f(x) * R): R fixed per call so every evaluation uses the same projection.
    Tensor projection;
    auto loss = [&]() -> Tensor {
        Tensor out = f(inputs);
        if (out.dtype() != DType::Float64) fail("gradcheck: f returned {}, expected float64", dtype_name(out.dtype()));
        if (!projection.defined()) {
            Generator gen(1234);
            projection = out.numel() == 1 ? ones(out.shape(), {.dtype = DType::Float64})
                                          : uniform(out.shape(), 0.5, 1.5, {.dtype = DType::Float64}, &gen);
        }
        return sum(mul(out, projection));
    };

    for (auto& t : inputs)
        if (t.defined() && t.requires_grad()) t.zero_grad();
    loss().backward();

    GradcheckResult result;
    double worst_score = -1;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const Tensor& x = inputs[i];
        if (!x.defined() || !x.requires_grad()) continue;
        const Tensor analytic = x.grad();
        double* px = const_cast<Tensor&>(x).data<double>();
        // The perturbed evaluations run in the same grad mode as the analytic one (no NoGradGuard):
        // ops such as dropout behave differently without grad, and f must be the same function.
        for (std::int64_t e = 0; e < x.numel(); ++e) {
            const double saved = px[e];
            px[e] = saved + options.eps;
            const double lp = loss().item();
            px[e] = saved - options.eps;
            const double lm = loss().item();
            px[e] = saved;
            const double numeric = (lp - lm) / (2 * options.eps);
            const double a = analytic.defined() ? analytic.data<double>()[e] : 0.0;
            const double abs_err = std::abs(a - numeric);
            const double rel_err = abs_err / std::max(std::abs(numeric), 1e-12);
            const double score = abs_err - (options.atol + options.rtol * std::abs(numeric));
            ++result.checked;
            result.max_abs_error = std::max(result.max_abs_error, abs_err);
            if (std::abs(numeric) > options.atol) result.max_rel_error = std::max(result.max_rel_error, rel_err);
            const bool nan = std::isnan(a) || std::isnan(numeric);
            if (score > 0 || nan) result.ok = false;
            if (score > worst_score || nan) {
                worst_score = nan ? 1e300 : score;
                result.input = i;
                result.element = e;
                result.analytic = a;
                result.numeric = numeric;
            }
        }
    }
    for (auto& t : inputs)
        if (t.defined() && t.requires_grad()) t.zero_grad();
    result.message = fmt::format(
        "gradcheck {}: {} elements, max abs error {:.3g}, max rel error {:.3g}; worst: input {} element {}: analytic "
        "{:.10g} vs numeric {:.10g}",
        result.ok ? "passed" : "FAILED", result.checked, result.max_abs_error, result.max_rel_error, result.input,
        result.element, result.analytic, result.numeric);
    return result;
}

}  // namespace seqgrad
