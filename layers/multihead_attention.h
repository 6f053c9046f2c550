// Multi-head attention (Vaswani et al. 2017), over whole sequences of queries at once:
//   Q = q_proj(query), K = k_proj(key), V = v_proj(value)           [B, T, E], [B, S, E], [B, S, E]
//   split E into h heads of size d = E / h                          [B, h, T, d], ...
//   α = masked_softmax(Q Kᵀ / √d)                                   [B, h, T, S] per head
//   heads = α V, concatenated back to E                             [B, T, E]
//   output = out_proj(heads)                                        [B, T, E]
// The parameters are PyTorch's nn.MultiheadAttention ones, held as four Linear children
// q_proj, k_proj, v_proj, out_proj (PyTorch stores the first three stacked as in_proj_weight
// [3E, E]; split it in three to port weights). Initialised as PyTorch does: the three input
// projections share one Xavier-uniform bound, sqrt(6 / (E + 3E)), as slices of the stacked weight;
// their biases and out_proj's bias are 0; out_proj.weight keeps Linear's default U(±1/√E).
// Built from core ops, so the backward pass is autograd's.
#pragma once
#include <memory>

#include "layers/linear.h"
#include "layers/module.h"

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

    std::shared_ptr<Linear> q_proj, k_proj, v_proj, out_proj;  // each [E, E] (+ bias [E])
    const MultiHeadAttentionOptions& options() const { return options_; }
    std::int64_t head_dim() const { return options_.embed_dim / options_.num_heads; }

private:
    MultiHeadAttentionOptions options_;
};

}  // namespace seqgrad::nn
