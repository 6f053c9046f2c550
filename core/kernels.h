// Loop helpers shared by the op files (internal, not part of the public API): elementwise maps,
// broadcasting iteration, the [outer, n, inner] view used by reductions along one dim, and the
// target check of the losses. Plain loops only: the vectorised row kernels of the fast paths (fused
// cells, cross-entropy, attention scores, Adam) live apart, in core/row_kernels.h.
// Large loops are split over threads with OpenMP; small ones stay serial (thread start-up costs
// more than it saves below a few tens of thousands of elements).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace seqgrad::kernels {

constexpr std::int64_t kParallelThreshold = 1 << 15;

// out[i] = f(x[i])
template <typename T, typename F>
void map(const T* x, T* out, std::int64_t n, F f) {
#pragma omp parallel for if (n >= kParallelThreshold) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) out[i] = f(x[i]);
}

// out[i] = f(a[i], b[i])
template <typename T, typename F>
void zip(const T* a, const T* b, T* out, std::int64_t n, F f) {
#pragma omp parallel for if (n >= kParallelThreshold) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
}

// A fresh tensor with f applied to each element of x (floating dtypes).
template <typename F>
Tensor unary(const char* op, const Tensor& x, F f) {
    check_defined(op, x);
    Tensor out = Tensor::empty(x.shape(), x.dtype());
    dispatch_floating(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        map(x.data<T>(), out.data<T>(), x.numel(), [&](T v) { return static_cast<T>(f(v)); });
    });
    return out;
}

// A fresh tensor with f(a[i], b[i]) for two tensors of the same shape and dtype.
template <typename F>
Tensor binary_same(const char* op, const Tensor& a, const Tensor& b, F f) {
    check_same_shape(op, a, b);
    check_same_dtype(op, a, b);
    Tensor out = Tensor::empty(a.shape(), a.dtype());
    dispatch_floating(a.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        zip(a.data<T>(), b.data<T>(), out.data<T>(), a.numel(), [&](T u, T v) { return static_cast<T>(f(u, v)); });
    });
    return out;
}

// Element strides of `shape` aligned to an output of rank `rank`, 0 where the input broadcasts.
std::vector<std::int64_t> broadcast_strides(const Shape& shape, std::size_t rank);

// Calls f(out_index, a_index, b_index) for every element of out_shape, with a and b broadcast.
template <typename F>
void for_each_broadcast(const Shape& out_shape, const Shape& a_shape, const Shape& b_shape, F f) {
    const std::size_t rank = out_shape.size();
    const std::int64_t n = numel_of(out_shape);
    if (n == 0) return;
    if (rank == 0) {
        f(0, 0, 0);
        return;
    }
    auto sa = broadcast_strides(a_shape, rank);
    auto sb = broadcast_strides(b_shape, rank);
    const std::int64_t inner = out_shape[rank - 1];
    const std::int64_t ia_step = sa[rank - 1], ib_step = sb[rank - 1];
    std::vector<std::int64_t> counter(rank, 0);
    std::int64_t ia = 0, ib = 0;
    for (std::int64_t o = 0; o < n; o += inner) {
        std::int64_t a_i = ia, b_i = ib;
        for (std::int64_t j = 0; j < inner; ++j, a_i += ia_step, b_i += ib_step) f(o + j, a_i, b_i);
        // advance the outer counter (dims rank-2 .. 0)
        for (std::int64_t d = static_cast<std::int64_t>(rank) - 2; d >= 0; --d) {
            ia += sa[d];
            ib += sb[d];
            if (++counter[d] < out_shape[d]) break;
            ia -= sa[d] * out_shape[d];
            ib -= sb[d] * out_shape[d];
            counter[d] = 0;
        }
    }
}

// The class targets of a loss over scores [N, C] (logits or log-probabilities, named `scores_name`
// in messages): int64, [N], each in [0, C) or equal to ignore_index. Returns how many are not ignored.
std::int64_t check_class_targets(const char* op, const Tensor& scores, const char* scores_name, const Tensor& target,
                                 std::int64_t ignore_index);

// The sizes (outer, n, inner) of x viewed as [outer, shape[dim], inner].
struct DimView {
    std::int64_t outer, n, inner;
};
DimView dim_view(const Shape& shape, std::int64_t dim);

}  // namespace seqgrad::kernels
