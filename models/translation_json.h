// The machine-readable form of a translation: one JSON object per sentence, written by
// `seqgrad translate --json`, `seqgrad eval --json-lines` and `seqgrad serve` (README, "Machine-readable
// output", has the schema). One line each (no newline inside), so a file of them is JSON Lines.
//
//   {"id": 0, "source": "je suis là .", "source_tokens": ["je", "suis", "là", "."],
//    "hypotheses": [{"text": "i m here .", "tokens": ["i", "m", "here", "."], "log_prob": -0.71, "score": -0.52,
//                    "attention": [[...S...] per output token, + one for <eos>] | null,
//                    "layer_attention": [layer][head][output token (+ <eos>)][S]   (only when asked and known)}]}
//
// eval adds "reference" and "reference_tokens"; a sentence that could not be translated is
// {"id": N, "source": "...", "error": "the reason"}. Weights are rounded to 4 decimals, log_prob and
// score to 6.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "models/translator.h"

namespace seqgrad::models {

struct JsonReference {
    std::string text;
    std::vector<std::string> tokens;
};

// The object of one sentence and its hypotheses (best first), as one line without the newline.
std::string translation_json(std::size_t id, const std::string& source, const std::vector<Translation>& hypotheses,
                             const JsonReference* reference = nullptr);
// The object of a sentence that failed, with the one-line reason.
std::string translation_error_json(std::size_t id, const std::string& source, const std::string& reason);

}  // namespace seqgrad::models
