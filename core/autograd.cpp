// The backward engine: topological sort by an explicit stack, gradient accumulation, shape checks,
// hooks, retain_grad, anomaly checks, tracing, and releasing the graph afterwards.
#include "core/autograd.h"

#include <cmath>
#include <cstring>
#include <ostream>
#include <unordered_map>

#include "core/fused_ops.h"
#include "core/ops.h"

namespace seqgrad {
namespace {

thread_local bool g_grad_enabled = true;
bool g_defer_weight_grads = true;
bool g_anomaly = false;
std::ostream* g_trace = nullptr;
std::uint64_t g_node_sequence = 0;
std::uint64_t g_epoch = 0;

// a + b into a fresh tensor (both same shape and dtype, checked by the caller).
Tensor add_raw(const Tensor& a, const Tensor& b) {
    Tensor out = Tensor::empty(a.shape(), a.dtype());
    const std::int64_t n = a.numel();
    dispatch_floating(a.dtype(), "backward (accumulate)", [&](auto tag) {
        using T = decltype(tag);
        const T* pa = a.data<T>();
        const T* pb = b.data<T>();
        T* po = out.data<T>();
        for (std::int64_t i = 0; i < n; ++i) po[i] = pa[i] + pb[i];
    });
    return out;
}

// dst += src, in place.
void add_inplace(Tensor& dst, const Tensor& src) {
    const std::int64_t n = dst.numel();
    dispatch_floating(dst.dtype(), "backward (accumulate)", [&](auto tag) {
        using T = decltype(tag);
        T* pd = dst.data<T>();
        const T* ps = src.data<T>();
        for (std::int64_t i = 0; i < n; ++i) pd[i] += ps[i];
    });
}

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

double norm_of(const Tensor& t) {
    double s = 0;
    dispatch_floating(t.dtype(), "trace", [&](auto tag) {
        using T = decltype(tag);
        const T* p = t.data<T>();
        for (std::int64_t i = 0; i < t.numel(); ++i) s += static_cast<double>(p[i]) * p[i];
    });
    return std::sqrt(s);
}

Tensor run_hooks(TensorImpl* impl, Tensor grad) {
    for (auto& hook : impl->hooks) {
        Tensor replaced = hook(grad);
        if (replaced.defined()) {
            if (replaced.shape() != grad.shape() || replaced.dtype() != grad.dtype())
                fail("backward: a hook returned a gradient of shape {} {} for a tensor of shape {} {}",
                     shape_str(replaced.shape()), dtype_name(replaced.dtype()), shape_str(grad.shape()),
                     dtype_name(grad.dtype()));
            grad = replaced;
        }
    }
    return grad;
}

void accumulate_leaf(TensorImpl* impl, Tensor grad) {
    if (!impl->hooks.empty()) grad = run_hooks(impl, grad);
    if (!impl->grad) {
        // Own the buffer: later accumulation is in place and must not write into a shared gradient.
        // A gradient nobody else holds (the usual case: freshly computed) is taken as it is.
        const bool unique = grad.impl_ptr().use_count() == 1 && grad.storage().use_count() == 1;
        impl->grad = unique ? grad.impl_ptr() : grad.clone().impl_ptr();
    } else {
        Tensor existing(impl->grad);
        add_inplace(existing, grad);
    }
}

// Input i of `node` gets a gradient only on one slice (Grads::set_slice): add it into the input's
// pending gradient in place (zeros allocated once, on the first contribution), or for a leaf
// build the full gradient and accumulate it as usual.
void accumulate_slice(const Node& node, std::size_t i, const Tensor& in, const Grads::Slice& s) {
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
    if (g_anomaly) check_finite(s.part, fmt::format("backward of '{}' (input {})", node.op, i));
    if (auto child = in.grad_fn()) {
        Tensor& pending = child->pending_grad;
        if (!pending.defined()) pending = zeros(is, {.dtype = in.dtype()});
        else if (!sole_owner(pending)) pending = pending.clone();
        add_slice_inplace(pending, s.part, s.dim, s.start);
    } else {
        Tensor full = zeros(is, {.dtype = in.dtype()});
        add_slice_inplace(full, s.part, s.dim, s.start);
        accumulate_leaf(in.impl(), std::move(full));
    }
}

void release(Node& node) {
    node.backward = nullptr;
    node.inputs.clear();
    node.released = true;
}

}  // namespace

Node::~Node() {
    // Destroying a 2,000-step chain recursively would overflow the stack: each input's Node would
    // be destroyed inside this destructor. Instead, steal the inputs of every Node that is about to
    // die with us and let them die one at a time from this loop.
    backward = nullptr;
    std::vector<Tensor> stack = std::move(inputs);
    inputs.clear();
    while (!stack.empty()) {
        Tensor t = std::move(stack.back());
        stack.pop_back();
        if (!t.defined()) continue;
        const auto& impl = t.impl_ptr();
        if (impl.use_count() == 1 && impl->grad_fn && impl->grad_fn.use_count() == 1) {
            Node& child = *impl->grad_fn;
            child.backward = nullptr;
            for (auto& in : child.inputs) stack.push_back(std::move(in));
            child.inputs.clear();
        }
        // t goes out of scope here; its Node has no inputs left, so nothing recurses.
    }
}

bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool enabled) { g_grad_enabled = enabled; }
bool anomaly_detection() { return g_anomaly; }
void set_anomaly_detection(bool enabled) { g_anomaly = enabled; }
void set_backward_trace(std::ostream* out) { g_trace = out; }

void check_finite(const Tensor& t, const std::string& where) {
    if (!t.defined() || !is_floating(t.dtype())) return;
    dispatch_floating(t.dtype(), "check_finite", [&](auto tag) {
        using T = decltype(tag);
        const T* p = t.data<T>();
        for (std::int64_t i = 0; i < t.numel(); ++i)
            if (!std::isfinite(p[i]))
                fail<AnomalyError>("anomaly: {} produced {} at element {} (shape {})", where,
                                   std::isnan(p[i]) ? "NaN" : "Inf", i, shape_str(t.shape()));
    });
}

Tensor record(const char* op, Tensor output, std::vector<Tensor> inputs, BackwardFn backward) {
    if (g_anomaly) check_finite(output, fmt::format("forward of '{}'", op));
    if (!g_grad_enabled) return output;
    bool any = false;
    for (auto& in : inputs) {
        if (in.requires_grad()) any = true;
        else in = Tensor();  // keep only what the backward pass must reach
    }
    if (!any) return output;
    auto node = std::make_shared<Node>();
    node->op = op;
    node->inputs = std::move(inputs);
    node->backward = std::move(backward);
    node->out_shape = output.shape();
    node->out_dtype = output.dtype();
    node->output = output.impl_ptr();
    node->sequence = ++g_node_sequence;
    output.impl()->requires_grad = true;
    output.impl()->grad_fn = std::move(node);
    return output;
}

void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
    check_defined("backward", root, "the tensor");
    check_defined("backward", grad, "the gradient");
    if (!root.requires_grad())
        fail<Error>("backward: the tensor {} does not require grad and has no grad_fn; did you build it under "
                    "NoGradGuard or from tensors without requires_grad?",
                    shape_str(root.shape()));
    if (grad.shape() != root.shape() || grad.dtype() != root.dtype())
        fail("backward: gradient {} {} does not match the tensor {} {}", shape_str(grad.shape()),
             dtype_name(grad.dtype()), shape_str(root.shape()), dtype_name(root.dtype()));

    NoGradGuard no_grad;  // backward functions build no graph of their own
    if (root.is_leaf()) {
        accumulate_leaf(root.impl(), grad);
        return;
    }

    // Topological order by an explicit stack (post-order DFS), strong refs so nothing dies mid-pass.
    const std::uint64_t epoch = ++g_epoch;
    std::vector<std::shared_ptr<Node>> order;
    struct Frame {
        std::shared_ptr<Node> node;
        std::size_t next;
    };
    std::vector<Frame> stack;
    auto root_node = root.grad_fn();
    root_node->visit_epoch = epoch;
    stack.push_back({root_node, 0});
    while (!stack.empty()) {
        Frame& frame = stack.back();
        Node* node = frame.node.get();
        if (node->released)
            fail<Error>("backward: the graph through '{}' was already freed by an earlier backward(); pass "
                        "{{.retain_graph = true}} to the first backward() to run it twice",
                        node->op);
        if (frame.next < node->inputs.size()) {
            const Tensor& in = node->inputs[frame.next++];
            if (!in.defined()) continue;
            auto child = in.grad_fn();
            if (child && child->visit_epoch != epoch) {
                child->visit_epoch = epoch;
                stack.push_back({std::move(child), 0});  // frame is not used after this
            }
        } else {
            order.push_back(std::move(frame.node));
            stack.pop_back();
        }
    }

    // Weight gradients handed over as products (Grads::defer_product), per leaf in first-seen order.
    struct DeferredProducts {
        Tensor leaf;
        std::vector<Tensor> lhs, rhs;
    };
    std::unordered_map<TensorImpl*, DeferredProducts> deferred;
    std::vector<TensorImpl*> deferred_order;

    root_node->pending_grad = grad;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        Node& node = **it;
        Tensor dy = std::move(node.pending_grad);
        node.pending_grad = Tensor();
        if (!dy.defined()) {
            if (!retain_graph) release(node);
            continue;
        }
        if (auto out = node.output.lock()) {
            if (!out->hooks.empty()) dy = run_hooks(out.get(), dy);
            if (out->retains_grad) out->grad = dy.clone().impl_ptr();
        }
        if (g_trace)
            *g_trace << fmt::format("backward #{:<5} {:<18} out {:<14} |dy| = {:.6g}\n", node.sequence, node.op,
                                    shape_str(node.out_shape), norm_of(dy));

        std::vector<char> needs(node.inputs.size());
        for (std::size_t i = 0; i < node.inputs.size(); ++i) needs[i] = node.inputs[i].defined();
        Grads g(std::move(needs));
        if (!g_anomaly)  // anomaly mode checks every gradient on its own, so it gets them separately
            for (std::size_t i = 0; i < node.inputs.size(); ++i) {
                const Tensor& in = node.inputs[i];
                if (!in.defined() || in.grad_fn() || !in.impl()->hooks.empty()) continue;
                if (g_defer_weight_grads && fast_paths_enabled()) g.allow_defer(i);
                const auto& buffer = in.impl()->grad;  // a leaf's gradient so far
                if (buffer && buffer.use_count() == 1 && buffer->storage.use_count() == 1 && buffer->dtype == in.dtype() &&
                    buffer->shape == in.shape())
                    g.offer_accumulator(i, Tensor(buffer));
            }
        node.backward(dy, g);

        for (std::size_t i = 0; i < node.inputs.size(); ++i) {
            const Tensor& in = node.inputs[i];
            if (in.defined())
                if (const auto* d = g.deferred(i)) {
                    auto& entry = deferred[in.impl()];
                    if (!entry.leaf.defined()) {
                        entry.leaf = in;
                        deferred_order.push_back(in.impl());
                    }
                    entry.lhs.push_back(d->first);
                    entry.rhs.push_back(d->second);
                }
            if (!in.defined() || g.was_accumulated(i)) continue;
            if (!g[i].defined()) {
                if (const Grads::Slice* s = g.slice(i)) accumulate_slice(node, i, in, *s);
                continue;
            }
            Tensor& gi = g[i];
            if (gi.shape() != in.shape() || gi.dtype() != in.dtype())
                fail<Error>("backward of '{}': gradient for input {} has shape {} {} but the input is {} {}",
                            node.op, i, shape_str(gi.shape()), dtype_name(gi.dtype()), shape_str(in.shape()),
                            dtype_name(in.dtype()));
            if (g_anomaly) check_finite(gi, fmt::format("backward of '{}' (input {})", node.op, i));
            if (auto child = in.grad_fn()) {
                Tensor& pending = child->pending_grad;
                if (!pending.defined()) pending = gi;
                else if (sole_owner(pending)) add_inplace(pending, gi);  // nobody else sees this buffer
                else pending = add_raw(pending, gi);
            } else {
                accumulate_leaf(in.impl(), std::move(gi));
            }
        }
        if (!retain_graph) release(node);
    }

    // The deferred weight gradients: per leaf, dW = Σ_k lhs_kᵀ rhs_k = [lhs_1; lhs_2; ...]ᵀ [rhs_1; rhs_2; ...].
    for (TensorImpl* key : deferred_order) {
        DeferredProducts& d = deferred[key];
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
            accumulate_leaf(key, std::move(dw));
        }
    }
}

bool defer_weight_grads() { return g_defer_weight_grads; }
void set_defer_weight_grads(bool enabled) { g_defer_weight_grads = enabled; }

}  // namespace seqgrad
