// Linear: y = x W^T + b, the fully connected layer. Weight [out_features, in_features] as in
// PyTorch, so weights port both ways. Initialised like PyTorch: W and b ~ U(-1/sqrt(in), 1/sqrt(in)).
#pragma once
#include "layers/module.h"

namespace seqgrad::nn {

struct LinearOptions {
    std::int64_t in_features = 0;
    std::int64_t out_features = 0;
    bool bias = true;
    DType dtype = DType::Float32;
    Generator* generator = nullptr;  // nullptr: the default generator
};

class Linear : public Module {
public:
    explicit Linear(const LinearOptions& options);
    std::string type_name() const override { return "Linear"; }

    // x [..., in_features] -> [..., out_features]
    Tensor forward(const Tensor& x) const;
    Tensor operator()(const Tensor& x) const { return forward(x); }

    Tensor weight;  // [out_features, in_features]
    Tensor bias;    // [out_features], undefined when options.bias is false
    const LinearOptions& options() const { return options_; }

private:
    LinearOptions options_;
};

}  // namespace seqgrad::nn
