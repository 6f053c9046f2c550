// Sinusoidal positional encoding: the table is filled once in the constructor; forward() adds its
// first T rows to the input (a broadcast add, so the gradient passes to x unchanged).
#include "layers/positional_encoding.h"

#include <cmath>

#include "core/ops.h"

namespace seqgrad::nn {

PositionalEncoding::PositionalEncoding(const PositionalEncodingOptions& o) : options_(o) {
    if (o.d_model <= 0 || o.max_len <= 0)
        fail("PositionalEncoding: d_model and max_len must be positive, got d_model={}, max_len={}", o.d_model,
             o.max_len);
    if (!(o.dropout >= 0.0 && o.dropout < 1.0)) fail("PositionalEncoding: dropout must be in [0, 1), got {}", o.dropout);
    const std::int64_t d = o.d_model;
    std::vector<double> table(static_cast<std::size_t>(o.max_len * d));
    for (std::int64_t pos = 0; pos < o.max_len; ++pos)
        for (std::int64_t j = 0; j < d; ++j) {
            const std::int64_t i = j / 2;  // columns 2i and 2i + 1 share a frequency
            const double angle = static_cast<double>(pos) / std::pow(10000.0, static_cast<double>(2 * i) / double(d));
            table[pos * d + j] = j % 2 == 0 ? std::sin(angle) : std::cos(angle);
        }
    pe = register_buffer("pe", Tensor::from(table, {o.max_len, d}, {.dtype = o.dtype}));
}

Tensor PositionalEncoding::forward(const Tensor& x, std::int64_t offset) const {
    check_defined("PositionalEncoding", x);
    if (x.dim() != 3 || x.size(2) != options_.d_model)
        fail("PositionalEncoding: input must be [B, T, d] with d = {}, got {} (table {})", options_.d_model,
             shape_str(x.shape()), shape_str(pe.shape()));
    const std::int64_t T = x.size(1);
    if (offset == 0 && T > options_.max_len)
        fail("PositionalEncoding: input {} has {} positions but max_len is {}", shape_str(x.shape()), T,
             options_.max_len);
    if (offset < 0 || offset + T > options_.max_len)
        fail("PositionalEncoding: positions {}..{} of input {} are outside the table's 0..{} (max_len {})", offset,
             offset + T - 1, shape_str(x.shape()), options_.max_len - 1, options_.max_len);
    Tensor y = x + narrow(pe, 0, offset, T);  // [B, T, d] + [T, d]
    return dropout(y, options_.dropout, is_training(), options_.generator);
}

}  // namespace seqgrad::nn
