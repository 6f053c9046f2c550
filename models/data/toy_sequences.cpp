// The reverse and copy tasks (see models/data/toy_tasks.h): sequences of symbols, reversed or copied.
#include <algorithm>
#include <set>

#include "models/data/toy_task_util.h"

namespace seqgrad::data::toy {

// ---- reverse / copy -----------------------------------------------------------------------------

std::vector<TextPair> generate_sequences(const std::string& task, std::uint64_t seed, std::size_t n,
                                         const ToyTaskOptions& o) {
    if (o.min_len == 0 || o.min_len > o.max_len)
        fail<Error>("generate_task {}: need 1 <= min_len <= max_len, got min_len {} max_len {}", task, o.min_len,
                    o.max_len);
    if (o.alphabet.empty()) fail<Error>("generate_task {}: the alphabet is empty", task);
    for (char c : o.alphabet)
        if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 0x7F || c == '\'' ||
            std::string_view(".!?,;:\"()").find(c) != std::string_view::npos)
            fail<Error>("generate_task {}: alphabet symbol 0x{:02X} is not a printable ASCII word character", task,
                        static_cast<unsigned char>(c));
    if (std::set<char>(o.alphabet.begin(), o.alphabet.end()).size() != o.alphabet.size())
        fail<Error>("generate_task {}: the alphabet \"{}\" repeats a symbol", task, o.alphabet);
    Rng rng(seed);
    const bool reverse = task == "reverse";
    return distinct_pairs(task, n, [&]() -> std::optional<TextPair> {
        const std::size_t len = o.min_len + static_cast<std::size_t>(rng.below(o.max_len - o.min_len + 1));
        std::vector<std::string> symbols(len);
        for (auto& s : symbols) s = std::string(1, o.alphabet[static_cast<std::size_t>(rng.below(o.alphabet.size()))]);
        std::vector<std::string> target = symbols;
        if (reverse) std::reverse(target.begin(), target.end());
        return TextPair{join(symbols), join(target)};
    });
}

}  // namespace seqgrad::data::toy
