// Stochastic hard attention: sampling one position per row, the argmax in eval mode, the recorded
// log-probabilities and the REINFORCE surrogate with a moving-average baseline (see the header for
// the estimator and why it is unbiased).
#include "layers/hard_attention.h"

#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/ops.h"
#include "layers/reinforce.h"

namespace seqgrad::nn {

namespace {
// Below any real score: masked positions get α = 0 (as in masked_softmax, layers/attention.cpp).
constexpr double kMaskedScore = -1e30;

std::string who(const AttentionOptions& score) {
    return fmt::format("hard attention ({} score)", attention_kind_name(score.kind));
}
}  // namespace

// log α_s = log_softmax(masked_fill(e, keep == 0, -1e30))[b, s_b]      e, keep [B, S], s int64 [B] -> [B]
//   de_j = dy · (1[j = s] − α_j)   (log_softmax's backward: g − α Σ g, with g the one-hot from gather;
//                                   masked_fill passes nothing to padding)
Tensor sampled_log_prob(const Tensor& scores, const Tensor& keep, const Tensor& positions) {
    const char* op = "sampled_log_prob";
    check_defined(op, scores, "scores");
    check_defined(op, keep, "keep");
    check_defined(op, positions, "positions");
    if (scores.dim() != 2 || keep.shape() != scores.shape())
        fail("{}: scores and keep must both be [B, S], got scores {} vs keep {}", op, shape_str(scores.shape()),
             shape_str(keep.shape()));
    const std::int64_t B = scores.size(0), S = scores.size(1);
    if (positions.dtype() != DType::Int64 || positions.shape() != Shape{B})
        fail("{}: positions must be int64 [B] = [{}] to match scores {}, got {} {}", op, B, shape_str(scores.shape()),
             dtype_name(positions.dtype()), shape_str(positions.shape()));
    const auto pos = positions.to_ids();
    const auto k = keep.to_vector();
    for (std::int64_t b = 0; b < B; ++b) {
        if (pos[b] < 0 || pos[b] >= S)
            fail<IndexError>("{}: row {} picks position {} outside [0, {}) (scores {})", op, b, pos[b], S,
                             shape_str(scores.shape()));
        if (k[b * S + pos[b]] == 0.0)
            fail<IndexError>("{}: row {} picks position {}, which is padding (keep is 0 there)", op, b, pos[b]);
    }
    Tensor log_alpha = log_softmax(masked_fill(scores, eq(keep, 0.0), kMaskedScore), -1);  // [B, S]
    return squeeze(gather(log_alpha, 1, reshape(positions, {B, 1})), 1);                // [B, 1] -> [B]
}

// ---- the layer ------------------------------------------------------------------------------------

HardAttention::HardAttention(const HardAttentionOptions& options)
    : Attention(options.score), hard_options_(options), sampler_(options.seed) {
    const AttentionKind kind = options.score.kind;
    if (kind == AttentionKind::LocalM || kind == AttentionKind::LocalP)
        fail("{}: the wrapped score must be a plain score (additive, dot, general, concat, location, scaled-dot, "
             "cosine), got {}",
             who(options.score), attention_kind_name(kind));
    if (!(options.baseline_decay >= 0.0 && options.baseline_decay < 1.0))
        fail("{}: baseline_decay must be in [0, 1), got {}", who(options.score), options.baseline_decay);
    score = register_module("score", make_attention(options.score));
    baseline_ = register_buffer("baseline", zeros({1}, {.dtype = options.score.dtype}));
    baseline_updates_ = register_buffer("baseline_updates", zeros({1}, {.dtype = options.score.dtype}));
}

Tensor HardAttention::project_keys(const Tensor& keys) const { return score->project_keys(keys); }

Tensor HardAttention::scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const {
    return score->scores(query, keys, projected);
}

// Training: s ~ Categorical(α) by the inverse CDF of one uniform draw per row. Eval: s = argmax e over
// real positions (argmax α, without the float32 underflow ties of α itself). Either way the weights
// are the constant one-hot rows, so the context v_s gets its gradient from the loss through the
// values only; the scores learn through the recorded log α_s.
Tensor HardAttention::weights(const Tensor& e, const Tensor& keep, const Tensor&, const AttendContext&) const {
    const std::int64_t B = e.size(0), S = e.size(1);
    const auto k = keep.to_vector();
    std::vector<std::int64_t> pos(static_cast<std::size_t>(B), 0);
    if (is_training()) {
        const auto alpha = masked_softmax(e.detach(), keep).to_vector();  // [B, S]
        for (std::int64_t b = 0; b < B; ++b) {
            const double u = sampler_.uniform();  // in [0, 1)
            double cumulative = 0;
            std::int64_t chosen = -1, last_real = 0;
            for (std::int64_t s = 0; s < S; ++s) {
                if (k[b * S + s] == 0.0) continue;
                last_real = s;
                cumulative += alpha[b * S + s];
                if (chosen < 0 && u < cumulative) chosen = s;
            }
            pos[b] = chosen >= 0 ? chosen : last_real;  // rounding left Σα a hair below u: the last real position
        }
    } else {
        const auto ev = e.to_vector();
        for (std::int64_t b = 0; b < B; ++b) {
            double best = -std::numeric_limits<double>::infinity();
            for (std::int64_t s = 0; s < S; ++s)
                if (k[b * S + s] != 0.0 && ev[b * S + s] > best) {
                    best = ev[b * S + s];
                    pos[b] = s;
                }
        }
    }
    const Tensor positions = Tensor::ids(pos, {B});
    if (is_training() && grad_enabled()) log_probs_.push_back(sampled_log_prob(e, keep, positions));
    std::vector<double> one_hot(static_cast<std::size_t>(B * S), 0.0);
    for (std::int64_t b = 0; b < B; ++b) one_hot[b * S + pos[b]] = 1.0;
    return Tensor::from(one_hot, {B, S}, {.dtype = e.dtype()});
}

// surrogate = −(1/B) Σ_b (r_b − b) Σ_t m_{b,t} log α_{t, b, s_{b,t}}
//   d/dθ surrogate = −(1/B) Σ_b (r_b − b) Σ_t m_{b,t} ∇θ log α_{t, b, s_{b,t}}   (r, b, m constants)
// logp [B, T] = the recorded steps stacked; the backward comes from autograd through stack, mul, sum.
Tensor HardAttention::reinforce_surrogate(const Tensor& reward, const ReinforceOptions& options) {
    const std::string name = who(hard_options_.score);
    if (log_probs_.empty())
        fail<Error>("{}: reinforce_surrogate: no sampled steps are recorded; call attend() in training mode with "
                    "grad mode on first (eval mode and NoGradGuard record nothing)",
                    name);
    check_defined(name.c_str(), reward, "reward");
    const std::int64_t B = log_probs_.front().size(0), T = static_cast<std::int64_t>(log_probs_.size());
    if (!is_floating(reward.dtype()) || reward.shape() != Shape{B})
        fail("{}: reinforce_surrogate: reward must be a float [B] = [{}] (one per row of the recorded steps [{}, {}]), "
             "got {} {}",
             name, B, B, T, dtype_name(reward.dtype()), shape_str(reward.shape()));
    Tensor logp = stack(log_probs_, 1);  // [B, T]
    if (options.step_mask.defined()) {
        if (options.step_mask.shape() != Shape{B, T})
            fail("{}: reinforce_surrogate: step_mask must be [B, T] = [{}, {}] (the recorded steps), got {}", name, B,
                 T, shape_str(options.step_mask.shape()));
        logp = logp * options.step_mask.detach().to(logp.dtype());
    }
    Tensor total = sum(logp, {1});  // Σ_t log α_{t, s_t}: [B]

    const double b = baseline();
    const auto r = reward.to_vector();
    std::vector<double> advantage(r.size());
    double mean_reward = 0;
    for (std::size_t i = 0; i < r.size(); ++i) {
        advantage[i] = r[i] - b;
        mean_reward += r[i] / static_cast<double>(r.size());
    }
    Tensor surrogate = score_function_surrogate(total, Tensor::from(advantage, {B}, {.dtype = logp.dtype()}));

    if (options.update_baseline) {
        // Updated after use: the b above came from earlier batches only.
        const std::int64_t n = baseline_updates();
        const double d = hard_options_.baseline_decay;
        set_baseline(n == 0 ? mean_reward : d * b + (1.0 - d) * mean_reward, n + 1);
    }
    log_probs_.clear();
    return surrogate;
}

double HardAttention::baseline() const { return baseline_.item(); }
std::int64_t HardAttention::baseline_updates() const { return static_cast<std::int64_t>(baseline_updates_.item()); }
void HardAttention::set_baseline(double value, std::int64_t updates) {
    baseline_.fill_(value);
    baseline_updates_.fill_(static_cast<double>(updates));
}

}  // namespace seqgrad::nn
