// The double-precision gradient check of each layer, as `seqgrad gradcheck` runs it.
//
// Every layer registers its own case in its .cpp, next to its code, with one object at namespace
// scope:
//
//   const nn::GradcheckCase linear_case("Linear", [] {
//       Generator g(1);
//       nn::Linear m({.in_features = 3, .out_features = 4, .dtype = DType::Float64, .generator = &g});
//       return nn::check_layer(m, {nn::gradcheck_input({2, 3}, g)},
//                              [&](const std::vector<Tensor>& x) { return m(x[0]); });
//   });
//
// so a new layer appears in `seqgrad gradcheck` (and in the test that runs every case) without an
// edit anywhere else. The command line links the whole library, so a case registered in a file
// nothing else uses is still there.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/gradcheck.h"
#include "core/random.h"
#include "layers/module.h"

namespace seqgrad::nn {

struct LayerCheck {
    std::int64_t parameters = 0;  // how many scalars the layer learns
    GradcheckResult result;
};

using LayerCheckFn = std::function<LayerCheck()>;

struct NamedLayerCheck {
    std::string name;  // what `seqgrad gradcheck NAME` selects, e.g. "GRU" or "Attention(additive)"
    LayerCheckFn run;
};

// Adds a case. The same name twice is a ShapeError.
void register_gradcheck_case(std::string name, LayerCheckFn run);
// Every registered case, sorted by name.
std::vector<NamedLayerCheck> gradcheck_cases();

// Registers a case when the program starts (see the top of this file).
struct GradcheckCase {
    GradcheckCase(std::string name, LayerCheckFn run) { register_gradcheck_case(std::move(name), std::move(run)); }
};

// For writing a case: a float64 input of the shape with entries in U(-1, 1) that requires grad.
Tensor gradcheck_input(const Shape& shape, Generator& gen);
// gradcheck of f over `inputs` and then every parameter of m.
LayerCheck check_layer(const Module& m, std::vector<Tensor> inputs, const GradcheckFn& f);

}  // namespace seqgrad::nn
