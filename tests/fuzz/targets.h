// What each fuzz target does with one input, shared by the libFuzzer programs (tests/fuzz/fuzz_*.cpp,
// built with clang -fsanitize=fuzzer,address,undefined) and by the normal Catch2 suite
// (tests/test_fuzz_regressions.cpp replays every file of tests/fuzz/corpus/<target>/ through these).
//
// The contract under test: a reader given any bytes either returns a value or throws seqgrad::Error
// (the command line turns that into one line and exit code 2). Anything else is a bug:
//   - a crash, a sanitizer finding or a hang;
//   - any other exception (nlohmann::json::type_error, std::bad_alloc, std::length_error, ...),
//     which the command line would report as an "internal error";
//   - a broken invariant of what was returned (checked below, thrown as FuzzInvariantError).
// seqgrad::Error is caught here and nothing else, so that every other exception escapes: libFuzzer
// reports it as a crash (uncaught exception -> abort), Catch2 as a failed REQUIRE_NOTHROW.
#pragma once
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/safetensors.h"
#include "models/data/corpus.h"
#include "models/rnn/seq2seq.h"
#include "models/data/tokenizer.h"
#include "models/data/utf8.h"
#include "models/data/vocab.h"
#include "models/translate_service.h"
#include "models/translator.h"

namespace seqgrad::fuzz {

// A returned value that breaks a documented property.
class FuzzInvariantError : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

inline void require(bool ok, const char* what) {
    if (!ok) throw FuzzInvariantError(std::string("fuzz invariant violated: ") + what);
}

// ---- corpus_reader: data::read_corpus_string with word and char tokenizers -----------------------
// The first byte chooses the options, the rest is the file's text:
//   bit 0 reverse, bit 1 strict, bit 2 char tokenizer for the source, bit 3 for the target,
//   bits 4-5 max_len in {0, 3, 8, 20}, bit 6 the eng_prefixes filter.
inline void corpus_reader(std::string_view input) {
    if (input.empty()) return;
    const auto b = static_cast<unsigned char>(input[0]);
    const std::string_view text = input.substr(1);
    data::CorpusOptions options;
    options.reverse = b & 1;
    options.strict = b & 2;
    static constexpr std::size_t max_lens[4] = {0, 3, 8, 20};
    options.max_len = max_lens[(b >> 4) & 3];
    if (b & 64) options.source_prefixes = data::eng_prefixes();
    const data::WordTokenizer word;
    const data::CharTokenizer chars;
    const data::Tokenizer& src = (b & 4) ? static_cast<const data::Tokenizer&>(chars) : word;
    const data::Tokenizer& tgt = (b & 8) ? static_cast<const data::Tokenizer&>(chars) : word;
    data::Corpus corpus;
    try {
        corpus = data::read_corpus_string(text, src, tgt, options, "fuzz.tsv");
    } catch (const Error&) {
        return;
    }
    const auto& rep = corpus.report;
    require(!corpus.pairs.empty(), "a successful read returns at least one pair");
    require(rep.kept == corpus.pairs.size(), "report.kept counts the pairs");
    require(rep.kept + rep.blank + rep.malformed + rep.too_long + rep.prefix_filtered == rep.lines,
            "every line is kept or counted once");
    require(rep.skipped.size() <= data::CorpusReport::max_listed, "at most max_listed skipped lines are listed");
    std::size_t previous_line = 0;
    for (const auto& p : corpus.pairs) {
        require(!p.source.empty() && !p.target.empty(), "both sides have tokens");
        require(p.line > previous_line && p.line <= rep.lines, "line numbers increase and stay within the file");
        previous_line = p.line;
        if (options.max_len)
            require(p.source.size() <= options.max_len && p.target.size() <= options.max_len, "max_len holds");
        for (const auto* side : {&p.source, &p.target})
            for (const auto& t : *side) require(!t.empty() && data::utf8::is_valid(t), "tokens are non-empty UTF-8");
        // The documented round trip of the word tokenizer: tokenize(detokenize(t)) == t.
        if (!(b & 4)) require(word.tokenize(word.detokenize(p.source)) == p.source, "word tokenizer round trip");
        if (!(b & 8)) require(word.tokenize(word.detokenize(p.target)) == p.target, "word tokenizer round trip");
    }
    (void)rep.summary();
    // A vocabulary built from what was read encodes and decodes it back (no <unk>: every token is in it).
    std::vector<std::vector<std::string>> sources;
    for (const auto& p : corpus.pairs) sources.push_back(p.source);
    const data::Vocab vocab = data::Vocab::build(sources);
    for (const auto& s : sources) {
        const auto ids = vocab.encode(s, true, true);
        // decode stops at the first <eos>, skips <pad>/<sos>: a literal "<eos>" token in the text would end
        // it early, and literal specials map to their special ids, so compare only special-free sentences.
        bool has_special = false;
        for (const auto& t : s)
            for (const auto& sp : data::Vocab::specials()) has_special = has_special || t == sp;
        if (!has_special) require(vocab.decode(ids) == s, "vocab encode/decode round trip");
    }
}

// ---- vocab_loader: data::Vocab::from_json ---------------------------------------------------------
inline void vocab_loader(std::string_view input) {
    data::Vocab v;
    try {
        v = data::Vocab::from_json(input, "fuzz_vocab.json");
    } catch (const Error&) {
        return;
    }
    require(v.size() >= data::Vocab::num_specials, "the four specials are present");
    for (std::size_t i = 0; i < v.size(); ++i)
        require(v.id(v.token(static_cast<std::int64_t>(i))) == static_cast<std::int64_t>(i), "id(token(i)) == i");
    require(data::Vocab::from_json(v.to_json(), "round trip") == v, "to_json/from_json round trip");
}

// ---- safetensors_parser: seqgrad::parse_safetensors -------------------------------------------------
inline void safetensors_parser(std::string_view input) {
    SafetensorsFile f;
    try {
        f = parse_safetensors(input, "fuzz.safetensors");
    } catch (const Error&) {
        return;
    }
    std::uint64_t total = 0;
    for (const auto& [name, t] : f.tensors) {
        require(t.defined(), "every tensor is defined");
        const std::size_t nbytes = static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype());
        require(nbytes <= input.size(), "no tensor is larger than the input");
        total += nbytes;
        // Touch every byte so AddressSanitizer sees any read past the tensor's buffer.
        unsigned char acc = 0;
        const auto* p = static_cast<const unsigned char*>(t.raw_data());
        for (std::size_t i = 0; i < nbytes; ++i) acc ^= p[i];
        (void)acc;
    }
    require(total <= input.size(), "the tensors fit in the input");
    // load_into a set of targets of the same names, shapes and dtypes copies every tensor.
    std::map<std::string, Tensor> targets;
    for (const auto& [name, t] : f.tensors) targets.emplace(name, Tensor::empty(t.shape(), t.dtype()));
    load_into(f, targets, "fuzz.safetensors");
    for (const auto& [name, t] : f.tensors) {
        const std::size_t nbytes = static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype());
        require(nbytes == 0 || std::memcmp(targets.at(name).raw_data(), t.raw_data(), nbytes) == 0,
                "load_into copies the bytes");
    }
}

// ---- config_loader: models::Seq2SeqConfig::from_json -----------------------------------------------
inline void config_loader(std::string_view input) {
    models::Seq2SeqConfig c;
    try {
        c = models::Seq2SeqConfig::from_json(std::string(input), "fuzz_config.json");
    } catch (const Error&) {
        return;
    }
    c.validate();  // must not throw: from_json validated it
    const models::Seq2SeqConfig back = models::Seq2SeqConfig::from_json(c.to_json(), "round trip");
    require(back.to_json() == c.to_json(), "to_json/from_json round trip");
}

// ---- translate_request: models::handle_translate_request (seqgrad serve) ---------------------------
// The input is a request body. The handler must never throw (every problem is a 400 with a reason),
// and its body is one line of JSON: {"translations": [...]} for 200, {"error": "serve: ..."} for 400.
// The translator is a small recurrent model with random weights over a few words (made once).
inline const models::Translator& fuzz_translator() {
    static const models::Translator t = [] {
        models::ModelConfig c;
        c.rnn.hidden_size = 4;
        c.rnn.embed_size = 4;
        models::DataSource source;
        source.file = "fuzz.tsv";
        Generator gen(1);
        models::Translator tr(c, data::Vocab::build({{"le", "chat", "."}}), data::Vocab::build({{"the", "cat", "."}}),
                              source, &gen);
        tr.model().eval();
        return tr;
    }();
    return t;
}

inline void translate_request(std::string_view input) {
    const models::ServiceLimits limits{.max_sentences = 4, .max_sentence_bytes = 64, .max_beam = 3};
    const models::ServiceReply r = models::handle_translate_request(fuzz_translator(), input, limits);
    require(r.status == 200 || r.status == 400, "a request is answered 200 or 400");
    require(!r.body.empty() && r.body.back() == '\n' && r.body.find('\n') == r.body.size() - 1, "one line");
    const nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    require(!j.is_discarded() && j.is_object(), "the body is a JSON object");
    if (r.status == 400) {
        require(j.contains("error") && j["error"].is_string(), "a 400 has an error string");
        require(j["error"].get<std::string>().rfind("serve: ", 0) == 0, "the reason starts with serve:");
    } else {
        require(j.contains("translations") && j["translations"].is_array(), "a 200 has its translations");
    }
}

}  // namespace seqgrad::fuzz
