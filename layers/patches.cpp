// Patch grid: window origins and the flat pixel indices of every window, and the extraction itself
// (reshape, index_select, reshape).
#include "layers/patches.h"

#include "core/ops.h"

namespace seqgrad::nn {

namespace {
// 0, stride, 2·stride, ... up to length − patch, plus length − patch itself when the last start falls short.
std::vector<std::int64_t> starts(std::int64_t length, std::int64_t patch, std::int64_t stride) {
    std::vector<std::int64_t> out;
    for (std::int64_t s = 0; s + patch <= length; s += stride) out.push_back(s);
    if (out.back() != length - patch) out.push_back(length - patch);
    return out;
}
}  // namespace

PatchGrid::PatchGrid(const PatchGridOptions& options) : options_(options) {
    const auto& o = options;
    if (o.height <= 0 || o.width <= 0 || o.patch <= 0 || o.stride <= 0)
        fail("PatchGrid: height, width, patch and stride must be positive, got height={}, width={}, patch={}, stride={}",
             o.height, o.width, o.patch, o.stride);
    if (o.patch > o.height || o.patch > o.width)
        fail("PatchGrid: patch {} is larger than the image [{}, {}]", o.patch, o.height, o.width);
    row_starts_ = starts(o.height, o.patch, o.stride);
    col_starts_ = starts(o.width, o.patch, o.stride);
    std::vector<std::int64_t> ids;
    ids.reserve(static_cast<std::size_t>(count() * patch_pixels()));
    for (std::int64_t y0 : row_starts_)
        for (std::int64_t x0 : col_starts_)
            for (std::int64_t i = 0; i < o.patch; ++i)
                for (std::int64_t j = 0; j < o.patch; ++j) ids.push_back((y0 + i) * o.width + (x0 + j));
    ids_ = Tensor::ids(ids, {static_cast<std::int64_t>(ids.size())});
}

std::pair<std::int64_t, std::int64_t> PatchGrid::origin(std::int64_t s) const {
    if (s < 0 || s >= count()) fail<IndexError>("PatchGrid: window {} outside [0, {})", s, count());
    return {row_starts_[static_cast<std::size_t>(s / grid_cols())], col_starts_[static_cast<std::size_t>(s % grid_cols())]};
}

// [B, H, W] -> [B, H·W] -> index_select along 1 -> [B, S·P²] -> [B, S, P²]
Tensor PatchGrid::extract(const Tensor& images) const {
    check_defined("PatchGrid", images, "images");
    if (images.dim() != 3 || images.size(1) != options_.height || images.size(2) != options_.width)
        fail("PatchGrid: images must be [B, {}, {}], got {}", options_.height, options_.width, shape_str(images.shape()));
    const std::int64_t B = images.size(0);
    Tensor flat = reshape(images, {B, options_.height * options_.width});
    return reshape(index_select(flat, 1, ids_), {B, count(), patch_pixels()});
}

}  // namespace seqgrad::nn
