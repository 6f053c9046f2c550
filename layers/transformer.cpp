// The encoder and decoder stacks, their incremental decoding, and nn.Transformer's initialisation.
#include "layers/transformer.h"

#include "core/ops.h"
#include "layers/init.h"

namespace seqgrad::nn {

namespace {
void check_layers(const char* who, std::int64_t n) {
    if (n <= 0) fail("{}: num_layers must be positive, got {}", who, n);
}

std::shared_ptr<LayerNorm> final_norm(const TransformerStackOptions& o) {
    if (!o.final_norm) return nullptr;
    return std::make_shared<LayerNorm>(
        LayerNormOptions{.normalized_size = o.layer.d_model, .eps = o.layer.layer_norm_eps, .dtype = o.layer.dtype});
}
}  // namespace

TransformerEncoder::TransformerEncoder(const TransformerStackOptions& o) : options_(o) {
    check_layers("TransformerEncoder", o.num_layers);
    layers = register_module("layers", clones<TransformerEncoderLayer>(o.num_layers, [&] {
                                 return std::make_shared<TransformerEncoderLayer>(o.layer);
                             }));
    if (auto n = final_norm(o)) norm = register_module("norm", n);
}

TransformerEncoderOutput TransformerEncoder::forward(const Tensor& src, const Tensor& mask) const {
    TransformerEncoderOutput out;
    Tensor x = src;
    for (const auto& layer : *layers) {
        TransformerEncoderLayerOutput r = layer->forward(x, mask);
        x = r.output;
        out.self_weights.push_back(r.self_weights);
    }
    out.output = norm ? norm->forward(x) : x;
    return out;
}

std::int64_t DecoderCache::length() const {
    return layers.empty() || !layers[0].self_keys.defined() ? 0 : layers[0].self_keys.size(2);
}

void DecoderCache::reorder(const Tensor& ids) {
    for (auto& layer : layers) layer.reorder(ids);
}

TransformerDecoder::TransformerDecoder(const TransformerStackOptions& o) : options_(o) {
    check_layers("TransformerDecoder", o.num_layers);
    layers = register_module("layers", clones<TransformerDecoderLayer>(o.num_layers, [&] {
                                 return std::make_shared<TransformerDecoderLayer>(o.layer);
                             }));
    if (auto n = final_norm(o)) norm = register_module("norm", n);
}

namespace {
// x through n decoder layers (layer_output(i, x) is layer i's output for its input x), each layer's
// attention weights and scores collected, then the final norm if there is one.
template <typename LayerOutput>
TransformerDecoderOutput run_decoder(std::size_t n, Tensor x, const std::shared_ptr<LayerNorm>& norm,
                                     const LayerOutput& layer_output) {
    TransformerDecoderOutput out;
    for (std::size_t i = 0; i < n; ++i) {
        TransformerDecoderLayerOutput r = layer_output(i, x);
        x = r.output;
        out.self_weights.push_back(r.self_weights);
        out.cross_weights.push_back(r.cross_weights);
        out.cross_scores.push_back(r.cross_scores);
    }
    out.output = norm ? norm->forward(x) : x;
    return out;
}
}  // namespace

TransformerDecoderOutput TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                                     const Tensor& memory_mask, bool causal) const {
    return run_decoder(layers->size(), tgt, norm, [&](std::size_t i, const Tensor& x) {
        return (*layers)[i].forward(x, memory, tgt_mask, memory_mask, causal);
    });
}

DecoderCache TransformerDecoder::start(const Tensor& memory, const Tensor& memory_mask) const {
    DecoderCache cache;
    for (const auto& layer : *layers) cache.layers.push_back(layer->start(memory, memory_mask));
    return cache;
}

TransformerDecoderOutput TransformerDecoder::step(const Tensor& x_new, DecoderCache& cache) const {
    if (cache.layers.size() != layers->size())
        fail("TransformerDecoder: step needs a cache from start() of this decoder ({} layers), got one for {}",
             layers->size(), cache.layers.size());
    return run_decoder(layers->size(), x_new, norm,
                       [&](std::size_t i, const Tensor& x) { return (*layers)[i].step(x, cache.layers[i]); });
}

TransformerLayerOptions TransformerOptions::layer() const {
    return TransformerLayerOptions{.d_model = d_model,
                                   .nhead = nhead,
                                   .dim_feedforward = dim_feedforward,
                                   .dropout = dropout,
                                   .activation = activation,
                                   .layer_norm_eps = layer_norm_eps,
                                   .norm_first = norm_first,
                                   .dtype = dtype,
                                   .generator = generator};
}

Transformer::Transformer(const TransformerOptions& o) : options_(o) {
    encoder = register_module("encoder", std::make_shared<TransformerEncoder>(
                                             TransformerStackOptions{.layer = o.layer(), .num_layers = o.num_encoder_layers}));
    decoder = register_module("decoder", std::make_shared<TransformerDecoder>(
                                             TransformerStackOptions{.layer = o.layer(), .num_layers = o.num_decoder_layers}));
    // nn.Transformer._reset_parameters: xavier_uniform_ on every parameter with more than one dimension.
    for (auto& [name, p] : named_parameters())
        if (p.dim() > 1) init::xavier_uniform_(p, 1.0, o.generator);
}

Tensor Transformer::forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask, const Tensor& tgt_mask,
                            bool causal) const {
    TransformerEncoderOutput memory = encoder->forward(src, src_mask);
    return decoder->forward(tgt, memory.output, tgt_mask, src_mask, causal).output;
}

}  // namespace seqgrad::nn
