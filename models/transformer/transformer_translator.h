// The Transformer translator (Vaswani et al. 2017): the same task as the RNN Seq2Seq, with
// self-attention instead of recurrence.
//
//   source:  x = dropout(E_src[src] · √D + PE)           -> encoder stack (padding masked)  -> memory [B, S, D]
//   target:  y = dropout(E_tgt[tgt_in] · √D + PE)        -> decoder stack (causal; cross-attention
//                                                           to memory, source padding masked) -> [B, T, D]
//   logits = y Wᵀ + b                                    W = E_tgt when tie_embeddings
//
// Teacher forcing computes every target position in ONE pass: tgt_in = <sos> y_1 .. y_{T-1} goes
// in whole and the causal mask keeps position t from seeing t+1.. — no loop over steps. The loss is
// the label-smoothed cross-entropy (Szegedy et al. 2016) over the real target tokens:
//   L = (1 − ε) · mean_i(−log p_i[y_i]) + ε · mean_i(mean_v(−log p_i[v]))     (PyTorch's
//   CrossEntropyLoss(label_smoothing=ε, ignore_index=pad): the target is (1 − ε) one-hot + ε / V).
// Decoding is incremental: encode() once, start() the cache, then step() one token at a time, each
// step attending over the cached keys/values of the tokens before it (layers/transformer_layer.h).
// Parameter names: src_embed.embedding.weight, tgt_embed.embedding.weight, transformer.encoder.layers.N...,
// transformer.decoder..., generator.weight/bias (no generator.weight when tied); the `transformer.*`
// part is torch.nn.Transformer's state dict (docs/layers.md).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "layers/feed_forward.h"
#include "layers/module.h"
#include "layers/transformer.h"
#include "layers/transformer_embedding.h"

namespace seqgrad::models {

struct TransformerConfig {
    std::int64_t src_vocab = 0;
    std::int64_t tgt_vocab = 0;
    std::int64_t d_model = 64;
    std::int64_t nhead = 4;
    std::int64_t num_encoder_layers = 2;
    std::int64_t num_decoder_layers = 2;
    std::int64_t dim_feedforward = 256;
    double dropout = 0.1;
    nn::Activation activation = nn::Activation::ReLU;
    bool norm_first = false;        // pre-norm
    bool tie_embeddings = false;    // generator.weight = tgt_embed.embedding.weight
    double label_smoothing = 0.1;   // ε of the training loss (nll_sum never smooths)
    std::int64_t max_len = 256;     // longest source or target sentence (rows of the PE tables)
    // Throws ShapeError naming the first bad field.
    void validate() const;
};

// The encoder's results for one source batch, reused by every decoding step.
struct TransformerMemory {
    Tensor memory;                    // [B, S, D]
    Tensor mask;                      // [B, S], 1 = real source token
    std::vector<Tensor> self_weights; // per encoder layer [B, h, S, S]
};

// Every attention of a teacher-forced pass, per layer, for drawing and inspecting.
struct TransformerAttentionMaps {
    std::vector<Tensor> encoder_self;  // [B, h, S, S]
    std::vector<Tensor> decoder_self;  // [B, h, T, T], causal: 0 above the diagonal
    std::vector<Tensor> cross;         // [B, h, T, S]: rows = output positions, columns = source positions
};

struct TransformerStep {
    Tensor logits;                     // [B, V]
    std::vector<Tensor> self_weights;  // per decoder layer [B, h, 1, t + 1]
    std::vector<Tensor> cross_weights; // per decoder layer [B, h, 1, S]
    std::vector<Tensor> cross_scores;  // per decoder layer [B, h, 1, S], before the masked softmax
};

class TransformerTranslator : public nn::Module {
public:
    explicit TransformerTranslator(const TransformerConfig& config, Generator* gen = nullptr);
    std::string type_name() const override { return "TransformerTranslator"; }
    const TransformerConfig& config() const { return config_; }

    // src ids [B, S] (0 = padding), lengths per row -> the memory.
    TransformerMemory encode(const Tensor& src, const std::vector<std::int64_t>& src_lengths) const;
    // Teacher forcing in one pass: tgt_in [B, T] -> logits [B, T, V] (and every attention map when
    // `maps` is given).
    Tensor logits(const Tensor& src, const std::vector<std::int64_t>& src_lengths, const Tensor& tgt_in,
                  TransformerAttentionMaps* maps = nullptr) const;
    // The same pass from the source lookup E_src[src] [B, S, D] (before the √D scale and the
    // positions), which saliency differentiates; src gives the lengths checked.
    Tensor logits_from_lookup(const Tensor& src, const Tensor& src_lookup, const std::vector<std::int64_t>& src_lengths,
                              const Tensor& tgt_in, TransformerAttentionMaps* maps = nullptr) const;
    // Label-smoothed mean cross-entropy over tgt_out's real tokens (0 = padding ignored).
    Tensor loss(const Tensor& src, const std::vector<std::int64_t>& src_lengths, const Tensor& tgt_in,
                const Tensor& tgt_out) const;
    // Sum of the tokens' negative log-likelihoods (no smoothing) and their count, without gradients.
    std::pair<double, std::int64_t> nll_sum(const Tensor& src, const std::vector<std::int64_t>& src_lengths,
                                            const Tensor& tgt_in, const Tensor& tgt_out) const;

    // Incremental decoding: start() once per source batch, then step() with the previous tokens
    // y_prev [B] (int64) at target position t = cache.length().
    nn::DecoderCache start(const TransformerMemory& memory) const;
    TransformerStep step(const Tensor& y_prev, nn::DecoderCache& cache) const;

    std::shared_ptr<nn::TransformerEmbedding> src_embed, tgt_embed;
    std::shared_ptr<nn::Transformer> transformer;
    std::shared_ptr<nn::OutputProjection> generator;

private:
    TransformerConfig config_;
};

// Greedy decoding of one source sentence (ids without specials) under NoGradGuard: the ids up to
// <eos> (not included), at most max_len. A plain loop over step(); beam search and batching belong
// to the shared decoders.
std::vector<std::int64_t> transformer_greedy(const TransformerTranslator& model, const std::vector<std::int64_t>& src,
                                             std::int64_t max_len);

}  // namespace seqgrad::models
