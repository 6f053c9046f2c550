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

// The tokenizers of the model's two sides. A sentencepiece side needs its trained model; where none
// is given (before training one), a WordTokenizer stands in for it.
struct SideTokenizers {
    std::shared_ptr<const data::Tokenizer> source, target;
};
SideTokenizers make_side_tokenizers(const DataSource& source, const SideTokenizers* trained = nullptr);

// Reads the corpus a DataSource names (bundled task or file), with its filters. The filters (--max-len)
// count words on a sentencepiece side; its pieces come from `trained` (without it, its words).
data::Corpus load_corpus(const DataSource& source, bool strict = false, const SideTokenizers* trained = nullptr);
// Tokenizes each pair's texts again with the sentencepiece sides' models (the other sides keep their tokens).
void retokenize(data::Corpus& corpus, const DataSource& source, const SideTokenizers& trained);

struct Translation {
    std::vector<std::string> source_tokens;
    std::vector<std::string> output_tokens;      // the output's words (<pad>, <sos> the model may emit are left out)
    std::vector<std::int64_t> output_ids;        // every token decoded, without <eos>: one per attention row
    std::string text;                            // detokenized output
    std::vector<std::vector<float>> attention;   // [output tokens + <eos>][source tokens]
    std::vector<LayerAttention> layer_attention; // [output tokens + <eos>][layer][head][source tokens], when asked
    double log_prob = 0;
    double score = 0;                            // log_prob / length penalty (models/decoding.h)
    bool ended = false;                          // the model produced <eos> (not stopped by the length limit)
};

// The trained sentencepiece models of a model folder's sentencepiece sides (empty for the others).
SideTokenizers read_side_tokenizers(const ModelFolder& folder, const DataSource& source);

class Translator {
public:
    // A new model (make_model) for the vocabularies; config's vocabulary sizes are filled in from them.
    // `trained`: the sentencepiece sides' tokenizers (required for those sides).
    Translator(ModelConfig config, data::Vocab source_vocab, data::Vocab target_vocab, DataSource source,
               Generator* gen = nullptr, const SideTokenizers& trained = {});
    // Loads DIR/config.json, the vocabularies and DIR/<weights>; every problem names the file.
    static Translator load(const std::string& dir, const std::string& weights = "model.safetensors");
    // Writes config.json and the vocabularies (weights are saved by the trainer).
    void save_definition(const std::string& dir, const std::string& extra_json = "{}") const;

    Translation translate(const std::string& sentence, std::int64_t beam = 1, std::int64_t max_len = 0) const;
    // Every attention map of a translation's teacher-forced pass (models/translation_model.h), for
    // pictures: rows are the translation's attention rows (its output tokens, then <eos> when it
    // ended). Empty for a model with a single attention.
    std::vector<AttentionMap> attention_maps(const Translation& translation) const;
    // The options' n_best translations, best first (max_len 0: default_max_len).
    std::vector<Translation> translate_n_best(const std::string& sentence, const DecodeOptions& options) const;
    // Many token lists at once (evaluation; greedy runs them as batches): the best hypothesis of each.
    std::vector<Hypothesis> decode_tokens(const std::vector<std::vector<std::string>>& sources,
                                          const DecodeOptions& options = {}) const;
    std::vector<std::vector<std::string>> translate_tokens(const std::vector<std::vector<std::string>>& sources,
                                                           const DecodeOptions& options = {}) const;

    TranslationModel& model() { return *model_; }
    const TranslationModel& model() const { return *model_; }
    const data::Vocab& source_vocab() const { return source_vocab_; }
    const data::Vocab& target_vocab() const { return target_vocab_; }
    const data::Tokenizer& source_tokenizer() const { return *tokenizers_.source; }
    const data::Tokenizer& target_tokenizer() const { return *tokenizers_.target; }
    const SideTokenizers& tokenizers() const { return tokenizers_; }
    // The tokens BLEU, exact match and token accuracy compare: a target's tokens as they are, except
    // sentencepiece pieces, which are scored as the words of their text (WordTokenizer), so scores
    // are comparable with a word-level model's.
    std::vector<std::string> scoring_tokens(const std::vector<std::string>& target_tokens) const;
    const DataSource& data_source() const { return source_; }
    std::int64_t default_max_len(std::size_t source_len) const;

private:
    std::shared_ptr<TranslationModel> model_;
    data::Vocab source_vocab_, target_vocab_;
    DataSource source_;
    SideTokenizers tokenizers_;
};

}  // namespace seqgrad::models
