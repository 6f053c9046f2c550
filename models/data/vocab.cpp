// Vocabulary building, lookup, JSON (de)serialisation and the data module's file wrappers; see models/data/vocab.h.
#include "models/data/vocab.h"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/fileio.h"
#include "models/data/utf8.h"

namespace seqgrad::data {

const std::vector<std::string>& Vocab::specials() {
    static const std::vector<std::string> s = {"<pad>", "<sos>", "<eos>", "<unk>"};
    return s;
}

Vocab::Vocab() : Vocab(specials()) {}

Vocab::Vocab(std::vector<std::string> tokens, std::string_view origin) : tokens_(std::move(tokens)) {
    const auto& sp = specials();
    if (tokens_.size() < num_specials)
        fail<Error>("vocab {}: only {} tokens, but the four specials {} come first", origin, tokens_.size(),
                    R"("<pad>", "<sos>", "<eos>", "<unk>")");
    for (std::size_t i = 0; i < num_specials; ++i)
        if (tokens_[i] != sp[i])
            fail<Error>("vocab {}: tokens[{}] is \"{}\" but must be \"{}\" (specials are <pad>=0 <sos>=1 <eos>=2 <unk>=3)",
                        origin, i, tokens_[i], sp[i]);
    index_.reserve(tokens_.size());
    for (std::size_t i = 0; i < tokens_.size(); ++i) {
        const std::string& t = tokens_[i];
        if (t.empty()) fail<Error>("vocab {}: tokens[{}] is the empty string", origin, i);
        const utf8::Validation v = utf8::validate(t);
        if (!v.ok) fail<Error>("vocab {}: tokens[{}] is not valid UTF-8 (byte {}: {})", origin, i, v.offset, v.reason);
        auto [it, inserted] = index_.emplace(t, static_cast<std::int64_t>(i));
        if (!inserted)
            fail<Error>("vocab {}: duplicate token \"{}\" at tokens[{}] and tokens[{}]", origin, t, it->second, i);
    }
}

Vocab Vocab::build(const std::vector<std::vector<std::string>>& sequences, const VocabOptions& options) {
    if (options.max_size != 0 && options.max_size < num_specials)
        fail<ShapeError>("Vocab::build: max_size {} leaves no room for the {} specials (use 0 for no limit)",
                         options.max_size, num_specials);
    std::map<std::string, std::size_t> counts;  // ordered by token, so the stable sort below breaks ties by it
    for (const auto& seq : sequences)
        for (const auto& t : seq) ++counts[t];
    for (const auto& s : specials()) counts.erase(s);

    std::vector<std::pair<std::string, std::size_t>> entries;
    for (auto& [token, count] : counts)
        if (count >= std::max<std::size_t>(options.min_freq, 1)) entries.emplace_back(token, count);
    std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.second > b.second; });

    std::vector<std::string> tokens = specials();
    for (auto& [token, count] : entries) {
        if (options.max_size != 0 && tokens.size() >= options.max_size) break;
        tokens.push_back(token);
    }
    return Vocab(std::move(tokens), "<built>");
}

bool Vocab::contains(std::string_view token) const { return index_.count(std::string(token)) != 0; }

std::int64_t Vocab::id(std::string_view token) const {
    auto it = index_.find(std::string(token));
    return it == index_.end() ? unk_id : it->second;
}

const std::string& Vocab::token(std::int64_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size())
        fail<IndexError>("Vocab::token: id {} is out of range for a vocabulary of {} tokens (valid: 0..{})", id,
                         tokens_.size(), tokens_.size() - 1);
    return tokens_[static_cast<std::size_t>(id)];
}

std::vector<std::int64_t> Vocab::encode(const std::vector<std::string>& tokens, bool add_sos, bool add_eos) const {
    std::vector<std::int64_t> ids;
    ids.reserve(tokens.size() + 2);
    if (add_sos) ids.push_back(sos_id);
    for (const auto& t : tokens) ids.push_back(id(t));
    if (add_eos) ids.push_back(eos_id);
    return ids;
}

std::vector<std::string> Vocab::decode(const std::vector<std::int64_t>& ids) const {
    std::vector<std::string> out;
    for (std::int64_t i : ids) {
        const std::string& t = token(i);  // validates the id, even for specials
        if (i == eos_id) break;
        if (i == pad_id || i == sos_id) continue;
        out.push_back(t);
    }
    return out;
}

std::string Vocab::to_json() const {
    // One token per line keeps the file readable and diffs small.
    std::string out = "{\n  \"format\": \"seqgrad-vocab\",\n  \"version\": 1,\n  \"tokens\": [\n";
    for (std::size_t i = 0; i < tokens_.size(); ++i) {
        out += "    " + nlohmann::json(tokens_[i]).dump();
        out += i + 1 < tokens_.size() ? ",\n" : "\n";
    }
    out += "  ]\n}\n";
    return out;
}

Vocab Vocab::from_json(std::string_view text, std::string_view origin) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e400
        fail<Error>("vocab {}: not valid JSON: {}", origin, e.what());
    }
    if (!j.is_object())
        fail<Error>("vocab {}: expected a JSON object {{\"format\": \"seqgrad-vocab\", \"version\": 1, \"tokens\": [...]}}, "
                    "got a JSON {}",
                    origin, j.type_name());
    const auto fmt_it = j.find("format");
    if (fmt_it == j.end() || !fmt_it->is_string() || fmt_it->get<std::string>() != "seqgrad-vocab")
        fail<Error>("vocab {}: \"format\" is {}, expected \"seqgrad-vocab\" (is this a vocabulary file?)", origin,
                    fmt_it == j.end() ? std::string("missing") : fmt_it->dump());
    const auto ver_it = j.find("version");
    if (ver_it == j.end() || !ver_it->is_number_integer() || ver_it->get<std::int64_t>() != 1)
        fail<Error>("vocab {}: unsupported \"version\" {} (this build reads version 1)", origin,
                    ver_it == j.end() ? std::string("(missing)") : ver_it->dump());
    const auto tok_it = j.find("tokens");
    if (tok_it == j.end() || !tok_it->is_array())
        fail<Error>("vocab {}: \"tokens\" is {}, expected an array of strings", origin,
                    tok_it == j.end() ? std::string("missing") : std::string("a JSON ") + tok_it->type_name());
    std::vector<std::string> tokens;
    tokens.reserve(tok_it->size());
    for (std::size_t i = 0; i < tok_it->size(); ++i) {
        const auto& t = (*tok_it)[i];
        if (!t.is_string()) fail<Error>("vocab {}: tokens[{}] is a JSON {}, expected a string", origin, i, t.type_name());
        tokens.push_back(t.get<std::string>());
    }
    return Vocab(std::move(tokens), origin);
}

void Vocab::save(const std::string& path) const { write_file_atomic(path, to_json(), "vocab"); }

Vocab Vocab::load(const std::string& path) { return from_json(read_file(path, "vocab"), path); }

// ---- files --------------------------------------------------------------------------------------

// Vocabularies, splits and corpora use the crash-safe file functions of models/fileio.h (temporary
// file, fsync, rename, the old file untouched on failure); `what` starts the message.
void write_file_atomic(const std::string& path, std::string_view content, std::string_view what) {
    try {
        seqgrad::write_file_atomic(path, std::string(content));
    } catch (const Error& e) {
        fail<Error>("{}: {}", what, e.what());
    }
}

std::string read_file(const std::string& path, std::string_view what) {
    try {
        return seqgrad::read_file(path);
    } catch (const Error& e) {
        fail<Error>("{}: {}", what, e.what());
    }
}

}  // namespace seqgrad::data
