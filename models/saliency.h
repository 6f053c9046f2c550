// Implicit attention: what the Jacobian says the model looks at.
//
// Any model "attends", attention layer or not: its output is more sensitive to some inputs than to
// others. For one translation — source x_1 .. x_S, the model's own output y_1 .. y_T (the last one
// <eos> when it ended) — and each output token t, how much log p(y_t | y_<t, x) depends on each
// source token's embedding e_s = E_src[x_s] (the lookup itself, before any scaling or positions):
//
//   saliency       g_ts = ‖∂ log p(y_t) / ∂e_s‖₂
//   grad × input   r_ts = e_s · ∂ log p(y_t) / ∂e_s      signed; −r_ts is the first-order change of
//                                                       log p(y_t) when e_s is set to zero
//
// Both come from one teacher-forced pass over (x, <sos> y_1 .. y_{T-1}) computed from the source
// embeddings as a leaf of the graph (TranslationModel::teacher_forced_with_embeddings, which every
// architecture implements in its own files), then one backward per output token with the graph kept
// (retain_graph): backward t reads the gradient that reached the embeddings and clears it. The
// model's parameters are taken out of the graph for the duration (their requires_grad is off), so
// nothing is computed for them and their .grad() is left as it was.
//
// Rows are normalised by the sum of their absolute values: a saliency row then sums to 1 like an
// attention row α_t, and a grad × input row keeps its signs with |values| summing to 1. An all-zero
// row (an output the source cannot change) stays zero.
//
// Explicit against implicit: `agreement` compares attention rows with saliency rows — does the
// position α_t puts most weight on have the largest gradient, and do the two rank the source tokens
// alike (Spearman's ρ per row)? `seqgrad experiment implicit-vs-explicit` reports both per attention
// type (docs/attention.md, "Implicit vs explicit attention").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/translation_model.h"
#include "models/translator.h"

namespace seqgrad::models {

using Rows = std::vector<std::vector<double>>;

// Un-normalised, one row per output token.
struct SaliencyMatrices {
    Rows gradient_norm;              // [T][S] ‖∂ log p(y_t)/∂e_s‖
    Rows gradient_x_input;           // [T][S] e_s · ∂ log p(y_t)/∂e_s
    std::vector<double> log_probs;   // [T] log p(y_t) of the teacher-forced pass
};

// src: source ids (no specials); targets: y_1 .. y_T (ids, <eos> included when it is to be explained).
// Runs under grad mode whatever the caller's mode; the model should be in eval mode.
SaliencyMatrices saliency(const TranslationModel& model, const std::vector<std::int64_t>& src,
                          const std::vector<std::int64_t>& targets);

// Each row divided by the sum of its absolute values (zero rows stay zero).
Rows normalise_rows(const Rows& rows);

// The saliency of a translation the Translator made: rows = the tokens it decoded (output_ids), then
// <eos> when it ended (the same rows as Translation::attention), columns = its source tokens; normalised.
struct TranslationSaliency {
    std::vector<std::string> source_tokens;
    std::vector<std::string> output_tokens;  // one per row
    Rows saliency;                           // normalised g_ts
    Rows gradient_x_input;                   // normalised r_ts
    SaliencyMatrices raw;
};
TranslationSaliency translation_saliency(const Translator& translator, const Translation& translation);

// ---- explicit vs implicit -------------------------------------------------------------------------

// Spearman's rank correlation of two equally long rows (tied values get their average rank); NaN
// when a row has fewer than 2 values or is constant.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

// Row-by-row agreement of attention rows with saliency rows, accumulated over many translations.
struct Agreement {
    std::int64_t rows = 0;          // rows compared
    std::int64_t same_argmax = 0;   // rows whose largest attention weight and largest saliency are at one position
    double chance = 0;              // Σ 1/S: the same_argmax a position drawn at random would expect
    double spearman_sum = 0;        // Σ ρ over the rows where ρ is defined
    std::int64_t spearman_rows = 0;
    double argmax_share() const { return rows ? static_cast<double>(same_argmax) / static_cast<double>(rows) : 0.0; }
    double chance_share() const { return rows ? chance / static_cast<double>(rows) : 0.0; }
    double mean_spearman() const;   // NaN when no row had a defined ρ
};
// Adds the rows both have (the first min(attention.size(), saliency.size())); throws when a pair of
// rows differs in length.
void add_agreement(Agreement& total, const std::vector<std::vector<float>>& attention, const Rows& saliency);

}  // namespace seqgrad::models
