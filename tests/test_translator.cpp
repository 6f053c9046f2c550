// The translator end to end: a tiny model learns a tiny task in seconds (fixed seed, asserted by
// accuracy), decoding (greedy, beam), the model folder, evaluation, and config errors.
#include <algorithm>
#include <filesystem>
#include <omp.h>
#include <sstream>

#include "helpers.h"
#include "model_helpers.h"
#include "models/bench.h"
#include "models/fileio.h"
#include "models/data/toy_tasks.h"
#include "models/trainer.h"
#include "models/translator.h"

using namespace seqgrad;
namespace fs = std::filesystem;

namespace {
std::string temp_dir(const std::string& name) {
    const fs::path p = fs::temp_directory_path() / ("seqgrad_test_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p.string();
}

// Reversing 3-5 digits: small enough to learn in a few seconds with attention.
std::string reverse_corpus(const std::string& dir, std::size_t n) {
    return seqgrad::testing::write_digit_corpus((fs::path(dir) / "reverse.tsv").string(), n, 7, 3, 5);
}

models::TrainOptions tiny_options(const std::string& data, const std::string& out) {
    models::TrainOptions o;
    o.data.file = data;
    o.out_dir = out;
    o.model.hidden_size = 48;
    o.model.embed_size = 16;
    o.model.attention = "additive";
    o.epochs = 6;
    o.batch_size = 32;
    o.lr = 5e-3;
    o.seed = 3;
    o.quiet = true;
    return o;
}
}  // namespace

TEST_CASE("translator: a tiny attention model learns to reverse digits", "[translator][e2e]") {
    const std::string dir = temp_dir("e2e");
    const std::string data = reverse_corpus(dir, 1500);
    std::ostringstream log;
    models::TrainResult r = models::train(tiny_options(data, dir + "/model"), log);
    REQUIRE(r.history.size() == 6);
    CHECK(r.history.back().train_loss < r.history.front().train_loss);
    for (const char* f : {"config.json", "source_vocab.json", "target_vocab.json", "split.json", "model.safetensors",
                          "last.safetensors", "optimizer.safetensors", "metrics.jsonl", "loss.svg"})
        CHECK(fs::exists(fs::path(dir) / "model" / f));

    const models::Translator t = models::Translator::load(dir + "/model");
    models::EvalResult ev = models::evaluate(t, dir + "/model", {.split = "test", .data_file = {}});
    INFO("test exact match " << ev.exact_match << ", BLEU " << ev.bleu);
    CHECK(ev.n == 150);
    CHECK(ev.exact_match >= 0.9);
    CHECK(ev.token_accuracy >= 0.95);
    CHECK(ev.perplexity < 1.5);

    models::Translation x = t.translate("1 2 3 4");
    CHECK(x.text == "4 3 2 1");
    REQUIRE(x.attention.size() == 5);  // 4 tokens + <eos>
    for (const auto& row : x.attention) {
        double s = 0;
        for (float a : row) s += a;
        CHECK(s == Approx(1.0).epsilon(1e-4));
    }
    // The first output attends most to the last source token: the crossed alignment of reversal.
    CHECK(std::max_element(x.attention[0].begin(), x.attention[0].end()) - x.attention[0].begin() == 3);

    // Beam search with k = 1 is greedy; a wider beam never finds a worse-scoring hypothesis.
    models::Translation b1 = t.translate("5 0 7 3", 1), b4 = t.translate("5 0 7 3", 4);
    CHECK(b1.text == "3 7 0 5");
    CHECK(b4.text == "3 7 0 5");

    // Many sentences at once are decoded in chunks of 64 sorted by length; the results come back in
    // input order, each as decoding it alone gives.
    std::vector<std::vector<std::string>> sources;
    for (int i = 0; i < 150; ++i) {
        std::vector<std::string> s;
        for (int k = 0; k < 3 + (i * 7) % 3; ++k) s.push_back(std::to_string((i + 3 * k) % 10));
        sources.push_back(s);
    }
    const auto together = t.translate_tokens(sources);
    REQUIRE(together.size() == sources.size());
    for (std::size_t i = 0; i < sources.size(); i += 7) {
        std::string joined;
        for (const auto& w : sources[i]) joined += (joined.empty() ? "" : " ") + w;
        CAPTURE(i, joined);
        CHECK(together[i] == t.translate(joined).output_tokens);
    }
    fs::remove_all(dir);
}

TEST_CASE("translator: model folder errors name the file", "[translator][errors]") {
    const std::string dir = temp_dir("errors");
    CHECK_THROWS_WITH(models::Translator::load(dir + "/missing"), Catch::Contains("does not exist"));
    const std::string data = reverse_corpus(dir, 200);
    auto o = tiny_options(data, dir + "/model");
    o.epochs = 1;
    std::ostringstream log;
    models::train(o, log);
    // A vocabulary from another run does not match the config.
    data::Vocab other = data::Vocab::build({{"a", "b", "c"}});
    other.save(dir + "/model/target_vocab.json");
    CHECK_THROWS_WITH(models::Translator::load(dir + "/model"), Catch::Contains("do not match the model config"));
    // A broken config.
    write_file_atomic(dir + "/model/config.json", "{not json");
    CHECK_THROWS_WITH(models::Translator::load(dir + "/model"), Catch::Contains("config.json") && Catch::Contains("JSON"));
    fs::remove_all(dir);
}

TEST_CASE("translator: config JSON round trip and validation", "[translator]") {
    models::Seq2SeqConfig c;
    c.src_vocab = 10;
    c.tgt_vocab = 12;
    c.attention = "local-p";
    c.cell = models::CellKind::LSTM;
    c.bidirectional = true;
    const auto back = models::Seq2SeqConfig::from_json(c.to_json(), "test");
    CHECK(back.attention == "local-p");
    CHECK(back.cell == models::CellKind::LSTM);
    CHECK(back.bidirectional);
    c.attention = "fancy";
    CHECK_THROWS_WITH(c.validate(), Catch::Contains("fancy") && Catch::Contains("additive"));
    CHECK_THROWS_WITH(models::Seq2SeqConfig::from_json("{\"format\": \"other\"}", "cfg.json"), Catch::Contains("cfg.json"));
}

TEST_CASE("translator: every attention variant and cell trains a step without error", "[translator]") {
    const std::string dir = temp_dir("variants");
    const std::string data = reverse_corpus(dir, 120);
    for (const char* attention : {"none", "dot", "general", "concat", "location", "scaled-dot", "cosine", "local-m", "local-p"}) {
        for (const char* cell : {"gru", "lstm"}) {
            auto o = tiny_options(data, dir + "/m");
            o.model.attention = attention;
            o.model.cell = models::parse_cell_kind(cell);
            // dot, scaled-dot, cosine and local-m (general inside, fine) compare q and k directly, so
            // their keys must have the decoder's size: bidirectional only with the others.
            const std::string a = attention;
            o.model.bidirectional = std::string(cell) == "lstm" && a != "dot" && a != "scaled-dot" && a != "cosine";
            o.model.input_feeding = std::string(attention) == "general";
            o.epochs = 1;
            fs::remove_all(dir + "/m");
            std::ostringstream log;
            INFO(attention << " " << cell);
            models::TrainResult r = models::train(o, log);
            CHECK(r.history.size() == 1);
            CHECK(std::isfinite(r.history[0].valid_loss));
            const models::Translator t = models::Translator::load(dir + "/m");
            CHECK_NOTHROW(t.translate("1 2 3", 3));
        }
    }
    fs::remove_all(dir);
}

namespace {
// The source position the output token `out` attended to most (its row's argmax), or "" when
// `out` is not in the translation.
std::string most_attended(const models::Translation& x, const std::string& out) {
    for (std::size_t i = 0; i < x.output_tokens.size(); ++i) {
        if (x.output_tokens[i] != out) continue;
        const auto& row = x.attention.at(i);
        return x.source_tokens.at(static_cast<std::size_t>(std::max_element(row.begin(), row.end()) - row.begin()));
    }
    return "";
}

// The weight the row of output token `out` puts on the source tokens `on` together (0 when `out` is
// not in the translation).
double weight_on(const models::Translation& x, const std::string& out, const std::vector<std::string>& on) {
    for (std::size_t i = 0; i < x.output_tokens.size(); ++i) {
        if (x.output_tokens[i] != out) continue;
        double w = 0;
        for (std::size_t j = 0; j < x.source_tokens.size(); ++j)
            if (std::find(on.begin(), on.end(), x.source_tokens[j]) != on.end()) w += x.attention.at(i).at(j);
        return w;
    }
    return 0;
}

// ne ... pas around the verb, as the model places them. "ne" looks at the English negation: its row
// puts more weight on `negation` (the "do/does not" span) than any row but pas's does, by a margin
// of 0.1. "pas" follows the verb, and where it looks differs from run to run: on "not" in most
// seeds, split between "not" and the verb in others, wholly on the verb in seeds 7 and 8 (and in a
// sanitizer build, whose rounding changes the trajectory). What holds in every run is that it
// looks at the negation and the verb it closes: most of its weight (>= 0.7) is on those.
void check_negation_rows(const models::Translation& x, const std::vector<std::string>& negation, const std::string& verb) {
    double others = 0;
    for (const auto& out : x.output_tokens)
        if (out != "ne" && out != "pas") others = std::max(others, weight_on(x, out, negation));
    INFO("largest weight on the negation outside ne/pas: " << others);
    CHECK(weight_on(x, "ne", negation) > others + 0.1);
    std::vector<std::string> closing = negation;
    closing.push_back(verb);
    CHECK(weight_on(x, "pas", closing) >= 0.7);
}
}  // namespace

// The two attention pictures on `enfr`, asserted: an adjective after its noun makes a
// crossed alignment ("voiture" looks at "car", "rouge" at "red"), and ne ... pas look at the English
// negation and the verb they wrap (check_negation_rows). A reduced model (6,000 pairs, hidden 64,
// 12 epochs, 1 thread so the run is bit-identical) learns both in about 5 s of CPU. The assertions
// are the ones that hold for every seed and build, not for one trajectory: seeds 1-8 of a Release
// build all translate both sentences right and peak on the crossed noun and adjective with weight
// >= 0.97; "ne" puts >= 0.79 on the negation where every other row but pas's puts <= 0.21; "pas"
// puts >= 0.85 on the negation and the verb together (where within that it looks varies, see above).
TEST_CASE("translator: enfr attention crosses adjective and noun and ne pas attend to not", "[translator][e2e]") {
    const std::string dir = temp_dir("enfr_attention");
    models::TrainOptions o;
    o.data.task = "enfr";
    std::tie(o.data.source_tokenizer, o.data.target_tokenizer) = models::task_tokenizers("enfr");
    o.out_dir = dir + "/model";
    o.max_pairs = 6000;
    o.model.attention = "additive";
    o.model.hidden_size = 64;
    o.model.embed_size = 32;
    o.epochs = 12;
    o.batch_size = 32;
    o.lr = 5e-3;
    o.bleu_examples = 50;
    o.seed = 2;
    o.quiet = true;
    {
        const int previous = omp_get_max_threads();
        models::set_num_threads(1);
        std::ostringstream log;
        models::train(o, log);
        models::set_num_threads(previous);
    }
    const models::Translator t = models::Translator::load(o.out_dir);

    const models::Translation adj = t.translate("we do not sell the red car");
    INFO(adj.text);
    REQUIRE(adj.text == "nous ne vendons pas la voiture rouge");
    CHECK(most_attended(adj, "voiture") == "car");  // crossed: the noun first ...
    CHECK(most_attended(adj, "rouge") == "red");    // ... then its adjective
    CHECK(most_attended(adj, "la") == "the");
    check_negation_rows(adj, {"do", "not"}, "sell");

    const models::Translation neg = t.translate("she does not eat the apple");
    INFO(neg.text);
    REQUIRE(neg.text == "elle ne mange pas la pomme");
    CHECK(most_attended(neg, "mange") == "eat");
    check_negation_rows(neg, {"does", "not"}, "eat");
    fs::remove_all(dir);
}

// --source-tokenizer and --target-tokenizer name the tokenizers of the file's columns; with --reverse
// the second column becomes the source, and the translator must tokenize and detokenize each side as
// training did (it once kept the unswapped pair: every source token unknown, outputs glued together).
TEST_CASE("translator: --reverse with two different tokenizers tokenizes each side as training did", "[translator]") {
    const std::string dir = temp_dir("reverse_tokenizers");
    static const char* words[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};
    std::string tsv;
    data::SplitMix64 rng(7);
    for (int i = 0; i < 150; ++i) {
        std::string spelled, digits;
        for (int k = 0; k < 3; ++k) {
            const auto d = rng.below(10);
            if (k) spelled += ' ';
            spelled += words[d];
            digits += static_cast<char>('0' + d);
        }
        tsv += spelled + "\t" + digits + "\n";  // "seven nine one<TAB>791"
    }
    write_file_atomic(dir + "/num.tsv", tsv);
    models::TrainOptions o;
    o.data.file = dir + "/num.tsv";
    o.data.source_tokenizer = "word";  // the first column: words
    o.data.target_tokenizer = "char";  // the second column: digits
    o.data.reverse = true;             // translate digits -> words
    o.out_dir = dir + "/model";
    o.model.hidden_size = 16;
    o.model.embed_size = 16;
    o.epochs = 1;
    o.bleu_examples = 5;
    o.quiet = true;
    std::ostringstream log;
    models::train(o, log);
    const models::Translator t = models::Translator::load(o.out_dir);
    const data::Corpus c = models::load_corpus(t.data_source());
    REQUIRE(c.pairs.size() == 150);
    for (std::size_t i = 0; i < 5; ++i) {
        const auto& p = c.pairs[i];
        INFO(p.source_text << " -> " << p.target_text);
        CHECK(p.source.size() == 3);  // digits, one token each
        CHECK(t.source_tokenizer().tokenize(p.source_text) == p.source);
        CHECK(t.target_tokenizer().detokenize(p.target) == p.target_text);
        for (const auto& token : t.source_tokenizer().tokenize(p.source_text)) CHECK(t.source_vocab().contains(token));
    }
    CHECK(t.translate("791").source_tokens == std::vector<std::string>{"7", "9", "1"});
    fs::remove_all(dir);
}
