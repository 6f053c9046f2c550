// Elementwise ops with NumPy broadcasting. Each op: the forward kernel, then record() with the
// backward directly underneath, the formula stated above the function.
//
// Broadcasting: shapes are aligned from the right; a dim of size 1 (or a missing dim) is repeated.
// The backward of a broadcast input sums the gradient back to the input's shape (sum_to).
#include <cmath>

#include "core/autograd.h"
#include "core/kernels.h"
#include "core/ops.h"

namespace seqgrad {

using kernels::binary_same;
using kernels::unary;

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
    const std::size_t rank = std::max(a.size(), b.size());
    Shape out(rank);
    for (std::size_t i = 0; i < rank; ++i) {
        const std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
        const std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
        if (da != db && da != 1 && db != 1)
            fail("{}: shapes cannot be broadcast: {} vs {} (dim {}: {} != {})", op, shape_str(a), shape_str(b), i, da,
                 db);
        out[i] = da == 1 ? db : da;
    }
    return out;
}

namespace {

// Both operands of a binary op are defined and of one dtype.
void check_operands(const char* op, const Tensor& a, const Tensor& b) {
    check_defined(op, a, "lhs");
    check_defined(op, b, "rhs");
    check_same_dtype(op, a, b);
}

// out = f(a, b) with broadcasting; fast paths for equal shapes and a one-element operand.
template <typename F>
Tensor broadcast_binary(const char* op, const Tensor& a, const Tensor& b, F f) {
    check_operands(op, a, b);
    const Shape out_shape = broadcast_shapes(op, a.shape(), b.shape());
    Tensor out = Tensor::empty(out_shape, a.dtype());
    dispatch_floating(a.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        const T* pa = a.data<T>();
        const T* pb = b.data<T>();
        T* po = out.data<T>();
        const std::int64_t n = out.numel();
        if (a.shape() == b.shape()) {
            kernels::zip(pa, pb, po, n, f);
        } else if (b.numel() == 1 && a.shape() == out_shape) {
            const T s = pb[0];
            kernels::map(pa, po, n, [&](T v) { return f(v, s); });
        } else if (a.numel() == 1 && b.shape() == out_shape) {
            const T s = pa[0];
            kernels::map(pb, po, n, [&](T v) { return f(s, v); });
        } else {
            kernels::for_each_broadcast(out_shape, a.shape(), b.shape(),
                                        [&](std::int64_t o, std::int64_t i, std::int64_t j) { po[o] = f(pa[i], pb[j]); });
        }
    });
    return out;
}

}  // namespace

// sum_to: the gradient of broadcasting. grad has the broadcast shape; sum over the leading dims
// the input did not have and over dims where the input had size 1.
Tensor sum_to(const Tensor& grad, const Shape& shape) {
    if (grad.shape() == shape) return grad;
    const std::size_t rank = grad.shape().size();
    if (shape.size() > rank) fail("sum_to: cannot reduce {} to the larger rank {}", shape_str(grad.shape()), shape_str(shape));
    std::vector<std::int64_t> dims;
    const std::size_t offset = rank - shape.size();
    for (std::size_t i = 0; i < rank; ++i)
        if (i < offset || (shape[i - offset] == 1 && grad.shape()[i] != 1)) dims.push_back(static_cast<std::int64_t>(i));
    Tensor r = dims.empty() ? grad : sum(grad, dims, /*keepdim=*/true);
    return reshape(r, shape);
}

// add:  y = a + b
//   da = sum_to(dy),  db = sum_to(dy)
Tensor add(const Tensor& a, const Tensor& b) {
    Tensor y = broadcast_binary("add", a, b, [](auto u, auto v) { return u + v; });
    return record("add", y, {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& dy, Grads& g) {
        if (g.needs(0)) g[0] = sum_to(dy, sa);
        if (g.needs(1)) g[1] = sum_to(dy, sb);
    });
}

// sub:  y = a - b
//   da = sum_to(dy),  db = -sum_to(dy)
Tensor sub(const Tensor& a, const Tensor& b) {
    Tensor y = broadcast_binary("sub", a, b, [](auto u, auto v) { return u - v; });
    return record("sub", y, {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& dy, Grads& g) {
        if (g.needs(0)) g[0] = sum_to(dy, sa);
        if (g.needs(1)) g[1] = neg(sum_to(dy, sb));
    });
}

// mul:  y = a * b
//   da = sum_to(dy * b),  db = sum_to(dy * a)
Tensor mul(const Tensor& a, const Tensor& b) {
    Tensor y = broadcast_binary("mul", a, b, [](auto u, auto v) { return u * v; });
    return record("mul", y, {a, b}, [a = a.detach(), b = b.detach()](const Tensor& dy, Grads& g) {
        if (g.needs(0)) g[0] = sum_to(mul(dy, b), a.shape());
        if (g.needs(1)) g[1] = sum_to(mul(dy, a), b.shape());
    });
}

// div:  y = a / b
//   da = sum_to(dy / b),  db = sum_to(-dy * a / b^2) = sum_to(-dy * y / b)
Tensor div(const Tensor& a, const Tensor& b) {
    Tensor y = broadcast_binary("div", a, b, [](auto u, auto v) { return u / v; });
    return record("div", y, {a, b}, [b = b.detach(), y = y.detach(), sa = a.shape()](const Tensor& dy, Grads& g) {
        if (g.needs(0)) g[0] = sum_to(div(dy, b), sa);
        if (g.needs(1)) g[1] = sum_to(neg(div(mul(dy, y), b)), b.shape());
    });
}

// add scalar:  y = a + s      da = dy
Tensor add(const Tensor& a, double s) {
    Tensor y = unary("add", a, [s](auto v) { return v + s; });
    return record("add_scalar", y, {a}, [](const Tensor& dy, Grads& g) { g[0] = dy; });
}

// sub scalar:  y = a - s      da = dy
Tensor sub(const Tensor& a, double s) { return add(a, -s); }

// rsub:  y = s - a            da = -dy
Tensor rsub(double s, const Tensor& a) {
    Tensor y = unary("rsub", a, [s](auto v) { return s - v; });
    return record("rsub_scalar", y, {a}, [](const Tensor& dy, Grads& g) { g[0] = neg(dy); });
}

// mul scalar:  y = a * s      da = dy * s
Tensor mul(const Tensor& a, double s) {
    Tensor y = unary("mul", a, [s](auto v) { return v * s; });
    return record("mul_scalar", y, {a}, [s](const Tensor& dy, Grads& g) { g[0] = mul(dy, s); });
}

// div scalar:  y = a / s      da = dy / s
Tensor div(const Tensor& a, double s) {
    if (s == 0.0) fail("div: division by the scalar 0");
    return mul(a, 1.0 / s);
}

// rdiv:  y = s / a            da = -dy * s / a^2 = -dy * y / a
Tensor rdiv(double s, const Tensor& a) {
    Tensor y = unary("rdiv", a, [s](auto v) { return s / v; });
    return record("rdiv_scalar", y, {a}, [a = a.detach(), y = y.detach()](const Tensor& dy, Grads& g) {
        g[0] = binary_same("rdiv_backward", mul(dy, y), a, [](auto d, auto v) { return -d / v; });
    });
}

// neg:  y = -x                dx = -dy
Tensor neg(const Tensor& x) {
    Tensor y = unary("neg", x, [](auto v) { return -v; });
    return record("neg", y, {x}, [](const Tensor& dy, Grads& g) { g[0] = neg(dy); });
}

// pow:  y = x^p               dx = dy * p * x^(p-1)
Tensor pow(const Tensor& x, double p) {
    Tensor y = unary("pow", x, [p](auto v) { return std::pow(v, p); });
    return record("pow", y, {x}, [x = x.detach(), p](const Tensor& dy, Grads& g) {
        g[0] = binary_same("pow_backward", dy, x, [p](auto d, auto v) { return d * p * std::pow(v, p - 1); });
    });
}

// exp:  y = e^x               dx = dy * y
Tensor exp(const Tensor& x) {
    Tensor y = unary("exp", x, [](auto v) { return std::exp(v); });
    return record("exp", y, {x}, [y = y.detach()](const Tensor& dy, Grads& g) { g[0] = mul(dy, y); });
}

// log:  y = ln x              dx = dy / x
Tensor log(const Tensor& x) {
    Tensor y = unary("log", x, [](auto v) { return std::log(v); });
    return record("log", y, {x}, [x = x.detach()](const Tensor& dy, Grads& g) { g[0] = div(dy, x); });
}

// sqrt:  y = sqrt(x)          dx = dy / (2 y)
Tensor sqrt(const Tensor& x) {
    Tensor y = unary("sqrt", x, [](auto v) { return std::sqrt(v); });
    return record("sqrt", y, {x}, [y = y.detach()](const Tensor& dy, Grads& g) {
        g[0] = binary_same("sqrt_backward", dy, y, [](auto d, auto v) { return d / (2 * v); });
    });
}

// abs:  y = |x|               dx = dy * sign(x)   (0 at x = 0)
Tensor abs(const Tensor& x) {
    Tensor y = unary("abs", x, [](auto v) { return std::abs(v); });
    return record("abs", y, {x}, [x = x.detach()](const Tensor& dy, Grads& g) {
        g[0] = binary_same("abs_backward", dy, x, [](auto d, auto v) { return v > 0 ? d : (v < 0 ? -d : d * 0); });
    });
}

// tanh:  y = tanh(x)          dx = dy * (1 - y^2)
Tensor tanh(const Tensor& x) {
    Tensor y = unary("tanh", x, [](auto v) { return std::tanh(v); });
    return record("tanh", y, {x}, [y = y.detach()](const Tensor& dy, Grads& g) {
        g[0] = binary_same("tanh_backward", dy, y, [](auto d, auto v) { return d * (1 - v * v); });
    });
}

// sigmoid:  y = 1 / (1 + e^-x)    dx = dy * y * (1 - y)
Tensor sigmoid(const Tensor& x) {
    Tensor y = unary("sigmoid", x, [](auto v) {
        using T = decltype(v);
        // two branches keep exp from overflowing for large |v|
        return v >= 0 ? T(1) / (T(1) + std::exp(-v)) : std::exp(v) / (T(1) + std::exp(v));
    });
    return record("sigmoid", y, {x}, [y = y.detach()](const Tensor& dy, Grads& g) {
        g[0] = binary_same("sigmoid_backward", dy, y, [](auto d, auto v) { return d * v * (1 - v); });
    });
}

// relu:  y = max(x, 0)        dx = dy * (x > 0)
Tensor relu(const Tensor& x) {
    Tensor y = unary("relu", x, [](auto v) { return v > 0 ? v : v * 0; });
    return record("relu", y, {x}, [x = x.detach()](const Tensor& dy, Grads& g) {
        g[0] = binary_same("relu_backward", dy, x, [](auto d, auto v) { return v > 0 ? d : d * 0; });
    });
}

// clamp:  y = min(max(x, lo), hi)     dx = dy * (lo < x < hi)
Tensor clamp(const Tensor& x, double lo, double hi) {
    if (lo > hi) fail("clamp: lo ({}) is greater than hi ({})", lo, hi);
    Tensor y = unary("clamp", x, [lo, hi](auto v) {
        using T = decltype(v);
        return v < T(lo) ? T(lo) : (v > T(hi) ? T(hi) : v);
    });
    return record("clamp", y, {x}, [x = x.detach(), lo, hi](const Tensor& dy, Grads& g) {
        g[0] = binary_same("clamp_backward", dy, x, [lo, hi](auto d, auto v) { return (v > lo && v < hi) ? d : d * 0; });
    });
}

// ---- comparisons: masks of 0 and 1, no gradient -------------------------------------------------
namespace {
template <typename Cmp>
Tensor compare(const char* op, const Tensor& a, const Tensor& b, Cmp cmp) {
    check_operands(op, a, b);
    const bool ints = a.dtype() == DType::Int64;
    const Tensor fa = ints ? a.to(DType::Float64) : a;
    const Tensor fb = ints ? b.to(DType::Float64) : b;
    Tensor mask = broadcast_binary(op, fa, fb, [&](auto u, auto v) { return cmp(u, v) ? decltype(u)(1) : decltype(u)(0); });
    return ints ? mask.to(DType::Float32) : mask;
}
// Against a scalar: int64 tensors are compared in float64 so a threshold such as 0.5 is not
// truncated to an integer first (ids < 0.5 must be true for id 0).
template <typename Cmp>
Tensor compare_scalar(const char* op, const Tensor& a, double s, Cmp cmp) {
    check_defined(op, a, "lhs");
    if (a.dtype() == DType::Int64)
        return compare(op, a.to(DType::Float64), Tensor::scalar(s, DType::Float64), cmp).to(DType::Float32);
    return compare(op, a, Tensor::scalar(s, a.dtype()), cmp);
}
}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", a, b, [](auto u, auto v) { return u == v; }); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare("ne", a, b, [](auto u, auto v) { return u != v; }); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", a, b, [](auto u, auto v) { return u < v; }); }
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", a, b, [](auto u, auto v) { return u <= v; }); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", a, b, [](auto u, auto v) { return u > v; }); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", a, b, [](auto u, auto v) { return u >= v; }); }
Tensor eq(const Tensor& a, double s) { return compare_scalar("eq", a, s, [](auto u, auto v) { return u == v; }); }
Tensor ne(const Tensor& a, double s) { return compare_scalar("ne", a, s, [](auto u, auto v) { return u != v; }); }
Tensor gt(const Tensor& a, double s) { return compare_scalar("gt", a, s, [](auto u, auto v) { return u > v; }); }
Tensor lt(const Tensor& a, double s) { return compare_scalar("lt", a, s, [](auto u, auto v) { return u < v; }); }

}  // namespace seqgrad
