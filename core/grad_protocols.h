// The engine's speed protocols, kept apart from the plain engine (core/autograd.cpp) so that the
// plain engine reads as: order the nodes, call each backward, add its gradients (+=).
//
// A backward function normally sets g[i], the whole gradient of input i. With fast paths on
// (set_fast_paths, the one switch), Grads::fast() also offers three shortcuts; with them off it is
// nullptr and every backward takes the plain path:
//   slices       narrow's gradient is zero except for one slice: hand over only the slice, and the
//                engine adds it in place into the input's gradient (T step slices of a [B, T, F]
//                sequence cost O(B·T·F) in backward, not O(B·T²·F)).
//   accumulators a leaf whose gradient buffer exists and nobody else holds it is offered that buffer:
//                the backward adds into it (a gemm with beta = 1) instead of returning a temporary.
//   deferral     a weight gradient that is a product lhsᵀ rhs with few rows (dW = dyᵀ x at batch 1)
//                may be handed over as its two factors; after the pass the engine adds every use's
//                product in one gemm over the stacked rows ([M, T·R] x [T·R, N] instead of T thin
//                products, each reading and writing all of dW).
// FastGrads is what a backward sees; FastPass is the engine's side for one backward pass.
#pragma once
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace seqgrad {

struct Node;

class FastGrads {
public:
    explicit FastGrads(std::size_t inputs) : n_(inputs) {}

    // ---- slices ----
    // The gradient of input i is zero except along `dim` from `start`, where it is `part` (the input's
    // shape with part.size(dim) in place of its size along dim).
    void set_slice(std::size_t i, Tensor part, std::int64_t dim, std::int64_t start);
    struct Slice {
        Tensor part;
        std::int64_t dim = 0, start = 0;
    };
    const Slice* slice(std::size_t i) const {
        return i < slices_.size() && slices_[i].part.defined() ? &slices_[i] : nullptr;
    }

    // ---- accumulators ----
    // The offered gradient buffer of leaf input i, or undefined: then set g[i] as usual. After adding
    // into it, call accumulated(i).
    const Tensor& accumulator(std::size_t i) const {
        static const Tensor none;
        return i < accumulators_.size() ? accumulators_[i] : none;
    }
    void accumulated(std::size_t i);
    bool was_accumulated(std::size_t i) const { return i < accumulated_.size() && accumulated_[i]; }

    // ---- deferred products ----
    // Worth it for thin products only: with R >= kDeferMaxRows rows per use the per-use gemm is
    // efficient already and stacking the factors costs more than it saves (measured at R = 32).
    static constexpr std::int64_t kDeferMaxRows = 16;
    bool can_defer(std::size_t i, std::int64_t rows) const {
        return rows < kDeferMaxRows && i < deferrable_.size() && deferrable_[i];
    }
    // Input i's gradient is lhsᵀ rhs (lhs [R, M], rhs [R, N]); the engine adds it after the pass.
    void defer_product(std::size_t i, Tensor lhs, Tensor rhs);
    const std::pair<Tensor, Tensor>* deferred(std::size_t i) const {
        return i < deferred_.size() && deferred_[i].first.defined() ? &deferred_[i] : nullptr;
    }

    // The engine's side of the offers.
    void offer_accumulator(std::size_t i, Tensor buffer);
    void allow_defer(std::size_t i);

private:
    std::size_t n_;
    std::vector<Slice> slices_;  // each vector stays empty until its protocol is used
    std::vector<Tensor> accumulators_;
    std::vector<char> accumulated_;
    std::vector<char> deferrable_;
    std::vector<std::pair<Tensor, Tensor>> deferred_;
};

// The engine's side of the protocols for one backward pass.
class FastPass {
public:
    // Before node's backward: offer leaf inputs their gradient buffers and deferral (not in anomaly
    // mode, which checks every gradient on its own and so needs them separately).
    void offer(const Node& node, FastGrads& fast) const;
    // After it: true when input i's gradient went through a protocol (added as a slice, accumulated,
    // or deferred) and so needs nothing more from the plain engine.
    bool take(const Node& node, std::size_t i, const FastGrads& fast);
    // After the whole pass: per leaf, dW += [lhs_1; lhs_2; ...]ᵀ [rhs_1; rhs_2; ...] in one gemm.
    void flush();

private:
    struct Deferred {
        Tensor leaf;
        std::vector<Tensor> lhs, rhs;
    };
    std::unordered_map<TensorImpl*, Deferred> deferred_;
    std::vector<TensorImpl*> order_;  // first-seen order, so the flush is deterministic
};

namespace engine {
// The plain engine's two ways of adding a gradient, shared with the protocols: into a leaf's .grad
// (hooks first), and into a non-leaf's pending gradient (the sum its backward will receive).
void accumulate_leaf(TensorImpl* leaf, Tensor grad);
void add_to_pending(Node& child, const Tensor& grad);
// dst += src, both the same shape and dtype.
void add_inplace(Tensor& dst, const Tensor& src);
}  // namespace engine

}  // namespace seqgrad
