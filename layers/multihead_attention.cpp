// Multi-head attention from core ops: the stacked input projection, the heads folded into the
// batch dimension, scaled_dot_product_attention for all heads at once, and the output projection.
#include "layers/multihead_attention.h"

#include <cmath>

#include "core/fused_ops.h"
#include "core/ops.h"
#include "layers/gradcheck_cases.h"
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
    // PyTorch's order: in_proj_weight, in_proj_bias, then the out_proj child.
    in_proj_weight = Tensor::empty({3 * E, E}, o.dtype);
    init::xavier_uniform_(in_proj_weight, 1.0, o.generator);  // fan_in E, fan_out 3E
    register_parameter("in_proj_weight", in_proj_weight);
    if (o.bias) in_proj_bias = register_parameter("in_proj_bias", zeros({3 * E}, {.dtype = o.dtype}));
    out_proj = register_module("out_proj", std::make_shared<Linear>(LinearOptions{
                                               .in_features = E, .out_features = E, .bias = o.bias, .dtype = o.dtype,
                                               .generator = o.generator}));
    if (o.bias) out_proj->bias.fill_(0.0);
}

// x W_jᵀ + b_j with W_j = in_proj_weight rows [block·E, (block+1)·E)
Tensor MultiHeadAttention::project(const Tensor& x, std::int64_t block) const {
    const std::int64_t E = options_.embed_dim;
    return linear(x, narrow(in_proj_weight, 0, block * E, E),
                  in_proj_bias.defined() ? narrow(in_proj_bias, 0, block * E, E) : Tensor());
}

// [B, L, E] -> [B, h, L, d]: split E into h heads and put the heads before the positions.
Tensor MultiHeadAttention::split_heads(const Tensor& x) const {
    const std::int64_t B = x.size(0), L = x.size(1), h = options_.num_heads, d = head_dim();
    return permute(reshape(x, {B, L, h, d}), {0, 2, 1, 3});
}

// [B, h, L, d] -> [B, L, E]: the heads side by side again.
Tensor MultiHeadAttention::merge_heads(const Tensor& x) const {
    const std::int64_t B = x.size(0), L = x.size(2);
    return reshape(permute(x, {0, 2, 1, 3}), {B, L, options_.embed_dim});
}

MultiHeadAttentionOutput MultiHeadAttention::attend_heads(const Tensor& Q, const Tensor& K, const Tensor& V,
                                                          const Tensor& key_padding_mask, bool causal) const {
    ScaledDotProductOutput r = scaled_dot_product_attention(Q, K, V,
                                                            {.key_padding_mask = key_padding_mask,
                                                             .causal = causal,
                                                             .dropout = options_.dropout,
                                                             .training = is_training(),
                                                             .generator = options_.generator,
                                                             .who = "MultiHeadAttention"});
    return MultiHeadAttentionOutput{.output = out_proj->forward(merge_heads(r.output)), .weights = r.weights, .scores = r.scores};
}

MultiHeadAttentionOutput MultiHeadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                                     const Tensor& key_padding_mask, bool causal) const {
    const char* who = "MultiHeadAttention";
    check_defined(who, query, "query");
    check_defined(who, key, "key");
    check_defined(who, value, "value");
    const std::int64_t E = options_.embed_dim;
    if (query.dim() != 3 || key.dim() != 3 || value.dim() != 3 || query.size(2) != E || key.size(2) != E ||
        value.size(2) != E)
        fail("{}: expects query [B, T, E], key and value [B, S, E] with E = {}; got query {}, key {}, value {}", who, E,
             shape_str(query.shape()), shape_str(key.shape()), shape_str(value.shape()));
    const std::int64_t B = query.size(0), S = key.size(1);
    if (key.size(0) != B || value.size(0) != B || value.size(1) != S)
        fail("{}: query {}, key {} and value {} must share the batch size, and key and value the length", who,
             shape_str(query.shape()), shape_str(key.shape()), shape_str(value.shape()));
    if (key_padding_mask.defined() && key_padding_mask.shape() != Shape{B, S})
        fail("{}: key_padding_mask must be [B, S] = [{}, {}] to match key {}, got {}", who, B, S,
             shape_str(key.shape()), shape_str(key_padding_mask.shape()));

    Tensor Q, K, V;  // [B, T, E], [B, S, E], [B, S, E]
    if (fast_paths_enabled() && query.impl() == key.impl() && key.impl() == value.impl()) {
        // Self-attention: one gemm with the whole stacked weight, then cut into Q, K, V (tested
        // against the three projections below, which set_fast_paths(false) runs).
        auto qkv = chunk(linear(query, in_proj_weight, in_proj_bias), 3, 2);
        Q = qkv[0], K = qkv[1], V = qkv[2];
    } else {
        Q = project_query(query), K = project_key(key), V = project_value(value);
    }
    return attend_heads(split_heads(Q), split_heads(K), split_heads(V), key_padding_mask, causal);
}

// ---- the gradcheck case `seqgrad gradcheck` runs (layers/gradcheck_cases.h) ---------------------

namespace {
const GradcheckCase multihead_attention_case("MultiHeadAttention", [] {
    Generator g(10);
    MultiHeadAttention m({.embed_dim = 4, .num_heads = 2, .dtype = DType::Float64, .generator = &g});
    return check_layer(m, {gradcheck_input({2, 3, 4}, g), gradcheck_input({2, 2, 4}, g)},
                       [&](const std::vector<Tensor>& x) { return m.forward(x[0], x[1], x[1]).output; });
});
}  // namespace

}  // namespace seqgrad::nn
