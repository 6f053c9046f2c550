// Indexing ops: index_select / embedding lookup by integer ids, gather, masked_fill, where.
// Ids are int64 tensors and are range-checked: an out-of-range id is an IndexError, never UB.
#include <cstring>

#include "core/autograd.h"
#include "core/kernels.h"
#include "core/ops.h"

namespace seqgrad {

namespace {
void check_ids(const char* op, const Tensor& ids, std::int64_t limit, const char* what) {
    check_defined(op, ids, "ids");
    if (ids.dtype() != DType::Int64) fail("{}: ids must be int64, got {} (shape {})", op, dtype_name(ids.dtype()), shape_str(ids.shape()));
    const std::int64_t* p = ids.data<std::int64_t>();
    for (std::int64_t i = 0; i < ids.numel(); ++i)
        if (p[i] < 0 || p[i] >= limit)
            fail<IndexError>("{}: id {} at position {} is out of range for {} of size {} (valid: 0 to {})", op, p[i], i,
                             what, limit, limit - 1);
}
}  // namespace

// index_select:  y[.., k, ..] = x[.., ids[k], ..] along dim
//   dx[.., ids[k], ..] += dy[.., k, ..]   (repeated ids accumulate)
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& ids) {
    check_defined("index_select", x);
    if (x.dim() == 0) fail("index_select: cannot index a 0-d tensor (shape [])");
    dim = wrap_dim("index_select", dim, x.dim());
    if (ids.defined() && ids.dim() != 1) fail("index_select: ids must be 1-D, got {}", shape_str(ids.shape()));
    check_ids("index_select", ids, x.shape()[dim], "the indexed dim");
    const auto v = kernels::dim_view(x.shape(), dim);
    const std::int64_t k = ids.numel();
    Shape out_shape = x.shape();
    out_shape[dim] = k;
    Tensor y = Tensor::empty(out_shape, x.dtype());
    const std::size_t row = static_cast<std::size_t>(v.inner) * dtype_size(x.dtype());
    const std::int64_t* pid = ids.data<std::int64_t>();
    const char* src = static_cast<const char*>(x.raw_data());
    char* dst = static_cast<char*>(y.raw_data());
    for (std::int64_t o = 0; o < v.outer; ++o)
        for (std::int64_t j = 0; j < k; ++j) std::memcpy(dst + (o * k + j) * row, src + (o * v.n + pid[j]) * row, row);
    return record("index_select", y, {x}, [xs = x.shape(), ids, v, k](const Tensor& dy, Grads& g) {
        Tensor dx = zeros(xs, {.dtype = dy.dtype()});
        const std::int64_t* pid = ids.data<std::int64_t>();
        dispatch_floating(dy.dtype(), "index_select_backward", [&](auto tag) {
            using T = decltype(tag);
            const T* pdy = dy.data<T>();
            T* pdx = dx.data<T>();
            for (std::int64_t o = 0; o < v.outer; ++o)
                for (std::int64_t j = 0; j < k; ++j) {
                    T* d = pdx + (o * v.n + pid[j]) * v.inner;
                    const T* s = pdy + (o * k + j) * v.inner;
                    for (std::int64_t i = 0; i < v.inner; ++i) d[i] += s[i];
                }
        });
        g[0] = dx;
    });
}

// embedding:  y[i.., :] = weight[ids[i..], :]      weight [V, D], ids any shape -> [*ids.shape, D]
//   dweight[ids[i..], :] += dy[i.., :]   except the padding_idx row, which gets no gradient
Tensor embedding(const Tensor& weight, const Tensor& ids, std::int64_t padding_idx) {
    check_defined("embedding", weight, "weight");
    if (weight.dim() != 2) fail("embedding: weight must be [num_embeddings, dim], got {}", shape_str(weight.shape()));
    check_ids("embedding", ids, weight.shape()[0], "an embedding table");
    const std::int64_t V = weight.shape()[0], D = weight.shape()[1], n = ids.numel();
    Shape out_shape = ids.shape();
    out_shape.push_back(D);
    Tensor y = Tensor::empty(out_shape, weight.dtype());
    const std::size_t row = static_cast<std::size_t>(D) * dtype_size(weight.dtype());
    const std::int64_t* pid = ids.data<std::int64_t>();
    for (std::int64_t i = 0; i < n; ++i)
        std::memcpy(static_cast<char*>(y.raw_data()) + i * row, static_cast<const char*>(weight.raw_data()) + pid[i] * row, row);
    return record("embedding", y, {weight}, [ids, V, D, n, padding_idx](const Tensor& dy, Grads& g) {
        Tensor dw = zeros({V, D}, {.dtype = dy.dtype()});
        const std::int64_t* pid = ids.data<std::int64_t>();
        dispatch_floating(dy.dtype(), "embedding_backward", [&](auto tag) {
            using T = decltype(tag);
            const T* pdy = dy.data<T>();
            T* pdw = dw.data<T>();
            for (std::int64_t i = 0; i < n; ++i) {
                if (pid[i] == padding_idx) continue;
                T* d = pdw + pid[i] * D;
                const T* s = pdy + i * D;
                for (std::int64_t j = 0; j < D; ++j) d[j] += s[j];
            }
        });
        g[0] = dw;
    });
}

// gather:  y[i][j][k] = x[i][index[i][j][k]][k]   (dim = 1; likewise for any dim)
//   dx[i][index[i][j][k]][k] += dy[i][j][k]
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index) {
    check_defined("gather", x);
    check_defined("gather", index, "index");
    if (x.dim() == 0) fail("gather: cannot gather from a 0-d tensor (shape [])");
    dim = wrap_dim("gather", dim, x.dim());
    if (index.dtype() != DType::Int64) fail("gather: index must be int64, got {}", dtype_name(index.dtype()));
    if (index.dim() != x.dim()) fail("gather: index {} must have the rank of x {}", shape_str(index.shape()), shape_str(x.shape()));
    for (std::int64_t d = 0; d < x.dim(); ++d)
        if (d != dim && index.shape()[d] > x.shape()[d])
            fail("gather: index {} is larger than x {} in dim {}", shape_str(index.shape()), shape_str(x.shape()), d);
    check_ids("gather", index, x.shape()[dim], "the gathered dim");
    // For each element of index, its offset into x: walk index's elements in order with a counter
    // per dim, replacing the counter of `dim` by the index value. The strides and the counter are
    // Shapes of x's rank (a copy of x's shape, then overwritten), sized from a vector's size rather
    // than an int64 rank, which g++ 12 could not prove non-negative (a false -Wfree-nonheap-object).
    std::vector<std::int64_t> offsets(static_cast<std::size_t>(index.numel()));
    {
        const Shape& xs = x.shape();
        const Shape& is = index.shape();
        const std::size_t rank = xs.size();
        Shape xstride(xs), counter(rank, 0);
        std::int64_t s = 1;
        for (std::size_t d = rank; d-- > 0;) xstride[d] = s, s *= xs[d];
        const std::int64_t* pidx = index.data<std::int64_t>();
        const auto gathered = static_cast<std::size_t>(dim);
        for (std::size_t e = 0; e < offsets.size(); ++e) {
            std::int64_t off = 0;
            for (std::size_t d = 0; d < rank; ++d) off += (d == gathered ? pidx[e] : counter[d]) * xstride[d];
            offsets[e] = off;
            for (std::size_t d = rank; d-- > 0;) {
                if (++counter[d] < is[d]) break;
                counter[d] = 0;
            }
        }
    }
    Tensor y = Tensor::empty(index.shape(), x.dtype());
    dispatch_floating(x.dtype(), "gather", [&](auto tag) {
        using T = decltype(tag);
        const T* px = x.data<T>();
        T* py = y.data<T>();
        for (std::size_t e = 0; e < offsets.size(); ++e) py[e] = px[offsets[e]];
    });
    return record("gather", y, {x}, [xs = x.shape(), offsets = std::move(offsets)](const Tensor& dy, Grads& g) {
        Tensor dx = zeros(xs, {.dtype = dy.dtype()});
        dispatch_floating(dy.dtype(), "gather_backward", [&](auto tag) {
            using T = decltype(tag);
            const T* pdy = dy.data<T>();
            T* pdx = dx.data<T>();
            for (std::size_t e = 0; e < offsets.size(); ++e) pdx[offsets[e]] += pdy[e];
        });
        g[0] = dx;
    });
}

namespace {
// The mask as a 0/1 float array broadcast to `shape` (mask may be any dtype; nonzero is true).
std::vector<char> broadcast_mask(const char* op, const Tensor& mask, const Shape& shape) {
    check_defined(op, mask, "mask");
    const Shape b = broadcast_shapes(op, shape, mask.shape());
    if (b != shape) fail("{}: mask {} does not broadcast to the input {}", op, shape_str(mask.shape()), shape_str(shape));
    const std::vector<double> m = mask.to_vector();
    std::vector<char> out(static_cast<std::size_t>(numel_of(shape)));
    kernels::for_each_broadcast(shape, shape, mask.shape(),
                                [&](std::int64_t o, std::int64_t, std::int64_t j) { out[o] = m[j] != 0.0; });
    return out;
}
}  // namespace

// masked_fill:  y = value where mask, x elsewhere      dx = dy where not mask, 0 where mask
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
    check_defined("masked_fill", x);
    auto m = broadcast_mask("masked_fill", mask, x.shape());
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    dispatch_floating(x.dtype(), "masked_fill", [&](auto tag) {
        using T = decltype(tag);
        const T* px = x.data<T>();
        T* py = y.data<T>();
        for (std::size_t i = 0; i < m.size(); ++i) py[i] = m[i] ? static_cast<T>(value) : px[i];
    });
    return record("masked_fill", y, {x}, [m = std::move(m)](const Tensor& dy, Grads& g) {
        Tensor dx = Tensor::empty(dy.shape(), dy.dtype());
        dispatch_floating(dy.dtype(), "masked_fill_backward", [&](auto tag) {
            using T = decltype(tag);
            const T* pdy = dy.data<T>();
            T* pdx = dx.data<T>();
            for (std::size_t i = 0; i < m.size(); ++i) pdx[i] = m[i] ? T(0) : pdy[i];
        });
        g[0] = dx;
    });
}

// where:  y = a where cond, b elsewhere (all broadcast)
//   da = sum_to(dy * cond),  db = sum_to(dy * (1 - cond))
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
    check_defined("where", cond, "cond");
    check_defined("where", a, "a");
    check_defined("where", b, "b");
    check_same_dtype("where", a, b);
    const Shape ab = broadcast_shapes("where", a.shape(), b.shape());
    const Shape shape = broadcast_shapes("where", ab, cond.shape());
    const Tensor c = cond.dtype() == a.dtype() ? cond : ne(cond.to(DType::Float64), 0.0).to(a.dtype());
    const Tensor cmask = ne(expand(c.detach(), shape), 0.0);
    const Tensor ae = expand(a.detach(), shape), be = expand(b.detach(), shape);
    Tensor y = Tensor::empty(shape, a.dtype());
    dispatch_floating(a.dtype(), "where", [&](auto tag) {
        using T = decltype(tag);
        const T* pc = cmask.data<T>();
        const T* pa = ae.data<T>();
        const T* pb = be.data<T>();
        T* py = y.data<T>();
        for (std::int64_t i = 0; i < y.numel(); ++i) py[i] = pc[i] != 0 ? pa[i] : pb[i];
    });
    return record("where", y, {a, b}, [cmask, sa = a.shape(), sb = b.shape()](const Tensor& dy, Grads& g) {
        if (g.needs(0)) g[0] = sum_to(mul(dy, cmask), sa);
        if (g.needs(1)) g[1] = sum_to(mul(dy, rsub(1.0, cmask)), sb);
    });
}

}  // namespace seqgrad
