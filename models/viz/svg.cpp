// SVG writer, colour ramps, ticks, heatmap_svg and line_plot_svg. The layouts are computed from
// estimated text widths (0.6 em per terminal column, so a CJK character counts 1.2 em): SVG has no
// text measurement, and over-estimating a little only costs some white space, never overlap.
#include "models/viz/svg.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include <fmt/format.h>

#include "core/error.h"
#include "models/viz/terminal.h"  // display_width, truncate_to_width

namespace seqgrad::viz {

namespace {

constexpr double kCharWidthEm = 0.6;  // average glyph advance of a sans-serif font, in em
constexpr const char* kFont = "DejaVu Sans, Verdana, Arial, sans-serif";
constexpr const char* kNanFill = "#b0b0b0";

double text_width(std::string_view s, double font_size) { return display_width(s) * font_size * kCharWidthEm; }

Rgb parse_hex(std::uint32_t v) {
    return Rgb{static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

// viridis, 9 equally spaced samples (as in R's viridisLite::viridis(9)).
constexpr std::uint32_t kViridis[] = {0x440154, 0x472D7B, 0x3B528B, 0x2C728E, 0x21908C,
                                      0x27AD81, 0x5DC863, 0xAADC32, 0xFDE725};
// ColorBrewer RdBu with 9 classes, reversed so that low = blue, 0 = near-white, high = red.
constexpr std::uint32_t kBlueWhiteRed[] = {0x2166AC, 0x4393C3, 0x92C5DE, 0xD1E5F0, 0xF7F7F7,
                                           0xFDDBC7, 0xF4A582, 0xD6604D, 0xB2182B};

// Tableau 10: distinct, colour-blind-tolerant line colours.
constexpr const char* kLineColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

// Four significant digits for tooltips: enough to tell 0.2501 from 0.25 without noise.
std::string value_text(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return fmt::format("{:.4g}", v);
}

// Short text that fits inside a cell.
std::string cell_text(double v) {
    if (std::isnan(v)) return "";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    double a = std::fabs(v);
    std::string s = a < 10 ? fmt::format("{:.2f}", v) : a < 1000 ? fmt::format("{:.0f}", v) : fmt::format("{:.0e}", v);
    if (s == "-0.00") s = "0.00";
    return s;
}

// Cells show two decimals. When every |value| is below 0.01 (gradients are often ~1e-4) that reads
// "0.00" everywhere, and from 1000 on it loses digits; then the cells show value / 10^k, k the
// decimal exponent of the largest |value|, and the title says "cell values ×1e<k>". 0 = no scaling.
int cell_exponent(const Matrix& values) {
    double top = 0;
    for (const auto& row : values)
        for (double v : row)
            if (std::isfinite(v)) top = std::max(top, std::fabs(v));
    if (top == 0 || (top >= 0.01 && top < 1000)) return 0;
    return static_cast<int>(std::floor(std::log10(top)));
}

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

// ---- colour -------------------------------------------------------------------------------------

Rgb colour_at(ColourScale scale, double t) {
    const std::uint32_t* stops = scale == ColourScale::Sequential ? kViridis : kBlueWhiteRed;
    constexpr int n = 9;
    if (std::isnan(t)) t = 0;
    t = std::clamp(t, 0.0, 1.0);
    double pos = t * (n - 1);
    int i = std::min(static_cast<int>(pos), n - 2);
    double f = pos - i;
    Rgb a = parse_hex(stops[i]), b = parse_hex(stops[i + 1]);
    auto mix = [f](std::uint8_t x, std::uint8_t y) {
        return static_cast<std::uint8_t>(std::lround(x + (static_cast<double>(y) - x) * f));
    };
    return Rgb{mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
}

std::string hex(Rgb c) { return fmt::format("#{:02x}{:02x}{:02x}", c.r, c.g, c.b); }

Rgb contrast_text(Rgb bg) {
    // WCAG relative luminance; 0.179 is where black and white text have equal contrast.
    auto lin = [](std::uint8_t c) {
        double s = c / 255.0;
        return s <= 0.04045 ? s / 12.92 : std::pow((s + 0.055) / 1.055, 2.4);
    };
    double L = 0.2126 * lin(bg.r) + 0.7152 * lin(bg.g) + 0.0722 * lin(bg.b);
    return L > 0.179 ? Rgb{0, 0, 0} : Rgb{255, 255, 255};
}

std::pair<double, double> colour_range(const Matrix& values, ColourScale scale, std::optional<double> vmin,
                                       std::optional<double> vmax, std::string_view fn) {
    if (vmin && vmax && !(*vmin < *vmax))
        fail("{}: vmin must be below vmax, got vmin {} and vmax {}", fn, *vmin, *vmax);
    if ((vmin && !std::isfinite(*vmin)) || (vmax && !std::isfinite(*vmax)))
        fail("{}: vmin and vmax must be finite", fn);
    double dlo = std::numeric_limits<double>::infinity(), dhi = -dlo;
    for (const auto& row : values)
        for (double v : row)
            if (std::isfinite(v)) dlo = std::min(dlo, v), dhi = std::max(dhi, v);
    if (dlo > dhi) dlo = 0, dhi = 1;  // no finite value at all
    double lo = vmin.value_or(dlo), hi = vmax.value_or(dhi);
    if (scale == ColourScale::Diverging) {
        double m = std::max(std::fabs(lo), std::fabs(hi));
        if (!(m > 0)) m = 1;
        return {-m, m};
    }
    if (lo < hi) return {lo, hi};
    // Degenerate: all values equal, or one given bound lies beyond all data.
    if (vmin && !vmax) return {lo, lo + 1};
    if (vmax && !vmin) return {hi - 1, hi};
    if (lo >= 0 && lo <= 1) return {0, 1};  // e.g. a uniform attention row: keep the usual 0..1 scale
    return {lo - 1, lo + 1};
}

double colour_position(double v, double lo, double hi) {
    if (std::isnan(v)) return v;
    return std::clamp((v - lo) / (hi - lo), 0.0, 1.0);
}

// ---- ticks and numbers --------------------------------------------------------------------------

std::vector<double> nice_ticks(double lo, double hi, int target, bool extend) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) fail("nice_ticks: range must be finite, got [{}, {}]", lo, hi);
    if (lo > hi) std::swap(lo, hi);
    if (lo == hi) {
        double d = lo == 0 ? 1 : std::fabs(lo) * 0.1;
        lo -= d, hi += d;
    }
    target = std::max(target, 1);
    double raw = (hi - lo) / target;
    int e = static_cast<int>(std::floor(std::log10(raw)));
    double norm = raw / std::pow(10.0, e);
    int s = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
    if (s == 10) s = 1, ++e;
    // value of tick i = i * s * 10^e, computed so that negative exponents divide by an exact power of
    // ten: 3 * 1 / 10 is the double nearest 0.3, whereas 3 * 0.1 is not.
    auto at = [&](long long i) {
        return e >= 0 ? static_cast<double>(i) * s * std::pow(10.0, e) : static_cast<double>(i) * s / std::pow(10.0, -e);
    };
    double step = e >= 0 ? s * std::pow(10.0, e) : s / std::pow(10.0, -e);
    const double eps = 1e-9;
    long long i0 = extend ? static_cast<long long>(std::floor(lo / step + eps)) : static_cast<long long>(std::ceil(lo / step - eps));
    long long i1 = extend ? static_cast<long long>(std::ceil(hi / step - eps)) : static_cast<long long>(std::floor(hi / step + eps));
    std::vector<double> ticks;
    for (long long i = i0; i <= i1; ++i) {
        double v = at(i);
        ticks.push_back(v == 0 ? 0.0 : v);  // no "-0"
    }
    return ticks;
}

std::vector<std::string> tick_labels(const std::vector<double>& ticks) {
    std::vector<std::string> out;
    if (ticks.size() < 2) {
        for (double t : ticks) out.push_back(fmt::format("{:g}", t));
        return out;
    }
    double step = std::fabs(ticks[1] - ticks[0]);
    double biggest = std::max(std::fabs(ticks.front()), std::fabs(ticks.back()));
    int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
    for (double t : ticks) {
        if (decimals > 6 || biggest >= 1e7)
            out.push_back(fmt::format("{:g}", t));
        else
            out.push_back(fmt::format("{:.{}f}", t, decimals));
    }
    return out;
}

std::string svg_number(double v) {
    if (!std::isfinite(v)) return "0";
    std::string s = fmt::format("{:.2f}", v);
    if (auto dot = s.find('.'); dot != std::string::npos) {
        while (s.back() == '0') s.pop_back();
        if (s.back() == '.') s.pop_back();
    }
    if (s == "-0") s = "0";
    return s;
}

// ---- argument checks ----------------------------------------------------------------------------

void check_heatmap_args(std::string_view fn, const Matrix& values, const std::vector<std::string>& col_labels,
                        const std::vector<std::string>& row_labels) {
    if (values.empty() || values[0].empty())
        fail("{}: empty matrix ({} rows, {} columns); nothing to draw", fn, values.size(),
             values.empty() ? 0 : values[0].size());
    size_t cols = values[0].size();
    for (size_t r = 1; r < values.size(); ++r)
        if (values[r].size() != cols)
            fail("{}: ragged matrix: row {} has {} values but row 0 has {}", fn, r, values[r].size(), cols);
    if (col_labels.size() != cols)
        fail("{}: {} column labels for {} columns (matrix is {} x {})", fn, col_labels.size(), cols, values.size(), cols);
    if (row_labels.size() != values.size())
        fail("{}: {} row labels for {} rows (matrix is {} x {})", fn, row_labels.size(), values.size(), values.size(), cols);
}

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
        // Multi-byte sequence: check lead byte, continuation bytes, overlong forms, surrogates, range.
        int len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
        if (c >= 0xF5) len = 0;
        bool ok = len > 0 && i + len <= s.size();
        char32_t cp = 0;
        if (ok) {
            cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
            for (int k = 1; k < len && ok; ++k) {
                unsigned char cc = static_cast<unsigned char>(s[i + k]);
                ok = is_continuation(cc);
                cp = (cp << 6) | (cc & 0x3F);
            }
            if (ok) {
                ok = !(len == 3 && cp < 0x800) && !(len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) &&
                     !(cp >= 0xD800 && cp <= 0xDFFF) && cp != 0xFFFE && cp != 0xFFFF;
            }
        }
        if (ok) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            out += kReplacement;
            ++i;
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

// ---- heatmap ------------------------------------------------------------------------------------

std::string heatmap_svg(const Matrix& values, const std::vector<std::string>& col_labels,
                        const std::vector<std::string>& row_labels, const HeatmapOptions& opt) {
    constexpr std::string_view fn = "heatmap_svg";
    check_heatmap_args(fn, values, col_labels, row_labels);
    if (!(opt.cell_size > 0) || !(opt.font_size > 0))
        fail("heatmap_svg: cell_size and font_size must be positive, got {} and {}", opt.cell_size, opt.font_size);
    auto [lo, hi] = colour_range(values, opt.scale, opt.vmin, opt.vmax, fn);

    const size_t R = values.size(), C = values[0].size();
    const double cell = opt.cell_size, fs = opt.font_size, title_fs = fs * 1.3, tick_fs = fs * 0.9;
    const double margin = 12, gap = 6, s45 = std::sqrt(0.5);
    bool show_values = opt.show_values == HeatmapOptions::Values::Always ||
                       (opt.show_values == HeatmapOptions::Values::Auto && R * C <= 144 && cell >= 22);
    const int exponent = show_values ? cell_exponent(values) : 0;
    const double cell_scale = std::pow(10.0, -exponent);
    std::string title = opt.title;
    if (exponent != 0)
        title = (title.empty() ? "" : title + " ") + fmt::format("(cell values ×1e{})", exponent);
    const int max_chars = std::max(opt.max_label_chars, 2);

    std::vector<std::string> cl, rl;
    for (const auto& l : col_labels) cl.push_back(truncate_to_width(l, max_chars));
    for (const auto& l : row_labels) rl.push_back(truncate_to_width(l, max_chars));
    double col_w = 0, row_w = 0;
    for (const auto& l : cl) col_w = std::max(col_w, text_width(l, fs));
    for (const auto& l : rl) row_w = std::max(row_w, text_width(l, fs));

    // Vertical layout, top to bottom: title, x label, column labels, grid.
    double y = margin;
    double title_y = y + title_fs;
    if (!title.empty()) y += title_fs * 1.6;
    double xlabel_y = y + fs;
    if (!opt.x_label.empty()) y += fs * 1.8;
    // A label of width w rotated by -45 degrees rises w / sqrt(2); its glyph height adds a little.
    double col_block = opt.vertical_col_labels ? col_w + gap : (col_w + fs * 0.6) * s45 + gap;
    const double grid_top = y + col_block;

    // Horizontal layout, left to right: y label, row labels, grid, colour bar and its ticks.
    const double ylabel_w = opt.y_label.empty() ? 0 : fs * 1.8;
    const double grid_left = margin + ylabel_w + row_w + gap;
    const double grid_w = C * cell, grid_h = R * cell;
    const double grid_right = grid_left + grid_w, grid_bottom = grid_top + grid_h;

    const double bar_x = grid_right + 18, bar_w = 14, bar_h = std::max(grid_h, 120.0);
    const double bar_top = grid_top, bar_bottom = bar_top + bar_h;
    std::vector<double> ticks = nice_ticks(lo, hi, 5, false);
    std::vector<std::string> tick_text = tick_labels(ticks);
    double tick_w = 0;
    for (const auto& t : tick_text) tick_w = std::max(tick_w, text_width(t, tick_fs));

    bool any_nan = false;
    for (const auto& row : values)
        for (double v : row) any_nan = any_nan || std::isnan(v);

    double width = bar_x + bar_w + 6 + tick_w + margin;
    if (!opt.vertical_col_labels)  // rotated labels lean right, past the grid's right edge
        for (size_t c = 0; c < C; ++c)
            width = std::max(width, grid_left + (c + 0.5) * cell + text_width(cl[c], fs) * s45 + fs + margin);
    width = std::max(width, 2 * margin + text_width(title, title_fs));
    double xlabel_w = text_width(opt.x_label, fs);
    double xlabel_x = std::max(grid_left + grid_w / 2, margin + xlabel_w / 2);
    width = std::max(width, xlabel_x + xlabel_w / 2 + margin);
    double height = std::max(grid_bottom, bar_bottom) + margin + (any_nan ? fs * 2 : 0);
    double ylabel_w_text = text_width(opt.y_label, fs);
    double ylabel_y = std::max(grid_top + grid_h / 2, margin + ylabel_w_text / 2);
    height = std::max(height, ylabel_y + ylabel_w_text / 2 + margin);

    SvgWriter w(width, height);
    w.comment("seqgrad heatmap");
    w.element("rect", {{"width", "100%"}, {"height", "100%"}, {"fill", "#ffffff"}});
    if (!title.empty())
        w.text("text", {{"x", margin}, {"y", title_y}, {"font-size", title_fs}, {"font-weight", "bold"}}, title);
    if (!opt.x_label.empty())
        w.text("text", {{"x", xlabel_x}, {"y", xlabel_y}, {"font-size", fs}, {"text-anchor", "middle"}, {"fill", "#333"}},
               opt.x_label);
    if (!opt.y_label.empty()) {
        double x = margin + fs;
        w.text("text", {{"x", x}, {"y", ylabel_y}, {"font-size", fs}, {"text-anchor", "middle"}, {"fill", "#333"},
                        {"transform", fmt::format("rotate(-90 {} {})", svg_number(x), svg_number(ylabel_y))}},
               opt.y_label);
    }

    // Column labels. The baseline is offset by ~0.35 em so the glyphs, not the baseline, sit over
    // the column centre once rotated.
    w.open("g", {{"class", "col-labels"}, {"font-size", fs}, {"fill", "#222"}});
    for (size_t c = 0; c < C; ++c) {
        double cx = grid_left + (c + 0.5) * cell;
        double x = opt.vertical_col_labels ? cx + fs * 0.35 : cx + fs * 0.25;
        double ty = grid_top - gap + (opt.vertical_col_labels ? 0 : fs * 0.1);
        int angle = opt.vertical_col_labels ? -90 : -45;
        w.text("text", {{"x", x}, {"y", ty}, {"transform", fmt::format("rotate({} {} {})", angle, svg_number(x), svg_number(ty))}},
               cl[c]);
    }
    w.close();
    w.open("g", {{"class", "row-labels"}, {"font-size", fs}, {"fill", "#222"}, {"text-anchor", "end"}});
    for (size_t r = 0; r < R; ++r)
        w.text("text", {{"x", grid_left - gap}, {"y", grid_top + (r + 0.5) * cell + fs * 0.35}}, rl[r]);
    w.close();

    // Cells. crispEdges keeps anti-aliasing from drawing hairline gaps between neighbours.
    w.open("g", {{"class", "cells"}, {"shape-rendering", "crispEdges"}});
    for (size_t r = 0; r < R; ++r)
        for (size_t c = 0; c < C; ++c) {
            double v = values[r][c];
            std::string fill = std::isnan(v) ? kNanFill : hex(colour_at(opt.scale, colour_position(v, lo, hi)));
            w.element("rect",
                      {{"class", "cell"}, {"x", grid_left + c * cell}, {"y", grid_top + r * cell},
                       {"width", cell}, {"height", cell}, {"fill", fill}},
                      fmt::format("{} → {}: {}", row_labels[r], col_labels[c], value_text(v)));
        }
    w.close();
    if (show_values) {
        double vfs = std::min(fs * 0.85, cell * 0.36);
        w.open("g", {{"class", "values"}, {"font-size", vfs}, {"text-anchor", "middle"}, {"pointer-events", "none"}});
        for (size_t r = 0; r < R; ++r)
            for (size_t c = 0; c < C; ++c) {
                double v = values[r][c];
                if (std::isnan(v)) continue;
                Rgb bg = colour_at(opt.scale, colour_position(v, lo, hi));
                w.text("text", {{"x", grid_left + (c + 0.5) * cell}, {"y", grid_top + (r + 0.5) * cell + vfs * 0.35},
                                {"fill", hex(contrast_text(bg))}},
                       cell_text(v * cell_scale));
            }
        w.close();
    }
    w.element("rect", {{"x", grid_left}, {"y", grid_top}, {"width", grid_w}, {"height", grid_h}, {"fill", "none"},
                       {"stroke", "#444"}, {"stroke-width", 0.6}});

    // Colour bar: a vertical gradient through the same control colours. The gradient id is named
    // after the scale, not numbered, so two heatmaps inlined in one HTML page that share an id also
    // share its content.
    const char* grad_id = opt.scale == ColourScale::Sequential ? "seqgrad-ramp-viridis" : "seqgrad-ramp-bwr";
    w.open("g", {{"class", "colorbar"}});
    w.open("defs");
    w.open("linearGradient", {{"id", grad_id}, {"x1", 0}, {"y1", 1}, {"x2", 0}, {"y2", 0}});
    for (int k = 0; k <= 16; ++k)
        w.element("stop", {{"offset", k / 16.0}, {"stop-color", hex(colour_at(opt.scale, k / 16.0))}});
    w.close();
    w.close();
    w.element("rect", {{"x", bar_x}, {"y", bar_top}, {"width", bar_w}, {"height", bar_h},
                       {"fill", fmt::format("url(#{})", grad_id)}, {"stroke", "#444"}, {"stroke-width", 0.6}});
    w.open("g", {{"font-size", tick_fs}, {"fill", "#222"}});
    for (size_t i = 0; i < ticks.size(); ++i) {
        double ty = bar_bottom - (ticks[i] - lo) / (hi - lo) * bar_h;
        w.element("line", {{"x1", bar_x + bar_w}, {"y1", ty}, {"x2", bar_x + bar_w + 4}, {"y2", ty}, {"stroke", "#444"},
                           {"stroke-width", 0.8}});
        w.text("text", {{"class", "tick"}, {"x", bar_x + bar_w + 6}, {"y", ty + tick_fs * 0.35}}, tick_text[i]);
    }
    w.close();
    if (any_nan) {
        double ny = bar_bottom + fs * 0.8;
        w.element("rect", {{"x", bar_x}, {"y", ny}, {"width", bar_w}, {"height", fs}, {"fill", kNanFill},
                           {"stroke", "#444"}, {"stroke-width", 0.6}});
        w.text("text", {{"x", bar_x + bar_w + 6}, {"y", ny + fs * 0.85}, {"font-size", tick_fs}}, "nan");
    }
    w.close();
    return w.str();
}

// ---- line plot ----------------------------------------------------------------------------------

namespace {

// One axis: maps data values (log10 first, when logarithmic) onto pixels and chooses its ticks.
struct Axis {
    bool log = false;
    double lo = 0, hi = 1;  // axis ends, in transformed units (log10 for log axes)
    std::vector<double> ticks;  // transformed units
    std::vector<std::string> labels;

    double f(double v) const { return log ? std::log10(v) : v; }
    double frac(double v) const { return (f(v) - lo) / (hi - lo); }
};

Axis make_axis(bool log, double dlo, double dhi, std::optional<double> fixed_lo, std::optional<double> fixed_hi) {
    Axis a;
    a.log = log;
    double lo = fixed_lo ? a.f(*fixed_lo) : dlo;
    double hi = fixed_hi ? a.f(*fixed_hi) : dhi;
    if (lo > hi) std::swap(lo, hi);
    if (log) {
        // Whole decades at the ends unless fixed; ticks at 10^k, plus 2 and 5 times when the axis
        // spans few decades (otherwise it would show only one or two labels).
        a.lo = fixed_lo ? lo : std::floor(lo + 1e-9);
        a.hi = fixed_hi ? hi : std::ceil(hi - 1e-9);
        if (a.hi <= a.lo) a.hi = a.lo + 1;
        int k0 = static_cast<int>(std::floor(a.lo)), k1 = static_cast<int>(std::ceil(a.hi));
        int span = k1 - k0, every = std::max(1, span / 8);
        for (int k = k0; k <= k1; ++k) {
            std::vector<double> mults = {1};
            if (span <= 2) mults = {1, 2, 5};
            if (k % every != 0) continue;
            for (double m : mults) {
                double t = k + std::log10(m);
                if (t < a.lo - 1e-9 || t > a.hi + 1e-9) continue;
                a.ticks.push_back(t);
                a.labels.push_back(fmt::format("{:g}", m * std::pow(10.0, k)));
            }
        }
        return a;
    }
    std::vector<double> t = nice_ticks(lo, hi, 5, true);
    a.lo = fixed_lo ? lo : t.front();
    a.hi = fixed_hi ? hi : t.back();
    if (a.hi <= a.lo) a.hi = a.lo + 1;
    double eps = (a.hi - a.lo) * 1e-9;
    std::vector<double> kept;
    for (double v : t)
        if (v >= a.lo - eps && v <= a.hi + eps) kept.push_back(v);
    a.ticks = kept;
    a.labels = tick_labels(kept);
    return a;
}

}  // namespace

std::string line_plot_svg(const std::vector<Series>& series, const LinePlotOptions& opt) {
    if (series.empty()) fail("line_plot_svg: no series to plot");
    double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
    for (size_t i = 0; i < series.size(); ++i) {
        const Series& s = series[i];
        if (s.x.size() != s.y.size())
            fail("line_plot_svg: series '{}' (#{}) has {} x values but {} y values", s.name, i, s.x.size(), s.y.size());
        if (s.x.empty()) fail("line_plot_svg: series '{}' (#{}) is empty (0 points)", s.name, i);
        for (size_t k = 0; k < s.x.size(); ++k) {
            double x = s.x[k], y = s.y[k];
            if (opt.log_x && x <= 0)
                fail("line_plot_svg: log-scale x needs values > 0; series '{}' has x[{}] = {}", s.name, k, x);
            if (opt.log_y && y <= 0)
                fail("line_plot_svg: log-scale y needs values > 0; series '{}' has y[{}] = {}", s.name, k, y);
            if (!std::isfinite(x) || !std::isfinite(y)) continue;
            double fx = opt.log_x ? std::log10(x) : x, fy = opt.log_y ? std::log10(y) : y;
            xlo = std::min(xlo, fx), xhi = std::max(xhi, fx), ylo = std::min(ylo, fy), yhi = std::max(yhi, fy);
        }
    }
    for (auto [name, v, is_log] : {std::tuple{"x_min", opt.x_min, opt.log_x}, std::tuple{"x_max", opt.x_max, opt.log_x},
                                   std::tuple{"y_min", opt.y_min, opt.log_y}, std::tuple{"y_max", opt.y_max, opt.log_y}})
        if (v && (!std::isfinite(*v) || (is_log && *v <= 0)))
            fail("line_plot_svg: {} = {} is not usable{}", name, *v, is_log ? " on a log axis" : "");
    if (xlo > xhi) {
        if (!(opt.x_min && opt.x_max && opt.y_min && opt.y_max))
            fail("line_plot_svg: no finite (x, y) point in {} series; nothing to scale the axes to", series.size());
        xlo = xhi = ylo = yhi = 0;
    }
    Axis ax = make_axis(opt.log_x, xlo, xhi, opt.x_min, opt.x_max);
    Axis ay = make_axis(opt.log_y, ylo, yhi, opt.y_min, opt.y_max);

    const double fs = opt.font_size, tick_fs = fs * 0.9, title_fs = fs * 1.3, margin = 12;
    double ytick_w = 0;
    for (const auto& l : ay.labels) ytick_w = std::max(ytick_w, text_width(l, tick_fs));
    std::vector<std::string> names;
    double name_w = 0;
    for (const auto& s : series) {
        names.push_back(truncate_to_width(s.name.empty() ? "(unnamed)" : s.name, 30));
        name_w = std::max(name_w, text_width(names.back(), fs));
    }
    const double legend_w = 16 + 24 + 6 + name_w + margin;
    const double left = margin + (opt.y_label.empty() ? 0 : fs * 1.8) + ytick_w + 8;
    const double top = margin + (opt.title.empty() ? fs * 0.5 : title_fs * 1.8);
    const double bottom = tick_fs * 1.6 + 6 + (opt.x_label.empty() ? 0 : fs * 1.8) + margin;
    const double width = std::max(opt.width, left + 120 + legend_w);
    const double height = std::max({opt.height, top + 100 + bottom, top + series.size() * fs * 1.5 + bottom});
    const double pw = width - left - legend_w, ph = height - top - bottom;
    auto px = [&](double x) { return left + ax.frac(x) * pw; };
    auto py = [&](double y) { return top + ph - ay.frac(y) * ph; };

    SvgWriter w(width, height);
    w.comment("seqgrad line plot");
    w.element("rect", {{"width", "100%"}, {"height", "100%"}, {"fill", "#ffffff"}});
    if (!opt.title.empty()) {
        double tw = text_width(opt.title, title_fs);
        double tx = std::clamp(left + pw / 2, margin + tw / 2, std::max(margin + tw / 2, width - margin - tw / 2));
        w.text("text", {{"x", tx}, {"y", margin + title_fs}, {"font-size", title_fs}, {"font-weight", "bold"},
                        {"text-anchor", "middle"}},
               opt.title);
    }

    // Grid lines and tick labels.
    w.open("g", {{"class", "grid"}, {"stroke", "#e6e6e6"}, {"stroke-width", 1}, {"shape-rendering", "crispEdges"}});
    for (double t : ax.ticks) {
        double x = left + (t - ax.lo) / (ax.hi - ax.lo) * pw;
        w.element("line", {{"x1", x}, {"y1", top}, {"x2", x}, {"y2", top + ph}});
    }
    for (double t : ay.ticks) {
        double y = top + ph - (t - ay.lo) / (ay.hi - ay.lo) * ph;
        w.element("line", {{"x1", left}, {"y1", y}, {"x2", left + pw}, {"y2", y}});
    }
    w.close();
    w.open("g", {{"class", "x-ticks"}, {"font-size", tick_fs}, {"fill", "#222"}, {"text-anchor", "middle"}});
    for (size_t i = 0; i < ax.ticks.size(); ++i) {
        double x = left + (ax.ticks[i] - ax.lo) / (ax.hi - ax.lo) * pw;
        w.element("line", {{"x1", x}, {"y1", top + ph}, {"x2", x}, {"y2", top + ph + 4}, {"stroke", "#333"}});
        w.text("text", {{"class", "tick"}, {"x", x}, {"y", top + ph + 6 + tick_fs}}, ax.labels[i]);
    }
    w.close();
    w.open("g", {{"class", "y-ticks"}, {"font-size", tick_fs}, {"fill", "#222"}, {"text-anchor", "end"}});
    for (size_t i = 0; i < ay.ticks.size(); ++i) {
        double y = top + ph - (ay.ticks[i] - ay.lo) / (ay.hi - ay.lo) * ph;
        w.element("line", {{"x1", left - 4}, {"y1", y}, {"x2", left}, {"y2", y}, {"stroke", "#333"}});
        w.text("text", {{"class", "tick"}, {"x", left - 6}, {"y", y + tick_fs * 0.35}}, ay.labels[i]);
    }
    w.close();
    if (!opt.x_label.empty())
        w.text("text", {{"x", left + pw / 2}, {"y", top + ph + 6 + tick_fs * 1.6 + fs * 1.4}, {"font-size", fs},
                        {"text-anchor", "middle"}, {"fill", "#333"}},
               opt.x_label);
    if (!opt.y_label.empty()) {
        double x = margin + fs, y = top + ph / 2;
        w.text("text", {{"x", x}, {"y", y}, {"font-size", fs}, {"text-anchor", "middle"}, {"fill", "#333"},
                        {"transform", fmt::format("rotate(-90 {} {})", svg_number(x), svg_number(y))}},
               opt.y_label);
    }

    // Curves, clipped to the plot area (fixed axis ends may cut them). The clip id encodes the
    // geometry, so an id shared by two inlined plots also means the same rectangle.
    std::string clip_id = fmt::format("seqgrad-clip-{}-{}-{}-{}", std::lround(left), std::lround(top), std::lround(pw),
                                      std::lround(ph));
    w.open("defs");
    w.open("clipPath", {{"id", clip_id}});
    w.element("rect", {{"x", left}, {"y", top}, {"width", pw}, {"height", ph}});
    w.close();
    w.close();
    w.open("g", {{"class", "series"}, {"clip-path", fmt::format("url(#{})", clip_id)}});
    for (size_t i = 0; i < series.size(); ++i) {
        const Series& s = series[i];
        std::string colour = kLineColours[i % 10];
        // After ten colours, repeat them dashed so every series still looks different.
        std::string dash = i < 10 ? "none" : i < 20 ? "6 3" : "2 3";
        w.open("g", {{"class", "line"}, {"stroke", colour}, {"fill", "none"}, {"stroke-width", 2},
                     {"stroke-linejoin", "round"}, {"stroke-linecap", "round"}, {"stroke-dasharray", dash}});
        // Split at non-finite points: each finite run is one polyline; a run of one point is a dot.
        std::string pts;
        size_t run = 0;
        auto flush = [&] {
            if (run >= 2) w.element("polyline", {{"points", pts}});
            pts.clear();
            run = 0;
        };
        for (size_t k = 0; k < s.x.size(); ++k) {
            if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k])) {
                flush();
                continue;
            }
            if (!pts.empty()) pts += ' ';
            pts += svg_number(px(s.x[k])) + "," + svg_number(py(s.y[k]));
            ++run;
        }
        flush();
        w.close();
        // Markers carry hover titles; on very long series (per-step losses) they would only bloat
        // the file, so they are left out there, except for isolated points that need a dot to show.
        bool all_markers = opt.markers && s.x.size() <= 200;
        w.open("g", {{"class", "markers"}, {"fill", colour}});
        for (size_t k = 0; k < s.x.size(); ++k) {
            if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k])) continue;
            bool isolated = (k == 0 || !std::isfinite(s.y[k - 1]) || !std::isfinite(s.x[k - 1])) &&
                            (k + 1 == s.x.size() || !std::isfinite(s.y[k + 1]) || !std::isfinite(s.x[k + 1]));
            if (!all_markers && !isolated) continue;
            w.element("circle", {{"cx", px(s.x[k])}, {"cy", py(s.y[k])}, {"r", 3}},
                      fmt::format("{}: x = {}, y = {}", s.name, value_text(s.x[k]), value_text(s.y[k])));
        }
        w.close();
    }
    w.close();
    w.element("rect", {{"x", left}, {"y", top}, {"width", pw}, {"height", ph}, {"fill", "none"}, {"stroke", "#333"},
                       {"stroke-width", 1}, {"shape-rendering", "crispEdges"}});

    // Legend, right of the plot area, so it can never hide a curve.
    const double lx = left + pw + 16;
    w.open("g", {{"class", "legend"}, {"font-size", fs}, {"fill", "#222"}});
    for (size_t i = 0; i < series.size(); ++i) {
        double ly = top + 6 + i * fs * 1.5 + fs * 0.5;
        std::string dash = i < 10 ? "none" : i < 20 ? "6 3" : "2 3";
        w.element("line", {{"x1", lx}, {"y1", ly}, {"x2", lx + 24}, {"y2", ly}, {"stroke", kLineColours[i % 10]},
                           {"stroke-width", 2.5}, {"stroke-dasharray", dash}});
        w.text("text", {{"x", lx + 30}, {"y", ly + fs * 0.35}}, names[i]);
    }
    w.close();
    return w.str();
}

}  // namespace seqgrad::viz
