// Learning-rate schedulers. Each one drives the learning rates of an Optimizer's groups through
// set_lr(group, lr); it keeps a reference to the optimizer, which must outlive it.
//
// Like PyTorch's, a scheduler sets the lr for t = 0 when it is constructed, and every step() advances
// t by one and sets the lr for the new t. Call step() after optimizer.step(), once per epoch or once
// per batch, whichever unit the schedule is written in:
//   optim::Adam opt(model.parameters(), {.lr = 1e-3});
//   optim::CosineAnnealingLR sched(opt, {.T_max = 100});
//   for (...) { loss.backward(); opt.step(); opt.zero_grad(); sched.step(); }
//
// base_lr is each group's lr when the scheduler is constructed. The schedules (t = step_count()):
//   StepLR             base_lr * gamma^floor(t / step_size)                     (torch StepLR)
//   ExponentialLR      base_lr * gamma^t                                         (torch ExponentialLR)
//   CosineAnnealingLR  eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2
//                                                         (torch CosineAnnealingLR, closed form)
//   NoamLR             factor * d_model^-0.5 * min(n^-0.5, n * warmup^-1.5), n = t + 1
//                      ("Attention is all you need", 5.3; the inverse-square-root schedule).
//                      It sets the lr outright: the optimizer's own lr is ignored.
//   LinearWarmup       inner_lr(t) * min(1, (t + 1) / warmup_steps), wrapping any scheduler
//                      (or the constant base_lr when it wraps none)
//   ReduceLROnPlateau  lr = max(lr * factor, min_lr) once the metric passed to step(metric) has not
//                      improved for more than `patience` steps            (torch ReduceLROnPlateau)
//
// Each scheduler's state_dict() is a small map of 0-d float64 tensors ("step", "base_lrs.<g>",
// "last_lrs.<g>", plus its own counters); load_state_dict() restores it exactly and sets the
// optimizer's learning rates to the restored ones, so a run resumed from a checkpoint (optimizer
// state, then scheduler state) continues bit for bit.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace seqgrad::optim {

class Scheduler {
public:
    virtual ~Scheduler() = default;
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Advance t by one and set the optimizer's learning rates.
    virtual void step() = 0;
    // The same, driven by a validation metric: ReduceLROnPlateau (and a LinearWarmup wrapping it).
    // The other schedulers throw seqgrad::Error.
    virtual void step(double metric);

    // The learning rate set last, for group 0 and for every group.
    double last_lr() const { return last_lrs_.at(0); }
    const std::vector<double>& last_lrs() const { return last_lrs_; }
    const std::vector<double>& base_lrs() const { return base_lrs_; }
    std::int64_t step_count() const { return t_; }
    Optimizer& optimizer() const { return opt_; }
    const std::string& name() const { return name_; }

    std::map<std::string, Tensor> state_dict() const;
    // Validates the keys (ShapeError naming every missing, unexpected or mismatched entry), then
    // restores and sets the optimizer's learning rates to the restored last_lrs.
    void load_state_dict(const std::map<std::string, Tensor>& state);

protected:
    // Records each group's lr as its base_lr.
    Scheduler(std::string name, Optimizer& opt);
    // Sets every group's lr and remembers them as last_lrs.
    void apply(const std::vector<double>& lrs);
    // Derived state beyond "step", "base_lrs.<g>" and "last_lrs.<g>".
    virtual void save_extra(std::map<std::string, Tensor>& out) const { (void)out; }
    // Restores the derived state (keys already validated); the base part is restored afterwards.
    virtual void load_extra(const std::map<std::string, Tensor>& state) { (void)state; }
    // Throws ShapeError "<name>: <option> <requirement>, got <value>" unless ok.
    void check_option(bool ok, const char* option, const char* requirement, double value) const;

    Optimizer& opt_;
    std::int64_t t_ = 0;
    std::vector<double> base_lrs_;
    std::vector<double> last_lrs_;

private:
    std::string name_;
};

// A schedule that is a function of t and base_lr alone: lr_g(t) = lr_at(t, base_lr_g).
class ClosedFormScheduler : public Scheduler {
public:
    using Scheduler::step;  // step(metric) stays visible (and throws)
    void step() override;
    // The schedule's formula, exposed so tests and plots can evaluate it without stepping.
    virtual double lr_at(std::int64_t t, double base_lr) const = 0;

protected:
    using Scheduler::Scheduler;
    // Sets the lr for t = 0; each derived constructor calls it last.
    void start();
};

// A closed-form schedule with its options struct, kept as options_: the derived constructor checks
// them and calls start().
template <typename Options>
class ClosedFormSchedulerWith : public ClosedFormScheduler {
protected:
    ClosedFormSchedulerWith(std::string name, Optimizer& opt, const Options& options)
        : ClosedFormScheduler(std::move(name), opt), options_(options) {}
    Options options_;
};

struct StepLROptions {
    std::int64_t step_size = 1;  // decay every step_size steps
    double gamma = 0.1;          // by this factor
};
// lr = base_lr * gamma^floor(t / step_size)
class StepLR : public ClosedFormSchedulerWith<StepLROptions> {
public:
    StepLR(Optimizer& opt, StepLROptions options);
    double lr_at(std::int64_t t, double base_lr) const override;
};

struct ExponentialLROptions {
    double gamma = 0.99;
};
// lr = base_lr * gamma^t
class ExponentialLR : public ClosedFormSchedulerWith<ExponentialLROptions> {
public:
    ExponentialLR(Optimizer& opt, ExponentialLROptions options);
    double lr_at(std::int64_t t, double base_lr) const override;
};

struct CosineAnnealingLROptions {
    std::int64_t T_max = 1;  // half a cosine period, in steps
    double eta_min = 0.0;    // the lr at t = T_max
};
// lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2   (rises again after T_max)
class CosineAnnealingLR : public ClosedFormSchedulerWith<CosineAnnealingLROptions> {
public:
    CosineAnnealingLR(Optimizer& opt, CosineAnnealingLROptions options);
    double lr_at(std::int64_t t, double base_lr) const override;
};

struct NoamLROptions {
    std::int64_t d_model = 512;
    std::int64_t warmup_steps = 4000;
    double factor = 1.0;
};
// lr = factor * d_model^-0.5 * min(n^-0.5, n * warmup_steps^-1.5), n = t + 1: a linear rise for
// warmup_steps steps, then decay as 1/sqrt(n). The optimizer's own lr (base_lr) is not used.
class NoamLR : public ClosedFormSchedulerWith<NoamLROptions> {
public:
    NoamLR(Optimizer& opt, NoamLROptions options);
    double lr_at(std::int64_t t, double base_lr) const override;
};
// The same schedule under its other name.
using InverseSqrtLR = NoamLR;

struct LinearWarmupOptions {
    std::int64_t warmup_steps = 1;
};
// lr = inner_lr * min(1, (t + 1) / warmup_steps), where inner_lr is what the wrapped scheduler set
// for its own step t (or base_lr when nothing is wrapped). step() steps the inner scheduler, then
// scales; step(metric) passes the metric on (for a wrapped ReduceLROnPlateau).
//   optim::LinearWarmup sched(opt, {.warmup_steps = 100},
//                             std::make_unique<optim::CosineAnnealingLR>(opt, optim::CosineAnnealingLROptions{.T_max = 1000}));
class LinearWarmup : public Scheduler {
public:
    LinearWarmup(Optimizer& opt, LinearWarmupOptions options, std::unique_ptr<Scheduler> inner = nullptr);
    void step() override;
    void step(double metric) override;
    double warmup_factor(std::int64_t t) const;
    Scheduler* inner() const { return inner_.get(); }

protected:
    void save_extra(std::map<std::string, Tensor>& out) const override;
    void load_extra(const std::map<std::string, Tensor>& state) override;

private:
    void scale();
    LinearWarmupOptions options_;
    std::unique_ptr<Scheduler> inner_;
};

enum class PlateauMode { Min, Max };           // the metric should go down (a loss) or up (accuracy)
enum class ThresholdMode { Relative, Absolute };

struct ReduceLROnPlateauOptions {
    PlateauMode mode = PlateauMode::Min;
    double factor = 0.1;          // new lr = lr * factor, in (0, 1)
    std::int64_t patience = 10;   // steps without improvement tolerated before reducing
    double threshold = 1e-4;      // how much better counts as better
    ThresholdMode threshold_mode = ThresholdMode::Relative;
    std::int64_t cooldown = 0;    // steps to wait after a reduction before counting again
    double min_lr = 0.0;          // lower bound on every group's lr
    double eps = 1e-8;            // reductions smaller than this are skipped
};
// torch.optim.lr_scheduler.ReduceLROnPlateau. step(metric):
//   better = metric < best * (1 - threshold)   (Min, Relative)   metric > best * (1 + threshold)  (Max, Relative)
//            metric < best - threshold         (Min, Absolute)   metric > best + threshold        (Max, Absolute)
//   if better: best = metric, bad = 0   else: bad += 1
//   if cooldown_counter > 0: cooldown_counter -= 1, bad = 0
//   if bad > patience: every group's lr = max(lr * factor, min_lr) (unless that changes it by
//                      less than eps); cooldown_counter = cooldown; bad = 0
// best starts at +inf (Min) or -inf (Max). The lrs it reduces are its own (last_lrs), so it
// composes with LinearWarmup.
class ReduceLROnPlateau : public Scheduler {
public:
    ReduceLROnPlateau(Optimizer& opt, ReduceLROnPlateauOptions options = {});
    void step() override;  // throws seqgrad::Error: this scheduler needs the metric
    void step(double metric) override;
    double best() const { return best_; }
    std::int64_t num_bad_steps() const { return num_bad_; }
    std::int64_t cooldown_counter() const { return cooldown_counter_; }

protected:
    void save_extra(std::map<std::string, Tensor>& out) const override;
    void load_extra(const std::map<std::string, Tensor>& state) override;

private:
    bool is_better(double metric) const;
    ReduceLROnPlateauOptions options_;
    double best_;
    std::int64_t num_bad_ = 0;
    std::int64_t cooldown_counter_ = 0;
};

}  // namespace seqgrad::optim
