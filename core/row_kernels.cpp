// The row kernels of core/row_kernels.h: one body per kernel (always inlined), compiled into three
// variants (AVX-512, AVX2 + FMA, baseline x86-64) by SEQGRAD_VARIANT below, and a table of the
// variant in use. The bodies are plain C++ loops; the vector code is the compiler's, per target.
#include "core/row_kernels.h"

#include <atomic>

#include "core/error.h"

namespace seqgrad::kernels {

namespace {

// The bodies are inlined into each variant, so each is compiled for that variant's target.
#define SEQGRAD_BODY inline __attribute__((always_inline))

template <typename T>
SEQGRAD_BODY void adam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, std::int64_t n,
                      const AdamConstants& c) {
    const T b1 = static_cast<T>(c.b1), b2 = static_cast<T>(c.b2), one_b1 = static_cast<T>(c.one_b1),
            one_b2 = static_cast<T>(c.one_b2), step = static_cast<T>(c.step_size),
            inv_b2 = static_cast<T>(c.inv_bias2_sqrt), eps = static_cast<T>(c.eps), scale = static_cast<T>(c.grad_scale);
    for (std::int64_t i = 0; i < n; ++i) {
        const T gi = g[i] * scale;  // exact when scale is 1
        const T mi = b1 * m[i] + one_b1 * gi;
        const T vi = b2 * v[i] + one_b2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step * mi / (std::sqrt(vi) * inv_b2 + eps);
    }
}

template <typename T>
SEQGRAD_BODY void gru_forward_loop(const T* __restrict x, const T* __restrict gg, const T* __restrict hh, T* __restrict o,
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
SEQGRAD_BODY void gru_backward_loop(const T* __restrict d, const T* __restrict s, const T* __restrict hh, T* __restrict dx,
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

SEQGRAD_BODY float row_max_f(const float* x, std::int64_t n) {
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

SEQGRAD_BODY float sum_exp_f(const float* x, std::int64_t n, float shift) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) acc[j] += fast_exp(x[i + j] - shift);
    float r = 0;
    for (; i < n; ++i) r += fast_exp(x[i] - shift);
    for (int j = 0; j < 8; ++j) r += acc[j];
    return r;
}

SEQGRAD_BODY float exp_store_sum_f(float* __restrict out, const float* __restrict x, std::int64_t n, float shift) {
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

SEQGRAD_BODY void scale_into_f(float* __restrict out, const float* __restrict x, std::int64_t n, float scale) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = scale * x[i];
}

SEQGRAD_BODY void scaled_exp_f(float* out, const float* x, std::int64_t n, float shift, float scale) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = scale * fast_exp(x[i] - shift);
}

SEQGRAD_BODY float dot_f(const float* a, const float* b, std::int64_t n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
    float r = 0;
    for (; i < n; ++i) r += a[i] * b[i];
    for (int j = 0; j < 8; ++j) r += acc[j];
    return r;
}

// 16 partial sums in double (two AVX-512 registers of doubles), combined in a fixed order.
SEQGRAD_BODY double sum_squares_f(const float* x, std::int64_t n) {
    double acc[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    std::int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; ++j) {
            const double v = static_cast<double>(x[i + j]);
            acc[j] += v * v;
        }
    double r = 0;
    for (; i < n; ++i) r += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    for (int j = 0; j < 16; ++j) r += acc[j];
    return r;
}

// out[j] += x[0][j] + x[1][j] + ... + x[rows-1][j]: row after row into out, the plain loop's order
// (so the same bits), at this variant's vector width. Row order reads x front to back, which the
// prefetchers follow; out stays in L1. (Sums kept in registers over a block of columns for all rows
// were slower: they read x in short pieces a row apart.)
SEQGRAD_BODY void add_rows_f(float* __restrict out, const float* __restrict x, std::int64_t rows, std::int64_t cols) {
    for (std::int64_t r = 0; r < rows; ++r) {
        const float* __restrict row = x + r * cols;
        for (std::int64_t j = 0; j < cols; ++j) out[j] += row[j];
    }
}

SEQGRAD_BODY void tanh_sum_f(float* out, const float* a, const float* b, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = fast_tanh(a[i] + b[i]);
}

// The table of one variant's entry points.
struct Variant {
    float (*row_max)(const float*, std::int64_t);
    float (*sum_exp)(const float*, std::int64_t, float);
    float (*exp_store_sum)(float*, const float*, std::int64_t, float);
    void (*scale_into)(float*, const float*, std::int64_t, float);
    void (*scaled_exp)(float*, const float*, std::int64_t, float, float);
    float (*dot)(const float*, const float*, std::int64_t);
    double (*sum_squares)(const float*, std::int64_t);
    void (*tanh_sum)(float*, const float*, const float*, std::int64_t);
    void (*add_rows)(float*, const float*, std::int64_t, std::int64_t);
    void (*gru_forward_f)(const float*, const float*, const float*, float*, float*, std::int64_t);
    void (*gru_forward_d)(const double*, const double*, const double*, double*, double*, std::int64_t);
    void (*gru_backward_f)(const float*, const float*, const float*, float*, float*, float*, std::int64_t);
    void (*gru_backward_d)(const double*, const double*, const double*, double*, double*, double*, std::int64_t);
    void (*adam_f)(float*, const float*, float*, float*, std::int64_t, const AdamConstants&);
    void (*adam_d)(double*, const double*, double*, double*, std::int64_t, const AdamConstants&);
};

// One variant: every kernel compiled with TARGET, in namespace NS, and its table.
#define SEQGRAD_VARIANT(NS, TARGET)                                                                                 \
    namespace NS {                                                                                                  \
    TARGET float row_max(const float* x, std::int64_t n) { return row_max_f(x, n); }                                \
    TARGET float sum_exp(const float* x, std::int64_t n, float s) { return sum_exp_f(x, n, s); }                    \
    TARGET float exp_store_sum(float* o, const float* x, std::int64_t n, float s) {                                 \
        return exp_store_sum_f(o, x, n, s);                                                                         \
    }                                                                                                               \
    TARGET void scale_into(float* o, const float* x, std::int64_t n, float s) { scale_into_f(o, x, n, s); }         \
    TARGET void scaled_exp(float* o, const float* x, std::int64_t n, float s, float k) {                            \
        scaled_exp_f(o, x, n, s, k);                                                                                \
    }                                                                                                               \
    TARGET float dot(const float* a, const float* b, std::int64_t n) { return dot_f(a, b, n); }                     \
    TARGET double sum_squares(const float* x, std::int64_t n) { return sum_squares_f(x, n); }                       \
    TARGET void tanh_sum(float* o, const float* a, const float* b, std::int64_t n) { tanh_sum_f(o, a, b, n); }      \
    TARGET void add_rows(float* o, const float* x, std::int64_t r, std::int64_t c) { add_rows_f(o, x, r, c); }     \
    template <typename T>                                                                                           \
    TARGET void gru_forward(const T* gx, const T* gh, const T* h, T* out, T* saved, std::int64_t H) {               \
        gru_forward_loop(gx, gh, h, out, saved, H);                                                                 \
    }                                                                                                               \
    template <typename T>                                                                                           \
    TARGET void gru_backward(const T* d, const T* s, const T* h, T* dgx, T* dgh, T* dh, std::int64_t H) {           \
        gru_backward_loop(d, s, h, dgx, dgh, dh, H);                                                                \
    }                                                                                                               \
    template <typename T>                                                                                           \
    TARGET void adam(T* p, const T* g, T* m, T* v, std::int64_t n, const AdamConstants& c) {                        \
        adam_loop(p, g, m, v, n, c);                                                                                \
    }                                                                                                               \
    constexpr Variant table{row_max,           sum_exp,           exp_store_sum,      scale_into,                  \
                            scaled_exp,        dot,               sum_squares,        tanh_sum,                    \
                            add_rows,                                                                               \
                            gru_forward<float>,                                                                     \
                            gru_forward<double>, gru_backward<float>, gru_backward<double>, adam<float>,            \
                            adam<double>};                                                                          \
    }

SEQGRAD_VARIANT(avx512, __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"))))
SEQGRAD_VARIANT(avx2, __attribute__((target("avx2,fma"))))
SEQGRAD_VARIANT(baseline, )

bool cpu_has(Isa isa) {
    __builtin_cpu_init();
    switch (isa) {
        case Isa::Baseline: return true;
        case Isa::AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case Isa::AVX512:
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    }
    return false;
}

Isa best_isa() {
    for (Isa i : {Isa::AVX512, Isa::AVX2})
        if (cpu_has(i)) return i;
    return Isa::Baseline;
}

std::atomic<int> g_isa{-1};  // -1 until the first kernel call

const Variant& variant() {
    int i = g_isa.load(std::memory_order_relaxed);
    if (i < 0) {
        i = static_cast<int>(best_isa());
        g_isa.store(i, std::memory_order_relaxed);
    }
    switch (static_cast<Isa>(i)) {
        case Isa::AVX512: return avx512::table;
        case Isa::AVX2: return avx2::table;
        case Isa::Baseline: break;
    }
    return baseline::table;
}

}  // namespace

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::Baseline: return "baseline";
        case Isa::AVX2: return "avx2";
        case Isa::AVX512: return "avx512";
    }
    return "?";
}
bool isa_supported(Isa isa) { return cpu_has(isa); }
Isa isa() {
    (void)variant();
    return static_cast<Isa>(g_isa.load(std::memory_order_relaxed));
}
void set_isa(Isa isa) {
    if (!cpu_has(isa)) fail("row kernels: this CPU cannot run the {} variant", isa_name(isa));
    g_isa.store(static_cast<int>(isa), std::memory_order_relaxed);
}

float row_max(const float* x, std::int64_t n) { return variant().row_max(x, n); }
float sum_exp(const float* x, std::int64_t n, float shift) { return variant().sum_exp(x, n, shift); }
float exp_store_sum(float* out, const float* x, std::int64_t n, float shift) {
    return variant().exp_store_sum(out, x, n, shift);
}
void scale_into(float* out, const float* x, std::int64_t n, float scale) { variant().scale_into(out, x, n, scale); }
void scaled_exp(float* out, const float* x, std::int64_t n, float shift, float scale) {
    variant().scaled_exp(out, x, n, shift, scale);
}
float dot(const float* a, const float* b, std::int64_t n) { return variant().dot(a, b, n); }
double sum_squares(const float* x, std::int64_t n) { return variant().sum_squares(x, n); }
void add_rows(float* out, const float* x, std::int64_t rows, std::int64_t cols) {
    variant().add_rows(out, x, rows, cols);
}
void tanh_sum(float* out, const float* a, const float* b, std::int64_t n) { variant().tanh_sum(out, a, b, n); }
void gru_forward_row(const float* gx, const float* gh, const float* h, float* out, float* saved, std::int64_t H) {
    variant().gru_forward_f(gx, gh, h, out, saved, H);
}
void gru_forward_row(const double* gx, const double* gh, const double* h, double* out, double* saved, std::int64_t H) {
    variant().gru_forward_d(gx, gh, h, out, saved, H);
}
void gru_backward_row(const float* dout, const float* saved, const float* h, float* dgx, float* dgh, float* dh,
                      std::int64_t H) {
    variant().gru_backward_f(dout, saved, h, dgx, dgh, dh, H);
}
void gru_backward_row(const double* dout, const double* saved, const double* h, double* dgx, double* dgh, double* dh,
                      std::int64_t H) {
    variant().gru_backward_d(dout, saved, h, dgx, dgh, dh, H);
}
void adam_update(float* p, const float* g, float* m, float* v, std::int64_t n, const AdamConstants& c) {
    variant().adam_f(p, g, m, v, n, c);
}
void adam_update(double* p, const double* g, double* m, double* v, std::int64_t n, const AdamConstants& c) {
    variant().adam_d(p, g, m, v, n, c);
}

// The double versions: plain loops, the same for every variant (gradcheck precision).
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

}  // namespace seqgrad::kernels
