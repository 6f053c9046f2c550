// inspect_step: replays the greedy translation up to step t with the graph kept (trace_step, any
// architecture), keeps the gradients of the step's scores, weights and the encoder output the
// decoder reads (retain_grad), and backpropagates -log p(y_t).
#include "models/inspect.h"

#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "models/decoding.h"

namespace seqgrad::models {

StepInspection inspect_step(const Translator& tr, const std::string& sentence, std::int64_t step) {
    const TranslationModel& model = tr.model();
    if (!model.has_attention()) fail<Error>("inspect: this model has no attention (trained with --attention none)");
    Translation greedy = tr.translate(sentence);
    StepInspection r;
    r.source_tokens = greedy.source_tokens;
    r.output_tokens = greedy.output_tokens;
    std::vector<std::int64_t> targets = tr.target_vocab().encode(greedy.output_tokens);
    if (greedy.attention.size() > greedy.output_tokens.size()) {
        targets.push_back(kEos);
        r.output_tokens.push_back("<eos>");
    }
    const auto T = static_cast<std::int64_t>(targets.size());
    if (step < 0 || step >= T)
        fail("inspect: --step {} is out of range: the translation has {} steps (0 to {})", step, T, T - 1);
    r.step = step;
    r.step_token = r.output_tokens[static_cast<std::size_t>(step)];

    const std::vector<std::int64_t> src = tr.source_vocab().encode(greedy.source_tokens);
    const auto S = static_cast<std::int64_t>(src.size());
    TracedStep traced = trace_step(model, src, targets, step);
    const Tensor memory = traced.decoder->memory();
    memory.retain_grad();
    const DecoderStep& out = traced.step;
    if (out.scores.defined()) out.scores.retain_grad();
    out.weights.retain_grad();
    Tensor loss = neg(select(select(log_softmax(out.logits, 1), 0, 0), 0, targets[static_cast<std::size_t>(step)]));
    loss.backward();
    r.loss = loss.item();
    r.scores = out.scores.defined() ? out.scores.to_vector() : std::vector<double>(S, 0.0);
    r.weights = out.weights.to_vector();
    r.dweights = out.weights.grad().defined() ? out.weights.grad().to_vector() : std::vector<double>(S, 0.0);
    r.dscores = out.scores.defined() && out.scores.grad().defined() ? out.scores.grad().to_vector() : std::vector<double>(S, 0.0);
    const Tensor dh = memory.grad();
    const std::int64_t K = memory.size(2);
    const auto dhv = dh.defined() ? dh.to_vector() : std::vector<double>(S * K, 0.0);
    for (std::int64_t s = 0; s < S; ++s) {
        std::vector<double> row(dhv.begin() + s * K, dhv.begin() + (s + 1) * K);
        double n = 0;
        for (double v : row) n += v * v;
        r.dencoder.push_back(std::move(row));
        r.dencoder_norm.push_back(std::sqrt(n));
    }
    double avg = 0;
    for (std::int64_t k = 0; k < S; ++k) avg += r.weights[k] * r.dweights[k];
    r.identity_applies = model.weights_are_softmax() && out.scores.defined();
    for (std::int64_t j = 0; j < S; ++j) {
        r.identity_rhs.push_back(r.weights[j] * (r.dweights[j] - avg));
        r.identity_max_error = std::max(r.identity_max_error, std::abs(r.dscores[j] - r.identity_rhs[j]));
    }
    return r;
}

}  // namespace seqgrad::models
