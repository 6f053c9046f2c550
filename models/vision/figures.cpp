// Drawing the visual-attention figure (see the header). Ink is drawn as runs of equal pixels, one
// <rect> per run, so a 60×60 image costs a few hundred elements, not 3,600.
#include "models/vision/figures.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/error.h"
#include "models/viz/svg.h"

namespace seqgrad::vision {

namespace {
constexpr double kPanel = 220, kGap = 24, kMargin = 12, kCaption = 20, kTitle = 30;
// A colour per glimpse step (Tableau 10).
constexpr std::array<const char*, 10> kStepColours = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                                      "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

// The image at (x0, y0): a dark square, then the ink as white runs (opacity = value).
void draw_ink(viz::SvgWriter& svg, const FigureRow& row, double x0, double y0, double px) {
    const std::int64_t N = row.canvas;
    svg.open("g", {{"shape-rendering", "crispEdges"}});  // no anti-aliased seams between the runs
    for (std::int64_t y = 0; y < N; ++y)
        for (std::int64_t x = 0; x < N;) {
            const float v = row.pixels[static_cast<std::size_t>(y * N + x)];
            std::int64_t end = x + 1;
            while (end < N && row.pixels[static_cast<std::size_t>(y * N + end)] == v) ++end;
            if (v > 0)
                svg.element("rect", {{"x", x0 + static_cast<double>(x) * px}, {"y", y0 + static_cast<double>(y) * px},
                                     {"width", static_cast<double>(end - x) * px}, {"height", px}, {"fill", "#ffffff"},
                                     {"fill-opacity", 0.9 * v}});
            x = end;
        }
    svg.close();
}

void frame(viz::SvgWriter& svg, double x0, double y0) {
    svg.element("rect", {{"x", x0}, {"y", y0}, {"width", kPanel}, {"height", kPanel}, {"fill", "#111111"}});
}

// α spread over the pixels of each window (a pixel's weight is the sum of α over the windows holding it,
// averaged over 4×4 blocks), drawn as a viridis layer whose opacity grows with the weight.
void draw_alpha(viz::SvgWriter& svg, const FigureRow& row, double x0, double y0, double px) {
    const std::int64_t N = row.canvas, block = 4;
    std::vector<double> density(static_cast<std::size_t>(N * N), 0.0);
    for (std::size_t s = 0; s < row.windows.size(); ++s) {
        const Box& w = row.windows[s];
        for (std::int64_t y = w.top; y < w.top + w.height; ++y)
            for (std::int64_t x = w.left; x < w.left + w.width; ++x) density[static_cast<std::size_t>(y * N + x)] += row.alpha[s];
    }
    std::vector<double> blocks;
    for (std::int64_t by = 0; by < N; by += block)
        for (std::int64_t bx = 0; bx < N; bx += block) {
            double total = 0;
            std::int64_t n = 0;
            for (std::int64_t y = by; y < std::min(N, by + block); ++y)
                for (std::int64_t x = bx; x < std::min(N, bx + block); ++x, ++n) total += density[static_cast<std::size_t>(y * N + x)];
            blocks.push_back(total / static_cast<double>(n));
        }
    const double peak = *std::max_element(blocks.begin(), blocks.end());
    std::size_t k = 0;
    for (std::int64_t by = 0; by < N; by += block)
        for (std::int64_t bx = 0; bx < N; bx += block, ++k) {
            const double t = peak > 0 ? blocks[k] / peak : 0.0;
            if (t < 0.02) continue;
            const double h = static_cast<double>(std::min(block, N - by)), w = static_cast<double>(std::min(block, N - bx));
            svg.element("rect", {{"x", x0 + static_cast<double>(bx) * px}, {"y", y0 + static_cast<double>(by) * px},
                                 {"width", w * px}, {"height", h * px},
                                 {"fill", viz::hex(viz::colour_at(viz::ColourScale::Sequential, t))},
                                 {"fill-opacity", 0.25 + 0.6 * t}});
        }
    const auto best = static_cast<std::size_t>(std::max_element(row.alpha.begin(), row.alpha.end()) - row.alpha.begin());
    const Box& w = row.windows[best];
    svg.element("rect", {{"x", x0 + static_cast<double>(w.left) * px}, {"y", y0 + static_cast<double>(w.top) * px},
                         {"width", static_cast<double>(w.width) * px}, {"height", static_cast<double>(w.height) * px},
                         {"fill", "none"}, {"stroke", "#fde725"}, {"stroke-width", 1.5}},
                fmt::format("most attended window: α = {:.3f}", row.alpha[best]));
}

// One square per glimpse and scale (the finest drawn boldest), centres joined in order and numbered.
void draw_path(viz::SvgWriter& svg, const FigureRow& row, double x0, double y0, double px) {
    std::string points;
    for (const auto& [cy, cx] : row.path)
        points += fmt::format("{},{} ", viz::svg_number(x0 + cx * px), viz::svg_number(y0 + cy * px));
    svg.element("polyline", {{"points", points}, {"fill", "none"}, {"stroke", "#ffffff"}, {"stroke-width", 1},
                             {"stroke-dasharray", "3 2"}});
    for (std::size_t t = 0; t < row.path.size(); ++t) {
        const auto [cy, cx] = row.path[t];
        const char* colour = kStepColours[t % kStepColours.size()];
        for (std::size_t s = 0; s < row.glimpse_sides.size(); ++s) {
            const double side = static_cast<double>(row.glimpse_sides[s]) * px;
            svg.element("rect", {{"x", x0 + cx * px - side / 2}, {"y", y0 + cy * px - side / 2}, {"width", side},
                                 {"height", side}, {"fill", "none"}, {"stroke", colour},
                                 {"stroke-width", s == 0 ? 2.0 : 0.8}, {"stroke-opacity", s == 0 ? 1.0 : 0.6}},
                        fmt::format("glimpse {} at pixel ({:.1f}, {:.1f}), scale {} ({} px)", t + 1, cy, cx, s + 1,
                                    row.glimpse_sides[s]));
        }
        svg.text("text", {{"x", x0 + cx * px + 3}, {"y", y0 + cy * px - 3}, {"fill", colour}, {"font-size", 11},
                          {"font-weight", "bold"}},
                 std::to_string(t + 1));
    }
}
}  // namespace

std::string visual_attention_svg(const std::vector<FigureRow>& rows, const std::string& title) {
    if (rows.empty()) fail("visual_attention_svg: no images to draw");
    for (std::size_t r = 0; r < rows.size(); ++r) {
        const FigureRow& row = rows[r];
        if (row.canvas <= 0 || static_cast<std::int64_t>(row.pixels.size()) != row.canvas * row.canvas ||
            row.alpha.size() != row.windows.size() || row.alpha.empty())
            fail("visual_attention_svg: row {} has {} pixels for a canvas of {} and {} weights for {} windows", r,
                 row.pixels.size(), row.canvas, row.alpha.size(), row.windows.size());
    }
    const double width = 2 * kMargin + 2 * kPanel + kGap;
    const double row_height = kCaption + kPanel + kMargin;
    viz::SvgWriter svg(width, kTitle + row_height * static_cast<double>(rows.size()));
    svg.element("rect", {{"x", 0}, {"y", 0}, {"width", width}, {"height", kTitle + row_height * static_cast<double>(rows.size())},
                         {"fill", "#ffffff"}});
    svg.text("text", {{"x", kMargin}, {"y", 20}, {"font-size", 14}, {"font-weight", "bold"}}, title);
    for (std::size_t r = 0; r < rows.size(); ++r) {
        const FigureRow& row = rows[r];
        const double y0 = kTitle + row_height * static_cast<double>(r) + kCaption;
        const double px = kPanel / static_cast<double>(row.canvas);
        const double left = kMargin, right = kMargin + kPanel + kGap;
        svg.text("text", {{"x", left}, {"y", y0 - 6}, {"font-size", 12}},
                 fmt::format("digit {} · soft attention says {}", row.label, row.soft_prediction));
        svg.text("text", {{"x", right}, {"y", y0 - 6}, {"font-size", 12}},
                 fmt::format("digit {} · {} glimpses say {}", row.label, row.path.size(), row.glimpse_prediction));
        // Each panel is a nested <svg>: its viewport clips the glimpse squares that reach past the canvas.
        svg.open("svg", {{"x", left}, {"y", y0}, {"width", kPanel}, {"height", kPanel}});
        frame(svg, 0, 0);
        draw_alpha(svg, row, 0, 0, px);
        draw_ink(svg, row, 0, 0, px);
        svg.close();
        svg.open("svg", {{"x", right}, {"y", y0}, {"width", kPanel}, {"height", kPanel}});
        frame(svg, 0, 0);
        draw_ink(svg, row, 0, 0, px);
        draw_path(svg, row, 0, 0, px);
        svg.close();
    }
    return svg.str();
}

}  // namespace seqgrad::vision
