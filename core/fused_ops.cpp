// Fused fast paths (see core/fused_ops.h). Each forward computes its gates in one loop and saves
// exactly what its backward needs; the backward is written out below it with the chain rule step by
// step. Matrix products go through the matmul/linear ops (BLAS with transpose flags).
#include "core/fused_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/autograd.h"
#include "core/kernels.h"
#include "core/row_kernels.h"

namespace seqgrad {

namespace {
using kernels::fast_exp;
using kernels::fast_sigmoid;
using kernels::fast_tanh;

// x W^T + b without recording history (the fused node records once for the whole cell).
Tensor project(const Tensor& x, const Tensor& w, const Tensor& b) {
    NoGradGuard no_grad;
    return linear(x, w, b);
}

void check_cell(const char* op, const Tensor& gx, const Tensor& h, const Tensor& w_hh, const Tensor& b_hh,
                std::int64_t gates) {
    check_defined(op, gx, "gx");
    check_defined(op, h, "h");
    check_defined(op, w_hh, "weight_hh");
    if (h.dim() != 2) fail("{}: h must be [B, H], got {}", op, shape_str(h.shape()));
    const std::int64_t B = h.shape()[0], H = h.shape()[1];
    if (gx.shape() != Shape{B, gates * H})
        fail("{}: gx {} must be [{}, {}] for h {}", op, shape_str(gx.shape()), B, gates * H, shape_str(h.shape()));
    if (w_hh.shape() != Shape{gates * H, H})
        fail("{}: weight_hh {} must be [{}, {}]", op, shape_str(w_hh.shape()), gates * H, H);
    if (b_hh.defined() && b_hh.shape() != Shape{gates * H})
        fail("{}: bias_hh {} must be [{}]", op, shape_str(b_hh.shape()), gates * H);
    check_same_dtype(op, gx, h);
    check_same_dtype(op, gx, w_hh);
}

// The gradients of the recurrent projection gh = h W^T + b from dgh [B, G]:
//   dh = dgh W,  dW = dgh^T h,  db = sum over rows of dgh
void hidden_projection_backward(Grads& g, const Tensor& dgh, const Tensor& h, const Tensor& w, std::size_t ih,
                                std::size_t iw, std::size_t ib, const Tensor& dh_direct) {
    if (g.needs(ih)) g[ih] = add(dh_direct, matmul(dgh, w, {.rhs_is_weight = true}));
    if (g.needs(iw)) set_product_grad(g, iw, dgh, h);  // dW = dghᵀ h
    if (g.needs(ib)) g[ib] = sum(dgh, {0});
}

}  // namespace


// ---- GRU cell -----------------------------------------------------------------------------------
// forward:  gh = h W_hh^T + b_hh
//           r = σ(gx_r + gh_r),  z = σ(gx_z + gh_z),  n = tanh(gx_n + r ⊙ gh_n)
//           h' = (1 - z) ⊙ n + z ⊙ h
// backward: dn = dh' ⊙ (1 - z);  dz = dh' ⊙ (h - n);  dh = dh' ⊙ z + dgh W_hh
//           dn~ = dn ⊙ (1 - n²)        -> dgx_n = dn~,  dgh_n = dn~ ⊙ r
//           dr = dn~ ⊙ gh_n;  dr~ = dr ⊙ r (1 - r)   -> dgx_r = dgh_r = dr~
//           dz~ = dz ⊙ z (1 - z)                     -> dgx_z = dgh_z = dz~
Tensor gru_cell_fused(const Tensor& gx, const Tensor& h, const Tensor& w_hh, const Tensor& b_hh) {
    check_cell("gru_cell", gx, h, w_hh, b_hh, 3);
    const std::int64_t B = h.shape()[0], H = h.shape()[1];
    const Tensor gh = project(h, w_hh, b_hh);          // [B, 3H]
    Tensor out = Tensor::empty({B, H}, h.dtype());
    Tensor saved = Tensor::empty({B, 4 * H}, h.dtype());  // r, z, n, gh_n per row
    dispatch_floating(h.dtype(), "gru_cell", [&](auto tag) {
        using T = decltype(tag);
        const T *px = gx.data<T>(), *pg = gh.data<T>(), *ph = h.data<T>();
        T *po = out.data<T>(), *ps = saved.data<T>();
        for (std::int64_t b = 0; b < B; ++b) {
            kernels::gru_forward_row(px + b * 3 * H, pg + b * 3 * H, ph + b * H, po + b * H, ps + b * 4 * H, H);
        }
    });
    return record("gru_cell", out, {gx, h, w_hh, b_hh},
                  [saved, h = h.detach(), w = w_hh.detach(), B, H](const Tensor& dh1, Grads& g) {
                      Tensor dgx = Tensor::empty({B, 3 * H}, dh1.dtype());
                      Tensor dgh = Tensor::empty({B, 3 * H}, dh1.dtype());
                      Tensor dh = Tensor::empty({B, H}, dh1.dtype());
                      dispatch_floating(dh1.dtype(), "gru_cell_backward", [&](auto tag) {
                          using T = decltype(tag);
                          const T *pd = dh1.data<T>(), *ps = saved.data<T>(), *ph = h.data<T>();
                          T *px = dgx.data<T>(), *pg = dgh.data<T>(), *pdh = dh.data<T>();
                          for (std::int64_t b = 0; b < B; ++b) {
                              kernels::gru_backward_row(pd + b * H, ps + b * 4 * H, ph + b * H, px + b * 3 * H, pg + b * 3 * H,
                                               pdh + b * H, H);
                          }
                      });
                      if (g.needs(0)) g[0] = dgx;
                      hidden_projection_backward(g, dgh, h, w, 1, 2, 3, dh);
                  });
}

// ---- LSTM cell ----------------------------------------------------------------------------------
// forward:  a = gx + h W_hh^T + b_hh;  i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
//           c' = f ⊙ c + i ⊙ g;  h' = o ⊙ tanh(c')          out = [h', c']
// backward: dc' = dc'_out + dh' ⊙ o ⊙ (1 - tanh²(c'));  do = dh' ⊙ tanh(c')
//           di = dc' ⊙ g;  dg = dc' ⊙ i;  df = dc' ⊙ c;  dc = dc' ⊙ f
//           da = [di i(1-i), df f(1-f), dg (1-g²), do o(1-o)] = dgx = dgh
Tensor lstm_cell_fused(const Tensor& gx, const Tensor& h, const Tensor& c, const Tensor& w_hh, const Tensor& b_hh) {
    check_cell("lstm_cell", gx, h, w_hh, b_hh, 4);
    check_defined("lstm_cell", c, "c");
    if (c.shape() != h.shape()) fail("lstm_cell: c {} must match h {}", shape_str(c.shape()), shape_str(h.shape()));
    const std::int64_t B = h.shape()[0], H = h.shape()[1];
    const Tensor gh = project(h, w_hh, b_hh);  // [B, 4H]
    Tensor out = Tensor::empty({B, 2 * H}, h.dtype());
    Tensor saved = Tensor::empty({B, 5 * H}, h.dtype());  // i, f, g, o, tanh(c')
    dispatch_floating(h.dtype(), "lstm_cell", [&](auto tag) {
        using T = decltype(tag);
        const T *px = gx.data<T>(), *pg = gh.data<T>(), *pc = c.data<T>();
        T *po = out.data<T>(), *ps = saved.data<T>();
        for (std::int64_t b = 0; b < B; ++b) {
            const T *x = px + b * 4 * H, *gg = pg + b * 4 * H, *cc = pc + b * H;
            T *o = po + b * 2 * H, *s = ps + b * 5 * H;
            for (std::int64_t j = 0; j < H; ++j) {
                const T i = fast_sigmoid(x[j] + gg[j]);
                const T f = fast_sigmoid(x[H + j] + gg[H + j]);
                const T gt = fast_tanh(x[2 * H + j] + gg[2 * H + j]);
                const T og = fast_sigmoid(x[3 * H + j] + gg[3 * H + j]);
                const T c1 = f * cc[j] + i * gt;
                const T tc = fast_tanh(c1);
                o[j] = og * tc;
                o[H + j] = c1;
                s[j] = i;
                s[H + j] = f;
                s[2 * H + j] = gt;
                s[3 * H + j] = og;
                s[4 * H + j] = tc;
            }
        }
    });
    return record("lstm_cell", out, {gx, h, c, w_hh, b_hh},
                  [saved, h = h.detach(), c = c.detach(), w = w_hh.detach(), B, H](const Tensor& dout, Grads& g) {
                      Tensor da = Tensor::empty({B, 4 * H}, dout.dtype());
                      Tensor dc = Tensor::empty({B, H}, dout.dtype());
                      dispatch_floating(dout.dtype(), "lstm_cell_backward", [&](auto tag) {
                          using T = decltype(tag);
                          const T *pd = dout.data<T>(), *ps = saved.data<T>(), *pc = c.data<T>();
                          T *pa = da.data<T>(), *pdc = dc.data<T>();
                          for (std::int64_t b = 0; b < B; ++b) {
                              const T *d = pd + b * 2 * H, *s = ps + b * 5 * H, *cc = pc + b * H;
                              T *a = pa + b * 4 * H, *dcb = pdc + b * H;
                              for (std::int64_t j = 0; j < H; ++j) {
                                  const T i = s[j], f = s[H + j], gt = s[2 * H + j], og = s[3 * H + j], tc = s[4 * H + j];
                                  const T dh1 = d[j];
                                  const T dc1 = d[H + j] + dh1 * og * (T(1) - tc * tc);
                                  a[j] = dc1 * gt * i * (T(1) - i);
                                  a[H + j] = dc1 * cc[j] * f * (T(1) - f);
                                  a[2 * H + j] = dc1 * i * (T(1) - gt * gt);
                                  a[3 * H + j] = dh1 * tc * og * (T(1) - og);
                                  dcb[j] = dc1 * f;
                              }
                          }
                      });
                      if (g.needs(0)) g[0] = da;
                      if (g.needs(2)) g[2] = dc;
                      hidden_projection_backward(g, da, h, w, 1, 3, 4, zeros({B, H}, {.dtype = dout.dtype()}));
                  });
}

// ---- cross-entropy ------------------------------------------------------------------------------
// forward:  e_ic = exp(x_ic - m_i), s_i = sum_c e_ic, lse_i = m_i + log s_i;  L = scale * sum_i (lse_i - x_i,t_i)
// backward: dx_ic = dL * scale * (e_ic / s_i - [c == t_i])      (0 on ignored rows)
// The forward keeps e (one exp per logit in all), so the backward is a scaling pass.
namespace {
// sum_k x[k] with 16 partial sums, so that g++ vectorises it (the uniform part of the smoothed loss).
template <typename T>
double row_sum(const T* x, std::int64_t n) {
    if constexpr (std::is_same_v<T, double>) {
        double s = 0;
        for (std::int64_t k = 0; k < n; ++k) s += x[k];
        return s;
    } else {
        float part[16] = {};
        std::int64_t k = 0;
        for (; k + 16 <= n; k += 16)
            for (int j = 0; j < 16; ++j) part[j] += x[k + j];
        double s = 0;
        for (int j = 0; j < 16; ++j) s += part[j];
        for (; k < n; ++k) s += x[k];
        return s;
    }
}

// sum_k a[k] b[k], the same way.
template <typename T>
double row_dot(const T* a, const T* b, std::int64_t n) {
    if constexpr (std::is_same_v<T, double>) {
        double s = 0;
        for (std::int64_t k = 0; k < n; ++k) s += a[k] * b[k];
        return s;
    } else {
        float part[16] = {};
        std::int64_t k = 0;
        for (; k + 16 <= n; k += 16)
            for (int j = 0; j < 16; ++j) part[j] += a[k + j] * b[k + j];
        double s = 0;
        for (int j = 0; j < 16; ++j) s += part[j];
        for (; k < n; ++k) s += a[k] * b[k];
        return s;
    }
}
}  // namespace

// Per non-ignored row i with target t, lse = m + log sum_j exp(x_j - m):
//   loss_i = (1 - ε)(lse - x_t) + ε (lse - mean_j x_j)      (ε = 0: the plain cross-entropy)
//   dloss_i/dx_j = softmax_j - (1 - ε)[j = t] - ε / C
// The forward keeps exp(x - m) per row, so the backward is one pass: no log-probabilities.
Tensor cross_entropy_fused(const Tensor& logits, const Tensor& target, NllOptions options, double label_smoothing) {
    check_defined("cross_entropy", logits, "logits");
    check_defined("cross_entropy", target, "target");
    if (logits.dim() != 2) fail("cross_entropy: logits must be [N, C], got {}", shape_str(logits.shape()));
    if (!(label_smoothing >= 0.0 && label_smoothing < 1.0))
        fail("cross_entropy: label_smoothing must be in [0, 1), got {}", label_smoothing);
    const std::int64_t count = kernels::check_class_targets("cross_entropy", logits, "logits", target, options.ignore_index);
    if (options.reduction == Reduction::None) return cross_entropy(logits, target, options, label_smoothing);
    const std::int64_t N = logits.shape()[0], C = logits.shape()[1];
    const std::int64_t* pt = target.data<std::int64_t>();
    const double scale = options.reduction == Reduction::Mean ? (count ? 1.0 / static_cast<double>(count) : 0.0) : 1.0;
    const double eps = label_smoothing;
    std::vector<double> inv_sum(static_cast<std::size_t>(N), 0.0);
    Tensor e = Tensor::empty({N, C}, logits.dtype());  // exp(x - m) per row
    double total = 0;
    dispatch_floating(logits.dtype(), "cross_entropy", [&](auto tag) {
        using T = decltype(tag);
        const T* px = logits.data<T>();
        T* pe = e.data<T>();
#pragma omp parallel for reduction(+ : total) if (N * C >= kernels::kParallelThreshold) schedule(static)
        for (std::int64_t i = 0; i < N; ++i) {
            if (pt[i] == options.ignore_index) continue;
            const T* row = px + i * C;
            const T m = kernels::row_max(row, C);
            const T s = kernels::exp_store_sum(pe + i * C, row, C, m);
            inv_sum[i] = 1.0 / static_cast<double>(s);
            const double lse = static_cast<double>(m) + std::log(static_cast<double>(s));
            double loss = lse - (1.0 - eps) * static_cast<double>(row[pt[i]]);
            if (eps != 0.0) loss -= eps * row_sum(row, C) / static_cast<double>(C);
            total += loss;
        }
    });
    Tensor y = Tensor::scalar(total * scale, logits.dtype());
    return record("cross_entropy", y, {logits},
                  [e, target, inv_sum = std::move(inv_sum), scale, eps, ignore = options.ignore_index](const Tensor& dy,
                                                                                                      Grads& g) {
                      const std::int64_t N = e.shape()[0], C = e.shape()[1];
                      Tensor dx = Tensor::empty({N, C}, e.dtype());
                      const std::int64_t* pt = target.data<std::int64_t>();
                      dispatch_floating(e.dtype(), "cross_entropy_backward", [&](auto tag) {
                          using T = decltype(tag);
                          const T* pe = e.data<T>();
                          T* pd = dx.data<T>();
                          const double d = dy.item() * scale;
                          const T uniform = static_cast<T>(d * eps / static_cast<double>(C));
#pragma omp parallel for if (N * C >= kernels::kParallelThreshold) schedule(static)
                          for (std::int64_t i = 0; i < N; ++i) {
                              T* out = pd + i * C;
                              if (pt[i] == ignore) {
                                  std::fill_n(out, C, T(0));
                                  continue;
                              }
                              const T a = static_cast<T>(d * inv_sum[i]);
                              if (eps == 0.0) {
                                  kernels::scale_into(out, pe + i * C, C, a);  // softmax * dL
                              } else {
                                  const T* er = pe + i * C;
                                  for (std::int64_t j = 0; j < C; ++j) out[j] = er[j] * a - uniform;
                              }
                              out[pt[i]] -= static_cast<T>(d * (1.0 - eps));
                          }
                      });
                      g[0] = dx;
                  });
}

// ---- additive attention scores ------------------------------------------------------------------
// forward:  t[b,s,a] = tanh(qp[b,a] + kp[b,s,a]);  e[b,s] = sum_a v[a] t[b,s,a]
// backward: u[b,s,a] = de[b,s] v[a] (1 - t²)
//           dkp = u;  dqp[b,a] = sum_s u[b,s,a];  dv[a] = sum_{b,s} de[b,s] t[b,s,a]
Tensor additive_scores_fused(const Tensor& qp, const Tensor& kp, const Tensor& v) {
    check_defined("additive_scores", qp, "query projection");
    check_defined("additive_scores", kp, "key projection");
    check_defined("additive_scores", v, "v");
    if (qp.dim() != 2 || kp.dim() != 3 || v.dim() != 1 || kp.shape()[0] != qp.shape()[0] ||
        kp.shape()[2] != qp.shape()[1] || v.shape()[0] != qp.shape()[1])
        fail("additive_scores: expects qp [B, A], kp [B, S, A], v [A]; got qp {}, kp {}, v {}", shape_str(qp.shape()),
             shape_str(kp.shape()), shape_str(v.shape()));
    check_same_dtype("additive_scores", qp, kp);
    check_same_dtype("additive_scores", qp, v);
    const std::int64_t B = kp.shape()[0], S = kp.shape()[1], A = kp.shape()[2];
    Tensor t = Tensor::empty({B, S, A}, qp.dtype());
    Tensor e = Tensor::empty({B, S}, qp.dtype());
    dispatch_floating(qp.dtype(), "additive_scores", [&](auto tag) {
        using T = decltype(tag);
        const T *pq = qp.data<T>(), *pk = kp.data<T>(), *pv = v.data<T>();
        T *pt = t.data<T>(), *pe = e.data<T>();
        for (std::int64_t b = 0; b < B; ++b)
            for (std::int64_t s = 0; s < S; ++s) {
                const T* k = pk + (b * S + s) * A;
                const T* q = pq + b * A;
                T* tt = pt + (b * S + s) * A;
                kernels::tanh_sum(tt, q, k, A);
                pe[b * S + s] = kernels::dot(pv, tt, A);
            }
    });
    return record("additive_scores", e, {qp, kp, v}, [t, v = v.detach(), B, S, A](const Tensor& de, Grads& g) {
        Tensor dqp = zeros({B, A}, {.dtype = de.dtype()});
        Tensor dkp = Tensor::empty({B, S, A}, de.dtype());
        Tensor dv = zeros({A}, {.dtype = de.dtype()});
        dispatch_floating(de.dtype(), "additive_scores_backward", [&](auto tag) {
            using T = decltype(tag);
            const T *pt = t.data<T>(), *pv = v.data<T>(), *pde = de.data<T>();
            T *pq = dqp.data<T>(), *pk = dkp.data<T>(), *pdv = dv.data<T>();
            for (std::int64_t b = 0; b < B; ++b)
                for (std::int64_t s = 0; s < S; ++s) {
                    const T d = pde[b * S + s];
                    const T* tt = pt + (b * S + s) * A;
                    T* k = pk + (b * S + s) * A;
                    T* q = pq + b * A;
                    for (std::int64_t a = 0; a < A; ++a) {
                        const T u = d * pv[a] * (T(1) - tt[a] * tt[a]);
                        k[a] = u;
                        q[a] += u;
                        pdv[a] += d * tt[a];
                    }
                }
        });
        if (g.needs(0)) g[0] = dqp;
        if (g.needs(1)) g[1] = dkp;
        if (g.needs(2)) g[2] = dv;
    });
}

// ---- masked softmax -----------------------------------------------------------------------------
// forward:  p_s = exp(e_s - m) / sum_{k kept} exp(e_k - m) for kept s (keep_s != 0), 0 elsewhere,
//           m = max over kept e;   α = p ⊙ keep
// backward: u = dα ⊙ keep;   de = p ⊙ (u - sum_s p_s u_s);   dkeep = dα ⊙ p
// A row with nothing kept gets p = 1/S, as the composite's softmax of equal -1e30 scores does.
Tensor masked_softmax_fused(const Tensor& scores, const Tensor& keep) {
    check_defined("masked_softmax", scores, "scores");
    check_defined("masked_softmax", keep, "keep");
    check_same_shape("masked_softmax", scores, keep);
    check_same_dtype("masked_softmax", scores, keep);
    if (scores.dim() == 0) fail("masked_softmax: scores must have at least one dim, got a 0-d tensor");
    const std::int64_t S = scores.shape().back(), N = S ? scores.numel() / S : 0;
    Tensor p = Tensor::empty(scores.shape(), scores.dtype());
    Tensor a = Tensor::empty(scores.shape(), scores.dtype());
    dispatch_floating(scores.dtype(), "masked_softmax", [&](auto tag) {
        using T = decltype(tag);
        const T *pe = scores.data<T>(), *pk = keep.data<T>();
        T *pp = p.data<T>(), *pa = a.data<T>();
        for (std::int64_t i = 0; i < N; ++i) {
            const T *e = pe + i * S, *k = pk + i * S;
            T *pr = pp + i * S, *ar = pa + i * S;
            T m = -std::numeric_limits<T>::infinity();
            for (std::int64_t s = 0; s < S; ++s)
                if (k[s] != T(0)) m = std::max(m, e[s]);
            if (m == -std::numeric_limits<T>::infinity()) {  // nothing kept
                for (std::int64_t s = 0; s < S; ++s) pr[s] = T(1) / static_cast<T>(S), ar[s] = pr[s] * k[s];
                continue;
            }
            T total = 0;
            for (std::int64_t s = 0; s < S; ++s) total += pr[s] = k[s] != T(0) ? std::exp(e[s] - m) : T(0);
            const T inv = T(1) / total;
            for (std::int64_t s = 0; s < S; ++s) pr[s] *= inv, ar[s] = pr[s] * k[s];
        }
    });
    return record("masked_softmax", a, {scores, keep}, [p, k = keep.detach(), N, S](const Tensor& da, Grads& g) {
        dispatch_floating(da.dtype(), "masked_softmax_backward", [&](auto tag) {
            using T = decltype(tag);
            const T *pd = da.data<T>(), *pp = p.data<T>(), *pk = k.data<T>();
            if (g.needs(0)) {
                Tensor de = Tensor::empty(p.shape(), da.dtype());
                T* pe = de.data<T>();
                for (std::int64_t i = 0; i < N; ++i) {
                    const T *d = pd + i * S, *pr = pp + i * S, *kr = pk + i * S;
                    T dot = 0;
                    for (std::int64_t s = 0; s < S; ++s) dot += pr[s] * d[s] * kr[s];
                    for (std::int64_t s = 0; s < S; ++s) pe[i * S + s] = pr[s] * (d[s] * kr[s] - dot);
                }
                g[0] = de;
            }
            if (g.needs(1)) {
                Tensor dk = Tensor::empty(p.shape(), da.dtype());
                T* pdk = dk.data<T>();
                for (std::int64_t j = 0; j < N * S; ++j) pdk[j] = pd[j] * pp[j];
                g[1] = dk;
            }
        });
    });
}

// ---- attention context --------------------------------------------------------------------------
// forward:  c[b, h] = sum_s w[b, s] V[b, s, h]
// backward: dw[b, s] = sum_h dc[b, h] V[b, s, h];   dV[b, s, h] = w[b, s] dc[b, h]
Tensor attention_context_fused(const Tensor& w, const Tensor& values) {
    check_defined("attention_context", w, "weights");
    check_defined("attention_context", values, "values");
    if (w.dim() != 2 || values.dim() != 3 || values.shape()[0] != w.shape()[0] || values.shape()[1] != w.shape()[1])
        fail("attention_context: expects weights [B, S] and values [B, S, H]; got weights {}, values {}",
             shape_str(w.shape()), shape_str(values.shape()));
    check_same_dtype("attention_context", w, values);
    const std::int64_t B = values.shape()[0], S = values.shape()[1], H = values.shape()[2];
    Tensor c = zeros({B, H}, {.dtype = w.dtype()});
    dispatch_floating(w.dtype(), "attention_context", [&](auto tag) {
        using T = decltype(tag);
        const T *pw = w.data<T>(), *pv = values.data<T>();
        T* pc = c.data<T>();
        for (std::int64_t b = 0; b < B; ++b) {
            T* __restrict out = pc + b * H;
            for (std::int64_t s = 0; s < S; ++s) {
                const T a = pw[b * S + s];
                const T* __restrict v = pv + (b * S + s) * H;
                for (std::int64_t h = 0; h < H; ++h) out[h] += a * v[h];
            }
        }
    });
    return record("attention_context", c, {w, values},
                  [w = w.detach(), v = values.detach(), B, S, H](const Tensor& dc, Grads& g) {
                      dispatch_floating(dc.dtype(), "attention_context_backward", [&](auto tag) {
                          using T = decltype(tag);
                          const T *pdc = dc.data<T>(), *pw = w.data<T>(), *pv = v.data<T>();
                          if (g.needs(0)) {
                              Tensor dw = Tensor::empty({B, S}, dc.dtype());
                              T* pdw = dw.data<T>();
                              for (std::int64_t b = 0; b < B; ++b)
                                  for (std::int64_t s = 0; s < S; ++s)
                                      pdw[b * S + s] = kernels::dot(pdc + b * H, pv + (b * S + s) * H, H);
                              g[0] = dw;
                          }
                          if (g.needs(1)) {
                              Tensor dv = Tensor::empty({B, S, H}, dc.dtype());
                              T* pdv = dv.data<T>();
                              for (std::int64_t b = 0; b < B; ++b)
                                  for (std::int64_t s = 0; s < S; ++s) {
                                      const T a = pw[b * S + s];
                                      const T* __restrict d = pdc + b * H;
                                      T* __restrict out = pdv + (b * S + s) * H;
                                      for (std::int64_t h = 0; h < H; ++h) out[h] = a * d[h];
                                  }
                              g[1] = dv;
                          }
                      });
                  });
}

}  // namespace seqgrad

namespace seqgrad {

// ---- layer norm ---------------------------------------------------------------------------------
// Per row of N: μ = mean x, σ² = mean (x − μ)², r = 1/√(σ² + eps), x̂ = (x − μ) r, y = x̂ w + b.
// backward: g = dy w;  dx = r (g − mean g − x̂ mean(g x̂));  dw = Σ_rows dy x̂;  db = Σ_rows dy.
// The forward keeps x̂ and r, so the backward is two passes over each row.
Tensor layer_norm_fused(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
    check_defined("layer_norm", x);
    if (x.dim() < 1) fail("layer_norm: input must have at least one dim, got {}", shape_str(x.shape()));
    const std::int64_t N = x.size(-1), R = N == 0 ? 0 : x.numel() / N;
    for (const Tensor* p : {&weight, &bias})
        if (p->defined()) {
            check_same_dtype("layer_norm", x, *p);
            if (p->shape() != Shape{N})
                fail("layer_norm: weight and bias must be [{}] to match input {}, got {}", N, shape_str(x.shape()),
                     shape_str(p->shape()));
        }
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    Tensor xhat = Tensor::empty(x.shape(), x.dtype());
    Tensor rstd = Tensor::empty({R}, x.dtype());
    dispatch_floating(x.dtype(), "layer_norm", [&](auto tag) {
        using T = decltype(tag);
        const T* px = x.data<T>();
        const T* pw = weight.defined() ? weight.data<T>() : nullptr;
        const T* pb = bias.defined() ? bias.data<T>() : nullptr;
        T *py = y.data<T>(), *ph = xhat.data<T>(), *pr = rstd.data<T>();
#pragma omp parallel for if (R * N >= kernels::kParallelThreshold) schedule(static)
        for (std::int64_t i = 0; i < R; ++i) {
            const T* row = px + i * N;
            T* h = ph + i * N;
            T* out = py + i * N;
            const T mu = static_cast<T>(row_sum(row, N) / static_cast<double>(N));
            for (std::int64_t k = 0; k < N; ++k) h[k] = row[k] - mu;  // centred, for the variance
            const T r = static_cast<T>(1.0 / std::sqrt(row_dot(h, h, N) / static_cast<double>(N) + eps));
            pr[i] = r;
            for (std::int64_t k = 0; k < N; ++k) h[k] *= r;
            if (pw && pb)
                for (std::int64_t k = 0; k < N; ++k) out[k] = h[k] * pw[k] + pb[k];
            else if (pw)
                for (std::int64_t k = 0; k < N; ++k) out[k] = h[k] * pw[k];
            else if (pb)
                for (std::int64_t k = 0; k < N; ++k) out[k] = h[k] + pb[k];
            else
                std::copy_n(h, N, out);
        }
    });
    return record("layer_norm", y, {x, weight, bias},
                  [xhat, rstd, w = weight.defined() ? weight.detach() : Tensor(), N, R](const Tensor& dy, Grads& g) {
                      const DType dt = dy.dtype();
                      Tensor dx = g.needs(0) ? Tensor::empty(xhat.shape(), dt) : Tensor();
                      Tensor dw = g.needs(1) ? zeros({N}, {.dtype = dt}) : Tensor();
                      Tensor db = g.needs(2) ? zeros({N}, {.dtype = dt}) : Tensor();
                      dispatch_floating(dt, "layer_norm_backward", [&](auto tag) {
                          using T = decltype(tag);
                          const T *pdy = dy.data<T>(), *ph = xhat.data<T>(), *pr = rstd.data<T>();
                          const T* pw = w.defined() ? w.data<T>() : nullptr;
                          T* pdx = dx.defined() ? dx.data<T>() : nullptr;
                          T* pdw = dw.defined() ? dw.data<T>() : nullptr;
                          T* pdb = db.defined() ? db.data<T>() : nullptr;
                          for (std::int64_t i = 0; i < R; ++i) {
                              const T* d = pdy + i * N;
                              const T* h = ph + i * N;
                              if (pdw)
                                  for (std::int64_t k = 0; k < N; ++k) pdw[k] += d[k] * h[k];
                              if (pdb)
                                  for (std::int64_t k = 0; k < N; ++k) pdb[k] += d[k];
                              if (!pdx) continue;
                              T* out = pdx + i * N;
                              // g = dy w, written into dx first
                              if (pw)
                                  for (std::int64_t k = 0; k < N; ++k) out[k] = d[k] * pw[k];
                              else
                                  std::copy_n(d, N, out);
                              const T mean_g = static_cast<T>(row_sum(out, N) / static_cast<double>(N));
                              const T mean_gh = static_cast<T>(row_dot(out, h, N) / static_cast<double>(N));
                              const T r = pr[i];
                              for (std::int64_t k = 0; k < N; ++k) out[k] = r * (out[k] - mean_g - h[k] * mean_gh);
                          }
                      });
                      if (g.needs(0)) g[0] = dx;
                      if (g.needs(1)) g[1] = dw;
                      if (g.needs(2)) g[2] = db;
                  });
}

}  // namespace seqgrad
