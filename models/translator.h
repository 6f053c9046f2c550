// A trained translator as it lives in a model folder (models/model_folder.h), and what is needed to
// use it: the model (any architecture, through models/translation_model.h), both vocabularies and
// tokenizers, and the data settings it was trained with.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/data/corpus.h"
#include "models/data/tokenizer.h"
#include "models/data/vocab.h"
#include "models/decoding.h"
#include "models/model_folder.h"
#include "models/translation_model.h"

namespace seqgrad::models {

// The bundled tasks and the path of their corpus (data/<task>.tsv).
const std::vector<std::string>& task_names();
std::string task_file(const std::string& task);
// The tokenizers a bundled task uses (dates: characters; others: words).
std::pair<std::string, std::string> task_tokenizers(const std::string& task);

// The tokenizers of the model's source and target sides. DataSource::source_tokenizer and
// target_tokenizer (--source-tokenizer, --target-tokenizer) belong to the file's first and second
// columns; with reverse the second column is the source, so the two swap.
std::pair<std::string, std::string> side_tokenizers(const DataSource& source);

// Reads the corpus a DataSource names (bundled task or file), with its filters.
data::Corpus load_corpus(const DataSource& source, bool strict = false);

struct Translation {
    std::vector<std::string> source_tokens;
    std::vector<std::string> output_tokens;      // the output's words (<pad>, <sos> the model may emit are left out)
    std::vector<std::int64_t> output_ids;        // every token decoded, without <eos>: one per attention row
    std::string text;                            // detokenized output
    std::vector<std::vector<float>> attention;   // [output tokens + <eos>][source tokens]
    double log_prob = 0;
    bool ended = false;                          // the model produced <eos> (not stopped by the length limit)
};

class Translator {
public:
    // A new model (make_model) for the vocabularies; config's vocabulary sizes are filled in from them.
    Translator(ModelConfig config, data::Vocab source_vocab, data::Vocab target_vocab, DataSource source,
               Generator* gen = nullptr);
    // Loads DIR/config.json, the vocabularies and DIR/<weights>; every problem names the file.
    static Translator load(const std::string& dir, const std::string& weights = "model.safetensors");
    // Writes config.json and the vocabularies (weights are saved by the trainer).
    void save_definition(const std::string& dir, const std::string& extra_json = "{}") const;

    Translation translate(const std::string& sentence, std::int64_t beam = 1, std::int64_t max_len = 0) const;
    // Every attention map of a translation's teacher-forced pass (models/translation_model.h), for
    // pictures: rows are the translation's attention rows (its output tokens, then <eos> when it
    // ended). Empty for a model with a single attention.
    std::vector<AttentionMap> attention_maps(const Translation& translation) const;
    // Greedy translation of many token lists at once (evaluation).
    std::vector<std::vector<std::string>> translate_tokens(const std::vector<std::vector<std::string>>& sources,
                                                           std::int64_t beam = 1, std::int64_t max_len = 0) const;

    TranslationModel& model() { return *model_; }
    const TranslationModel& model() const { return *model_; }
    const data::Vocab& source_vocab() const { return source_vocab_; }
    const data::Vocab& target_vocab() const { return target_vocab_; }
    const data::Tokenizer& source_tokenizer() const { return *source_tokenizer_; }
    const data::Tokenizer& target_tokenizer() const { return *target_tokenizer_; }
    const DataSource& data_source() const { return source_; }
    std::int64_t default_max_len(std::size_t source_len) const;

private:
    std::shared_ptr<TranslationModel> model_;
    data::Vocab source_vocab_, target_vocab_;
    DataSource source_;
    std::shared_ptr<data::Tokenizer> source_tokenizer_, target_tokenizer_;
};

}  // namespace seqgrad::models
