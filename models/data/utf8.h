// UTF-8 for the text side of the translator: strict decoding and validation, encoding one code
// point, splitting a string into code points, and a small lower-casing table. Written by hand (no
// ICU, no <codecvt>, which is deprecated) so that every rule is visible and the same on every system.
//
// "Strict" follows the Unicode standard (table 3-7, "well-formed UTF-8 byte sequences"): overlong
// forms (C0 80 for U+0000), UTF-16 surrogates (ED A0 80 .. ED BF BF), code points above U+10FFFF
// (F4 90 80 80 and up, F5..FF) and sequences cut short are all rejected. A corpus saved as Latin-1
// or CP-1252 shows up here as an invalid byte at a known offset instead of as garbage tokens later.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace seqgrad::data::utf8 {

// The result of checking a string. On failure `offset` is the byte offset (0-based) of the first
// byte of the first invalid sequence and `reason` says what is wrong with it, e.g.
// "overlong encoding of U+002F (2 bytes where 1 suffice)".
struct Validation {
    bool ok = true;
    std::size_t offset = 0;
    std::string reason;
};

// Checks a whole string (typically one line of a corpus); never throws.
Validation validate(std::string_view s);
bool is_valid(std::string_view s);

// "U+00E9": how error messages name a code point.
std::string code_point_name(char32_t cp);

// Decodes the code point starting at s[pos] and advances pos past it. Throws seqgrad::Error
// "invalid UTF-8 at byte N: reason" on invalid input and seqgrad::IndexError when pos is past the end.
char32_t decode_next(std::string_view s, std::size_t& pos);

// The value decode_lenient gives for a byte that does not start a valid sequence.
constexpr char32_t kInvalid = 0xFFFFFFFF;

// Lenient decoding, for display (terminal columns, SVG text): the code point at s[pos] (pos <
// s.size()), advancing pos past it. A sequence that decode_next would reject (by the same rules)
// consumes one byte and gives kInvalid, so a caller can show one replacement character and go on.
// The one UTF-8 decoder behind the terminal's widths and the SVG writer's escaping.
char32_t decode_lenient(std::string_view s, std::size_t& pos);

// Decodes a whole string; throws seqgrad::Error on invalid input.
std::vector<char32_t> decode(std::string_view s);

// Encodes one code point; throws seqgrad::Error for surrogates and values above U+10FFFF.
std::string encode(char32_t cp);
void append(std::string& out, char32_t cp);

// One std::string per code point ("été" -> {"é", "t", "é"}); throws on invalid input.
std::vector<std::string> split(std::string_view s);

// Number of code points; throws on invalid input.
std::size_t length(std::string_view s);

// Simple (one-to-one) lower-casing of ASCII, Latin-1 (À..Þ except ×) and Latin Extended-A
// (Ā..ž, Œ→œ, Ÿ→ÿ, İ→i). Everything else is returned unchanged; no locale is consulted.
char32_t to_lower(char32_t c);
std::string to_lower(std::string_view s);   // throws on invalid input

// Letters of the Latin script: a-z, A-Z, ª µ º, Latin-1 letters (not × ÷), U+0100..U+024F.
bool is_latin_letter(char32_t c);

}  // namespace seqgrad::data::utf8
