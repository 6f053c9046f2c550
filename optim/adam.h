// Adam and AdamW: adaptive moment estimation with bias correction, as torch.optim.Adam and
// torch.optim.AdamW. They differ only in weight decay: Adam adds weight_decay * p to the gradient
// (an L2 penalty that then passes through the adaptive scaling), AdamW shrinks the parameter
// directly, p -= lr * weight_decay * p, before the Adam update ("decoupled" weight decay,
// Loshchilov & Hutter 2019). The update rule is written above Adam::update in adam.cpp.
#pragma once
#include <array>

#include "optim/optimizer.h"

namespace seqgrad::optim {

// Adam(model.parameters(), {.lr = 1e-3, .betas = {0.9, 0.999}})
struct AdamOptions {
    double lr = 1e-3;
    std::array<double, 2> betas = {0.9, 0.999};  // decay of the first and second moment averages
    double eps = 1e-8;                           // added to the denominator
    double weight_decay = 0.0;                   // L2 penalty added to the gradient
    bool amsgrad = false;                        // use the running max of the second moment
};

// AdamW(model.parameters(), {.lr = 1e-3, .weight_decay = 0.01})
struct AdamWOptions {
    double lr = 1e-3;
    std::array<double, 2> betas = {0.9, 0.999};
    double eps = 1e-8;
    double weight_decay = 1e-2;  // decoupled: p -= lr * weight_decay * p each step
    bool amsgrad = false;
};

class Adam : public Optimizer {
public:
    // Throws ShapeError naming "Adam" and the option for a negative lr, eps or weight_decay, or a
    // beta outside [0, 1).
    explicit Adam(std::vector<Tensor> params, AdamOptions options = {});
    Adam(std::vector<ParamGroup> groups, AdamOptions options = {});
    const AdamOptions& options() const { return options_; }

protected:
    Adam(const char* name, std::vector<ParamGroup> groups, AdamOptions options, bool decoupled);
    void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) override;
    bool folds_grad_scale() const override { return true; }
    std::vector<std::string> buffer_names() const override;

private:
    AdamOptions options_;
    bool decoupled_;  // AdamW
};

class AdamW : public Adam {
public:
    explicit AdamW(std::vector<Tensor> params, AdamWOptions options = {});
    AdamW(std::vector<ParamGroup> groups, AdamWOptions options = {});
};

}  // namespace seqgrad::optim
