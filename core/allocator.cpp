// Caching allocator: exact-size free lists (sizes rounded up to 64 bytes, then to a power of two
// above 4 KiB so that slightly different sizes share blocks). Guarded by one mutex: allocation is
// rare after warm-up, so contention does not matter.
#include "core/allocator.h"

#include <bit>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

// Under AddressSanitizer a cached block would hide bugs: a use after free reads a block that sits in a
// free list, and a write past a tensor's end lands in the rounding slack. So blocks in the cache are
// poisoned, and a handed-out block is addressable only for the bytes asked for.
#if defined(__SANITIZE_ADDRESS__)
#define SEQGRAD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SEQGRAD_ASAN 1
#endif
#endif
#ifdef SEQGRAD_ASAN
#include <sanitizer/asan_interface.h>
#define SEQGRAD_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define SEQGRAD_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define SEQGRAD_POISON(p, n) ((void)(p), (void)(n))
#define SEQGRAD_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace seqgrad::memory {
namespace {

// Makes [ptr, ptr + nbytes) of a block of `size` bytes addressable and the slack after it not.
void expose(void* ptr, std::size_t nbytes, std::size_t size) {
    SEQGRAD_UNPOISON(ptr, nbytes);
    SEQGRAD_POISON(static_cast<char*>(ptr) + nbytes, size - nbytes);
}

struct Pool {
    std::mutex mutex;
    std::unordered_map<std::size_t, std::vector<void*>> free_lists;
    Stats stats;
    bool caching = true;
    ~Pool() {
        for (auto& [size, list] : free_lists)
            for (void* p : list) std::free(p);
    }
};

Pool& pool() {
    static Pool* p = new Pool();  // never destroyed: tensors may outlive static destruction order
    return *p;
}

std::size_t round_size(std::size_t n) {
    if (n == 0) n = 1;
    n = (n + 63) & ~std::size_t{63};
    if (n > 4096) n = std::bit_ceil(n);
    return n;
}

}  // namespace

void* allocate(std::size_t nbytes) {
    std::size_t size = round_size(nbytes);
    Pool& p = pool();
    {
        std::lock_guard lock(p.mutex);
        p.stats.bytes_in_use += size;
        if (p.stats.bytes_in_use > p.stats.peak_bytes_in_use) p.stats.peak_bytes_in_use = p.stats.bytes_in_use;
        auto it = p.free_lists.find(size);
        if (it != p.free_lists.end() && !it->second.empty()) {
            void* ptr = it->second.back();
            it->second.pop_back();
            p.stats.bytes_cached -= size;
            ++p.stats.cache_hits;
            expose(ptr, nbytes, size);
            return ptr;
        }
        ++p.stats.system_allocations;
    }
    void* ptr = std::aligned_alloc(64, size);
    if (!ptr) throw std::bad_alloc();
    expose(ptr, nbytes, size);
    return ptr;
}

void release(void* ptr, std::size_t nbytes) {
    if (!ptr) return;
    std::size_t size = round_size(nbytes);
    Pool& p = pool();
    std::lock_guard lock(p.mutex);
    p.stats.bytes_in_use -= size;
    if (!p.caching) {
        SEQGRAD_UNPOISON(ptr, size);
        std::free(ptr);
        return;
    }
    SEQGRAD_POISON(ptr, size);
    p.free_lists[size].push_back(ptr);
    p.stats.bytes_cached += size;
}

Stats stats() {
    Pool& p = pool();
    std::lock_guard lock(p.mutex);
    return p.stats;
}

void empty_cache() {
    Pool& p = pool();
    std::lock_guard lock(p.mutex);
    for (auto& [size, list] : p.free_lists)
        for (void* q : list) {
            SEQGRAD_UNPOISON(q, size);
            std::free(q);
        }
    p.free_lists.clear();
    p.stats.bytes_cached = 0;
}

void set_caching(bool enabled) {
    {
        std::lock_guard lock(pool().mutex);
        pool().caching = enabled;
    }
    if (!enabled) empty_cache();
}

}  // namespace seqgrad::memory
