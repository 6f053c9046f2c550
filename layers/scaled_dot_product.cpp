// Scaled dot-product attention from core ops (see the header for the equations and the masks).
#include "layers/scaled_dot_product.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/fused_ops.h"
#include "core/ops.h"
#include "layers/attention.h"

namespace seqgrad::nn {

// e = Q Kᵀ / √d: dividing by √d keeps the scores' variance near 1 whatever the head size, so the
// softmax does not saturate (for q, k with unit-variance entries, q·k has variance d).
Tensor scaled_dot_scores(const Tensor& q, const Tensor& k) {
    const double d = static_cast<double>(q.size(-1));
    return matmul(q, k, {.transpose_rhs = true}) / std::sqrt(d);  // [N, T, d] x [N, S, d]ᵀ -> [N, T, S]
}

Tensor attention_keep(std::int64_t B, std::int64_t H, std::int64_t T, std::int64_t S, const Tensor& key_padding_mask,
                      bool causal, DType dtype, const char* who) {
    if (!key_padding_mask.defined() && (!causal || T == 0)) return Tensor();
    const std::vector<double> pad = key_padding_mask.defined() ? key_padding_mask.to_vector() : std::vector<double>();
    const std::int64_t offset = S - T;  // the queries are the last T of S positions
    std::vector<double> row_keep(static_cast<std::size_t>(B * T * S));
    for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t t = 0; t < T; ++t) {
            bool any = false;
            for (std::int64_t s = 0; s < S; ++s) {
                const bool real = pad.empty() || pad[b * S + s] != 0.0;
                const bool visible = !causal || s <= t + offset;
                row_keep[(b * T + t) * S + s] = real && visible ? 1.0 : 0.0;
                any = any || (real && visible);
            }
            if (!any)
                fail("{}: query position {} of row {} has every key position masked (key_padding_mask {}{})", who, t, b,
                     key_padding_mask.defined() ? shape_str(key_padding_mask.shape()) : "none",
                     causal ? ", causal" : "");
        }
    // The same keep for every head: written out as [B, H, T, S] so the softmax sees one shape.
    std::vector<double> keep(static_cast<std::size_t>(B * H * T * S));
    for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t h = 0; h < H; ++h)
            std::copy_n(row_keep.begin() + b * T * S, T * S, keep.begin() + (b * H + h) * T * S);
    return Tensor::from(keep, {B, H, T, S}, {.dtype = dtype});
}

ScaledDotProductOutput scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                                    const ScaledDotProductOptions& o) {
    const char* who = o.who;
    check_defined(who, q, "query");
    check_defined(who, k, "key");
    check_defined(who, v, "value");
    if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4 || k.size(0) != q.size(0) || v.size(0) != q.size(0) ||
        k.size(1) != q.size(1) || v.size(1) != q.size(1) || k.size(3) != q.size(3) || v.size(2) != k.size(2))
        fail("{}: expects query [B, H, T, d], key [B, H, S, d] and value [B, H, S, dv]; got query {}, key {}, value {}",
             who, shape_str(q.shape()), shape_str(k.shape()), shape_str(v.shape()));
    check_same_dtype(who, q, k);
    check_same_dtype(who, q, v);
    const std::int64_t B = q.size(0), H = q.size(1), T = q.size(2), d = q.size(3), S = k.size(2), dv = v.size(3);
    if (o.key_padding_mask.defined() && o.key_padding_mask.shape() != Shape{B, S})
        fail("{}: key_padding_mask must be [B, S] = [{}, {}] to match key {}, got {}", who, B, S, shape_str(k.shape()),
             shape_str(o.key_padding_mask.shape()));
    if (S == 0) fail("{}: no key positions: key {}", who, shape_str(k.shape()));

    // Fold the heads into the batch: [B, H, L, x] -> [B·H, L, x] (a view: heads are contiguous rows).
    Tensor Q = reshape(q, {B * H, T, d}), K = reshape(k, {B * H, S, d}), V = reshape(v, {B * H, S, dv});
    Tensor e = reshape(scaled_dot_scores(Q, K), {B, H, T, S});  // [B, H, T, S]

    Tensor keep = attention_keep(B, H, T, S, o.key_padding_mask, o.causal, q.dtype(), who);
    Tensor alpha = keep.defined() ? masked_softmax(e, keep) : softmax(e, -1);  // [B, H, T, S]
    Tensor dropped = dropout(alpha, o.dropout, o.training, o.generator);

    Tensor out;  // α V: [B·H, T, S] x [B·H, S, dv] -> [B·H, T, dv]
    if (fast_paths_enabled() && T == 1)
        out = attention_context_fused(reshape(dropped, {B * H, S}), V);  // one loop, not B·H one-row gemms
    else
        out = matmul(reshape(dropped, {B * H, T, S}), V);
    return ScaledDotProductOutput{.output = reshape(out, {B, H, T, dv}), .weights = alpha, .scores = e};
}

}  // namespace seqgrad::nn
