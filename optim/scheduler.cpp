// The learning-rate schedulers: the shared state-dict round trip, the closed-form schedules, the
// warmup wrapper and ReduceLROnPlateau. The formulas are in scheduler.h and docs/optim.md.
#include "optim/scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace seqgrad::optim {

namespace {

Tensor scalar64(double v) { return Tensor::scalar(v, DType::Float64); }

// A counter stored as a float64 scalar: must be a non-negative whole number.
std::int64_t count_of(const std::string& who, const std::map<std::string, Tensor>& state, const std::string& key) {
    const double v = state.at(key).item();
    if (!(v >= 0.0) || v != std::floor(v) || v > 9.007199254740992e15)
        fail("{}: load_state_dict: '{}' must be a non-negative whole number, got {}", who, key, v);
    return static_cast<std::int64_t>(v);
}

}  // namespace

// ---- base ---------------------------------------------------------------------------------------

Scheduler::Scheduler(std::string name, Optimizer& opt) : opt_(opt), name_(std::move(name)) {
    for (std::size_t g = 0; g < opt.num_groups(); ++g) base_lrs_.push_back(opt.lr(g));
    last_lrs_ = base_lrs_;
}

void Scheduler::step(double metric) {
    (void)metric;
    fail<Error>("{}: step(metric) is for ReduceLROnPlateau (or a LinearWarmup wrapping it); call step()", name_);
}

void Scheduler::apply(const std::vector<double>& lrs) {
    for (std::size_t g = 0; g < lrs.size(); ++g) opt_.set_lr(g, lrs[g]);
    last_lrs_ = lrs;
}

void Scheduler::check_option(bool ok, const char* option, const char* requirement, double value) const {
    if (!ok) fail("{}: {} {}, got {}", name_, option, requirement, value);
}

std::map<std::string, Tensor> Scheduler::state_dict() const {
    std::map<std::string, Tensor> out;
    out["step"] = scalar64(static_cast<double>(t_));
    for (std::size_t g = 0; g < base_lrs_.size(); ++g) {
        out[fmt::format("base_lrs.{}", g)] = scalar64(base_lrs_[g]);
        out[fmt::format("last_lrs.{}", g)] = scalar64(last_lrs_[g]);
    }
    save_extra(out);
    return out;
}

void Scheduler::load_state_dict(const std::map<std::string, Tensor>& state) {
    // Every entry is a 0-d float64 scalar, and the names are those this scheduler writes itself.
    std::map<std::string, detail::Expected> expected;
    for (const auto& [key, t] : state_dict()) expected[key] = {{}, DType::Float64};
    detail::check_state_keys(name_, state, expected);

    const std::int64_t t = count_of(name_, state, "step");
    std::vector<double> base(base_lrs_.size()), last(last_lrs_.size());
    for (std::size_t g = 0; g < base.size(); ++g) {
        base[g] = state.at(fmt::format("base_lrs.{}", g)).item();
        last[g] = state.at(fmt::format("last_lrs.{}", g)).item();
        if (!(base[g] >= 0.0) || !(last[g] >= 0.0))
            fail("{}: load_state_dict: group {} learning rates must be >= 0, got base {} and last {}", name_, g,
                 base[g], last[g]);
    }
    load_extra(state);  // validates its own values before changing anything
    t_ = t;
    base_lrs_ = std::move(base);
    apply(last);
}

// ---- closed-form schedules ----------------------------------------------------------------------

void ClosedFormScheduler::start() {
    std::vector<double> lrs(base_lrs_.size());
    for (std::size_t g = 0; g < lrs.size(); ++g) lrs[g] = lr_at(t_, base_lrs_[g]);
    apply(lrs);
}

void ClosedFormScheduler::step() {
    ++t_;
    start();
}

StepLR::StepLR(Optimizer& opt, StepLROptions options) : ClosedFormSchedulerWith("StepLR", opt, options) {
    check_option(options.step_size >= 1, "step_size", "must be >= 1", static_cast<double>(options.step_size));
    check_option(options.gamma > 0.0, "gamma", "must be > 0", options.gamma);
    start();
}

// lr = base_lr * gamma^floor(t / step_size)
double StepLR::lr_at(std::int64_t t, double base_lr) const {
    return base_lr * std::pow(options_.gamma, static_cast<double>(t / options_.step_size));
}

ExponentialLR::ExponentialLR(Optimizer& opt, ExponentialLROptions options)
    : ClosedFormSchedulerWith("ExponentialLR", opt, options) {
    check_option(options.gamma > 0.0, "gamma", "must be > 0", options.gamma);
    start();
}

// lr = base_lr * gamma^t
double ExponentialLR::lr_at(std::int64_t t, double base_lr) const {
    return base_lr * std::pow(options_.gamma, static_cast<double>(t));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, CosineAnnealingLROptions options)
    : ClosedFormSchedulerWith("CosineAnnealingLR", opt, options) {
    check_option(options.T_max >= 1, "T_max", "must be >= 1", static_cast<double>(options.T_max));
    check_option(options.eta_min >= 0.0, "eta_min", "must be >= 0", options.eta_min);
    start();
}

// lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2
double CosineAnnealingLR::lr_at(std::int64_t t, double base_lr) const {
    const double phase = std::numbers::pi * static_cast<double>(t) / static_cast<double>(options_.T_max);
    return options_.eta_min + (base_lr - options_.eta_min) * (1.0 + std::cos(phase)) / 2.0;
}

NoamLR::NoamLR(Optimizer& opt, NoamLROptions options) : ClosedFormSchedulerWith("NoamLR", opt, options) {
    check_option(options.d_model >= 1, "d_model", "must be >= 1", static_cast<double>(options.d_model));
    check_option(options.warmup_steps >= 1, "warmup_steps", "must be >= 1", static_cast<double>(options.warmup_steps));
    check_option(options.factor > 0.0, "factor", "must be > 0", options.factor);
    start();
}

// lr = factor * d_model^-0.5 * min(n^-0.5, n * warmup^-1.5), n = t + 1 (base_lr unused)
double NoamLR::lr_at(std::int64_t t, double base_lr) const {
    (void)base_lr;
    const double n = static_cast<double>(t + 1), warmup = static_cast<double>(options_.warmup_steps);
    return options_.factor / std::sqrt(static_cast<double>(options_.d_model)) *
           std::min(1.0 / std::sqrt(n), n / (warmup * std::sqrt(warmup)));
}

// ---- warmup -------------------------------------------------------------------------------------

LinearWarmup::LinearWarmup(Optimizer& opt, LinearWarmupOptions options, std::unique_ptr<Scheduler> inner)
    : Scheduler("LinearWarmup", opt), options_(options), inner_(std::move(inner)) {
    check_option(options.warmup_steps >= 1, "warmup_steps", "must be >= 1", static_cast<double>(options.warmup_steps));
    if (inner_ && &inner_->optimizer() != &opt)
        fail("LinearWarmup: the wrapped {} drives a different optimizer ({}) than the warmup ({})", inner_->name(),
             inner_->optimizer().name(), opt.name());
    // The inner scheduler was built first and has already set its lr for t = 0; its base lrs are
    // the optimizer's lrs from before that, and so are ours.
    if (inner_) base_lrs_ = inner_->base_lrs();
    scale();
}

double LinearWarmup::warmup_factor(std::int64_t t) const {
    return std::min(1.0, static_cast<double>(t + 1) / static_cast<double>(options_.warmup_steps));
}

void LinearWarmup::scale() {
    const std::vector<double>& from = inner_ ? inner_->last_lrs() : base_lrs_;
    std::vector<double> lrs(from.size());
    for (std::size_t g = 0; g < lrs.size(); ++g) lrs[g] = from[g] * warmup_factor(t_);
    apply(lrs);
}

// lr = inner_lr(t) * min(1, (t + 1) / warmup_steps)
void LinearWarmup::step() {
    if (inner_) inner_->step();
    ++t_;
    scale();
}

void LinearWarmup::step(double metric) {
    if (!inner_) fail<Error>("LinearWarmup: step(metric) needs a wrapped scheduler that uses the metric; call step()");
    inner_->step(metric);
    ++t_;
    scale();
}

void LinearWarmup::save_extra(std::map<std::string, Tensor>& out) const {
    if (!inner_) return;
    for (auto& [key, t] : inner_->state_dict()) out["inner." + key] = t;
}

void LinearWarmup::load_extra(const std::map<std::string, Tensor>& state) {
    if (!inner_) return;
    std::map<std::string, Tensor> sub;
    for (const auto& [key, t] : state)
        if (key.rfind("inner.", 0) == 0) sub[key.substr(6)] = t;
    inner_->load_state_dict(sub);
}

// ---- ReduceLROnPlateau --------------------------------------------------------------------------

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& opt, ReduceLROnPlateauOptions options)
    : Scheduler("ReduceLROnPlateau", opt), options_(options) {
    check_option(options.factor > 0.0 && options.factor < 1.0, "factor", "must be in (0, 1)", options.factor);
    check_option(options.patience >= 0, "patience", "must be >= 0", static_cast<double>(options.patience));
    check_option(options.threshold >= 0.0, "threshold", "must be >= 0", options.threshold);
    check_option(options.cooldown >= 0, "cooldown", "must be >= 0", static_cast<double>(options.cooldown));
    check_option(options.min_lr >= 0.0, "min_lr", "must be >= 0", options.min_lr);
    check_option(options.eps >= 0.0, "eps", "must be >= 0", options.eps);
    best_ = options.mode == PlateauMode::Min ? std::numeric_limits<double>::infinity()
                                             : -std::numeric_limits<double>::infinity();
    apply(base_lrs_);
}

void ReduceLROnPlateau::step() {
    fail<Error>("ReduceLROnPlateau: step() needs the metric to watch; call step(metric)");
}

bool ReduceLROnPlateau::is_better(double metric) const {
    const double th = options_.threshold;
    const bool rel = options_.threshold_mode == ThresholdMode::Relative;
    if (options_.mode == PlateauMode::Min) return metric < (rel ? best_ * (1.0 - th) : best_ - th);
    return metric > (rel ? best_ * (1.0 + th) : best_ + th);
}

// See scheduler.h for the rule (torch.optim.lr_scheduler.ReduceLROnPlateau.step).
void ReduceLROnPlateau::step(double metric) {
    if (std::isnan(metric)) fail<Error>("ReduceLROnPlateau: step(metric) got NaN");
    ++t_;
    if (is_better(metric)) {
        best_ = metric;
        num_bad_ = 0;
    } else {
        ++num_bad_;
    }
    if (cooldown_counter_ > 0) {
        --cooldown_counter_;
        num_bad_ = 0;  // bad steps during cooldown do not count
    }
    if (num_bad_ > options_.patience) {
        std::vector<double> lrs = last_lrs_;
        for (double& lr : lrs) {
            const double reduced = std::max(lr * options_.factor, options_.min_lr);
            if (lr - reduced > options_.eps) lr = reduced;
        }
        apply(lrs);
        cooldown_counter_ = options_.cooldown;
        num_bad_ = 0;
    } else {
        apply(last_lrs_);
    }
}

void ReduceLROnPlateau::save_extra(std::map<std::string, Tensor>& out) const {
    out["best"] = scalar64(best_);
    out["num_bad_steps"] = scalar64(static_cast<double>(num_bad_));
    out["cooldown_counter"] = scalar64(static_cast<double>(cooldown_counter_));
}

void ReduceLROnPlateau::load_extra(const std::map<std::string, Tensor>& state) {
    const double best = state.at("best").item();
    if (std::isnan(best)) fail("ReduceLROnPlateau: load_state_dict: 'best' is NaN");
    const std::int64_t bad = count_of(name(), state, "num_bad_steps");
    const std::int64_t cooldown = count_of(name(), state, "cooldown_counter");
    best_ = best;
    num_bad_ = bad;
    cooldown_counter_ = cooldown;
}

}  // namespace seqgrad::optim
