// figure_svg: several SVG pictures laid out in one document (see models/viz/svg.h).
#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "models/viz/svg.h"
#include "models/viz/svg_style.h"

namespace seqgrad::viz {

namespace {

struct Picture {
    std::string body;  // the document from its <svg ...> tag on, without the XML declaration
    double width = 0, height = 0;
};

// The value of attribute `name` in the opening <svg ...> tag, as a number.
double svg_size(std::string_view tag, std::string_view name) {
    std::string key(" ");
    key += name;
    key += "=\"";
    const auto at = tag.find(key);
    if (at == std::string_view::npos) fail("figure_svg: a picture's <svg> tag has no {}", name);
    const std::string value(tag.substr(at + key.size(), tag.find('"', at + key.size()) - at - key.size()));
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (end == value.c_str() || *end != '\0' || !(v > 0)) fail("figure_svg: a picture's {} is '{}', not a positive number", name, value);
    return v;
}

Picture read_picture(const std::string& svg) {
    const auto start = svg.find("<svg");
    if (start == std::string::npos) fail("figure_svg: a picture is not an SVG document (no <svg> tag)");
    const auto tag_end = svg.find('>', start);
    if (tag_end == std::string::npos) fail("figure_svg: a picture's <svg> tag is not closed");
    const std::string_view tag(svg.data() + start, tag_end - start);
    return {svg.substr(start), svg_size(tag, "width"), svg_size(tag, "height")};
}

// The picture's <svg> tag with x and y added, so it is drawn at (x, y) of the figure.
std::string placed(const Picture& p, double x, double y) {
    return fmt::format("<svg x=\"{}\" y=\"{}\"{}\n", svg_number(x), svg_number(y), p.body.substr(4));
}

}  // namespace

std::string figure_svg(const std::vector<FigureSection>& sections, const std::string& title) {
    constexpr double margin = 12, gap = 10, heading_fs = 15, title_fs = 18;
    std::string body;
    double y = margin, width = 2 * margin + text_width(title, title_fs);
    if (!title.empty()) y += title_fs * 1.6;
    std::size_t pictures = 0;
    for (const auto& section : sections) {
        if (!section.heading.empty()) {
            body += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"{}\" font-weight=\"bold\">{}</text>\n",
                                svg_number(margin), svg_number(y + heading_fs), svg_number(heading_fs),
                                xml_escape(section.heading));
            y += heading_fs * 1.8;
            width = std::max(width, 2 * margin + text_width(section.heading, heading_fs));
        }
        for (const auto& row : section.rows) {
            double x = margin, row_height = 0;
            for (const auto& svg : row) {
                const Picture p = read_picture(svg);
                body += placed(p, x, y);
                x += p.width + gap;
                row_height = std::max(row_height, p.height);
                ++pictures;
            }
            width = std::max(width, x - gap + margin);
            y += row_height + gap;
        }
        y += gap;
    }
    if (pictures == 0) fail("figure_svg: no picture to lay out");
    SvgWriter w(width, y + margin);
    w.comment("seqgrad figure");
    w.element("rect", {{"width", "100%"}, {"height", "100%"}, {"fill", "#ffffff"}});
    if (!title.empty())
        w.text("text", {{"x", margin}, {"y", margin + title_fs}, {"font-size", title_fs}, {"font-weight", "bold"}}, title);
    std::string out = w.str();
    // The nested pictures go before the closing tag; they are whole documents of their own already.
    out.insert(out.rfind("</svg>"), body);
    return out;
}

}  // namespace seqgrad::viz
