// Corpus BLEU-4 and the simpler metrics; see models/metrics.h for the definitions.
#include "models/metrics.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"

namespace seqgrad::metrics {

namespace {
void check_sizes(const char* what, const std::vector<Tokens>& h, const std::vector<Tokens>& r) {
    if (h.size() != r.size())
        fail("{}: {} hypotheses but {} references (they must pair up one to one)", what, h.size(), r.size());
}

std::map<std::vector<std::string>, std::int64_t> ngram_counts(const Tokens& t, std::size_t n) {
    std::map<std::vector<std::string>, std::int64_t> counts;
    for (std::size_t i = 0; i + n <= t.size(); ++i) ++counts[Tokens(t.begin() + i, t.begin() + i + n)];
    return counts;
}
}  // namespace

BleuResult corpus_bleu(const std::vector<Tokens>& hyps, const std::vector<Tokens>& refs) {
    check_sizes("corpus_bleu", hyps, refs);
    BleuResult r;
    std::int64_t matched[4] = {0, 0, 0, 0}, total[4] = {0, 0, 0, 0};
    for (std::size_t s = 0; s < hyps.size(); ++s) {
        r.hypothesis_length += static_cast<std::int64_t>(hyps[s].size());
        r.reference_length += static_cast<std::int64_t>(refs[s].size());
        for (std::size_t n = 1; n <= 4; ++n) {
            auto hc = ngram_counts(hyps[s], n);
            auto rc = ngram_counts(refs[s], n);
            for (auto& [gram, count] : hc) {
                total[n - 1] += count;
                auto it = rc.find(gram);
                if (it != rc.end()) matched[n - 1] += std::min(count, it->second);  // clipped count
            }
        }
    }
    double log_sum = 0;
    bool zero = false;
    for (int n = 0; n < 4; ++n) {
        r.precisions[n] = total[n] > 0 ? static_cast<double>(matched[n]) / static_cast<double>(total[n]) : 0.0;
        if (r.precisions[n] == 0) zero = true;
        else log_sum += 0.25 * std::log(r.precisions[n]);
    }
    const double c = static_cast<double>(r.hypothesis_length), ref = static_cast<double>(r.reference_length);
    r.brevity_penalty = c == 0 ? 0.0 : (c > ref ? 1.0 : std::exp(1.0 - ref / c));
    r.bleu = zero ? 0.0 : 100.0 * r.brevity_penalty * std::exp(log_sum);
    return r;
}

double exact_match(const std::vector<Tokens>& hyps, const std::vector<Tokens>& refs) {
    check_sizes("exact_match", hyps, refs);
    if (hyps.empty()) return 0.0;
    std::size_t same = 0;
    for (std::size_t i = 0; i < hyps.size(); ++i) same += hyps[i] == refs[i];
    return static_cast<double>(same) / static_cast<double>(hyps.size());
}

double token_accuracy(const std::vector<Tokens>& hyps, const std::vector<Tokens>& refs) {
    check_sizes("token_accuracy", hyps, refs);
    std::int64_t right = 0, total = 0;
    for (std::size_t s = 0; s < hyps.size(); ++s) {
        total += static_cast<std::int64_t>(refs[s].size());
        for (std::size_t i = 0; i < refs[s].size() && i < hyps[s].size(); ++i) right += hyps[s][i] == refs[s][i];
    }
    return total ? static_cast<double>(right) / static_cast<double>(total) : 0.0;
}

double perplexity(double total_nll, std::int64_t tokens) {
    if (tokens <= 0) fail("perplexity: needs at least one token, got {}", tokens);
    return std::exp(total_nll / static_cast<double>(tokens));
}

}  // namespace seqgrad::metrics
