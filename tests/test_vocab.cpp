// Vocabulary: specials, build order and min_freq, lookups, encode/decode, JSON and file round trips,
// and every load error naming the file and the problem.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "core/error.h"
#include "models/data/vocab.h"
#include "helpers.h"

using namespace seqgrad::data;
using Tokens = std::vector<std::string>;
namespace fs = std::filesystem;

namespace {

// A fresh empty folder under the system temp dir, removed at scope exit.
using seqgrad::testing::TempDir;

std::string file_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

}  // namespace

TEST_CASE("vocab: the four specials sit at fixed ids", "[vocab]") {
    const Vocab v;
    CHECK(v.size() == 4);
    CHECK(Vocab::pad_id == 0);
    CHECK(Vocab::sos_id == 1);
    CHECK(Vocab::eos_id == 2);
    CHECK(Vocab::unk_id == 3);
    CHECK(v.tokens() == Tokens{"<pad>", "<sos>", "<eos>", "<unk>"});
    CHECK(v.id("<pad>") == 0);
    CHECK(v.id("<eos>") == 2);
    CHECK(v.token(3) == "<unk>");
}

TEST_CASE("vocab: build orders by frequency then token, honours min_freq and max_size", "[vocab]") {
    const std::vector<Tokens> seqs = {{"b", "a", "c", "a"}, {"b", "a", "d"}, {"é", "d", "<eos>"}};
    // a:3  b:2  d:2  c:1  é:1   (the literal "<eos>" is not counted again)
    const Vocab v = Vocab::build(seqs);
    CHECK(v.tokens() == Tokens{"<pad>", "<sos>", "<eos>", "<unk>", "a", "b", "d", "c", "é"});
    CHECK(Vocab::build(seqs, {.min_freq = 2}).tokens() == Tokens{"<pad>", "<sos>", "<eos>", "<unk>", "a", "b", "d"});
    CHECK(Vocab::build(seqs, {.min_freq = 4}).size() == 4);
    CHECK(Vocab::build(seqs, {.min_freq = 1, .max_size = 6}).tokens() ==
          Tokens{"<pad>", "<sos>", "<eos>", "<unk>", "a", "b"});
    CHECK_THROWS_AS(Vocab::build(seqs, {.min_freq = 1, .max_size = 3}), seqgrad::ShapeError);
    // The order does not depend on the order of the input.
    const std::vector<Tokens> shuffled = {{"é", "d", "<eos>"}, {"d", "a", "b"}, {"a", "c", "a", "b"}};
    CHECK(Vocab::build(shuffled) == v);
}

TEST_CASE("vocab: id, token, encode and decode", "[vocab]") {
    const Vocab v = Vocab::build({{"le", "chat", "le"}, {"chien"}});
    const std::int64_t le = v.id("le"), chat = v.id("chat");
    CHECK(le == 4);  // most frequent first
    CHECK(v.contains("chat"));
    CHECK_FALSE(v.contains("souris"));
    CHECK(v.id("souris") == Vocab::unk_id);
    CHECK(v.token(chat) == "chat");
    CHECK_THROWS_AS(v.token(7), seqgrad::IndexError);
    CHECK_THROWS_AS(v.token(-1), seqgrad::IndexError);
    CHECK_THROWS_WITH(v.token(7), Catch::Contains("id 7 is out of range") && Catch::Contains("7 tokens"));

    CHECK(v.encode({"le", "chat", "souris"}) == std::vector<std::int64_t>{le, chat, Vocab::unk_id});
    CHECK(v.encode({"le"}, true, true) == std::vector<std::int64_t>{Vocab::sos_id, le, Vocab::eos_id});
    // decode skips <pad>/<sos>, stops at the first <eos>, shows <unk>.
    CHECK(v.decode({Vocab::sos_id, le, Vocab::pad_id, chat, Vocab::unk_id, Vocab::eos_id, le, Vocab::pad_id}) ==
          Tokens{"le", "chat", "<unk>"});
    CHECK(v.decode({}).empty());
    CHECK_THROWS_AS(v.decode({le, 99}), seqgrad::IndexError);
    CHECK_THROWS_AS(v.decode({le, -5}), seqgrad::IndexError);
}

TEST_CASE("vocab: JSON round trip keeps every token, including quotes and accents", "[vocab]") {
    const Vocab v = Vocab::build({{"é", "«", "»", "\"", "\\", "l'homme", "œuvre", "▁", "a\tb"}});
    const std::string json = v.to_json();
    CHECK_THAT(json, Catch::StartsWith("{\n  \"format\": \"seqgrad-vocab\",\n  \"version\": 1,"));
    const Vocab back = Vocab::from_json(json);
    CHECK(back == v);
    CHECK(back.id("l'homme") == v.id("l'homme"));
    // Any equivalent JSON layout loads too.
    CHECK(Vocab::from_json(R"({"tokens":["<pad>","<sos>","<eos>","<unk>","x"],"version":1,"format":"seqgrad-vocab"})")
              .tokens()
              .back() == "x");
}

TEST_CASE("vocab: save writes atomically and load reads it back", "[vocab]") {
    TempDir dir("vocab");
    const fs::path path = dir.path / "src_vocab.json";
    const Vocab v = Vocab::build({{"le", "chat", "été"}});
    v.save(path.string());
    CHECK(Vocab::load(path.string()) == v);
    CHECK(file_text(path) == v.to_json());
    // Overwriting replaces the file; no temporary file is left behind.
    const Vocab w = Vocab::build({{"autre"}});
    w.save(path.string());
    CHECK(Vocab::load(path.string()) == w);
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(dir.path)) {
        (void)e;
        ++files;
    }
    CHECK(files == 1);
    // A folder that does not exist: an error naming the path.
    const std::string missing = (dir.path / "no-such-dir" / "v.json").string();
    CHECK_THROWS_AS(v.save(missing), seqgrad::Error);
    CHECK_THROWS_WITH(v.save(missing), Catch::Contains(missing));
}

TEST_CASE("vocab: every load error names the file and the problem", "[vocab]") {
    TempDir dir("vocab-errors");
    auto load_text = [&](const std::string& name, const std::string& text) {
        const fs::path p = dir.path / name;
        write(p, text);
        return p.string();
    };
    auto expect = [&](const std::string& name, const std::string& text, const std::string& problem) {
        const std::string p = load_text(name, text);
        INFO(name);
        CHECK_THROWS_AS(Vocab::load(p), seqgrad::Error);
        CHECK_THROWS_WITH(Vocab::load(p), Catch::Contains("vocab " + p + ": ") && Catch::Contains(problem));
    };
    const std::string ok_head = R"({"format":"seqgrad-vocab","version":1,"tokens":)";
    expect("bad.json", "{\"format\": ", "not valid JSON");
    expect("empty.json", "", "not valid JSON");
    expect("badutf8.json", ok_head + "[\"<pad>\",\"<sos>\",\"<eos>\",\"<unk>\",\"\xC3(\"]}", "not valid JSON");
    expect("array.json", "[1, 2]", "expected a JSON object");
    expect("noformat.json", R"({"version":1,"tokens":[]})", "\"format\" is missing");
    expect("format.json", R"({"format":"seqgrad-split","version":1,"tokens":[]})",
           "\"format\" is \"seqgrad-split\", expected \"seqgrad-vocab\"");
    expect("version.json", R"({"format":"seqgrad-vocab","version":2,"tokens":[]})", "unsupported \"version\" 2");
    expect("notokens.json", R"({"format":"seqgrad-vocab","version":1})", "\"tokens\" is missing");
    expect("tokensobj.json", ok_head + "{}}", "\"tokens\" is a JSON object, expected an array");
    expect("nonstring.json", ok_head + R"(["<pad>","<sos>","<eos>","<unk>",5]})", "tokens[4] is a JSON number");
    expect("short.json", ok_head + R"(["<pad>","<sos>"]})", "only 2 tokens");
    expect("specials.json", ok_head + R"(["<sos>","<pad>","<eos>","<unk>","a"]})",
           "tokens[0] is \"<sos>\" but must be \"<pad>\"");
    expect("unk.json", ok_head + R"(["<pad>","<sos>","<eos>","unk","a"]})", "tokens[3] is \"unk\" but must be \"<unk>\"");
    expect("dup.json", ok_head + R"(["<pad>","<sos>","<eos>","<unk>","a","b","a"]})",
           "duplicate token \"a\" at tokens[4] and tokens[6]");
    expect("dupspecial.json", ok_head + R"(["<pad>","<sos>","<eos>","<unk>","<pad>"]})", "duplicate token \"<pad>\"");
    expect("emptytok.json", ok_head + R"(["<pad>","<sos>","<eos>","<unk>",""]})", "tokens[4] is the empty string");

    const std::string missing = (dir.path / "missing.json").string();
    CHECK_THROWS_WITH(Vocab::load(missing), Catch::Equals("vocab: cannot open " + missing + ": No such file or directory"));
    CHECK_THROWS_WITH(Vocab::load(dir.path.string()), "vocab: cannot read " + dir.path.string() + ": Is a directory");
    // The string form names its origin the same way.
    CHECK_THROWS_WITH(Vocab::from_json("[]", "inline"), Catch::Contains("vocab inline: expected a JSON object"));
    CHECK_THROWS_WITH(Vocab(Tokens{"<pad>", "<sos>", "<eos>", "<unk>", "\xFF"}),
                      Catch::Contains("tokens[4] is not valid UTF-8"));
}
