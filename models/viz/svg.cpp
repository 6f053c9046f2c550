// The SVG writer (elements, attributes, text escaped for XML); the pictures are drawn with it in
// colour.cpp, heatmap.cpp and line_plot.cpp (see models/viz/svg.h).
#include "models/viz/svg.h"

#include <fmt/format.h>

#include "core/error.h"
#include "models/data/utf8.h"
#include "models/viz/svg_style.h"

namespace seqgrad::viz {

// ---- SVG writing --------------------------------------------------------------------------------

std::string xml_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size() + s.size() / 8);
    const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
                case '&': out += "&amp;"; break;
                case '<': out += "&lt;"; break;
                case '>': out += "&gt;"; break;
                case '"': out += "&quot;"; break;
                case '\'': out += "&apos;"; break;
                case '\t': case '\n': case '\r': out += static_cast<char>(c); break;
                default:
                    if (c < 0x20) out += kReplacement;  // XML 1.0 forbids these even as &#x..;
                    else out += static_cast<char>(c);
            }
            ++i;
            continue;
        }
        // Multi-byte sequence: decoded by the one lenient decoder (models/data/utf8.h). XML 1.0 also
        // forbids the non-characters U+FFFE and U+FFFF; like an invalid byte, each becomes U+FFFD and
        // the scan goes on at the next byte.
        const size_t start = i;
        const char32_t cp = data::utf8::decode_lenient(s, i);
        if (cp == data::utf8::kInvalid || cp == 0xFFFE || cp == 0xFFFF) {
            out += kReplacement;
            i = start + 1;
        } else {
            out.append(s.substr(start, i - start));
        }
    }
    return out;
}

SvgWriter::SvgWriter(double width, double height) {
    out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    start_tag("svg", {{"xmlns", "http://www.w3.org/2000/svg"},
                      {"width", width},
                      {"height", height},
                      {"viewBox", fmt::format("0 0 {} {}", svg_number(width), svg_number(height))},
                      {"font-family", kFont}});
    out_ += ">\n";
    open_.emplace_back("svg");
}

void SvgWriter::start_tag(std::string_view tag, std::initializer_list<Attr> attrs) {
    out_ += '<';
    out_ += tag;
    for (const auto& a : attrs) {
        out_ += ' ';
        out_ += a.name;
        out_ += "=\"";
        out_ += xml_escape(a.value);
        out_ += '"';
    }
}

void SvgWriter::open(std::string_view tag, std::initializer_list<Attr> attrs) {
    start_tag(tag, attrs);
    out_ += ">\n";
    open_.emplace_back(tag);
}

void SvgWriter::close() {
    if (open_.empty()) fail<Error>("SvgWriter::close: no open element");
    out_ += "</" + open_.back() + ">\n";
    open_.pop_back();
}

void SvgWriter::element(std::string_view tag, std::initializer_list<Attr> attrs) {
    start_tag(tag, attrs);
    out_ += "/>\n";
}

void SvgWriter::element(std::string_view tag, std::initializer_list<Attr> attrs, std::string_view title) {
    start_tag(tag, attrs);
    out_ += "><title>" + xml_escape(title) + "</title></";
    out_ += tag;
    out_ += ">\n";
}

void SvgWriter::text(std::string_view tag, std::initializer_list<Attr> attrs, std::string_view text) {
    start_tag(tag, attrs);
    out_ += '>';
    out_ += xml_escape(text);
    out_ += "</";
    out_ += tag;
    out_ += ">\n";
}

void SvgWriter::comment(std::string_view text) {
    // "--" may not appear inside a comment; a label in a comment must not end it early.
    std::string t(text);
    for (size_t p; (p = t.find("--")) != std::string::npos;) t.replace(p, 2, "- -");
    out_ += "<!-- " + xml_escape(t) + " -->\n";
}

std::string SvgWriter::str() {
    while (!open_.empty()) close();
    return out_;
}

}  // namespace seqgrad::viz
