// UTF-8: every code point round-trips, every malformed sequence class is rejected at the right
// offset (checked against an independent table-driven reference over all 1-, 2- and 3-byte strings),
// and Latin lower-casing.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "models/data/utf8.h"

using namespace seqgrad::data;

namespace {

// Table 3-7 of the Unicode standard ("well-formed UTF-8 byte sequences"), written as byte ranges:
// an independent reference for the validator.
bool reference_valid(const std::string& s) {
    struct Row {
        unsigned char lo[4], hi[4];
        int n;
    };
    static const Row rows[] = {
        {{0x00}, {0x7F}, 1},
        {{0xC2, 0x80}, {0xDF, 0xBF}, 2},
        {{0xE0, 0xA0, 0x80}, {0xE0, 0xBF, 0xBF}, 3},
        {{0xE1, 0x80, 0x80}, {0xEC, 0xBF, 0xBF}, 3},
        {{0xED, 0x80, 0x80}, {0xED, 0x9F, 0xBF}, 3},
        {{0xEE, 0x80, 0x80}, {0xEF, 0xBF, 0xBF}, 3},
        {{0xF0, 0x90, 0x80, 0x80}, {0xF0, 0xBF, 0xBF, 0xBF}, 4},
        {{0xF1, 0x80, 0x80, 0x80}, {0xF3, 0xBF, 0xBF, 0xBF}, 4},
        {{0xF4, 0x80, 0x80, 0x80}, {0xF4, 0x8F, 0xBF, 0xBF}, 4},
    };
    std::size_t i = 0;
    while (i < s.size()) {
        bool matched = false;
        for (const Row& r : rows) {
            if (i + static_cast<std::size_t>(r.n) > s.size()) continue;
            bool ok = true;
            for (int k = 0; k < r.n && ok; ++k) {
                const auto b = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
                ok = b >= r.lo[k] && b <= r.hi[k];
            }
            if (ok) {
                i += static_cast<std::size_t>(r.n);
                matched = true;
                break;
            }
        }
        if (!matched) return false;
    }
    return true;
}

std::string bytes(std::initializer_list<int> b) {
    std::string s;
    for (int x : b) s += static_cast<char>(x);
    return s;
}

}  // namespace

TEST_CASE("utf8: every code point round-trips through encode and decode", "[utf8]") {
    std::size_t checked = 0;
    for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        const std::string e = utf8::encode(cp);
        const std::size_t expected_len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        std::size_t pos = 0;
        const char32_t back = utf8::decode_next(e, pos);
        if (back != cp || pos != expected_len || e.size() != expected_len) {
            FAIL("code point " << utf8::code_point_name(cp) << " did not round-trip");
        }
        ++checked;
    }
    CHECK(checked == 0x110000 - 0x800);
}

TEST_CASE("utf8: known encodings, split and length", "[utf8]") {
    CHECK(utf8::encode(U'é') == "\xC3\xA9");
    CHECK(utf8::encode(0x20AC) == "\xE2\x82\xAC");      // €
    CHECK(utf8::encode(0x1F600) == "\xF0\x9F\x98\x80");  // 😀
    CHECK(utf8::encode(0x10FFFF) == "\xF4\x8F\xBF\xBF");
    const std::string s = "aé€\xF0\x9F\x98\x80";
    CHECK(utf8::decode(s) == std::vector<char32_t>{U'a', 0xE9, 0x20AC, 0x1F600});
    CHECK(utf8::split(s) == std::vector<std::string>{"a", "é", "€", "\xF0\x9F\x98\x80"});
    CHECK(utf8::split("") .empty());
    CHECK(utf8::length(s) == 4);
    CHECK(utf8::length("l’homme") == 7);
}

TEST_CASE("utf8: each kind of malformed sequence is rejected at its offset with a reason", "[utf8]") {
    struct Case {
        std::string text;
        std::size_t offset;
        std::string reason_part;
    };
    const std::vector<Case> cases = {
        {"ab" + bytes({0xC0, 0xAF}), 2, "overlong encoding of U+002F"},
        {bytes({0xE0, 0x80, 0xAF}), 0, "overlong encoding of U+002F"},
        {bytes({0xF0, 0x80, 0x80, 0xAF}), 0, "overlong"},
        {bytes({0xC1, 0xBF}), 0, "overlong encoding of U+007F"},
        {"x" + bytes({0xED, 0xA0, 0x80}), 1, "surrogate U+D800"},
        {bytes({0xED, 0xBF, 0xBF}), 0, "surrogate U+DFFF"},
        {bytes({0xF4, 0x90, 0x80, 0x80}), 0, "U+110000 is above U+10FFFF"},
        {bytes({0xF7, 0xBF, 0xBF, 0xBF}), 0, "above U+10FFFF"},
        {"abc" + bytes({0xC3}), 3, "needs 2 bytes but the text ends after 1"},
        {bytes({0xE2, 0x82}), 0, "needs 3 bytes but the text ends after 2"},
        {"é" + bytes({0xC3, 'A'}), 2, "byte 0x41 at offset 3 is not a continuation byte"},
        {bytes({0x80}), 0, "unexpected continuation byte 0x80"},
        {"ok" + bytes({0xFF}), 2, "invalid byte 0xFF"},
        {bytes({0xF8, 0x80, 0x80, 0x80, 0x80}), 0, "invalid byte 0xF8"},
    };
    for (const auto& c : cases) {
        INFO("case with expected reason: " << c.reason_part);
        const utf8::Validation v = utf8::validate(c.text);
        CHECK_FALSE(v.ok);
        CHECK(v.offset == c.offset);
        CHECK_THAT(v.reason, Catch::Contains(c.reason_part));
        std::size_t pos = c.offset;
        CHECK_THROWS_AS(utf8::decode_next(c.text, pos), seqgrad::Error);
        CHECK(pos == c.offset);  // unchanged on error
        CHECK_THROWS_WITH(utf8::decode(c.text), Catch::Contains(fmt::format("invalid UTF-8 at byte {}", c.offset)) &&
                                                    Catch::Contains(c.reason_part));
        CHECK_THROWS_AS(utf8::split(c.text), seqgrad::Error);
    }
}

TEST_CASE("utf8: the validator agrees with the Unicode table on every string of up to 3 bytes", "[utf8]") {
    std::size_t disagreements = 0;
    std::string s;
    for (int a = 0; a < 256; ++a) {
        s = bytes({a});
        disagreements += utf8::is_valid(s) != reference_valid(s);
        for (int b = 0; b < 256; ++b) {
            s = bytes({a, b});
            disagreements += utf8::is_valid(s) != reference_valid(s);
        }
    }
    // Three bytes: every lead from 0xC2 up (the interesting ones), every second and third byte.
    for (int a = 0xC2; a < 256; ++a)
        for (int b = 0; b < 256; ++b)
            for (int c = 0; c < 256; ++c) {
                s = bytes({a, b, c});
                disagreements += utf8::is_valid(s) != reference_valid(s);
            }
    CHECK(disagreements == 0);
    // And a handful of four-byte edges.
    CHECK(utf8::is_valid(bytes({0xF0, 0x90, 0x80, 0x80})));   // U+10000
    CHECK_FALSE(utf8::is_valid(bytes({0xF0, 0x8F, 0xBF, 0xBF})));  // overlong U+FFFF
    CHECK(utf8::is_valid(bytes({0xF4, 0x8F, 0xBF, 0xBF})));   // U+10FFFF
}

TEST_CASE("utf8: encode refuses surrogates and values above U+10FFFF", "[utf8]") {
    CHECK_THROWS_AS(utf8::encode(0xD800), seqgrad::Error);
    CHECK_THROWS_WITH(utf8::encode(0xDFFF), Catch::Contains("surrogate U+DFFF"));
    CHECK_THROWS_WITH(utf8::encode(0x110000), Catch::Contains("U+110000 is above U+10FFFF"));
}

TEST_CASE("utf8: lower-casing of ASCII, Latin-1 and Latin Extended-A", "[utf8]") {
    CHECK(utf8::to_lower("HELLO, World!") == "hello, world!");
    CHECK(utf8::to_lower("ÉCOLE À ÇA ŒUVRE") == "école à ça œuvre");
    CHECK(utf8::to_lower("ÀÂÄÈÉÊËÎÏÔÖÙÛÜŸÆ") == "àâäèéêëîïôöùûüÿæ");
    CHECK(utf8::to_lower("ĲŁŃŽĀĞŠ") == "ĳłńžāğš");  // even-upper and odd-upper runs of Extended-A
    CHECK(utf8::to_lower("İ") == "i");
    CHECK(utf8::to_lower("×ßıſ") == "×ßıſ");  // not letters, or lower-case without an upper pair here
    CHECK(utf8::to_lower("ΣΑΣ Д") == "ΣΑΣ Д");  // outside the table: unchanged
    // Every mapping is idempotent and stays inside the table's range.
    for (char32_t c = 0; c <= 0x17F; ++c) {
        const char32_t l = utf8::to_lower(c);
        CHECK(utf8::to_lower(l) == l);
        CHECK(l <= 0x17F);
    }
    CHECK_THROWS_AS(utf8::to_lower(bytes({'A', 0xC3})), seqgrad::Error);
}

TEST_CASE("utf8: Latin letters", "[utf8]") {
    for (char32_t c : {U'a', U'Z', U'é', U'Ç', U'œ', U'ÿ', U'ł', char32_t{0x24F}}) CHECK(utf8::is_latin_letter(c));
    for (char32_t c : {U'1', U' ', U'\'', U'×', U'÷', U'«', char32_t{0x2019}, char32_t{0x3B1}})
        CHECK_FALSE(utf8::is_latin_letter(c));
}
