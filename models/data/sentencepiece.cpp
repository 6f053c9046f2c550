// SentencePiece training and tokenization (see models/data/sentencepiece.h).
#include "models/data/sentencepiece.h"

#include "core/error.h"
#include "models/data/utf8.h"

#ifdef SEQGRAD_HAVE_SENTENCEPIECE
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#endif

namespace seqgrad::data {

#ifdef SEQGRAD_HAVE_SENTENCEPIECE

namespace {

// The training sentences, handed to the trainer one by one (no temporary file).
class Sentences final : public sentencepiece::SentenceIterator {
public:
    explicit Sentences(const std::vector<std::string>& s) : s_(s) {}
    bool done() const override { return i_ >= s_.size(); }
    void Next() override { ++i_; }
    const std::string& value() const override { return s_[i_]; }
    sentencepiece::util::Status status() const override { return {}; }

private:
    const std::vector<std::string>& s_;
    std::size_t i_ = 0;
};

}  // namespace

bool sentencepiece_available() { return true; }

std::string train_sentencepiece(const std::vector<std::string>& sentences, const SentencePieceOptions& o) {
    if (o.model_type != "unigram" && o.model_type != "bpe")
        fail<Error>("sentencepiece: unknown model type '{}' (valid: unigram, bpe)", o.model_type);
    if (sentences.empty()) fail<Error>("sentencepiece: no training sentences");
    sentencepiece::SetRandomGeneratorSeed(static_cast<unsigned>(o.seed));
    const std::unordered_map<std::string, std::string> args = {
        {"model_type", o.model_type},
        {"vocab_size", std::to_string(o.vocab_size)},
        {"hard_vocab_limit", "false"},      // a small corpus gets the vocabulary it can fill
        {"character_coverage", "1.0"},      // every character of the training text (European languages)
        {"normalization_rule_name", "nmt_nfkc_cf"},
        {"num_threads", "1"},               // the same model on every machine
        {"minloglevel", "2"},               // its progress lines stay off the terminal
        {"max_sentence_length", "65536"},
    };
    Sentences it(sentences);
    std::string model;
    const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &model);
    if (!status.ok()) fail<Error>("sentencepiece: training a {} model of {} pieces failed: {}", o.model_type, o.vocab_size,
                                  status.ToString());
    return model;
}

SentencePieceTokenizer::SentencePieceTokenizer(std::string serialized, const std::string& origin)
    : serialized_(std::move(serialized)), processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
    const auto status = processor_->LoadFromSerializedProto(serialized_);
    if (!status.ok()) fail<Error>("{}: not a SentencePiece model: {}", origin, status.ToString());
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<std::string> SentencePieceTokenizer::tokenize(std::string_view text) const {
    const utf8::Validation v = utf8::validate(text);
    if (!v.ok) fail<Error>("sentencepiece tokenizer: invalid UTF-8 at byte {}: {}", v.offset, v.reason);
    std::vector<std::string> pieces;
    processor_->Encode(text, &pieces);  // cannot fail on valid UTF-8 once loaded
    return pieces;
}

std::string SentencePieceTokenizer::detokenize(const std::vector<std::string>& tokens) const {
    std::string text;
    processor_->Decode(tokens, &text);
    return text;
}

std::int64_t SentencePieceTokenizer::pieces() const { return processor_->GetPieceSize(); }

#else  // built without SentencePiece

namespace {
[[noreturn]] void unavailable() {
    fail<Error>("tokenizer sentencepiece: this build has no SentencePiece (install libsentencepiece-dev and build with "
                "-DSEQGRAD_SENTENCEPIECE=ON)");
}
}  // namespace

bool sentencepiece_available() { return false; }
std::string train_sentencepiece(const std::vector<std::string>&, const SentencePieceOptions&) { unavailable(); }
SentencePieceTokenizer::SentencePieceTokenizer(std::string, const std::string&) { unavailable(); }
SentencePieceTokenizer::~SentencePieceTokenizer() = default;
std::vector<std::string> SentencePieceTokenizer::tokenize(std::string_view) const { unavailable(); }
std::string SentencePieceTokenizer::detokenize(const std::vector<std::string>&) const { unavailable(); }
std::int64_t SentencePieceTokenizer::pieces() const { unavailable(); }

#endif

}  // namespace seqgrad::data
