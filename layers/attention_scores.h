// The score functions of attention, one small class each: query [B, Hq] and keys [B, S, Hk] in,
// scores e [B, S] out. Attention::attend() (layers/attention.h) turns scores into weights and a
// context the same way for all of them, so each class here is only its equation. Build them with
// make_attention(); the equations, shapes, parameter names and initialisation are in docs/attention.md.
//
// Initialisation follows PyTorch's defaults: every projection is a Linear (W and b ~ U(±1/√fan_in)),
// and a score vector v [A] is initialised like the weight of a Linear(A, 1): U(±1/√A).
#pragma once
#include <memory>

#include "layers/attention.h"
#include "layers/linear.h"

namespace seqgrad::nn {

// Bahdanau et al. (2015), additive:  e_s = vᵀ tanh(W_query q + W_key k_s)
//   W_query [A, Hq] with bias, W_key [A, Hk] without (one bias is enough: they are added), v [A].
//   Prepared keys: W_key k_s [B, S, A].
class AdditiveAttention : public Attention {
public:
    explicit AdditiveAttention(const AttentionOptions& options);
    std::string type_name() const override { return "AdditiveAttention"; }
    Tensor project_keys(const Tensor& keys) const override;
    Tensor scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const override;

    std::shared_ptr<Linear> W_query;
    std::shared_ptr<Linear> W_key;
    Tensor v;  // [A]
};

// Luong et al. (2015), dot:  e_s = qᵀ k_s   (needs Hq == Hk; no parameters)
class DotAttention : public Attention {
public:
    explicit DotAttention(const AttentionOptions& options);
    std::string type_name() const override { return "DotAttention"; }
    Tensor scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const override;
};

// Vaswani et al. (2017), scaled dot-product:  e_s = qᵀ k_s / √Hk   (needs Hq == Hk; no parameters)
//   One query, one head of scaled_dot_product_attention (layers/scaled_dot_product.h), the function
//   MultiHeadAttention runs: attend() hands it q as [B, 1, 1, Hk] and the keys/values as one head.
class ScaledDotAttention : public Attention {
public:
    explicit ScaledDotAttention(const AttentionOptions& options);
    std::string type_name() const override { return "ScaledDotAttention"; }
    Tensor scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const override;

protected:
    AttentionOutput attend_checked(const Tensor& query, const Tensor& keys, const Tensor& values, const Tensor& keep,
                                   const Tensor& projected, const AttendContext& ctx) const override;
};

// Luong, general:  e_s = qᵀ W_a k_s   W_a [Hq, Hk] (a Linear from Hk to Hq, no bias).
//   Prepared keys: W_a k_s [B, S, Hq].
class GeneralAttention : public Attention {
public:
    explicit GeneralAttention(const AttentionOptions& options);
    std::string type_name() const override { return "GeneralAttention"; }
    Tensor project_keys(const Tensor& keys) const override;
    Tensor scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const override;

    std::shared_ptr<Linear> W_a;
};

// Luong, concat:  e_s = v_aᵀ tanh(W_a [q; k_s])   W_a [A, Hq + Hk] (no bias), v_a [A].
//   W_a [q; k_s] = W_a[:, :Hq] q + W_a[:, Hq:] k_s, so the keys' half can be prepared:
//   prepared keys W_a[:, Hq:] k_s [B, S, A]. Without them scores() concatenates, as in the equation.
class ConcatAttention : public Attention {
public:
    explicit ConcatAttention(const AttentionOptions& options);
    std::string type_name() const override { return "ConcatAttention"; }
    Tensor project_keys(const Tensor& keys) const override;
    Tensor scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const override;

    std::shared_ptr<Linear> W_a;
    Tensor v_a;  // [A]
};

// Luong, location:  e = W_a q   W_a [max_source_len, Hq] (no bias); the scores of a batch with S
// source positions are e's first S entries. The keys are not looked at (only their count S).
class LocationAttention : public Attention {
public:
    explicit LocationAttention(const AttentionOptions& options);
    std::string type_name() const override { return "LocationAttention"; }
    Tensor scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const override;

    std::shared_ptr<Linear> W_a;
};

// Cosine similarity:  e_s = qᵀ k_s / (‖q‖ ‖k_s‖ τ),  ‖x‖ = sqrt(Σ x² + 1e-8)
//   (needs Hq == Hk). The epsilon keeps an all-zero key (padding) finite. A cosine lies in [-1, 1],
//   too flat for a sharp softmax; the temperature τ < 1 sharpens it. τ is options.temperature, or
//   the parameter `temperature` [1] (starting at options.temperature) when options.learn_temperature.
//   Prepared keys: k_s / ‖k_s‖ [B, S, Hk].
class CosineAttention : public Attention {
public:
    explicit CosineAttention(const AttentionOptions& options);
    std::string type_name() const override { return "CosineAttention"; }
    Tensor project_keys(const Tensor& keys) const override;
    Tensor scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const override;

    Tensor temperature;  // [1] when learned; undefined when fixed (options().temperature is used)

private:
    static constexpr double kNormEps = 1e-8;
};

}  // namespace seqgrad::nn
