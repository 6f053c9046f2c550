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

std::int64_t check_class_targets(const char* op, const Tensor& scores, const char* scores_name, const Tensor& target,
                                 std::int64_t ignore_index) {
    if (target.dtype() != DType::Int64) fail("{}: target must be int64 class ids, got {}", op, dtype_name(target.dtype()));
    if (target.dim() != 1 || target.shape()[0] != scores.shape()[0])
        fail("{}: target {} must be [N] with N = {} ({} {})", op, shape_str(target.shape()), scores.shape()[0],
             scores_name, shape_str(scores.shape()));
    const std::int64_t N = scores.shape()[0], C = scores.shape()[1];
    const std::int64_t* pt = target.data<std::int64_t>();
    std::int64_t count = 0;
    for (std::int64_t i = 0; i < N; ++i) {
        if (pt[i] == ignore_index) continue;
        if (pt[i] < 0 || pt[i] >= C)
            fail<IndexError>("{}: target {} at row {} is out of range for {} classes ({} {})", op, pt[i], i, C,
                             scores_name, shape_str(scores.shape()));
        ++count;
    }
    return count;
}

}  // namespace seqgrad::kernels
