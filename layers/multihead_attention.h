// Multi-head attention (Vaswani et al. 2017), over whole sequences of queries at once:
//   Q = query W_qᵀ + b_q,  K = key W_kᵀ + b_k,  V = value W_vᵀ + b_v       [B, T, E], [B, S, E], [B, S, E]
//   split E into h heads of size d = E / h                                [B, h, T, d], [B, h, S, d], ...
//   head_j = scaled_dot_product_attention(Q_j, K_j, V_j)                  α_j = softmax(Q_j K_jᵀ / √d) per head
//   output = out_proj([head_1; ...; head_h])                              [B, T, E]
// The attention itself is layers/scaled_dot_product.h, the same function ScaledDotAttention runs.
// Parameters are exactly PyTorch's nn.MultiheadAttention ones, so a state dict ports both ways:
//   in_proj_weight [3E, E] = [W_q; W_k; W_v] (rows 0..E-1, E..2E-1, 2E..3E-1), in_proj_bias [3E],
//   out_proj.weight [E, E], out_proj.bias [E].
// Initialised as PyTorch's _reset_parameters: xavier_uniform on in_proj_weight (fan_in E, fan_out 3E:
// U(±√(6 / 4E))), in_proj_bias and out_proj.bias 0, out_proj.weight Linear's default U(±1/√E).
// For self-attention (query, key and value the same tensor) the three projections are one gemm with
// in_proj_weight; otherwise each uses its rows (narrow), so the gradient lands in the right block.
#pragma once
#include <memory>

#include "layers/linear.h"
#include "layers/module.h"
#include "layers/scaled_dot_product.h"

namespace seqgrad::nn {

struct MultiHeadAttentionOptions {
    std::int64_t embed_dim = 0;  // E
    std::int64_t num_heads = 1;  // h; E must be divisible by h
    bool bias = true;            // biases of all four projections
    double dropout = 0.0;        // on the attention weights, in training mode
    DType dtype = DType::Float32;
    Generator* generator = nullptr;  // initialisation and dropout; nullptr: the default generator
};

struct MultiHeadAttentionOutput {
    Tensor output;   // [B, T, E]
    Tensor weights;  // [B, h, T, S], per head, before dropout (what the model attends to); 0 where masked
    Tensor scores;   // [B, h, T, S], e = Q Kᵀ / √d before masking: weights = softmax of e over the allowed keys
};

class MultiHeadAttention : public Module {
public:
    explicit MultiHeadAttention(const MultiHeadAttentionOptions& options);
    std::string type_name() const override { return "MultiHeadAttention"; }

    // query [B, T, E], key [B, S, E], value [B, S, E]; key_padding_mask [B, S] (1 = real, 0 = padding;
    // undefined: all real); causal: query position t attends only to key positions s <= t.
    MultiHeadAttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                     const Tensor& key_padding_mask = Tensor(), bool causal = false) const;
    MultiHeadAttentionOutput operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                                        const Tensor& key_padding_mask = Tensor(), bool causal = false) const {
        return forward(query, key, value, key_padding_mask, causal);
    }

    // The pieces forward() is made of, for incremental decoding (a cache of projected keys/values):
    //   project_query/key/value: x [B, L, E] -> x W_jᵀ + b_j [B, L, E] (j = q, k, v: one block of in_proj)
    //   split_heads: [B, L, E] -> [B, h, L, d];  merge_heads: [B, h, L, d] -> [B, L, E]
    //   attend_heads: projected, split Q [B, h, T, d], K, V [B, h, S, d] -> out_proj(merged heads), α
    Tensor project_query(const Tensor& x) const { return project(x, 0); }
    Tensor project_key(const Tensor& x) const { return project(x, 1); }
    Tensor project_value(const Tensor& x) const { return project(x, 2); }
    Tensor split_heads(const Tensor& x) const;
    Tensor merge_heads(const Tensor& x) const;
    MultiHeadAttentionOutput attend_heads(const Tensor& Q, const Tensor& K, const Tensor& V,
                                          const Tensor& key_padding_mask = Tensor(), bool causal = false) const;

    Tensor in_proj_weight;             // [3E, E]
    Tensor in_proj_bias;               // [3E], undefined without bias
    std::shared_ptr<Linear> out_proj;  // [E, E] (+ bias [E])
    const MultiHeadAttentionOptions& options() const { return options_; }
    std::int64_t head_dim() const { return options_.embed_dim / options_.num_heads; }

private:
    Tensor project(const Tensor& x, std::int64_t block) const;
    MultiHeadAttentionOptions options_;
};

}  // namespace seqgrad::nn
