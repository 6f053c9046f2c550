// Greedy and beam-search decoding and trace_step over the StepDecoder interface (see models/decoding.h).
#include "models/decoding.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/row_kernels.h"

namespace seqgrad::models {

namespace {
// Row b of weights [B, S] (already copied out as v).
std::vector<float> row_of(const std::vector<float>& v, std::int64_t S, std::int64_t b) {
    return {v.begin() + b * S, v.begin() + (b + 1) * S};
}

// One step's layer_weights ([B, heads, S] per layer), copied out once per step.
struct LayerRows {
    std::vector<std::vector<float>> values;  // per layer, [B * heads * S]
    std::vector<std::int64_t> heads, width;  // per layer
    explicit LayerRows(const DecoderStep& o, bool wanted) {
        if (!wanted) return;
        for (const Tensor& w : o.layer_weights) {  // [B, heads, 1, S] (models/translation_model.h)
            values.push_back(w.to_float_vector());
            heads.push_back(w.size(1));
            width.push_back(w.size(w.dim() - 1));
        }
    }
    bool empty() const { return values.empty(); }
    // Row b, its first `len` source positions: [layer][head][len].
    LayerAttention row(std::int64_t b, std::size_t len) const {
        LayerAttention out(values.size());
        for (std::size_t l = 0; l < values.size(); ++l)
            for (std::int64_t h = 0; h < heads[l]; ++h) {
                const auto first = values[l].begin() + (b * heads[l] + h) * width[l];
                out[l].emplace_back(first, first + static_cast<std::ptrdiff_t>(len));
            }
        return out;
    }
};
}  // namespace

GreedyChoices greedy_choices(const Tensor& logits) {
    const std::int64_t B = logits.size(0), V = logits.size(1);
    GreedyChoices c;
    if (!fast_paths_enabled() || logits.dtype() != DType::Float32 || V == 0) {
        const Tensor lp = log_softmax(logits, 1);
        c.ids = argmax(lp, 1).to_ids();
        const auto lpv = lp.to_vector();
        for (std::int64_t b = 0; b < B; ++b) c.log_probs.push_back(lpv[b * V + c.ids[b]]);
        return c;
    }
    const float* x = logits.data<float>();
    for (std::int64_t b = 0; b < B; ++b) {
        const float* row = x + b * V;
        const float m = kernels::row_max(row, V);
        // The first position of the maximum (argmax's choice); a row with NaN has none equal to m.
        std::int64_t best = 0;
        while (best < V && !(row[best] == m)) ++best;
        if (best == V || !std::isfinite(m)) {  // NaN or infinite logits: the plain formula for this row
            const Tensor lp = log_softmax(narrow(logits, 0, b, 1), 1);
            const std::int64_t y = argmax(lp, 1).to_ids()[0];
            c.ids.push_back(y);
            c.log_probs.push_back(lp.to_vector()[static_cast<std::size_t>(y)]);
            continue;
        }
        c.ids.push_back(best);
        c.log_probs.push_back(-std::log(static_cast<double>(kernels::sum_exp(row, V, m))));
    }
    return c;
}

double length_penalty(std::size_t len, double alpha) {
    return std::pow((5.0 + static_cast<double>(len)) / 6.0, alpha);
}

std::vector<Hypothesis> greedy_batch(const TranslationModel& model, const std::vector<std::vector<std::int64_t>>& srcs,
                                     std::int64_t max_len, double alpha, bool layer_attention) {
    NoGradGuard no_grad;
    const std::int64_t B = static_cast<std::int64_t>(srcs.size());
    std::vector<Hypothesis> hyps(srcs.size());
    if (B == 0) return hyps;
    std::int64_t S = 1;
    for (auto& s : srcs) S = std::max<std::int64_t>(S, static_cast<std::int64_t>(s.size()));
    std::vector<std::int64_t> ids(static_cast<std::size_t>(B * S), kPad), lengths;
    for (std::int64_t b = 0; b < B; ++b) {
        if (srcs[b].empty()) fail("greedy: source sentence {} is empty", b);
        std::copy(srcs[b].begin(), srcs[b].end(), ids.begin() + b * S);
        lengths.push_back(static_cast<std::int64_t>(srcs[b].size()));
    }
    std::unique_ptr<StepDecoder> decoder = model.start_decoding(Tensor::ids(ids, {B, S}), lengths);
    Tensor y = Tensor::ids(std::vector<std::int64_t>(static_cast<std::size_t>(B), kSos), {B});
    std::vector<char> done(static_cast<std::size_t>(B), 0);
    for (std::int64_t t = 0; t < std::min(max_len, model.max_target_len()); ++t) {
        DecoderStep o = decoder->step(y);
        const GreedyChoices chosen = greedy_choices(o.logits);
        const std::vector<std::int64_t>& next = chosen.ids;
        y = Tensor::ids(next, {B});
        const auto weights = o.weights.defined() ? o.weights.to_float_vector() : std::vector<float>();
        const LayerRows layers(o, layer_attention);
        bool all_done = true;
        for (std::int64_t b = 0; b < B; ++b) {
            if (done[b]) continue;
            if (o.weights.defined()) {
                auto w = row_of(weights, o.weights.shape()[1], b);
                w.resize(srcs[b].size());
                hyps[b].attention.push_back(std::move(w));
            }
            if (!layers.empty()) hyps[b].layer_attention.push_back(layers.row(b, srcs[b].size()));
            hyps[b].log_prob += chosen.log_probs[b];
            if (next[b] == kEos) {
                done[b] = 1;
                hyps[b].ended = true;
            } else {
                hyps[b].ids.push_back(next[b]);
            }
            all_done = all_done && done[b];
        }
        if (all_done) break;
    }
    for (auto& h : hyps) h.score = h.log_prob / length_penalty(h.ids.size() + 1, alpha);
    return hyps;
}

Hypothesis greedy(const TranslationModel& model, const std::vector<std::int64_t>& src, std::int64_t max_len) {
    return greedy_batch(model, {src}, max_len).front();
}

// The k live beams run as one batch of k rows through the decoder; after each step the decoder keeps
// the rows of the surviving hypotheses' parents (reorder), so its state follows them.
std::vector<Hypothesis> decode_n_best(const TranslationModel& model, const std::vector<std::int64_t>& src,
                                      const DecodeOptions& options) {
    const std::int64_t beam = options.beam, max_len = options.max_len;
    const double alpha = options.length_penalty;
    if (beam < 1) fail("beam_search: beam size must be at least 1, got {}", beam);
    if (options.n_best < 1 || options.n_best > beam)
        fail("beam_search: n-best {} must be from 1 to the beam size {}", options.n_best, beam);
    if (src.empty()) fail("beam_search: the source sentence is empty");
    if (beam == 1) return {greedy_batch(model, {src}, max_len, alpha, options.layer_attention).front()};
    NoGradGuard no_grad;
    const std::int64_t S = static_cast<std::int64_t>(src.size()), V = model.target_vocab_size();
    std::unique_ptr<StepDecoder> decoder = model.start_decoding(Tensor::ids(src, {1, S}), {S});

    struct Beam {
        Hypothesis hyp;
        std::int64_t last = kSos;
    };
    std::vector<Beam> beams(1);
    std::vector<Hypothesis> finished;
    for (std::int64_t t = 0; t < std::min(max_len, model.max_target_len()) && !beams.empty(); ++t) {
        const std::int64_t k = static_cast<std::int64_t>(beams.size());
        std::vector<std::int64_t> last;
        for (auto& b : beams) last.push_back(b.last);
        DecoderStep o = decoder->step(Tensor::ids(last, {k}));
        const auto lp = log_softmax(o.logits, 1).to_vector();
        const auto weights = o.weights.defined() ? o.weights.to_float_vector() : std::vector<float>();
        const LayerRows layers(o, options.layer_attention);
        // Candidates: (score, beam index, token)
        std::vector<std::tuple<double, std::int64_t, std::int64_t>> cand;
        for (std::int64_t b = 0; b < k; ++b)
            for (std::int64_t v = 0; v < V; ++v)
                cand.emplace_back(beams[b].hyp.log_prob + lp[b * V + v], b, v);
        const std::size_t keep = std::min<std::size_t>(cand.size(), static_cast<std::size_t>(2 * beam));
        std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(keep), cand.end(),
                          [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
        std::vector<Beam> next;
        std::vector<std::int64_t> parents;
        for (std::size_t i = 0; i < keep && static_cast<std::int64_t>(next.size()) < beam; ++i) {
            auto [score, b, v] = cand[i];
            Hypothesis h = beams[b].hyp;
            h.log_prob = score;
            if (o.weights.defined()) h.attention.push_back(row_of(weights, o.weights.shape()[1], b));
            if (!layers.empty()) h.layer_attention.push_back(layers.row(b, src.size()));
            if (v == kEos) {
                h.ended = true;
                finished.push_back(std::move(h));
                continue;
            }
            h.ids.push_back(v);
            next.push_back({std::move(h), v});
            parents.push_back(b);
        }
        if (static_cast<std::int64_t>(finished.size()) >= beam) break;
        if (next.empty()) break;
        decoder->reorder(parents);
        beams = std::move(next);
    }
    for (auto& b : beams) finished.push_back(b.hyp);  // unfinished at max_len
    for (auto& h : finished) h.score = h.log_prob / length_penalty(h.ids.size() + 1, alpha);
    // Stable: of two equal scores the one found first (the more probable prefix) stays first.
    std::stable_sort(finished.begin(), finished.end(), [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });
    if (static_cast<std::int64_t>(finished.size()) > options.n_best) finished.resize(static_cast<std::size_t>(options.n_best));
    return finished;
}

Hypothesis beam_search(const TranslationModel& model, const std::vector<std::int64_t>& src, std::int64_t beam,
                       std::int64_t max_len, double alpha) {
    return decode_n_best(model, src, {.beam = beam, .n_best = 1, .length_penalty = alpha, .max_len = max_len}).front();
}

TracedStep trace_step(const TranslationModel& model, const std::vector<std::int64_t>& src,
                      const std::vector<std::int64_t>& prefix, std::int64_t step) {
    if (src.empty()) fail("trace_step: the source sentence is empty");
    if (step < 0 || step > static_cast<std::int64_t>(prefix.size()))
        fail("trace_step: step {} needs {} prefix tokens, got {}", step, step, prefix.size());
    const auto S = static_cast<std::int64_t>(src.size());
    TracedStep r;
    r.decoder = model.start_decoding(Tensor::ids(src, {1, S}), {S});
    Tensor y = Tensor::ids({kSos}, {1});
    for (std::int64_t t = 0; t <= step; ++t) {
        r.step = r.decoder->step(y);
        if (t < step) y = Tensor::ids({prefix[static_cast<std::size_t>(t)]}, {1});
    }
    return r;
}

}  // namespace seqgrad::models
