// The Transformer translator: embeddings, the nn::Transformer stacks, the output projection, the
// one-pass teacher-forced loss with label smoothing, and incremental decoding.
#include "models/transformer/transformer_translator.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/fused_ops.h"
#include "core/ops.h"
#include "models/rnn/seq2seq.h"  // the special ids kPad, kSos, kEos shared with data::Vocab

namespace seqgrad::models {

void TransformerConfig::validate() const {
    const char* who = "transformer config";
    if (src_vocab <= 0 || tgt_vocab <= 0)
        fail("{}: src_vocab and tgt_vocab must be positive, got {} and {}", who, src_vocab, tgt_vocab);
    if (d_model <= 0 || nhead <= 0 || d_model % nhead != 0)
        fail("{}: d_model ({}) must be a positive multiple of nhead ({})", who, d_model, nhead);
    if (num_encoder_layers <= 0 || num_decoder_layers <= 0 || dim_feedforward <= 0 || max_len <= 0)
        fail("{}: layers, dim_feedforward and max_len must be positive, got encoder {}, decoder {}, ff {}, max_len {}",
             who, num_encoder_layers, num_decoder_layers, dim_feedforward, max_len);
    if (!(dropout >= 0.0 && dropout < 1.0)) fail("{}: dropout must be in [0, 1), got {}", who, dropout);
    if (!(label_smoothing >= 0.0 && label_smoothing < 1.0))
        fail("{}: label_smoothing must be in [0, 1), got {}", who, label_smoothing);
}

TransformerTranslator::TransformerTranslator(const TransformerConfig& c, Generator* gen) : config_(c) {
    c.validate();
    auto embed = [&](std::int64_t vocab) {
        return std::make_shared<nn::TransformerEmbedding>(nn::TransformerEmbeddingOptions{
            .vocab_size = vocab, .d_model = c.d_model, .padding_idx = kPad, .max_len = c.max_len, .dropout = c.dropout,
            .generator = gen});
    };
    src_embed = register_module("src_embed", embed(c.src_vocab));
    tgt_embed = register_module("tgt_embed", embed(c.tgt_vocab));
    transformer = register_module("transformer", std::make_shared<nn::Transformer>(nn::TransformerOptions{
                                                     .d_model = c.d_model,
                                                     .nhead = c.nhead,
                                                     .num_encoder_layers = c.num_encoder_layers,
                                                     .num_decoder_layers = c.num_decoder_layers,
                                                     .dim_feedforward = c.dim_feedforward,
                                                     .dropout = c.dropout,
                                                     .activation = c.activation,
                                                     .norm_first = c.norm_first,
                                                     .generator = gen}));
    generator = register_module(
        "generator", std::make_shared<nn::OutputProjection>(
                         nn::OutputProjectionOptions{.d_model = c.d_model, .vocab_size = c.tgt_vocab, .generator = gen},
                         c.tie_embeddings ? tgt_embed->embedding->weight : Tensor()));
}

namespace {
void check_batch(const Tensor& src, const std::vector<std::int64_t>& lengths) {
    check_defined("TransformerTranslator", src, "src");
    if (src.dim() != 2 || src.dtype() != DType::Int64)
        fail("TransformerTranslator: src must be int64 ids [B, S], got {} {}", dtype_name(src.dtype()),
             shape_str(src.shape()));
    if (static_cast<std::int64_t>(lengths.size()) != src.size(0))
        fail("TransformerTranslator: {} source lengths for a batch of {}", lengths.size(), src.size(0));
    for (auto l : lengths)
        if (l < 1 || l > src.size(1))
            fail("TransformerTranslator: source length {} outside 1..{} (src {})", l, src.size(1), shape_str(src.shape()));
}
}  // namespace

namespace {
// The encoder over the embedded source x [B, S, D] (src_embed's output) with lengths checked by check_batch.
TransformerMemory encode_embedded(const nn::Transformer& transformer, const Tensor& x,
                                  const std::vector<std::int64_t>& lengths, DType dtype) {
    const std::int64_t B = x.size(0), S = x.size(1);
    std::vector<double> mask(static_cast<std::size_t>(B * S), 0.0);
    for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t s = 0; s < lengths[b]; ++s) mask[b * S + s] = 1.0;
    TransformerMemory m;
    m.mask = Tensor::from(mask, {B, S}, {.dtype = dtype});
    nn::TransformerEncoderOutput enc = transformer.encoder->forward(x, m.mask);
    m.memory = enc.output;
    m.self_weights = std::move(enc.self_weights);
    return m;
}
}  // namespace

TransformerMemory TransformerTranslator::encode(const Tensor& src, const std::vector<std::int64_t>& lengths) const {
    check_batch(src, lengths);
    return encode_embedded(*transformer, src_embed->forward(src), lengths, dtype());
}

Tensor TransformerTranslator::logits(const Tensor& src, const std::vector<std::int64_t>& lengths, const Tensor& tgt_in,
                                     TransformerAttentionMaps* maps) const {
    check_batch(src, lengths);
    return logits_from_lookup(src, src_embed->embedding->forward(src), lengths, tgt_in, maps);
}

Tensor TransformerTranslator::logits_from_lookup(const Tensor& src, const Tensor& src_lookup,
                                                 const std::vector<std::int64_t>& lengths, const Tensor& tgt_in,
                                                 TransformerAttentionMaps* maps) const {
    check_batch(src, lengths);
    TransformerMemory m = encode_embedded(*transformer, src_embed->from_lookup(src_lookup), lengths, dtype());
    check_defined("TransformerTranslator", tgt_in, "tgt_in");
    if (tgt_in.dim() != 2 || tgt_in.size(0) != src.size(0))
        fail("TransformerTranslator: tgt_in must be [B, T] with B = {}, got {}", src.size(0), shape_str(tgt_in.shape()));
    // All T positions at once; the causal mask stands in for the step-by-step loop. Target padding
    // needs no mask: padding comes last, so the causal mask already hides it from every real position.
    nn::TransformerDecoderOutput dec =
        transformer->decoder->forward(tgt_embed->forward(tgt_in), m.memory, Tensor(), m.mask, /*causal=*/true);
    if (maps) {
        maps->encoder_self = m.self_weights;
        maps->decoder_self = dec.self_weights;
        maps->cross = dec.cross_weights;
    }
    return generator->forward(dec.output);  // [B, T, V]
}

Tensor TransformerTranslator::loss(const Tensor& src, const std::vector<std::int64_t>& lengths, const Tensor& tgt_in,
                                   const Tensor& tgt_out) const {
    Tensor z = logits(src, lengths, tgt_in);
    const std::int64_t N = z.size(0) * z.size(1), V = z.size(2);
    if (tgt_out.shape() != tgt_in.shape())
        fail("TransformerTranslator: tgt_out {} must have tgt_in's shape {}", shape_str(tgt_out.shape()),
             shape_str(tgt_in.shape()));
    Tensor target = reshape(tgt_out, {N});
    // Label-smoothed cross-entropy (core/ops.h cross_entropy). The fused form never materialises
    // the [N, V] log-probabilities or their gradient; set_fast_paths(false) runs the composite.
    const NllOptions options{.ignore_index = kPad};
    Tensor flat = reshape(z, {N, V});
    if (fast_paths_enabled()) return cross_entropy_fused(flat, target, options, config_.label_smoothing);
    return cross_entropy(flat, target, options, config_.label_smoothing);
}

std::pair<double, std::int64_t> TransformerTranslator::nll_sum(const Tensor& src, const std::vector<std::int64_t>& lengths,
                                                               const Tensor& tgt_in, const Tensor& tgt_out) const {
    NoGradGuard guard;
    Tensor z = logits(src, lengths, tgt_in);
    const std::int64_t N = z.size(0) * z.size(1), V = z.size(2);
    Tensor target = reshape(tgt_out, {N});
    const NllOptions options{.ignore_index = kPad, .reduction = Reduction::Sum};
    Tensor flat = reshape(z, {N, V});
    Tensor total = fast_paths_enabled() ? cross_entropy_fused(flat, target, options) : cross_entropy(flat, target, options);
    std::int64_t count = 0;
    for (std::int64_t id : target.to_ids()) count += id != kPad;
    return {total.item(), count};
}

nn::DecoderCache TransformerTranslator::start(const TransformerMemory& m) const {
    return transformer->decoder->start(m.memory, m.mask);
}

TransformerStep TransformerTranslator::step(const Tensor& y_prev, nn::DecoderCache& cache) const {
    check_defined("TransformerTranslator", y_prev, "y_prev");
    const std::int64_t B = y_prev.numel(), t = cache.length();
    Tensor x = tgt_embed->forward(reshape(y_prev, {B, 1}), /*offset=*/t);  // [B, 1, D] at position t
    nn::TransformerDecoderOutput dec = transformer->decoder->step(x, cache);
    return TransformerStep{.logits = reshape(generator->forward(dec.output), {B, config_.tgt_vocab}),
                           .self_weights = std::move(dec.self_weights),
                           .cross_weights = std::move(dec.cross_weights),
                           .cross_scores = std::move(dec.cross_scores)};
}

std::vector<std::int64_t> transformer_greedy(const TransformerTranslator& model, const std::vector<std::int64_t>& src,
                                             std::int64_t max_len) {
    NoGradGuard guard;
    const std::int64_t S = static_cast<std::int64_t>(src.size());
    TransformerMemory m = model.encode(Tensor::ids(src, {1, S}), {S});
    nn::DecoderCache cache = model.start(m);
    std::vector<std::int64_t> out;
    std::int64_t prev = kSos;
    for (std::int64_t t = 0; t < max_len; ++t) {
        Tensor logits = model.step(Tensor::ids({prev}, {1}), cache).logits;  // [1, V]
        prev = argmax(logits, 1).to_ids()[0];
        if (prev == kEos) break;
        out.push_back(prev);
    }
    return out;
}

}  // namespace seqgrad::models
