// GLU forward from three core ops: linear, chunk (narrow), sigmoid and mul.
#include "glu.h"

#include "core/ops.h"
#include "layers/gradcheck_cases.h"

namespace example {

using namespace seqgrad;

GLU::GLU(const GLUOptions& options) : options_(options) {
    if (options.in_features <= 0 || options.out_features <= 0)
        fail("GLU: in_features and out_features must be positive, got {} and {}", options.in_features,
             options.out_features);
    proj = register_module("proj", std::make_shared<nn::Linear>(nn::LinearOptions{
                                       .in_features = options.in_features,
                                       .out_features = 2 * options.out_features,
                                       .dtype = options.dtype,
                                       .generator = options.generator}));
}

Tensor GLU::forward(const Tensor& x) const {
    check_defined("GLU", x);
    if (x.dim() < 1 || x.size(-1) != options_.in_features)
        fail("GLU: input {} must end in in_features = {}", shape_str(x.shape()), options_.in_features);
    Tensor ab = (*proj)(x);                      // [..., 2 * out]
    std::vector<Tensor> halves = chunk(ab, 2, -1);  // a, b: [..., out] each
    return halves[0] * sigmoid(halves[1]);      // y = a ⊙ σ(b)
}

namespace {
const seqgrad::nn::GradcheckCase glu_case("GLU", [] {
    Generator g(7);
    GLU m({.in_features = 3, .out_features = 2, .dtype = DType::Float64, .generator = &g});
    return nn::check_layer(m, {nn::gradcheck_input({4, 3}, g)}, [&](const std::vector<Tensor>& x) { return m(x[0]); });
});
}  // namespace

}  // namespace example
