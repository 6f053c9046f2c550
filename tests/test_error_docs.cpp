// docs/errors.md lists every error the library and the command can give, and each has a test — checked,
// not just claimed. The sources (SEQGRAD_SOURCE_DIR) are read as text:
//   1. every `fail("...", ...)`, `fail<E>("...", ...)`, `throw E("...")` and `throw E(fmt::format("..."))` in
//      core/ layers/ optim/ models/ apps/ gives a message format: its string literal(s), `{}` standing for a
//      value. A throw without a literal message must be one of kBuiltMessages below, which give its format;
//      a helper that fails with the words its callers pass (kMessageHelpers) gives one format per call.
//   2. docs/errors.md must show each format in a code span, each `{}` written as any text (`<shape>`, `<path>`).
//   3. some test file (tests/test_*.cpp, except this one) must hold a string literal that is the message or a
//      part of it: the literal, read as a piece of a message, matches the format with each `{}` standing for
//      any text, and either matches all of it (the literal is a complete message) or at least
//      kMinFragment characters of the format's own text (the literal may also hold text around the message,
//      as "seqgrad: error: " + message). When one literal fits several formats it counts for the one it fits
//      best (see better()), so "GRU: initial h0 is float64 but ..." proves the GRU's check, not the cell's
//      shorter "{}: {} is {} but the parameters are {}".
// Formats that no test can trigger are listed in kExemptions with the reason (they still need their row in
// docs/errors.md); an exemption whose format is gone from the sources is reported (a warning).
// The check reads test sources, so a test that only mentions a message in a string would pass it: the
// convention (tests/test_errors.cpp) is that each such literal sits in an assertion on a real call.
// Set SEQGRAD_ERROR_DOCS_REPORT=FILE to write a tab-separated table (site, type, format, covering tests), and
// SEQGRAD_ERROR_DOCS_DEBUG=TEXT to see which formats each test literal containing TEXT counts for.
#include <algorithm>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMinFragment = 12;  // characters of a format's literal text a partial literal must match

// Throws whose message is not one string literal: the format they produce, for the checks above.
struct BuiltMessage {
    const char* file;
    const char* type;
    const char* format;
};
const std::vector<BuiltMessage> kBuiltMessages = {
    {"core/allocator.cpp", "std::bad_alloc", "std::bad_alloc"},
    // Module::load_state_dict and Optimizer's check_state join the lists they found, leaving out empty ones.
    {"layers/module.cpp", "ShapeError",
     "{}: load_state_dict: missing [{}]; unexpected [{}]; mismatched: '{}' is {} {} in the state but {} {} in the model"},
    {"optim/optimizer.cpp", "ShapeError",
     "{}: load_state_dict: missing [{}]; unexpected [{}]; mismatched: '{}' is {} {} in the state but should be {} {}"},
    // Under MPI, the ranks that did not fail learn which one did (core/distributed.h, agree).
    {"core/distributed.cpp", "PeerFailed", "rank {} failed (its error is on its standard error)"},
};

// Helpers that fail with a format completed by string literals their callers pass: each call is its own
// message. check_option(ok, "lr", "must be >= 0", lr) fails with "{}: {} {}, got {}" filled in as
// "<optimizer>: lr must be >= 0, got <value>".
struct MessageHelper {
    const char* name;
    const char* format;        // the helper's own fail() format, replaced by one format per call
    std::size_t first_arg;     // the call's string-literal arguments fill the helper format's {} from the second
    std::size_t literal_args;  // how many
};
const std::vector<MessageHelper> kMessageHelpers = {
    {"check_option", "{}: {} {}, got {}", 1, 2},
};

// Formats no test triggers, and why. Keep this short: every entry is an error a user could meet that no
// test proves.
struct Exemption {
    const char* format;
    const char* reason;
};
const std::vector<Exemption> kExemptions = {
    {"{}: {}",
     "a wrapper: it puts the file name before another error's message (bad values in a model config, a "
     "checkpoint whose tensors do not match the model); the wrapped messages are listed and tested"},
    {"{}: cannot stat: {}", "fstat() on a file descriptor just opened cannot be made to fail from a test"},
    {"generate_task {}: source \"{}\" has two targets \"{}\" and \"{}\" (a grammar bug)",
     "an invariant of the built-in enfr grammar: no option reaches it (tests/test_toy_tasks.cpp checks the "
     "generated corpora)"},
    {"enfr: unknown verb \"{}\"", "an invariant of the built-in enfr grammar tables: no option reaches it"},
    {"enfr: a place is singular with the, my, our or their, got \"{} {}\"",
     "an invariant of the built-in enfr grammar tables: no option reaches it"},
    {"enfr: unknown time \"{}\"", "an invariant of the built-in enfr grammar tables: no option reaches it"},
    {"{}: --out {}: cannot create the folder ({})",
     "the folder was found creatable a moment before (check_writable_folder); only a change of the file system in "
     "between makes create_directories fail"},
    {"gemm: oneDNN's sgemm failed (status {}) for M {} N {} K {} lda {} ldb {} ldc {}",
     "oneDNN returns an error only for invalid sizes or leading dimensions, and the seam checks every product's "
     "shapes before it gets there"},
    {"tokenizer sentencepiece: this build has no SentencePiece (install libsentencepiece-dev and build with "
     "-DSEQGRAD_SENTENCEPIECE=ON)",
     "only a build configured without SentencePiece reaches it, and the suite runs in the build it tests"},
    {"--precision bf16 is not available: {}; use --precision fp32",
     "only a build without oneDNN or a CPU without avx512_bf16 reaches it; tests/test_blas.cpp checks the message "
     "there and the bf16 products where bf16 runs"},
    {"demo: training stopped before the first epoch finished ({})",
     "the demo trains at least one epoch (its time limit is checked between epochs and it installs no Ctrl-C "
     "handler); the check guards against a trainer change"},
};

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    REQUIRE(in);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// ---- a small C++ lexer: comments skipped, string literals (with adjacent ones joined) kept -------------

struct Literal {
    std::size_t begin = 0, end = 0;  // source offsets, from the first opening quote to after the last
    std::string raw;                 // joined contents as written (escapes kept)
    std::string text;                // joined contents as the program sees them (escapes decoded)
};

std::string decode_escapes(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\' || i + 1 == s.size()) {
            out += s[i];
            continue;
        }
        const char c = s[++i];
        switch (c) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case '0': out += '\0'; break;
            case 'x': {  // \xHH
                std::size_t j = i + 1;
                while (j < s.size() && j < i + 3 && std::isxdigit(static_cast<unsigned char>(s[j]))) ++j;
                out += static_cast<char>(std::stoi(s.substr(i + 1, j - i - 1), nullptr, 16));
                i = j - 1;
                break;
            }
            default: out += c;  // \" \\ \'
        }
    }
    return out;
}

// Every string literal of a C++ source, adjacent literals ("a" "b", across lines) joined into one.
std::vector<Literal> string_literals(const std::string& s) {
    std::vector<Literal> out;
    std::size_t i = 0;
    auto skip_space_and_comments = [&](std::size_t j) {
        for (;;) {
            while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
            if (s.compare(j, 2, "//") == 0) {
                j = s.find('\n', j);
                if (j == std::string::npos) return s.size();
            } else if (s.compare(j, 2, "/*") == 0) {
                j = s.find("*/", j);
                if (j == std::string::npos) return s.size();
                j += 2;
            } else {
                return j;
            }
        }
    };
    // Reads one literal starting at j (at '"' or at the R of R"delim(...)delim"); returns its end.
    auto read_one = [&](std::size_t j, std::string& raw, std::string& text) {
        if (s[j] == 'R') {
            const std::size_t open = s.find('(', j + 2);
            const std::string delim = ")" + s.substr(j + 2, open - j - 2) + "\"";
            const std::size_t close = s.find(delim, open);
            raw += s.substr(open + 1, close - open - 1);
            text += s.substr(open + 1, close - open - 1);
            return close + delim.size();
        }
        std::size_t k = j + 1;
        while (k < s.size() && s[k] != '"') k += s[k] == '\\' ? 2 : 1;
        const std::string body = s.substr(j + 1, k - j - 1);
        raw += body;
        text += decode_escapes(body);
        return k + 1;
    };
    auto starts_literal = [&](std::size_t j) {
        if (j >= s.size()) return false;
        if (s[j] == '"') return true;
        return s[j] == 'R' && j + 1 < s.size() && s[j + 1] == '"' &&
               (j == 0 || !(std::isalnum(static_cast<unsigned char>(s[j - 1])) || s[j - 1] == '_'));
    };
    while (i < s.size()) {
        if (s.compare(i, 2, "//") == 0 || s.compare(i, 2, "/*") == 0) {
            i = skip_space_and_comments(i);
        } else if (starts_literal(i)) {
            Literal lit;
            lit.begin = i;
            std::size_t j = read_one(i, lit.raw, lit.text);
            for (;;) {
                const std::size_t k = skip_space_and_comments(j);
                if (!starts_literal(k)) break;
                j = read_one(k, lit.raw, lit.text);
            }
            lit.end = j;
            out.push_back(std::move(lit));
            i = j;
        } else if (s[i] == '\'') {
            // A character literal, or a digit separator (1'000) which is skipped as one character.
            if (i > 0 && std::isxdigit(static_cast<unsigned char>(s[i - 1])) && i + 1 < s.size() &&
                std::isxdigit(static_cast<unsigned char>(s[i + 1]))) {
                ++i;
                continue;
            }
            std::size_t k = i + 1;
            while (k < s.size() && s[k] != '\'') k += s[k] == '\\' ? 2 : 1;
            i = k + 1;
        } else {
            ++i;
        }
    }
    return out;
}

bool is_exempt(const std::string& format) {
    return std::any_of(kExemptions.begin(), kExemptions.end(), [&](const Exemption& e) { return format == e.format; });
}

// ---- formats -------------------------------------------------------------------------------------------

// A format as a pattern: literal characters, and kAny where fmt puts a value.
constexpr int kAny = -1;
std::vector<int> pattern_of(const std::string& format) {
    std::vector<int> p;
    for (std::size_t i = 0; i < format.size(); ++i) {
        if (format.compare(i, 2, "{{") == 0 || format.compare(i, 2, "}}") == 0) {
            p.push_back(static_cast<unsigned char>(format[i]));
            ++i;
        } else if (format[i] == '{') {
            i = format.find('}', i);
            p.push_back(kAny);
        } else {
            p.push_back(static_cast<unsigned char>(format[i]));
        }
    }
    return p;
}

std::size_t literal_chars(const std::vector<int>& p) {
    return static_cast<std::size_t>(std::count_if(p.begin(), p.end(), [](int c) { return c != kAny; }));
}

// How well `text`, or a part of it, reads as a message of the pattern: a test may assert a part of a message
// (StartsWith, Contains), or the message with more around it ("seqgrad: error: " + message + "\n").
struct Match {
    bool ok = false;
    int outside = 0;  // characters of `text` left before and after the part that was read as a message
    int matched = 0;  // characters of the pattern's literal text that part matched
    bool whole = false;
};

// whole: `text` must be a complete message (start at the pattern's start, end at its end, each kAny standing
// for at least one character). Otherwise the part may start and end anywhere in the pattern (each kAny
// standing for any text, also none), and the best part is the one with the most literal text matched less
// the characters left outside (then the most literal text): text that only fits as a value is no proof,
// and neither is a stretch of shared words ("additive, dot, general") in a literal about something else.
Match match_message(const std::string& text, const std::vector<int>& p, bool whole) {
    // Values: (matched - outside) * kW + matched, so a larger value is a better part; kDead: no such state.
    // Each literal character matched adds kW + 1, each character left outside takes kW.
    using V = std::int64_t;
    constexpr V kW = 1 << 16, kOutside = kW, kDead = std::numeric_limits<V>::min() / 4;
    const std::size_t m = p.size(), n = text.size();
    // State (j, false): the pattern before p[j] is matched; (j, true): inside p[j] == kAny, which has
    // consumed at least one character.
    std::vector<V> cur(2 * (m + 1), kDead), next(cur.size());
    auto at = [&](std::vector<V>& v, std::size_t j, bool in_any) -> V& { return v[2 * j + (in_any ? 1 : 0)]; };
    auto close = [&](std::vector<V>& v) {  // a kAny may end (and a partial one may be empty)
        for (std::size_t j = 0; j < m; ++j)
            if (p[j] == kAny) at(v, j + 1, false) = std::max({at(v, j + 1, false), at(v, j, true), whole ? kDead : at(v, j, false)});
    };
    V best = kDead;
    auto seed_and_note = [&](std::vector<V>& v, std::size_t consumed) {  // the part may start here, or end here
        if (whole) return;
        for (std::size_t j = 0; j <= m; ++j) {
            at(v, j, false) = std::max(at(v, j, false), -kOutside * static_cast<V>(consumed));
            if (j < m && p[j] == kAny) at(v, j, true) = std::max(at(v, j, true), -kOutside * static_cast<V>(consumed));
        }
        close(v);
        for (const V x : v)
            if (x > kDead) best = std::max(best, x - kOutside * static_cast<V>(n - consumed));
    };
    at(cur, 0, false) = 0;
    close(cur);
    seed_and_note(cur, 0);
    for (std::size_t i = 0; i < n; ++i) {
        std::fill(next.begin(), next.end(), kDead);
        for (std::size_t j = 0; j < m; ++j) {
            const V entered = at(cur, j, false), inside = at(cur, j, true);
            if (p[j] == kAny) {
                at(next, j, true) = std::max({at(next, j, true), entered, inside});
            } else if (entered > kDead && p[j] == static_cast<unsigned char>(text[i])) {
                at(next, j + 1, false) = std::max(at(next, j + 1, false), entered + kW + 1);
            }
        }
        close(next);
        std::swap(cur, next);
        seed_and_note(cur, i + 1);
    }
    Match r;
    r.whole = whole;
    const V v = whole ? at(cur, m, false) : best;
    if (v <= kDead / 2) return r;
    r.ok = true;
    r.matched = static_cast<int>(((v % kW) + kW) % kW);
    r.outside = static_cast<int>((static_cast<V>(r.matched) * (kW + 1) - v) / kW);
    return r;
}

// Which of two matches of one test literal proves its format better: more literal text less the characters
// outside, then more literal text, then a complete message.
bool better(const Match& a, const Match& b) {
    if (a.matched - a.outside != b.matched - b.outside) return a.matched - a.outside > b.matched - b.outside;
    if (a.matched != b.matched) return a.matched > b.matched;
    return a.whole && !b.whole;
}

struct Site {
    std::string file;
    int line = 0;
    std::string type;
};

struct Format {
    std::string text;  // the format as fmt reads it (escapes decoded)
    std::vector<int> pattern;
    std::vector<Site> sites;
    std::set<std::string> tests;  // "test_x.cpp: test case name"
};

int line_of(const std::string& s, std::size_t offset) {
    return 1 + static_cast<int>(std::count(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

bool is_ident(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }

struct Scan {
    std::map<std::string, Format> formats;
    std::vector<std::string> unexplained;  // throws without a literal that kBuiltMessages does not give
    // helper name -> file -> (line, arguments) of each call
    std::map<std::string, std::map<std::string, std::vector<std::pair<int, std::vector<std::string>>>>> helper_calls;
};

Scan scan_sources(const fs::path& root) {
    Scan scan;
    std::map<std::string, int> built_seen;
    std::vector<fs::path> files;
    for (const char* dir : {"core", "layers", "optim", "models", "apps"})
        for (const auto& e : fs::recursive_directory_iterator(root / dir))
            if (e.is_regular_file() && (e.path().extension() == ".cpp" || e.path().extension() == ".h"))
                files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
        const std::string rel = fs::relative(path, root).generic_string();
        const std::string s = read_text(path);
        const std::vector<Literal> lits = string_literals(s);
        // Code with comments and literals blanked, to find fail( and throw without hits inside them.
        std::string code = s;
        {
            for (const auto& l : lits)  // '#', not ' ', so that a literal still starts where it did
                for (std::size_t k = l.begin; k < l.end; ++k)
                    if (code[k] != '\n') code[k] = '#';
            for (std::size_t k = 0; k + 1 < code.size(); ++k) {
                if (code.compare(k, 2, "//") == 0) {
                    while (k < code.size() && code[k] != '\n') code[k++] = ' ';
                } else if (code.compare(k, 2, "/*") == 0) {
                    const std::size_t e = code.find("*/", k);
                    for (; k < e + 2 && k < code.size(); ++k)
                        if (code[k] != '\n') code[k] = ' ';
                }
            }
        }
        auto literal_at = [&](std::size_t pos) -> const Literal* {
            while (pos < code.size() && std::isspace(static_cast<unsigned char>(code[pos]))) ++pos;
            for (const auto& l : lits)
                if (l.begin == pos) return &l;
            return nullptr;
        };
        for (std::size_t k = 0; k < code.size(); ++k) {
            if (k > 0 && is_ident(code[k - 1])) continue;
            bool helper_call = false;
            for (const auto& h : kMessageHelpers) {
                const std::size_t n = std::strlen(h.name);
                if (code.compare(k, n, h.name) != 0 || is_ident(code[k + n])) continue;
                std::size_t j = k + n;
                while (std::isspace(static_cast<unsigned char>(code[j]))) ++j;
                if (code[j] != '(') continue;
                // The arguments: a string literal's text where the argument is one, "" otherwise.
                std::vector<std::string> args;
                std::size_t start = j + 1;
                int depth = 0;
                for (std::size_t e = j + 1; e < code.size(); ++e) {
                    const char c = code[e];
                    if (c == '(' || c == '[' || c == '{') ++depth;
                    if ((c == ')' || c == ',') && depth == 0) {
                        const Literal* l = literal_at(start);
                        std::size_t after_lit = l ? l->end : 0;
                        while (l && after_lit < e && std::isspace(static_cast<unsigned char>(code[after_lit]))) ++after_lit;
                        args.push_back(l && after_lit == e ? l->text : "");
                        start = e + 1;
                        if (c == ')') break;
                    }
                    if (c == ')' || c == ']' || c == '}') --depth;
                }
                scan.helper_calls[h.name][rel].push_back({line_of(s, k), args});
                helper_call = true;
            }
            if (helper_call) continue;
            std::string type;
            std::size_t after = 0;  // just after the opening parenthesis of the message argument
            if (code.compare(k, 4, "fail") == 0 && k + 4 < code.size() && !is_ident(code[k + 4])) {
                std::size_t j = k + 4;
                type = "ShapeError";
                if (code[j] == '<') {
                    const std::size_t close = code.find('>', j);
                    type = code.substr(j + 1, close - j - 1);
                    j = close + 1;
                }
                while (std::isspace(static_cast<unsigned char>(code[j]))) ++j;
                if (code[j] != '(') continue;
                after = j + 1;
            } else if (code.compare(k, 5, "throw") == 0 && k + 5 < code.size() && !is_ident(code[k + 5])) {
                std::size_t j = k + 5;
                while (std::isspace(static_cast<unsigned char>(code[j]))) ++j;
                std::size_t e = j;
                while (e < code.size() && is_ident(code[e])) ++e;
                type = code.substr(j, e - j);
                while (std::isspace(static_cast<unsigned char>(code[e]))) ++e;
                if (type.empty() || code[e] != '(') {  // `throw;` rethrows: no new error
                    continue;
                }
                after = e + 1;
                while (std::isspace(static_cast<unsigned char>(code[after]))) ++after;
                if (code.compare(after, 12, "fmt::format(") == 0) after += 12;
            } else {
                continue;
            }
            if (rel == "core/error.h") continue;  // fail() itself
            const Literal* lit = literal_at(after);
            if (!lit) {
                const auto it = std::find_if(kBuiltMessages.begin(), kBuiltMessages.end(), [&](const BuiltMessage& b) {
                    return rel == b.file && type == b.type && built_seen[b.format] == 0;
                });
                if (it == kBuiltMessages.end()) {
                    scan.unexplained.push_back(fmt::format("{}:{}: {} without a literal message", rel, line_of(s, k), type));
                    continue;
                }
                ++built_seen[it->format];
                Format& f = scan.formats[it->format];
                f.text = it->format;
                f.sites.push_back({rel, line_of(s, k), type});
                continue;
            }
            Format& f = scan.formats[lit->text];
            f.text = lit->text;
            f.sites.push_back({rel, line_of(s, k), type});
        }
    }
    // Calls of the message helpers: the helper's format, its {} after the first filled by the literals.
    for (const auto& h : kMessageHelpers) {
        const auto helper = scan.formats.find(h.format);
        if (helper == scan.formats.end()) {
            scan.unexplained.push_back(fmt::format("kMessageHelpers: {} no longer fails with \"{}\"", h.name, h.format));
            continue;
        }
        scan.formats.erase(helper);
        for (const auto& [rel, calls] : scan.helper_calls[h.name]) {
            for (const auto& [line, args] : calls) {
                if (args.size() < h.first_arg + h.literal_args) continue;  // the declaration or the definition
                std::string format;
                const std::string pattern = h.format;
                std::size_t arg = 0;
                for (std::size_t k = 0; k < pattern.size(); ++k) {
                    if (pattern.compare(k, 2, "{}") == 0) {
                        const bool filled = arg >= h.first_arg && arg < h.first_arg + h.literal_args;
                        format += filled ? args[arg] : "{}";
                        ++arg;
                        ++k;
                    } else {
                        format += pattern[k];
                    }
                }
                if (std::any_of(args.begin() + h.first_arg, args.begin() + h.first_arg + h.literal_args,
                                [](const std::string& a) { return a.empty(); }))
                    continue;
                Format& f = scan.formats[format];
                f.text = format;
                f.sites.push_back({rel, line, "ShapeError"});
            }
        }
    }
    for (const auto& b : kBuiltMessages)
        if (built_seen[b.format] == 0)
            scan.unexplained.push_back(fmt::format("kBuiltMessages: no throw without a literal in {} any more", b.file));
    for (auto& [text, f] : scan.formats) f.pattern = pattern_of(text);
    return scan;
}

// The code spans (`...`) of a Markdown file, with "\|" (a '|' inside a table) read as '|'.
std::vector<std::string> code_spans(const std::string& md) {
    std::vector<std::string> spans;
    std::size_t i = 0;
    while ((i = md.find('`', i)) != std::string::npos) {
        std::size_t n = 0;
        while (i + n < md.size() && md[i + n] == '`') ++n;
        const std::string fence(n, '`');
        const std::size_t close = md.find(fence, i + n);
        if (close == std::string::npos) break;
        std::string span = md.substr(i + n, close - i - n);
        for (std::size_t k = 0; (k = span.find("\\|", k)) != std::string::npos;) span.replace(k, 2, "|");
        if (n == 1) spans.push_back(span);
        i = close + n;
    }
    return spans;
}

// Each test file's string literals, with the test case each sits in.
struct TestLiteral {
    std::string where;  // "test_x.cpp: test case name"
    std::string text;
};

std::vector<TestLiteral> test_literals(const fs::path& tests_dir) {
    std::vector<TestLiteral> out;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(tests_dir)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("test_", 0) == 0 && e.path().extension() == ".cpp" && name != "test_error_docs.cpp")
            files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
        const std::string s = read_text(path);
        const std::string file = path.filename().string();
        std::string test_case = "(outside a test case)";
        for (const auto& l : string_literals(s)) {
            // The first literal after TEST_CASE( is the test case's name.
            std::size_t k = l.begin;
            while (k > 0 && std::isspace(static_cast<unsigned char>(s[k - 1]))) --k;
            if (k >= 10 && s.compare(k - 10, 10, "TEST_CASE(") == 0) {
                test_case = l.text;
                continue;
            }
            out.push_back({file + ": " + test_case, l.text});
        }
    }
    return out;
}

}  // namespace

TEST_CASE("error docs: docs/errors.md lists every error of the sources and a test triggers each", "[errors]") {
    const fs::path root = SEQGRAD_SOURCE_DIR;
    Scan scan = scan_sources(root);
    auto& formats = scan.formats;
    INFO(formats.size() << " message formats found");
    REQUIRE(formats.size() > 300);  // the scan works (there are about 400)
    for (const auto& u : scan.unexplained) FAIL_CHECK(u);

    // (2) docs/errors.md shows each format.
    const std::vector<std::string> spans = code_spans(read_text(root / "docs" / "errors.md"));
    std::vector<std::string> undocumented;
    for (const auto& [text, f] : formats) {
        const bool listed = std::any_of(spans.begin(), spans.end(),
                                        [&](const std::string& span) { return match_message(span, f.pattern, true).ok; });
        if (!listed) undocumented.push_back(fmt::format("{} ({}:{})", text, f.sites[0].file, f.sites[0].line));
    }

    // (3) some test literal is each message or a distinctive part of it. Candidates for a literal are the
    // formats sharing an 8-character piece of literal text with it (or all, for a short literal).
    constexpr std::size_t kGram = 8;
    std::unordered_map<std::string, std::vector<Format*>> by_gram;
    for (auto& [text, f] : formats) {
        std::string run;
        std::set<std::string> grams;
        auto flush = [&] {
            for (std::size_t k = 0; k + kGram <= run.size(); ++k) grams.insert(run.substr(k, kGram));
            run.clear();
        };
        for (const int c : f.pattern) {
            if (c == kAny) flush();
            else run += static_cast<char>(c);
        }
        flush();
        for (const auto& g : grams) by_gram[g].push_back(&f);
    }
    const char* debug = std::getenv("SEQGRAD_ERROR_DOCS_DEBUG");  // a piece of test literal: show what it proves
    for (const auto& lit : test_literals(root / "tests")) {
        std::set<Format*> candidates;
        if (lit.text.size() < kGram) {
            for (auto& [text, f] : formats) candidates.insert(&f);
        } else {
            for (std::size_t k = 0; k + kGram <= lit.text.size(); ++k) {
                const auto it = by_gram.find(lit.text.substr(k, kGram));
                if (it != by_gram.end()) candidates.insert(it->second.begin(), it->second.end());
            }
        }
        // The formats it proves best (see better()); a part must match kMinFragment characters.
        std::vector<Format*> best;
        Match best_match;
        for (Format* f : candidates) {
            if (is_exempt(f->text)) continue;
            Match m = match_message(lit.text, f->pattern, true);
            if (!m.ok) m = match_message(lit.text, f->pattern, false);
            if (!m.ok || (!m.whole && static_cast<std::size_t>(m.matched) < kMinFragment)) continue;
            if (best.empty() || better(m, best_match)) {
                best.clear();
                best_match = m;
            }
            if (!better(best_match, m)) best.push_back(f);
        }
        for (Format* f : best) f->tests.insert(lit.where);
        if (debug && lit.text.find(debug) != std::string::npos) {
            std::string formats;
            for (Format* f : best) formats += "\n    " + f->text;
            WARN(lit.where << ": \"" << lit.text << "\" -> " << best_match.matched << " matched, " << best_match.outside
                           << " outside" << (best_match.whole ? " (whole)" : "") << formats);
        }
    }

    std::vector<std::string> untested, stale_exemptions;
    for (const auto& [text, f] : formats) {
        if (f.tests.empty() && !is_exempt(text))
            untested.push_back(fmt::format("{} ({}:{})", text, f.sites[0].file, f.sites[0].line));
    }
    for (const auto& e : kExemptions)
        if (!formats.count(e.format)) stale_exemptions.push_back(fmt::format("{} is exempt but no longer in the sources", e.format));

    if (const char* report = std::getenv("SEQGRAD_ERROR_DOCS_REPORT")) {
        std::ofstream out(report);
        for (const auto& [text, f] : formats) {
            std::vector<std::string> sites;
            for (const auto& s : f.sites) sites.push_back(fmt::format("{}:{}", s.file, s.line));
            out << fmt::format("{}\t{}\t{}\t{}\n", fmt::join(sites, ", "), f.sites[0].type, text, fmt::join(f.tests, " | "));
        }
    }

    auto list = [](const std::vector<std::string>& v) {
        std::string s;
        for (const auto& x : v) s += "\n  " + x;
        return s;
    };
    INFO("not in docs/errors.md (add a row with the message, `{}` written as <what>):" << list(undocumented));
    CHECK(undocumented.empty());
    INFO("no test asserts the message (add one in tests/test_errors.cpp, or an exemption with the reason):"
         << list(untested));
    CHECK(untested.empty());
    // A stale exemption is harmless, and while another change to the sources is under way the committed
    // list may run ahead of the working tree: it is reported, not failed.
    if (!stale_exemptions.empty()) WARN("exemptions to remove from kExemptions:" << list(stale_exemptions));
}

TEST_CASE("error docs: the checker reads formats, escapes and pieces of messages as intended", "[errors]") {
    const auto lits = string_literals("f(\"a\\\"b\" // \"not this\"\n  \"c\"); /* \"nor this\" */ x = 1'000; R\"(r\"aw)\"");
    REQUIRE(lits.size() == 2);
    CHECK(lits[0].text == "a\"bc");
    CHECK(lits[1].text == "r\"aw");

    const auto p = pattern_of("{}: dim {} out of range ({{}})");
    CHECK(literal_chars(p) == 24);  // ": dim " + " out of range ({})"
    auto matched = [&](const std::string& text, bool whole) {
        const Match m = match_message(text, p, whole);
        return m.ok ? fmt::format("{} matched, {} outside", m.matched, m.outside) : std::string("no match");
    };
    CHECK(matched("sum: dim 3 out of range ({})", true) == "24 matched, 0 outside");
    CHECK(matched("dim 3 out of range", false) == "17 matched, 0 outside");  // a piece: "dim " + " out of range"
    CHECK(matched("dim 3 out of range", true) == "no match");  // not a whole message
    CHECK(matched(": dim  out of range ({})", true) == "no match");  // each {} stands for some text
    // The first {} takes "error: x"; ".\n" is outside the message.
    CHECK(matched("error: x: dim 3 out of range ({}).\n", false) == "24 matched, 2 outside");
    CHECK(matched("dim 3 out of range ({}).\n", false) == "22 matched, 2 outside");
    CHECK(matched("sum: index 3", false) == "1 matched, 1 outside");  // nothing distinctive: it fits as a value
}
