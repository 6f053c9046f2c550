// The feed-forward block and its activations, from core ops.
#include "layers/feed_forward.h"

#include <cmath>
#include <numbers>

#include "core/ops.h"
#include "layers/gradcheck_cases.h"

namespace seqgrad::nn {

Activation parse_activation(std::string_view name) {
    if (name == "relu") return Activation::ReLU;
    if (name == "gelu") return Activation::GELU;
    fail("activation: unknown activation '{}'; valid activations: relu, gelu", name);
}

const char* activation_name(Activation a) { return a == Activation::GELU ? "gelu" : "relu"; }

// gelu(x) = x/2 · (1 + tanh(u)),  u = √(2/π) (x + 0.044715 x³)
// Backward (from autograd): dx = dy · (½(1 + tanh u) + x/2 · (1 − tanh² u) · √(2/π) (1 + 3·0.044715 x²))
Tensor gelu(const Tensor& x) {
    const double c = std::sqrt(2.0 / std::numbers::pi);
    Tensor u = (x + x * x * x * 0.044715) * c;
    return x * 0.5 * (tanh(u) + 1.0);
}

Tensor activate(const Tensor& x, Activation a) { return a == Activation::GELU ? gelu(x) : relu(x); }

Tensor feed_forward(const Tensor& x, const Linear& linear1, const Linear& linear2, Activation activation,
                    double p, bool training, Generator* generator) {
    Tensor hidden = activate(linear1.forward(x), activation);             // [..., D_ff]
    return linear2.forward(dropout(hidden, p, training, generator));      // [..., D]
}

FeedForward::FeedForward(const FeedForwardOptions& o) : options_(o) {
    if (o.d_model <= 0 || o.dim_feedforward <= 0)
        fail("FeedForward: d_model and dim_feedforward must be positive, got d_model={}, dim_feedforward={}", o.d_model,
             o.dim_feedforward);
    if (!(o.dropout >= 0.0 && o.dropout < 1.0)) fail("FeedForward: dropout must be in [0, 1), got {}", o.dropout);
    linear1 = register_module("linear1", std::make_shared<Linear>(LinearOptions{.in_features = o.d_model,
                                                                                .out_features = o.dim_feedforward,
                                                                                .dtype = o.dtype,
                                                                                .generator = o.generator}));
    linear2 = register_module("linear2", std::make_shared<Linear>(LinearOptions{.in_features = o.dim_feedforward,
                                                                                .out_features = o.d_model,
                                                                                .dtype = o.dtype,
                                                                                .generator = o.generator}));
}

Tensor FeedForward::forward(const Tensor& x) const {
    return feed_forward(x, *linear1, *linear2, options_.activation, options_.dropout, is_training(), options_.generator);
}

// ---- the gradcheck case `seqgrad gradcheck` runs (layers/gradcheck_cases.h) ---------------------

namespace {
const GradcheckCase feed_forward_case("FeedForward", [] {
    Generator g(11);
    FeedForward m({.d_model = 4, .dim_feedforward = 6, .activation = Activation::GELU, .dtype = DType::Float64,
                   .generator = &g});
    return check_layer(m, {gradcheck_input({2, 3, 4}, g)}, [&](const std::vector<Tensor>& x) { return m(x[0]); });
});
}  // namespace

}  // namespace seqgrad::nn
