// The Optimizer base: parameter groups, step()/zero_grad(), learning-rate access and the exact
// state-dict round trip (validate everything, then copy).
#include "optim/optimizer.h"

#include <cmath>
#include <unordered_set>

#include "core/autograd.h"

namespace seqgrad::optim {

namespace {

Tensor scalar64(double v) { return Tensor::scalar(v, DType::Float64); }

}  // namespace

Optimizer::Optimizer(std::string name, std::vector<ParamGroup> groups, double lr, double weight_decay)
    : name_(std::move(name)), groups_(std::move(groups)) {
    check_option(lr >= 0.0, "lr", "must be >= 0", lr);
    check_option(weight_decay >= 0.0, "weight_decay", "must be >= 0", weight_decay);
    if (groups_.empty()) fail("{}: got no parameter groups", name_);
    std::unordered_set<const TensorImpl*> seen;
    std::size_t count = 0;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
        ParamGroup& group = groups_[g];
        if (!group.lr) group.lr = lr;
        if (!group.weight_decay) group.weight_decay = weight_decay;
        if (!(*group.lr >= 0.0)) fail("{}: param group {}: lr must be >= 0, got {}", name_, g, *group.lr);
        if (!(*group.weight_decay >= 0.0))
            fail("{}: param group {}: weight_decay must be >= 0, got {}", name_, g, *group.weight_decay);
        for (std::size_t i = 0; i < group.params.size(); ++i) {
            const Tensor& p = group.params[i];
            if (!p.defined()) fail("{}: param group {}: parameter {} is undefined", name_, g, i);
            if (!is_floating(p.dtype()))
                fail("{}: param group {}: parameter {} {} is {}, expected float32 or float64", name_, g, i,
                     shape_str(p.shape()), dtype_name(p.dtype()));
            if (!p.is_leaf())
                fail("{}: param group {}: parameter {} {} is not a leaf (it comes from '{}'); optimize the "
                     "tensor it was computed from",
                     name_, g, i, shape_str(p.shape()), p.grad_fn()->op);
            if (!seen.insert(p.impl()).second)
                fail("{}: param group {}: parameter {} {} appears more than once", name_, g, i, shape_str(p.shape()));
        }
        count += group.params.size();
    }
    if (count == 0) fail("{}: got an empty parameter list", name_);
    state_.resize(count);
}

void Optimizer::check_option(bool ok, const char* option, const char* requirement, double value) const {
    if (!ok) fail("{}: {} {}, got {}", name_, option, requirement, value);
}

Tensor& Optimizer::buffer(ParamState& state, const std::string& name, const Tensor& param, double init) {
    auto it = state.buffers.find(name);
    if (it == state.buffers.end()) it = state.buffers.emplace(name, full(param.shape(), init, {.dtype = param.dtype()})).first;
    return it->second;
}

void Optimizer::step() { step(1.0); }

namespace {
// grad * scale, rounded to the gradient's dtype element by element, in a new tensor.
Tensor scaled_copy(const Tensor& grad, double scale) {
    Tensor out = Tensor::empty(grad.shape(), grad.dtype());
    dispatch_floating(grad.dtype(), "step", [&](auto tag) {
        using T = decltype(tag);
        const T* g = grad.data<T>();
        T* o = out.data<T>();
        const T c = static_cast<T>(scale);
        for (std::int64_t i = 0, n = grad.numel(); i < n; ++i) o[i] = g[i] * c;
    });
    return out;
}
}  // namespace

void Optimizer::step(double grad_scale) {
    if (!std::isfinite(grad_scale)) fail("{}: step: grad_scale must be finite, got {}", name_, grad_scale);
    NoGradGuard no_grad;
    struct Reset {  // back to 1 however the loop ends
        double& scale;
        ~Reset() { scale = 1.0; }
    } reset{grad_scale_};
    grad_scale_ = grad_scale;
    const bool copy = grad_scale != 1.0 && !folds_grad_scale();
    std::size_t index = 0;
    for (const ParamGroup& group : groups_) {
        for (const Tensor& p : group.params) {
            ParamState& st = state_[index++];
            const Tensor grad = p.grad();
            if (!grad.defined()) continue;  // took no part in the loss: no update, no state
            ++st.step;
            Tensor param = p;
            update(group, param, copy ? scaled_copy(grad, grad_scale) : grad, st);
            param.mark_modified();  // copies derived from the values (bf16 weights) are stale now
        }
    }
    ++step_count_;
}

void Optimizer::zero_grad() {
    for (const ParamGroup& group : groups_)
        for (const Tensor& p : group.params) p.zero_grad();
}

double Optimizer::lr(std::size_t group) const {
    if (group >= groups_.size()) fail<IndexError>("{}: lr: group {} out of range ({} groups)", name_, group, groups_.size());
    return *groups_[group].lr;
}

void Optimizer::set_lr(double value) {
    for (std::size_t g = 0; g < groups_.size(); ++g) set_lr(g, value);
}

void Optimizer::set_lr(std::size_t group, double value) {
    if (group >= groups_.size())
        fail<IndexError>("{}: set_lr: group {} out of range ({} groups)", name_, group, groups_.size());
    check_option(value >= 0.0, "lr", "must be >= 0", value);
    groups_[group].lr = value;
}

double Optimizer::weight_decay(std::size_t group) const {
    if (group >= groups_.size())
        fail<IndexError>("{}: weight_decay: group {} out of range ({} groups)", name_, group, groups_.size());
    return *groups_[group].weight_decay;
}

std::vector<Tensor> Optimizer::parameters() const {
    std::vector<Tensor> out;
    for (const ParamGroup& group : groups_) out.insert(out.end(), group.params.begin(), group.params.end());
    return out;
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
    std::map<std::string, Tensor> out;
    out["step"] = scalar64(static_cast<double>(step_count_));
    for (std::size_t g = 0; g < groups_.size(); ++g) {
        out[fmt::format("group.{}.lr", g)] = scalar64(*groups_[g].lr);
        out[fmt::format("group.{}.weight_decay", g)] = scalar64(*groups_[g].weight_decay);
    }
    for (std::size_t i = 0; i < state_.size(); ++i) {
        const ParamState& st = state_[i];
        if (st.step == 0) continue;  // never updated: no state yet
        out[fmt::format("state.{}.step", i)] = scalar64(static_cast<double>(st.step));
        for (const auto& [name, buf] : st.buffers) out[fmt::format("state.{}.{}", i, name)] = buf.clone();
    }
    return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
    // What a complete snapshot holds: the scalars always, and for each parameter that has state
    // in the snapshot (any "state.<i>." entry) its step and every buffer of this optimizer.
    std::map<std::string, detail::Expected> expected;
    expected["step"] = {{}, DType::Float64};
    for (std::size_t g = 0; g < groups_.size(); ++g) {
        expected[fmt::format("group.{}.lr", g)] = {{}, DType::Float64};
        expected[fmt::format("group.{}.weight_decay", g)] = {{}, DType::Float64};
    }
    const std::vector<Tensor> params = parameters();
    const std::vector<std::string> buffers = buffer_names();
    std::vector<bool> has_state(params.size(), false);
    for (std::size_t i = 0; i < params.size(); ++i) {
        const std::string prefix = fmt::format("state.{}.", i);
        auto it = state.lower_bound(prefix);
        if (it == state.end() || it->first.compare(0, prefix.size(), prefix) != 0) continue;
        has_state[i] = true;
        expected[prefix + "step"] = {{}, DType::Float64};
        for (const std::string& b : buffers) expected[prefix + b] = {params[i].shape(), params[i].dtype()};
    }
    detail::check_state_keys(name_, state, expected);

    // Values: counts must be whole and non-negative, learning rates valid.
    auto count_of = [&](const std::string& key) {
        const double v = state.at(key).item();
        if (!(v >= 0.0) || v != std::floor(v) || v > 9.007199254740992e15)
            fail("{}: load_state_dict: '{}' must be a non-negative whole number, got {}", name_, key, v);
        return static_cast<std::int64_t>(v);
    };
    const std::int64_t step_count = count_of("step");
    std::vector<std::int64_t> steps(params.size(), 0);
    for (std::size_t i = 0; i < params.size(); ++i) {
        if (!has_state[i]) continue;
        steps[i] = count_of(fmt::format("state.{}.step", i));
        if (steps[i] == 0) fail("{}: load_state_dict: 'state.{}.step' is 0 but the parameter has state", name_, i);
    }
    for (std::size_t g = 0; g < groups_.size(); ++g) {
        const double lr = state.at(fmt::format("group.{}.lr", g)).item();
        const double wd = state.at(fmt::format("group.{}.weight_decay", g)).item();
        if (!(lr >= 0.0)) fail("{}: load_state_dict: 'group.{}.lr' must be >= 0, got {}", name_, g, lr);
        if (!(wd >= 0.0)) fail("{}: load_state_dict: 'group.{}.weight_decay' must be >= 0, got {}", name_, g, wd);
    }

    // Everything checked: apply.
    step_count_ = step_count;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
        groups_[g].lr = state.at(fmt::format("group.{}.lr", g)).item();
        groups_[g].weight_decay = state.at(fmt::format("group.{}.weight_decay", g)).item();
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
        ParamState fresh;
        if (has_state[i]) {
            fresh.step = steps[i];
            for (const std::string& b : buffers) fresh.buffers[b] = state.at(fmt::format("state.{}.{}", i, b)).clone();
        }
        state_[i] = std::move(fresh);
    }
}

double scalar_of(const std::map<std::string, Tensor>& state, const std::string& key) {
    auto it = state.find(key);
    if (it == state.end()) fail("state dict: missing entry '{}'", key);
    if (!it->second.defined() || it->second.numel() != 1)
        fail("state dict: entry '{}' should hold one number, got {}", key,
             it->second.defined() ? shape_str(it->second.shape()) : std::string("an undefined tensor"));
    return it->second.item();
}

namespace detail {

void check_state_keys(const std::string& who, const std::map<std::string, Tensor>& state,
                      const std::map<std::string, Expected>& expected) {
    std::vector<std::string> missing, unexpected, mismatched;
    for (const auto& [name, want] : expected) {
        auto it = state.find(name);
        if (it == state.end()) {
            missing.push_back("'" + name + "'");
            continue;
        }
        const Tensor& t = it->second;
        if (!t.defined() || t.shape() != want.shape || t.dtype() != want.dtype)
            mismatched.push_back(fmt::format("'{}' is {} {} in the state but should be {} {}", name,
                                             t.defined() ? shape_str(t.shape()) : "undefined",
                                             t.defined() ? dtype_name(t.dtype()) : "", shape_str(want.shape),
                                             dtype_name(want.dtype)));
    }
    for (const auto& [name, t] : state)
        if (!expected.count(name)) unexpected.push_back("'" + name + "'");
    if (missing.empty() && unexpected.empty() && mismatched.empty()) return;
    std::string msg = fmt::format("{}: load_state_dict:", who);
    if (!missing.empty()) msg += fmt::format(" missing [{}];", fmt::join(missing, ", "));
    if (!unexpected.empty()) msg += fmt::format(" unexpected [{}];", fmt::join(unexpected, ", "));
    if (!mismatched.empty()) msg += fmt::format(" mismatched: {};", fmt::join(mismatched, "; "));
    msg.pop_back();
    throw ShapeError(msg);
}

}  // namespace detail

}  // namespace seqgrad::optim
