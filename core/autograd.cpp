// The backward engine, in three steps (run_backward at the bottom):
//   1. topological_order: the nodes reachable from the root, by an explicit stack (no recursion);
//   2. propagate, node by node in reverse order: call its backward with the gradient of its output,
//      check each input's gradient (shape, dtype) and add it (+=) to what that input has so far;
//   3. release the graph (unless retain_graph), and flush what the speed protocols held back.
// Around them: hooks, retain_grad, anomaly checks, tracing. The speed protocols (slices,
// accumulators, deferred weight products) are in core/grad_protocols.cpp; with fast paths off
// (set_fast_paths(false)) the engine never uses them.
#include "core/autograd.h"

#include <cmath>
#include <cstring>
#include <ostream>

#include "core/ops.h"

namespace seqgrad {
namespace {

thread_local bool g_grad_enabled = true;
thread_local bool g_fast_paths = true;
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

void release(Node& node) {
    node.backward = nullptr;
    node.inputs.clear();
    node.released = true;
}

}  // namespace

namespace engine {

void add_inplace(Tensor& dst, const Tensor& src) {
    const std::int64_t n = dst.numel();
    dispatch_floating(dst.dtype(), "backward (accumulate)", [&](auto tag) {
        using T = decltype(tag);
        T* pd = dst.data<T>();
        const T* ps = src.data<T>();
        for (std::int64_t i = 0; i < n; ++i) pd[i] += ps[i];
    });
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

void add_to_pending(Node& child, const Tensor& grad) {
    Tensor& pending = child.pending_grad;
    const bool sole_owner = pending.defined() && pending.impl_ptr().use_count() == 1 && pending.storage().use_count() == 1;
    if (!pending.defined()) pending = grad;
    else if (sole_owner) add_inplace(pending, grad);  // nobody else sees this buffer
    else pending = add_raw(pending, grad);
}

}  // namespace engine

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

namespace {

// Step 1: every node reachable from root, inputs before the nodes that use them (post-order DFS by
// an explicit stack). Strong references, so nothing dies mid-pass.
std::vector<std::shared_ptr<Node>> topological_order(const std::shared_ptr<Node>& root_node) {
    const std::uint64_t epoch = ++g_epoch;
    std::vector<std::shared_ptr<Node>> order;
    struct Frame {
        std::shared_ptr<Node> node;
        std::size_t next;
    };
    std::vector<Frame> stack;
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
    return order;
}

// The gradient arriving at node's output, after the output's hooks (and kept when retain_grad asked).
Tensor output_grad(Node& node) {
    Tensor dy = std::move(node.pending_grad);
    node.pending_grad = Tensor();
    if (!dy.defined()) return dy;
    if (auto out = node.output.lock()) {
        if (!out->hooks.empty()) dy = run_hooks(out.get(), dy);
        if (out->retains_grad) out->grad = dy.clone().impl_ptr();
    }
    if (g_trace)
        *g_trace << fmt::format("backward #{:<5} {:<18} out {:<14} |dy| = {:.6g}\n", node.sequence, node.op,
                                shape_str(node.out_shape), norm_of(dy));
    return dy;
}

// Input i's gradient gi += into what the input has so far: a non-leaf's pending gradient, or a
// leaf's .grad. Checked first: same shape and dtype as the input.
void add_input_grad(const Node& node, std::size_t i, Tensor gi) {
    const Tensor& in = node.inputs[i];
    if (gi.shape() != in.shape() || gi.dtype() != in.dtype())
        fail<Error>("backward of '{}': gradient for input {} has shape {} {} but the input is {} {}", node.op, i,
                    shape_str(gi.shape()), dtype_name(gi.dtype()), shape_str(in.shape()), dtype_name(in.dtype()));
    if (g_anomaly) check_finite(gi, fmt::format("backward of '{}' (input {})", node.op, i));
    if (auto child = in.grad_fn()) engine::add_to_pending(*child, gi);
    else engine::accumulate_leaf(in.impl(), std::move(gi));
}

// Step 2 for one node: call its backward with dy, then pass each input its gradient.
// `fast` (nullptr on the plain path) is the speed protocols' state for this pass.
void propagate(Node& node, const Tensor& dy, FastPass* fast) {
    std::vector<char> needs(node.inputs.size());
    for (std::size_t i = 0; i < node.inputs.size(); ++i) needs[i] = node.inputs[i].defined();
    FastGrads offers(node.inputs.size());
    if (fast) fast->offer(node, offers);
    Grads g(std::move(needs), fast ? &offers : nullptr);
    node.backward(dy, g);
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
        if (!node.inputs[i].defined()) continue;
        if (fast && fast->take(node, i, offers)) continue;  // went through a protocol
        if (g[i].defined()) add_input_grad(node, i, std::move(g[i]));
    }
}

}  // namespace

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
        engine::accumulate_leaf(root.impl(), grad);
        return;
    }
    const std::vector<std::shared_ptr<Node>> order = topological_order(root.grad_fn());
    FastPass fast;
    FastPass* protocols = g_fast_paths ? &fast : nullptr;
    root.grad_fn()->pending_grad = grad;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        Node& node = **it;
        const Tensor dy = output_grad(node);
        if (dy.defined()) propagate(node, dy, protocols);
        if (!retain_graph) release(node);
    }
    if (protocols) protocols->flush();
}

bool fast_paths_enabled() { return g_fast_paths; }
void set_fast_paths(bool enabled) { g_fast_paths = enabled; }

}  // namespace seqgrad
