// Stochastic hard attention (Xu et al. 2015, "Show, Attend and Tell", section 4.1): instead of the
// soft average c = Σ_s α_s v_s, each row of the batch looks at ONE source position,
//   s ~ Categorical(α),   c = v_s,   α = masked_softmax(e)   e = the wrapped soft score (additive, ...)
// so the weights it returns are a one-hot row. In eval mode s = argmax_s α_s (no sampling).
//
// Sampling has no derivative, so the score's parameters (and everything upstream of the scores:
// the query, the keys) cannot learn through the loss. They learn by REINFORCE, the score-function
// estimator (Williams 1992): for a reward r that depends on the sampled positions,
//   ∇ E[r] = E[ r · ∇ log p(s) ]          p(s) = Π_t α_{t, s_t}  (the positions of every decoder step)
// and subtracting a baseline b that does not depend on the current sample keeps it unbiased while
// cutting its variance: ĝ = (r − b) · Σ_t ∇ log α_{t, s_t}.
//
// How it is used: every attend() in training mode with grad mode on records log α_{t, s_t} [B]
// (with its graph) for its step t. After the forward pass the caller computes a reward per sentence
// (e.g. −loss, detached) and adds reinforce_surrogate(reward) to its loss:
//   surrogate = −(1/B) Σ_b (r_b − b) · Σ_t m_{b,t} log α_{t, b, s_{b,t}}       (a scalar)
// whose gradient is minus the estimator averaged over the batch (minimising the loss ascends the
// reward; score_function_surrogate of layers/reinforce.h, shared with the Gaussian glimpse policy).
// m is an optional step mask [B, T] (0 at a padded target step, whose sample affects nothing). The
// baseline b is a moving average of the mean reward of earlier batches, kept as a buffer: it is read
// BEFORE it is updated with the current rewards, so it never depends on the current samples and the
// estimator stays unbiased.
//
// The sampled log-probabilities are scratch state of one forward pass, like the engine's pending
// gradients: attend() is const (the interface of every attention) and records into mutable members.
// reinforce_surrogate() and clear_record() empty the record.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/random.h"
#include "layers/attention.h"

namespace seqgrad::nn {

struct HardAttentionOptions {
    // The soft score whose weights α are sampled from: any plain kind (additive, dot, general, concat,
    // location, scaled-dot, cosine); local-m and local-p are a ShapeError (their window is a weighting,
    // not a score). Sizes, dtype and the initialisation generator are the score's.
    AttentionOptions score;
    double baseline_decay = 0.9;  // b ← decay · b + (1 − decay) · mean(reward); the first update sets b = mean(reward)
    std::uint64_t seed = 0;       // the sampler's own generator (reseed with sampler().manual_seed)
};

struct ReinforceOptions {
    Tensor step_mask;             // [B, T] 1 = the step counts, 0 = skip it (padding); undefined: all steps count
    bool update_baseline = true;  // false holds b fixed (gradcheck calls the surrogate many times)
};

// log α_s for one chosen position s per row:
//   scores e [B, S], keep [B, S] (1 = real), positions int64 [B] -> [B]
//   log α_s = e_s − logsumexp_{real s'} e_{s'}
// Backward (from autograd through log_softmax and gather): de_j = dy · (1[j = s] − α_j), 0 at padding.
// Throws ShapeError for mismatched shapes and IndexError for a position outside [0, S) or at padding.
Tensor sampled_log_prob(const Tensor& scores, const Tensor& keep, const Tensor& positions);

class HardAttention : public Attention {
public:
    explicit HardAttention(const HardAttentionOptions& options);
    std::string type_name() const override { return "HardAttention"; }

    // The wrapped score's two steps (see Attention): prepared keys and e [B, S] are the score's own.
    Tensor project_keys(const Tensor& keys) const override;
    Tensor scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const override;

    // reward [B] (any float dtype, detached: it is a constant of the estimator) -> the scalar
    //   −(1/B) Σ_b (r_b − b) Σ_t m_{b,t} log α_{t, b, s_{b,t}}
    // over the steps recorded since the last call; then updates the baseline (unless told not to) and
    // clears the record. Throws Error when nothing was recorded, ShapeError for a reward that is not
    // [B] or a step mask that is not [B, T] (T = recorded steps).
    Tensor reinforce_surrogate(const Tensor& reward, const ReinforceOptions& options = {});

    // How many attend() steps are recorded, and their log α_{t, s_t} [B] each.
    std::size_t recorded_steps() const { return log_probs_.size(); }
    const std::vector<Tensor>& recorded_log_probs() const { return log_probs_; }
    void clear_record() const { log_probs_.clear(); }

    // The baseline b, and how many times it has been updated.
    double baseline() const;
    std::int64_t baseline_updates() const;
    void set_baseline(double value, std::int64_t updates = 1);

    // The generator that draws the positions.
    Generator& sampler() const { return sampler_; }
    const HardAttentionOptions& hard_options() const { return hard_options_; }

    std::shared_ptr<Attention> score;  // the wrapped soft score, registered as "score"

protected:
    // scores e [B, S], keep [B, S] -> one-hot weights [B, S] (no gradient): s ~ Categorical(α) per row
    // in training mode, s = argmax α in eval mode. Records log α_s when training with grad mode on.
    Tensor weights(const Tensor& scores, const Tensor& keep, const Tensor& query,
                   const AttendContext& ctx) const override;

private:
    HardAttentionOptions hard_options_;
    Tensor baseline_;          // buffer [1]: b
    Tensor baseline_updates_;  // buffer [1]: how many batches b has averaged (0: b not yet set)
    mutable Generator sampler_;
    mutable std::vector<Tensor> log_probs_;  // per recorded step: log α_{t, s_t} [B], with its graph
};

}  // namespace seqgrad::nn
