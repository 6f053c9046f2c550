// Scaled dot-product attention (Vaswani et al. 2017), the one function every dot-product attention
// of seqgrad runs: ScaledDotAttention (one decoder step, one head), MultiHeadAttention (whole
// sequences, h heads) and the Transformer layers with their incremental decoding cache.
//
//   e     = Q Kᵀ / √d                              scores         [B, H, T, S]
//   α     = softmax over the allowed s of e        weights        [B, H, T, S], exactly 0 where masked
//   out   = dropout(α) V                           output         [B, H, T, dv]
//
// Q [B, H, T, d], K [B, H, S, d], V [B, H, S, dv]: B sentences, H heads, T queries, S keys. The heads
// are folded into the batch ([B·H, T, d]) so one batched matmul serves all of them. Two masks:
//   key padding  key_padding_mask [B, S], 1 = real key, 0 = padding (the same for every head and query)
//   causal       query t may see key s only if s <= t + (S - T): with S == T the usual lower
//                triangle; with a cache of S - T earlier keys (incremental decoding, T = 1) the new
//                query sees every cached key and itself.
// The backward comes from the ops (matmul, masked_softmax, dropout); docs/transformer.md derives it.
// Fast paths (switched off with set_fast_paths(false), tested against the plain ops in
// tests/test_transformer_layers.cpp): the fused masked softmax, and for a single query (T = 1, one
// decoder step) the fused weighted sum attention_context_fused instead of B·H one-row gemms.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace seqgrad {
class Generator;
}

namespace seqgrad::nn {

struct ScaledDotProductOptions {
    Tensor key_padding_mask = {};    // [B, S], 1 = real, 0 = padding; undefined: every key is real
    bool causal = false;             // query t sees keys s <= t + (S - T)
    double dropout = 0.0;            // on α before it multiplies V, in training only
    bool training = false;           // dropout is active only when true
    Generator* generator = nullptr;  // dropout masks; nullptr: the default generator
    const char* who = "scaled_dot_product_attention";  // starts every error message
};

struct ScaledDotProductOutput {
    Tensor output;   // [B, H, T, dv]
    Tensor weights;  // [B, H, T, S], α before dropout (what is drawn and inspected)
    Tensor scores;   // [B, H, T, S], e before masking
};

// e = Q Kᵀ / √d for heads folded into the batch: q [N, T, d], k [N, S, d] -> [N, T, S].
Tensor scaled_dot_scores(const Tensor& q, const Tensor& k);

// keep [B, H, T, S]: 1 where query t may look at key s, 0 elsewhere, in `dtype` (no gradient), or an
// undefined tensor when nothing is masked. Throws "<who>: query position t of row b has every key
// position masked ..." when some query can see no key at all (its softmax would be 0/0).
Tensor attention_keep(std::int64_t B, std::int64_t H, std::int64_t T, std::int64_t S, const Tensor& key_padding_mask,
                      bool causal, DType dtype, const char* who);

// The function itself: q [B, H, T, d], k [B, H, S, d], v [B, H, S, dv]. Throws ShapeError naming
// options.who and the three shapes when they do not fit.
ScaledDotProductOutput scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                                    const ScaledDotProductOptions& options = {});

}  // namespace seqgrad::nn
