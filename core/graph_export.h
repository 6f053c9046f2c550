// Export of the autograd graph behind a tensor as Graphviz DOT: one node per op (labelled with
// the op name and output shape, optionally the norms of its value and of the gradient that reached
// it), one node per leaf (parameters and inputs, with their names), edges from inputs to outputs.
// Render with `dot -Tsvg graph.dot -o graph.svg` (Debian package graphviz).
#pragma once
#include <string>

#include "core/tensor.h"

namespace seqgrad {

struct DotOptions {
    bool show_norms = false;  // value norms on leaves, gradient norms where .grad() is present
    std::string title;
};

std::string to_dot(const Tensor& root, const DotOptions& options = {});

}  // namespace seqgrad
