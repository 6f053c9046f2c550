// Fused fast paths: ops that do in one node what a chain of primitives does in many, for the hot
// spots the profile of a seq2seq training step shows (bench/RESULTS.md). Each has a composite twin
// built from the primitives in core/ops.h; tests/test_fused_ops.cpp checks that both give the same
// values and gradients. set_fast_paths(false) makes the layers use the composite twins (and the
// engine its plain path), so a learner can read and run the plain path.
#pragma once
#include "core/autograd.h"
#include "core/ops.h"
#include "core/tensor.h"

namespace seqgrad {

// fast_paths_enabled / set_fast_paths / FastPathGuard: the one switch, in core/autograd.h.

// GRU cell given the input projection gx = x W_ih^T + b_ih [B, 3H] (gates r, z, n as PyTorch):
//   gh = h W_hh^T + b_hh;  r = σ(gx_r + gh_r);  z = σ(gx_z + gh_z);  n = tanh(gx_n + r ⊙ gh_n)
//   h' = (1 - z) ⊙ n + z ⊙ h                                               -> [B, H]
Tensor gru_cell_fused(const Tensor& gx, const Tensor& h, const Tensor& w_hh, const Tensor& b_hh);

// LSTM cell given gx = x W_ih^T + b_ih [B, 4H] (gates i, f, g, o as PyTorch):
//   gates = gx + h W_hh^T + b_hh;  c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g);  h' = σ(o) ⊙ tanh(c')
// Returns [B, 2H]: h' in the first H columns, c' in the last H.
Tensor lstm_cell_fused(const Tensor& gx, const Tensor& h, const Tensor& c, const Tensor& w_hh, const Tensor& b_hh);

// cross_entropy(logits, target, options, label_smoothing) in one pass: log_softmax and nll_loss
// fused, never materialising the [N, C] log-probabilities. Same options and semantics as nll_loss
// (mean over non-ignored); with label_smoothing ε each row's loss is
// (1 - ε)·(−log p[target]) + ε·mean_c(−log p[c]), as PyTorch's F.cross_entropy(label_smoothing=ε).
// Composite twin: cross_entropy in core/ops.h.
Tensor cross_entropy_fused(const Tensor& logits, const Tensor& target, NllOptions options = {},
                           double label_smoothing = 0.0);

// Additive (Bahdanau) attention scores from the projected query and keys:
//   e[b, s] = sum_a v[a] tanh(qp[b, a] + kp[b, s, a])       qp [B, A], kp [B, S, A], v [A] -> [B, S]
Tensor additive_scores_fused(const Tensor& qp, const Tensor& kp, const Tensor& v);

// Attention context, the weighted sum of the values:
//   c[b, :] = sum_s w[b, s] V[b, s, :]            w [B, S], V [B, S, H] -> [B, H]
// Composite twin: squeeze(matmul(unsqueeze(w, 1), V), 1), which runs B tiny gemms forward and 2B
// backward per decoder step; here it is one loop.
Tensor attention_context_fused(const Tensor& w, const Tensor& values);

// Masked softmax over the last dim, keep the same shape as scores (0 = masked):
//   p = softmax(e restricted to keep != 0) (0 at masked positions);  α = p ⊙ keep
// Composite twin (layers/attention.cpp masked_softmax): softmax(masked_fill(e, keep == 0, -1e30)) * keep.
Tensor masked_softmax_fused(const Tensor& scores, const Tensor& keep);

// Layer normalisation over the last dim, in one node (the composite: LayerNorm::forward with
// set_fast_paths(false), mean / centre / variance / divide / affine, about ten nodes):
//   y = (x − mean x) / √(var x + eps) · weight + bias      x [..., N]; weight, bias [N] or undefined
// with the biased variance, as PyTorch's layer_norm.
Tensor layer_norm_fused(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);

}  // namespace seqgrad
