// Reading tab-separated parallel corpora, the seeded split and its JSON form; see models/data/corpus.h.
#include "models/data/corpus.h"

#include <algorithm>
#include <cmath>
#include <istream>
#include <sstream>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/data/utf8.h"
#include "models/data/vocab.h"

namespace seqgrad::data {

// ---- RNG ----------------------------------------------------------------------------------------

std::uint64_t SplitMix64::next() {
    // z = (state += golden gamma); two xor-shift-multiply rounds (the published constants).
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

std::uint64_t SplitMix64::below(std::uint64_t n) {
    if (n == 0) fail<ShapeError>("SplitMix64::below: n must be positive");
    // Reject the top partial block of 2^64 so every residue is equally likely.
    const std::uint64_t limit = UINT64_MAX - (UINT64_MAX % n + 1) % n;
    std::uint64_t x;
    do x = next();
    while (x > limit);
    return x % n;
}

double SplitMix64::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) {
    SplitMix64 r(a ^ (0x9E3779B97F4A7C15ULL * (b + 1)));
    r.next();
    return r.next() ^ b;
}

// ---- reading ------------------------------------------------------------------------------------

const std::vector<std::string>& eng_prefixes() {
    static const std::vector<std::string> p = {"i am ",   "i m ",     "he is",    "he s ",  "she is",  "she s ",
                                               "you are", "you re ",  "we are",   "we re ", "they are", "they re "};
    return p;
}

std::string prefix_form(std::string_view text) {
    std::string s = WordTokenizer().detokenize(WordTokenizer().tokenize(text));
    std::replace(s.begin(), s.end(), '\'', ' ');
    return s;
}

std::string CorpusReport::summary() const {
    std::string s = fmt::format("{}: {} pairs from {} lines ({} blank, {} malformed, {} too long, {} filtered by prefix)",
                                origin, kept, lines, blank, malformed, too_long, prefix_filtered);
    if (!skipped.empty()) {
        std::vector<std::string> items;
        for (const auto& sk : skipped) items.push_back(fmt::format("{} ({})", sk.line, sk.reason));
        s += fmt::format("; skipped lines: {}", fmt::join(items, ", "));
        if (blank + malformed > skipped.size()) s += ", ...";
    }
    return s;
}

namespace {

// Trims is_space code points from both ends of a valid UTF-8 string.
std::string_view trim(std::string_view s) {
    std::size_t begin = 0, end = s.size();
    while (begin < end) {
        std::size_t pos = begin;
        if (!is_space(utf8::decode_next(s, pos))) break;
        begin = pos;
    }
    while (end > begin) {
        std::size_t start = end - 1;  // step back to the lead byte of the last code point
        while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
        std::size_t pos = start;
        if (!is_space(utf8::decode_next(s, pos))) break;
        end = start;
    }
    return s.substr(begin, end - begin);
}

bool starts_with_any(const std::string& s, const std::vector<std::string>& prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return s.starts_with(p); });
}

}  // namespace

Corpus read_corpus_string(std::string_view text, const Tokenizer& source_tokenizer, const Tokenizer& target_tokenizer,
                          const CorpusOptions& options, std::string_view origin) {
    Corpus corpus;
    CorpusReport& rep = corpus.report;
    rep.origin = std::string(origin);

    std::size_t bom = 0;
    if (text.starts_with("\xEF\xBB\xBF")) bom = 3;
    std::string_view rest = text.substr(bom);

    auto skip = [&](std::size_t line, std::string reason, std::size_t& counter) {
        if (options.strict) fail<Error>("{}:{}: {} (strict mode; expected source<TAB>target)", origin, line, reason);
        ++counter;
        if (rep.skipped.size() < CorpusReport::max_listed) rep.skipped.push_back({line, std::move(reason)});
    };

    std::size_t line_no = 0;
    while (!rest.empty()) {
        const std::size_t nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
        ++line_no;
        ++rep.lines;
        if (line.ends_with('\r')) line.remove_suffix(1);

        const utf8::Validation v = utf8::validate(line);
        if (!v.ok)
            fail<Error>("{}:{}: invalid UTF-8 at byte {} of the line: {} (a corpus must be UTF-8; convert a Latin-1 "
                        "file with e.g. iconv -f latin1 -t utf-8)",
                        origin, line_no, v.offset + (line_no == 1 ? bom : 0), v.reason);
        if (trim(line).empty()) {
            skip(line_no, "blank line", rep.blank);
            continue;
        }
        const std::size_t tab = line.find('\t');
        if (tab == std::string_view::npos) {
            skip(line_no, "no tab", rep.malformed);
            continue;
        }
        const std::string_view first = trim(line.substr(0, tab));
        std::string_view second = line.substr(tab + 1);
        second = trim(second.substr(0, second.find('\t')));
        if (first.empty()) {
            skip(line_no, "empty first column", rep.malformed);
            continue;
        }
        if (second.empty()) {
            skip(line_no, "empty second column", rep.malformed);
            continue;
        }

        SentencePair pair;
        pair.line = line_no;
        pair.source_text = std::string(options.reverse ? second : first);
        pair.target_text = std::string(options.reverse ? first : second);
        pair.source = source_tokenizer.tokenize(pair.source_text);
        pair.target = target_tokenizer.tokenize(pair.target_text);
        if (pair.source.empty() || pair.target.empty()) {
            skip(line_no, pair.source.empty() ? "source has no tokens" : "target has no tokens", rep.malformed);
            continue;
        }
        if (!options.source_prefixes.empty() && !starts_with_any(prefix_form(first), options.source_prefixes)) {
            ++rep.prefix_filtered;
            continue;
        }
        if (options.max_len != 0 && (pair.source.size() > options.max_len || pair.target.size() > options.max_len)) {
            ++rep.too_long;
            continue;
        }
        corpus.pairs.push_back(std::move(pair));
    }
    rep.kept = corpus.pairs.size();

    if (corpus.pairs.empty()) {
        if (rep.lines == 0) fail<Error>("{}: no usable sentence pairs: the corpus is empty", origin);
        if (rep.too_long + rep.prefix_filtered == 0)
            fail<Error>("{}: no usable sentence pairs out of {} lines ({} blank, {} malformed); each line should be "
                        "source<TAB>target",
                        origin, rep.lines, rep.blank, rep.malformed);
        // Well-formed pairs were there: say which filter removed them (the prefix filter runs first).
        std::vector<std::string> removed;
        if (rep.prefix_filtered > 0)
            removed.push_back(fmt::format("{} do not start with one of the {} prefixes (--eng-prefixes)", rep.prefix_filtered,
                                          options.source_prefixes.size()));
        if (rep.too_long > 0)
            removed.push_back(fmt::format("{} have more than {} token{} on a side (--max-len {})", rep.too_long,
                                          options.max_len, options.max_len == 1 ? "" : "s", options.max_len));
        fail<Error>("{}: the filters removed all {} sentence pairs: {}", origin, rep.too_long + rep.prefix_filtered,
                    fmt::join(removed, "; "));
    }
    return corpus;
}

Corpus read_corpus_file(const std::string& path, const Tokenizer& source_tokenizer, const Tokenizer& target_tokenizer,
                        const CorpusOptions& options) {
    const std::string text = read_file(path, "corpus");
    return read_corpus_string(text, source_tokenizer, target_tokenizer, options, path);
}

Corpus read_corpus_stream(std::istream& in, const Tokenizer& source_tokenizer, const Tokenizer& target_tokenizer,
                          const CorpusOptions& options, std::string_view origin) {
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) fail<Error>("{}: read error while reading the corpus stream", origin);
    return read_corpus_string(ss.str(), source_tokenizer, target_tokenizer, options, origin);
}

// ---- splitting ----------------------------------------------------------------------------------

Split split_corpus(const std::vector<SentencePair>& pairs, std::uint64_t seed, double train, double valid) {
    return split_corpus(pairs.size(), seed, train, valid);
}

Split split_corpus(std::size_t n, std::uint64_t seed, double train, double valid) {
    if (!(train >= 0 && train <= 1) || !(valid >= 0 && valid <= 1) || train + valid > 1 + 1e-12)
        fail<ShapeError>("split_corpus: fractions must lie in [0, 1] with train + valid <= 1, got train {} valid {}",
                         train, valid);
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    SplitMix64 rng(seed);
    shuffle(order, rng);

    const auto nd = static_cast<double>(n);
    const std::size_t n_train = std::min<std::size_t>(n, static_cast<std::size_t>(std::llround(nd * train)));
    const std::size_t n_valid = std::min<std::size_t>(n - n_train, static_cast<std::size_t>(std::llround(nd * valid)));

    Split s;
    s.n = n;
    s.seed = seed;
    s.train_fraction = train;
    s.valid_fraction = valid;
    s.train.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_train));
    s.valid.assign(order.begin() + static_cast<std::ptrdiff_t>(n_train),
                   order.begin() + static_cast<std::ptrdiff_t>(n_train + n_valid));
    s.test.assign(order.begin() + static_cast<std::ptrdiff_t>(n_train + n_valid), order.end());
    std::sort(s.train.begin(), s.train.end());
    std::sort(s.valid.begin(), s.valid.end());
    std::sort(s.test.begin(), s.test.end());
    return s;
}

std::string split_to_json(const Split& s) {
    nlohmann::ordered_json j;
    j["format"] = "seqgrad-split";
    j["version"] = 1;
    j["n"] = s.n;
    j["seed"] = s.seed;
    j["train_fraction"] = s.train_fraction;
    j["valid_fraction"] = s.valid_fraction;
    j["train"] = s.train;
    j["valid"] = s.valid;
    j["test"] = s.test;
    return j.dump() + "\n";
}

Split split_from_json(std::string_view text, std::string_view origin) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e400
        fail<Error>("split {}: not valid JSON: {}", origin, e.what());
    }
    if (!j.is_object()) fail<Error>("split {}: expected a JSON object, got a JSON {}", origin, j.type_name());
    auto field = [&](const char* key) -> const nlohmann::json& {
        auto it = j.find(key);
        if (it == j.end()) fail<Error>("split {}: missing \"{}\"", origin, key);
        return *it;
    };
    const auto& format = field("format");
    if (!format.is_string() || format.get<std::string>() != "seqgrad-split")
        fail<Error>("split {}: \"format\" is {}, expected \"seqgrad-split\"", origin, format.dump());
    const auto& version = field("version");
    if (!version.is_number_integer() || version.get<std::int64_t>() != 1)
        fail<Error>("split {}: unsupported \"version\" {} (this build reads version 1)", origin, version.dump());

    Split s;
    const auto& n = field("n");
    const auto& seed = field("seed");
    // nlohmann parses a non-negative integer literal as unsigned, a negative one as signed.
    if (!n.is_number_unsigned()) fail<Error>("split {}: \"n\" must be a non-negative integer, got {}", origin, n.dump());
    if (!seed.is_number_unsigned())
        fail<Error>("split {}: \"seed\" must be a non-negative integer, got {}", origin, seed.dump());
    s.n = n.get<std::size_t>();
    s.seed = seed.get<std::uint64_t>();
    for (const char* key : {"train_fraction", "valid_fraction"})
        if (!field(key).is_number()) fail<Error>("split {}: \"{}\" must be a number", origin, key);
    s.train_fraction = field("train_fraction").get<double>();
    s.valid_fraction = field("valid_fraction").get<double>();

    const char* keys[3] = {"train", "valid", "test"};
    std::size_t total = 0;
    for (const char* key : keys) {
        if (!field(key).is_array()) fail<Error>("split {}: \"{}\" must be an array of indices", origin, key);
        total += field(key).size();
    }
    // Checked before allocating anything of size n, so a huge "n" cannot exhaust memory.
    if (total != s.n)
        fail<Error>("split {}: the lists hold {} indices but n = {} (every index must be in exactly one list)", origin,
                    total, s.n);
    std::vector<char> seen(s.n, 0);
    std::vector<std::size_t>* outs[3] = {&s.train, &s.valid, &s.test};
    for (int k = 0; k < 3; ++k) {
        const auto& list = field(keys[k]);
        for (std::size_t i = 0; i < list.size(); ++i) {
            const auto& v = list[i];
            if (!v.is_number_unsigned())
                fail<Error>("split {}: {}[{}] is {}, expected a non-negative integer", origin, keys[k], i, v.dump());
            const auto idx = v.get<std::uint64_t>();
            if (idx >= s.n)
                fail<Error>("split {}: {}[{}] = {} is out of range for n = {}", origin, keys[k], i, idx, s.n);
            if (seen[idx]) fail<Error>("split {}: index {} appears more than once", origin, idx);
            seen[idx] = 1;
            outs[k]->push_back(static_cast<std::size_t>(idx));
        }
    }
    return s;
}

void save_split(const Split& split, const std::string& path) { write_file_atomic(path, split_to_json(split), "split"); }

Split load_split(const std::string& path) { return split_from_json(read_file(path, "split"), path); }

}  // namespace seqgrad::data
