// Embedding: a lookup table of vectors, one row per token id. Weight [num_embeddings, embedding_dim]
// initialised N(0, 1) like PyTorch; the padding_idx row starts at zero and receives no gradient.
#pragma once
#include "layers/module.h"

namespace seqgrad::nn {

struct EmbeddingOptions {
    std::int64_t num_embeddings = 0;
    std::int64_t embedding_dim = 0;
    std::int64_t padding_idx = -1;  // -1: none
    DType dtype = DType::Float32;
    Generator* generator = nullptr;
};

class Embedding : public Module {
public:
    explicit Embedding(const EmbeddingOptions& options);
    std::string type_name() const override { return "Embedding"; }
    // ids: int64, any shape -> [*ids.shape, embedding_dim]
    Tensor forward(const Tensor& ids) const;
    Tensor operator()(const Tensor& ids) const { return forward(ids); }

    Tensor weight;  // [num_embeddings, embedding_dim]
    const EmbeddingOptions& options() const { return options_; }

private:
    EmbeddingOptions options_;
};

}  // namespace seqgrad::nn
