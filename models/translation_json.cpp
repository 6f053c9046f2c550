// JSON of translations (see models/translation_json.h).
#include "models/translation_json.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace seqgrad::models {

namespace {

double rounded(double v, double scale) { return std::round(v * scale) / scale; }

nlohmann::ordered_json rows(const std::vector<std::vector<float>>& m) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& row : m) {
        nlohmann::ordered_json r = nlohmann::ordered_json::array();
        for (float w : row) r.push_back(rounded(w, 1e4));
        out.push_back(std::move(r));
    }
    return out;
}

// [step][layer][head][S] -> [layer][head][step][S]: one matrix per layer and head, as the heatmaps are drawn.
nlohmann::ordered_json by_layer_and_head(const std::vector<LayerAttention>& steps) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    if (steps.empty()) return out;
    for (std::size_t l = 0; l < steps.front().size(); ++l) {
        nlohmann::ordered_json layer = nlohmann::ordered_json::array();
        for (std::size_t h = 0; h < steps.front()[l].size(); ++h) {
            std::vector<std::vector<float>> m;
            for (const LayerAttention& step : steps) m.push_back(step[l][h]);
            layer.push_back(rows(m));
        }
        out.push_back(std::move(layer));
    }
    return out;
}

// Invalid UTF-8 cannot be in a JSON string: replaced (U+FFFD) rather than thrown, since the input line
// is echoed back as it came.
std::string dump(const nlohmann::ordered_json& j) { return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace); }

}  // namespace

std::string translation_json(std::size_t id, const std::string& source, const std::vector<Translation>& hypotheses,
                             const JsonReference* reference) {
    nlohmann::ordered_json j = {{"id", id}, {"source", source}};
    j["source_tokens"] = hypotheses.empty() ? std::vector<std::string>() : hypotheses.front().source_tokens;
    if (reference) {
        j["reference"] = reference->text;
        j["reference_tokens"] = reference->tokens;
    }
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const Translation& t : hypotheses) {
        nlohmann::ordered_json h = {{"text", t.text},
                            {"tokens", t.output_tokens},
                            {"log_prob", rounded(t.log_prob, 1e6)},
                            {"score", rounded(t.score, 1e6)}};
        h["attention"] = t.attention.empty() ? nlohmann::ordered_json() : rows(t.attention);
        if (!t.layer_attention.empty()) h["layer_attention"] = by_layer_and_head(t.layer_attention);
        list.push_back(std::move(h));
    }
    j["hypotheses"] = std::move(list);
    return dump(j);
}

std::string translation_error_json(std::size_t id, const std::string& source, const std::string& reason) {
    return dump({{"id", id}, {"source", source}, {"error", reason}});
}

}  // namespace seqgrad::models
