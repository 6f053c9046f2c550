// Neural-net primitives: softmax, log_softmax and logsumexp along a dim (numerically stable: the
// maximum is subtracted first), nll_loss / cross_entropy with ignore_index, and dropout.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/kernels.h"
#include "core/ops.h"
#include "core/random.h"

namespace seqgrad {

namespace {
// Applies f(row pointer, stride, n) to every 1-D line along dim of x viewed as [outer, n, inner].
template <typename T, typename F>
void for_each_line(const kernels::DimView& v, F f) {
    for (std::int64_t o = 0; o < v.outer; ++o)
        for (std::int64_t i = 0; i < v.inner; ++i) f(o * v.n * v.inner + i, v.inner);
}

enum class SoftKind { Softmax, LogSoftmax };

Tensor soft_forward(const char* op, const Tensor& x, std::int64_t dim, SoftKind kind) {
    const auto v = kernels::dim_view(x.shape(), dim);
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    dispatch_floating(x.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        const T* px = x.data<T>();
        T* py = y.data<T>();
        for_each_line<T>(v, [&](std::int64_t base, std::int64_t stride) {
            T m = -std::numeric_limits<T>::infinity();
            for (std::int64_t k = 0; k < v.n; ++k) m = std::max(m, px[base + k * stride]);
            if (std::isinf(m) && m < 0) m = 0;  // a line of -inf: avoid inf - inf
            T s = 0;
            for (std::int64_t k = 0; k < v.n; ++k) s += std::exp(px[base + k * stride] - m);
            if (kind == SoftKind::Softmax) {
                for (std::int64_t k = 0; k < v.n; ++k) py[base + k * stride] = std::exp(px[base + k * stride] - m) / s;
            } else {
                const T lse = m + std::log(s);
                for (std::int64_t k = 0; k < v.n; ++k) py[base + k * stride] = px[base + k * stride] - lse;
            }
        });
    });
    return y;
}
}  // namespace

namespace {
// softmax and log_softmax: y = soft_forward(x) along dim, recorded with a backward that computes dx
// one line along dim at a time from y and dy: line(py, pdy, pdx, n, base, stride) writes the n
// elements base + k * stride of dx.
template <typename Line>
Tensor soft_op(const char* op, const char* backward_op, const Tensor& x, std::int64_t dim, SoftKind kind, Line line) {
    check_defined(op, x);
    dim = wrap_dim(op, dim, x.dim());
    Tensor y = soft_forward(op, x, dim, kind);
    return record(op, y, {x}, [y = y.detach(), dim, backward_op, line](const Tensor& dy, Grads& g) {
        const auto v = kernels::dim_view(y.shape(), dim);
        Tensor dx = Tensor::empty(y.shape(), y.dtype());
        dispatch_floating(y.dtype(), backward_op, [&](auto tag) {
            using T = decltype(tag);
            const T* py = y.data<T>();
            const T* pdy = dy.data<T>();
            T* pdx = dx.data<T>();
            for_each_line<T>(v, [&](std::int64_t base, std::int64_t stride) { line(py, pdy, pdx, v.n, base, stride); });
        });
        g[0] = dx;
    });
}
}  // namespace

// softmax:  y_k = exp(x_k - m) / sum_j exp(x_j - m)      (m = max_j x_j, for stability)
//   dx_k = y_k (dy_k - sum_j dy_j y_j)                   (the softmax Jacobian applied to dy)
Tensor softmax(const Tensor& x, std::int64_t dim) {
    return soft_op("softmax", "softmax_backward", x, dim, SoftKind::Softmax,
                   []<typename T>(const T* py, const T* pdy, T* pdx, std::int64_t n, std::int64_t base,
                                  std::int64_t stride) {
                       T dot = 0;
                       for (std::int64_t k = 0; k < n; ++k) dot += pdy[base + k * stride] * py[base + k * stride];
                       for (std::int64_t k = 0; k < n; ++k)
                           pdx[base + k * stride] = py[base + k * stride] * (pdy[base + k * stride] - dot);
                   });
}

// log_softmax:  y_k = x_k - logsumexp_j x_j
//   dx_k = dy_k - exp(y_k) sum_j dy_j
Tensor log_softmax(const Tensor& x, std::int64_t dim) {
    return soft_op("log_softmax", "log_softmax_backward", x, dim, SoftKind::LogSoftmax,
                   []<typename T>(const T* py, const T* pdy, T* pdx, std::int64_t n, std::int64_t base,
                                  std::int64_t stride) {
                       T s = 0;
                       for (std::int64_t k = 0; k < n; ++k) s += pdy[base + k * stride];
                       for (std::int64_t k = 0; k < n; ++k)
                           pdx[base + k * stride] = pdy[base + k * stride] - std::exp(py[base + k * stride]) * s;
                   });
}

// logsumexp:  y = m + log sum_j exp(x_j - m)
//   dx_j = dy exp(x_j - y)  = dy softmax(x)_j
Tensor logsumexp(const Tensor& x, std::int64_t dim, bool keepdim) {
    check_defined("logsumexp", x);
    dim = wrap_dim("logsumexp", dim, x.dim());
    const auto v = kernels::dim_view(x.shape(), dim);
    Shape kshape = x.shape();
    if (!kshape.empty()) kshape[dim] = 1;
    Tensor y = Tensor::empty(kshape, x.dtype());
    dispatch_floating(x.dtype(), "logsumexp", [&](auto tag) {
        using T = decltype(tag);
        const T* px = x.data<T>();
        T* py = y.data<T>();
        for (std::int64_t o = 0; o < v.outer; ++o)
            for (std::int64_t i = 0; i < v.inner; ++i) {
                const std::int64_t base = o * v.n * v.inner + i;
                T m = -std::numeric_limits<T>::infinity();
                for (std::int64_t k = 0; k < v.n; ++k) m = std::max(m, px[base + k * v.inner]);
                if (std::isinf(m) && m < 0) m = 0;
                T s = 0;
                for (std::int64_t k = 0; k < v.n; ++k) s += std::exp(px[base + k * v.inner] - m);
                py[o * v.inner + i] = m + std::log(s);
            }
    });
    Shape out_shape = keepdim ? kshape : x.shape();  // keepdim: the reduced dim stays, as size 1
    if (!keepdim && !out_shape.empty()) out_shape.erase(out_shape.begin() + dim);
    y = reshape(y, out_shape);
    return record("logsumexp", y, {x}, [x = x.detach(), y = y.detach(), kshape](const Tensor& dy, Grads& g) {
        g[0] = mul(reshape(dy, kshape), exp(sub(x, reshape(y, kshape))));
    });
}

// nll_loss:  L = -(1/n) sum_i log_probs[i, target_i]     over the n targets != ignore_index
//   dlog_probs[i, target_i] = -dL / n   (0 elsewhere and on ignored rows)
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, NllOptions options) {
    check_defined("nll_loss", log_probs, "log_probs");
    check_defined("nll_loss", target, "target");
    if (log_probs.dim() != 2) fail("nll_loss: log_probs must be [N, C], got {}", shape_str(log_probs.shape()));
    const std::int64_t count = kernels::check_class_targets("nll_loss", log_probs, "log_probs", target, options.ignore_index);
    const std::int64_t N = log_probs.shape()[0], C = log_probs.shape()[1];
    const std::int64_t* pt = target.data<std::int64_t>();
    const Reduction red = options.reduction;
    const double scale = red == Reduction::Mean ? (count > 0 ? 1.0 / static_cast<double>(count) : 0.0) : 1.0;
    Tensor y = red == Reduction::None ? Tensor::empty({N}, log_probs.dtype()) : Tensor::empty({}, log_probs.dtype());
    dispatch_floating(log_probs.dtype(), "nll_loss", [&](auto tag) {
        using T = decltype(tag);
        const T* lp = log_probs.data<T>();
        T* py = y.data<T>();
        double acc = 0;
        for (std::int64_t i = 0; i < N; ++i) {
            const bool skip = pt[i] == options.ignore_index;
            const double v = skip ? 0.0 : -static_cast<double>(lp[i * C + pt[i]]);
            if (red == Reduction::None) py[i] = static_cast<T>(v);
            acc += v;
        }
        if (red != Reduction::None) py[0] = static_cast<T>(acc * scale);
    });
    return record("nll_loss", y, {log_probs},
                  [target, N, C, scale, red, ignore = options.ignore_index](const Tensor& dy, Grads& g) {
                      Tensor dlp = zeros({N, C}, {.dtype = dy.dtype()});
                      const std::int64_t* pt = target.data<std::int64_t>();
                      dispatch_floating(dy.dtype(), "nll_loss_backward", [&](auto tag) {
                          using T = decltype(tag);
                          const T* pdy = dy.data<T>();
                          T* pd = dlp.data<T>();
                          for (std::int64_t i = 0; i < N; ++i) {
                              if (pt[i] == ignore) continue;
                              const T d = red == Reduction::None ? pdy[i] : pdy[0];
                              pd[i * C + pt[i]] = static_cast<T>(-d * scale);
                          }
                      });
                      g[0] = dlp;
                  });
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, NllOptions options, double label_smoothing) {
    check_defined("cross_entropy", logits, "logits");
    if (logits.dim() != 2) fail("cross_entropy: logits must be [N, C], got {}", shape_str(logits.shape()));
    if (!(label_smoothing >= 0.0 && label_smoothing < 1.0))
        fail("cross_entropy: label_smoothing must be in [0, 1), got {}", label_smoothing);
    Tensor lp = log_softmax(logits, 1);
    Tensor nll = nll_loss(lp, target, options);
    if (label_smoothing == 0.0) return nll;
    // The uniform part: each non-ignored row's mean of −log p over the classes, reduced as nll is.
    check_defined("cross_entropy", target, "target");
    const std::int64_t count =
        kernels::check_class_targets("cross_entropy", logits, "logits", target, options.ignore_index);
    Tensor real = ne(target.to(lp.dtype()), static_cast<double>(options.ignore_index));  // [N], 1 = counted
    Tensor uniform = -(mean(lp, {1}) * real);                                                // [N]
    if (options.reduction == Reduction::Sum) uniform = sum(uniform);
    else if (options.reduction == Reduction::Mean) uniform = sum(uniform) / static_cast<double>(std::max<std::int64_t>(count, 1));
    return nll * (1.0 - label_smoothing) + uniform * label_smoothing;
}

// dropout:  y = x * m / (1 - p),  m_i ~ Bernoulli(1 - p)      dx = dy * m / (1 - p)
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
    check_defined("dropout", x);
    if (!(p >= 0.0 && p < 1.0)) fail("dropout: p must be in [0, 1), got {}", p);
    if (!training || !grad_enabled() || p == 0.0) return x;
    Generator& g = gen ? *gen : default_generator();
    Tensor mask = Tensor::empty(x.shape(), x.dtype());
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    // Element i is dropped when uniform() < p, uniform() = (next_u64() >> 11) · 2⁻⁵³: the same test as
    // (next_u64() >> 11) < ⌈p · 2⁵³⌉ in integers (p · 2⁵³ is exact), one pass for mask and output.
    const auto threshold = static_cast<std::uint64_t>(std::ceil(std::ldexp(p, 53)));
    const std::int64_t n = x.numel();
    dispatch_floating(x.dtype(), "dropout", [&](auto tag) {
        using T = decltype(tag);
        const T* px = x.data<T>();
        T* pm = mask.data<T>();
        T* py = y.data<T>();
        const T keep = static_cast<T>(1.0 / (1.0 - p));
        // Generator::next_u64 (xoshiro256**) inlined on a copy of the state, written back after:
        // the same draws as n calls, without a call per element (tests/test_layers_basic.cpp checks).
        Generator::State st = g.state();
        std::uint64_t s0 = st.s[0], s1 = st.s[1], s2 = st.s[2], s3 = st.s[3];
        auto rotl = [](std::uint64_t v, int k) { return (v << k) | (v >> (64 - k)); };
        for (std::int64_t i = 0; i < n; ++i) {
            const std::uint64_t draw = rotl(s1 * 5, 7) * 9;
            const std::uint64_t t = s1 << 17;
            s2 ^= s0;
            s3 ^= s1;
            s1 ^= s2;
            s0 ^= s3;
            s2 ^= t;
            s3 = rotl(s3, 45);
            pm[i] = (draw >> 11) < threshold ? T(0) : keep;
            py[i] = px[i] * pm[i];
        }
        st.s[0] = s0, st.s[1] = s1, st.s[2] = s2, st.s[3] = s3;
        g.set_state(st);
    });
    return record("dropout", y, {x}, [mask](const Tensor& dy, Grads& g) { g[0] = mul(dy, mask); });
}

}  // namespace seqgrad
