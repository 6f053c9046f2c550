// Decoding options and machine-readable output: n-best lists with GNMT length-penalty scores
// (models/decoding.h), the JSON of a translation with every layer's and head's attention
// (models/translation_json.h), and the request handling of `seqgrad serve` (models/translate_service.h).
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/random.h"
#include "helpers.h"
#include "models/decoding.h"
#include "models/translate_service.h"
#include "models/translation_json.h"
#include "models/translator.h"

using namespace seqgrad;

namespace {

models::ModelConfig tiny_transformer() {
    models::ModelConfig c;
    c.architecture = "transformer";
    c.options_json = R"({"d_model": 8, "heads": 2, "encoder_layers": 2, "decoder_layers": 3, "ff": 16,
                         "dropout": 0.0, "label_smoothing": 0.0, "max_len": 64})";
    return c;
}

models::ModelConfig tiny_rnn() {
    models::ModelConfig c;
    c.rnn.hidden_size = 8;
    c.rnn.embed_size = 8;
    c.rnn.attention = "additive";
    return c;
}

// A translator with random weights over a few words: enough to decode, score and print.
models::Translator tiny_translator(const models::ModelConfig& config, std::uint64_t seed = 3) {
    const data::Vocab src = data::Vocab::build({{"le", "chat", "noir", "dort", "."}});
    const data::Vocab tgt = data::Vocab::build({{"the", "black", "cat", "sleeps", "."}});
    models::DataSource source;
    source.file = "none.tsv";
    Generator gen(seed);
    models::Translator t(config, src, tgt, source, &gen);
    t.model().eval();
    return t;
}

}  // namespace

TEST_CASE("decoding: the greedy choice and its log-probability, fast path against log_softmax and argmax",
          "[decoding][greedy]") {
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    // Hand-checkable rows: in [0, ln 3, 0 (35 times)] the maximum has p = 3 / (1 + 3 + 35); a tie
    // takes the first; rows of 37 cross the kernels' vector widths; NaN and inf rows.
    std::vector<float> values(6 * 37, 0.0f);
    values[0] = 0.0f, values[1] = std::log(3.0f);  // row 0: [0, ln 3, 0, ...] over 37 entries
    for (int k = 0; k < 37; ++k) values[37 + k] = static_cast<float>((k * 7) % 11) - 3.0f;  // row 1: ties at 7
    for (int k = 0; k < 37; ++k) values[2 * 37 + k] = -0.25f * static_cast<float>(k);       // row 2: the first
    values[3 * 37 + 36] = 50.0f;                                                            // row 3: the last
    values[4 * 37 + 5] = nan;                                                               // row 4: NaN
    values[5 * 37 + 2] = inf;                                                               // row 5: +inf (log_softmax: NaN)
    const Tensor logits = Tensor::from_float(values, {6, 37});
    const models::GreedyChoices fast = models::greedy_choices(logits);
    models::GreedyChoices plain;
    {
        FastPathGuard off(false);
        plain = models::greedy_choices(logits);
    }
    REQUIRE(fast.ids.size() == 6);
    REQUIRE(fast.log_probs.size() == 6);
    CHECK(fast.ids == plain.ids);
    CHECK(fast.ids[0] == 1);
    CHECK(fast.log_probs[0] == Approx(std::log(3.0 / 39.0)).epsilon(1e-6));
    CHECK(fast.ids[1] == 3);  // (3 * 7) % 11 = 10: the first k with the row's maximum, 10 - 3 = 7
    CHECK(fast.ids[2] == 0);
    CHECK(fast.ids[3] == 36);
    for (std::size_t b = 0; b < 6; ++b) {
        INFO("row " << b);
        if (std::isnan(plain.log_probs[b])) {
            CHECK(std::isnan(fast.log_probs[b]));
            continue;
        }
        CHECK(fast.log_probs[b] == Approx(plain.log_probs[b]).epsilon(1e-6).margin(1e-6));
    }
    // Random rows of a vocabulary's width, as a decoder gives them.
    Generator gen(11);
    const Tensor wide = mul(randn({8, 1119}, {}, &gen), 3.0);
    const models::GreedyChoices a = models::greedy_choices(wide);
    FastPathGuard off(false);
    const models::GreedyChoices b = models::greedy_choices(wide);
    CHECK(a.ids == b.ids);
    for (std::size_t r = 0; r < 8; ++r) CHECK(a.log_probs[r] == Approx(b.log_probs[r]).epsilon(1e-6));
}

TEST_CASE("n-best: the K best hypotheses, best first, scored with the GNMT length penalty", "[decoding][n-best]") {
    for (const auto& config : {tiny_rnn(), tiny_transformer()}) {
        INFO(config.architecture);
        const models::Translator t = tiny_translator(config);
        const std::vector<std::int64_t> src = t.source_vocab().encode({"le", "chat", "noir", "dort"});
        for (double alpha : {0.0, 0.6, 1.5}) {
            INFO("alpha " << alpha);
            const auto list = models::decode_n_best(t.model(), src, {.beam = 4, .n_best = 4, .length_penalty = alpha, .max_len = 6});
            REQUIRE(list.size() == 4);
            for (std::size_t i = 0; i < list.size(); ++i) {
                const auto& h = list[i];
                // score = log p / ((5 + len) / 6)^alpha, len counting <eos>
                CHECK(h.score == Approx(h.log_prob / std::pow((5.0 + static_cast<double>(h.ids.size() + 1)) / 6.0, alpha)));
                if (i > 0) CHECK(list[i - 1].score >= h.score);
                CHECK(h.log_prob <= 0);
            }
            for (std::size_t i = 0; i < list.size(); ++i)  // distinct hypotheses
                for (std::size_t j = i + 1; j < list.size(); ++j) CHECK(list[i].ids != list[j].ids);
            // The first is what beam_search returns.
            const models::Hypothesis best = models::beam_search(t.model(), src, 4, 6, alpha);
            CHECK(best.ids == list.front().ids);
            CHECK(best.score == Approx(list.front().score));
        }
        // Beam 1: greedy, with its score.
        const auto one = models::decode_n_best(t.model(), src, {.beam = 1, .n_best = 1, .length_penalty = 0.6, .max_len = 6});
        const models::Hypothesis g = models::greedy(t.model(), src, 6);
        REQUIRE(one.size() == 1);
        CHECK(one.front().ids == g.ids);
        CHECK(one.front().score == Approx(g.log_prob / models::length_penalty(g.ids.size() + 1, 0.6)));
        CHECK(models::length_penalty(1, 0.0) == 1.0);
        CHECK(models::length_penalty(7, 1.0) == Approx(2.0));  // (5 + 7) / 6
        CHECK_THROWS_WITH(models::decode_n_best(t.model(), src, {.beam = 2, .n_best = 3, .max_len = 6}),
                          "beam_search: n-best 3 must be from 1 to the beam size 2");
        CHECK_THROWS_WITH(models::decode_n_best(t.model(), src, {.beam = 2, .n_best = 0, .max_len = 6}),
                          "beam_search: n-best 0 must be from 1 to the beam size 2");
    }
}

TEST_CASE("n-best: a larger length penalty never makes the best hypothesis shorter", "[decoding][n-best]") {
    const models::Translator t = tiny_translator(tiny_rnn(), 11);
    const std::vector<std::int64_t> src = t.source_vocab().encode({"le", "chat", "dort", "."});
    std::size_t previous = 0;
    for (double alpha : {0.0, 0.5, 1.0, 2.0, 5.0}) {
        const auto h = models::decode_n_best(t.model(), src, {.beam = 5, .n_best = 1, .length_penalty = alpha, .max_len = 8});
        // Among the same finished candidates, dividing by a penalty that grows with length favours the longer.
        CHECK(h.front().ids.size() + 1 >= previous);
        previous = h.front().ids.size() + 1;
    }
}

TEST_CASE("translation JSON: tokens, hypotheses, scores and the attention of every layer and head", "[json][n-best]") {
    const models::Translator t = tiny_translator(tiny_transformer());
    const auto list = t.translate_n_best("le chat noir", {.beam = 3, .n_best = 2, .layer_attention = true});
    REQUIRE(list.size() == 2);
    const nlohmann::json j = nlohmann::json::parse(models::translation_json(7, "le chat noir", list));
    CHECK(j["id"] == 7);
    CHECK(j["source"] == "le chat noir");
    CHECK(j["source_tokens"] == std::vector<std::string>{"le", "chat", "noir"});
    REQUIRE(j["hypotheses"].size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
        const auto& h = j["hypotheses"][i];
        CHECK(h["tokens"] == list[i].output_tokens);
        CHECK(h["text"] == list[i].text);
        CHECK(h["score"].get<double>() == Approx(list[i].score).margin(1e-6));
        CHECK(h["log_prob"].get<double>() == Approx(list[i].log_prob).margin(1e-6));
        const std::size_t steps = list[i].attention.size();
        CHECK((steps == list[i].output_tokens.size() + 1 || steps == list[i].output_tokens.size()));
        REQUIRE(h["attention"].size() == steps);
        for (const auto& row : h["attention"]) CHECK(row.size() == 3);
        // [layer][head][step][source]: 3 decoder layers, 2 heads.
        const auto& layers = h["layer_attention"];
        REQUIRE(layers.size() == 3);
        for (const auto& layer : layers) {
            REQUIRE(layer.size() == 2);
            for (const auto& head : layer) {
                REQUIRE(head.size() == steps);
                for (const auto& row : head) {
                    REQUIRE(row.size() == 3);
                    double sum = 0;
                    for (const auto& w : row) sum += w.get<double>();
                    CHECK(sum == Approx(1.0).margin(1e-3));  // a softmax over the source, rounded to 4 decimals
                }
            }
        }
        // The summary heatmap is the last layer's heads averaged.
        for (std::size_t s = 0; s < steps; ++s)
            for (std::size_t k = 0; k < 3; ++k)
                CHECK(h["attention"][s][k].get<double>() ==
                      Approx((layers[2][0][s][k].get<double>() + layers[2][1][s][k].get<double>()) / 2).margin(2e-4));
    }
    // A recurrent model has one attention and no layer_attention; without attention, "attention" is null.
    models::ModelConfig plain = tiny_rnn();
    plain.rnn.attention = "none";
    const models::Translator p = tiny_translator(plain);
    const nlohmann::json q = nlohmann::json::parse(
        models::translation_json(0, "le chat", p.translate_n_best("le chat", {.layer_attention = true})));
    CHECK(q["hypotheses"][0]["attention"].is_null());
    CHECK_FALSE(q["hypotheses"][0].contains("layer_attention"));
    // A reference, and an error object; invalid UTF-8 in the echoed source is replaced, not thrown.
    const models::JsonReference ref{"the cat", {"the", "cat"}};
    const nlohmann::json r = nlohmann::json::parse(models::translation_json(1, "le chat", p.translate_n_best("le chat", {}), &ref));
    CHECK(r["reference"] == "the cat");
    CHECK(r["reference_tokens"] == std::vector<std::string>{"the", "cat"});
    const nlohmann::json e = nlohmann::json::parse(models::translation_error_json(2, "bad \xff", "the reason"));
    CHECK(e["error"] == "the reason");
    CHECK(e["id"] == 2);
}

TEST_CASE("serve requests: good ones translate, bad ones get a 400 with a one-line reason", "[serve]") {
    const models::Translator t = tiny_translator(tiny_rnn());
    const models::ServiceLimits limits{.max_sentences = 3, .max_sentence_bytes = 40, .max_beam = 4};
    const models::ServiceReply ok =
        models::handle_translate_request(t, R"({"sentences": ["le chat noir", "dort .", "  "], "beam": 3, "n_best": 2})", limits);
    CHECK(ok.status == 200);
    REQUIRE(!ok.body.empty());
    CHECK(ok.body.back() == '\n');
    CHECK(std::count(ok.body.begin(), ok.body.end(), '\n') == 1);
    const nlohmann::json j = nlohmann::json::parse(ok.body);
    REQUIRE(j["translations"].size() == 3);
    const auto expect = t.translate_n_best("le chat noir", {.beam = 3, .n_best = 2});
    CHECK(j["translations"][0]["hypotheses"].size() == 2);
    CHECK(j["translations"][0]["hypotheses"][0]["text"] == expect[0].text);
    CHECK(j["translations"][1]["id"] == 1);
    CHECK_THAT(j["translations"][2]["error"].get<std::string>(), Catch::Contains("has no tokens"));  // the others still translated

    struct Case {
        std::string body, reason;
    };
    const std::vector<Case> cases = {
        {"{not json", "serve: the request body is not valid JSON"},
        {"", "serve: the request body is not valid JSON"},
        {R"(["le chat"])", "serve: the request must be a JSON object with \"sentences\", got JSON array"},
        {R"({"sentence": ["le chat"]})",
         "serve: unknown key \"sentence\" (valid: sentences, beam, n_best, length_penalty, layer_attention)"},
        {R"({"beam": 2})", "serve: the request needs \"sentences\": a list of strings"},
        {R"({"sentences": "le chat"})", "serve: the request needs \"sentences\": a list of strings"},
        {R"({"sentences": []})", "serve: \"sentences\" is empty"},
        {R"({"sentences": ["a", "b", "c", "d"]})", "serve: 4 sentences in one request; at most 3 are served"},
        {R"({"sentences": ["le", 3]})", "serve: sentence 1 is a number, not a string"},
        {R"({"sentences": ["le chat le chat le chat le chat le chat le chat"]})",
         "serve: sentence 0 has 47 bytes; at most 40 are served"},
        {R"({"sentences": ["le"], "beam": 0})", "serve: \"beam\" must be an integer from 1 to 4, got 0"},
        {R"({"sentences": ["le"], "beam": 2.5})", "serve: \"beam\" must be an integer from 1 to 4, got 2.5"},
        {R"({"sentences": ["le"], "beam": 2, "n_best": 3})", "serve: \"n_best\" must be an integer from 1 to 2, got 3"},
        {R"({"sentences": ["le"], "length_penalty": "high"})",
         "serve: \"length_penalty\" must be a number from 0 to 5, got \"high\""},
        {R"({"sentences": ["le"], "length_penalty": -1})", "serve: \"length_penalty\" must be a number from 0 to 5, got -1"},
        {R"({"sentences": ["le"], "layer_attention": 1})", "serve: \"layer_attention\" must be true or false, got 1"},
    };
    for (const auto& c : cases) {
        INFO(c.body);
        const models::ServiceReply r = models::handle_translate_request(t, c.body, limits);
        CHECK(r.status == 400);
        CHECK(std::count(r.body.begin(), r.body.end(), '\n') == 1);
        CHECK(nlohmann::json::parse(r.body)["error"] == c.reason);
    }
}
