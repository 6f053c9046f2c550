// The multi-resolution glimpse sensor (see the header).
#include "models/vision/retina.h"

#include <cmath>
#include <vector>

#include "core/error.h"

namespace seqgrad::vision {

void check_retina(const RetinaOptions& o) {
    if (o.size <= 0 || o.scales < 1 || o.scales > 6)
        fail("retina: size must be positive and scales in [1, 6], got size={}, scales={}", o.size, o.scales);
}

double location_to_pixel(double l, std::int64_t canvas) { return (l + 1.0) / 2.0 * static_cast<double>(canvas); }

Tensor glimpse(const Tensor& images, const Tensor& locations, const RetinaOptions& o) {
    check_retina(o);
    check_defined("retina", images, "images");
    check_defined("retina", locations, "locations");
    if (images.dim() != 3 || images.size(1) != images.size(2) || !is_floating(images.dtype()))
        fail("retina: images must be float [B, N, N], got {} {}", dtype_name(images.dtype()), shape_str(images.shape()));
    const std::int64_t B = images.size(0), N = images.size(1), g = o.size;
    if (locations.shape() != Shape{B, 2})
        fail("retina: locations must be [B, 2] = [{}, 2] (y, x for each image of {}), got {}", B,
             shape_str(images.shape()), shape_str(locations.shape()));
    const std::vector<double> px = images.to_vector(), loc = locations.to_vector();
    std::vector<double> out(static_cast<std::size_t>(B * glimpse_size(o)), 0.0);
    std::size_t w = 0;
    for (std::int64_t b = 0; b < B; ++b) {
        const double* img = px.data() + b * N * N;
        const double cy = location_to_pixel(loc[b * 2], N), cx = location_to_pixel(loc[b * 2 + 1], N);
        for (std::int64_t s = 0; s < o.scales; ++s) {
            const std::int64_t f = std::int64_t{1} << s, side = g * f;
            const auto top = static_cast<std::int64_t>(std::lround(cy - static_cast<double>(side) / 2.0));
            const auto left = static_cast<std::int64_t>(std::lround(cx - static_cast<double>(side) / 2.0));
            for (std::int64_t i = 0; i < g; ++i)
                for (std::int64_t j = 0; j < g; ++j, ++w) {
                    double total = 0;
                    for (std::int64_t u = 0; u < f; ++u) {
                        const std::int64_t y = top + i * f + u;
                        if (y < 0 || y >= N) continue;
                        for (std::int64_t v = 0; v < f; ++v) {
                            const std::int64_t x = left + j * f + v;
                            if (x >= 0 && x < N) total += img[y * N + x];
                        }
                    }
                    out[w] = total / static_cast<double>(f * f);
                }
        }
    }
    return Tensor::from(out, {B, glimpse_size(o)}, {.dtype = images.dtype()});
}

}  // namespace seqgrad::vision
