// Reductions over all elements or over given dims, with keepdim.
// A reduction along one dim views x as [outer, n, inner] (kernels::dim_view) and reduces the middle.
#include <algorithm>
#include <limits>
#include <type_traits>

#include "core/autograd.h"
#include "core/kernels.h"
#include "core/ops.h"
#include "core/row_kernels.h"

namespace seqgrad {

namespace {

std::vector<std::int64_t> normalise_dims(const char* op, const std::vector<std::int64_t>& dims, std::int64_t rank) {
    std::vector<std::int64_t> out;
    for (auto d : dims) out.push_back(wrap_dim(op, d, rank));
    std::sort(out.begin(), out.end());
    if (std::adjacent_find(out.begin(), out.end()) != out.end())
        fail("{}: dim listed twice in [{}]", op, fmt::join(dims, ", "));
    return out;
}

Shape keepdim_shape(Shape shape, const std::vector<std::int64_t>& dims) {
    for (auto d : dims) shape[d] = 1;
    return shape;
}

Shape drop_dims(const Shape& shape, const std::vector<std::int64_t>& dims) {
    Shape out;
    for (std::size_t i = 0; i < shape.size(); ++i)
        if (!std::binary_search(dims.begin(), dims.end(), static_cast<std::int64_t>(i))) out.push_back(shape[i]);
    return out;
}

// Sum along one dim, keeping it as size 1.
Tensor sum_one_dim(const Tensor& x, std::int64_t dim) {
    const auto v = kernels::dim_view(x.shape(), dim);
    Shape out_shape = x.shape();
    out_shape[dim] = 1;
    Tensor out = zeros(out_shape, {.dtype = x.dtype()});
    dispatch_floating(x.dtype(), "sum", [&](auto tag) {
        using T = decltype(tag);
        const T* px = x.data<T>();
        T* po = out.data<T>();
        if constexpr (std::is_same_v<T, float>) {
            // Fast path: the same additions in the same order at the CPU's vector width (a bias
            // gradient: the column sums of dy [rows, out]).
            if (fast_paths_enabled() && v.inner >= 64) {
                for (std::int64_t o = 0; o < v.outer; ++o)
                    kernels::add_rows(po + o * v.inner, px + o * v.n * v.inner, v.n, v.inner);
                return;
            }
        }
        for (std::int64_t o = 0; o < v.outer; ++o)
            for (std::int64_t k = 0; k < v.n; ++k) {
                const T* row = px + (o * v.n + k) * v.inner;
                T* dst = po + o * v.inner;
                for (std::int64_t i = 0; i < v.inner; ++i) dst[i] += row[i];
            }
    });
    return out;
}

}  // namespace

// sum (all):  y = sum_i x_i          dx = dy broadcast to x's shape
Tensor sum(const Tensor& x) {
    check_defined("sum", x);
    Tensor y = Tensor::empty({}, x.dtype());
    dispatch_floating(x.dtype(), "sum", [&](auto tag) {
        using T = decltype(tag);
        const T* p = x.data<T>();
        double acc = 0;  // accumulate in double: a loss over many elements stays exact enough
        for (std::int64_t i = 0; i < x.numel(); ++i) acc += p[i];
        y.data<T>()[0] = static_cast<T>(acc);
    });
    return record("sum", y, {x}, [shape = x.shape()](const Tensor& dy, Grads& g) { g[0] = expand(dy, shape); });
}

// sum over dims:  y = sum over dims of x     dx = dy (with the summed dims restored) broadcast to x
Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims_in, bool keepdim) {
    check_defined("sum", x);
    auto dims = normalise_dims("sum", dims_in, x.dim());
    if (x.dim() == 0) dims.clear();  // a 0-d tensor reduced over its one implicit dim is itself
    Tensor y = x;
    for (auto it = dims.rbegin(); it != dims.rend(); ++it) y = sum_one_dim(y, *it);
    if (dims.empty()) y = x.clone();
    if (!keepdim) y = reshape(y, drop_dims(x.shape(), dims));
    return record("sum", y, {x}, [shape = x.shape(), kshape = keepdim_shape(x.shape(), dims)](const Tensor& dy, Grads& g) {
        g[0] = expand(reshape(dy, kshape), shape);
    });
}

// mean:  y = sum(x) / n              dx = dy / n
Tensor mean(const Tensor& x) {
    check_defined("mean", x);
    if (x.numel() == 0) fail("mean: the tensor {} is empty", shape_str(x.shape()));
    return div(sum(x), static_cast<double>(x.numel()));
}

Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
    check_defined("mean", x);
    const auto nd = normalise_dims("mean", dims, x.dim());
    std::int64_t count = 1;
    for (auto d : nd) count *= x.dim() == 0 ? 1 : x.shape()[d];
    if (count == 0) fail("mean: reducing over an empty dim of {}", shape_str(x.shape()));
    return div(sum(x, dims, keepdim), static_cast<double>(count));
}

// max (all):  y = max_i x_i          dx = dy at the (first) position of the maximum, 0 elsewhere
Tensor max(const Tensor& x) {
    check_defined("max", x);
    if (x.numel() == 0) fail("max: the tensor {} is empty", shape_str(x.shape()));
    Tensor y = Tensor::empty({}, x.dtype());
    std::int64_t where = 0;
    dispatch_floating(x.dtype(), "max", [&](auto tag) {
        using T = decltype(tag);
        const T* p = x.data<T>();
        for (std::int64_t i = 1; i < x.numel(); ++i)
            if (p[i] > p[where]) where = i;
        y.data<T>()[0] = p[where];
    });
    return record("max", y, {x}, [shape = x.shape(), where](const Tensor& dy, Grads& g) {
        Tensor dx = zeros(shape, {.dtype = dy.dtype()});
        dispatch_floating(dy.dtype(), "max_backward", [&](auto tag) {
            using T = decltype(tag);
            dx.data<T>()[where] = dy.data<T>()[0];
        });
        g[0] = dx;
    });
}

namespace {
// Values and positions of the maximum along dim (keepdim shape).
std::pair<Tensor, std::vector<std::int64_t>> max_along(const char* op, const Tensor& x, std::int64_t dim) {
    const auto v = kernels::dim_view(x.shape(), dim);
    if (v.n == 0) fail("{}: dim {} of {} is empty", op, dim, shape_str(x.shape()));
    Shape out_shape = x.shape();
    if (!out_shape.empty()) out_shape[dim] = 1;  // a 0-d tensor is its own maximum
    Tensor values = Tensor::empty(out_shape, x.dtype());
    std::vector<std::int64_t> pos(static_cast<std::size_t>(v.outer * v.inner));
    auto run = [&](auto* px, auto* pv) {
        for (std::int64_t o = 0; o < v.outer; ++o)
            for (std::int64_t i = 0; i < v.inner; ++i) {
                std::int64_t best = 0;
                for (std::int64_t k = 1; k < v.n; ++k)
                    if (px[(o * v.n + k) * v.inner + i] > px[(o * v.n + best) * v.inner + i]) best = k;
                pos[o * v.inner + i] = best;
                pv[o * v.inner + i] = px[(o * v.n + best) * v.inner + i];
            }
    };
    switch (x.dtype()) {
        case DType::Float32: run(x.data<float>(), values.data<float>()); break;
        case DType::Float64: run(x.data<double>(), values.data<double>()); break;
        case DType::Int64: run(x.data<std::int64_t>(), values.data<std::int64_t>()); break;
    }
    return {values, pos};
}
}  // namespace

// max along dim:  y = max_k x[..k..]     dx = dy at the (first) argmax along dim, 0 elsewhere
Tensor max(const Tensor& x, std::int64_t dim_in, bool keepdim) {
    check_defined("max", x);
    const std::int64_t dim = wrap_dim("max", dim_in, x.dim());
    auto [values, pos] = max_along("max", x, dim);
    if (!keepdim) values = reshape(values, drop_dims(x.shape(), {dim}));
    return record("max", values, {x}, [shape = x.shape(), dim, pos = std::move(pos)](const Tensor& dy, Grads& g) {
        const auto v = kernels::dim_view(shape, dim);
        Tensor dx = zeros(shape, {.dtype = dy.dtype()});
        dispatch_floating(dy.dtype(), "max_backward", [&](auto tag) {
            using T = decltype(tag);
            const T* pdy = dy.data<T>();
            T* pdx = dx.data<T>();
            for (std::int64_t o = 0; o < v.outer; ++o)
                for (std::int64_t i = 0; i < v.inner; ++i)
                    pdx[(o * v.n + pos[o * v.inner + i]) * v.inner + i] = pdy[o * v.inner + i];
        });
        g[0] = dx;
    });
}

// argmax along dim: int64 positions of the first maximum; no gradient.
Tensor argmax(const Tensor& x, std::int64_t dim_in, bool keepdim) {
    check_defined("argmax", x);
    const std::int64_t dim = wrap_dim("argmax", dim_in, x.dim());
    auto [values, pos] = max_along("argmax", x, dim);
    Tensor out = Tensor::ids(pos, values.shape());
    return keepdim ? out : reshape(out, drop_dims(x.shape(), {dim}));
}

}  // namespace seqgrad
