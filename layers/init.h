// Parameter initialisation, drawn from a seeded Generator (nullptr: the default generator), as
// PyTorch's layers do it by default (docs/layers.md lists which layer uses which).
#pragma once
#include "core/random.h"
#include "core/tensor.h"

namespace seqgrad::nn::init {

// U(-bound, bound): Linear, RNN/GRU/LSTM (bound = 1/sqrt(fan_in or hidden)).
void uniform_(Tensor& t, double lo, double hi, Generator* gen = nullptr);
// N(mean, std^2): Embedding (N(0, 1)).
void normal_(Tensor& t, double mean = 0.0, double stddev = 1.0, Generator* gen = nullptr);
// Glorot/Xavier uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) for a [out, in] weight.
void xavier_uniform_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);

}  // namespace seqgrad::nn::init
