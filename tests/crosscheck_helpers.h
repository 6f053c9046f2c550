// Shared by the seqgrad sides of the PyTorch cross-checks (tests/test_crosscheck_rnn.cpp,
// test_crosscheck_transformer.cpp): torch's weights loaded into a module, results compared, and the
// file the script checks written.
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "core/safetensors.h"
#include "layers/module.h"

namespace seqgrad::testing {

// got is defined, has want's shape and differs from it by less than tol everywhere (compared in
// float64); the failure names `what` and the largest difference.
inline void require_close(const Tensor& got, const Tensor& want, const std::string& what, double tol) {
    INFO(what);
    REQUIRE(got.defined());
    REQUIRE(got.shape() == want.shape());
    const Tensor a = got.to(DType::Float64), b = want.to(DType::Float64);
    double worst = 0.0;
    for (std::int64_t i = 0; i < a.numel(); ++i)
        worst = std::max(worst, std::abs(a.data<double>()[i] - b.data<double>()[i]));
    INFO("largest difference " << worst);
    CHECK(worst < tol);
}

// Loads the tensors of torch's file named as module's parameters into module.
inline void load_torch_weights(nn::Module& module, const SafetensorsFile& from_torch) {
    std::map<std::string, Tensor> weights;
    for (const auto& [name, p] : module.named_parameters()) weights[name] = from_torch.tensors.at(name);
    module.load_state_dict(weights);
}

// Writes the file the script checks: the inputs, module's weights and what seqgrad computed.
inline void save_for_torch(const std::string& path, const std::map<std::string, Tensor>& inputs, const nn::Module& module,
                           const std::map<std::string, Tensor>& results) {
    std::map<std::string, Tensor> file = inputs;
    for (const auto& [name, p] : module.named_parameters()) file[name] = p.detach().clone();
    for (const auto& [name, t] : results) file[name] = t;
    save_safetensors(path, file, {{"source", "seqgrad"}});
}

}  // namespace seqgrad::testing
