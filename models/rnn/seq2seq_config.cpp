// Seq2SeqConfig: validation and its JSON (see models/rnn/seq2seq_config.h).
#include "models/rnn/seq2seq_config.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "layers/attention.h"

namespace seqgrad::models {

CellKind parse_cell_kind(const std::string& name) {
    if (name == "gru") return CellKind::GRU;
    if (name == "lstm") return CellKind::LSTM;
    fail("unknown cell '{}' (valid: gru, lstm)", name);
}
std::vector<std::string> attention_names() {
    std::vector<std::string> names = {"none"};
    for (const auto& kind : nn::attention_kind_names()) names.push_back(kind);
    names.push_back("hard");
    return names;
}

std::string cell_kind_name(CellKind kind) { return kind == CellKind::GRU ? "gru" : "lstm"; }

// ---- config -------------------------------------------------------------------------------------

void Seq2SeqConfig::validate() const {
    auto positive = [](const char* what, std::int64_t v) {
        if (v <= 0) fail("Seq2Seq config: {} must be positive, got {}", what, v);
    };
    positive("src_vocab", src_vocab);
    positive("tgt_vocab", tgt_vocab);
    positive("embed_size", embed_size);
    positive("hidden_size", hidden_size);
    positive("num_layers", num_layers);
    if (attention_size < 0) fail("Seq2Seq config: attention_size must be >= 0, got {}", attention_size);
    positive("window", window);
    positive("max_source_len", max_source_len);
    if (!(dropout >= 0 && dropout < 1)) fail("Seq2Seq config: dropout must be in [0, 1), got {}", dropout);
    if (attends() && attention != "hard") (void)nn::parse_attention_kind(attention);  // throws listing the valid names
    if (input_feeding && !attends())
        fail("Seq2Seq config: input_feeding needs an attention (attention is none)");
}

std::string Seq2SeqConfig::to_json() const {
    nlohmann::json j = {{"format", "seqgrad-seq2seq-config"},
                        {"version", 1},
                        {"src_vocab", src_vocab},
                        {"tgt_vocab", tgt_vocab},
                        {"embed_size", embed_size},
                        {"hidden_size", hidden_size},
                        {"num_layers", num_layers},
                        {"bidirectional", bidirectional},
                        {"cell", cell_kind_name(cell)},
                        {"attention", attention},
                        {"attention_size", attention_size},
                        {"window", window},
                        {"max_source_len", max_source_len},
                        {"input_feeding", input_feeding},
                        {"dropout", dropout}};
    return j.dump(2);
}

Seq2SeqConfig Seq2SeqConfig::from_json(const std::string& text, const std::string& where) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        fail<Error>("{}: not valid JSON: {}", where, e.what());
    }
    // Compared as JSON values (not j.value("format", "")), so a non-string "format" is this error
    // rather than a json::type_error escaping (found by the config_loader fuzz target).
    if (!j.is_object() || j.value("format", nlohmann::json()) != "seqgrad-seq2seq-config")
        fail<Error>("{}: not a seqgrad model config (missing \"format\": \"seqgrad-seq2seq-config\")", where);
    if (j.value("version", nlohmann::json()) != 1)
        fail<Error>("{}: unsupported config version {}", where, j.value("version", nlohmann::json()).dump());
    // Sizes must be JSON integers: get<int64_t>() would truncate 2.5 and convert 1e300 with undefined behaviour.
    auto integer = [&](const char* key) -> std::int64_t {
        const nlohmann::json& v = j.at(key);
        if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > INT64_MAX))
            fail<Error>("{}: bad model config: \"{}\" must be an integer, got {}", where, key, v.dump());
        return v.get<std::int64_t>();
    };
    Seq2SeqConfig c;
    try {
        c.src_vocab = integer("src_vocab");
        c.tgt_vocab = integer("tgt_vocab");
        c.embed_size = integer("embed_size");
        c.hidden_size = integer("hidden_size");
        c.num_layers = integer("num_layers");
        c.bidirectional = j.at("bidirectional").get<bool>();
        c.cell = parse_cell_kind(j.at("cell").get<std::string>());
        c.attention = j.at("attention").get<std::string>();
        c.attention_size = integer("attention_size");
        c.window = integer("window");
        c.max_source_len = integer("max_source_len");
        c.input_feeding = j.at("input_feeding").get<bool>();
        c.dropout = j.at("dropout").get<double>();
    } catch (const nlohmann::json::exception& e) {
        fail<Error>("{}: bad model config: {}", where, e.what());
    } catch (const std::invalid_argument& e) {
        fail<Error>("{}: bad model config: {}", where, e.what());
    }
    try {
        c.validate();
    } catch (const std::invalid_argument& e) {
        fail<Error>("{}: {}", where, e.what());
    }
    return c;
}

}  // namespace seqgrad::models
