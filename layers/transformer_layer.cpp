// The Transformer encoder and decoder layers from MultiHeadAttention, feed_forward() and LayerNorm.
#include "layers/transformer_layer.h"

#include "core/ops.h"
#include "layers/gradcheck_cases.h"

namespace seqgrad::nn {

namespace {

void check_options(const char* who, const TransformerLayerOptions& o) {
    if (o.d_model <= 0 || o.nhead <= 0 || o.dim_feedforward <= 0)
        fail("{}: d_model, nhead and dim_feedforward must be positive, got d_model={}, nhead={}, dim_feedforward={}",
             who, o.d_model, o.nhead, o.dim_feedforward);
    if (!(o.dropout >= 0.0 && o.dropout < 1.0)) fail("{}: dropout must be in [0, 1), got {}", who, o.dropout);
}

void check_input(const char* who, const char* what, const Tensor& x, std::int64_t D) {
    check_defined(who, x, what);
    if (x.dim() != 3 || x.size(2) != D)
        fail("{}: {} must be [B, L, d_model] with d_model = {}, got {}", who, what, D, shape_str(x.shape()));
}

std::shared_ptr<MultiHeadAttention> make_mha(const TransformerLayerOptions& o) {
    return std::make_shared<MultiHeadAttention>(MultiHeadAttentionOptions{.embed_dim = o.d_model,
                                                                          .num_heads = o.nhead,
                                                                          .dropout = o.dropout,
                                                                          .dtype = o.dtype,
                                                                          .generator = o.generator});
}

std::shared_ptr<Linear> make_linear(const TransformerLayerOptions& o, std::int64_t in, std::int64_t out) {
    return std::make_shared<Linear>(
        LinearOptions{.in_features = in, .out_features = out, .dtype = o.dtype, .generator = o.generator});
}

std::shared_ptr<LayerNorm> make_norm(const TransformerLayerOptions& o) {
    return std::make_shared<LayerNorm>(
        LayerNormOptions{.normalized_size = o.d_model, .eps = o.layer_norm_eps, .dtype = o.dtype});
}

// x + dropout(f(norm(x))) for pre-norm, norm(x + dropout(f(x))) for post-norm; f returns the
// sublayer's output and may record its attention weights.
template <typename Sublayer>
Tensor residual(const Tensor& x, const LayerNorm& norm, const TransformerLayerOptions& o, bool training,
                Sublayer&& f) {
    if (o.norm_first) return x + dropout(f(norm.forward(x)), o.dropout, training, o.generator);
    return norm.forward(x + dropout(f(x), o.dropout, training, o.generator));
}

}  // namespace

// ---- encoder layer ----------------------------------------------------------------------------------

TransformerEncoderLayer::TransformerEncoderLayer(const TransformerLayerOptions& o) : options_(o) {
    check_options("TransformerEncoderLayer", o);
    // Registration order = PyTorch's: self_attn, linear1, linear2, norm1, norm2.
    self_attn = register_module("self_attn", make_mha(o));
    linear1 = register_module("linear1", make_linear(o, o.d_model, o.dim_feedforward));
    linear2 = register_module("linear2", make_linear(o, o.dim_feedforward, o.d_model));
    norm1 = register_module("norm1", make_norm(o));
    norm2 = register_module("norm2", make_norm(o));
}

TransformerEncoderLayerOutput TransformerEncoderLayer::forward(const Tensor& src, const Tensor& mask) const {
    check_input("TransformerEncoderLayer", "src", src, options_.d_model);
    const bool training = is_training();
    Tensor weights;
    Tensor x = residual(src, *norm1, options_, training, [&](const Tensor& in) {
        MultiHeadAttentionOutput a = self_attn->forward(in, in, in, mask);
        weights = a.weights;
        return a.output;
    });
    x = residual(x, *norm2, options_, training, [&](const Tensor& in) {
        return feed_forward(in, *linear1, *linear2, options_.activation, options_.dropout, training, options_.generator);
    });
    return TransformerEncoderLayerOutput{.output = x, .self_weights = weights};
}

// ---- decoder layer ----------------------------------------------------------------------------------

void DecoderLayerCache::reorder(const Tensor& ids) {
    for (Tensor* t : {&self_keys, &self_values, &memory_keys, &memory_values, &memory_key_padding_mask})
        if (t->defined()) *t = index_select(*t, 0, ids);
}

TransformerDecoderLayer::TransformerDecoderLayer(const TransformerLayerOptions& o) : options_(o) {
    check_options("TransformerDecoderLayer", o);
    // PyTorch's order: self_attn, multihead_attn, linear1, linear2, norm1, norm2, norm3.
    self_attn = register_module("self_attn", make_mha(o));
    multihead_attn = register_module("multihead_attn", make_mha(o));
    linear1 = register_module("linear1", make_linear(o, o.d_model, o.dim_feedforward));
    linear2 = register_module("linear2", make_linear(o, o.dim_feedforward, o.d_model));
    norm1 = register_module("norm1", make_norm(o));
    norm2 = register_module("norm2", make_norm(o));
    norm3 = register_module("norm3", make_norm(o));
}

// The three sublayers, the same for the full forward and for one step; only how the two attentions
// find their keys and values differs (self_attend, cross_attend: input [B, T, D] -> MHA output).
template <typename SelfAttend, typename CrossAttend>
TransformerDecoderLayerOutput TransformerDecoderLayer::run(const Tensor& tgt, SelfAttend&& self_attend,
                                                           CrossAttend&& cross_attend) const {
    const bool training = is_training();
    TransformerDecoderLayerOutput out;
    Tensor x = residual(tgt, *norm1, options_, training, [&](const Tensor& in) {
        MultiHeadAttentionOutput a = self_attend(in);
        out.self_weights = a.weights;
        return a.output;
    });
    x = residual(x, *norm2, options_, training, [&](const Tensor& in) {
        MultiHeadAttentionOutput a = cross_attend(in);
        out.cross_weights = a.weights;
        out.cross_scores = a.scores;
        return a.output;
    });
    out.output = residual(x, *norm3, options_, training, [&](const Tensor& in) {
        return feed_forward(in, *linear1, *linear2, options_.activation, options_.dropout, training, options_.generator);
    });
    return out;
}

TransformerDecoderLayerOutput TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory,
                                                               const Tensor& tgt_mask, const Tensor& memory_mask,
                                                               bool causal) const {
    check_input("TransformerDecoderLayer", "tgt", tgt, options_.d_model);
    check_input("TransformerDecoderLayer", "memory", memory, options_.d_model);
    return run(
        tgt, [&](const Tensor& in) { return self_attn->forward(in, in, in, tgt_mask, causal); },
        [&](const Tensor& in) { return multihead_attn->forward(in, memory, memory, memory_mask); });
}

DecoderLayerCache TransformerDecoderLayer::start(const Tensor& memory, const Tensor& memory_mask) const {
    check_input("TransformerDecoderLayer", "memory", memory, options_.d_model);
    const std::int64_t B = memory.size(0), S = memory.size(1);
    if (memory_mask.defined() && memory_mask.shape() != Shape{B, S})
        fail("TransformerDecoderLayer: memory_key_padding_mask must be [B, S] = [{}, {}] to match memory {}, got {}", B,
             S, shape_str(memory.shape()), shape_str(memory_mask.shape()));
    return DecoderLayerCache{.self_keys = Tensor(),
                             .self_values = Tensor(),
                             .memory_keys = multihead_attn->split_heads(multihead_attn->project_key(memory)),
                             .memory_values = multihead_attn->split_heads(multihead_attn->project_value(memory)),
                             .memory_key_padding_mask = memory_mask};
}

TransformerDecoderLayerOutput TransformerDecoderLayer::step(const Tensor& x, DecoderLayerCache& cache) const {
    check_defined("TransformerDecoderLayer", x, "x");
    const std::int64_t B = cache.memory_keys.defined() ? cache.memory_keys.size(0) : -1;
    if (B < 0) fail("TransformerDecoderLayer: step needs a cache from start(memory)");
    if (x.dim() != 3 || x.size(0) != B || x.size(1) != 1 || x.size(2) != options_.d_model)
        fail("TransformerDecoderLayer: step expects one new position x [B, 1, d_model] = [{}, 1, {}], got {}", B,
             options_.d_model, shape_str(x.shape()));
    auto self_attend = [&](const Tensor& in) {
        // The new position's key and value join the cache; its query attends over all of them.
        Tensor k = self_attn->split_heads(self_attn->project_key(in));    // [B, h, 1, d]
        Tensor v = self_attn->split_heads(self_attn->project_value(in));  // [B, h, 1, d]
        cache.self_keys = cache.self_keys.defined() ? cat({cache.self_keys, k}, 2) : k;
        cache.self_values = cache.self_values.defined() ? cat({cache.self_values, v}, 2) : v;
        return self_attn->attend_heads(self_attn->split_heads(self_attn->project_query(in)), cache.self_keys,
                                       cache.self_values);
    };
    auto cross_attend = [&](const Tensor& in) {
        return multihead_attn->attend_heads(multihead_attn->split_heads(multihead_attn->project_query(in)),
                                            cache.memory_keys, cache.memory_values, cache.memory_key_padding_mask);
    };
    return run(x, self_attend, cross_attend);
}

// ---- the gradcheck cases `seqgrad gradcheck` runs (layers/gradcheck_cases.h) --------------------

namespace {
// Dropout off (gradcheck needs a deterministic function); a padded source row, and in the decoder
// the causal mask (its default).
const GradcheckCase encoder_layer_case("TransformerEncoderLayer", [] {
    Generator g(12);
    TransformerEncoderLayer m({.d_model = 4, .nhead = 2, .dim_feedforward = 6, .dropout = 0.0,
                               .dtype = DType::Float64, .generator = &g});
    const Tensor mask = Tensor::from({1, 1, 1, 1, 1, 0}, {2, 3}, {.dtype = DType::Float64});
    return check_layer(m, {gradcheck_input({2, 3, 4}, g)},
                       [&](const std::vector<Tensor>& x) { return m.forward(x[0], mask).output; });
});
const GradcheckCase decoder_layer_case("TransformerDecoderLayer", [] {
    Generator g(13);
    TransformerDecoderLayer m({.d_model = 4, .nhead = 2, .dim_feedforward = 6, .dropout = 0.0,
                               .dtype = DType::Float64, .generator = &g});
    const Tensor memory_mask = Tensor::from({1, 1, 1, 1, 1, 0}, {2, 3}, {.dtype = DType::Float64});
    return check_layer(m, {gradcheck_input({2, 2, 4}, g), gradcheck_input({2, 3, 4}, g)},
                       [&](const std::vector<Tensor>& x) { return m.forward(x[0], x[1], Tensor(), memory_mask).output; });
});
}  // namespace

}  // namespace seqgrad::nn
