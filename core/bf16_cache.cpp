// The bf16 weight copies (core/bf16_cache.h): one map from storage id to (version, copy), one mutex.
#include "core/bf16_cache.h"

#include <mutex>
#include <unordered_map>
#include <vector>

namespace seqgrad::bf16 {
namespace {
struct Entry {
    std::uint64_t version = 0;
    std::vector<blas::bf16_t> values;
};
struct Cache {
    std::mutex mutex;
    std::unordered_map<std::uint64_t, Entry> entries;
    CacheStats stats;
};
Cache& cache() {
    static Cache* c = new Cache();  // never destroyed: storages may die during static destruction
    return *c;
}
}  // namespace

const blas::bf16_t* weight_copy(const Tensor& t) {
    if (t.dtype() != DType::Float32) return nullptr;  // only float32 products are rounded
    Storage& s = *t.storage();
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    auto [it, fresh] = c.entries.try_emplace(s.id);
    Entry& e = it->second;
    const auto n = static_cast<std::size_t>(t.numel());
    if (fresh || e.version != s.version || e.values.size() != n) {
        e.values.resize(n);
        blas::to_bf16(t.data<float>(), e.values.data(), static_cast<std::int64_t>(n));
        e.version = s.version;
        s.has_derived_copy = true;
        ++c.stats.conversions;
    } else {
        ++c.stats.hits;
    }
    return e.values.data();
}

void forget(std::uint64_t storage_id) {
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    c.entries.erase(storage_id);
}

CacheStats cache_stats() {
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    CacheStats s = c.stats;
    s.entries = c.entries.size();
    return s;
}

}  // namespace seqgrad::bf16
