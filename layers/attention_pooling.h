// Attention pooling: a set of feature vectors f_1 .. f_S summarised by one weighted average, the
// weights chosen by a learned query. It is the attention of layers/attention.h with the decoder state
// replaced by a parameter: "what to look for" is learned once rather than computed per step, which is
// what a classifier that attends over the locations of an image needs (one question: where is the
// object?).
//
//   e_s = score(q, f_s)                 any score of layers/attention.h (additive by default:
//                                       e_s = vᵀ tanh(W_q q + W_k f_s))
//   α   = masked_softmax(e)             [B, S], rows sum to 1, exactly 0 at masked positions
//   c   = Σ_s α_s f_s                   [B, D]
//
// The query q [D] is registered as "query" and broadcast over the batch (expand; its gradient is the
// sum over the rows), the score as "attention". attend() does the masking, the softmax and the
// weighted sum, so the backward pass is the one derived in docs/backprop-through-attention.md.
#pragma once
#include <cstdint>
#include <memory>

#include "layers/attention.h"

namespace seqgrad::nn {

struct AttentionPoolingOptions {
    std::int64_t feature_size = 0;    // D: each f_s, and the query
    std::int64_t attention_size = 0;  // A: the hidden size of the additive and concat scores
    AttentionKind kind = AttentionKind::Additive;  // a plain score; local-m, local-p and location are a ShapeError
    DType dtype = DType::Float32;
    Generator* generator = nullptr;   // initialisation; nullptr: the default generator
};

class AttentionPooling : public Module {
public:
    // The query starts U(-1/√D, 1/√D), the score as make_attention initialises it. Throws ShapeError
    // naming the layer for a non-positive feature_size or a score kind that needs a decoder step.
    explicit AttentionPooling(const AttentionPoolingOptions& options);
    std::string type_name() const override { return "AttentionPooling"; }

    // features [B, S, D], mask [B, S] (1 = real, 0 = ignore; undefined: all real) ->
    //   context [B, D], weights α [B, S], scores e [B, S]
    // Throws ShapeError naming the layer when features is not [B, S, D].
    AttentionOutput forward(const Tensor& features, const Tensor& mask = Tensor()) const;
    AttentionOutput operator()(const Tensor& features, const Tensor& mask = Tensor()) const {
        return forward(features, mask);
    }

    Tensor query;                          // [D]
    std::shared_ptr<Attention> attention;  // the score, with query_size = key_size = D
    const AttentionPoolingOptions& options() const { return options_; }

private:
    AttentionPoolingOptions options_;
};

}  // namespace seqgrad::nn
