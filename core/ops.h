// Every differentiable op of seqgrad, declared in one place. Each is defined in the .cpp file
// named after its family, with its backward directly under its forward:
//   core/elementwise.cpp  add sub mul div neg pow exp log sqrt abs tanh sigmoid relu clamp, comparisons
//   core/reduce.cpp       sum mean max argmax
//   core/shape_ops.cpp    reshape transpose permute unsqueeze squeeze narrow cat stack split chunk expand
//   core/indexing.cpp     index_select embedding gather masked_fill where
//   core/matmul.cpp       matmul (2-D, batched 3-D, 3-D x 2-D weight) and linear, all through BLAS
//   core/nn_ops.cpp       softmax log_softmax logsumexp nll_loss cross_entropy dropout
// Elementwise binary ops broadcast like NumPy; their backward sums the gradient back to each
// input's shape (sum_to).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace seqgrad {

class Generator;

// ---- elementwise (core/elementwise.cpp) ---------------------------------------------------------
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double s);
Tensor sub(const Tensor& a, double s);
Tensor rsub(double s, const Tensor& a);  // s - a
Tensor mul(const Tensor& a, double s);
Tensor div(const Tensor& a, double s);
Tensor rdiv(double s, const Tensor& a);  // s / a
Tensor neg(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor clamp(const Tensor& x, double lo, double hi);
// Comparisons give masks of 0 and 1 (float32, or the input's float dtype) and carry no gradient.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double s);
Tensor ne(const Tensor& a, double s);
Tensor gt(const Tensor& a, double s);
Tensor lt(const Tensor& a, double s);
// Sum `grad` over broadcast dimensions so it has `shape` (the backward of broadcasting).
Tensor sum_to(const Tensor& grad, const Shape& shape);

// ---- reductions (core/reduce.cpp) ---------------------------------------------------------------
Tensor sum(const Tensor& x);  // all elements -> 0-d
Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim = false);
Tensor max(const Tensor& x);  // all elements -> 0-d
Tensor max(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim = false);  // int64, no gradient

// ---- shape (core/shape_ops.cpp) -----------------------------------------------------------------
Tensor reshape(const Tensor& x, Shape shape);  // one -1 allowed; shares storage
inline Tensor view(const Tensor& x, Shape shape) { return reshape(x, std::move(shape)); }
Tensor flatten(const Tensor& x);
Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1);
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& order);
Tensor unsqueeze(const Tensor& x, std::int64_t dim);
Tensor squeeze(const Tensor& x, std::int64_t dim);
Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length);
inline Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end) {
    return narrow(x, dim, start, end - start);
}
// x[..., index, ...] along dim, the dim removed.
Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index);
Tensor cat(const std::vector<Tensor>& xs, std::int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, std::int64_t dim);
std::vector<Tensor> split(const Tensor& x, std::int64_t size, std::int64_t dim);
std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim);
Tensor expand(const Tensor& x, const Shape& shape);

// ---- indexing (core/indexing.cpp) ---------------------------------------------------------------
// Rows of x along dim picked by 1-D int64 ids; the backward scatters and accumulates repeated ids.
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& ids);
// weight [V, D], ids (int64, any shape) -> [*ids.shape, D]. Rows of padding_idx get no gradient.
Tensor embedding(const Tensor& weight, const Tensor& ids, std::int64_t padding_idx = -1);
// out[i][j][k] = x[i][index[i][j][k]][k] (for dim = 1); index int64 with x's rank.
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index);
// x where mask == 0, value where mask != 0; mask broadcasts to x.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// a where cond != 0, b elsewhere; all three broadcast.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- matrix products (core/matmul.cpp) ----------------------------------------------------------
struct MatmulOptions {
    bool transpose_lhs = false;  // use lhs^T without copying (a BLAS flag)
    bool transpose_rhs = false;  // use rhs^T without copying
    // Under bf16 mixed precision (core/blas.h): rhs is a weight, so its bf16 copy is made once per
    // change (core/bf16_cache.h), not per product. A parameter (a leaf requiring grad) counts as one
    // without this flag; a backward function multiplying by a detached weight sets it.
    bool rhs_is_weight = false;
};
// [M, K] x [K, N]; [B, M, K] x [B, K, N]; [B, M, K] x [K, N] (a weight broadcast over the batch).
Tensor matmul(const Tensor& lhs, const Tensor& rhs, MatmulOptions options = {});
// out += op(lhs) op(rhs) for 2-D tensors, in place and without autograd: for backward functions that
// add a weight gradient straight into its buffer (Grads::accumulator). Shapes must agree.
void matmul_accumulate(const Tensor& out, const Tensor& lhs, const Tensor& rhs, MatmulOptions options = {});
// x [..., in], weight [out, in], bias [out] or undefined -> [..., out]: y = x W^T + b.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- neural-net primitives (core/nn_ops.cpp) ----------------------------------------------------
Tensor softmax(const Tensor& x, std::int64_t dim);
Tensor log_softmax(const Tensor& x, std::int64_t dim);
Tensor logsumexp(const Tensor& x, std::int64_t dim, bool keepdim = false);
enum class Reduction { Mean, Sum, None };
struct NllOptions {
    std::int64_t ignore_index = -100;  // targets equal to this contribute nothing (padding)
    Reduction reduction = Reduction::Mean;  // mean over targets that are not ignored
};
// log_probs [N, C], target int64 [N] -> loss (0-d, or [N] for Reduction::None).
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, NllOptions options = {});
// nll_loss(log_softmax(logits, 1), target): the composite form. With label_smoothing ε in [0, 1)
// the target is mixed with the uniform distribution, as PyTorch's F.cross_entropy(label_smoothing=ε):
//   (1 - ε)·nll_loss(lp, target) + ε·(mean over non-ignored rows of mean_c(−lp[:, c]))   lp = log_softmax
Tensor cross_entropy(const Tensor& logits, const Tensor& target, NllOptions options = {}, double label_smoothing = 0.0);
// Zeroes each element with probability p and scales the rest by 1/(1-p); identity when
// training is false or grad mode is off.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// ---- operators ----------------------------------------------------------------------------------
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return sub(a, s); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, double s) { return div(a, s); }
inline Tensor operator+(double s, const Tensor& a) { return add(a, s); }
inline Tensor operator-(double s, const Tensor& a) { return rsub(s, a); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
inline Tensor operator/(double s, const Tensor& a) { return rdiv(s, a); }

}  // namespace seqgrad
