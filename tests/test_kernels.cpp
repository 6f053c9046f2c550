// Loop kernels of core/kernels.h that have no op of their own: Adam's vectorised update.
#include "core/kernels.h"
#include "helpers.h"
#include "optim/adam.h"

using namespace seqgrad;

namespace {
// Parameters after `steps` Adam updates with fixed pseudo-random gradients, fast path on or off.
std::vector<Tensor> adam_run(bool fast, DType dtype, int steps) {
    FastPathGuard guard(fast);
    Generator gen(17);
    Tensor a = uniform({37, 29}, -1, 1, {.dtype = dtype, .requires_grad = true}, &gen);  // not a multiple of 8
    Tensor b = uniform({5}, -1, 1, {.dtype = dtype, .requires_grad = true}, &gen);
    optim::Adam adam({a, b}, {.lr = 1e-2});
    for (int s = 0; s < steps; ++s) {
        adam.zero_grad();
        Generator g(100 + s);
        sum(a * uniform(a.shape(), -2, 2, {.dtype = dtype}, &g)).backward();
        sum(b * b * b).backward();
        adam.step();
    }
    return {a.detach().clone(), b.detach().clone()};
}
}  // namespace

TEST_CASE("kernels: Adam's vectorised update equals the plain loop", "[kernels][optim]") {
    for (const DType dtype : {DType::Float32, DType::Float64}) {
        INFO(dtype_name(dtype));
        const auto fast = adam_run(true, dtype, 7), plain = adam_run(false, dtype, 7);
        const double tol = dtype == DType::Float32 ? 1e-6 : 1e-13;
        for (std::size_t i = 0; i < fast.size(); ++i) CHECK(allclose(fast[i], plain[i], tol, tol));
    }
}
