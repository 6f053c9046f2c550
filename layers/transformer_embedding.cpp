// Token embedding × √d_model + positional encoding, and the (optionally tied) output projection.
#include "layers/transformer_embedding.h"

#include <algorithm>
#include <cmath>

#include "core/ops.h"
#include "layers/init.h"

namespace seqgrad::nn {

TransformerEmbedding::TransformerEmbedding(const TransformerEmbeddingOptions& o) : options_(o) {
    embedding = register_module("embedding", std::make_shared<Embedding>(EmbeddingOptions{.num_embeddings = o.vocab_size,
                                                                                          .embedding_dim = o.d_model,
                                                                                          .padding_idx = o.padding_idx,
                                                                                          .dtype = o.dtype,
                                                                                          .generator = o.generator}));
    // N(0, 1/d_model), so that E · √d_model has entries of unit variance; the padding row stays 0.
    init::normal_(embedding->weight, 0.0, 1.0 / std::sqrt(static_cast<double>(o.d_model)), o.generator);
    if (o.padding_idx >= 0) {
        Tensor& w = embedding->weight;
        dispatch_floating(w.dtype(), "TransformerEmbedding", [&](auto tag) {
            using T = decltype(tag);
            std::fill_n(w.data<T>() + o.padding_idx * o.d_model, o.d_model, T(0));
        });
    }
    positional = register_module("positional", std::make_shared<PositionalEncoding>(PositionalEncodingOptions{
                                                   .d_model = o.d_model, .max_len = o.max_len, .dropout = o.dropout,
                                                   .dtype = o.dtype, .generator = o.generator}));
}

Tensor TransformerEmbedding::forward(const Tensor& ids, std::int64_t offset) const {
    return from_lookup(embedding->forward(ids), offset);  // [B, T, D]
}

Tensor TransformerEmbedding::from_lookup(const Tensor& looked_up, std::int64_t offset) const {
    Tensor x = looked_up;
    if (options_.scale) x = x * std::sqrt(static_cast<double>(options_.d_model));
    return positional->forward(x, offset);
}

OutputProjection::OutputProjection(const OutputProjectionOptions& o, Tensor tied) : options_(o) {
    if (o.d_model <= 0 || o.vocab_size <= 0)
        fail("OutputProjection: d_model and vocab_size must be positive, got d_model={}, vocab_size={}", o.d_model,
             o.vocab_size);
    const double bound = 1.0 / std::sqrt(static_cast<double>(o.d_model));
    if (tied.defined()) {
        if (tied.shape() != Shape{o.vocab_size, o.d_model})
            fail("OutputProjection: the tied weight must be [vocab_size, d_model] = [{}, {}], got {}", o.vocab_size,
                 o.d_model, shape_str(tied.shape()));
        weight = tied;
        tied_ = true;
    } else {
        weight = Tensor::empty({o.vocab_size, o.d_model}, o.dtype);
        init::uniform_(weight, -bound, bound, o.generator);
        register_parameter("weight", weight);
    }
    if (o.bias) {
        bias = Tensor::empty({o.vocab_size}, o.dtype);
        init::uniform_(bias, -bound, bound, o.generator);
        register_parameter("bias", bias);
    }
}

Tensor OutputProjection::forward(const Tensor& x) const {
    check_defined("OutputProjection", x);
    if (x.dim() < 1 || x.size(-1) != options_.d_model)
        fail("OutputProjection: input {} must end in d_model = {} (weight {})", shape_str(x.shape()), options_.d_model,
             shape_str(weight.shape()));
    return linear(x, weight, bias);
}

}  // namespace seqgrad::nn
