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

#ifdef SEQGRAD_HAVE_ONEDNN
#include <dnnl.h>
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
                call_backend(b, ta, tb, hi - lo, N, K, ta ? A + o : A + o * lda, lda, B, ldb, beta, C + o * ldc, ldc);
            else  // columns lo..hi of op(B): rows of the stored B when it is transposed
                call_backend(b, ta, tb, M, hi - lo, K, A, lda, tb ? B + o * ldb : B + o, ldb, beta, C + o, ldc);
        }
    }
}

}  // namespace

void gemm(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float beta, float* C,
          int ldc) {
    gemm_split(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
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
    // OpenMP's idle workers spin by default: on a small machine shared with other jobs a spinning
    // worker takes the core the other thread needs, and 2 threads ran 2-3x slower than 1
    // (bench/RESULTS.md). Passive waiting fixes that; OpenBLAS needs no threads of its own at all.
    if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("OPENBLAS_NUM_THREADS") != nullptr) return;
    char path[4096];
    const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);  // the real path keeps the process name
    if (n <= 0) return;
    path[n] = '\0';
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0 || setenv("OPENBLAS_NUM_THREADS", "1", 1) != 0) return;
    execv(path, argv);
}

}  // namespace seqgrad::blas
