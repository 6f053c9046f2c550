// Translate requests of `seqgrad serve` (see models/translate_service.h).
#include "models/translate_service.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/translation_json.h"

namespace seqgrad::models {

namespace {

// A checked request: every problem is a seqgrad::Error naming the key and what it should be.
struct Request {
    std::vector<std::string> sentences;
    DecodeOptions decode;
};

std::int64_t integer_in(const nlohmann::json& j, const char* key, std::int64_t lo, std::int64_t hi) {
    const nlohmann::json& v = j.at(key);
    if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi)
        fail<Error>("serve: \"{}\" must be an integer from {} to {}, got {}", key, lo, hi, v.dump());
    return v.get<std::int64_t>();
}

Request parse_request(std::string_view body, const ServiceLimits& limits) {
    nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
    if (j.is_discarded()) fail<Error>("serve: the request body is not valid JSON");
    if (!j.is_object())
        fail<Error>("serve: the request must be a JSON object with \"sentences\", got JSON {}", j.type_name());
    for (const auto& [key, value] : j.items())
        if (key != "sentences" && key != "beam" && key != "n_best" && key != "length_penalty" && key != "layer_attention")
            fail<Error>("serve: unknown key \"{}\" (valid: sentences, beam, n_best, length_penalty, layer_attention)", key);
    if (!j.contains("sentences") || !j["sentences"].is_array())
        fail<Error>("serve: the request needs \"sentences\": a list of strings");
    const nlohmann::json& list = j["sentences"];
    if (list.empty()) fail<Error>("serve: \"sentences\" is empty");
    if (list.size() > limits.max_sentences)
        fail<Error>("serve: {} sentences in one request; at most {} are served", list.size(), limits.max_sentences);
    Request r;
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (!list[i].is_string()) fail<Error>("serve: sentence {} is a {}, not a string", i, list[i].type_name());
        const auto& s = list[i].get_ref<const std::string&>();
        if (s.size() > limits.max_sentence_bytes)
            fail<Error>("serve: sentence {} has {} bytes; at most {} are served", i, s.size(), limits.max_sentence_bytes);
        r.sentences.push_back(s);
    }
    if (j.contains("beam")) r.decode.beam = integer_in(j, "beam", 1, limits.max_beam);
    if (j.contains("n_best")) r.decode.n_best = integer_in(j, "n_best", 1, r.decode.beam);
    if (j.contains("length_penalty")) {
        const nlohmann::json& v = j["length_penalty"];
        if (!v.is_number() || !(v.get<double>() >= 0 && v.get<double>() <= 5))
            fail<Error>("serve: \"length_penalty\" must be a number from 0 to 5, got {}", v.dump());
        r.decode.length_penalty = v.get<double>();
    }
    if (j.contains("layer_attention")) {
        if (!j["layer_attention"].is_boolean())
            fail<Error>("serve: \"layer_attention\" must be true or false, got {}", j["layer_attention"].dump());
        r.decode.layer_attention = j["layer_attention"].get<bool>();
    }
    return r;
}

}  // namespace

ServiceReply bad_request(const std::string& reason, int status) {
    const nlohmann::json j = {{"error", reason}};
    return {status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
}

ServiceReply handle_translate_request(const Translator& translator, std::string_view body, const ServiceLimits& limits) {
    Request request;
    try {
        request = parse_request(body, limits);
    } catch (const Error& e) {
        return bad_request(e.what());
    }
    std::string out = "{\"translations\":[";
    for (std::size_t i = 0; i < request.sentences.size(); ++i) {
        const std::string& s = request.sentences[i];
        if (i) out += ',';
        // The errors of one sentence that translate reports per line (apps/cmd_translate.cpp).
        try {
            out += translation_json(i, s, translator.translate_n_best(s, request.decode));
        } catch (const std::invalid_argument& e) {
            out += translation_error_json(i, s, e.what());
        } catch (const std::out_of_range& e) {
            out += translation_error_json(i, s, e.what());
        } catch (const Error& e) {
            out += translation_error_json(i, s, e.what());
        }
    }
    out += "]}\n";
    return {200, out};
}

}  // namespace seqgrad::models
