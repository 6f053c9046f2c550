// Shape ops. reshape shares storage (tensors are always contiguous); every other op copies into a
// fresh contiguous tensor. Each backward routes the gradient back to where the values came from.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/autograd.h"
#include "core/kernels.h"
#include "core/ops.h"

namespace seqgrad {

namespace {
std::size_t elem(const Tensor& t) { return dtype_size(t.dtype()); }
char* bytes(const Tensor& t) { return static_cast<char*>(t.raw_data()); }
}  // namespace

// reshape:  y = x viewed with a new shape (same storage)      dx = reshape(dy, x.shape)
Tensor reshape(const Tensor& x, Shape shape) {
    check_defined("reshape", x);
    std::int64_t known = 1, infer = -1;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            if (infer >= 0) fail("reshape: more than one -1 in {}", shape_str(shape));
            infer = static_cast<std::int64_t>(i);
        } else if (shape[i] < 0) {
            fail("reshape: negative size in {}", shape_str(shape));
        } else {
            known *= shape[i];
        }
    }
    if (infer >= 0) {
        if (known == 0 || x.numel() % known != 0)
            fail("reshape: cannot infer -1 in {} for a tensor of {} elements ({})", shape_str(shape), x.numel(),
                 shape_str(x.shape()));
        shape[infer] = x.numel() / known;
    } else if (known != x.numel()) {
        fail("reshape: cannot view {} ({} elements) as {} ({} elements)", shape_str(x.shape()), x.numel(),
             shape_str(shape), known);
    }
    Tensor y(std::make_shared<TensorImpl>(x.storage(), shape, x.dtype()));
    return record("reshape", y, {x}, [xs = x.shape()](const Tensor& dy, Grads& g) { g[0] = reshape(dy, xs); });
}

Tensor flatten(const Tensor& x) { return reshape(x, {-1}); }

// permute:  y[i_order[0], ...] = x[...]; y.shape[k] = x.shape[order[k]]
//   dx = permute(dy, inverse(order))
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& order_in) {
    check_defined("permute", x);
    const std::int64_t rank = x.dim();
    if (static_cast<std::int64_t>(order_in.size()) != rank)
        fail("permute: order [{}] has {} entries for a tensor {} of rank {}", fmt::join(order_in, ", "), order_in.size(),
             shape_str(x.shape()), rank);
    std::vector<std::int64_t> order, inverse(rank);
    for (auto d : order_in) order.push_back(wrap_dim("permute", d, rank));
    std::vector<std::int64_t> check = order;
    std::sort(check.begin(), check.end());
    for (std::int64_t i = 0; i < rank; ++i)
        if (check[i] != i) fail("permute: [{}] is not a permutation of the {} dims", fmt::join(order_in, ", "), rank);
    for (std::int64_t i = 0; i < rank; ++i) inverse[order[i]] = i;

    Shape out_shape(rank);
    std::vector<std::int64_t> in_strides(rank), strides(rank);
    std::int64_t s = 1;
    for (std::int64_t i = rank - 1; i >= 0; --i) {
        in_strides[i] = s;
        s *= x.shape()[i];
    }
    for (std::int64_t i = 0; i < rank; ++i) {
        out_shape[i] = x.shape()[order[i]];
        strides[i] = in_strides[order[i]];  // input stride for each output dim
    }
    Tensor y = Tensor::empty(out_shape, x.dtype());
    const std::size_t es = elem(x);
    const char* src = bytes(x);
    char* dst = bytes(y);
    const std::int64_t n = x.numel();
    // When the last dim stays last (the head split and merge of attention), its rows move whole:
    // one memcpy per row of `run` elements instead of one per element.
    const bool rows = rank > 0 && order[rank - 1] == rank - 1;
    const std::int64_t run = rows ? x.shape()[rank - 1] : 1;
    const std::int64_t walk = rows ? rank - 1 : rank;  // the dims the counter walks
    if (n > 0) {
        std::vector<std::int64_t> counter(rank, 0);
        std::int64_t off = 0;
        for (std::int64_t o = 0; o < n; o += run) {
            std::memcpy(dst + o * es, src + off * es, es * static_cast<std::size_t>(run));
            for (std::int64_t d = walk - 1; d >= 0; --d) {
                off += strides[d];
                if (++counter[d] < out_shape[d]) break;
                off -= strides[d] * out_shape[d];
                counter[d] = 0;
            }
        }
    }
    return record("permute", y, {x}, [inverse](const Tensor& dy, Grads& g) { g[0] = permute(dy, inverse); });
}

// transpose:  swap dims d0 and d1 (a permute)
Tensor transpose(const Tensor& x, std::int64_t d0, std::int64_t d1) {
    check_defined("transpose", x);
    if (x.dim() == 0) {  // a 0-d tensor: dims 0 and -1 name its one implicit dim; nothing moves
        wrap_dim("transpose", d0, 0);
        wrap_dim("transpose", d1, 0);
        return permute(x, {});
    }
    std::vector<std::int64_t> order(x.dim());
    std::iota(order.begin(), order.end(), 0);
    std::swap(order[wrap_dim("transpose", d0, x.dim())], order[wrap_dim("transpose", d1, x.dim())]);
    return permute(x, order);
}

Tensor unsqueeze(const Tensor& x, std::int64_t dim) {
    check_defined("unsqueeze", x);
    const std::int64_t rank = x.dim() + 1;
    if (dim < -rank || dim >= rank)
        fail<IndexError>("unsqueeze: dim {} out of range for a result of rank {} (input {})", dim, rank,
                         shape_str(x.shape()));
    if (dim < 0) dim += rank;
    Shape s = x.shape();
    s.insert(s.begin() + dim, 1);
    return reshape(x, s);
}

Tensor squeeze(const Tensor& x, std::int64_t dim) {
    check_defined("squeeze", x);
    dim = wrap_dim("squeeze", dim, x.dim());
    if (x.dim() == 0) return reshape(x, {});  // a 0-d tensor stays 0-d
    if (x.shape()[dim] != 1) fail("squeeze: dim {} of {} has size {}, not 1", dim, shape_str(x.shape()), x.shape()[dim]);
    Shape s = x.shape();
    s.erase(s.begin() + dim);
    return reshape(x, s);
}

namespace {
// Copy the [outer, length, inner] block starting at `start` along the middle dim between two
// tensors viewed as [outer, n_src, inner] and [outer, n_dst, inner].
void copy_block(const Tensor& src, std::int64_t src_n, std::int64_t src_start, const Tensor& dst, std::int64_t dst_n,
                std::int64_t dst_start, std::int64_t outer, std::int64_t length, std::int64_t inner) {
    const std::size_t es = elem(src);
    const std::size_t row = static_cast<std::size_t>(length * inner) * es;
    for (std::int64_t o = 0; o < outer; ++o)
        std::memcpy(bytes(dst) + ((o * dst_n + dst_start) * inner) * es, bytes(src) + ((o * src_n + src_start) * inner) * es,
                    row);
}
}  // namespace

// narrow:  y = x[..., start:start+length, ...] along dim
//   dx = zeros with dy written into the same slice (with fast paths on, given to the engine as a
//   slice gradient, which adds dy into x's gradient in place: slicing T steps costs O(T) in
//   backward, not O(T²))
Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length) {
    check_defined("narrow", x);
    if (x.dim() == 0) fail("narrow: cannot narrow a 0-d tensor (shape [])");
    dim = wrap_dim("narrow", dim, x.dim());
    const std::int64_t size = x.shape()[dim];
    if (start < 0 || length < 0 || start + length > size)
        fail<IndexError>("narrow: range [{}, {}) out of bounds for dim {} of size {} (shape {})", start, start + length,
                         dim, size, shape_str(x.shape()));
    const auto v = kernels::dim_view(x.shape(), dim);
    Shape out_shape = x.shape();
    out_shape[dim] = length;
    Tensor y = Tensor::empty(out_shape, x.dtype());
    copy_block(x, v.n, start, y, length, 0, v.outer, length, v.inner);
    return record("narrow", y, {x}, [dim, start, shape = x.shape()](const Tensor& dy, Grads& g) {
        if (FastGrads* fast = g.fast()) {
            fast->set_slice(0, dy, dim, start);  // added in place into x's gradient (core/grad_protocols.h)
            return;
        }
        Tensor dx = zeros(shape, {.dtype = dy.dtype()});  // the plain path: dy in its slice, zeros elsewhere
        const auto v = kernels::dim_view(shape, dim);
        copy_block(dy, dy.shape()[dim], 0, dx, v.n, start, v.outer, dy.shape()[dim], v.inner);
        g[0] = dx;
    });
}

Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index) {
    check_defined("select", x);
    if (x.dim() == 0) fail("select: cannot select from a 0-d tensor (shape [])");
    dim = wrap_dim("select", dim, x.dim());
    const std::int64_t size = x.shape()[dim];
    if (index < -size || index >= size)
        fail<IndexError>("select: index {} out of range for dim {} of size {} (shape {})", index, dim, size,
                         shape_str(x.shape()));
    if (index < 0) index += size;
    return squeeze(narrow(x, dim, index, 1), dim);
}

// cat:  y = [x_0; x_1; ...] along dim     dx_i = the slice of dy that came from x_i
Tensor cat(const std::vector<Tensor>& xs, std::int64_t dim) {
    if (xs.empty()) fail("cat: no tensors given");
    for (auto& x : xs) check_defined("cat", x);
    const Tensor& first = xs[0];
    if (first.dim() == 0) fail("cat: tensor 0 is 0-d (shape []) and has no dim to join along; use stack");
    dim = wrap_dim("cat", dim, first.dim());
    Shape out_shape = first.shape();
    std::int64_t total = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
        const Tensor& x = xs[i];
        check_same_dtype("cat", first, x);
        bool ok = x.dim() == first.dim();
        for (std::int64_t d = 0; ok && d < x.dim(); ++d)
            if (d != dim && x.shape()[d] != first.shape()[d]) ok = false;
        if (!ok)
            fail("cat: tensor {} has shape {} but tensor 0 has {}; all dims but {} must match", i, shape_str(x.shape()),
                 shape_str(first.shape()), dim);
        total += x.shape()[dim];
    }
    out_shape[dim] = total;
    Tensor y = Tensor::empty(out_shape, first.dtype());
    const auto v = kernels::dim_view(out_shape, dim);
    std::vector<std::int64_t> sizes;
    std::int64_t offset = 0;
    for (auto& x : xs) {
        const std::int64_t n = x.shape()[dim];
        copy_block(x, n, 0, y, total, offset, v.outer, n, v.inner);
        sizes.push_back(n);
        offset += n;
    }
    return record("cat", y, xs, [dim, sizes](const Tensor& dy, Grads& g) {
        std::int64_t off = 0;
        for (std::size_t i = 0; i < sizes.size(); ++i) {
            if (g.needs(i)) g[i] = narrow(dy, dim, off, sizes[i]);
            off += sizes[i];
        }
    });
}

Tensor stack(const std::vector<Tensor>& xs, std::int64_t dim) {
    if (xs.empty()) fail("stack: no tensors given");
    for (auto& x : xs) check_defined("stack", x);
    const std::int64_t rank = xs[0].dim() + 1;
    if (dim < -rank || dim >= rank)
        fail<IndexError>("stack: dim {} out of range for a result of rank {} (inputs {})", dim, rank,
                         shape_str(xs[0].shape()));
    for (std::size_t i = 1; i < xs.size(); ++i)
        if (xs[i].shape() != xs[0].shape())
            fail("stack: tensor {} has shape {} but tensor 0 has {}", i, shape_str(xs[i].shape()), shape_str(xs[0].shape()));
    std::vector<Tensor> us;
    us.reserve(xs.size());
    for (auto& x : xs) us.push_back(unsqueeze(x, dim));
    return cat(us, dim);
}

std::vector<Tensor> split(const Tensor& x, std::int64_t size, std::int64_t dim) {
    check_defined("split", x);
    if (size <= 0) fail("split: size must be positive, got {}", size);
    if (x.dim() == 0) fail("split: cannot split a 0-d tensor (shape [])");
    dim = wrap_dim("split", dim, x.dim());
    std::vector<Tensor> out;
    for (std::int64_t s = 0; s < x.shape()[dim]; s += size) out.push_back(narrow(x, dim, s, std::min(size, x.shape()[dim] - s)));
    return out;
}

std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim) {
    check_defined("chunk", x);
    if (chunks <= 0) fail("chunk: the number of chunks must be positive, got {}", chunks);
    if (x.dim() == 0) fail("chunk: cannot chunk a 0-d tensor (shape [])");
    dim = wrap_dim("chunk", dim, x.dim());
    const std::int64_t size = (x.shape()[dim] + chunks - 1) / chunks;
    return split(x, std::max<std::int64_t>(size, 1), dim);
}

// expand:  y = x repeated along its size-1 (or missing leading) dims     dx = sum_to(dy, x.shape)
Tensor expand(const Tensor& x, const Shape& shape) {
    check_defined("expand", x);
    if (shape.size() < x.shape().size())
        fail("expand: cannot expand {} to the smaller rank {}", shape_str(x.shape()), shape_str(shape));
    const std::size_t off = shape.size() - x.shape().size();
    for (std::size_t i = 0; i < x.shape().size(); ++i)
        if (x.shape()[i] != 1 && x.shape()[i] != shape[off + i])
            fail("expand: cannot expand {} to {} (dim {}: {} is not 1 and differs from {})", shape_str(x.shape()),
                 shape_str(shape), i, x.shape()[i], shape[off + i]);
    if (x.shape() == shape) return x;
    Tensor y = Tensor::empty(shape, x.dtype());
    const std::size_t es = elem(x);
    const char* src = bytes(x);
    char* dst = bytes(y);
    kernels::for_each_broadcast(shape, x.shape(), Shape{},
                                [&](std::int64_t o, std::int64_t i, std::int64_t) { std::memcpy(dst + o * es, src + i * es, es); });
    return record("expand", y, {x}, [xs = x.shape()](const Tensor& dy, Grads& g) { g[0] = sum_to(dy, xs); });
}

}  // namespace seqgrad
