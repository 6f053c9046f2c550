// The toy tasks' registry: their names, the dispatch to each generator (models/data/toy_dates.cpp,
// toy_sequences.cpp, toy_enfr.cpp), the table of shipped corpora and data_dir(); see
// models/data/toy_tasks.h. Every random choice goes through SplitMix64 in a fixed order, so a seed
// always produces the same file.
#include "models/data/toy_tasks.h"

#include <cstdlib>
#include <filesystem>

#include <fmt/ranges.h>

#include "core/error.h"
#include "models/data/toy_task_util.h"

namespace seqgrad::data {

// ---- the public entry points -----------------------------------------------------------------------

const std::vector<std::string>& toy_task_names() {
    static const std::vector<std::string> names = {"dates", "enfr", "reverse", "copy"};
    return names;
}

std::vector<TextPair> generate_task(const std::string& name, std::uint64_t seed, std::size_t n,
                                    const ToyTaskOptions& options) {
    if (name == "dates") return toy::generate_dates(seed, n);
    if (name == "enfr") return toy::generate_enfr(seed, n, options);
    if (name == "reverse" || name == "copy") return toy::generate_sequences(name, seed, n, options);
    fail<Error>("generate_task: unknown task \"{}\": valid tasks are {}", name, fmt::join(toy_task_names(), ", "));
}

std::string to_tsv(const std::vector<TextPair>& pairs) {
    std::string out;
    for (const auto& [src, tgt] : pairs) {
        out += src;
        out += '\t';
        out += tgt;
        out += '\n';
    }
    return out;
}

const std::vector<ShippedCorpus>& shipped_corpora() {
    static const std::vector<ShippedCorpus> corpora = {
        {.task = "dates", .file = "dates.tsv", .tokenizer = "char", .seed = 19980509, .n = 20000, .options = {}},
        {.task = "enfr", .file = "enfr.tsv", .tokenizer = "word", .seed = 1789, .n = 12000, .options = {}},
        {.task = "reverse", .file = "reverse.tsv", .tokenizer = "word", .seed = 4242, .n = 18000, .options = {}},
        {.task = "copy", .file = "copy.tsv", .tokenizer = "word", .seed = 2323, .n = 18000, .options = {}},
    };
    return corpora;
}

const ShippedCorpus& shipped_corpus(std::string_view task) {
    for (const auto& c : shipped_corpora())
        if (c.task == task) return c;
    fail<Error>("shipped_corpus: no shipped corpus for task \"{}\": valid tasks are {}", task,
                fmt::join(toy_task_names(), ", "));
}

std::string generate_shipped(const ShippedCorpus& c) { return to_tsv(generate_task(c.task, c.seed, c.n, c.options)); }

std::string data_dir() {
    if (const char* env = std::getenv("SEQGRAD_DATA_DIR"); env && *env) return env;
#ifdef SEQGRAD_INSTALLED_DATA
    // An installed tree, <prefix>/bin/seqgrad beside <prefix>/share/seqgrad/data: found from where
    // the running program is, so the tree still works after it is moved.
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const std::filesystem::path installed = (exe.parent_path() / SEQGRAD_INSTALLED_DATA).lexically_normal();
        if (std::filesystem::is_directory(installed, ec)) return installed.string();
    }
#endif
#ifdef SEQGRAD_DATA_DIR
    return SEQGRAD_DATA_DIR;
#else
    return "data";
#endif
}

std::string data_path(std::string_view file) {
    const std::string dir = data_dir();
    const std::filesystem::path p = std::filesystem::path(dir) / file;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec))
        fail<Error>("data_path: {} not found in the data folder {} (set SEQGRAD_DATA_DIR to the folder holding the "
                    "shipped corpora, e.g. <repo>/data)",
                    file, dir);
    return p.string();
}

}  // namespace seqgrad::data
