// Translation metrics: corpus BLEU-4 (Papineni et al. 2002), token accuracy, exact match, perplexity.
//
// BLEU = BP * exp(sum_{n=1..4} 1/4 * log p_n), where p_n is the corpus-level modified n-gram
// precision (each hypothesis n-gram counted at most as often as it occurs in the reference, summed
// over all sentences before dividing), and BP = 1 if c > r else exp(1 - r/c), with c and r the total
// hypothesis and reference lengths. Reported on a 0-100 scale. No smoothing: if some p_n is 0 the
// corpus BLEU is 0, as in the original definition.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace seqgrad::metrics {

using Tokens = std::vector<std::string>;

struct BleuResult {
    double bleu = 0;                  // 0-100
    double precisions[4] = {0, 0, 0, 0};  // modified n-gram precisions p_1..p_4 (0-1)
    double brevity_penalty = 0;
    std::int64_t hypothesis_length = 0;
    std::int64_t reference_length = 0;
};

// One reference per hypothesis; the two lists must have the same length.
BleuResult corpus_bleu(const std::vector<Tokens>& hypotheses, const std::vector<Tokens>& references);

// Fraction of sentences whose hypothesis equals the reference exactly.
double exact_match(const std::vector<Tokens>& hypotheses, const std::vector<Tokens>& references);

// Fraction of reference positions i where hypothesis[i] == reference[i] (a missing hypothesis
// token counts as wrong); over all sentences.
double token_accuracy(const std::vector<Tokens>& hypotheses, const std::vector<Tokens>& references);

// exp(total negative log-likelihood / number of tokens).
double perplexity(double total_nll, std::int64_t tokens);

}  // namespace seqgrad::metrics
