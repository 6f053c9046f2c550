// to_dot: walks the graph from the root with an explicit stack (no recursion), like backward().
#include "core/graph_export.h"

#include <cmath>
#include <unordered_map>

#include "core/autograd.h"

namespace seqgrad {

namespace {
std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

double norm(const Tensor& t) {
    if (!t.defined() || !is_floating(t.dtype())) return 0;
    double s = 0;
    for (double v : t.to_vector()) s += v * v;
    return std::sqrt(s);
}
}  // namespace

std::string to_dot(const Tensor& root, const DotOptions& o) {
    check_defined("to_dot", root, "the tensor");
    std::string out = "digraph autograd {\n  rankdir=BT;\n  node [fontname=\"Helvetica\", fontsize=10];\n";
    if (!o.title.empty()) out += fmt::format("  label=\"{}\";\n  labelloc=t;\n", escape(o.title));
    std::unordered_map<const void*, int> ids;
    auto id_of = [&](const void* p, bool& fresh) {
        auto [it, inserted] = ids.emplace(p, static_cast<int>(ids.size()));
        fresh = inserted;
        return it->second;
    };
    // The root is drawn as an output node pointing at its producer.
    bool fresh = false;
    const int root_id = id_of(root.impl(), fresh);
    std::string root_label = fmt::format("output\\n{}", shape_str(root.shape()));
    if (o.show_norms) root_label += fmt::format("\\n|value| {:.3g}", norm(root));
    out += fmt::format("  n{} [label=\"{}\", shape=doubleoctagon];\n", root_id, root_label);

    std::vector<std::pair<Tensor, int>> stack;  // (tensor, id of the node it feeds)
    stack.emplace_back(root, -1);
    while (!stack.empty()) {
        auto [t, consumer] = stack.back();
        stack.pop_back();
        auto node = t.grad_fn();
        if (node) {
            const int nid = id_of(node.get(), fresh);
            if (consumer >= 0) out += fmt::format("  n{} -> n{};\n", nid, consumer);
            else out += fmt::format("  n{} -> n{};\n", nid, root_id);
            if (!fresh) continue;
            std::string label = fmt::format("{}\\n{}", escape(node->op), shape_str(node->out_shape));
            if (o.show_norms) {
                label += fmt::format("\\n|value| {:.3g}", norm(t));
                if (t.impl()->grad) label += fmt::format("\\n|grad| {:.3g}", norm(Tensor(t.impl()->grad)));
            }
            out += fmt::format("  n{} [label=\"{}\", shape=box, style=filled, fillcolor=\"#dde8f5\"];\n", nid, label);
            if (node->released) continue;
            for (const auto& in : node->inputs)
                if (in.defined()) stack.emplace_back(in, nid);
        } else if (t.requires_grad() && t.impl() != root.impl()) {
            const int lid = id_of(t.impl(), fresh);
            out += fmt::format("  n{} -> n{};\n", lid, consumer);
            if (!fresh) continue;
            std::string label = t.name().empty() ? std::string("leaf") : escape(t.name());
            label += "\\n" + shape_str(t.shape());
            if (o.show_norms) {
                label += fmt::format("\\n|value| {:.3g}", norm(t));
                if (t.grad().defined()) label += fmt::format("\\n|grad| {:.3g}", norm(t.grad()));
            }
            out += fmt::format("  n{} [label=\"{}\", shape=ellipse, style=filled, fillcolor=\"#f5e6c8\"];\n", lid, label);
        }
    }
    return out + "}\n";
}

}  // namespace seqgrad
