// LayerNorm over the last dim: y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased
// variance as PyTorch uses; weight starts at 1 and bias at 0.
#pragma once
#include "layers/module.h"

namespace seqgrad::nn {

struct LayerNormOptions {
    std::int64_t normalized_size = 0;
    double eps = 1e-5;
    bool elementwise_affine = true;
    DType dtype = DType::Float32;
};

class LayerNorm : public Module {
public:
    explicit LayerNorm(const LayerNormOptions& options);
    std::string type_name() const override { return "LayerNorm"; }
    // x [..., normalized_size] -> same shape
    Tensor forward(const Tensor& x) const;
    Tensor operator()(const Tensor& x) const { return forward(x); }

    Tensor weight;  // [normalized_size]
    Tensor bias;    // [normalized_size]

private:
    LayerNormOptions options_;
};

}  // namespace seqgrad::nn
