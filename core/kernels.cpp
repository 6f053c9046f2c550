// Out-of-line parts of the loop helpers in core/kernels.h.
#include "core/kernels.h"

#include <cmath>

namespace seqgrad::kernels {

#define SEQGRAD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=haswell", "default")))

namespace {
template <typename T>
inline void adam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, std::int64_t n,
                      const AdamConstants& c) {
    const T b1 = static_cast<T>(c.b1), b2 = static_cast<T>(c.b2), one_b1 = static_cast<T>(c.one_b1),
            one_b2 = static_cast<T>(c.one_b2), step = static_cast<T>(c.step_size),
            inv_b2 = static_cast<T>(c.inv_bias2_sqrt), eps = static_cast<T>(c.eps);
    for (std::int64_t i = 0; i < n; ++i) {
        const T gi = g[i];
        const T mi = b1 * m[i] + one_b1 * gi;
        const T vi = b2 * v[i] + one_b2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step * mi / (std::sqrt(vi) * inv_b2 + eps);
    }
}

template <typename T>
inline void gru_forward_loop(const T* __restrict x, const T* __restrict gg, const T* __restrict hh, T* __restrict o,
                             T* __restrict s, std::int64_t H) {
    for (std::int64_t j = 0; j < H; ++j) {
        const T r = fast_sigmoid(x[j] + gg[j]);
        const T z = fast_sigmoid(x[H + j] + gg[H + j]);
        const T n = fast_tanh(x[2 * H + j] + r * gg[2 * H + j]);
        o[j] = (T(1) - z) * n + z * hh[j];
        s[j] = r;
        s[H + j] = z;
        s[2 * H + j] = n;
        s[3 * H + j] = gg[2 * H + j];
    }
}

template <typename T>
inline void gru_backward_loop(const T* __restrict d, const T* __restrict s, const T* __restrict hh, T* __restrict dx,
                              T* __restrict dg, T* __restrict dhb, std::int64_t H) {
    for (std::int64_t j = 0; j < H; ++j) {
        const T r = s[j], z = s[H + j], n = s[2 * H + j], ghn = s[3 * H + j];
        const T dn = d[j] * (T(1) - z);
        const T dz = d[j] * (hh[j] - n);
        dhb[j] = d[j] * z;
        const T dn_pre = dn * (T(1) - n * n);
        const T dr_pre = dn_pre * ghn * r * (T(1) - r);
        const T dz_pre = dz * z * (T(1) - z);
        dx[j] = dr_pre;
        dx[H + j] = dz_pre;
        dx[2 * H + j] = dn_pre;
        dg[j] = dr_pre;
        dg[H + j] = dz_pre;
        dg[2 * H + j] = dn_pre * r;
    }
}
}  // namespace

// GRU rows: __restrict (the arrays never overlap) lets g++ vectorise without run-time alias checks.
SEQGRAD_CLONES void gru_forward_row(const float* gx, const float* gh, const float* h, float* out, float* saved,
                                    std::int64_t H) {
    gru_forward_loop(gx, gh, h, out, saved, H);
}
SEQGRAD_CLONES void gru_forward_row(const double* gx, const double* gh, const double* h, double* out, double* saved,
                                    std::int64_t H) {
    gru_forward_loop(gx, gh, h, out, saved, H);
}
SEQGRAD_CLONES void gru_backward_row(const float* dout, const float* saved, const float* h, float* dgx, float* dgh,
                                     float* dh, std::int64_t H) {
    gru_backward_loop(dout, saved, h, dgx, dgh, dh, H);
}
SEQGRAD_CLONES void gru_backward_row(const double* dout, const double* saved, const double* h, double* dgx,
                                     double* dgh, double* dh, std::int64_t H) {
    gru_backward_loop(dout, saved, h, dgx, dgh, dh, H);
}

SEQGRAD_CLONES void adam_update(float* p, const float* g, float* m, float* v, std::int64_t n, const AdamConstants& c) {
    adam_loop(p, g, m, v, n, c);
}
SEQGRAD_CLONES void adam_update(double* p, const double* g, double* m, double* v, std::int64_t n,
                                const AdamConstants& c) {
    adam_loop(p, g, m, v, n, c);
}

SEQGRAD_CLONES float row_max(const float* x, std::int64_t n) {
    float m[8];
    for (int j = 0; j < 8; ++j) m[j] = -3.4e38f;
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    float r = -3.4e38f;
    for (; i < n; ++i) r = x[i] > r ? x[i] : r;
    for (int j = 0; j < 8; ++j) r = m[j] > r ? m[j] : r;
    return r;
}

SEQGRAD_CLONES float sum_exp(const float* x, std::int64_t n, float shift) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) acc[j] += fast_exp(x[i + j] - shift);
    float r = 0;
    for (; i < n; ++i) r += fast_exp(x[i] - shift);
    for (int j = 0; j < 8; ++j) r += acc[j];
    return r;
}

SEQGRAD_CLONES float exp_store_sum(float* __restrict out, const float* __restrict x, std::int64_t n, float shift) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) {
            out[i + j] = fast_exp(x[i + j] - shift);
            acc[j] += out[i + j];
        }
    float r = 0;
    for (; i < n; ++i) {
        out[i] = fast_exp(x[i] - shift);
        r += out[i];
    }
    for (int j = 0; j < 8; ++j) r += acc[j];
    return r;
}

SEQGRAD_CLONES void scale_into(float* __restrict out, const float* __restrict x, std::int64_t n, float scale) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = scale * x[i];
}

SEQGRAD_CLONES void scaled_exp(float* out, const float* x, std::int64_t n, float shift, float scale) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = scale * fast_exp(x[i] - shift);
}

SEQGRAD_CLONES float dot(const float* a, const float* b, std::int64_t n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
    float r = 0;
    for (; i < n; ++i) r += a[i] * b[i];
    for (int j = 0; j < 8; ++j) r += acc[j];
    return r;
}

SEQGRAD_CLONES void tanh_sum(float* out, const float* a, const float* b, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = fast_tanh(a[i] + b[i]);
}

double row_max(const double* x, std::int64_t n) {
    double r = -1.7e308;
    for (std::int64_t i = 0; i < n; ++i) r = x[i] > r ? x[i] : r;
    return r;
}
double sum_exp(const double* x, std::int64_t n, double shift) {
    double r = 0;
    for (std::int64_t i = 0; i < n; ++i) r += std::exp(x[i] - shift);
    return r;
}
void scaled_exp(double* out, const double* x, std::int64_t n, double shift, double scale) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = scale * std::exp(x[i] - shift);
}
double exp_store_sum(double* out, const double* x, std::int64_t n, double shift) {
    double r = 0;
    for (std::int64_t i = 0; i < n; ++i) r += out[i] = std::exp(x[i] - shift);
    return r;
}
void scale_into(double* out, const double* x, std::int64_t n, double scale) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = scale * x[i];
}
double dot(const double* a, const double* b, std::int64_t n) {
    double r = 0;
    for (std::int64_t i = 0; i < n; ++i) r += a[i] * b[i];
    return r;
}
void tanh_sum(double* out, const double* a, const double* b, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = std::tanh(a[i] + b[i]);
}

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
