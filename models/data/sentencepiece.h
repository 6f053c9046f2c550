// Subword tokenization with SentencePiece (Kudo and Richardson 2018; the library OpenNMT and Marian
// use, Debian libsentencepiece-dev): a unigram language model or BPE segmentation learnt from the
// training sentences, so that a rare word becomes pieces the vocabulary has instead of <unk>.
//
// The text is normalised by SentencePiece's nmt_nfkc_cf rule (NFKC plus case folding, so the pieces
// are lower-case as WordTokenizer's words are), whitespace becomes part of the pieces ("▁the"), and
// detokenize joins the pieces back into text. A model is its serialized protocol buffer: trained in
// memory, stored in the model folder (models/model_folder.h) and loaded from those bytes.
//
// Built when SEQGRAD_SENTENCEPIECE is ON (CMake; the default when the library is found); otherwise
// sentencepiece_available() is false and both functions throw seqgrad::Error saying so.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/data/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace seqgrad::data {

struct SentencePieceOptions {
    std::int64_t vocab_size = 4000;  // pieces, SentencePiece's <unk> <s> </s> included
    std::string model_type = "unigram";  // unigram | bpe
    std::uint64_t seed = 1;
};

bool sentencepiece_available();

// Trains a model on `sentences` (one per element) and returns its serialized form. A vocabulary the
// text cannot fill is made smaller, not an error; one too small for the text's characters is an error.
std::string train_sentencepiece(const std::vector<std::string>& sentences, const SentencePieceOptions& options);

class SentencePieceTokenizer final : public Tokenizer {
public:
    // `serialized`: what train_sentencepiece returned; `origin` names it in errors (a file).
    SentencePieceTokenizer(std::string serialized, const std::string& origin);
    ~SentencePieceTokenizer() override;
    std::string name() const override { return "sentencepiece"; }
    std::vector<std::string> tokenize(std::string_view text) const override;
    std::string detokenize(const std::vector<std::string>& tokens) const override;
    const std::string& serialized() const { return serialized_; }
    std::int64_t pieces() const;  // the model's vocabulary size

private:
    std::string serialized_;
    std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
};

}  // namespace seqgrad::data
