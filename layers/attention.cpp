// The shared part of every attention variant (checks, masking, softmax, context) and Luong's local
// windows. The score functions, and the table of kinds with the factory, are in
// layers/attention_scores.cpp.
#include "layers/attention.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/fused_ops.h"
#include "core/ops.h"
#include "layers/attention_scores.h"
#include "layers/gradcheck_cases.h"
#include "layers/init.h"

namespace seqgrad::nn {

namespace {
// A score far below any real one: exp(kMaskedScore - max) is 0 (in float32 too). Finite, so anomaly
// mode does not mistake a mask for a NaN/Inf.
constexpr double kMaskedScore = -1e30;
}  // namespace

// ---- the masked softmax ---------------------------------------------------------------------------

// α = softmax(masked_fill(e, keep == 0, -1e30)) * keep        e, keep: [..., S]
// Backward (from autograd): de = α ⊙ (dα' - Σ α dα') with dα' = dα ⊙ keep, and masked_fill passes
// zero to the masked positions, so padding gets exactly zero gradient.
Tensor masked_softmax(const Tensor& scores, const Tensor& keep) {
    // Fast path: one node instead of four (core/fused_ops.h), tested against the two lines below.
    if (fast_paths_enabled() && scores.shape() == keep.shape() && scores.dtype() == keep.dtype())
        return masked_softmax_fused(scores, keep);
    Tensor filled = masked_fill(scores, eq(keep, 0.0), kMaskedScore);
    return softmax(filled, -1) * keep;
}

// ---- Attention: the shared steps ------------------------------------------------------------------

Attention::Attention(const AttentionOptions& options) : options_(options) {
    if (options.query_size <= 0 || options.key_size <= 0)
        fail("{}: query_size and key_size must be positive, got query_size={}, key_size={}", label(),
             options.query_size, options.key_size);
}

std::string Attention::label() const { return fmt::format("{} attention", attention_kind_name(options_.kind)); }

void Attention::check_inputs(const Tensor& query, const Tensor& keys, const Tensor& values, const Tensor& mask) const {
    const std::string who = label();
    check_defined(who.c_str(), query, "query");
    check_defined(who.c_str(), keys, "keys");
    check_defined(who.c_str(), values, "values");
    const std::int64_t Hq = options_.query_size, Hk = options_.key_size;
    if (query.dim() != 2 || query.size(1) != Hq)
        fail("{}: query must be [B, Hq] = [B, {}], got query {} (keys {})", who, Hq, shape_str(query.shape()),
             shape_str(keys.shape()));
    if (keys.dim() != 3 || keys.size(2) != Hk)
        fail("{}: keys must be [B, S, Hk] = [B, S, {}], got keys {} (query {})", who, Hk, shape_str(keys.shape()),
             shape_str(query.shape()));
    if (values.dim() != 3)
        fail("{}: values must be [B, S, Hv], got values {} (keys {})", who, shape_str(values.shape()),
             shape_str(keys.shape()));
    const std::int64_t B = keys.size(0), S = keys.size(1);
    if (query.size(0) != B)
        fail("{}: batch sizes differ: query {} vs keys {} ({} != {})", who, shape_str(query.shape()),
             shape_str(keys.shape()), query.size(0), B);
    if (values.size(0) != B || values.size(1) != S)
        fail("{}: keys {} and values {} must agree in batch size and source length", who, shape_str(keys.shape()),
             shape_str(values.shape()));
    if (S == 0) fail("{}: no source positions: keys {}", who, shape_str(keys.shape()));
    if (mask.defined() && mask.shape() != Shape{B, S})
        fail("{}: mask must be [B, S] = [{}, {}] to match keys {}, got mask {}", who, B, S, shape_str(keys.shape()),
             shape_str(mask.shape()));
    check_same_dtype(who.c_str(), query, keys);
    check_same_dtype(who.c_str(), query, values);
    if (num_parameters() > 0 && query.dtype() != dtype())
        fail("{}: the inputs are {} but the parameters are {} (convert the layer with to())", who,
             dtype_name(query.dtype()), dtype_name(dtype()));
}

void Attention::check_rows(const Tensor& keep, std::string_view what) const {
    const std::int64_t B = keep.size(0), S = keep.size(1);
    const std::vector<double> k = keep.to_vector();
    for (std::int64_t b = 0; b < B; ++b) {
        bool any = false;
        for (std::int64_t s = 0; s < S; ++s) any = any || k[b * S + s] != 0.0;
        if (!any)
            fail("{}: row {} has every source position masked{} (mask {}); every sentence needs at least one real "
                 "position",
                 label(), b, what, shape_str(keep.shape()));
    }
}

PreparedKeys Attention::prepare(const Tensor& keys) const {
    check_defined(label().c_str(), keys, "keys");
    if (keys.dim() != 3 || keys.size(2) != options_.key_size)
        fail("{}: prepare: keys must be [B, S, Hk] = [B, S, {}], got {}", label(), options_.key_size,
             shape_str(keys.shape()));
    return PreparedKeys{.keys = keys, .projected = project_keys(keys), .owner = this};
}

Tensor Attention::project_keys(const Tensor&) const { return Tensor(); }  // most scores have no keys-only part

Tensor Attention::weights(const Tensor& scores, const Tensor& keep, const Tensor&, const AttendContext&) const {
    return masked_softmax(scores, keep);
}

AttentionOutput Attention::attend(const Tensor& query, const Tensor& keys, const Tensor& values, const Tensor& mask,
                                  const AttendContext& ctx) const {
    check_inputs(query, keys, values, mask);
    const std::int64_t B = keys.size(0), S = keys.size(1);

    // keep [B, S]: 1 at real positions, 0 at padding, in the scores' dtype (a constant: no gradient).
    Tensor keep = mask.defined() ? ne(mask.to(query.dtype()), 0.0) : ones({B, S}, {.dtype = query.dtype()});
    check_rows(keep, "");

    Tensor projected;
    if (ctx.prepared) {
        const PreparedKeys& p = *ctx.prepared;
        if (p.owner != this)
            fail("{}: the prepared keys were made by a different attention ({}); call prepare() on this one", label(),
                 p.owner ? p.owner->label() : "none");
        if (p.keys.impl() != keys.impl())
            fail("{}: the prepared keys were made from other keys ({}) than the keys given ({})", label(),
                 p.keys.defined() ? shape_str(p.keys.shape()) : "undefined", shape_str(keys.shape()));
        projected = p.projected;
    }

    return attend_checked(query, keys, values, keep, projected, ctx);
}

AttentionOutput Attention::attend_checked(const Tensor& query, const Tensor& keys, const Tensor& values,
                                          const Tensor& keep, const Tensor& projected,
                                          const AttendContext& ctx) const {
    Tensor e = scores(query, keys, projected);                  // [B, S]
    Tensor alpha = weights(e, keep, query, ctx);                // [B, S]
    // [B, 1, S] x [B, S, Hv] -> [B, Hv]; the fused op is one loop instead of B tiny gemms (tested against this).
    Tensor context = fast_paths_enabled() ? attention_context_fused(alpha, values)
                                          : squeeze(matmul(unsqueeze(alpha, 1), values), 1);
    return AttentionOutput{.context = context, .weights = alpha, .scores = e};
}

// ---- local attention (Luong et al. 2015, section 3.2) ---------------------------------------------

namespace {
// The inner score of a local variant: the same options with kind = local_score.
std::shared_ptr<Attention> make_inner_score(const AttentionOptions& options, const std::string& who) {
    if (options.window < 1) fail("{}: window (D) must be at least 1, got {}", who, options.window);
    if (options.local_score == AttentionKind::LocalM || options.local_score == AttentionKind::LocalP)
        fail("{}: local_score must be a plain score (additive, dot, general, ...), got {}", who,
             attention_kind_name(options.local_score));
    AttentionOptions inner = options;
    inner.kind = options.local_score;
    return make_attention(inner);
}
}  // namespace

LocalMAttention::LocalMAttention(const AttentionOptions& options) : Attention(options) {
    score = register_module("score", make_inner_score(options, label()));
}

Tensor LocalMAttention::project_keys(const Tensor& keys) const { return score->project_keys(keys); }

Tensor LocalMAttention::scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const {
    return score->scores(query, keys, projected);
}

Tensor LocalMAttention::window_keep(const Tensor& keep, std::int64_t t) const {
    const std::int64_t B = keep.size(0), S = keep.size(1), D = options_.window;
    const std::vector<double> k = keep.to_vector();
    std::vector<double> out(k.size(), 0.0);
    for (std::int64_t b = 0; b < B; ++b) {
        std::int64_t length = 0;  // S_b, the row's real length
        for (std::int64_t s = 0; s < S; ++s) length += k[b * S + s] != 0.0;
        const std::int64_t centre = std::min(t, length - 1);  // p_t = min(t, S_b - 1)
        for (std::int64_t s = 0; s < S; ++s)
            out[b * S + s] = (k[b * S + s] != 0.0 && std::abs(s - centre) <= D) ? 1.0 : 0.0;
    }
    return Tensor::from(out, keep.shape(), {.dtype = keep.dtype()});
}

Tensor LocalMAttention::weights(const Tensor& e, const Tensor& keep, const Tensor&, const AttendContext& ctx) const {
    if (ctx.target_position < 0)
        fail("{}: needs the decoder step t: pass AttendContext{{.target_position = t}} (got {})", label(),
             ctx.target_position);
    Tensor in_window = window_keep(keep, ctx.target_position);  // [B, S]
    check_rows(in_window, fmt::format(" inside its window of ±{} around min(t = {}, S_b - 1)", options_.window,
                                      ctx.target_position));
    return masked_softmax(e, in_window);
}

LocalPAttention::LocalPAttention(const AttentionOptions& options) : Attention(options) {
    score = register_module("score", make_inner_score(options, label()));
    if (options.attention_size <= 0)
        fail("{}: attention_size (the width of W_p) must be positive, got {}", label(), options.attention_size);
    const std::int64_t A = options.attention_size;
    W_p = register_module("W_p", std::make_shared<Linear>(LinearOptions{.in_features = options.query_size,
                                                                        .out_features = A,
                                                                        .bias = false,
                                                                        .dtype = options.dtype,
                                                                        .generator = options.generator}));
    v_p = Tensor::empty({A}, options.dtype);
    init::uniform_(v_p, -1.0 / std::sqrt(double(A)), 1.0 / std::sqrt(double(A)), options.generator);
    register_parameter("v_p", v_p);
}

Tensor LocalPAttention::project_keys(const Tensor& keys) const { return score->project_keys(keys); }

Tensor LocalPAttention::scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const {
    return score->scores(query, keys, projected);
}

// p_t = S_b · sigmoid(v_pᵀ tanh(W_p q))      query [B, Hq], keep [B, S] -> [B]
Tensor LocalPAttention::predict_centre(const Tensor& query, const Tensor& keep) const {
    Tensor lengths = sum(keep, {1});                                            // S_b: [B]
    Tensor z = squeeze(matmul(tanh(W_p->forward(query)), unsqueeze(v_p, 1)), 1);  // [B, A] x [A, 1] -> [B]
    return lengths * sigmoid(z);
}

Tensor LocalPAttention::weights(const Tensor& e, const Tensor& keep, const Tensor& query, const AttendContext&) const {
    const std::int64_t S = e.size(1);
    const double D = static_cast<double>(options_.window), sigma = D / 2.0;
    Tensor p = predict_centre(query, keep);                                        // [B]
    Tensor distance = arange(S, {.dtype = e.dtype()}) - unsqueeze(p, 1);           // s - p_t: [S] - [B, 1] -> [B, S]
    Tensor in_window = keep * (1.0 - gt(abs(distance.detach()), D));              // real and |s - p_t| <= D
    check_rows(in_window, fmt::format(" inside its window of ±{} around the predicted centre", options_.window));
    Tensor gauss = exp(distance * distance * (-1.0 / (2.0 * sigma * sigma)));      // exp(-(s - p_t)² / 2σ²)
    return masked_softmax(e, in_window) * gauss;
}

// ---- the gradcheck cases `seqgrad gradcheck` runs (layers/gradcheck_cases.h) --------------------

namespace {
// One case per kind of the table: a batch of two whose second sentence ends in padding, at decoder
// step 1 (local-m's window needs a step), checking the context and the weights.
[[maybe_unused]] const bool attention_cases = [] {
    for (const std::string& kind : attention_kind_names())
        register_gradcheck_case("Attention(" + kind + ")", [kind] {
            Generator g(9);
            auto m = make_attention({.kind = parse_attention_kind(kind), .query_size = 3, .key_size = 3,
                                     .attention_size = 3, .window = 1, .max_source_len = 4, .dtype = DType::Float64,
                                     .generator = &g});
            const Tensor mask = Tensor::from({1, 1, 1, 1, 1, 1, 1, 0}, {2, 4}, {.dtype = DType::Float64});
            return check_layer(*m, {gradcheck_input({2, 3}, g), gradcheck_input({2, 4, 3}, g)},
                               [&, m](const std::vector<Tensor>& x) {
                                   AttentionOutput o = m->attend(x[0], x[1], x[1], mask, {.target_position = 1});
                                   return cat({o.context, o.weights}, 1);
                               });
        });
    return true;
}();
}  // namespace

}  // namespace seqgrad::nn
