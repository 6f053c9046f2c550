// The request handling of `seqgrad serve` (apps/cmd_serve.cpp), apart from HTTP so that it can be
// tested and fuzzed without a socket: a request body in, a status and a body out, never an exception.
//
//   request   {"sentences": ["je suis là .", ...], "beam": 1, "n_best": 1, "length_penalty": 0.6,
//              "layer_attention": false}   (every key but "sentences" optional)
//   200       {"translations": [<one translate --json object per sentence, in order>]}; a sentence that
//              cannot be translated (no tokens, invalid UTF-8, too long for the model) is its error
//              object {"id", "source", "error"} and the others are still translated
//   400       {"error": "serve: <the one-line reason>"} for a body that is not such a request
//
// Limits (ServiceLimits) bound the work one request can ask for; the HTTP layer bounds the body's size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "models/translator.h"

namespace seqgrad::models {

struct ServiceLimits {
    std::size_t max_sentences = 64;        // per request
    std::size_t max_sentence_bytes = 4096; // per sentence
    std::int64_t max_beam = 16;
};

struct ServiceReply {
    int status = 200;
    std::string body;  // JSON, one line, ending with '\n'
};

ServiceReply handle_translate_request(const Translator& translator, std::string_view body,
                                      const ServiceLimits& limits = {});

// The 400 reply for a reason (also used by the HTTP layer for its own refusals).
ServiceReply bad_request(const std::string& reason, int status = 400);

}  // namespace seqgrad::models
