// Optimizer: the base of SGD, Adam, AdamW, RMSprop and Adagrad. It holds the parameters (leaf
// tensors, float32 or float64) in one or more parameter groups, the per-parameter state (a step
// count and the moment buffers each optimizer keeps) and the step count, and it turns all of that
// into a flat std::map<std::string, Tensor> and back so that training can stop and resume exactly.
//
// The derived optimizers only write update(): one parameter's in-place update from its gradient,
// a raw loop over data<float>() or data<double>(). step() runs them under NoGradGuard and skips
// every parameter whose gradient is undefined (it took no part in the loss).
//
// State-dict names (scalars are 0-d float64 tensors, buffers have the parameter's shape and dtype):
//   "step"                 how many times step() has run
//   "group.<g>.lr"         each group's learning rate (schedulers change it)
//   "group.<g>.weight_decay"
//   "state.<i>.step"       how many updates parameter i has had (its bias corrections use it)
//   "state.<i>.<buffer>"   e.g. "state.0.exp_avg", "state.3.momentum_buffer"
// Parameters are numbered 0, 1, ... across the groups in order, as in PyTorch. A parameter that has
// never had a gradient has no "state.<i>.*" entries at all.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace seqgrad::optim {

// Parameters that share a learning rate and weight decay. An unset lr or weight_decay takes the
// optimizer options' value; every other option (betas, momentum, ...) is the optimizer's and is the
// same for every group:
//   SGD({{.params = encoder.parameters(), .lr = 0.1}, {.params = decoder.parameters()}}, {.lr = 0.01})
struct ParamGroup {
    std::vector<Tensor> params = {};
    std::optional<double> lr = std::nullopt;
    std::optional<double> weight_decay = std::nullopt;
};

// What an optimizer keeps for one parameter: its update count and named buffers of its shape.
struct ParamState {
    std::int64_t step = 0;
    std::map<std::string, Tensor> buffers;
};

class Optimizer {
public:
    virtual ~Optimizer() = default;
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    // One update of every parameter that has a gradient; parameters without one are left alone.
    void step();
    // The same update as if every gradient had first been multiplied by grad_scale (rounded to the
    // gradient's dtype), with the gradients left as they are: clip_coefficient(...) then
    // step(coefficient) updates exactly as clip_grad_norm(...) then step() (optim/clip.h), one pass
    // over the gradients fewer where the optimizer folds the factor into its update (Adam, AdamW).
    void step(double grad_scale);
    // Drops every parameter's gradient (the next backward() starts from nothing).
    void zero_grad();

    // The learning rate of group 0, and of group `group`.
    double lr() const { return lr(0); }
    double lr(std::size_t group) const;
    // Sets the learning rate of every group, or of one group. Schedulers call these.
    void set_lr(double lr);
    void set_lr(std::size_t group, double lr);
    double weight_decay(std::size_t group = 0) const;

    std::int64_t step_count() const { return step_count_; }
    const std::string& name() const { return name_; }
    // Groups with lr and weight_decay always set (defaults filled in).
    const std::vector<ParamGroup>& param_groups() const { return groups_; }
    std::size_t num_groups() const { return groups_.size(); }
    // Every parameter, across the groups in order (the numbering of "state.<i>.*").
    std::vector<Tensor> parameters() const;

    // A snapshot (copies, not views) of the step count, the groups' lr and weight_decay and every
    // parameter's state, under the names listed at the top of this file.
    std::map<std::string, Tensor> state_dict() const;
    // Restores a snapshot exactly. Validates first and changes nothing on error: a ShapeError names
    // every missing, unexpected and mismatched (shape or dtype) entry.
    void load_state_dict(const std::map<std::string, Tensor>& state);

protected:
    // name: "SGD", "Adam", ... (used in every error message); lr and weight_decay: the defaults for
    // groups that leave them unset. Throws ShapeError for an empty or invalid parameter list or a
    // negative lr / weight_decay.
    Optimizer(std::string name, std::vector<ParamGroup> groups, double lr, double weight_decay);

    // Updates one parameter in place. `grad` is defined with the parameter's shape and dtype;
    // state.step has already been incremented (it is 1 on the parameter's first update) and
    // state.buffers holds what the previous updates left there (empty before the first).
    virtual void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) = 0;
    // True when update() multiplies the gradient by grad_scale() itself; otherwise step(scale) hands
    // update() a scaled copy of each gradient.
    virtual bool folds_grad_scale() const { return false; }
    // The factor of the step in progress (1 for step()).
    double grad_scale() const { return grad_scale_; }
    // The buffers this optimizer keeps per parameter with its current options, e.g.
    // {"exp_avg", "exp_avg_sq"}. load_state_dict expects exactly these.
    virtual std::vector<std::string> buffer_names() const = 0;

    // A zero-filled (or value-filled) buffer like `param`, created on first use.
    static Tensor& buffer(ParamState& state, const std::string& name, const Tensor& param, double init = 0.0);

    // Throws ShapeError "<name>: <option> <problem>, got <value>" unless ok.
    void check_option(bool ok, const char* option, const char* requirement, double value) const;

private:
    std::string name_;
    std::vector<ParamGroup> groups_;
    std::vector<ParamState> state_;  // one per parameter, in parameters() order
    std::int64_t step_count_ = 0;
    double grad_scale_ = 1.0;
};

// The value of the 0-d tensor state[key] (ShapeError naming the key when it is missing or not one element).
double scalar_of(const std::map<std::string, Tensor>& state, const std::string& key);

namespace detail {
// Checks `state` against the expected entries (name -> shape and dtype) and throws one ShapeError
// "<who>: load_state_dict: missing [...]; unexpected [...]; mismatched: ..." listing every problem.
struct Expected {
    Shape shape;
    DType dtype;
};
void check_state_keys(const std::string& who, const std::map<std::string, Tensor>& state,
                      const std::map<std::string, Expected>& expected);
}  // namespace detail

}  // namespace seqgrad::optim
