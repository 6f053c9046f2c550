// Out-of-line parts of the loop helpers in core/kernels.h.
#include "core/kernels.h"

namespace seqgrad::kernels {

std::vector<std::int64_t> broadcast_strides(const Shape& shape, std::size_t rank) {
    std::vector<std::int64_t> strides(rank, 0);
    std::int64_t stride = 1;
    const std::size_t offset = rank - shape.size();
    for (std::size_t i = shape.size(); i-- > 0;) {
        strides[offset + i] = shape[i] == 1 ? 0 : stride;
        stride *= shape[i];
    }
    return strides;
}

DimView dim_view(const Shape& shape, std::int64_t dim) {
    DimView v{1, shape.empty() ? 1 : shape[dim], 1};
    for (std::int64_t i = 0; i < dim; ++i) v.outer *= shape[i];
    for (std::size_t i = dim + 1; i < shape.size(); ++i) v.inner *= shape[i];
    return v;
}

}  // namespace seqgrad::kernels
