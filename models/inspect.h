// One decoder step of one translation, forward and backward side by side: what `seqgrad inspect`
// draws. The loss is L = -log p(y_t), the negative log-probability of the token the model chose at
// step t; its gradient flows back through the attention of that step (and of the steps before it).
// Beside α, the saliency of the same step (models/saliency.h): what the Jacobian says the step looks at.
#pragma once
#include <string>
#include <vector>

#include "models/translator.h"

namespace seqgrad::models {

// One head of one layer's cross-attention at the inspected step (models with layers and heads).
struct HeadInspection {
    std::int64_t layer = 0, head = 0;        // 0-based
    std::vector<double> scores = {};            // e      [S]
    std::vector<double> weights = {};            // α      [S]
    std::vector<double> dweights = {};            // ∂L/∂α  [S]
    std::vector<double> dscores = {};            // ∂L/∂e  [S]
    std::vector<double> identity_rhs = {};      // α_j (∂L/∂α_j − Σ_k α_k ∂L/∂α_k)  [S]
    double identity_max_error = 0;           // max_j |∂L/∂e_j − identity_rhs_j|
};

struct StepInspection {
    std::vector<std::string> source_tokens;
    std::vector<std::string> output_tokens;  // the greedy translation, incl. <eos> when produced
    std::int64_t step = 0;                   // t (0-based)
    std::string step_token;                  // y_t
    double loss = 0;                         // -log p(y_t)
    std::vector<double> scores;              // e      [S]
    std::vector<double> weights;             // α      [S]
    std::vector<double> dweights;            // ∂L/∂α  [S]
    std::vector<double> dscores;             // ∂L/∂e  [S]
    std::vector<std::vector<double>> dencoder;  // ∂L/∂h_s  [S][K]: the gradient reaching each encoder state
    std::vector<double> dencoder_norm;       // ‖∂L/∂h_s‖  [S]
    // The softmax-Jacobian identity ∂L/∂e_j = α_j (∂L/∂α_j − Σ_k α_k ∂L/∂α_k), evaluated from α and ∂L/∂α:
    std::vector<double> identity_rhs;        // [S]
    double identity_max_error = 0;           // max_j |∂L/∂e_j − identity_rhs_j|
    bool identity_applies = true;            // false for local-p, whose weights are not a plain softmax
    // A model with layers and heads (the Transformer): every head of every decoder layer, each with its
    // own softmax and identity check. Empty for a single attention. `weights` above is then the
    // model's summary for drawing (e.g. the last layer's head average), which no softmax produced.
    std::vector<HeadInspection> heads;
    // Implicit attention at step t (models/saliency.h), normalised per row: ‖∂ log p(y_t)/∂e_s‖ and
    // e_s · ∂ log p(y_t)/∂e_s over the source embeddings, beside α. Empty with saliency_note saying why
    // when the architecture does not expose its source embeddings.
    std::vector<double> saliency;           // [S], sums to 1
    std::vector<double> gradient_x_input;   // [S], |values| sum to 1
    std::string saliency_note;
};

StepInspection inspect_step(const Translator& translator, const std::string& sentence, std::int64_t step);

}  // namespace seqgrad::models
