// Compatibility: model folders written before the model interface existed still load, translate,
// evaluate and resume exactly as they did. tests/fixtures/<name>/ are two small folders trained with
// the code of that time (the command that made each is in tests/fixtures/README.md); <name>.golden.json
// holds what that code computed from them, doubles as hexadecimal floats: every comparison is bit for
// bit on the arithmetic that wrote them, and within 1e-5 on another (see agree()). With SEQGRAD_WRITE_GOLDEN=1 the test writes the golden files instead of comparing
// (only ever done once, with the old code).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/safetensors.h"
#include "helpers.h"
#include "models/fileio.h"
#include "models/trainer.h"
#include "models/translator.h"

using namespace seqgrad;
namespace fs = std::filesystem;

namespace {

std::string hex(double v) { return fmt::format("{:a}", v); }

// FNV-1a over the bits of every attention weight, so the test sees a change in any of them.
std::string attention_hash(const std::vector<std::vector<float>>& rows) {
    std::uint64_t h = 1469598103934665603ull;
    for (const auto& r : rows)
        for (float f : r) {
            std::uint32_t bits;
            std::memcpy(&bits, &f, sizeof bits);
            for (int i = 0; i < 4; ++i) {
                h ^= (bits >> (8 * i)) & 0xff;
                h *= 1099511628211ull;
            }
        }
    return fmt::format("{:016x}", h);
}

struct Fixture {
    std::string name;
    std::string cell, attention;
    std::int64_t layers;
    bool bidirectional, input_feeding;
    std::uint64_t seed;
};

// The options the fixture was trained with (tests/fixtures/README.md), one epoch more.
models::TrainOptions resume_options(const Fixture& f, const std::string& out) {
    models::TrainOptions o;
    o.data.task = "dates";
    o.data.source_tokenizer = o.data.target_tokenizer = "char";
    o.max_pairs = 240;
    o.model.hidden_size = 12;
    o.model.embed_size = 8;
    o.model.cell = models::parse_cell_kind(f.cell);
    o.model.attention = f.attention;
    o.model.num_layers = f.layers;
    o.model.bidirectional = f.bidirectional;
    o.model.input_feeding = f.input_feeding;
    o.batch_size = 16;
    o.epochs = 3;
    o.lr = 0.01;
    o.bleu_examples = 20;
    o.seed = f.seed;
    o.resume = true;
    o.quiet = true;
    o.out_dir = out;
    return o;
}

nlohmann::json compute(const Fixture& f) {
    const fs::path source = fs::path(SEQGRAD_SOURCE_DIR) / "tests" / "fixtures" / f.name;
    testing::TempDir tmp("compat");
    const std::string dir = tmp / f.name;
    fs::copy(source, dir, fs::copy_options::recursive);

    nlohmann::json out;
    const models::Translator t = models::Translator::load(dir);
    data::Corpus corpus = models::load_corpus(t.data_source());
    const data::Split split = data::load_split(dir + "/split.json");
    for (std::size_t k = 0; k < 6 && k < split.test.size(); ++k) {
        const std::string sentence = corpus.pairs[split.test[k]].source_text;
        for (std::int64_t beam : {1, 3}) {
            const models::Translation tr = t.translate(sentence, beam);
            out["translations"].push_back({{"source", sentence},
                                           {"beam", beam},
                                           {"text", tr.text},
                                           {"log_prob", hex(tr.log_prob)},
                                           {"attention", attention_hash(tr.attention)}});
        }
    }
    const models::EvalResult e = models::evaluate(t, dir, {.split = "test"});
    out["eval"] = {{"perplexity", hex(e.perplexity)}, {"bleu", hex(e.bleu)}, {"hypotheses", e.hypotheses}};

    std::ostringstream log;
    const models::TrainResult r = models::train(resume_options(f, dir), log);
    REQUIRE(r.history.size() == 3);
    const auto& m = r.history.back();
    out["resume"] = {{"train_loss", hex(m.train_loss)}, {"valid_loss", hex(m.valid_loss)},
                     {"valid_bleu", hex(m.valid_bleu)}, {"grad_norm", hex(m.grad_norm)}};
    // The weights after the resumed epoch, tensor by tensor (names included: they must not change).
    const SafetensorsFile last = load_safetensors(dir + "/last.safetensors");
    for (const auto& [name, tensor] : last.tensors) {
        double s = 0;
        for (double v : tensor.to_vector()) s += v;
        out["resume"]["weights"][name] = hex(s);
    }
    return out;
}

// Two numbers of the golden files (hexadecimal floats) agree: bit for bit, or within 1e-5 relative.
// The golden files were written on a machine without AVX-512, with OpenBLAS products; another gemm
// backend (oneDNN), other row kernels (AVX-512) or a -march=native build round differently in the
// last bits (each of those is checked against the plain path by tests of its own). A model that loads
// or computes differently is off by far more than that.
bool agree(const nlohmann::json& now, const nlohmann::json& then) {
    const double a = std::strtod(now.get<std::string>().c_str(), nullptr);
    const double b = std::strtod(then.get<std::string>().c_str(), nullptr);
    return a == b || std::abs(a - b) <= 1e-5 * std::max({std::abs(a), std::abs(b), 1e-3});
}

void check_fixture(const Fixture& f) {
    const std::string golden = (fs::path(SEQGRAD_SOURCE_DIR) / "tests" / "fixtures" / (f.name + ".golden.json")).string();
    const nlohmann::json now = compute(f);
    if (std::getenv("SEQGRAD_WRITE_GOLDEN")) {
        write_file_atomic(golden, now.dump(2) + "\n");
        WARN("wrote " << golden);
        return;
    }
    const nlohmann::json then = nlohmann::json::parse(read_file(golden));
    // Bit for bit when this machine's arithmetic is the recording one; then the attention weights are
    // compared too (by their hash).
    const bool exact = now == then;
    if (!exact) WARN(f.name << ": not bit for bit here (another gemm backend, kernels or CPU); compared within 1e-5");
    REQUIRE(now["translations"].size() == then["translations"].size());
    for (std::size_t i = 0; i < now["translations"].size(); ++i) {
        INFO("translation " << i << ": " << then["translations"][i].dump() << "\nnow: " << now["translations"][i].dump());
        const auto& a = now["translations"][i];
        const auto& b = then["translations"][i];
        CHECK(a["source"] == b["source"]);
        CHECK(a["beam"] == b["beam"]);
        CHECK(a["text"] == b["text"]);
        CHECK(agree(a["log_prob"], b["log_prob"]));
    }
    CHECK(now["eval"]["hypotheses"] == then["eval"]["hypotheses"]);
    CHECK(agree(now["eval"]["perplexity"], then["eval"]["perplexity"]));
    CHECK(agree(now["eval"]["bleu"], then["eval"]["bleu"]));
    for (const char* key : {"train_loss", "valid_loss", "valid_bleu", "grad_norm"}) {
        INFO("resume " << key);
        CHECK(agree(now["resume"][key], then["resume"][key]));
    }
    CHECK(now["resume"]["weights"].size() == then["resume"]["weights"].size());
    for (auto& [name, sum] : then["resume"]["weights"].items()) {
        INFO("tensor " << name);
        REQUIRE(now["resume"]["weights"].contains(name));
        CHECK(agree(now["resume"]["weights"][name], sum));
    }
}

}  // namespace

TEST_CASE("compat: a GRU model folder from before the model interface translates, evaluates and resumes as it did",
          "[compat][translator]") {
    check_fixture({.name = "rnn_gru_v1", .cell = "gru", .attention = "additive", .layers = 1, .bidirectional = true,
                   .input_feeding = false, .seed = 5});
}

TEST_CASE("compat: an LSTM input-feeding model folder from before the model interface translates, evaluates and "
          "resumes as it did",
          "[compat][translator]") {
    check_fixture({.name = "rnn_lstm_feeding_v1", .cell = "lstm", .attention = "general", .layers = 2,
                   .bidirectional = false, .input_feeding = true, .seed = 6});
}
