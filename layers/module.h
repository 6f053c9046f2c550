// Module: the base of every layer. A module owns its parameters (leaf tensors with requires_grad)
// and its child modules, each under a name, so parameters get dotted names such as
// `decoder.attention.W_query.weight` (PyTorch's nn.Module convention).
//
// Ownership is a tree: a parent holds shared_ptrs to its children, never the other way round.
// Converting a module's dtype (to(DType::Float64) for gradcheck) changes its tensors in place, so
// the handles a layer keeps in its members stay valid.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace seqgrad::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
public:
    virtual ~Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    // The layer's type, e.g. "Linear"; shown in errors and summaries.
    virtual std::string type_name() const = 0;

    // All parameters with dotted names, in registration order (children after own parameters).
    NamedTensors named_parameters() const;
    std::vector<Tensor> parameters() const;
    // Non-trainable state saved with the weights (e.g. running statistics).
    NamedTensors named_buffers() const;
    const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
    std::int64_t num_parameters() const;

    // Training mode (dropout active) or evaluation mode, propagated to every child.
    void train(bool on = true);
    void eval() { train(false); }
    bool is_training() const { return training_; }

    void zero_grad();
    // Convert every parameter and buffer in place (float32 <-> float64).
    void to(DType dtype);
    DType dtype() const;

    // name -> tensor for every parameter and buffer (the tensors themselves, not copies).
    std::map<std::string, Tensor> state_dict() const;
    // Copies values in: missing, unexpected and mis-shaped entries are one error listing them all.
    void load_state_dict(const std::map<std::string, Tensor>& state);

    // An indented tree: each module's type, its parameters and their shapes.
    std::string summary() const;

protected:
    Module() = default;
    // Registers a leaf tensor as a parameter (sets requires_grad) and returns it.
    Tensor register_parameter(const std::string& name, Tensor tensor);
    Tensor register_buffer(const std::string& name, Tensor tensor);
    template <typename M>
    std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
        check_new_name(name);
        children_.emplace_back(name, module);
        return module;
    }

private:
    void check_new_name(const std::string& name) const;
    void collect(const std::string& prefix, NamedTensors& out, bool buffers) const;
    void summary_into(std::string& out, const std::string& name, int depth) const;

    NamedTensors params_;
    NamedTensors buffers_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
    bool training_ = true;
};

// A list of child modules of one type, registered under the names "0", "1", ... so their parameters
// are `layers.0.self_attn.in_proj_weight`, ... as PyTorch's nn.ModuleList gives them.
template <typename M>
class ModuleList : public Module {
public:
    ModuleList() = default;
    std::string type_name() const override { return "ModuleList"; }
    void push_back(std::shared_ptr<M> module) {
        items_.push_back(register_module(std::to_string(items_.size()), std::move(module)));
    }
    std::size_t size() const { return items_.size(); }
    bool empty() const { return items_.empty(); }
    M& operator[](std::size_t i) const { return *items_.at(i); }
    auto begin() const { return items_.begin(); }
    auto end() const { return items_.end(); }

private:
    std::vector<std::shared_ptr<M>> items_;
};

// n identical copies of one layer, as the Annotated Transformer's clones() and PyTorch's _get_clones
// (copy.deepcopy) give: make() builds each copy (modules are not copyable), then every copy takes the
// first one's parameters and buffers, so all n start equal and are trained apart.
template <typename M, typename Make>
std::shared_ptr<ModuleList<M>> clones(std::int64_t n, Make make) {
    auto list = std::make_shared<ModuleList<M>>();
    for (std::int64_t i = 0; i < n; ++i) list->push_back(make());
    for (std::size_t i = 1; i < list->size(); ++i) (*list)[i].load_state_dict((*list)[0].state_dict());
    return list;
}

}  // namespace seqgrad::nn
