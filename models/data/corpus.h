// Parallel corpora: reading tab-separated sentence pairs, and a seeded train/valid/test split.
//
// A corpus file has one pair per line, `source<TAB>target[<TAB>anything else]`, as the Tatoeba
// exports the PyTorch seq2seq tutorial reads (the third column there is the attribution). The reader
//   - strips a UTF-8 byte-order mark at the start and a CR before each LF (Windows files);
//   - rejects invalid UTF-8 always, as "FILE:LINE: invalid UTF-8 at byte N: reason";
//   - skips blank lines and malformed ones (no tab, an empty side, a side with no tokens), counting
//     them and listing the first few with their line numbers in CorpusReport; with strict = true the
//     first one is a seqgrad::Error "FILE:LINE: problem" instead;
//   - tokenizes each side with the tokenizer given for it (after `reverse`, so the source tokenizer
//     always tokenizes the source), then drops pairs longer than max_len tokens on either side and,
//     when prefixes are given, pairs whose English side does not start with one of them;
//   - fails with a clear error when no pair survives.
//
// The prefix filter is the tutorial's: it looks at the file's FIRST column (English in Tatoeba)
// whatever `reverse` says, as the tutorial filters on English in both directions. The tutorial wrote
// its prefixes ("i m ", "he s ", ...) for a normalisation that turns apostrophes into spaces, so the
// first column is matched in that form: WordTokenizer tokens joined by spaces, apostrophes replaced by
// spaces ("I'm cold." -> "i m cold .").
//
// The split shuffles 0..n-1 with our own seeded Fisher-Yates over SplitMix64 (std::shuffle and the
// std distributions differ between standard libraries), so a seed gives the same split everywhere;
// it serialises to JSON so a model folder records exactly which pairs it was trained on.
#pragma once
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "models/data/tokenizer.h"

namespace seqgrad::data {

// ---- a small deterministic RNG for data work --------------------------------------------------

// SplitMix64 (Steele, Lea, Flood 2014): one 64-bit state, full period, passes BigCrush; the same
// stream on every platform. Used for splits, batch shuffling and the toy-task generators.
class SplitMix64 {
public:
    explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next();
    // Uniform integer in [0, n) without modulo bias (rejection sampling); n must be > 0.
    std::uint64_t below(std::uint64_t n);
    // Uniform in [0, 1) with 53 random bits.
    double uniform();

private:
    std::uint64_t state_;
};

// Mixes two values into one seed (for "seed of epoch k" and the like); a different a or b gives an
// unrelated stream.
std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b);

// Fisher-Yates: for i = n-1 .. 1, swap v[i] with v[j], j uniform in [0, i].
template <typename T>
void shuffle(std::vector<T>& v, SplitMix64& rng) {
    for (std::size_t i = v.size(); i > 1; --i) {
        const std::size_t j = static_cast<std::size_t>(rng.below(i));
        std::swap(v[i - 1], v[j]);
    }
}

// ---- reading ------------------------------------------------------------------------------------

struct CorpusOptions {
    bool reverse = false;                      // swap the columns: translate target -> source
    std::size_t max_len = 0;                   // 0 = no limit; else keep pairs with <= max_len tokens per side
    std::vector<std::string> source_prefixes;  // empty = no filter; see eng_prefixes()
    bool strict = false;                       // a blank or malformed line is an error, not a skip
};

// The PyTorch tutorial's eng_prefixes: "i am ", "i m ", "he is", "he s ", "she is", "she s ",
// "you are", "you re ", "we are", "we re ", "they are", "they re ".
const std::vector<std::string>& eng_prefixes();

struct SentencePair {
    std::string source_text, target_text;      // the two sides as read (trimmed), after `reverse`
    std::vector<std::string> source, target;   // their tokens
    std::size_t line = 0;                      // 1-based line number in the file
};

struct SkippedLine {
    std::size_t line = 0;
    std::string reason;  // "blank line", "no tab", "empty source", ...
};

struct CorpusReport {
    static constexpr std::size_t max_listed = 10;
    std::string origin;             // file path or the name given for a string
    std::size_t lines = 0;          // lines read
    std::size_t kept = 0;           // pairs returned
    std::size_t blank = 0;          // blank lines skipped
    std::size_t malformed = 0;      // malformed lines skipped
    std::size_t too_long = 0;       // pairs dropped by max_len
    std::size_t prefix_filtered = 0;  // pairs dropped by the prefix filter
    std::vector<SkippedLine> skipped;  // the first max_listed blank/malformed lines
    // One line: "data/enfr.tsv: 12000 pairs from 12000 lines (0 blank, 0 malformed, ...)".
    std::string summary() const;
};

struct Corpus {
    std::vector<SentencePair> pairs;
    CorpusReport report;
};

Corpus read_corpus_file(const std::string& path, const Tokenizer& source_tokenizer, const Tokenizer& target_tokenizer,
                        const CorpusOptions& options = {});
// `origin` stands for the file name in messages.
Corpus read_corpus_string(std::string_view text, const Tokenizer& source_tokenizer,
                          const Tokenizer& target_tokenizer, const CorpusOptions& options = {},
                          std::string_view origin = "<string>");

// Reads the whole stream, then as read_corpus_string.
Corpus read_corpus_stream(std::istream& in, const Tokenizer& source_tokenizer, const Tokenizer& target_tokenizer,
                          const CorpusOptions& options = {}, std::string_view origin = "<stream>");

// The form the prefix filter compares against (see above): "I'm cold." -> "i m cold .".
std::string prefix_form(std::string_view text);

// ---- splitting ----------------------------------------------------------------------------------

struct Split {
    std::size_t n = 0;
    std::uint64_t seed = 0;
    double train_fraction = 0.8, valid_fraction = 0.1;
    std::vector<std::size_t> train, valid, test;  // each sorted ascending; together a partition of 0..n-1
};

// Shuffles 0..n-1 with `seed`, then takes round(n * train) indices for training, round(n * valid)
// for validation and the rest for testing. Fractions must be in [0, 1] with train + valid <= 1.
Split split_corpus(std::size_t n, std::uint64_t seed, double train = 0.8, double valid = 0.1);
// The same for a corpus's pairs (indices are positions in `pairs`).
Split split_corpus(const std::vector<SentencePair>& pairs, std::uint64_t seed, double train = 0.8,
                   double valid = 0.1);

// {"format": "seqgrad-split", "version": 1, "n": ..., "seed": ..., "train_fraction": ...,
//  "valid_fraction": ..., "train": [...], "valid": [...], "test": [...]}
std::string split_to_json(const Split& split);
// Validates the format, that every index is < n and that the three lists partition 0..n-1;
// errors are seqgrad::Error "split ORIGIN: problem".
Split split_from_json(std::string_view text, std::string_view origin = "<string>");
void save_split(const Split& split, const std::string& path);  // atomic, like Vocab::save
Split load_split(const std::string& path);

}  // namespace seqgrad::data
