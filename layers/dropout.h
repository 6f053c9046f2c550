// Dropout: zeroes each element with probability p during training and scales the rest by 1/(1-p);
// the identity in eval mode and under NoGradGuard (see dropout in core/nn_ops.cpp).
#pragma once
#include "layers/module.h"

namespace seqgrad::nn {

struct DropoutOptions {
    double p = 0.5;
    Generator* generator = nullptr;
};

class Dropout : public Module {
public:
    explicit Dropout(const DropoutOptions& options = {});
    std::string type_name() const override { return "Dropout"; }
    Tensor forward(const Tensor& x) const;
    Tensor operator()(const Tensor& x) const { return forward(x); }

private:
    DropoutOptions options_;
};

}  // namespace seqgrad::nn
