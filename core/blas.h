// The one seam between seqgrad and the matrix-product libraries: every gemm and gemv of the
// project goes through here, and so does the thread setup (OpenMP and the libraries' own pools).
//
// Backends, chosen at run time (set_backend, or SEQGRAD_GEMM=openblas|onednn|reference in the
// environment, read once at the first product):
//   reference  plain loops, C[i, j] = beta C[i, j] + sum_k op(A)[i, k] op(B)[k, j]: the oracle the
//              tests compare the others with, and the code a learner reads to see what a gemm is
//   openblas   OpenBLAS's cblas_sgemm / cblas_dgemm (and gemv for one-row and one-column products)
//   onednn     oneDNN's dnnl_sgemm (float32 only: float64 products, which gradcheck needs, stay on
//              OpenBLAS); built when CMake finds libdnnl (option SEQGRAD_ONEDNN)
// The default is the fastest one built: onednn, then openblas.
//
// Threads: one pool, OpenMP's. The backends run single-threaded inside; a large product is split
// into row or column blocks, one backend call per OpenMP thread (see gemm in blas.cpp), small ones
// stay on the calling thread. set_num_threads(1) therefore means one thread everywhere.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/scoped_setting.h"

namespace seqgrad::blas {

enum class Backend : std::uint8_t { Reference, OpenBLAS, OneDNN };

// "reference", "openblas", "onednn".
const char* backend_name(Backend backend);
// The inverse; an unknown name is a ShapeError listing the built ones.
Backend parse_backend(std::string_view name);
bool backend_built(Backend backend);
// The backends this build has, fastest first ("onednn, openblas, reference").
std::vector<Backend> built_backends();
std::string built_backends_str();

// The backend in use (process-wide). set_backend fails for one this build does not have.
Backend backend();
void set_backend(Backend backend);
// What SEQGRAD_GEMM selects: the fastest built backend when value is null or empty, else the one it
// names (an unknown or unbuilt one is an error naming SEQGRAD_GEMM).
Backend backend_from_env(const char* value);

// RAII: a backend for one scope (tests run the product set once per backend).
using BackendGuard = ScopedSetting<Backend, backend, set_backend>;

// C = op(A) op(B) + beta C, row-major, op(X) = X or Xᵀ as ta / tb say; op(A) is [M, K], op(B)
// [K, N], C [M, N] with leading dimensions lda, ldb, ldc. beta = 0 never reads C (it may hold
// anything, NaN included). M, N, K may be 0.
void gemm(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float beta, float* C,
          int ldc);
void gemm(bool ta, bool tb, int M, int N, int K, const double* A, int lda, const double* B, int ldb, double beta,
          double* C, int ldc);

// The same products through one named backend on the calling thread (no split): tests and the
// matmul benchmark compare backends with these.
void gemm_with(Backend backend, bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
               float beta, float* C, int ldc);
void gemm_with(Backend backend, bool ta, bool tb, int M, int N, int K, const double* A, int lda, const double* B,
               int ldb, double beta, double* C, int ldc);

// y = op(X) x + beta y: X stored [rows, cols] (row-major, leading dimension ldx), op(X) = X or Xᵀ;
// x and y with element strides incx, incy. beta = 0 never reads y.
void gemv(bool tx, int rows, int cols, const float* X, int ldx, const float* x, int incx, float beta, float* y,
          int incy);
void gemv(bool tx, int rows, int cols, const double* X, int ldx, const double* x, int incx, double beta, double* y,
          int incy);

// ---- precision: fp32 or bf16 mixed precision -------------------------------------------------------
// Under Precision::BF16 every float32 gemm above (the products of matmul, linear, the cells, their
// backward products) rounds its two inputs to bfloat16 (round to nearest even) and multiplies them
// with fp32 accumulation into an fp32 C: PyTorch's CPU autocast for matrix products. Everything
// else (softmax, layer norm, the loss, gradients, the optimizer, master weights) stays fp32, and
// float64 products (gradcheck) are never rounded. The products run on oneDNN's matmul with bf16
// inputs (its AVX512-BF16 kernels), so BF16 needs a build with oneDNN and a CPU with avx512_bf16.
// gemv stays fp32.
enum class Precision : std::uint8_t { FP32, BF16 };
const char* precision_name(Precision p);  // "fp32", "bf16"
// The inverse; an unknown name is a ShapeError.
Precision parse_precision(std::string_view name);
// Why bf16 cannot run here ("" when it can): no oneDNN in this build, or no avx512_bf16 on this CPU.
std::string bf16_unavailable_reason();
// Process-wide, like the backend. set_precision(BF16) fails with one line when bf16 cannot run here.
Precision precision();
void set_precision(Precision p);

using PrecisionGuard = ScopedSetting<Precision, precision, set_precision>;

// bfloat16 values as their 16 bits (the high half of a float32).
using bf16_t = std::uint16_t;
// out[i] = x[i] rounded to bfloat16, to nearest even (NaN stays NaN).
void to_bf16(const float* x, bf16_t* out, std::int64_t n);
float from_bf16(bf16_t v);

// Precomputed bfloat16 copies of gemm inputs, in the same layout as the float32 ones (same leading
// dimension): a weight's copy made once per optimizer step (core/bf16_cache.h) instead of per use.
// Used only under Precision::BF16; null means "round the float32 input for this call".
struct Bf16Inputs {
    const bf16_t* a = nullptr;
    const bf16_t* b = nullptr;
};
void gemm(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float beta, float* C,
          int ldc, const Bf16Inputs& copies);
// C = op(A) op(B) + bias, the bias [N] added to every row. Under Precision::BF16 on oneDNN the bias
// is added inside the product (the matmul primitive's bias, as each block of C leaves the kernel);
// otherwise the bias is copied into every row of C first and the product accumulates onto it.
void gemm_bias(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
               const float* bias, float* C, int ldc, const Bf16Inputs& copies);
// The bf16 product itself, on the calling thread: C = op(A) op(B) + beta C (+ bias [N] on every row
// when bias is not null; then beta must be 0), fp32 accumulation.
void gemm_bf16(bool ta, bool tb, int M, int N, int K, const bf16_t* A, int lda, const bf16_t* B, int ldb, float beta,
               float* C, int ldc, const float* bias = nullptr);

// batch products C_b = op(A_b) op(B_b) of compact matrices (A_b [M, K] or [K, M] at A + b·stride_a,
// likewise B_b, C_b [M, N] at C + b·M·N; beta 0). Under BF16 one oneDNN call for the whole batch.
void gemm_batched(int batch, bool ta, bool tb, int M, int N, int K, const float* A, long stride_a, const float* B,
                  long stride_b, float* C);

// ---- threads ------------------------------------------------------------------------------------
// OpenMP threads for products and the parallel loops; the backends stay single-threaded inside.
// threads < 1 is an error ("threads must be at least 1, got 0").
void set_num_threads(int threads);
int num_threads();
// For a program's main(): OpenMP's idle workers and OpenBLAS's pool read their settings when the
// libraries load, before main. When the user has set neither OMP_WAIT_POLICY nor
// OPENBLAS_NUM_THREADS, this runs the program again once with passive waiting after a short spin
// (OMP_WAIT_POLICY=passive, GOMP_SPINCOUNT=kSpinCount unless the user set GOMP_SPINCOUNT) and a
// single OpenBLAS thread (returns, changing nothing, when that is not possible). Setting
// OMP_WAIT_POLICY yourself (passive: sleep at once) leaves all of it to OpenMP.
inline constexpr const char* kSpinCount = "3000";
void one_quiet_thread_pool(char** argv);
// "OMP_WAIT_POLICY=<value> GOMP_SPINCOUNT=<value>" as this process sees them ("(unset)"), for
// benchmark records.
std::string thread_wait();

}  // namespace seqgrad::blas
