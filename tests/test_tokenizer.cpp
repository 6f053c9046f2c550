// Word and character tokenizers: the tutorial's normalisation, French typography (é à ç ’ « »),
// the apostrophe rule, whitespace, round trips, invalid UTF-8 and the factory.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "models/data/tokenizer.h"

using namespace seqgrad::data;
using Tokens = std::vector<std::string>;

TEST_CASE("tokenizer: word tokenizer does the tutorial's normalisation", "[tokenizer]") {
    WordTokenizer w;
    // normalizeString lower-cases and puts a space before . ! ?
    CHECK(w.tokenize("Go.") == Tokens{"go", "."});
    CHECK(w.tokenize("I won!") == Tokens{"i", "won", "!"});
    CHECK(w.tokenize("Who are you?") == Tokens{"who", "are", "you", "?"});
    CHECK(w.tokenize("  Hi.   How are\tyou?  ") == Tokens{"hi", ".", "how", "are", "you", "?"});
    CHECK(w.tokenize("").empty());
    CHECK(w.tokenize(" \t \r\n ").empty());
}

TEST_CASE("tokenizer: word tokenizer keeps accented letters and splits French punctuation", "[tokenizer]") {
    WordTokenizer w;
    // Tatoeba writes a no-break space (U+00A0) or a narrow one (U+202F) before ! ? : ; and inside « ».
    CHECK(w.tokenize("Va\u00A0!") == Tokens{"va", "!"});
    CHECK(w.tokenize("Qui es-tu\u202F?") == Tokens{"qui", "es-tu", "?"});
    CHECK(w.tokenize("Il a dit «\u00A0Ça va\u00A0» ; puis : rien.") ==
          Tokens{"il", "a", "dit", "«", "ça", "va", "»", ";", "puis", ":", "rien", "."});
    CHECK(w.tokenize("ÉCOLE, À Noël (Œuvre) GARÇON") ==
          Tokens{"école", ",", "à", "noël", "(", "œuvre", ")", "garçon"});
    CHECK(w.tokenize("Il a dit \"non\"…") == Tokens{"il", "a", "dit", "\"", "non", "\"", "…"});
    CHECK(w.tokenize("“Bonjour” „Tag“") == Tokens{"\"", "bonjour", "\"", "\"", "tag", "\""});
    CHECK(w.tokenize("peut-être 10% 3.5") == Tokens{"peut-être", "10%", "3", ".", "5"});
}

TEST_CASE("tokenizer: the apostrophe rule", "[tokenizer]") {
    WordTokenizer w;
    // Inside a word (word characters on both sides) the apostrophe belongs to the word.
    CHECK(w.tokenize("Don't") == Tokens{"don't"});
    CHECK(w.tokenize("L'homme d'aujourd'hui") == Tokens{"l'homme", "d'aujourd'hui"});
    // The typographic apostrophe is the same character after normalisation.
    CHECK(w.tokenize("L’homme m’a quittée.") == Tokens{"l'homme", "m'a", "quittée", "."});
    CHECK(w.tokenize("J‘ai") == Tokens{"j'ai"});
    // Anywhere else it is a token of its own.
    CHECK(w.tokenize("'Quoted'") == Tokens{"'", "quoted", "'"});
    CHECK(w.tokenize("the students' books") == Tokens{"the", "students", "'", "books"});
    CHECK(w.tokenize("l' homme") == Tokens{"l", "'", "homme"});
    CHECK(w.tokenize("'") == Tokens{"'"});
    CHECK(w.tokenize("l''x") == Tokens{"l", "'", "'", "x"});
    CHECK(w.tokenize("it's.") == Tokens{"it's", "."});
}

TEST_CASE("tokenizer: word detokenize then tokenize gives the same tokens", "[tokenizer]") {
    WordTokenizer w;
    for (const char* text : {"Je n’ai pas « vu » l’homme, hier !", "  'Hello' (world) ; ok : fine…  ",
                             "C'est l'été\u00A0?", "students' books", "a\tb\nc"}) {
        const Tokens t = w.tokenize(text);
        INFO(text);
        CHECK_FALSE(t.empty());
        CHECK(w.tokenize(w.detokenize(t)) == t);
    }
    CHECK(w.detokenize({"je", "n'ai", "pas", "vu", "."}) == "je n'ai pas vu .");
    CHECK(w.detokenize({}).empty());
}

TEST_CASE("tokenizer: invalid UTF-8 is an error naming the byte", "[tokenizer]") {
    WordTokenizer w;
    CharTokenizer c;
    const std::string bad = std::string("abc") + '\xC3' + "(";
    CHECK_THROWS_AS(w.tokenize(bad), seqgrad::Error);
    CHECK_THROWS_WITH(w.tokenize(bad), Catch::Contains("word tokenizer: invalid UTF-8 at byte 3") &&
                                           Catch::Contains("not a continuation byte"));
    CHECK_THROWS_WITH(c.tokenize(std::string("\xED\xA0\x80")), Catch::Contains("char tokenizer: invalid UTF-8 at byte 0") &&
                                                                  Catch::Contains("surrogate"));
    CHECK_THROWS_WITH(w.tokenize(std::string("x\xC0\xAF")), Catch::Contains("overlong"));
}

TEST_CASE("tokenizer: char tokenizer makes one token per code point with a visible space", "[tokenizer]") {
    CharTokenizer c;
    const std::string sp(CharTokenizer::space_token);
    CHECK(sp == "▁");
    CHECK(c.tokenize("Né là") == Tokens{"N", "é", sp, "l", "à"});
    CHECK(c.tokenize("  a \t\u00A0 b  ") == Tokens{"a", sp, "b"});  // runs collapse, ends trimmed
    CHECK(c.tokenize("9 May '98") == Tokens{"9", sp, "M", "a", "y", sp, "'", "9", "8"});
    CHECK(c.tokenize("l’été") == Tokens{"l", "’", "é", "t", "é"});  // raw characters, nothing mapped
    CHECK(c.tokenize("").empty());
    CHECK(c.detokenize(c.tokenize("Saturday 9 May 1998")) == "Saturday 9 May 1998");
    CHECK(c.detokenize({"a", sp, "b"}) == "a b");
    CharTokenizer lower(CharTokenizerOptions{.lowercase = true});
    CHECK(lower.tokenize("ÉtÉ A") == Tokens{"é", "t", "é", sp, "a"});
}

TEST_CASE("tokenizer: factory by name and the common interface", "[tokenizer]") {
    CHECK(tokenizer_names() == Tokens{"word", "char"});
    for (const auto& name : tokenizer_names()) {
        const auto t = make_tokenizer(name);
        REQUIRE(t);
        CHECK(t->name() == name);
    }
    const std::unique_ptr<Tokenizer> w = make_tokenizer("word");
    CHECK(w->tokenize("Ça va ?") == Tokens{"ça", "va", "?"});
    const std::unique_ptr<Tokenizer> c = make_tokenizer("char");
    CHECK(c->tokenize("ab") == Tokens{"a", "b"});
    CHECK_THROWS_AS(make_tokenizer("bpe"), seqgrad::Error);
    CHECK_THROWS_WITH(make_tokenizer("bpe"),
                      Catch::Contains("unknown tokenizer \"bpe\"") && Catch::Contains("word, char"));
}
