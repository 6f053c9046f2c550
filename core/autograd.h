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
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace seqgrad {

// What a backward function fills: g[i] is the gradient for input i, left undefined when no
// gradient flows there. needs(i) says whether input i wants one at all (skip the work otherwise).
class Grads {
public:
    explicit Grads(std::vector<char> needs) : needs_(std::move(needs)), grads_(needs_.size()) {}
    bool needs(std::size_t i) const { return i < needs_.size() && needs_[i]; }
    Tensor& operator[](std::size_t i) { return grads_.at(i); }
    std::size_t size() const { return grads_.size(); }

    // The gradient of input i is zero except for one slice along `dim`, starting at `start`, whose
    // gradient is `part` (the input's shape with part.size(dim) in place of its size along dim).
    // The engine adds `part` into the input's accumulated gradient in place instead of receiving a
    // full-size tensor of zeros, so the T step slices of a [B, T, F] sequence cost O(B·T·F) in
    // backward, not O(B·T²·F). Used by narrow (and so select, chunk, split).
    void set_slice(std::size_t i, Tensor part, std::int64_t dim, std::int64_t start) {
        if (slices_.empty()) slices_.resize(grads_.size());
        slices_.at(i) = Slice{std::move(part), dim, start};
    }
    struct Slice {
        Tensor part;
        std::int64_t dim = 0, start = 0;
    };
    // The slice given for input i by set_slice, or nullptr.
    const Slice* slice(std::size_t i) const {
        return i < slices_.size() && slices_[i].part.defined() ? &slices_[i] : nullptr;
    }

    // When input i is a leaf whose gradient buffer already exists and nothing else holds it, the
    // engine offers that buffer here: a backward may add its gradient straight into it (a gemm with
    // beta = 1, say) and call accumulated(i) instead of setting g[i]. Saves a temporary and a pass
    // when a weight is used at every time step. Undefined otherwise: then set g[i] as usual.
    const Tensor& accumulator(std::size_t i) const {
        static const Tensor none;
        return i < accumulators_.size() ? accumulators_[i] : none;
    }
    void accumulated(std::size_t i) {
        if (accumulated_.empty()) accumulated_.resize(grads_.size(), 0);
        accumulated_.at(i) = 1;
    }
    bool was_accumulated(std::size_t i) const { return i < accumulated_.size() && accumulated_[i]; }
    // When input i is a leaf that may take a deferred gradient (no hooks, anomaly mode off), a
    // backward whose gradient for it is a product lhsᵀ rhs (lhs [R, M], rhs [R, N]; a weight gradient
    // dW = dyᵀ x) may hand over the two factors instead. The engine keeps them and, after the whole
    // backward pass, adds every use's product in one gemm over the stacked rows: a weight used at T
    // time steps gets one [M, T·R] x [T·R, N] product instead of T small ones, each reading and
    // writing all of dW.
    // Worth it for thin products only: with R >= kDeferMaxRows rows per use the per-use gemm is
    // efficient already and stacking the factors costs more than it saves (measured at R = 32).
    static constexpr std::int64_t kDeferMaxRows = 16;
    bool can_defer(std::size_t i, std::int64_t rows) const {
        return rows < kDeferMaxRows && i < deferrable_.size() && deferrable_[i];
    }
    void defer_product(std::size_t i, Tensor lhs, Tensor rhs) {
        if (deferred_.empty()) deferred_.resize(grads_.size());
        deferred_.at(i) = {std::move(lhs), std::move(rhs)};
        accumulated(i);
    }
    const std::pair<Tensor, Tensor>* deferred(std::size_t i) const {
        return i < deferred_.size() && deferred_[i].first.defined() ? &deferred_[i] : nullptr;
    }
    void allow_defer(std::size_t i) {
        if (deferrable_.empty()) deferrable_.resize(grads_.size(), 0);
        deferrable_.at(i) = 1;
    }
    void offer_accumulator(std::size_t i, Tensor buffer) {
        if (accumulators_.empty()) accumulators_.resize(grads_.size());
        accumulators_.at(i) = std::move(buffer);
    }

private:
    std::vector<char> needs_;
    std::vector<Tensor> grads_;
    std::vector<Slice> slices_;  // empty unless some backward used set_slice
    std::vector<Tensor> accumulators_;
    std::vector<char> accumulated_;
    std::vector<char> deferrable_;
    std::vector<std::pair<Tensor, Tensor>> deferred_;
};

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

// Deferred weight gradients (Grads::defer_product): on by default; off, every use of a weight adds
// its own product into the gradient as it is reached (the plain path; same values up to rounding).
bool defer_weight_grads();
void set_defer_weight_grads(bool enabled);

// ---- grad mode ----------------------------------------------------------------------------------
bool grad_enabled();
void set_grad_enabled(bool enabled);
// RAII: no graph is built inside its scope (decoding, optimizer updates).
class NoGradGuard {
public:
    NoGradGuard() : prev_(grad_enabled()) { set_grad_enabled(false); }
    ~NoGradGuard() { set_grad_enabled(prev_); }
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool prev_;
};

// ---- anomaly mode -------------------------------------------------------------------------------
// When on, every op's output and every gradient is checked for NaN/Inf; the AnomalyError names the
// first op that produced one (for a gradient, the forward op whose backward produced it).
bool anomaly_detection();
void set_anomaly_detection(bool enabled);
class AnomalyGuard {
public:
    explicit AnomalyGuard(bool enabled = true) : prev_(anomaly_detection()) { set_anomaly_detection(enabled); }
    ~AnomalyGuard() { set_anomaly_detection(prev_); }
    AnomalyGuard(const AnomalyGuard&) = delete;
    AnomalyGuard& operator=(const AnomalyGuard&) = delete;

private:
    bool prev_;
};
// Throws AnomalyError("<where>: <op> produced NaN/Inf ...") when t holds a non-finite value.
void check_finite(const Tensor& t, const std::string& where);

// ---- tracing ------------------------------------------------------------------------------------
// When a stream is set, each backward node prints one line as it runs: op, output shape, the norm
// of the incoming gradient. nullptr switches tracing off.
void set_backward_trace(std::ostream* out);

}  // namespace seqgrad
