// Adagrad: per-element learning rates that shrink with the sum of all past squared gradients
// (Duchi, Hazan & Singer 2011), with an optional decay of the global learning rate, as
// torch.optim.Adagrad. The update rule is above Adagrad::update in adagrad.cpp.
#pragma once
#include "optim/optimizer.h"

namespace seqgrad::optim {

// Adagrad(model.parameters(), {.lr = 0.1, .initial_accumulator_value = 0.1})
struct AdagradOptions {
    double lr = 1e-2;
    double lr_decay = 0.0;                   // lr_t = lr / (1 + (t - 1) * lr_decay)
    double weight_decay = 0.0;               // L2 penalty added to the gradient
    double initial_accumulator_value = 0.0;  // the sum of squares starts here
    double eps = 1e-10;                      // added to the denominator
};

class Adagrad : public Optimizer {
public:
    // Throws ShapeError naming "Adagrad" and the option for a negative lr, lr_decay, weight_decay,
    // initial_accumulator_value or eps.
    explicit Adagrad(std::vector<Tensor> params, AdagradOptions options = {});
    Adagrad(std::vector<ParamGroup> groups, AdagradOptions options = {});
    const AdagradOptions& options() const { return options_; }

protected:
    void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) override;
    std::vector<std::string> buffer_names() const override { return {"sum"}; }

private:
    AdagradOptions options_;
};

}  // namespace seqgrad::optim
