// The Transformer stacks: N encoder layers, N decoder layers, each stack with an optional final
// LayerNorm, and `Transformer`, the two stacks together as torch.nn.Transformer(batch_first=True)
// builds them. Parameter names are PyTorch's (encoder.layers.0.self_attn.in_proj_weight, ...,
// encoder.norm.weight, decoder.layers.0.multihead_attn.out_proj.bias, decoder.norm.bias), so a
// state dict loads into torch.nn.Transformer with load_state_dict(strict=True) and back
// (tests/torch_crosscheck_transformer.py checks outputs and every gradient).
//
// Initialisation as PyTorch's: the layers are clones() of one (equal start, as copy.deepcopy), then
// Transformer re-draws every parameter with more than one dimension xavier_uniform, as
// nn.Transformer._reset_parameters does (the biases and LayerNorms keep their starts).
#pragma once
#include <memory>
#include <vector>

#include "layers/layer_norm.h"
#include "layers/module.h"
#include "layers/transformer_layer.h"

namespace seqgrad::nn {

struct TransformerStackOptions {
    TransformerLayerOptions layer;
    std::int64_t num_layers = 6;
    bool final_norm = true;  // the `norm` after the last layer (nn.Transformer always has it)
};

struct TransformerEncoderOutput {
    Tensor output;                      // [B, S, D]
    std::vector<Tensor> self_weights;   // per layer [B, h, S, S]
};

class TransformerEncoder : public Module {
public:
    explicit TransformerEncoder(const TransformerStackOptions& options);
    std::string type_name() const override { return "TransformerEncoder"; }
    TransformerEncoderOutput forward(const Tensor& src, const Tensor& src_key_padding_mask = Tensor()) const;

    std::shared_ptr<ModuleList<TransformerEncoderLayer>> layers;
    std::shared_ptr<LayerNorm> norm;  // nullptr without final_norm
    const TransformerStackOptions& options() const { return options_; }

private:
    TransformerStackOptions options_;
};

struct TransformerDecoderOutput {
    Tensor output;                      // [B, T, D]
    std::vector<Tensor> self_weights;   // per layer [B, h, T, T] (a step: [B, h, 1, t])
    std::vector<Tensor> cross_weights;  // per layer [B, h, T, S]
    std::vector<Tensor> cross_scores;   // per layer [B, h, T, S], before the masked softmax
};

// Every layer's cache for incremental decoding (see TransformerDecoderLayer::step).
struct DecoderCache {
    std::vector<DecoderLayerCache> layers;
    std::int64_t length() const;     // positions decoded so far
    void reorder(const Tensor& ids);  // int64 [B']: keep these rows (beam search)
};

class TransformerDecoder : public Module {
public:
    explicit TransformerDecoder(const TransformerStackOptions& options);
    std::string type_name() const override { return "TransformerDecoder"; }
    TransformerDecoderOutput forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_key_padding_mask = Tensor(),
                                     const Tensor& memory_key_padding_mask = Tensor(), bool causal = true) const;
    // Incremental decoding: start() once per source batch, then step() per new position x [B, 1, D];
    // the outputs of the steps equal forward()'s rows under the causal mask.
    DecoderCache start(const Tensor& memory, const Tensor& memory_key_padding_mask = Tensor()) const;
    TransformerDecoderOutput step(const Tensor& x, DecoderCache& cache) const;

    std::shared_ptr<ModuleList<TransformerDecoderLayer>> layers;
    std::shared_ptr<LayerNorm> norm;  // nullptr without final_norm
    const TransformerStackOptions& options() const { return options_; }

private:
    TransformerStackOptions options_;
};

struct TransformerOptions {
    std::int64_t d_model = 512;
    std::int64_t nhead = 8;
    std::int64_t num_encoder_layers = 6;
    std::int64_t num_decoder_layers = 6;
    std::int64_t dim_feedforward = 2048;
    double dropout = 0.1;
    Activation activation = Activation::ReLU;
    double layer_norm_eps = 1e-5;
    bool norm_first = false;
    DType dtype = DType::Float32;
    Generator* generator = nullptr;
    TransformerLayerOptions layer() const;  // the per-layer options these give
};

// torch.nn.Transformer(batch_first=True): an encoder and a decoder stack, each with its final norm.
class Transformer : public Module {
public:
    explicit Transformer(const TransformerOptions& options);
    std::string type_name() const override { return "Transformer"; }
    // src [B, S, D], tgt [B, T, D] -> [B, T, D]; masks 1 = real; causal = nn.Transformer's square
    // subsequent tgt_mask.
    Tensor forward(const Tensor& src, const Tensor& tgt, const Tensor& src_key_padding_mask = Tensor(),
                   const Tensor& tgt_key_padding_mask = Tensor(), bool causal = true) const;

    std::shared_ptr<TransformerEncoder> encoder;
    std::shared_ptr<TransformerDecoder> decoder;
    const TransformerOptions& options() const { return options_; }

private:
    TransformerOptions options_;
};

}  // namespace seqgrad::nn
