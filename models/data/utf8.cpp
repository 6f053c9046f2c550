// UTF-8 decoding, validation, encoding and Latin lower-casing; see models/data/utf8.h for the rules.
#include "models/data/utf8.h"

#include "core/error.h"

namespace seqgrad::data::utf8 {

namespace {

// Decodes one sequence at s[pos]. On success sets cp and len and returns true; otherwise fills
// `reason` (when not null) and returns false. This is the one place that knows the encoding rules.
bool try_decode(std::string_view s, std::size_t pos, char32_t& cp, std::size_t& len, std::string* reason) {
    const auto b0 = static_cast<unsigned char>(s[pos]);
    if (b0 < 0x80) {
        cp = b0;
        len = 1;
        return true;
    }
    if (b0 < 0xC0) {
        if (reason) *reason = fmt::format("unexpected continuation byte 0x{:02X} (no lead byte before it)", b0);
        return false;
    }
    if (b0 >= 0xF8) {
        if (reason) *reason = fmt::format("invalid byte 0x{:02X} (never appears in UTF-8)", b0);
        return false;
    }
    // Length from the lead byte's high bits: 110xxxxx = 2, 1110xxxx = 3, 11110xxx = 4.
    const std::size_t need = b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
    char32_t value = b0 & (need == 2 ? 0x1F : need == 3 ? 0x0F : 0x07);
    for (std::size_t i = 1; i < need; ++i) {
        if (pos + i >= s.size()) {
            if (reason) *reason = fmt::format("truncated sequence: lead byte 0x{:02X} needs {} bytes but the text ends after {}",
                                 b0, need, i);
            return false;
        }
        const auto b = static_cast<unsigned char>(s[pos + i]);
        if ((b & 0xC0) != 0x80) {
            if (reason) *reason = fmt::format(
                "truncated sequence: lead byte 0x{:02X} needs {} bytes but byte 0x{:02X} at offset {} is not a "
                "continuation byte",
                b0, need, b, pos + i);
            return false;
        }
        value = (value << 6) | (b & 0x3F);
    }
    static constexpr char32_t smallest[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (value < smallest[need]) {
        if (reason) *reason = fmt::format("overlong encoding of {} ({} bytes where {} suffice)", code_point_name(value), need,
                             value < 0x80 ? 1 : value < 0x800 ? 2 : 3);
        return false;
    }
    if (value >= 0xD800 && value <= 0xDFFF) {
        if (reason) *reason = fmt::format("UTF-16 surrogate {} is not a valid code point", code_point_name(value));
        return false;
    }
    if (value > 0x10FFFF) {
        if (reason) *reason = fmt::format("code point {} is above U+10FFFF", code_point_name(value));
        return false;
    }
    cp = value;
    len = need;
    return true;
}

}  // namespace

std::string code_point_name(char32_t cp) { return fmt::format("U+{:04X}", static_cast<std::uint32_t>(cp)); }

Validation validate(std::string_view s) {
    std::size_t pos = 0;
    char32_t cp = 0;
    std::size_t len = 0;
    std::string reason;
    while (pos < s.size()) {
        if (!try_decode(s, pos, cp, len, &reason)) return {false, pos, reason};
        pos += len;
    }
    return {};
}

bool is_valid(std::string_view s) { return validate(s).ok; }

char32_t decode_next(std::string_view s, std::size_t& pos) {
    if (pos >= s.size()) fail<IndexError>("utf8::decode_next: offset {} is at or past the end ({} bytes)", pos, s.size());
    char32_t cp = 0;
    std::size_t len = 0;
    std::string reason;
    if (!try_decode(s, pos, cp, len, &reason)) fail<Error>("invalid UTF-8 at byte {}: {}", pos, reason);
    pos += len;
    return cp;
}

char32_t decode_lenient(std::string_view s, std::size_t& pos) {
    char32_t cp = 0;
    std::size_t len = 0;
    if (!try_decode(s, pos, cp, len, nullptr)) {
        ++pos;
        return kInvalid;
    }
    pos += len;
    return cp;
}

std::vector<char32_t> decode(std::string_view s) {
    std::vector<char32_t> out;
    out.reserve(s.size());
    for (std::size_t pos = 0; pos < s.size();) out.push_back(decode_next(s, pos));
    return out;
}

void append(std::string& out, char32_t cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF)
        fail<Error>("utf8::encode: UTF-16 surrogate {} cannot be encoded", code_point_name(cp));
    if (cp > 0x10FFFF) fail<Error>("utf8::encode: {} is above U+10FFFF", code_point_name(cp));
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

std::string encode(char32_t cp) {
    std::string out;
    append(out, cp);
    return out;
}

std::vector<std::string> split(std::string_view s) {
    std::vector<std::string> out;
    for (std::size_t pos = 0; pos < s.size();) {
        const std::size_t start = pos;
        decode_next(s, pos);
        out.emplace_back(s.substr(start, pos - start));
    }
    return out;
}

std::size_t length(std::string_view s) {
    std::size_t n = 0;
    for (std::size_t pos = 0; pos < s.size(); ++n) decode_next(s, pos);
    return n;
}

char32_t to_lower(char32_t c) {
    if (c >= U'A' && c <= U'Z') return c + 32;
    if (c < 0xC0) return c;
    if (c <= 0xDE) return c == 0xD7 ? c : c + 0x20;  // À..Þ -> à..þ, but × stays
    if (c < 0x100 || c > 0x17F) return c;
    // Latin Extended-A: upper/lower pairs, even-upper in some runs and odd-upper in others.
    if (c == 0x130) return U'i';   // İ -> i (simple mapping)
    if (c == 0x178) return 0xFF;   // Ÿ -> ÿ
    if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return c;  // ı ĸ ŉ ſ are lower already
    const bool even_upper_run = c <= 0x137 || (c >= 0x14A && c <= 0x177);
    if (even_upper_run) return (c % 2 == 0) ? c + 1 : c;
    return (c % 2 == 1) ? c + 1 : c;  // U+0139..U+0148 and U+0179..U+017E: odd is upper
}

std::string to_lower(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t pos = 0; pos < s.size();) append(out, to_lower(decode_next(s, pos)));
    return out;
}

bool is_latin_letter(char32_t c) {
    if ((c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z')) return true;
    if (c == 0xAA || c == 0xB5 || c == 0xBA) return true;
    if (c >= 0xC0 && c <= 0xFF) return c != 0xD7 && c != 0xF7;
    return c >= 0x100 && c <= 0x24F;
}

}  // namespace seqgrad::data::utf8
