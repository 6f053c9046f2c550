// What the toy-task generators share (models/data/toy_dates.cpp, toy_sequences.cpp, toy_enfr.cpp):
// the random source, small text helpers, and the loop that draws distinct pairs. Internal to
// models/data/; the public interface is models/data/toy_tasks.h.
#pragma once
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/ranges.h>

#include "core/error.h"
#include "models/data/corpus.h"
#include "models/data/toy_tasks.h"

namespace seqgrad::data::toy {

using Rng = SplitMix64;

template <typename T>
const T& pick(const std::vector<T>& v, Rng& rng) {
    return v[static_cast<std::size_t>(rng.below(v.size()))];
}

inline bool chance(Rng& rng, double p) { return rng.uniform() < p; }

inline std::vector<std::string> split_spaces(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

inline std::string join(const std::vector<std::string>& tokens) { return fmt::format("{}", fmt::join(tokens, " ")); }

// Draws until `n` distinct sources; `draw` returns one (source, target) pair. Gives up with an
// error when the task clearly cannot produce that many (e.g. copy with max_len 1 and n = 100).
template <typename Draw>
std::vector<TextPair> distinct_pairs(const std::string& task, std::size_t n, Draw draw) {
    std::vector<TextPair> out;
    out.reserve(n);
    std::map<std::string, std::string> seen;  // source -> target; also checks the task is a function
    const std::size_t max_attempts = 50 * n + 1000;
    for (std::size_t attempt = 0; out.size() < n; ++attempt) {
        if (attempt == max_attempts)
            fail<Error>("generate_task {}: only {} distinct pairs after {} draws, {} asked (widen the options or "
                        "ask for fewer)",
                        task, out.size(), attempt, n);
        std::optional<TextPair> p = draw();
        if (!p) continue;
        auto [it, inserted] = seen.emplace(p->first, p->second);
        if (!inserted) {
            if (it->second != p->second)
                fail<Error>("generate_task {}: source \"{}\" has two targets \"{}\" and \"{}\" (a grammar bug)", task,
                            p->first, it->second, p->second);
            continue;
        }
        out.push_back(std::move(*p));
    }
    return out;
}

// The generators, one file each.
std::vector<TextPair> generate_dates(std::uint64_t seed, std::size_t n);
std::vector<TextPair> generate_sequences(const std::string& task, std::uint64_t seed, std::size_t n,
                                         const ToyTaskOptions& options);
std::vector<TextPair> generate_enfr(std::uint64_t seed, std::size_t n, const ToyTaskOptions& options);

}  // namespace seqgrad::data::toy
