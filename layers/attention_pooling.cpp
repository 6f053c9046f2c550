// Attention pooling: the learned query broadcast over the batch, then the shared attend() of
// layers/attention.h with the features as both keys and values.
#include "layers/attention_pooling.h"

#include <cmath>

#include "core/ops.h"
#include "layers/init.h"

namespace seqgrad::nn {

AttentionPooling::AttentionPooling(const AttentionPoolingOptions& options) : options_(options) {
    if (options.feature_size <= 0)
        fail("AttentionPooling: feature_size must be positive, got {}", options.feature_size);
    if (options.kind == AttentionKind::LocalM || options.kind == AttentionKind::LocalP ||
        options.kind == AttentionKind::Location)
        fail("AttentionPooling: the score must not depend on a decoder step or a source length (additive, dot, "
             "general, concat, scaled-dot, cosine), got {}",
             attention_kind_name(options.kind));
    const double bound = 1.0 / std::sqrt(static_cast<double>(options.feature_size));
    query = Tensor::empty({options.feature_size}, options.dtype);
    init::uniform_(query, -bound, bound, options.generator);
    register_parameter("query", query);
    attention = register_module("attention", make_attention({.kind = options.kind,
                                                             .query_size = options.feature_size,
                                                             .key_size = options.feature_size,
                                                             .attention_size = options.attention_size,
                                                             .dtype = options.dtype,
                                                             .generator = options.generator}));
}

// q [D] -> [1, D] -> expand [B, D]   (backward: dq = Σ_b dq_b, expand's sum_to)
// then attend(q, keys = values = features, mask)
AttentionOutput AttentionPooling::forward(const Tensor& features, const Tensor& mask) const {
    check_defined("AttentionPooling", features, "features");
    const std::int64_t D = options_.feature_size;
    if (features.dim() != 3 || features.size(2) != D)
        fail("AttentionPooling: features must be [B, S, {}], got {}", D, shape_str(features.shape()));
    const std::int64_t B = features.size(0);
    Tensor q = expand(reshape(query, {1, D}), {B, D});
    return attention->attend(q, features, features, mask);
}

}  // namespace seqgrad::nn
