// Dropout layer over the core dropout op.
#include "layers/dropout.h"

#include "core/ops.h"

namespace seqgrad::nn {

Dropout::Dropout(const DropoutOptions& options) : options_(options) {
    if (!(options.p >= 0.0 && options.p < 1.0)) fail("Dropout: p must be in [0, 1), got {}", options.p);
}

Tensor Dropout::forward(const Tensor& x) const { return dropout(x, options_.p, is_training(), options_.generator); }

}  // namespace seqgrad::nn
