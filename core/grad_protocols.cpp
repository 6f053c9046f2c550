// The speed protocols of the backward pass (core/grad_protocols.h): slices, accumulators and
// deferred weight products, on both sides (the backward's and the engine's).
#include "core/grad_protocols.h"

#include "core/autograd.h"
#include "core/ops.h"

namespace seqgrad {

// ---- what a backward sees -----------------------------------------------------------------------

void FastGrads::set_slice(std::size_t i, Tensor part, std::int64_t dim, std::int64_t start) {
    if (slices_.empty()) slices_.resize(n_);
    slices_.at(i) = Slice{std::move(part), dim, start};
}

void FastGrads::accumulated(std::size_t i) {
    if (accumulated_.empty()) accumulated_.resize(n_, 0);
    accumulated_.at(i) = 1;
}

void FastGrads::defer_product(std::size_t i, Tensor lhs, Tensor rhs) {
    if (deferred_.empty()) deferred_.resize(n_);
    deferred_.at(i) = {std::move(lhs), std::move(rhs)};
    accumulated(i);
}

void FastGrads::offer_accumulator(std::size_t i, Tensor buffer) {
    if (accumulators_.empty()) accumulators_.resize(n_);
    accumulators_.at(i) = std::move(buffer);
}

void FastGrads::allow_defer(std::size_t i) {
    if (deferrable_.empty()) deferrable_.resize(n_, 0);
    deferrable_.at(i) = 1;
}

void set_product_grad(Grads& g, std::size_t i, const Tensor& lhs, const Tensor& rhs) {
    FastGrads* fast = g.fast();
    if (fast && fast->can_defer(i, lhs.shape()[0])) {
        fast->defer_product(i, lhs, rhs);
    } else if (fast && fast->accumulator(i).defined()) {
        matmul_accumulate(fast->accumulator(i), lhs, rhs, {.transpose_lhs = true});
        fast->accumulated(i);
    } else {
        g[i] = matmul(lhs, rhs, {.transpose_lhs = true});  // the plain path: dW = lhsᵀ rhs
    }
}

// ---- the engine's side --------------------------------------------------------------------------
namespace {

// True when nothing but `t` holds its buffer, so it may be updated in place.
bool sole_owner(const Tensor& t) { return t.impl_ptr().use_count() == 1 && t.storage().use_count() == 1; }

// full[..., start:start+len, ...] += part along dim (full viewed as [outer, n, inner]).
void add_slice_inplace(Tensor& full, const Tensor& part, std::int64_t dim, std::int64_t start) {
    const Shape& fs = full.shape();
    std::int64_t outer = 1, inner = 1;
    for (std::int64_t d = 0; d < dim; ++d) outer *= fs[d];
    for (std::size_t d = static_cast<std::size_t>(dim) + 1; d < fs.size(); ++d) inner *= fs[d];
    const std::int64_t n = fs[dim], len = part.shape()[dim];
    dispatch_floating(full.dtype(), "backward (accumulate slice)", [&](auto tag) {
        using T = decltype(tag);
        T* pf = full.data<T>();
        const T* pp = part.data<T>();
        const std::int64_t row = len * inner;
        for (std::int64_t o = 0; o < outer; ++o) {
            T* __restrict d = pf + (o * n + start) * inner;
            const T* __restrict s = pp + o * row;
            for (std::int64_t i = 0; i < row; ++i) d[i] += s[i];
        }
    });
}

// Input i of `node` gets a gradient only on one slice: add it into the input's pending gradient in
// place (zeros allocated once, on the first contribution), or for a leaf build the full gradient
// and accumulate it as usual.
void accumulate_slice(const Node& node, std::size_t i, const Tensor& in, const FastGrads::Slice& s) {
    const Shape& is = in.shape();
    const Shape& ps = s.part.shape();
    bool ok = s.part.dtype() == in.dtype() && ps.size() == is.size() && s.dim >= 0 &&
              s.dim < static_cast<std::int64_t>(is.size()) && s.start >= 0;
    for (std::size_t d = 0; ok && d < is.size(); ++d)
        ok = static_cast<std::int64_t>(d) == s.dim ? s.start + ps[d] <= is[d] : ps[d] == is[d];
    if (!ok)
        fail<Error>("backward of '{}': slice gradient for input {} has shape {} {} at dim {} start {} but the input is {} {}",
                    node.op, i, shape_str(ps), dtype_name(s.part.dtype()), s.dim, s.start, shape_str(is),
                    dtype_name(in.dtype()));
    if (anomaly_detection()) check_finite(s.part, fmt::format("backward of '{}' (input {})", node.op, i));
    if (auto child = in.grad_fn()) {
        Tensor& pending = child->pending_grad;
        if (!pending.defined()) pending = zeros(is, {.dtype = in.dtype()});
        else if (!sole_owner(pending)) pending = pending.clone();
        add_slice_inplace(pending, s.part, s.dim, s.start);
    } else {
        Tensor full = zeros(is, {.dtype = in.dtype()});
        add_slice_inplace(full, s.part, s.dim, s.start);
        engine::accumulate_leaf(in.impl(), std::move(full));
    }
}

}  // namespace

void FastPass::offer(const Node& node, FastGrads& fast) const {
    if (anomaly_detection()) return;
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
        const Tensor& in = node.inputs[i];
        if (!in.defined() || in.grad_fn() || !in.impl()->hooks.empty()) continue;  // leaves without hooks only
        fast.allow_defer(i);
        const auto& buffer = in.impl()->grad;  // the leaf's gradient so far
        if (buffer && buffer.use_count() == 1 && buffer->storage.use_count() == 1 && buffer->dtype == in.dtype() &&
            buffer->shape == in.shape())
            fast.offer_accumulator(i, Tensor(buffer));
    }
}

bool FastPass::take(const Node& node, std::size_t i, const FastGrads& fast) {
    const Tensor& in = node.inputs[i];
    if (const auto* d = fast.deferred(i)) {
        Deferred& entry = deferred_[in.impl()];
        if (!entry.leaf.defined()) {
            entry.leaf = in;
            order_.push_back(in.impl());
        }
        entry.lhs.push_back(d->first);
        entry.rhs.push_back(d->second);
        return true;
    }
    if (fast.was_accumulated(i)) return true;
    if (const FastGrads::Slice* s = fast.slice(i)) {
        accumulate_slice(node, i, in, *s);
        return true;
    }
    return false;
}

void FastPass::flush() {
    for (TensorImpl* key : order_) {
        Deferred& d = deferred_[key];
        const Tensor lhs = d.lhs.size() == 1 ? d.lhs[0] : cat(d.lhs, 0);
        const Tensor rhs = d.rhs.size() == 1 ? d.rhs[0] : cat(d.rhs, 0);
        const auto& buffer = key->grad;
        if (buffer && buffer.use_count() == 1 && buffer->storage.use_count() == 1) {
            matmul_accumulate(Tensor(buffer), lhs, rhs, {.transpose_lhs = true});
        } else {
            Tensor dw = matmul(lhs, rhs, {.transpose_lhs = true});
            if (dw.shape() != d.leaf.shape() || dw.dtype() != d.leaf.dtype())
                fail<Error>("backward of '{}': gradient for input {} has shape {} {} but the input is {} {}",
                            "(deferred weight gradient)", 0, shape_str(dw.shape()), dtype_name(dw.dtype()),
                            shape_str(d.leaf.shape()), dtype_name(d.leaf.dtype()));
            engine::accumulate_leaf(key, std::move(dw));
        }
    }
    deferred_.clear();
    order_.clear();
}

}  // namespace seqgrad
