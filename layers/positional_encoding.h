// Sinusoidal positional encoding (Vaswani et al. 2017): a fixed table added to the embeddings so
// that a model with no recurrence can tell positions apart.
//   PE[pos, 2i]     = sin(pos / 10000^(2i / d))
//   PE[pos, 2i + 1] = cos(pos / 10000^(2i / d))
// Each pair of columns is a sine/cosine at one frequency, from 1 (column 0) down to ~1/10000, so
// PE[pos + k] is a rotation of PE[pos] for every offset k. The table is a buffer (saved with the
// weights, converted by to(), never trained), computed once for positions 0 .. max_len - 1.
#pragma once
#include "layers/module.h"

namespace seqgrad::nn {

struct PositionalEncodingOptions {
    std::int64_t d_model = 0;      // d, the embedding size
    std::int64_t max_len = 5000;   // the longest sequence forward() accepts
    double dropout = 0.0;          // applied to x + PE in training mode, as in the paper
    DType dtype = DType::Float32;
    Generator* generator = nullptr;  // for dropout; nullptr: the default generator
};

class PositionalEncoding : public Module {
public:
    explicit PositionalEncoding(const PositionalEncodingOptions& options);
    std::string type_name() const override { return "PositionalEncoding"; }

    // x [B, T, d] -> dropout(x + PE[offset : offset + T]) [B, T, d], offset + T <= max_len. offset is the
    // position of x's first row: 0 for a whole sentence, t for step t of incremental decoding.
    Tensor forward(const Tensor& x, std::int64_t offset = 0) const;
    Tensor operator()(const Tensor& x, std::int64_t offset = 0) const { return forward(x, offset); }

    Tensor pe;  // [max_len, d], the buffer "pe"
    const PositionalEncodingOptions& options() const { return options_; }

private:
    PositionalEncodingOptions options_;
};

}  // namespace seqgrad::nn
