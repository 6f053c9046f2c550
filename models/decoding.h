// Decoding, written once for every TranslationModel through its StepDecoder: greedy (one sentence
// or a whole batch at once), beam search, and trace_step, which replays a translation up to one
// step with the graph kept so its gradients can be read (`seqgrad inspect`, `seqgrad graph`).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "models/translation_model.h"

namespace seqgrad::models {

// GNMT's length penalty (Wu et al. 2016): lp(len) = ((5 + len) / 6)^alpha, len counting <eos>. A
// hypothesis's score is log_prob / lp(len); alpha = 0 ranks by log-probability alone, a larger alpha
// favours longer output.
constexpr double kDefaultLengthPenalty = 0.6;
double length_penalty(std::size_t len, double alpha);

// One step's cross-attention of every layer and head: [layer][head][S].
using LayerAttention = std::vector<std::vector<std::vector<float>>>;

struct Hypothesis {
    std::vector<std::int64_t> ids;              // without <sos>/<eos>
    std::vector<std::vector<float>> attention;  // [len(ids)+1][S] incl. the <eos> step (empty without attention)
    // [len(ids)+1] steps of LayerAttention, kept when asked (DecodeOptions::layer_attention) and the
    // model reports DecoderStep::layer_weights (the Transformer); else empty.
    std::vector<LayerAttention> layer_attention;
    double log_prob = 0;
    double score = 0;  // log_prob / length_penalty(len(ids) + 1, alpha)
    bool ended = false;  // ends with <eos> (not cut at max_len)
};

// How to decode: beam 1 is greedy; n_best <= beam hypotheses are returned, best first.
struct DecodeOptions {
    std::int64_t beam = 1;
    std::int64_t n_best = 1;
    double length_penalty = kDefaultLengthPenalty;  // alpha
    std::int64_t max_len = 0;                       // 0: the caller's default (Translator: 2 * source + 10)
    bool layer_attention = false;                   // fill Hypothesis::layer_attention
};

// Each row's greedy choice among logits [B, V] (argmax: the first maximum) and its log-probability
// (log_softmax at that position). Float32 rows take one max pass and one exp-sum pass, log p =
// -log sum exp(x - max), without a [B, V] tensor of log-probabilities; other dtypes, rows with NaN or
// infinite logits, and set_fast_paths(false) take log_softmax and argmax.
struct GreedyChoices {
    std::vector<std::int64_t> ids;
    std::vector<double> log_probs;
};
GreedyChoices greedy_choices(const Tensor& logits);

// Greedy decoding of one source sentence (ids without specials) under NoGradGuard.
Hypothesis greedy(const TranslationModel& model, const std::vector<std::int64_t>& src, std::int64_t max_len);
// Greedy decoding of a whole batch at once (faster evaluation); the same result row by row. `alpha`
// only sets Hypothesis::score.
std::vector<Hypothesis> greedy_batch(const TranslationModel& model, const std::vector<std::vector<std::int64_t>>& srcs,
                                     std::int64_t max_len, double alpha = kDefaultLengthPenalty,
                                     bool layer_attention = false);
// Beam search: keep the `beam` best partial hypotheses by total log-probability; finished ones are
// ranked by score (log_prob / length_penalty). Returns the best.
Hypothesis beam_search(const TranslationModel& model, const std::vector<std::int64_t>& src, std::int64_t beam,
                       std::int64_t max_len, double length_alpha = kDefaultLengthPenalty);
// The options' n_best best hypotheses of a beam search of options.beam (fewer only when the search
// found fewer), best first; beam 1 with n_best 1 is greedy. options.max_len must be set.
std::vector<Hypothesis> decode_n_best(const TranslationModel& model, const std::vector<std::int64_t>& src,
                                      const DecodeOptions& options);

// One decoder step of one sentence with the graph kept (grad mode on): the source is encoded, the
// decoder is fed <sos> and then prefix[0..step-1] (the tokens before y_step), and step `step` is
// returned with its decoder, whose memory() reaches back into the encoder.
struct TracedStep {
    std::unique_ptr<StepDecoder> decoder;
    DecoderStep step;
};
TracedStep trace_step(const TranslationModel& model, const std::vector<std::int64_t>& src,
                      const std::vector<std::int64_t>& prefix, std::int64_t step);

}  // namespace seqgrad::models
