// Vectorised row kernels of the fast paths (internal, not part of the public API): the exp/sigmoid/
// tanh approximations, the float32 row loops of cross-entropy and the attention scores, one batch
// row of the fused GRU, and Adam's element update. The plain ops never use these (core/kernels.h
// holds their loop helpers); each kernel here is tested against a plain loop (tests/test_kernels.cpp).
//
// Each kernel is compiled three times, for AVX-512, for AVX2 + FMA and for baseline x86-64, and the
// best one the CPU supports is used (isa(); set_isa() picks another, for the tests). The variants
// are separate functions, not compiler-made clones, so that a test can run each one it can.
#pragma once
#include <cmath>
#include <cstdint>

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

// ---- which variant runs -------------------------------------------------------------------------
enum class Isa { Baseline, AVX2, AVX512 };
const char* isa_name(Isa isa);
bool isa_supported(Isa isa);  // this CPU (and OS) can run it
Isa isa();                    // the variant in use: the best supported one unless set_isa chose
void set_isa(Isa isa);        // an unsupported one is an error naming it

// ---- the kernels --------------------------------------------------------------------------------
// Float sums do not vectorise unless the compiler may reorder them, so the float32 reductions keep
// 8 partial sums explicitly. The double versions are plain loops (gradcheck precision).
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
// sum_k x[k]^2 accumulated in double, in 16 partial sums (clip_grad_norm's global 2-norm)
double sum_squares(const float* x, std::int64_t n);
// out[j] += sum over r of x[r * cols + j] (x is rows x cols, row-major): the column sums of a matrix,
// each column added row after row in order, as the plain loop does (the same bits).
void add_rows(float* out, const float* x, std::int64_t rows, std::int64_t cols);
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
//   g = grad_scale grad (rounded to T, as an in-place rescaling by grad_scale would leave it);
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g²;  p -= step_size m / (sqrt(v) inv_bias2_sqrt + eps)
// One pass over the four arrays, one sqrt and one division per element (inv_bias2_sqrt is
// 1 / sqrt(1 - b2^t), multiplied rather than divided by). The gradient array is only read.
struct AdamConstants {
    double b1, b2, one_b1, one_b2, step_size, inv_bias2_sqrt, eps;
    double grad_scale = 1.0;
};
void adam_update(float* p, const float* g, float* m, float* v, std::int64_t n, const AdamConstants& c);
void adam_update(double* p, const double* g, double* m, double* v, std::int64_t n, const AdamConstants& c);

}  // namespace seqgrad::kernels
