// The visual-attention figure: test images, each shown twice side by side, on the left with the soft
// model's attention α drawn over it (a viridis heat layer under the ink, the most attended window
// outlined) and on the right with the glimpse model's path (one square per glimpse and scale, numbered
// in the order taken, joined by a line). Drawn with the SVG writer of models/viz/svg.h.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/vision/digits.h"

namespace seqgrad::vision {

struct FigureRow {
    std::int64_t canvas = 0;
    std::vector<float> pixels;          // [N²]
    std::int64_t label = 0;
    // Soft attention: α over the windows and where each window lies.
    std::vector<double> alpha;          // [S]
    std::vector<Box> windows;           // [S]
    std::int64_t soft_prediction = 0;
    // Hard attention: the glimpse centres in pixels (row, column), in order, and each scale's side.
    std::vector<std::pair<double, double>> path;
    std::vector<std::int64_t> glimpse_sides;
    std::int64_t glimpse_prediction = 0;
};

// One SVG document; throws ShapeError naming visual_attention_svg for no rows or a row whose sizes
// disagree (pixels not N², alpha and windows of different lengths).
std::string visual_attention_svg(const std::vector<FigureRow>& rows, const std::string& title);

}  // namespace seqgrad::vision
