// GLU: the gated linear unit (Dauphin et al. 2017), the worked example of docs/adding-a-layer.md.
//   [a; b] = x W^T + bias        (one Linear with 2 * out_features outputs)
//   y = a ⊙ sigmoid(b)           x [..., in] -> y [..., out]
// Built from core ops, so autograd supplies the backward; tests/ in this folder gradchecks it.
#pragma once
#include "layers/linear.h"
#include "layers/module.h"

namespace example {

struct GLUOptions {
    std::int64_t in_features = 0;
    std::int64_t out_features = 0;
    seqgrad::DType dtype = seqgrad::DType::Float32;
    seqgrad::Generator* generator = nullptr;
};

class GLU : public seqgrad::nn::Module {
public:
    explicit GLU(const GLUOptions& options);
    std::string type_name() const override { return "GLU"; }
    seqgrad::Tensor forward(const seqgrad::Tensor& x) const;
    seqgrad::Tensor operator()(const seqgrad::Tensor& x) const { return forward(x); }

    std::shared_ptr<seqgrad::nn::Linear> proj;  // weight [2 * out, in]: rows 0..out-1 give a, the rest b

private:
    GLUOptions options_;
};

}  // namespace example
