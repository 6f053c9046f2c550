// Regression tests for what the libFuzzer targets (tests/fuzz/) found, run in the normal suite so a
// fixed bug stays fixed without clang. Every file of tests/fuzz/corpus/<target>/ (the seeds and each
// crashing input, kept under a descriptive name) is replayed through the same checks the fuzzers run
// (tests/fuzz/targets.h); each bug also has a named test with the exact error it must now give.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "fuzz/targets.h"
#include "helpers.h"
#include "models/data/corpus.h"
#include "models/rnn/seq2seq.h"
#include "models/data/vocab.h"

using namespace seqgrad;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Runs `target` on every file of tests/fuzz/corpus/<name>/; returns how many there were.
template <typename F>
std::size_t replay(const std::string& name, F target) {
    const fs::path dir = fs::path(SEQGRAD_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / name;
    REQUIRE(fs::is_directory(dir));
    std::size_t n = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        const std::string bytes = slurp(entry.path());
        INFO(name << ": " << entry.path().filename().string());
        REQUIRE_NOTHROW(target(bytes));
        ++n;
    }
    return n;
}

// A model config as Seq2SeqConfig::to_json writes it, with one field replaced by raw JSON text.
std::string config_with(const std::string& key, const std::string& raw) {
    models::Seq2SeqConfig c;
    c.src_vocab = 10;
    c.tgt_vocab = 12;
    nlohmann::json j = nlohmann::json::parse(c.to_json());
    j[key] = nlohmann::json::parse(raw);
    return j.dump();
}

}  // namespace

TEST_CASE("fuzz regressions: every seed and crash input of the four targets replays cleanly", "[fuzz]") {
    CHECK(replay("corpus_reader", [](const std::string& s) { fuzz::corpus_reader(s); }) >= 5);
    CHECK(replay("vocab_loader", [](const std::string& s) { fuzz::vocab_loader(s); }) >= 3);
    CHECK(replay("safetensors_parser", [](const std::string& s) { fuzz::safetensors_parser(s); }) >= 3);
    CHECK(replay("config_loader", [](const std::string& s) { fuzz::config_loader(s); }) >= 3);
}

TEST_CASE("fuzz regressions: serve's request handler answers every seed with 200 or 400 and one JSON line", "[fuzz][serve]") {
    CHECK(replay("translate_request", [](const std::string& s) { fuzz::translate_request(s); }) >= 4);
}

TEST_CASE("fuzz regressions: the seeds exercise the success paths, not only errors", "[fuzz]") {
    // A seed corpus that only ever throws would not guide the fuzzer into the code after parsing.
    const fs::path root = fs::path(SEQGRAD_SOURCE_DIR) / "tests" / "fuzz" / "corpus";
    const std::string words = slurp(root / "corpus_reader" / "words.tsv");
    const auto corpus = data::read_corpus_string(std::string_view(words).substr(1), data::WordTokenizer(),
                                                 data::WordTokenizer());
    CHECK(corpus.pairs.size() == 3);
    CHECK(data::Vocab::from_json(slurp(root / "vocab_loader" / "small.json")).size() > data::Vocab::num_specials);
    CHECK(parse_safetensors(slurp(root / "safetensors_parser" / "two_tensors.safetensors"), "seed").tensors.size() == 3);
    CHECK(models::Seq2SeqConfig::from_json(slurp(root / "config_loader" / "default.json"), "seed").src_vocab == 30);
}

TEST_CASE("fuzz regressions: a vocabulary with a number too large for a double is a seqgrad::Error", "[fuzz]") {
    // vocab_loader crash: nlohmann throws out_of_range.406 ("number overflow") while parsing 1E400,
    // and from_json caught only parse_error, so the exception escaped as an "internal error".
    const std::string text = R"({"format": "seqgrad-vocab", "version": 1E400, "tokens": []})";
    CHECK_THROWS_AS(data::Vocab::from_json(text, "v.json"), Error);
    CHECK_THROWS_WITH(data::Vocab::from_json(text, "v.json"),
                      Catch::Contains("vocab v.json: not valid JSON") && Catch::Contains("number overflow"));
    // The split file had the same catch.
    CHECK_THROWS_WITH(data::split_from_json(R"({"n": 1e999})", "s.json"),
                      Catch::Contains("split s.json: not valid JSON") && Catch::Contains("number overflow"));
}

TEST_CASE("fuzz regressions: a model config whose format or version has the wrong JSON type is a seqgrad::Error",
          "[fuzz]") {
    // config_loader crash: j.value("format", "") throws json::type_error when "format" is a number.
    for (const char* raw : {"40", "null", "[1]", "{\"a\": 1}", "true"}) {
        INFO(raw);
        CHECK_THROWS_AS(models::Seq2SeqConfig::from_json(config_with("format", raw), "c.json"), Error);
        CHECK_THROWS_WITH(models::Seq2SeqConfig::from_json(config_with("format", raw), "c.json"),
                          Catch::Contains("c.json: not a seqgrad model config"));
        CHECK_THROWS_WITH(models::Seq2SeqConfig::from_json(config_with("version", raw), "c.json"),
                          Catch::Contains("c.json: unsupported config version"));
    }
}

TEST_CASE("fuzz regressions: model config sizes must be JSON integers (no truncation, no float-to-int UB)", "[fuzz]") {
    // get<int64_t>() silently truncated 2.5 to 2 and converted 1e300 with undefined behaviour
    // (UBSan: float-cast-overflow); the sizes are now checked to be integers.
    for (const char* key : {"hidden_size", "embed_size", "num_layers", "src_vocab", "window", "max_source_len"}) {
        for (const char* raw : {"2.5", "1e300", "\"16\"", "18446744073709551615"}) {
            INFO(key << " = " << raw);
            CHECK_THROWS_AS(models::Seq2SeqConfig::from_json(config_with(key, raw), "c.json"), Error);
            CHECK_THROWS_WITH(models::Seq2SeqConfig::from_json(config_with(key, raw), "c.json"),
                              Catch::Contains("c.json") && Catch::Contains(key));
        }
    }
    // A float that happens to be whole is still refused: the writer always writes integers.
    CHECK_THROWS_WITH(models::Seq2SeqConfig::from_json(config_with("hidden_size", "16.0"), "c.json"),
                      Catch::Contains("\"hidden_size\" must be an integer, got 16.0"));
    CHECK(models::Seq2SeqConfig::from_json(config_with("hidden_size", "16"), "c.json").hidden_size == 16);
}
