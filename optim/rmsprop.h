// RMSprop: divide the gradient by a running root-mean-square of recent gradients (Hinton's
// lecture 6e), optionally centered (divide by an estimate of the standard deviation instead) and
// with optional momentum, as torch.optim.RMSprop. The update rule is above RMSprop::update.
#pragma once
#include "optim/optimizer.h"

namespace seqgrad::optim {

// RMSprop(model.parameters(), {.lr = 1e-2, .alpha = 0.99, .momentum = 0.9, .centered = true})
struct RMSpropOptions {
    double lr = 1e-2;
    double alpha = 0.99;        // decay of the running average of g^2, in [0, 1]
    double eps = 1e-8;          // added to the denominator
    double weight_decay = 0.0;  // L2 penalty added to the gradient
    double momentum = 0.0;      // 0: no momentum buffer
    bool centered = false;      // subtract the square of the running mean of g
};

class RMSprop : public Optimizer {
public:
    // Throws ShapeError naming "RMSprop" and the option for a negative lr, eps, weight_decay or
    // momentum, or alpha outside [0, 1].
    explicit RMSprop(std::vector<Tensor> params, RMSpropOptions options = {});
    RMSprop(std::vector<ParamGroup> groups, RMSpropOptions options = {});
    const RMSpropOptions& options() const { return options_; }

protected:
    void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) override;
    std::vector<std::string> buffer_names() const override;

private:
    RMSpropOptions options_;
};

}  // namespace seqgrad::optim
