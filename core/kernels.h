// Loop helpers shared by the op files (internal, not part of the public API): elementwise maps,
// broadcasting iteration and the [outer, n, inner] view used by reductions along one dim.
// Large loops are split over threads with OpenMP; small ones stay serial (thread start-up costs
// more than it saves below a few tens of thousands of elements).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace seqgrad::kernels {

// exp for float32 written so that g++ -O3 vectorises loops over it (std::exp does not without
// -ffast-math): exp(x) = 2^k exp(r), k = round(x / ln 2), r in [-ln2/2, ln2/2], exp(r) by a
// degree-6 polynomial (Cephes expf coefficients). Relative error about 2e-7 (a couple of ulp);
// tests/test_fused_ops.cpp checks it against std::exp. double keeps std::exp: gradchecks stay exact.
inline float fast_exp(float x) {
    x = x > 88.0f ? 88.0f : x;  // two flat selects, so the loop stays branch-free
    x = x < -87.0f ? -87.0f : x;
    // k = round(x / ln 2) by the 1.5 * 2^23 trick: after adding it, the float's low mantissa bits
    // hold k as an integer, so no float-to-int conversion is needed (one would stop g++ from
    // vectorising the loop) and the rounding is plain SSE2 arithmetic.
    const float shifted = x * 1.44269504088896341f + 12582912.0f;
    const float k = shifted - 12582912.0f;
    const float r = x - k * 0.693359375f + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int shifted_bits;
    __builtin_memcpy(&shifted_bits, &shifted, sizeof shifted_bits);
    const int ki = shifted_bits - 0x4B400000;  // = k
    const int bits = (ki + 127) << 23;         // 2^k as a float
    float scale;
    __builtin_memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}
inline double fast_exp(double x) { return std::exp(x); }
template <typename T>
inline T fast_sigmoid(T x) { return T(1) / (T(1) + fast_exp(-x)); }
template <typename T>
inline T fast_tanh(T x) {
    // tanh(x) = 1 - 2 / (exp(2x) + 1); saturates correctly at both ends.
    return T(1) - T(2) / (fast_exp(T(2) * x) + T(1));
}

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

// Row kernels for float32 hot loops (cross-entropy, attention scores). Float sums do not vectorise
// unless the compiler may reorder them, so these keep 8 partial sums explicitly; each is compiled
// twice (AVX2+FMA and baseline x86-64) and the CPU picks one at load time. The double versions are
// plain loops.
float row_max(const float* x, std::int64_t n);
double row_max(const double* x, std::int64_t n);
// sum_k exp(x[k] - shift)
float sum_exp(const float* x, std::int64_t n, float shift);
double sum_exp(const double* x, std::int64_t n, double shift);
// out[k] = exp(x[k] - shift); returns sum_k out[k]
float exp_store_sum(float* out, const float* x, std::int64_t n, float shift);
double exp_store_sum(double* out, const double* x, std::int64_t n, double shift);
// out[k] = scale * x[k]
void scale_into(float* out, const float* x, std::int64_t n, float scale);
void scale_into(double* out, const double* x, std::int64_t n, double scale);
// out[k] = scale * exp(x[k] - shift)
void scaled_exp(float* out, const float* x, std::int64_t n, float shift, float scale);
void scaled_exp(double* out, const double* x, std::int64_t n, double shift, double scale);
// sum_k a[k] * b[k]
float dot(const float* a, const float* b, std::int64_t n);
double dot(const double* a, const double* b, std::int64_t n);
// out[k] = tanh(a[k] + b[k])
void tanh_sum(float* out, const float* a, const float* b, std::int64_t n);
void tanh_sum(double* out, const double* a, const double* b, std::int64_t n);

// One batch row of the GRU gates (core/fused_ops.cpp gru_cell_fused has the formulas):
// forward from gx [3H], gh [3H], h [H] to out [H] and saved [4H] = r, z, n, gh_n; backward from
// dout [H], saved, h to dgx [3H], dgh [3H], dh_direct [H].
void gru_forward_row(const float* gx, const float* gh, const float* h, float* out, float* saved, std::int64_t H);
void gru_forward_row(const double* gx, const double* gh, const double* h, double* out, double* saved, std::int64_t H);
void gru_backward_row(const float* dout, const float* saved, const float* h, float* dgx, float* dgh, float* dh,
                      std::int64_t H);
void gru_backward_row(const double* dout, const double* saved, const double* h, double* dgx, double* dgh, double* dh,
                      std::int64_t H);

// Adam's element update without weight decay or amsgrad (optim/adam.cpp has the formula):
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g²;  p -= step_size m / (sqrt(v) inv_bias2_sqrt + eps)
// One pass over the four arrays, one sqrt and one division per element (inv_bias2_sqrt is
// 1 / sqrt(1 - b2^t), multiplied rather than divided by).
struct AdamConstants {
    double b1, b2, one_b1, one_b2, step_size, inv_bias2_sqrt, eps;
};
void adam_update(float* p, const float* g, float* m, float* v, std::int64_t n, const AdamConstants& c);
void adam_update(double* p, const double* g, double* m, double* v, std::int64_t n, const AdamConstants& c);

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

// The sizes (outer, n, inner) of x viewed as [outer, shape[dim], inner].
struct DimView {
    std::int64_t outer, n, inner;
};
DimView dim_view(const Shape& shape, std::int64_t dim);

}  // namespace seqgrad::kernels
