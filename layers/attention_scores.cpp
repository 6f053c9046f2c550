// The score functions, each its equation written with the ops of core/ops.h (see the header for
// the equations and docs/backprop-through-attention.md for their backward passes). Shapes:
// query [B, Hq], keys [B, S, Hk], scores [B, S].
#include "layers/attention_scores.h"

#include <cmath>

#include "core/fused_ops.h"
#include "core/ops.h"
#include "layers/init.h"
#include "layers/scaled_dot_product.h"

namespace seqgrad::nn {

namespace {
std::shared_ptr<Linear> make_linear(const AttentionOptions& o, std::int64_t in, std::int64_t out, bool bias) {
    return std::make_shared<Linear>(
        LinearOptions{.in_features = in, .out_features = out, .bias = bias, .dtype = o.dtype, .generator = o.generator});
}

// A score vector v [A], initialised like the weight of a Linear(A, 1): U(-1/√A, 1/√A).
Tensor make_score_vector(const AttentionOptions& o, std::int64_t A) {
    Tensor v = Tensor::empty({A}, o.dtype);
    const double bound = 1.0 / std::sqrt(static_cast<double>(A));
    init::uniform_(v, -bound, bound, o.generator);
    return v;
}

// x [B, S, H] · q [B, H] for every s -> [B, S]: a batched matmul [B, S, H] x [B, H, 1].
Tensor dot_each_position(const Tensor& x, const Tensor& q) { return squeeze(matmul(x, unsqueeze(q, 2)), 2); }

// vᵀ t_s for every s: t [B, S, A] x v [A, 1] -> [B, S]
Tensor project_on(const Tensor& t, const Tensor& v) { return squeeze(matmul(t, unsqueeze(v, 1)), 2); }

void require_positive(const Attention& a, const char* what, std::int64_t value) {
    if (value <= 0) fail("{}: {} must be positive, got {}", a.label(), what, value);
}

void require_equal_sizes(const Attention& a) {
    const auto& o = a.options();
    if (o.query_size != o.key_size)
        fail("{}: needs query_size == key_size (qᵀk), got query_size={}, key_size={}; use general or additive "
             "attention for different sizes",
             a.label(), o.query_size, o.key_size);
}
}  // namespace

// ---- additive (Bahdanau) --------------------------------------------------------------------------

AdditiveAttention::AdditiveAttention(const AttentionOptions& o) : Attention(o) {
    require_positive(*this, "attention_size", o.attention_size);
    W_query = register_module("W_query", make_linear(o, o.query_size, o.attention_size, /*bias=*/true));
    W_key = register_module("W_key", make_linear(o, o.key_size, o.attention_size, /*bias=*/false));
    v = register_parameter("v", make_score_vector(o, o.attention_size));
}

// W_key k_s: [B, S, Hk] -> [B, S, A]
Tensor AdditiveAttention::project_keys(const Tensor& keys) const { return W_key->forward(keys); }

// e_s = vᵀ tanh(W_query q + W_key k_s)
Tensor AdditiveAttention::scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const {
    Tensor kp = projected.defined() ? projected : project_keys(keys);  // [B, S, A]
    Tensor qp = W_query->forward(query);                                // [B, A]
    // The fused op does the next two lines in one node (core/fused_ops.h), tested against them.
    if (fast_paths_enabled()) return additive_scores_fused(qp, kp, v);
    Tensor t = tanh(unsqueeze(qp, 1) + kp);  // [B, 1, A] + [B, S, A]: the query is broadcast over positions
    return project_on(t, v);                 // [B, S]
}

// ---- dot and scaled dot-product -------------------------------------------------------------------

DotAttention::DotAttention(const AttentionOptions& o) : Attention(o) { require_equal_sizes(*this); }

// e_s = qᵀ k_s
Tensor DotAttention::scores(const Tensor& query, const Tensor& keys, const Tensor&) const {
    return dot_each_position(keys, query);
}

ScaledDotAttention::ScaledDotAttention(const AttentionOptions& o) : Attention(o) { require_equal_sizes(*this); }

// e_s = qᵀ k_s / √d (scaled_dot_scores): keeps the scores' variance near 1 so the softmax does not saturate
Tensor ScaledDotAttention::scores(const Tensor& query, const Tensor& keys, const Tensor&) const {
    return squeeze(scaled_dot_scores(unsqueeze(query, 1), keys), 1);  // [B, 1, Hk] x [B, S, Hk]ᵀ -> [B, S]
}

// The whole step through scaled_dot_product_attention: B sentences, 1 head, 1 query, S keys.
AttentionOutput ScaledDotAttention::attend_checked(const Tensor& query, const Tensor& keys, const Tensor& values,
                                                   const Tensor& keep, const Tensor&, const AttendContext&) const {
    const std::int64_t B = keys.size(0), S = keys.size(1);
    const std::string who = label();
    ScaledDotProductOutput r = scaled_dot_product_attention(
        reshape(query, {B, 1, 1, query.size(1)}), unsqueeze(keys, 1), unsqueeze(values, 1),
        {.key_padding_mask = keep, .who = who.c_str()});
    return AttentionOutput{.context = reshape(r.output, {B, values.size(2)}),
                           .weights = reshape(r.weights, {B, S}),
                           .scores = reshape(r.scores, {B, S})};
}

// ---- general --------------------------------------------------------------------------------------

GeneralAttention::GeneralAttention(const AttentionOptions& o) : Attention(o) {
    W_a = register_module("W_a", make_linear(o, o.key_size, o.query_size, /*bias=*/false));
}

// W_a k_s: [B, S, Hk] -> [B, S, Hq]
Tensor GeneralAttention::project_keys(const Tensor& keys) const { return W_a->forward(keys); }

// e_s = qᵀ (W_a k_s)
Tensor GeneralAttention::scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const {
    Tensor kp = projected.defined() ? projected : project_keys(keys);  // [B, S, Hq]
    return dot_each_position(kp, query);
}

// ---- concat ---------------------------------------------------------------------------------------

ConcatAttention::ConcatAttention(const AttentionOptions& o) : Attention(o) {
    require_positive(*this, "attention_size", o.attention_size);
    W_a = register_module("W_a", make_linear(o, o.query_size + o.key_size, o.attention_size, /*bias=*/false));
    v_a = register_parameter("v_a", make_score_vector(o, o.attention_size));
}

// The keys' half of W_a [q; k_s]: W_a[:, Hq:] k_s, [B, S, Hk] -> [B, S, A]
Tensor ConcatAttention::project_keys(const Tensor& keys) const {
    return linear(keys, narrow(W_a->weight, 1, options_.query_size, options_.key_size));
}

// e_s = v_aᵀ tanh(W_a [q; k_s])
Tensor ConcatAttention::scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const {
    const std::int64_t B = keys.size(0), S = keys.size(1), Hq = options_.query_size;
    Tensor pre;  // W_a [q; k_s]: [B, S, A]
    if (projected.defined()) {
        // Split form: W_a[:, :Hq] q + W_a[:, Hq:] k_s, the keys' half prepared once.
        Tensor qp = linear(query, narrow(W_a->weight, 1, 0, Hq));  // [B, A]
        pre = unsqueeze(qp, 1) + projected;                         // [B, 1, A] + [B, S, A]
    } else {
        // As written: copy q next to every key and apply W_a to the concatenation.
        Tensor q_each = expand(unsqueeze(query, 1), {B, S, Hq});  // [B, S, Hq]
        pre = W_a->forward(cat({q_each, keys}, 2));                // [B, S, Hq + Hk] -> [B, S, A]
    }
    return project_on(tanh(pre), v_a);
}

// ---- location -------------------------------------------------------------------------------------

LocationAttention::LocationAttention(const AttentionOptions& o) : Attention(o) {
    require_positive(*this, "max_source_len", o.max_source_len);
    W_a = register_module("W_a", make_linear(o, o.query_size, o.max_source_len, /*bias=*/false));
}

// e = (W_a q)[:S]: one score per source position, from the query alone
Tensor LocationAttention::scores(const Tensor& query, const Tensor& keys, const Tensor&) const {
    const std::int64_t S = keys.size(1);
    if (S > options_.max_source_len)
        fail("{}: keys {} have {} source positions but max_source_len is {}", label(), shape_str(keys.shape()), S,
             options_.max_source_len);
    return narrow(W_a->forward(query), 1, 0, S);  // [B, max_source_len] -> [B, S]
}

// ---- cosine ---------------------------------------------------------------------------------------

CosineAttention::CosineAttention(const AttentionOptions& o) : Attention(o) {
    require_equal_sizes(*this);
    if (!(o.temperature > 0.0)) fail("{}: temperature must be positive, got {}", label(), o.temperature);
    if (o.learn_temperature) temperature = register_parameter("temperature", full({1}, o.temperature, {.dtype = o.dtype}));
}

namespace {
// x / ‖x‖ along dim, ‖x‖ = sqrt(Σ x² + eps)
Tensor unit(const Tensor& x, std::int64_t dim, double eps) { return x / sqrt(sum(x * x, {dim}, true) + eps); }
}  // namespace

// k_s / ‖k_s‖: [B, S, Hk]
Tensor CosineAttention::project_keys(const Tensor& keys) const { return unit(keys, 2, kNormEps); }

// e_s = (q / ‖q‖)ᵀ (k_s / ‖k_s‖) / τ
Tensor CosineAttention::scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const {
    Tensor kn = projected.defined() ? projected : project_keys(keys);  // [B, S, H]
    Tensor cosine = dot_each_position(kn, unit(query, 1, kNormEps));    // [B, S], each in [-1, 1]
    return temperature.defined() ? cosine / temperature : cosine / options_.temperature;
}

// ---- the table of kinds ---------------------------------------------------------------------------
// Each kind's name and class: the one list the factory, the command line's allowed values, the
// experiments, `seqgrad gradcheck` and the tests read (through attention_kind_names()). A new score
// is its enum value (layers/attention.h), its class above, and its row here.

namespace {
template <class Variant>
std::shared_ptr<Attention> build(const AttentionOptions& options) {
    return std::make_shared<Variant>(options);
}

struct KindRow {
    AttentionKind kind;
    const char* name;
    std::shared_ptr<Attention> (*make)(const AttentionOptions&);
};

constexpr KindRow kKinds[] = {
    {AttentionKind::Additive, "additive", build<AdditiveAttention>},
    {AttentionKind::Dot, "dot", build<DotAttention>},
    {AttentionKind::General, "general", build<GeneralAttention>},
    {AttentionKind::Concat, "concat", build<ConcatAttention>},
    {AttentionKind::Location, "location", build<LocationAttention>},
    {AttentionKind::ScaledDot, "scaled-dot", build<ScaledDotAttention>},
    {AttentionKind::Cosine, "cosine", build<CosineAttention>},
    {AttentionKind::LocalM, "local-m", build<LocalMAttention>},
    {AttentionKind::LocalP, "local-p", build<LocalPAttention>},
};

const KindRow* find_row(AttentionKind kind) {
    for (const KindRow& row : kKinds)
        if (row.kind == kind) return &row;
    return nullptr;
}
}  // namespace

AttentionKind parse_attention_kind(std::string_view name) {
    for (const KindRow& row : kKinds)
        if (name == row.name) return row.kind;
    fail("attention: unknown attention kind '{}'; valid kinds: {}", name, fmt::join(attention_kind_names(), ", "));
}

std::vector<std::string> attention_kind_names() {
    std::vector<std::string> names;
    for (const KindRow& row : kKinds) names.emplace_back(row.name);
    return names;
}

const char* attention_kind_name(AttentionKind kind) {
    if (const KindRow* row = find_row(kind)) return row->name;
    fail("attention: invalid AttentionKind value {}", static_cast<int>(kind));
}

std::shared_ptr<Attention> make_attention(const AttentionOptions& options) {
    if (const KindRow* row = find_row(options.kind)) return row->make(options);
    fail("make_attention: invalid AttentionKind value {}", static_cast<int>(options.kind));
}

}  // namespace seqgrad::nn
