// The recurrent translator's options (architecture "rnn"): sizes, cell, attention, input feeding.
// Its JSON is config.json's "model" object for an rnn model (models/translation_model.h adds the
// "architecture" key); the field names are those of every model folder written so far.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace seqgrad::models {

enum class CellKind { GRU, LSTM };
CellKind parse_cell_kind(const std::string& name);
std::string cell_kind_name(CellKind kind);

// What Seq2SeqConfig::attention accepts: "none", every score of layers/attention.h
// (nn::attention_kind_names()), and "hard". The command line's allowed values read this list.
std::vector<std::string> attention_names();

struct Seq2SeqConfig {
    std::int64_t src_vocab = 0;
    std::int64_t tgt_vocab = 0;
    std::int64_t embed_size = 128;
    std::int64_t hidden_size = 128;
    std::int64_t num_layers = 1;
    bool bidirectional = false;
    CellKind cell = CellKind::GRU;
    std::string attention = "additive";  // none, hard, or a name parse_attention_kind accepts
    bool attends() const { return attention != "none"; }
    std::int64_t attention_size = 0;  // 0: hidden_size
    std::int64_t window = 4;          // D for local attention
    std::int64_t max_source_len = 64; // for location attention
    bool input_feeding = false;
    double dropout = 0.0;

    std::string to_json() const;
    // `where` names the file in error messages.
    static Seq2SeqConfig from_json(const std::string& text, const std::string& where);
    void validate() const;
};

}  // namespace seqgrad::models
