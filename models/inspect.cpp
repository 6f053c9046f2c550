// inspect_step: replays the greedy translation up to step t with the graph kept (trace_step, any
// architecture), keeps the gradients of the step's scores, weights and the encoder output the
// decoder reads (retain_grad), and backpropagates -log p(y_t).
#include "models/inspect.h"

#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "models/decoding.h"
#include "models/saliency.h"

namespace seqgrad::models {

namespace {
// The softmax-Jacobian identity's right-hand side α_j (∂L/∂α_j − Σ_k α_k ∂L/∂α_k) into rhs, and the
// largest difference from the ∂L/∂e the backward pass computed.
double softmax_identity(const std::vector<double>& weights, const std::vector<double>& dweights,
                        const std::vector<double>& dscores, std::vector<double>& rhs) {
    double avg = 0;
    for (std::size_t k = 0; k < weights.size(); ++k) avg += weights[k] * dweights[k];
    double worst = 0;
    rhs.clear();
    for (std::size_t j = 0; j < weights.size(); ++j) {
        rhs.push_back(weights[j] * (dweights[j] - avg));
        worst = std::max(worst, std::abs(dscores[j] - rhs[j]));
    }
    return worst;
}
}  // namespace

StepInspection inspect_step(const Translator& tr, const std::string& sentence, std::int64_t step) {
    const TranslationModel& model = tr.model();
    if (!model.has_attention()) fail<Error>("inspect: this model has no attention (trained with --attention none)");
    Translation greedy = tr.translate(sentence);
    StepInspection r;
    r.source_tokens = greedy.source_tokens;
    // Every token decoded (a special the model emitted included, so step t is the t-th decoder step), then <eos>.
    std::vector<std::int64_t> targets = greedy.output_ids;
    if (greedy.ended) targets.push_back(kEos);
    for (std::int64_t id : targets) r.output_tokens.push_back(tr.target_vocab().token(id));
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
    for (const Tensor& w : out.layer_weights) w.retain_grad();
    for (const Tensor& e : out.layer_scores) e.retain_grad();
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
    r.identity_applies = model.weights_are_softmax() && out.scores.defined();
    r.identity_max_error = softmax_identity(r.weights, r.dweights, r.dscores, r.identity_rhs);
    for (std::size_t l = 0; l < out.layer_weights.size(); ++l) {
        // [1, h, 1, S]: row 0, every head.
        const Tensor& w = out.layer_weights[l];
        const Tensor& e = l < out.layer_scores.size() ? out.layer_scores[l] : Tensor();
        const std::int64_t H = w.size(1);
        auto per_head = [&](const Tensor& t) {
            return t.defined() ? reshape(t, {H, S}).to_vector() : std::vector<double>(H * S, 0.0);
        };
        const auto wv = per_head(w), dwv = per_head(w.grad()), ev = per_head(e),
                   dev = per_head(e.defined() ? e.grad() : Tensor());
        for (std::int64_t h = 0; h < H; ++h) {
            HeadInspection hi{.layer = static_cast<std::int64_t>(l), .head = h};
            auto row = [&](const std::vector<double>& v) { return std::vector<double>(v.begin() + h * S, v.begin() + (h + 1) * S); };
            hi.weights = row(wv);
            hi.dweights = row(dwv);
            hi.scores = row(ev);
            hi.dscores = row(dev);
            hi.identity_max_error = softmax_identity(hi.weights, hi.dweights, hi.dscores, hi.identity_rhs);
            r.heads.push_back(std::move(hi));
        }
    }
    try {
        const TranslationSaliency sal = translation_saliency(tr, greedy);
        r.saliency = sal.saliency.at(static_cast<std::size_t>(step));
        r.gradient_x_input = sal.gradient_x_input.at(static_cast<std::size_t>(step));
    } catch (const Error& e) {  // an architecture without saliency: the page says so instead
        r.saliency_note = e.what();
    }
    return r;
}

}  // namespace seqgrad::models
