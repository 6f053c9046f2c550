// The reverse-mode autodiff engine.
//
// Every differentiable op computes its output, then calls record(op, output, inputs, backward).
// record() creates a Node that owns the inputs (strong, toward the leaves) and the backward
// function; the output owns the Node through grad_fn. The Node only has a weak pointer back to its
// output, so there are no ownership cycles.
//
// backward(): topological order by an explicit stack (no recursion), gradients accumulated when a
// tensor is used more than once, every returned gradient checked against its input's shape and
// dtype (a mismatch names the op). Afterwards the graph is released unless retain_graph is set.
// The speed protocols (slices, accumulators, deferred weight products) live in core/grad_protocols.h.
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/scoped_setting.h"

#include "core/grad_protocols.h"
#include "core/tensor.h"

namespace seqgrad {

// What a backward function fills: g[i] is the gradient for input i, left undefined when no
// gradient flows there. needs(i) says whether input i wants one at all (skip the work otherwise).
// fast() gives the engine's speed protocols (core/grad_protocols.h: slices, accumulators, deferred
// products), or nullptr on the plain path (set_fast_paths(false)): then g[i] is all there is.
class Grads {
public:
    Grads(std::vector<char> needs, FastGrads* fast = nullptr)
        : needs_(std::move(needs)), grads_(needs_.size()), fast_(fast) {}
    bool needs(std::size_t i) const { return i < needs_.size() && needs_[i]; }
    Tensor& operator[](std::size_t i) { return grads_.at(i); }
    std::size_t size() const { return grads_.size(); }
    FastGrads* fast() const { return fast_; }

private:
    std::vector<char> needs_;
    std::vector<Tensor> grads_;
    FastGrads* fast_;
};

// Input i's gradient is lhsᵀ rhs (lhs [R, M], rhs [R, N]; a weight gradient dW = dyᵀ x): deferred
// or added into the offered buffer when the protocols allow it, else g[i] = lhsᵀ rhs (the plain path).
void set_product_grad(Grads& g, std::size_t i, const Tensor& lhs, const Tensor& rhs);

using BackwardFn = std::function<void(const Tensor& dy, Grads& g)>;

struct Node {
    ~Node();  // releases long chains iteratively (no stack overflow on a 2,000-step unroll)

    std::string op;                  // op name, shown in errors, traces and graph exports
    std::vector<Tensor> inputs;      // strong: only inputs that require grad (others undefined)
    BackwardFn backward;
    Shape out_shape;
    DType out_dtype = DType::Float32;
    std::weak_ptr<TensorImpl> output;  // weak: never owns its output
    std::uint64_t sequence = 0;        // creation order, for traces and anomaly messages
    bool released = false;             // graph freed by an earlier backward()

    // Engine scratch space, valid only during one backward pass.
    Tensor pending_grad;
    std::uint64_t visit_epoch = 0;
};

// Attach history to `output` when grad mode is on and some input requires grad; returns output.
Tensor record(const char* op, Tensor output, std::vector<Tensor> inputs, BackwardFn backward);

// Run the backward pass from root with the given output gradient (same shape as root).
void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph);

// ---- fast paths: the one switch -----------------------------------------------------------------
// On (the default), layers use the fused ops of core/fused_ops.h and the engine its speed protocols
// (core/grad_protocols.h). Off, everything takes the plain composite path: layers are built from the
// primitives of core/ops.h and the engine only orders the nodes, calls each backward and adds
// gradients. Same values up to rounding (the tests compare both). Per thread, like grad mode.
bool fast_paths_enabled();
void set_fast_paths(bool enabled);
using FastPathGuard = ScopedSetting<bool, fast_paths_enabled, set_fast_paths>;

// ---- grad mode ----------------------------------------------------------------------------------
bool grad_enabled();
void set_grad_enabled(bool enabled);
// RAII: no graph is built inside its scope (decoding, optimizer updates).
class NoGradGuard : public ScopedSetting<bool, grad_enabled, set_grad_enabled> {
public:
    NoGradGuard() : ScopedSetting(false) {}
};

// ---- anomaly mode -------------------------------------------------------------------------------
// When on, every op's output and every gradient is checked for NaN/Inf; the AnomalyError names the
// first op that produced one (for a gradient, the forward op whose backward produced it).
bool anomaly_detection();
void set_anomaly_detection(bool enabled);
class AnomalyGuard : public ScopedSetting<bool, anomaly_detection, set_anomaly_detection> {
public:
    explicit AnomalyGuard(bool enabled = true) : ScopedSetting(enabled) {}
};
// Throws AnomalyError("<where>: <op> produced NaN/Inf ...") when t holds a non-finite value.
void check_finite(const Tensor& t, const std::string& where);

// ---- tracing ------------------------------------------------------------------------------------
// When a stream is set, each backward node prints one line as it runs: op, output shape, the norm
// of the incoming gradient. nullptr switches tracing off.
void set_backward_trace(std::ostream* out);

}  // namespace seqgrad
