// The registry of layer gradient checks (see the header).
#include "layers/gradcheck_cases.h"

#include <algorithm>
#include <utility>

#include "core/error.h"
#include "core/ops.h"

namespace seqgrad::nn {

namespace {
// A function's static, so that cases registered while the program starts (in any order of the
// library's files) always find it built.
std::vector<NamedLayerCheck>& registry() {
    static std::vector<NamedLayerCheck> cases;
    return cases;
}
}  // namespace

void register_gradcheck_case(std::string name, LayerCheckFn run) {
    auto& cases = registry();
    if (std::any_of(cases.begin(), cases.end(), [&](const NamedLayerCheck& c) { return c.name == name; }))
        fail("register_gradcheck_case: a case named '{}' is already registered", name);
    cases.push_back({std::move(name), std::move(run)});
}

std::vector<NamedLayerCheck> gradcheck_cases() {
    std::vector<NamedLayerCheck> cases = registry();
    std::sort(cases.begin(), cases.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return cases;
}

Tensor gradcheck_input(const Shape& shape, Generator& gen) {
    return uniform(shape, -1, 1, {.dtype = DType::Float64, .requires_grad = true}, &gen);
}

LayerCheck check_layer(const Module& m, std::vector<Tensor> inputs, const GradcheckFn& f) {
    for (auto& p : m.parameters()) inputs.push_back(p);
    return {m.num_parameters(), gradcheck(f, inputs)};
}

}  // namespace seqgrad::nn
