// Embedding layer over the core embedding op (core/indexing.cpp), which range-checks every id.
#include "layers/embedding.h"

#include "core/autograd.h"
#include "core/ops.h"
#include "layers/gradcheck_cases.h"
#include "layers/init.h"

namespace seqgrad::nn {

Embedding::Embedding(const EmbeddingOptions& options) : options_(options) {
    if (options.num_embeddings <= 0 || options.embedding_dim <= 0)
        fail("Embedding: num_embeddings and embedding_dim must be positive, got {} and {}", options.num_embeddings,
             options.embedding_dim);
    if (options.padding_idx < -1 || options.padding_idx >= options.num_embeddings)
        fail<IndexError>("Embedding: padding_idx {} out of range for {} embeddings", options.padding_idx,
                         options.num_embeddings);
    weight = Tensor::empty({options.num_embeddings, options.embedding_dim}, options.dtype);
    init::normal_(weight, 0.0, 1.0, options.generator);
    if (options.padding_idx >= 0) {
        NoGradGuard guard;
        dispatch_floating(weight.dtype(), "Embedding", [&](auto tag) {
            using T = decltype(tag);
            std::fill_n(weight.data<T>() + options.padding_idx * options.embedding_dim, options.embedding_dim, T(0));
        });
    }
    register_parameter("weight", weight);
}

Tensor Embedding::forward(const Tensor& ids) const {
    check_defined("Embedding", ids, "ids");
    if (ids.dtype() != DType::Int64)
        fail("Embedding: ids must be int64 token ids, got {} of shape {}", dtype_name(ids.dtype()), shape_str(ids.shape()));
    return embedding(weight, ids, options_.padding_idx);
}

// ---- the gradcheck case `seqgrad gradcheck` runs (layers/gradcheck_cases.h) ---------------------

namespace {
const GradcheckCase embedding_case("Embedding", [] {
    Generator g(2);
    Embedding m({.num_embeddings = 5, .embedding_dim = 3, .dtype = DType::Float64, .generator = &g});
    const Tensor ids = Tensor::ids({1, 4, 4, 2}, {2, 2});
    return check_layer(m, {}, [&](const std::vector<Tensor>&) { return m(ids); });
});
}  // namespace

}  // namespace seqgrad::nn
