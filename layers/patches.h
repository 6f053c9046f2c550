// Patch grids: an image cut into square windows on a regular grid, each window's pixels flattened into
// one feature row. This is the first step of soft attention over an image: Xu et al. (2015, "Show,
// Attend and Tell") attend over the locations of a convolutional feature map, one annotation vector per
// location; here the annotation of a location starts as the pixels of the window there, and a shared
// Linear layer (applied to every row) turns them into features, which is a convolution with stride.
//
// Windows start every `stride` pixels along each axis; when the last start does not reach the far edge,
// one more window is added flush with it, so every pixel lies in at least one window. Windows may
// overlap (stride < patch): then a pixel's gradient is the sum over the windows that hold it.
//
// Built from index_select on the flattened image, so the backward pass is index_select's (a scatter-add)
// and the layer needs no op of its own.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace seqgrad::nn {

struct PatchGridOptions {
    std::int64_t height = 0;  // H: image rows
    std::int64_t width = 0;   // W: image columns
    std::int64_t patch = 0;   // P: window side in pixels, 1 <= P <= min(H, W)
    std::int64_t stride = 0;  // pixels between window starts, >= 1
};

// No parameters, so not a Module: only the precomputed pixel indices of every window.
class PatchGrid {
public:
    // Throws ShapeError naming PatchGrid and the sizes for a non-positive size or a patch larger than
    // the image.
    explicit PatchGrid(const PatchGridOptions& options);

    std::int64_t grid_rows() const { return static_cast<std::int64_t>(row_starts_.size()); }
    std::int64_t grid_cols() const { return static_cast<std::int64_t>(col_starts_.size()); }
    std::int64_t count() const { return grid_rows() * grid_cols(); }  // S: windows, row-major over the grid
    std::int64_t patch_pixels() const { return options_.patch * options_.patch; }  // P²
    // Top-left pixel (row, column) of window s.
    std::pair<std::int64_t, std::int64_t> origin(std::int64_t s) const;
    const PatchGridOptions& options() const { return options_; }

    // images [B, H, W] (float) -> patches [B, S, P²]
    //   patches[b, s, i·P + j] = images[b, y_s + i, x_s + j]        (y_s, x_s) = origin(s)
    // Backward (index_select's): dimages[b, y, x] = Σ over the (s, i, j) that read (y, x) of dpatches[b, s, i·P + j].
    // Throws ShapeError when images is not [B, H, W] with this grid's H and W.
    Tensor extract(const Tensor& images) const;
    Tensor operator()(const Tensor& images) const { return extract(images); }

private:
    PatchGridOptions options_;
    std::vector<std::int64_t> row_starts_, col_starts_;
    Tensor ids_;  // int64 [S·P²]: flat pixel index y·W + x of every window element, window by window
};

}  // namespace seqgrad::nn
