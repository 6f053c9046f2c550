// Saliency by autograd (one backward per output token over one kept graph), row normalisation, and
// the agreement of explicit attention with it (see models/saliency.h).
#include "models/saliency.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

namespace seqgrad::models {

namespace {

// Grad mode on for the scope (decoding callers may have turned it off), restored after.
class GradOn : public ScopedSetting<bool, grad_enabled, set_grad_enabled> {
public:
    GradOn() : ScopedSetting(true) {}
};

// The model's parameters out of the graph for the scope: the backward passes then only walk the path
// from the log-probabilities to the source embeddings, and no parameter's .grad() changes.
class ParametersFrozen {
public:
    explicit ParametersFrozen(const TranslationModel& model) {
        for (Tensor p : model.parameters())
            if (p.requires_grad()) {
                p.set_requires_grad(false);
                frozen_.push_back(p);
            }
    }
    ~ParametersFrozen() {
        for (Tensor& p : frozen_) p.set_requires_grad(true);
    }
    ParametersFrozen(const ParametersFrozen&) = delete;
    ParametersFrozen& operator=(const ParametersFrozen&) = delete;

private:
    std::vector<Tensor> frozen_;
};

}  // namespace

SaliencyMatrices saliency(const TranslationModel& model, const std::vector<std::int64_t>& src,
                          const std::vector<std::int64_t>& targets) {
    if (src.empty()) fail("saliency: the source sentence is empty");
    if (targets.empty()) fail("saliency: there is no output token to explain");
    const auto S = static_cast<std::int64_t>(src.size()), T = static_cast<std::int64_t>(targets.size());
    std::vector<std::int64_t> tgt_in = {kSos};
    tgt_in.insert(tgt_in.end(), targets.begin(), targets.end() - 1);
    GradOn grad_on;
    ParametersFrozen frozen(model);
    const SaliencyPass pass = model.teacher_forced_with_embeddings(Tensor::ids(src, {1, S}), Tensor::ids(tgt_in, {1, T}));
    const Tensor& e = pass.embeddings;
    if (!e.defined() || e.dim() != 3 || e.size(0) != 1 || e.size(1) != S || !e.requires_grad() ||
        !pass.log_probs.defined() || pass.log_probs.dim() != 3 || pass.log_probs.size(1) != T)
        fail<Error>("saliency: the {} architecture's pass gave embeddings {} and log-probabilities {}, expected [1, {}, E] "
                    "requiring grad and [1, {}, V]",
                    model.model_config().architecture, e.defined() ? shape_str(e.shape()) : "(none)",
                    pass.log_probs.defined() ? shape_str(pass.log_probs.shape()) : "(none)", S, T);
    const std::int64_t E = e.size(2);
    const std::vector<double> ev = e.to_vector();
    const Tensor rows = select(pass.log_probs, 0, 0);  // [T, V]
    SaliencyMatrices out;
    for (std::int64_t t = 0; t < T; ++t) {
        const Tensor lp = select(select(rows, 0, t), 0, targets[static_cast<std::size_t>(t)]);
        out.log_probs.push_back(lp.item());
        e.zero_grad();
        lp.backward({.retain_graph = t + 1 < T});
        const Tensor g = e.grad();
        const std::vector<double> gv = g.defined() ? g.to_vector() : std::vector<double>(ev.size(), 0.0);
        std::vector<double> norm(static_cast<std::size_t>(S)), dot(static_cast<std::size_t>(S));
        for (std::int64_t s = 0; s < S; ++s) {
            double n = 0, d = 0;
            for (std::int64_t k = 0; k < E; ++k) {
                const double gk = gv[static_cast<std::size_t>(s * E + k)];
                n += gk * gk;
                d += gk * ev[static_cast<std::size_t>(s * E + k)];
            }
            norm[static_cast<std::size_t>(s)] = std::sqrt(n);
            dot[static_cast<std::size_t>(s)] = d;
        }
        out.gradient_norm.push_back(std::move(norm));
        out.gradient_x_input.push_back(std::move(dot));
    }
    e.zero_grad();
    return out;
}

Rows normalise_rows(const Rows& rows) {
    Rows out = rows;
    for (auto& row : out) {
        double total = 0;
        for (double v : row) total += std::abs(v);
        if (total > 0)
            for (double& v : row) v /= total;
    }
    return out;
}

TranslationSaliency translation_saliency(const Translator& tr, const Translation& t) {
    TranslationSaliency r;
    r.source_tokens = t.source_tokens;
    std::vector<std::int64_t> targets = t.output_ids;  // what was decoded, specials included
    if (t.ended) targets.push_back(kEos);
    for (std::int64_t id : targets) r.output_tokens.push_back(tr.target_vocab().token(id));
    r.raw = saliency(tr.model(), tr.source_vocab().encode(t.source_tokens), targets);
    r.saliency = normalise_rows(r.raw.gradient_norm);
    r.gradient_x_input = normalise_rows(r.raw.gradient_x_input);
    return r;
}

// ---- explicit vs implicit -------------------------------------------------------------------------

namespace {
// 1-based ranks, ties sharing their average rank.
std::vector<double> ranks(const std::vector<double>& v) {
    std::vector<std::size_t> order(v.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
    std::vector<double> r(v.size());
    for (std::size_t i = 0; i < order.size();) {
        std::size_t j = i;
        while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
        const double average = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
        for (std::size_t k = i; k <= j; ++k) r[order[k]] = average;
        i = j + 1;
    }
    return r;
}

std::size_t argmax_of(const std::vector<double>& v) {
    return static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}
}  // namespace

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) fail("spearman: the rows have {} and {} values", a.size(), b.size());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (a.size() < 2) return nan;
    const std::vector<double> ra = ranks(a), rb = ranks(b);
    const double n = static_cast<double>(a.size()), mean = (n + 1) / 2;
    double sab = 0, saa = 0, sbb = 0;
    for (std::size_t i = 0; i < ra.size(); ++i) {
        sab += (ra[i] - mean) * (rb[i] - mean);
        saa += (ra[i] - mean) * (ra[i] - mean);
        sbb += (rb[i] - mean) * (rb[i] - mean);
    }
    if (saa == 0 || sbb == 0) return nan;
    return sab / std::sqrt(saa * sbb);
}

double Agreement::mean_spearman() const {
    return spearman_rows ? spearman_sum / static_cast<double>(spearman_rows) : std::numeric_limits<double>::quiet_NaN();
}

void add_agreement(Agreement& total, const std::vector<std::vector<float>>& attention, const Rows& saliency) {
    const std::size_t n = std::min(attention.size(), saliency.size());
    for (std::size_t t = 0; t < n; ++t) {
        const std::vector<double> a(attention[t].begin(), attention[t].end());
        const std::vector<double>& s = saliency[t];
        if (a.size() != s.size() || a.empty())
            fail("agreement: row {} has {} attention weights and {} saliencies", t, a.size(), s.size());
        ++total.rows;
        total.same_argmax += argmax_of(a) == argmax_of(s);
        total.chance += 1.0 / static_cast<double>(a.size());
        const double rho = spearman(a, s);
        if (!std::isnan(rho)) {
            total.spearman_sum += rho;
            ++total.spearman_rows;
        }
    }
}

}  // namespace seqgrad::models
