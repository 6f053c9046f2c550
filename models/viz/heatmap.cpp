// heatmap_svg and its argument checks; see models/viz/svg.h.
#include "models/viz/svg.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include <fmt/format.h>

#include "core/error.h"
#include "models/viz/svg_style.h"

namespace seqgrad::viz {

namespace {

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

}  // namespace

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

}  // namespace seqgrad::viz
