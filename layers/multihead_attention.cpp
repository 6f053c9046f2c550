// Multi-head attention from core ops: four Linear projections, a batched matmul per head for the
// scores and another for the context, with the heads folded into the batch dimension so that one
// BLAS call serves all heads.
#include "layers/multihead_attention.h"

#include <cmath>

#include "core/ops.h"
#include "layers/attention.h"
#include "layers/init.h"

namespace seqgrad::nn {

MultiHeadAttention::MultiHeadAttention(const MultiHeadAttentionOptions& o) : options_(o) {
    if (o.embed_dim <= 0 || o.num_heads <= 0)
        fail("MultiHeadAttention: embed_dim and num_heads must be positive, got embed_dim={}, num_heads={}",
             o.embed_dim, o.num_heads);
    if (o.embed_dim % o.num_heads != 0)
        fail("MultiHeadAttention: embed_dim={} is not divisible by num_heads={} (each head gets embed_dim / num_heads)",
             o.embed_dim, o.num_heads);
    if (!(o.dropout >= 0.0 && o.dropout < 1.0)) fail("MultiHeadAttention: dropout must be in [0, 1), got {}", o.dropout);
    const std::int64_t E = o.embed_dim;
    auto make = [&](const char* name) {
        return register_module(name, std::make_shared<Linear>(LinearOptions{
                                         .in_features = E, .out_features = E, .bias = o.bias, .dtype = o.dtype, .generator = o.generator}));
    };
    q_proj = make("q_proj");
    k_proj = make("k_proj");
    v_proj = make("v_proj");
    out_proj = make("out_proj");
    // PyTorch: xavier_uniform_ on the stacked in_proj_weight [3E, E] (fan_in E, fan_out 3E), zero biases;
    // out_proj.weight keeps the Linear default drawn above.
    const double bound = std::sqrt(6.0 / static_cast<double>(E + 3 * E));
    for (auto& proj : {q_proj, k_proj, v_proj}) init::uniform_(proj->weight, -bound, bound, o.generator);
    if (o.bias)
        for (auto& proj : {q_proj, k_proj, v_proj, out_proj}) proj->bias.fill_(0.0);
}

MultiHeadAttentionOutput MultiHeadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                                     const Tensor& key_padding_mask, bool causal) const {
    const char* who = "MultiHeadAttention";
    check_defined(who, query, "query");
    check_defined(who, key, "key");
    check_defined(who, value, "value");
    const std::int64_t E = options_.embed_dim, h = options_.num_heads, d = head_dim();
    if (query.dim() != 3 || key.dim() != 3 || value.dim() != 3 || query.size(2) != E || key.size(2) != E ||
        value.size(2) != E)
        fail("{}: expects query [B, T, E], key and value [B, S, E] with E = {}; got query {}, key {}, value {}", who, E,
             shape_str(query.shape()), shape_str(key.shape()), shape_str(value.shape()));
    const std::int64_t B = query.size(0), T = query.size(1), S = key.size(1);
    if (key.size(0) != B || value.size(0) != B || value.size(1) != S)
        fail("{}: query {}, key {} and value {} must share the batch size, and key and value the length", who,
             shape_str(query.shape()), shape_str(key.shape()), shape_str(value.shape()));
    if (key_padding_mask.defined() && key_padding_mask.shape() != Shape{B, S})
        fail("{}: key_padding_mask must be [B, S] = [{}, {}] to match key {}, got {}", who, B, S,
             shape_str(key.shape()), shape_str(key_padding_mask.shape()));

    // keep [B, 1, T, S]: 1 where query position t may look at key position s (the same for every head).
    const std::vector<double> pad = key_padding_mask.defined() ? key_padding_mask.to_vector() : std::vector<double>();
    std::vector<double> keep_values(static_cast<std::size_t>(B * T * S));
    for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t t = 0; t < T; ++t) {
            bool any = false;
            for (std::int64_t s = 0; s < S; ++s) {
                const bool real = pad.empty() || pad[b * S + s] != 0.0;
                const bool visible = !causal || s <= t;
                keep_values[(b * T + t) * S + s] = real && visible ? 1.0 : 0.0;
                any = any || (real && visible);
            }
            if (!any)
                fail("{}: query position {} of row {} has every key position masked (key_padding_mask {}{})", who, t, b,
                     key_padding_mask.defined() ? shape_str(key_padding_mask.shape()) : "none",
                     causal ? ", causal" : "");
        }
    Tensor keep = Tensor::from(keep_values, {B, 1, T, S}, {.dtype = query.dtype()});

    // [B, L, E] -> [B * h, L, d]: split E into h heads and fold the heads into the batch.
    auto split_heads = [&](const Tensor& x) {
        const std::int64_t L = x.size(1);
        return reshape(permute(reshape(x, {B, L, h, d}), {0, 2, 1, 3}), {B * h, L, d});
    };
    Tensor Q = split_heads(q_proj->forward(query));  // [B*h, T, d]
    Tensor K = split_heads(k_proj->forward(key));    // [B*h, S, d]
    Tensor V = split_heads(v_proj->forward(value));  // [B*h, S, d]

    // Scaled dot-product attention for all heads at once.
    Tensor e = matmul(Q, K, {.transpose_rhs = true}) / std::sqrt(static_cast<double>(d));  // Q Kᵀ / √d: [B*h, T, S]
    Tensor alpha = masked_softmax(reshape(e, {B, h, T, S}), keep);                         // [B, h, T, S]
    Tensor dropped = dropout(alpha, options_.dropout, is_training(), options_.generator);
    Tensor heads = matmul(reshape(dropped, {B * h, T, S}), V);  // α V: [B*h, T, d]

    // [B * h, T, d] -> [B, T, E]: put the heads side by side again.
    Tensor joined = reshape(permute(reshape(heads, {B, h, T, d}), {0, 2, 1, 3}), {B, T, E});
    return MultiHeadAttentionOutput{.output = out_proj->forward(joined), .weights = alpha};
}

}  // namespace seqgrad::nn
