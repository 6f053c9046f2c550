// What the SVG pictures share (models/viz/svg.cpp, colour.cpp, heatmap.cpp, line_plot.cpp): the
// font, the estimated text width and the number formats. Internal to models/viz/.
//
// Layouts are computed from estimated text widths (0.6 em per terminal column, so a CJK character
// counts 1.2 em): SVG has no text measurement, and over-estimating a little only costs some white
// space, never overlap.
#pragma once
#include <cmath>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "models/viz/svg.h"
#include "models/viz/terminal.h"  // display_width, truncate_to_width

namespace seqgrad::viz {

inline constexpr double kCharWidthEm = 0.6;  // average glyph advance of a sans-serif font, in em
inline constexpr const char* kFont = "DejaVu Sans, Verdana, Arial, sans-serif";
inline constexpr const char* kNanFill = "#b0b0b0";

inline double text_width(std::string_view s, double font_size) { return display_width(s) * font_size * kCharWidthEm; }

// Tableau 10: distinct, colour-blind-tolerant line colours.
inline constexpr const char* kLineColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

// Four significant digits for tooltips: enough to tell 0.2501 from 0.25 without noise.
inline std::string value_text(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return fmt::format("{:.4g}", v);
}

}  // namespace seqgrad::viz
