// Word and character tokenizers; the rules are listed in models/data/tokenizer.h.
#include "models/data/tokenizer.h"

#include <fmt/ranges.h>

#include "core/error.h"
#include "models/data/utf8.h"

namespace seqgrad::data {

namespace {

enum class Kind { Space, Punct, Apostrophe, Word };

// Punctuation that always stands alone as a token.
bool is_punct(char32_t c) {
    switch (c) {
        case U'.': case U'!': case U'?': case U',': case U';': case U':':
        case U'"': case U'(': case U')':
        case 0xAB:    // «
        case 0xBB:    // »
        case 0x2026:  // …
            return true;
        default:
            return false;
    }
}

// Rule 2 of the header: typographic quotes to their ASCII form.
char32_t normalise_quote(char32_t c) {
    switch (c) {
        case 0x2019: case 0x2018: case 0x02BC: return U'\'';  // ’ ‘ ʼ
        case 0x201C: case 0x201D: case 0x201E: return U'"';   // “ ” „
        default: return c;
    }
}

Kind kind_of(char32_t c) {
    if (is_space(c)) return Kind::Space;
    if (c == U'\'') return Kind::Apostrophe;
    if (is_punct(c)) return Kind::Punct;
    return Kind::Word;
}

// Decodes, turning a bad byte into an error that names the tokenizer.
std::vector<char32_t> decode_or_throw(const char* who, std::string_view text) {
    const utf8::Validation v = utf8::validate(text);
    if (!v.ok) fail<Error>("{} tokenizer: invalid UTF-8 at byte {}: {}", who, v.offset, v.reason);
    return utf8::decode(text);
}

}  // namespace

bool is_space(char32_t c) {
    if (c == U' ' || (c >= 0x09 && c <= 0x0D)) return true;
    if (c < 0x85) return false;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

std::vector<std::string> WordTokenizer::tokenize(std::string_view text) const {
    std::vector<char32_t> cps = decode_or_throw("word", text);
    for (char32_t& c : cps) c = utf8::to_lower(normalise_quote(c));

    std::vector<std::string> tokens;
    std::string word;
    auto flush = [&] {
        if (!word.empty()) tokens.push_back(std::move(word));
        word.clear();
    };
    for (std::size_t i = 0; i < cps.size(); ++i) {
        const char32_t c = cps[i];
        switch (kind_of(c)) {
            case Kind::Space:
                flush();
                break;
            case Kind::Punct:
                flush();
                tokens.push_back(utf8::encode(c));
                break;
            case Kind::Apostrophe: {
                // Rule 6: inside a word only when word characters touch it on both sides.
                const bool inside = i > 0 && kind_of(cps[i - 1]) == Kind::Word && i + 1 < cps.size() &&
                                    kind_of(cps[i + 1]) == Kind::Word;
                if (inside) {
                    word += '\'';
                } else {
                    flush();
                    tokens.emplace_back("'");
                }
                break;
            }
            case Kind::Word:
                utf8::append(word, c);
                break;
        }
    }
    flush();
    return tokens;
}

std::string WordTokenizer::detokenize(const std::vector<std::string>& tokens) const {
    std::string out;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        if (i) out += ' ';
        out += tokens[i];
    }
    return out;
}

std::vector<std::string> CharTokenizer::tokenize(std::string_view text) const {
    const std::vector<char32_t> cps = decode_or_throw("char", text);
    std::vector<std::string> tokens;
    bool pending_space = false;
    for (char32_t c : cps) {
        if (is_space(c)) {
            pending_space = !tokens.empty();  // leading whitespace is dropped
            continue;
        }
        if (pending_space) tokens.emplace_back(space_token);
        pending_space = false;
        tokens.push_back(utf8::encode(options_.lowercase ? utf8::to_lower(c) : c));
    }
    return tokens;  // trailing whitespace never emitted: pending_space is dropped here
}

std::string CharTokenizer::detokenize(const std::vector<std::string>& tokens) const {
    std::string out;
    for (const std::string& t : tokens) out += (t == space_token) ? std::string(" ") : t;
    return out;
}

const std::vector<std::string>& tokenizer_names() {
    static const std::vector<std::string> names = {"word", "char"};
    return names;
}

std::unique_ptr<Tokenizer> make_tokenizer(std::string_view name) {
    if (name == "word") return std::make_unique<WordTokenizer>();
    if (name == "char") return std::make_unique<CharTokenizer>();
    fail<Error>("unknown tokenizer \"{}\": valid tokenizers are {}", name, fmt::join(tokenizer_names(), ", "));
}

}  // namespace seqgrad::data
