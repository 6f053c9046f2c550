// Tokenizers: text -> tokens for the translator, and tokens -> text for showing its output.
//
// WordTokenizer follows the normalisation of the PyTorch seq2seq tutorial (normalizeString: lower-
// case, put spaces around . ! ?) but keeps what a French corpus needs instead of dropping everything
// outside a-z. The rules, in order:
//   1. The input must be valid UTF-8 (else seqgrad::Error naming the byte offset and the reason).
//   2. Typographic apostrophes ’ ‘ ʼ become ', typographic double quotes “ ” „ become ".
//   3. Lower-case ASCII, Latin-1 and Latin Extended-A letters (É→é, Ç→ç, Œ→œ).
//   4. Whitespace (space, tab, CR, LF, no-break space U+00A0, narrow no-break space U+202F, thin space
//      U+2009, ...) separates tokens; runs of it collapse.
//   5. Each of  . ! ? , ; : « » " ( )  and the ellipsis … is a token of its own, whatever touches it.
//   6. The apostrophe rule: an apostrophe with a word character on both sides belongs to the word, so
//      "don't", "l'homme", "aujourd'hui" and "j'ai" are single tokens; any other apostrophe (leading,
//      trailing, alone, as in 'quoted' or students') is a token "'" of its own.
//   7. Every other code point (letters of any script, digits, hyphens, symbols) is a word character:
//      "peut-être" and "10%" stay whole.
// detokenize joins with single spaces, so tokenize(detokenize(t)) == t for every tokenize output t.
//
// CharTokenizer makes one token per code point. Runs of whitespace become one visible token "▁"
// (U+2581, as in SentencePiece), leading and trailing whitespace is dropped; detokenize concatenates
// and turns "▁" back into a space. It keeps case unless asked to lower-case.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace seqgrad::data {

class Tokenizer {
public:
    virtual ~Tokenizer() = default;
    // "word" or "char": the name make_tokenizer takes back.
    virtual std::string name() const = 0;
    virtual std::vector<std::string> tokenize(std::string_view text) const = 0;
    virtual std::string detokenize(const std::vector<std::string>& tokens) const = 0;
};

class WordTokenizer final : public Tokenizer {
public:
    std::string name() const override { return "word"; }
    std::vector<std::string> tokenize(std::string_view text) const override;
    std::string detokenize(const std::vector<std::string>& tokens) const override;
};

struct CharTokenizerOptions {
    bool lowercase = false;
};

class CharTokenizer final : public Tokenizer {
public:
    // The visible space token, U+2581 LOWER ONE EIGHTH BLOCK.
    static constexpr std::string_view space_token = "\xE2\x96\x81";

    CharTokenizer() = default;
    explicit CharTokenizer(CharTokenizerOptions options) : options_(options) {}
    std::string name() const override { return "char"; }
    std::vector<std::string> tokenize(std::string_view text) const override;
    std::string detokenize(const std::vector<std::string>& tokens) const override;

private:
    CharTokenizerOptions options_;
};

// The names make_tokenizer accepts: {"word", "char"}.
const std::vector<std::string>& tokenizer_names();

// A tokenizer by name; an unknown name throws seqgrad::Error listing the valid ones.
std::unique_ptr<Tokenizer> make_tokenizer(std::string_view name);

// True for the whitespace code points the tokenizers separate on (ASCII space, \t \n \v \f \r,
// U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000).
bool is_space(char32_t cp);

}  // namespace seqgrad::data
