// The gemm/gemv seam (core/blas.h): the reference loops, the OpenBLAS and oneDNN calls, the split of
// large products over the OpenMP threads, and the thread setup.
#include "core/blas.h"

#include <cblas.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <type_traits>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include <immintrin.h>

#ifdef SEQGRAD_HAVE_ONEDNN
#include <dnnl.h>
#include <dnnl.hpp>
#endif

#include "core/error.h"

namespace seqgrad::blas {

// ---- backends -----------------------------------------------------------------------------------

const char* backend_name(Backend backend) {
    switch (backend) {
        case Backend::Reference: return "reference";
        case Backend::OpenBLAS: return "openblas";
        case Backend::OneDNN: return "onednn";
    }
    return "?";
}

bool backend_built(Backend backend) {
#ifdef SEQGRAD_HAVE_ONEDNN
    (void)backend;
    return true;
#else
    return backend != Backend::OneDNN;
#endif
}

std::vector<Backend> built_backends() {
    std::vector<Backend> out;
    for (Backend b : {Backend::OneDNN, Backend::OpenBLAS, Backend::Reference})
        if (backend_built(b)) out.push_back(b);
    return out;
}

std::string built_backends_str() {
    std::string s;
    for (Backend b : built_backends()) s += (s.empty() ? "" : ", ") + std::string(backend_name(b));
    return s;
}

Backend parse_backend(std::string_view name) {
    for (Backend b : {Backend::OneDNN, Backend::OpenBLAS, Backend::Reference})
        if (name == backend_name(b)) return b;
    fail("gemm backend '{}' is unknown; this build has: {}", name, built_backends_str());
}

Backend backend_from_env(const char* value) {
    if (value == nullptr || *value == '\0') return built_backends().front();
    const std::string_view name(value);
    for (Backend b : {Backend::OneDNN, Backend::OpenBLAS, Backend::Reference})
        if (name == backend_name(b)) {
            if (!backend_built(b))
                fail("SEQGRAD_GEMM={}: this build has no {} backend (it has: {})", name, name, built_backends_str());
            return b;
        }
    fail("SEQGRAD_GEMM={}: not a gemm backend (this build has: {})", name, built_backends_str());
}

namespace {
// -1 until the first product reads SEQGRAD_GEMM.
std::atomic<int> g_backend{-1};
}  // namespace

Backend backend() {
    int b = g_backend.load(std::memory_order_relaxed);
    if (b < 0) {
        b = static_cast<int>(backend_from_env(std::getenv("SEQGRAD_GEMM")));
        g_backend.store(b, std::memory_order_relaxed);
    }
    return static_cast<Backend>(b);
}

void set_backend(Backend backend) {
    if (!backend_built(backend))
        fail("gemm backend '{}' is not in this build (it has: {}); configure with -DSEQGRAD_ONEDNN=ON and libdnnl-dev",
             backend_name(backend), built_backends_str());
    g_backend.store(static_cast<int>(backend), std::memory_order_relaxed);
}

// ---- reference: the definition, in plain loops --------------------------------------------------
namespace {

template <typename T>
void reference_gemm(bool ta, bool tb, int M, int N, int K, const T* A, int lda, const T* B, int ldb, T beta, T* C,
                    int ldc) {
    // op(A)[i, k] and op(B)[k, j] read through the flags: a transposed matrix is read by columns.
    auto a = [&](int i, int k) { return ta ? A[static_cast<std::ptrdiff_t>(k) * lda + i] : A[static_cast<std::ptrdiff_t>(i) * lda + k]; };
    auto b = [&](int k, int j) { return tb ? B[static_cast<std::ptrdiff_t>(j) * ldb + k] : B[static_cast<std::ptrdiff_t>(k) * ldb + j]; };
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
            T acc = 0;
            for (int k = 0; k < K; ++k) acc += a(i, k) * b(k, j);
            T& c = C[static_cast<std::ptrdiff_t>(i) * ldc + j];
            c = beta == T(0) ? acc : acc + beta * c;
        }
}

template <typename T>
void reference_gemv(bool tx, int rows, int cols, const T* X, int ldx, const T* x, int incx, T beta, T* y, int incy) {
    const int out = tx ? cols : rows, in = tx ? rows : cols;
    for (int i = 0; i < out; ++i) {
        T acc = 0;
        for (int k = 0; k < in; ++k)
            acc += (tx ? X[static_cast<std::ptrdiff_t>(k) * ldx + i] : X[static_cast<std::ptrdiff_t>(i) * ldx + k]) *
                   x[static_cast<std::ptrdiff_t>(k) * incx];
        T& yi = y[static_cast<std::ptrdiff_t>(i) * incy];
        yi = beta == T(0) ? acc : acc + beta * yi;
    }
}

// ---- OpenBLAS -----------------------------------------------------------------------------------

void openblas_gemv(bool tx, int rows, int cols, const float* X, int ldx, const float* x, int incx, float beta, float* y,
                   int incy) {
    cblas_sgemv(CblasRowMajor, tx ? CblasTrans : CblasNoTrans, rows, cols, 1.0f, X, ldx, x, incx, beta, y, incy);
}
void openblas_gemv(bool tx, int rows, int cols, const double* X, int ldx, const double* x, int incx, double beta,
                   double* y, int incy) {
    cblas_dgemv(CblasRowMajor, tx ? CblasTrans : CblasNoTrans, rows, cols, 1.0, X, ldx, x, incx, beta, y, incy);
}

// A product with one row (M = 1, a batch-1 step) or one column (N = 1) is a matrix-vector product:
// gemv reads the matrix once, where OpenBLAS's gemm would first copy (pack) all of it to compute one
// row. Returns false when the shape is not one of these.
template <typename T>
bool openblas_gemm_as_gemv(bool ta, bool tb, int M, int N, int K, const T* A, int lda, const T* B, int ldb, T beta,
                           T* C, int ldc) {
    if ((M == 1) == (N == 1)) return false;
    // gemv with beta = 0 must not read y either: start from zeros so that NaN in a fresh C cannot leak.
    if (beta == T(0))
        for (int i = 0; i < std::max(M, N); ++i) C[static_cast<std::ptrdiff_t>(i) * (M == 1 ? 1 : ldc)] = T(0);
    if (M == 1) {
        // C[0, :] = op(A)[0, :] op(B): op(B) stored [K, N] (tb = false) or [N, K] (tb = true)
        const int inca = ta ? lda : 1;  // op(A)'s row is a column of the stored A when transposed
        if (tb) openblas_gemv(false, N, K, B, ldb, A, inca, beta, C, 1);
        else openblas_gemv(true, K, N, B, ldb, A, inca, beta, C, 1);
        return true;
    }
    // N == 1: C[:, 0] = op(A) op(B)[:, 0]
    const int incb = tb ? 1 : ldb;
    if (ta) openblas_gemv(true, K, M, A, lda, B, incb, beta, C, ldc);
    else openblas_gemv(false, M, K, A, lda, B, incb, beta, C, ldc);
    return true;
}

void openblas_gemm(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float beta,
                   float* C, int ldc) {
    if (openblas_gemm_as_gemv(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc)) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B,
                ldb, beta, C, ldc);
}
void openblas_gemm(bool ta, bool tb, int M, int N, int K, const double* A, int lda, const double* B, int ldb,
                   double beta, double* C, int ldc) {
    if (openblas_gemm_as_gemv(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc)) return;
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0, A, lda, B,
                ldb, beta, C, ldc);
}

// ---- oneDNN -------------------------------------------------------------------------------------
#ifdef SEQGRAD_HAVE_ONEDNN
// dnnl_sgemm threads itself over OpenMP's pool when called outside a parallel region; seqgrad
// splits products itself (gemm below), so outside a parallel region the call runs with the calling
// thread's OpenMP thread count set to 1 for its duration (inside one, nesting is off: one thread).
void onednn_gemm(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float beta,
                 float* C, int ldc) {
    const int before = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (before > 1) omp_set_num_threads(1);
    const dnnl_status_t status =
        dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
    if (before > 1) omp_set_num_threads(before);
    if (status != dnnl_success)
        fail<Error>("gemm: oneDNN's sgemm failed (status {}) for M {} N {} K {} lda {} ldb {} ldc {}",
                    static_cast<int>(status), M, N, K, lda, ldb, ldc);
}
#endif

// One backend call on the calling thread. float64 on oneDNN goes to OpenBLAS (oneDNN has no dgemm).
template <typename T>
void call_backend(Backend backend, bool ta, bool tb, int M, int N, int K, const T* A, int lda, const T* B, int ldb,
                  T beta, T* C, int ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0) {  // C = beta C: nothing to multiply (and BLAS rejects a leading dimension of 0)
        for (int i = 0; i < M; ++i)
            for (int j = 0; j < N; ++j) {
                T& c = C[static_cast<std::ptrdiff_t>(i) * ldc + j];
                c = beta == T(0) ? T(0) : beta * c;
            }
        return;
    }
    switch (backend) {
        case Backend::Reference: reference_gemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc); return;
        case Backend::OneDNN:
#ifdef SEQGRAD_HAVE_ONEDNN
            if constexpr (std::is_same_v<T, float>) {
                onednn_gemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
                return;
            }
#endif
            [[fallthrough]];
        case Backend::OpenBLAS: openblas_gemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc); return;
    }
}

// Products below this many FLOPs are not worth waking a second thread for.
constexpr double kSplitFlops = 4.0e6;

// C = op(A) op(B) (+ beta C), split over the OpenMP threads when it pays. Row blocks of C take row
// blocks of op(A); column blocks of C take column blocks of op(B). Blocks are multiples of 16 rows
// or columns, so every thread runs the kernel on full panels.
// The split itself, for any kernel: `part(m, n, a, b, c)` computes the m x n block of C at c from
// the blocks of op(A) and op(B) at a and b (the leading dimensions stay the caller's).
template <typename In, typename Out, typename Part>
void split_over_threads(int threads, bool ta, bool tb, int M, int N, const In* A, int lda, const In* B, int ldb,
                        Out* C, int ldc, Part&& part) {
    const bool rows = M >= N;
    const int extent = rows ? M : N;
#pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        auto edge = [&](int i) { return i == nt ? extent : std::min(extent, (extent * i / nt + 8) / 16 * 16); };
        const int lo = edge(t), hi = edge(t + 1);
        if (hi > lo) {
            const auto o = static_cast<std::ptrdiff_t>(lo);
            if (rows)  // rows lo..hi of op(A): columns of the stored A when it is transposed
                part(hi - lo, N, ta ? A + o : A + o * lda, B, C + o * ldc);
            else  // columns lo..hi of op(B): rows of the stored B when it is transposed
                part(M, hi - lo, A, tb ? B + o * ldb : B + o, C + o);
        }
    }
}

template <typename T>
void gemm_split(bool ta, bool tb, int M, int N, int K, const T* A, int lda, const T* B, int ldb, T beta, T* C,
                int ldc) {
    const Backend b = backend();
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    // An OpenBLAS given threads of its own (openblas_set_num_threads > 1) splits by itself.
    const bool blas_threads = b != Backend::Reference && openblas_get_num_threads() != 1;
    if (threads < 2 || 2.0 * M * N * K < kSplitFlops || std::max(M, N) < 32 || blas_threads) {
        call_backend(b, ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    split_over_threads(threads, ta, tb, M, N, A, lda, B, ldb, C, ldc,
                       [&](int m, int n, const T* a, const T* bb, T* c) {
                           call_backend(b, ta, tb, m, n, K, a, lda, bb, ldb, beta, c, ldc);
                       });
}

}  // namespace

void gemm(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float beta, float* C,
          int ldc) {
    gemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc, Bf16Inputs{});
}
void gemm(bool ta, bool tb, int M, int N, int K, const double* A, int lda, const double* B, int ldb, double beta,
          double* C, int ldc) {
    gemm_split(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}
void gemm_with(Backend b, bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
               float beta, float* C, int ldc) {
    if (!backend_built(b)) set_backend(b);  // the error naming the missing backend
    call_backend(b, ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}
void gemm_with(Backend b, bool ta, bool tb, int M, int N, int K, const double* A, int lda, const double* B, int ldb,
               double beta, double* C, int ldc) {
    if (!backend_built(b)) set_backend(b);
    call_backend(b, ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

void gemv(bool tx, int rows, int cols, const float* X, int ldx, const float* x, int incx, float beta, float* y,
          int incy) {
    if (backend() == Backend::Reference) reference_gemv(tx, rows, cols, X, ldx, x, incx, beta, y, incy);
    else openblas_gemv(tx, rows, cols, X, ldx, x, incx, beta, y, incy);
}
void gemv(bool tx, int rows, int cols, const double* X, int ldx, const double* x, int incx, double beta, double* y,
          int incy) {
    if (backend() == Backend::Reference) reference_gemv(tx, rows, cols, X, ldx, x, incx, beta, y, incy);
    else openblas_gemv(tx, rows, cols, X, ldx, x, incx, beta, y, incy);
}

// ---- bf16 mixed precision -------------------------------------------------------------------------
namespace {
std::atomic<int> g_precision{static_cast<int>(Precision::FP32)};

// Round to nearest even: add 0x7fff plus the lowest kept bit, keep the high half.
inline bf16_t round_bf16(float x) {
    std::uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<bf16_t>((bits >> 16) | 0x40);  // NaN stays quiet NaN
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return static_cast<bf16_t>(bits >> 16);
}

__attribute__((target("avx512f,avx512bf16,avx512vl"))) void to_bf16_avx512(const float* x, bf16_t* out, std::int64_t n) {
    std::int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256bh v = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + i));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), reinterpret_cast<const __m256i&>(v));
    }
    for (; i < n; ++i) out[i] = round_bf16(x[i]);
}

bool cpu_has_bf16() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
}
}  // namespace

const char* precision_name(Precision p) { return p == Precision::BF16 ? "bf16" : "fp32"; }

Precision parse_precision(std::string_view name) {
    if (name == "fp32") return Precision::FP32;
    if (name == "bf16") return Precision::BF16;
    fail("precision '{}' is unknown: use fp32 or bf16", name);
}

std::string bf16_unavailable_reason() {
#ifndef SEQGRAD_HAVE_ONEDNN
    return "this build has no oneDNN (configure with libdnnl-dev installed and -DSEQGRAD_ONEDNN=ON)";
#else
    if (!cpu_has_bf16()) return "this CPU has no avx512_bf16 instructions";
    return "";
#endif
}

Precision precision() { return static_cast<Precision>(g_precision.load(std::memory_order_relaxed)); }

void set_precision(Precision p) {
    if (p == Precision::BF16) {
        const std::string why = bf16_unavailable_reason();
        if (!why.empty()) fail("--precision bf16 is not available: {}; use --precision fp32", why);
    }
    g_precision.store(static_cast<int>(p), std::memory_order_relaxed);
}

void to_bf16(const float* x, bf16_t* out, std::int64_t n) {
    static const bool fast = cpu_has_bf16();
    if (fast) {
        to_bf16_avx512(x, out, n);
        return;
    }
    for (std::int64_t i = 0; i < n; ++i) out[i] = round_bf16(x[i]);
}

float from_bf16(bf16_t v) {
    const std::uint32_t bits = static_cast<std::uint32_t>(v) << 16;
    float x;
    std::memcpy(&x, &bits, sizeof x);
    return x;
}

#ifdef SEQGRAD_HAVE_ONEDNN
namespace {
// One oneDNN matmul primitive per product shape (creating one costs microseconds; a training step
// repeats the same few dozen shapes), with a scratchpad of the caller's so that two threads may run
// the same primitive at once.
struct Bf16Matmul {
    dnnl::matmul prim;
    dnnl::memory::desc a, b, c, bias;
    std::size_t scratch_bytes = 0;
};
// M, N, K, ta, tb, lda, ldb, ldc, accumulate, batch, batch strides of A, B, C, bias
using Bf16Key = std::tuple<int, int, int, bool, bool, int, int, int, bool, int, long, long, long, bool>;

dnnl::engine& cpu_engine() {
    static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    return eng;
}

const Bf16Matmul& bf16_matmul(const Bf16Key& key) {
    static std::mutex mutex;
    static std::map<Bf16Key, std::unique_ptr<Bf16Matmul>> cache;
    std::lock_guard lock(mutex);
    auto& slot = cache[key];
    if (!slot) {
        const auto [M, N, K, ta, tb, lda, ldb, ldc, accumulate, batch, sa, sb, sc, bias] = key;
        using dt = dnnl::memory::data_type;
        using dims = dnnl::memory::dims;
        auto m = std::make_unique<Bf16Matmul>();
        if (batch == 1) {
            m->a = dnnl::memory::desc({M, K}, dt::bf16, ta ? dims{1, lda} : dims{lda, 1});
            m->b = dnnl::memory::desc({K, N}, dt::bf16, tb ? dims{1, ldb} : dims{ldb, 1});
            m->c = dnnl::memory::desc({M, N}, dt::f32, dims{ldc, 1});
        } else {
            m->a = dnnl::memory::desc({batch, M, K}, dt::bf16, ta ? dims{sa, 1, lda} : dims{sa, lda, 1});
            m->b = dnnl::memory::desc({batch, K, N}, dt::bf16, tb ? dims{sb, 1, ldb} : dims{sb, ldb, 1});
            m->c = dnnl::memory::desc({batch, M, N}, dt::f32, dims{sc, ldc, 1});
        }
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        if (accumulate) {
            dnnl::post_ops ops;
            ops.append_sum(1.0f);
            attr.set_post_ops(ops);
        }
        if (bias) m->bias = dnnl::memory::desc({1, N}, dt::f32, dims{N, 1});  // batch 1 only
        dnnl::matmul::primitive_desc pd(bias ? dnnl::matmul::desc(m->a, m->b, m->bias, m->c)
                                             : dnnl::matmul::desc(m->a, m->b, m->c),
                                        attr, cpu_engine());
        m->scratch_bytes = pd.scratchpad_desc().get_size();
        m->prim = dnnl::matmul(pd);
        slot = std::move(m);
    }
    return *slot;
}
}  // namespace
#endif

void gemm_bf16_batched(int batch, bool ta, bool tb, int M, int N, int K, const bf16_t* A, int lda, long stride_a,
                       const bf16_t* B, int ldb, long stride_b, float beta, float* C, int ldc, long stride_c,
                       const float* bias = nullptr) {
    if (M == 0 || N == 0 || batch == 0) return;
    if (bias && (batch != 1 || beta != 0.0f || K == 0)) {  // the primitive's bias is for one plain product
        for (int i = 0; i < M; ++i)
            for (int j = 0; j < N; ++j) {
                float& c = C[static_cast<std::ptrdiff_t>(i) * ldc + j];
                c = (beta == 0.0f ? 0.0f : beta * c) + bias[j];
            }
        if (K == 0) return;
        beta = 1.0f;
        bias = nullptr;
    }
    if (K == 0 || (beta != 0.0f && beta != 1.0f)) {  // nothing to multiply, or a beta oneDNN's sum post-op is not given
        for (int b = 0; b < batch; ++b)
            for (int i = 0; i < M; ++i)
                for (int j = 0; j < N; ++j) {
                    float& c = C[b * stride_c + static_cast<std::ptrdiff_t>(i) * ldc + j];
                    c = beta == 0.0f ? 0.0f : beta * c;
                }
        if (K == 0) return;
        beta = 1.0f;
    }
#ifdef SEQGRAD_HAVE_ONEDNN
    const Bf16Matmul& m = bf16_matmul(Bf16Key{M, N, K, ta, tb, lda, ldb, ldc, beta != 0.0f, batch,
                                              batch == 1 ? 0 : stride_a, batch == 1 ? 0 : stride_b,
                                              batch == 1 ? 0 : stride_c, bias != nullptr});
    thread_local std::vector<unsigned char> scratch;
    if (scratch.size() < m.scratch_bytes) scratch.resize(m.scratch_bytes);
    dnnl::engine& eng = cpu_engine();
    thread_local dnnl::stream stream(eng);
    dnnl::memory ma(m.a, eng, const_cast<bf16_t*>(A)), mb(m.b, eng, const_cast<bf16_t*>(B)), mc(m.c, eng, C);
    dnnl::memory ms(dnnl::memory::desc({static_cast<dnnl::memory::dim>(m.scratch_bytes)}, dnnl::memory::data_type::u8,
                                       dnnl::memory::dims{1}),
                    eng, scratch.data());
    const int before = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (before > 1) omp_set_num_threads(1);  // seqgrad splits products itself (gemm below)
    if (bias) {
        dnnl::memory mbias(m.bias, eng, const_cast<float*>(bias));
        m.prim.execute(stream, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_BIAS, mbias}, {DNNL_ARG_DST, mc},
                                {DNNL_ARG_SCRATCHPAD, ms}});
    } else {
        m.prim.execute(stream, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}, {DNNL_ARG_SCRATCHPAD, ms}});
    }
    if (before > 1) omp_set_num_threads(before);
#else
    (void)ta, (void)tb, (void)A, (void)lda, (void)stride_a, (void)B, (void)ldb, (void)stride_b, (void)bias;
    fail("--precision bf16 is not available: {}; use --precision fp32", bf16_unavailable_reason());
#endif
}

void gemm_bf16(bool ta, bool tb, int M, int N, int K, const bf16_t* A, int lda, const bf16_t* B, int ldb, float beta,
               float* C, int ldc, const float* bias) {
    gemm_bf16_batched(1, ta, tb, M, N, K, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, bias);
}

void gemm_batched(int batch, bool ta, bool tb, int M, int N, int K, const float* A, long stride_a, const float* B,
                  long stride_b, float* C) {
    const int lda = ta ? M : K, ldb = tb ? K : N;
    if (precision() != Precision::BF16 || batch <= 1) {
        for (int b = 0; b < batch; ++b)
            gemm(ta, tb, M, N, K, A + b * stride_a, lda, B + b * stride_b, ldb, 0.0f, C + static_cast<long>(b) * M * N, N);
        return;
    }
    // One bf16 matmul over the whole batch: per-call costs (the primitive, its memory objects) once,
    // not once per matrix (attention multiplies B·heads small matrices at a time).
    thread_local std::vector<bf16_t> abuf, bbuf;
    abuf.resize(static_cast<std::size_t>(batch) * static_cast<std::size_t>(stride_a));
    bbuf.resize(static_cast<std::size_t>(batch) * static_cast<std::size_t>(stride_b));
    to_bf16(A, abuf.data(), batch * stride_a);
    to_bf16(B, bbuf.data(), batch * stride_b);
    gemm_bf16_batched(batch, ta, tb, M, N, K, abuf.data(), lda, stride_a, bbuf.data(), ldb, stride_b, 0.0f, C, N,
                      static_cast<long>(M) * N);
}

namespace {
// The stored rows x cols of an operand (op(X) = X or Xᵀ), rounded to bf16 into buf, compact
// (leading dimension cols). Returns the new leading dimension.
int round_operand(const float* X, int ld, int rows, int cols, std::vector<bf16_t>& buf) {
    buf.resize(static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols));
    if (ld == cols) to_bf16(X, buf.data(), static_cast<std::int64_t>(rows) * cols);
    else
        for (int r = 0; r < rows; ++r)
            to_bf16(X + static_cast<std::ptrdiff_t>(r) * ld, buf.data() + static_cast<std::ptrdiff_t>(r) * cols, cols);
    return cols;
}
}  // namespace

namespace {
// The bf16 product of gemm and gemm_bias: C = op(A) op(B) + beta C (+ bias on every row).
void gemm_bf16_inputs(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
                      float beta, float* C, int ldc, const Bf16Inputs& copies, const float* bias) {
    if (M == 0 || N == 0) return;
    // The inputs in bf16: the given copies, or rounded now (thread-local buffers, reused call to call).
    thread_local std::vector<bf16_t> abuf, bbuf;
    const bf16_t* a16 = copies.a;
    const bf16_t* b16 = copies.b;
    if (K > 0 && !a16) {
        lda = round_operand(A, lda, ta ? K : M, ta ? M : K, abuf);
        a16 = abuf.data();
    }
    if (K > 0 && !b16) {
        ldb = round_operand(B, ldb, tb ? N : K, tb ? K : N, bbuf);
        b16 = bbuf.data();
    }
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (threads < 2 || 2.0 * M * N * K < kSplitFlops || std::max(M, N) < 32) {
        gemm_bf16(ta, tb, M, N, K, a16, lda, b16, ldb, beta, C, ldc, bias);
        return;
    }
    split_over_threads(threads, ta, tb, M, N, a16, lda, b16, ldb, C, ldc,
                       [&](int m, int n, const bf16_t* a, const bf16_t* bb, float* c) {
                           // the block's first column: its offset in C's row
                           const float* part_bias = bias ? bias + (c - C) % ldc : nullptr;
                           gemm_bf16(ta, tb, m, n, K, a, lda, bb, ldb, beta, c, ldc, part_bias);
                       });
}
}  // namespace

void gemm(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float beta, float* C,
          int ldc, const Bf16Inputs& copies) {
    if (precision() != Precision::BF16) {
        gemm_split(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    gemm_bf16_inputs(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc, copies, nullptr);
}

void gemm_bias(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
               const float* bias, float* C, int ldc, const Bf16Inputs& copies) {
    if (precision() == Precision::BF16) {
        gemm_bf16_inputs(ta, tb, M, N, K, A, lda, B, ldb, 0.0f, C, ldc, copies, bias);
        return;
    }
    for (int r = 0; r < M; ++r) std::copy(bias, bias + N, C + static_cast<std::ptrdiff_t>(r) * ldc);
    gemm_split(ta, tb, M, N, K, A, lda, B, ldb, 1.0f, C, ldc);
}

// ---- threads ------------------------------------------------------------------------------------
namespace {
// One pool from the start, in every program that links seqgrad (not only after set_num_threads):
// OpenBLAS's own threads, next to OpenMP's, spin-yield against them, and on a busy 2-core machine a
// small training program (examples/char_gru_lm) ran 50x slower than with OpenBLAS single-threaded.
// Large products still use every core, through gemm_split.
[[maybe_unused]] const bool kOpenBlasSingleThreaded = [] {
    openblas_set_num_threads(1);
    return true;
}();
}  // namespace

void set_num_threads(int threads) {
    if (threads < 1) fail("threads must be at least 1, got {}", threads);
    // One thread pool: OpenBLAS (and oneDNN, see onednn_gemm) run single-threaded inside, and
    // gemm_split splits large products over the OpenMP threads. Two pools (OpenBLAS's and OpenMP's)
    // spinning against each other made 2 threads slower than 1 on a 2-core machine.
    openblas_set_num_threads(1);
    omp_set_num_threads(threads);
}

int num_threads() { return omp_get_max_threads(); }

void one_quiet_thread_pool(char** argv) {
    // OpenMP's idle workers spin for ~3 ms by default: on a small machine shared with other jobs a
    // spinning worker takes the core the other thread needs, and 2 threads ran 2-3x slower than 1
    // (bench/RESULTS.md). Passive waiting fixes that, but then every split product (a recurrent step
    // has ~175) waits for a sleeping worker to wake; a short spin first (kSpinCount, libgomp's own
    // GOMP_SPINCOUNT, ~30 us) keeps most of both: measured at hidden 256 / batch 64, 2 threads rose
    // from 1.1-1.5x to 1.4-1.7x one thread on an idle machine and fell from 1.0x to 0.8x while another
    // process kept a core busy (bench/RESULTS.md, "Two threads"). OpenBLAS needs no threads of its own.
    if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("OPENBLAS_NUM_THREADS") != nullptr) return;
    char path[4096];
    const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);  // the real path keeps the process name
    if (n <= 0) return;
    path[n] = '\0';
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0 || setenv("OPENBLAS_NUM_THREADS", "1", 1) != 0 ||
        setenv("GOMP_SPINCOUNT", kSpinCount, 0) != 0)  // 0: the user's own GOMP_SPINCOUNT stays
        return;
    execv(path, argv);
}

std::string thread_wait() {
    const char* policy = std::getenv("OMP_WAIT_POLICY");
    const char* spin = std::getenv("GOMP_SPINCOUNT");
    return std::string("OMP_WAIT_POLICY=") + (policy ? policy : "(unset)") + " GOMP_SPINCOUNT=" + (spin ? spin : "(unset)");
}

}  // namespace seqgrad::blas
