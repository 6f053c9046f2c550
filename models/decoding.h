// Decoding, written once for every TranslationModel through its StepDecoder: greedy (one sentence
// or a whole batch at once), beam search, and trace_step, which replays a translation up to one
// step with the graph kept so its gradients can be read (`seqgrad inspect`, `seqgrad graph`).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "models/translation_model.h"

namespace seqgrad::models {

struct Hypothesis {
    std::vector<std::int64_t> ids;              // without <sos>/<eos>
    std::vector<std::vector<float>> attention;  // [len(ids)+1][S] incl. the <eos> step (empty without attention)
    double log_prob = 0;
    bool ended = false;  // ends with <eos> (not cut at max_len)
};

// Greedy decoding of one source sentence (ids without specials) under NoGradGuard.
Hypothesis greedy(const TranslationModel& model, const std::vector<std::int64_t>& src, std::int64_t max_len);
// Greedy decoding of a whole batch at once (faster evaluation); the same result row by row.
std::vector<Hypothesis> greedy_batch(const TranslationModel& model, const std::vector<std::vector<std::int64_t>>& srcs,
                                     std::int64_t max_len);
// Beam search: keep the `beam` best partial hypotheses by total log-probability; a finished one is
// ranked by log_prob / ((5 + len) / 6)^alpha (the GNMT length penalty; alpha = 0: log-probability alone).
Hypothesis beam_search(const TranslationModel& model, const std::vector<std::int64_t>& src, std::int64_t beam,
                       std::int64_t max_len, double length_alpha = 0.6);

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
