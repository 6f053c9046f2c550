// The Transformer's input and output ends (Vaswani et al. 2017, section 3.4):
//   TransformerEmbedding:  x = dropout(E[ids] · √d_model + PE[offset : offset + T])        ids [B, T] -> [B, T, D]
//   OutputProjection:      logits = x Wᵀ + b                                               [..., D] -> [..., V]
// The scale √d_model brings embeddings of entries ~ N(0, 1/d_model) (what TransformerEmbedding draws,
// as fairseq does) to unit size, the size of the sinusoids of PE they are added to.
// Tying (Press & Wolf 2017): an OutputProjection built with `tied` = the target embedding's weight
// [V, D] uses it as W and owns only its bias, so the weight is one parameter trained from both ends
// (registered once, under the embedding's name: an optimizer steps it once).
#pragma once
#include <memory>

#include "layers/embedding.h"
#include "layers/module.h"
#include "layers/positional_encoding.h"

namespace seqgrad::nn {

struct TransformerEmbeddingOptions {
    std::int64_t vocab_size = 0;
    std::int64_t d_model = 0;
    std::int64_t padding_idx = -1;  // that row starts at 0 and gets no gradient; -1: none
    std::int64_t max_len = 512;     // the longest sequence (rows of the PE table)
    double dropout = 0.0;
    bool scale = true;  // multiply by √d_model
    DType dtype = DType::Float32;
    Generator* generator = nullptr;  // initialisation and dropout
};

class TransformerEmbedding : public Module {
public:
    explicit TransformerEmbedding(const TransformerEmbeddingOptions& options);
    std::string type_name() const override { return "TransformerEmbedding"; }
    // ids int64 [B, T] -> [B, T, D]; offset: the position of the first id (incremental decoding).
    Tensor forward(const Tensor& ids, std::int64_t offset = 0) const;
    Tensor operator()(const Tensor& ids, std::int64_t offset = 0) const { return forward(ids, offset); }
    // The rest of forward from the lookup E[ids] [B, T, D]: the scale, the positions and dropout
    // (forward(ids) = from_lookup(embedding->forward(ids))). Saliency differentiates the lookup.
    Tensor from_lookup(const Tensor& looked_up, std::int64_t offset = 0) const;

    std::shared_ptr<Embedding> embedding;            // "embedding.weight" [V, D]
    std::shared_ptr<PositionalEncoding> positional;  // buffer "positional.pe" [max_len, D]
    const TransformerEmbeddingOptions& options() const { return options_; }

private:
    TransformerEmbeddingOptions options_;
};

struct OutputProjectionOptions {
    std::int64_t d_model = 0;
    std::int64_t vocab_size = 0;
    bool bias = true;
    DType dtype = DType::Float32;
    Generator* generator = nullptr;
};

class OutputProjection : public Module {
public:
    // tied undefined: own weight [V, D] (Linear's init); tied [V, D]: use it (not registered here).
    explicit OutputProjection(const OutputProjectionOptions& options, Tensor tied = Tensor());
    std::string type_name() const override { return "OutputProjection"; }
    Tensor forward(const Tensor& x) const;  // [..., D] -> [..., V]
    Tensor operator()(const Tensor& x) const { return forward(x); }
    bool tied() const { return tied_; }

    Tensor weight;  // [V, D]: own parameter "weight", or the tied embedding's
    Tensor bias;    // [V], parameter "bias"; undefined without bias

private:
    OutputProjectionOptions options_;
    bool tied_ = false;
};

}  // namespace seqgrad::nn
