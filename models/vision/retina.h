// The glimpse sensor ("retina") of the recurrent attention model (Mnih et al. 2014, section 3.1):
// around a location l it reads `scales` square patches, each twice the side of the one before, and
// averages each down to size×size, so the centre is seen sharply and the surroundings ever more
// coarsely. With size 8 and 4 scales a glimpse covers 8, 16, 32 and 64 pixels at 1, 1/2, 1/4 and 1/8
// resolution, 256 numbers in all, wherever it looks on a canvas of any size.
//
// Locations are (y, x) in [-1, 1]²: (-1, -1) is the top-left corner of the canvas, (0, 0) its centre,
// (1, 1) the bottom-right corner. Pixels outside the canvas read 0.
//
// The sensor has no parameters and no gradient: the location is a sample (it learns by REINFORCE,
// layers/gaussian_policy.h) and the image is data, so the glimpse is a constant input of the network
// that reads it.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace seqgrad::vision {

struct RetinaOptions {
    std::int64_t size = 8;    // g: every scale is averaged down to g×g
    std::int64_t scales = 4;  // k: scale s covers g·2^s pixels, averaged over 2^s × 2^s blocks (8 to 64 by default,
                              // so the coarsest scale sees all of a 60-pixel canvas from anywhere near its centre)
};

// Throws ShapeError naming the retina for a non-positive size or scales outside [1, 6].
void check_retina(const RetinaOptions& options);

// Values per glimpse: k·g².
inline std::int64_t glimpse_size(const RetinaOptions& o) { return o.scales * o.size * o.size; }

// The pixel (row, column, fractional) at the centre of location l on an N×N canvas: (l + 1) / 2 · N.
double location_to_pixel(double l, std::int64_t canvas);

// images [B, N, N] (float), locations [B, 2] (y, x) -> glimpses [B, k·g²], scale by scale, row-major
// within a scale, in images' dtype, without history:
//   glimpse[b, s, i, j] = mean over the 2^s × 2^s block of pixels (top_s + i·2^s + u, left_s + j·2^s + v)
//   top_s = round(location_to_pixel(l_y) − g·2^s / 2), likewise left_s
// Throws ShapeError naming the retina for shapes other than these.
Tensor glimpse(const Tensor& images, const Tensor& locations, const RetinaOptions& options);

}  // namespace seqgrad::vision
