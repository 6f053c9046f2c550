// The test that goes with a new layer: a double-precision gradcheck over the input and every
// parameter, a golden value small enough to check by hand, and a bad-shape error.
// Exits 0 when all three pass; the test suite runs it (ctest -R example_add_a_layer).
#include <cmath>
#include <cstdio>

#include "glu.h"
#include "seqgrad.h"

using namespace seqgrad;

int main() {
    int failures = 0;

    // 1. gradcheck in float64 over the input and all parameters.
    Generator gen(5);
    example::GLU glu({.in_features = 3, .out_features = 2, .dtype = DType::Float64, .generator = &gen});
    Tensor x = uniform({4, 3}, -1, 1, {.dtype = DType::Float64, .requires_grad = true}, &gen);
    std::vector<Tensor> inputs = {x};
    for (auto& p : glu.parameters()) inputs.push_back(p);
    GradcheckResult r = gradcheck([&](const std::vector<Tensor>& in) { return glu(in[0]); }, inputs);
    std::printf("%s\n", r.message.c_str());
    failures += !r.ok;

    // 2. golden value: weight rows [1, 0, 0] (a) and [0, 0, 0] (b), zero bias -> y = x0 * sigmoid(0) = x0 / 2
    example::GLU tiny({.in_features = 3, .out_features = 1, .dtype = DType::Float64});
    tiny.proj->weight.copy_(Tensor::from({1, 0, 0, 0, 0, 0}, {2, 3}, {.dtype = DType::Float64}));
    tiny.proj->bias.fill_(0.0);
    const double y = tiny(Tensor::from({4, 7, 9}, {1, 3}, {.dtype = DType::Float64})).item();
    std::printf("golden: y = %g (expected 2)\n", y);
    failures += std::abs(y - 2.0) > 1e-12;

    // 3. a bad shape is one clear error naming the layer and the shape.
    try {
        glu(zeros({4, 5}, {.dtype = DType::Float64}));
        std::printf("no error for a bad shape\n");
        ++failures;
    } catch (const ShapeError& e) {
        std::printf("bad shape -> %s\n", e.what());
    }

    // 4. the layer's own gradcheck case, as `seqgrad gradcheck` would run it.
    bool listed = false;
    for (const auto& c : nn::gradcheck_cases()) {
        if (c.name != "GLU") continue;
        listed = true;
        const nn::LayerCheck check = c.run();
        std::printf("registered case GLU: %s, %lld parameters\n", check.result.ok ? "pass" : "FAIL",
                    static_cast<long long>(check.parameters));
        failures += !check.result.ok;
    }
    failures += !listed;
    std::printf("%d passed, %d failed\n", 4 - failures, failures);
    return failures == 0 ? 0 : 1;
}
