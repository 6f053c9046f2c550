// The backward engine: topological sort by an explicit stack, gradient accumulation, shape checks,
// hooks, retain_grad, anomaly checks, tracing, and releasing the graph afterwards.
#include "core/autograd.h"

#include <cmath>
#include <cstring>
#include <ostream>

namespace seqgrad {
namespace {

thread_local bool g_grad_enabled = true;
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
        node.backward(dy, g);

        for (std::size_t i = 0; i < node.inputs.size(); ++i) {
            const Tensor& in = node.inputs[i];
            if (!in.defined() || !g[i].defined()) continue;
            Tensor& gi = g[i];
            if (gi.shape() != in.shape() || gi.dtype() != in.dtype())
                fail<Error>("backward of '{}': gradient for input {} has shape {} {} but the input is {} {}",
                            node.op, i, shape_str(gi.shape()), dtype_name(gi.dtype()), shape_str(in.shape()),
                            dtype_name(in.dtype()));
            if (g_anomaly) check_finite(gi, fmt::format("backward of '{}' (input {})", node.op, i));
            if (auto child = in.grad_fn()) {
                child->pending_grad = child->pending_grad.defined() ? add_raw(child->pending_grad, gi) : gi;
            } else {
                accumulate_leaf(in.impl(), std::move(gi));
            }
        }
        if (!retain_graph) release(node);
    }
}

}  // namespace seqgrad
