// A caching allocator for tensor storage. Training repeats the same shapes every step, so freed
// blocks are kept in per-size free lists and handed out again instead of going back to malloc:
// after the first step, a training step allocates no new memory (see bench/RESULTS.md).
// Blocks are 64-byte aligned so BLAS and vectorised loops get aligned rows.
#pragma once
#include <cstddef>

namespace seqgrad::memory {

void* allocate(std::size_t nbytes);
void release(void* ptr, std::size_t nbytes);

struct Stats {
    std::size_t bytes_in_use = 0;     // handed out and not yet released
    std::size_t bytes_cached = 0;     // released and kept for reuse
    std::size_t peak_bytes_in_use = 0;
    std::size_t system_allocations = 0;  // how often the allocator went to the system
    std::size_t cache_hits = 0;
};
Stats stats();
// Return every cached block to the system.
void empty_cache();
// Switch caching off (every release frees); used to check that the cache changes nothing.
void set_caching(bool enabled);

}  // namespace seqgrad::memory
