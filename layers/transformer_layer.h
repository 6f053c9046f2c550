// One Transformer encoder layer and one decoder layer (Vaswani et al. 2017), with PyTorch's
// nn.TransformerEncoderLayer / nn.TransformerDecoderLayer parameter names, so a state dict ports
// both ways (docs/layers.md has the table). Batch-first: [B, L, D].
//
// Encoder layer, post-norm (the paper's, the default) and pre-norm (norm_first):
//   post:  x = norm1(x + dropout1(SelfAttn(x)))          pre:  x = x + dropout1(SelfAttn(norm1(x)))
//          x = norm2(x + dropout2(FFN(x)))                     x = x + dropout2(FFN(norm2(x)))
// Decoder layer, with the encoder's output `memory`:
//   post:  x = norm1(x + dropout1(SelfAttn(x, causal)))  pre:  x = x + dropout1(SelfAttn(norm1(x), causal))
//          x = norm2(x + dropout2(CrossAttn(x, memory)))       x = x + dropout2(CrossAttn(norm2(x), memory))
//          x = norm3(x + dropout3(FFN(x)))                     x = x + dropout3(FFN(norm3(x)))
// SelfAttn/CrossAttn are MultiHeadAttention (layers/multihead_attention.h), FFN is feed_forward()
// (layers/feed_forward.h). Pre-norm leaves the residual path free of normalisation, which trains
// deep stacks without warm-up; post-norm is what the paper and nn.Transformer do by default.
//
// Incremental decoding: start() projects the memory's keys and values for the cross-attention once;
// step() takes one new position, appends its self-attention key and value to the cache and attends
// over all cached ones (the causal mask is implicit: nothing later exists yet). Per step that is
// O(t) work for the t tokens so far, instead of recomputing the whole prefix; tested equal to the
// full causal forward in tests/test_transformer_layers.cpp.
#pragma once
#include <memory>

#include "layers/feed_forward.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/multihead_attention.h"

namespace seqgrad::nn {

struct TransformerLayerOptions {
    std::int64_t d_model = 0;             // D
    std::int64_t nhead = 1;               // h; D must be divisible by h
    std::int64_t dim_feedforward = 2048;  // D_ff
    double dropout = 0.1;                 // residual dropouts, inside the FFN and on the attention weights
    Activation activation = Activation::ReLU;
    double layer_norm_eps = 1e-5;
    bool norm_first = false;  // pre-norm when true
    DType dtype = DType::Float32;
    Generator* generator = nullptr;  // initialisation and dropout; nullptr: the default generator
};

struct TransformerEncoderLayerOutput {
    Tensor output;        // [B, S, D]
    Tensor self_weights;  // [B, h, S, S]
};

class TransformerEncoderLayer : public Module {
public:
    explicit TransformerEncoderLayer(const TransformerLayerOptions& options);
    std::string type_name() const override { return "TransformerEncoderLayer"; }
    // src [B, S, D], src_key_padding_mask [B, S] (1 = real; undefined: all real)
    TransformerEncoderLayerOutput forward(const Tensor& src, const Tensor& src_key_padding_mask = Tensor()) const;

    std::shared_ptr<MultiHeadAttention> self_attn;
    std::shared_ptr<Linear> linear1, linear2;
    std::shared_ptr<LayerNorm> norm1, norm2;
    const TransformerLayerOptions& options() const { return options_; }

private:
    TransformerLayerOptions options_;
};

struct TransformerDecoderLayerOutput {
    Tensor output;         // [B, T, D]
    Tensor self_weights;   // [B, h, T, T] (in a step: [B, h, 1, t])
    Tensor cross_weights;  // [B, h, T, S]
    Tensor cross_scores;   // [B, h, T, S], the scores softmax turns into cross_weights (inspect)
};

// What one decoder layer keeps between steps of incremental decoding.
struct DecoderLayerCache {
    Tensor self_keys, self_values;      // [B, h, t, d]: projected keys/values of the t positions so far
    Tensor memory_keys, memory_values;  // [B, h, S, d]: the memory's, projected once by start()
    Tensor memory_key_padding_mask;     // [B, S] or undefined
    // Keeps rows `ids` (int64 [B']) of every tensor, in that order: beam search's reordering.
    void reorder(const Tensor& ids);
};

class TransformerDecoderLayer : public Module {
public:
    explicit TransformerDecoderLayer(const TransformerLayerOptions& options);
    std::string type_name() const override { return "TransformerDecoderLayer"; }
    // tgt [B, T, D], memory [B, S, D]; masks [B, T] and [B, S] (1 = real); causal: position t sees
    // target positions <= t (what teacher forcing needs; nn.Transformer's tgt_mask).
    TransformerDecoderLayerOutput forward(const Tensor& tgt, const Tensor& memory,
                                          const Tensor& tgt_key_padding_mask = Tensor(),
                                          const Tensor& memory_key_padding_mask = Tensor(), bool causal = true) const;

    // memory [B, S, D] -> an empty cache holding the memory's projected keys and values.
    DecoderLayerCache start(const Tensor& memory, const Tensor& memory_key_padding_mask = Tensor()) const;
    // One new position x [B, 1, D]: appends to cache.self_keys/values and returns the layer's output.
    TransformerDecoderLayerOutput step(const Tensor& x, DecoderLayerCache& cache) const;

    std::shared_ptr<MultiHeadAttention> self_attn, multihead_attn;
    std::shared_ptr<Linear> linear1, linear2;
    std::shared_ptr<LayerNorm> norm1, norm2, norm3;
    const TransformerLayerOptions& options() const { return options_; }

private:
    template <typename SelfAttend, typename CrossAttend>
    TransformerDecoderLayerOutput run(const Tensor& x, SelfAttend&& self_attend, CrossAttend&& cross_attend) const;
    TransformerLayerOptions options_;
};

}  // namespace seqgrad::nn
