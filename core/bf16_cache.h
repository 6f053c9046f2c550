// bfloat16 copies of weights for the bf16 products (core/blas.h, Precision::BF16): a weight is read
// by many products per step (forward, the backward's dx, every time step of a recurrent layer) but
// changes only when the optimizer steps, so its bf16 copy is made once per change, not per use.
// A copy is keyed on the storage's id and version (core/tensor.h Storage): fill_, copy_, the
// optimizers' step() and mark_modified() raise the version, so the next use makes a fresh copy; the
// storage's destructor drops it.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/blas.h"
#include "core/tensor.h"

namespace seqgrad::bf16 {

// The bf16 copy of a float32 tensor's values (numel() of them, same layout), made now if the values
// changed since the last call (null for other dtypes). The pointer stays valid until the values change
// or the storage dies.
const blas::bf16_t* weight_copy(const Tensor& t);
// Drops the copy of a storage (called by ~Storage).
void forget(std::uint64_t storage_id);

struct CacheStats {
    std::size_t entries = 0;      // copies held now
    std::size_t conversions = 0;  // copies made (first use or after a change)
    std::size_t hits = 0;         // uses served by an existing copy
};
CacheStats cache_stats();

}  // namespace seqgrad::bf16
