// Subword vocabularies (models/data/sentencepiece.h): SentencePiece models trained in memory, their
// round trip, determinism, the model folder's source.spm/target.spm trained on the TRAINING split only,
// translate/eval detokenizing, --resume reading them back, and the errors. Skipped (with a warning)
// in a build without SentencePiece.
#include <filesystem>
#include <sstream>

#include "helpers.h"
#include "model_helpers.h"
#include "models/data/sentencepiece.h"
#include "models/data/toy_tasks.h"
#include "models/fileio.h"
#include "models/trainer.h"
#include "models/translator.h"

using namespace seqgrad;
namespace fs = std::filesystem;

namespace {

bool available() {
    if (!data::sentencepiece_available()) WARN("built without SentencePiece: skipped");
    return data::sentencepiece_available();
}

std::vector<std::string> english(std::size_t n) {
    std::vector<std::string> out;
    for (const auto& p : data::generate_task("enfr", 5, n)) out.push_back(p.first);
    return out;
}

std::string enfr_corpus(const seqgrad::testing::TempDir& dir, std::size_t n) {
    const std::string path = dir / "enfr.tsv";
    write_file_atomic(path, data::to_tsv(data::generate_task("enfr", 9, n)));
    return path;
}

models::TrainOptions sp_options(const std::string& corpus, const std::string& out) {
    models::TrainOptions o = seqgrad::testing::small_run(corpus, out, 16, 16, 1, 10);
    o.data.source_tokenizer = "sentencepiece";
    o.data.target_tokenizer = "sentencepiece";
    o.data.vocab_size = 120;
    return o;
}

}  // namespace

TEST_CASE("sentencepiece: unigram and BPE models round-trip text and are the same for the same input", "[tokenizer][sentencepiece]") {
    if (!available()) return;
    const auto sentences = english(400);
    for (const char* type : {"unigram", "bpe"}) {
        INFO(type);
        const std::string model = data::train_sentencepiece(sentences, {.vocab_size = 80, .model_type = type, .seed = 1});
        CHECK(model == data::train_sentencepiece(sentences, {.vocab_size = 80, .model_type = type, .seed = 1}));
        const data::SentencePieceTokenizer t(model, "m.spm");
        CHECK(t.name() == "sentencepiece");
        CHECK(t.pieces() <= 80);
        CHECK(t.pieces() > 20);
        for (std::size_t i = 0; i < 20; ++i) {
            const auto pieces = t.tokenize(sentences[i]);
            REQUIRE(!pieces.empty());
            // Case-folded (nmt_nfkc_cf), so the text comes back lower-case.
            std::string lower;
            for (char c : sentences[i]) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            CHECK(t.detokenize(pieces) == lower);
        }
        // A word never seen splits into known pieces rather than one unknown token.
        const auto pieces = t.tokenize("the dogs");
        CHECK(pieces.size() >= 2);
        CHECK(t.detokenize(pieces) == "the dogs");
    }
}

TEST_CASE("sentencepiece: training into a model folder uses the training split only, and translate and eval detokenize",
          "[tokenizer][sentencepiece][translator]") {
    if (!available()) return;
    seqgrad::testing::TempDir dir("sp_train");
    const std::string corpus = enfr_corpus(dir, 300);
    models::TrainOptions o = sp_options(corpus, dir / "model");
    std::ostringstream log;
    models::train(o, log);
    REQUIRE(fs::exists(dir / "model/source.spm"));
    REQUIRE(fs::exists(dir / "model/target.spm"));

    // The stored models are exactly those trained on the training split's texts.
    const models::ModelFolder folder(o.out_dir);
    const data::Split split = folder.read_split();
    const data::Corpus c = models::load_corpus(o.data);
    std::vector<std::string> src, tgt;
    for (auto i : split.train) {
        src.push_back(c.pairs[i].source_text);
        tgt.push_back(c.pairs[i].target_text);
    }
    const data::SentencePieceOptions sp{.vocab_size = 120, .model_type = "unigram", .seed = o.seed};
    CHECK(folder.read_sentencepiece("source") == data::train_sentencepiece(src, sp));
    CHECK(folder.read_sentencepiece("target") == data::train_sentencepiece(tgt, sp));
    // With the held-out sentences as well, the model would differ.
    std::vector<std::string> all;
    for (const auto& p : c.pairs) all.push_back(p.source_text);
    CHECK(folder.read_sentencepiece("source") != data::train_sentencepiece(all, sp));

    const models::Translator t = models::Translator::load(o.out_dir);
    CHECK(t.source_tokenizer().name() == "sentencepiece");
    const models::Translation tr = t.translate("the red car");
    CHECK(tr.source_tokens.front().rfind("\xE2\x96\x81", 0) == 0);  // "▁the": pieces carry the space
    CHECK(tr.text.find("\xE2\x96\x81") == std::string::npos);      // detokenized
    CHECK(tr.text == t.target_tokenizer().detokenize(tr.output_tokens));
    // Scores count words, the same as a word-level model's: eval's BLEU is on the detokenized words.
    CHECK(t.scoring_tokens(t.target_tokenizer().tokenize("la voiture rouge")) == std::vector<std::string>{"la", "voiture", "rouge"});
    const models::EvalResult r = models::evaluate(t, o.out_dir, {.limit = 10});
    CHECK(r.n == 10);
    CHECK(r.source_unk_rate == 0.0);  // every piece of these sentences is in the vocabulary
    for (const auto& h : r.hypotheses) CHECK(h.find("\xE2\x96\x81") == std::string::npos);

    // --resume reads the stored models and continues.
    models::TrainOptions resume = o;
    resume.resume = true;
    resume.epochs = 2;
    const models::TrainResult again = models::train(resume, log);
    CHECK(again.history.size() == 2);
}

TEST_CASE("sentencepiece: --vocab-size caps a word-level vocabulary to the same budget", "[tokenizer][vocab]") {
    seqgrad::testing::TempDir dir("word_budget");
    models::TrainOptions o = sp_options(enfr_corpus(dir, 300), dir / "model");
    o.data.source_tokenizer = "word";
    o.data.target_tokenizer = "word";
    o.data.vocab_size = 30;
    std::ostringstream log;
    models::train(o, log);
    const models::Translator t = models::Translator::load(o.out_dir);
    CHECK(t.source_vocab().size() == 30);
    CHECK(t.target_vocab().size() == 30);
    const models::EvalResult r = models::evaluate(t, o.out_dir, {.limit = 20});
    CHECK(r.source_unk_rate > 0.0);  // the words beyond the 26 most frequent are <unk>
}

TEST_CASE("sentencepiece: errors name the problem", "[tokenizer][sentencepiece][errors]") {
    if (!available()) return;
    const auto sentences = english(50);
    CHECK_THROWS_WITH(data::train_sentencepiece(sentences, {.vocab_size = 50, .model_type = "wordpiece"}),
                      "sentencepiece: unknown model type 'wordpiece' (valid: unigram, bpe)");
    CHECK_THROWS_WITH(data::train_sentencepiece({}, {}), "sentencepiece: no training sentences");
    CHECK_THROWS_AS(data::train_sentencepiece(sentences, {.vocab_size = 5}), Error);
    CHECK_THROWS_WITH(data::train_sentencepiece(sentences, {.vocab_size = 5}),
                      Catch::StartsWith("sentencepiece: training a unigram model of 5 pieces failed: "));
    CHECK_THROWS_WITH(data::SentencePieceTokenizer("not a model", "dir/source.spm"),
                      Catch::StartsWith("dir/source.spm: not a SentencePiece model: "));
    const data::SentencePieceTokenizer t(data::train_sentencepiece(sentences, {.vocab_size = 40}), "m");
    CHECK_THROWS_WITH(t.tokenize("caf\xe9"), Catch::StartsWith("sentencepiece tokenizer: invalid UTF-8 at byte 3: "));
    // A translator whose side is sentencepiece needs the model.
    models::DataSource source;
    source.file = "x.tsv";
    source.source_tokenizer = "sentencepiece";
    models::ModelConfig config;
    config.rnn.hidden_size = 4;
    config.rnn.embed_size = 4;
    CHECK_THROWS_WITH(models::Translator(config, data::Vocab::build({{"a"}}), data::Vocab::build({{"b"}}), source),
                      "Translator: a sentencepiece side needs its trained model (SideTokenizers)");
    // A damaged model file in a folder names it.
    seqgrad::testing::TempDir dir("sp_damaged");
    models::TrainOptions o = sp_options(enfr_corpus(dir, 200), dir / "model");
    std::ostringstream log;
    models::train(o, log);
    write_file_atomic(dir / "model/target.spm", "garbage");
    CHECK_THROWS_WITH(models::Translator::load(o.out_dir),
                      Catch::StartsWith(dir / "model/target.spm" + ": not a SentencePiece model: "));
}
