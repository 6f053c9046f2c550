// Module: registration, dotted names, train/eval, dtype conversion, state_dict.
#include "layers/module.h"

#include <algorithm>

#include "core/error.h"

namespace seqgrad::nn {

void Module::check_new_name(const std::string& name) const {
    if (name.empty() || name.find('.') != std::string::npos)
        fail("{}: invalid name '{}' (names are non-empty and contain no '.')", type_name(), name);
    auto taken = [&](const auto& list) {
        return std::any_of(list.begin(), list.end(), [&](const auto& p) { return p.first == name; });
    };
    if (taken(params_) || taken(buffers_) || taken(children_))
        fail("{}: the name '{}' is already registered", type_name(), name);
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor) {
    check_new_name(name);
    check_defined("register_parameter", tensor, name.c_str());
    if (!tensor.is_leaf()) fail("{}: parameter '{}' must be a leaf tensor", type_name(), name);
    tensor.set_requires_grad(true);
    params_.emplace_back(name, tensor);
    return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
    check_new_name(name);
    check_defined("register_buffer", tensor, name.c_str());
    buffers_.emplace_back(name, tensor);
    return tensor;
}

void Module::collect(const std::string& prefix, NamedTensors& out, bool buffers) const {
    for (const auto& [name, t] : buffers ? buffers_ : params_) out.emplace_back(prefix + name, t);
    for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out, buffers);
}

NamedTensors Module::named_parameters() const {
    NamedTensors out;
    collect("", out, false);
    return out;
}

NamedTensors Module::named_buffers() const {
    NamedTensors out;
    collect("", out, true);
    return out;
}

std::vector<Tensor> Module::parameters() const {
    std::vector<Tensor> out;
    for (auto& [name, t] : named_parameters()) out.push_back(t);
    return out;
}

std::int64_t Module::num_parameters() const {
    std::int64_t n = 0;
    for (auto& [name, t] : named_parameters()) n += t.numel();
    return n;
}

void Module::train(bool on) {
    training_ = on;
    for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
    for (auto& [name, t] : named_parameters()) t.zero_grad();
}

void Module::to(DType dtype) {
    for (auto& [name, t] : named_parameters()) t.convert_(dtype);
    for (auto& [name, t] : named_buffers())
        if (is_floating(t.dtype())) t.convert_(dtype);
}

DType Module::dtype() const {
    auto ps = named_parameters();
    return ps.empty() ? DType::Float32 : ps.front().second.dtype();
}

std::map<std::string, Tensor> Module::state_dict() const {
    std::map<std::string, Tensor> out;
    for (auto& [name, t] : named_parameters()) out.emplace(name, t);
    for (auto& [name, t] : named_buffers()) out.emplace(name, t);
    return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state) {
    const auto mine = state_dict();
    std::vector<std::string> missing, unexpected, mismatched;
    for (const auto& [name, t] : mine) {
        auto it = state.find(name);
        if (it == state.end()) {
            missing.push_back(name);
        } else if (!it->second.defined() || it->second.shape() != t.shape() || it->second.dtype() != t.dtype()) {
            mismatched.push_back(fmt::format("'{}' is {} {} in the state but {} {} in the model", name,
                                             it->second.defined() ? shape_str(it->second.shape()) : "undefined",
                                             it->second.defined() ? dtype_name(it->second.dtype()) : "",
                                             shape_str(t.shape()), dtype_name(t.dtype())));
        }
    }
    for (const auto& [name, t] : state)
        if (!mine.count(name)) unexpected.push_back(name);
    if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
        std::string msg = fmt::format("{}: load_state_dict:", type_name());
        if (!missing.empty()) msg += fmt::format(" missing [{}];", fmt::join(missing, ", "));
        if (!unexpected.empty()) msg += fmt::format(" unexpected [{}];", fmt::join(unexpected, ", "));
        if (!mismatched.empty()) msg += fmt::format(" mismatched: {};", fmt::join(mismatched, "; "));
        msg.pop_back();
        throw ShapeError(msg);
    }
    for (const auto& [name, t] : mine) {
        Tensor target = t;
        target.copy_(state.at(name));
    }
}

void Module::summary_into(std::string& out, const std::string& name, int depth) const {
    const std::string pad(static_cast<std::size_t>(depth) * 2, ' ');
    out += fmt::format("{}{}{} ({} parameters)\n", pad, name.empty() ? "" : name + ": ", type_name(), num_parameters());
    for (const auto& [pname, t] : params_) out += fmt::format("{}  {} {}\n", pad, pname, shape_str(t.shape()));
    for (const auto& [cname, child] : children_) child->summary_into(out, cname, depth + 1);
}

std::string Module::summary() const {
    std::string out;
    summary_into(out, "", 0);
    return out;
}

}  // namespace seqgrad::nn
