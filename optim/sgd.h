// SGD: stochastic gradient descent with optional momentum (heavy-ball or Nesterov), dampening and
// L2 weight decay, with the semantics of torch.optim.SGD (see sgd.cpp for the update rule).
#pragma once
#include "optim/optimizer.h"

namespace seqgrad::optim {

// SGD(model.parameters(), {.lr = 0.1, .momentum = 0.9, .nesterov = true})
struct SGDOptions {
    double lr = 1e-3;
    double momentum = 0.0;      // 0: plain SGD, no buffer
    double dampening = 0.0;     // scales the new gradient in the buffer by (1 - dampening)
    double weight_decay = 0.0;  // L2 penalty: adds weight_decay * p to the gradient
    bool nesterov = false;      // needs momentum > 0 and dampening == 0
};

class SGD : public Optimizer {
public:
    // Throws ShapeError naming "SGD" and the option for a negative lr, momentum, dampening or
    // weight_decay, or nesterov without momentum > 0 and dampening == 0.
    explicit SGD(std::vector<Tensor> params, SGDOptions options = {});
    SGD(std::vector<ParamGroup> groups, SGDOptions options = {});
    const SGDOptions& options() const { return options_; }

protected:
    void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) override;
    std::vector<std::string> buffer_names() const override;

private:
    SGDOptions options_;
};

}  // namespace seqgrad::optim
