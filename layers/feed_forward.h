// The position-wise feed-forward block of a Transformer layer (Vaswani et al. 2017, section 3.3):
//   FFN(x) = linear2(dropout(activation(linear1(x))))        x [..., D] -> [D_ff] -> [..., D]
// applied to every position alone. activation is ReLU (the paper's) or GELU in its tanh form
//   gelu(x) = x/2 · (1 + tanh(√(2/π) (x + 0.044715 x³)))
// (PyTorch's F.gelu(x, approximate="tanh"); the erf form differs by < 1e-3 and needs an erf op seqgrad
// does not have). Parameters as PyTorch's TransformerEncoderLayer names them: linear1.weight [D_ff, D],
// linear1.bias [D_ff], linear2.weight [D, D_ff], linear2.bias [D]; Linear's default initialisation.
// The block is one function, feed_forward(), run by the FeedForward module and by the Transformer
// layers (which hold linear1/linear2 themselves so their names match PyTorch's state dict).
#pragma once
#include <memory>
#include <string_view>

#include "layers/linear.h"
#include "layers/module.h"

namespace seqgrad::nn {

enum class Activation { ReLU, GELU };
// "relu" | "gelu"; anything else is a ShapeError listing both.
Activation parse_activation(std::string_view name);
const char* activation_name(Activation a);

// gelu(x) = x/2 · (1 + tanh(√(2/π) (x + 0.044715 x³))), from core ops (autograd gives the backward).
Tensor gelu(const Tensor& x);
Tensor activate(const Tensor& x, Activation a);

// linear2(dropout(activation(linear1(x)))): x [..., D] -> [..., D].
Tensor feed_forward(const Tensor& x, const Linear& linear1, const Linear& linear2, Activation activation,
                    double dropout, bool training, Generator* generator);

struct FeedForwardOptions {
    std::int64_t d_model = 0;          // D
    std::int64_t dim_feedforward = 0;  // D_ff
    Activation activation = Activation::ReLU;
    double dropout = 0.0;  // after the activation, in training mode
    DType dtype = DType::Float32;
    Generator* generator = nullptr;  // initialisation and dropout; nullptr: the default generator
};

class FeedForward : public Module {
public:
    explicit FeedForward(const FeedForwardOptions& options);
    std::string type_name() const override { return "FeedForward"; }
    Tensor forward(const Tensor& x) const;  // [..., D] -> [..., D]
    Tensor operator()(const Tensor& x) const { return forward(x); }

    std::shared_ptr<Linear> linear1;  // [D_ff, D]
    std::shared_ptr<Linear> linear2;  // [D, D_ff]
    const FeedForwardOptions& options() const { return options_; }

private:
    FeedForwardOptions options_;
};

}  // namespace seqgrad::nn
