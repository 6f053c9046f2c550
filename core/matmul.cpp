// Matrix products through the gemm seam (core/blas.h, row-major). Transposes are gemm flags,
// never copies, in the forward and in the backward alike.
//
// With op(X) = X or X^T as the flags say, C = op(A) op(B), and
//   dA = dC op(B)^T            (stored A not transposed)      or  op(B) dC^T   (A stored transposed)
//   dB = op(A)^T dC            (stored B not transposed)      or  dC^T op(A)   (B stored transposed)
// each again a single gemm with flags.
//
// Every product goes through core/blas.h (the backend seam: reference loops, OpenBLAS, oneDNN, and
// the split of large products over the OpenMP threads).
#include <algorithm>
#include <type_traits>

#include "core/autograd.h"
#include "core/bf16_cache.h"
#include "core/blas.h"
#include "core/ops.h"

namespace seqgrad {

namespace {

// Under bf16 mixed precision, the bf16 copies of the operands that are weights (a_weight, b_weight):
// made once per optimizer step (core/bf16_cache.h) instead of rounded for every product.
blas::Bf16Inputs weight_copies(const Tensor& A, bool a_weight, const Tensor& B, bool b_weight) {
    blas::Bf16Inputs c;
    if (blas::precision() != blas::Precision::BF16) return c;
    if (a_weight) c.a = bf16::weight_copy(A);
    if (b_weight) c.b = bf16::weight_copy(B);
    return c;
}

// op(A) op(B) for two 2-D tensors, or two 3-D tensors batch by batch. Shapes already checked.
Tensor mm_raw(const Tensor& A, bool ta, const Tensor& B, bool tb, bool a_weight = false, bool b_weight = false) {
    const bool batched = A.dim() == 3;
    const std::int64_t batch = batched ? A.shape()[0] : 1;
    const std::int64_t ar = A.shape()[A.dim() - 2], ac = A.shape()[A.dim() - 1];
    const std::int64_t br = B.shape()[B.dim() - 2], bc = B.shape()[B.dim() - 1];
    const std::int64_t M = ta ? ac : ar, K = ta ? ar : ac, N = tb ? br : bc;
    Tensor C = batched ? Tensor::empty({batch, M, N}, A.dtype()) : Tensor::empty({M, N}, A.dtype());
    dispatch_floating(A.dtype(), "matmul", [&](auto tag) {
        using T = decltype(tag);
        const T* pa = A.data<T>();
        const T* pb = B.data<T>();
        T* pc = C.data<T>();
        if (C.numel() == 0) return;  // M, N or the batch is 0: nothing to compute (and BLAS rejects ld = 0)
        if (K == 0) {
            std::fill_n(pc, C.numel(), T(0));
            return;
        }
        if constexpr (std::is_same_v<T, float>) {
            const blas::Bf16Inputs copies = batched ? blas::Bf16Inputs{} : weight_copies(A, a_weight, B, b_weight);
            if (copies.a || copies.b) {
                blas::gemm(ta, tb, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), pa,
                           static_cast<int>(ac), pb, static_cast<int>(bc), 0.0f, pc, static_cast<int>(N), copies);
                return;
            }
        }
        if constexpr (std::is_same_v<T, float>) {
            if (batched && blas::precision() == blas::Precision::BF16) {
                blas::gemm_batched(static_cast<int>(batch), ta, tb, static_cast<int>(M), static_cast<int>(N),
                                   static_cast<int>(K), pa, static_cast<long>(ar * ac), pb, static_cast<long>(br * bc), pc);
                return;
            }
        }
        for (std::int64_t b = 0; b < batch; ++b)
            blas::gemm(ta, tb, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), pa + b * ar * ac,
                 static_cast<int>(ac), pb + b * br * bc, static_cast<int>(bc), T(0), pc + b * M * N, static_cast<int>(N));
    });
    return C;
}

}  // namespace

void matmul_accumulate(const Tensor& out, const Tensor& A, const Tensor& B, MatmulOptions options) {
    const bool ta = options.transpose_lhs, tb = options.transpose_rhs;
    const bool ok = out.defined() && A.defined() && B.defined() && A.dim() == 2 && B.dim() == 2 && out.dim() == 2 &&
                    A.dtype() == out.dtype() && B.dtype() == out.dtype() &&
                    (ta ? A.shape()[0] : A.shape()[1]) == (tb ? B.shape()[1] : B.shape()[0]) &&
                    out.shape()[0] == (ta ? A.shape()[1] : A.shape()[0]) &&
                    out.shape()[1] == (tb ? B.shape()[0] : B.shape()[1]);
    if (!ok)
        fail("matmul_accumulate: out {} cannot take op(lhs) op(rhs) for lhs {} (transposed: {}), rhs {} (transposed: {})",
             out.defined() ? shape_str(out.shape()) : "undefined", A.defined() ? shape_str(A.shape()) : "undefined", ta,
             B.defined() ? shape_str(B.shape()) : "undefined", tb);
    const std::int64_t M = out.shape()[0], N = out.shape()[1], K = ta ? A.shape()[0] : A.shape()[1];
    if (M == 0 || N == 0 || K == 0) return;
    dispatch_floating(out.dtype(), "matmul_accumulate", [&](auto tag) {
        using T = decltype(tag);
        blas::gemm(ta, tb, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), A.data<T>(),
                     static_cast<int>(A.shape()[1]), B.data<T>(), static_cast<int>(B.shape()[1]), T(1),
                     const_cast<T*>(out.data<T>()), static_cast<int>(N));
    });
}

// matmul:  C = op(A) op(B)
//   dA = dC op(B)^T  (or op(B) dC^T when A is used transposed)
//   dB = op(A)^T dC  (or dC^T op(A) when B is used transposed)
// A [M, K], B [K, N] -> [M, N]; A [b, M, K], B [b, K, N] -> [b, M, N]; A [b, M, K], B [K, N] -> [b, M, N].
Tensor matmul(const Tensor& A, const Tensor& B, MatmulOptions options) {
    check_defined("matmul", A, "lhs");
    check_defined("matmul", B, "rhs");
    check_same_dtype("matmul", A, B);
    const bool ta = options.transpose_lhs, tb = options.transpose_rhs;
    const bool weight_broadcast = A.dim() == 3 && B.dim() == 2;
    if (!((A.dim() == 2 && B.dim() == 2) || (A.dim() == 3 && B.dim() == 3) || weight_broadcast))
        fail("matmul: expects 2-D x 2-D, 3-D x 3-D or 3-D x 2-D, got lhs {} vs rhs {}", shape_str(A.shape()), shape_str(B.shape()));
    if (weight_broadcast && ta)
        fail("matmul: transpose_lhs is not supported for a 3-D lhs {} with a 2-D rhs {}", shape_str(A.shape()), shape_str(B.shape()));
    if (A.dim() == 3 && B.dim() == 3 && A.shape()[0] != B.shape()[0])
        fail("matmul: batch sizes differ: lhs {} vs rhs {} ({} != {})", shape_str(A.shape()), shape_str(B.shape()),
             A.shape()[0], B.shape()[0]);
    // Checked here, before the 3-D x 2-D reshape, so the message names the caller's shapes.
    const std::int64_t ka = ta ? A.size(-2) : A.size(-1);
    const std::int64_t kb = tb ? B.size(-1) : B.size(-2);
    if (ka != kb)
        fail("matmul: inner dimensions differ: lhs {}{} vs rhs {}{} ({} != {})", shape_str(A.shape()), ta ? "^T" : "",
             shape_str(B.shape()), tb ? "^T" : "", ka, kb);
    if (weight_broadcast) {
        // A weight broadcast over the batch is one big gemm: [b*M, K] x [K, N].
        const std::int64_t b = A.shape()[0], m = A.shape()[1];
        Tensor c = matmul(reshape(A, {b * m, A.shape()[2]}), B, options);
        return reshape(c, {b, m, c.shape()[1]});
    }

    // A parameter on the right is a weight for the bf16 copies; on the left (rare) it is rounded per use.
    const bool weight = options.rhs_is_weight || (B.is_leaf() && B.requires_grad());
    Tensor C = mm_raw(A, ta, B, tb, false, weight);
    return record("matmul", C, {A, B}, [A = A.detach(), B = B.detach(), ta, tb, weight](const Tensor& dC, Grads& g) {
        // forward was: C = op(A) op(B)
        if (g.needs(0)) g[0] = ta ? mm_raw(B, tb, dC, true, weight, false) : mm_raw(dC, false, B, !tb, false, weight);
        if (g.needs(1)) g[1] = tb ? mm_raw(dC, true, A, ta) : mm_raw(A, !ta, dC, false);
    });
}

// linear:  y = x W^T + b        x [..., in], W [out, in], b [out]
//   dx = dy W,   dW = dy^T x (over all leading dims),   db = sum of dy over all leading dims
Tensor linear(const Tensor& x, const Tensor& W, const Tensor& bias) {
    check_defined("linear", x, "input");
    check_defined("linear", W, "weight");
    check_same_dtype("linear", x, W);
    if (bias.defined()) check_same_dtype("linear", x, bias);
    if (W.dim() != 2) fail("linear: weight must be [out_features, in_features], got {}", shape_str(W.shape()));
    if (x.dim() < 1 || x.size(-1) != W.shape()[1])
        fail("linear: input {} does not end in in_features = {} (weight {})", shape_str(x.shape()), W.shape()[1],
             shape_str(W.shape()));
    if (bias.defined() && (bias.dim() != 1 || bias.shape()[0] != W.shape()[0]))
        fail("linear: bias {} must be [{}] to match weight {}", shape_str(bias.shape()), W.shape()[0], shape_str(W.shape()));
    // rows: the product of the leading dims (not numel / in, which is 0 when in_features is 0)
    const std::int64_t in = W.shape()[1], out = W.shape()[0], rows = numel_of(Shape(x.shape().begin(), x.shape().end() - 1));
    Shape out_shape = x.shape();
    out_shape.back() = out;
    Tensor y = Tensor::empty(out_shape, x.dtype());
    dispatch_floating(x.dtype(), "linear", [&](auto tag) {
        using T = decltype(tag);
        T* py = y.data<T>();
        if constexpr (std::is_same_v<T, float>) {
            if (bias.defined() && rows > 0 && out > 0 && in > 0 && blas::precision() == blas::Precision::BF16 &&
                fast_paths_enabled()) {
                // bf16: the bias is added inside the product (oneDNN's matmul bias), not copied into
                // every row first; the plain path below is what set_fast_paths(false) runs
                // (tests/test_bf16.cpp compares both).
                blas::gemm_bias(false, true, static_cast<int>(rows), static_cast<int>(out), static_cast<int>(in),
                                x.data<T>(), static_cast<int>(in), W.data<T>(), static_cast<int>(in), bias.data<T>(), py,
                                static_cast<int>(out), weight_copies(x, false, W, true));
                return;
            }
        }
        T beta = 0;
        if (bias.defined()) {  // start from the bias in every row, then gemm adds x W^T on top
            const T* pb = bias.data<T>();
            for (std::int64_t r = 0; r < rows; ++r) std::copy(pb, pb + out, py + r * out);
            beta = 1;
        }
        if (rows > 0 && out > 0) {
            if (in == 0) {
                if (!bias.defined()) std::fill_n(py, rows * out, T(0));
            } else if constexpr (std::is_same_v<T, float>) {
                blas::gemm(false, true, static_cast<int>(rows), static_cast<int>(out), static_cast<int>(in), x.data<T>(),
                           static_cast<int>(in), W.data<T>(), static_cast<int>(in), beta, py, static_cast<int>(out),
                           weight_copies(x, false, W, true));
            } else {
                blas::gemm(false, true, static_cast<int>(rows), static_cast<int>(out), static_cast<int>(in), x.data<T>(),
                             static_cast<int>(in), W.data<T>(), static_cast<int>(in), beta, py, static_cast<int>(out));
            }
        }
    });
    return record("linear", y, {x, W, bias},
                  [x = x.detach(), W = W.detach(), rows, in, out](const Tensor& dy, Grads& g) {
                      const Tensor dy2 = reshape(dy, {rows, out});
                      if (g.needs(0)) g[0] = reshape(mm_raw(dy2, false, W, false, false, true), x.shape());  // dx = dy W
                      if (g.needs(1)) set_product_grad(g, 1, dy2, reshape(x, {rows, in}));  // dW = dy^T x
                      if (g.needs(2)) g[2] = sum(dy2, {0});                                     // db = sum_rows dy
                  });
}

}  // namespace seqgrad
