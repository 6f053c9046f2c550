// The Transformer as the translator's second architecture (models/transformer/transformer_model.h):
// config.json round trip with "architecture": "transformer", make_model's case, the shared greedy and
// beam decoders equal to full recomputation (the one-pass teacher-forced network re-run on every
// prefix), reorder, and a tiny copy task trained, saved, loaded and evaluated through models::train.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "helpers.h"
#include "models/decoding.h"
#include "models/inspect.h"
#include "models/trainer.h"
#include "models/transformer/transformer_model.h"
#include "models/translator.h"

using namespace seqgrad;

namespace {

models::ModelConfig tiny_config() {
    models::ModelConfig c;
    c.architecture = "transformer";
    c.options_json = R"({"d_model": 8, "heads": 2, "encoder_layers": 2, "decoder_layers": 2, "ff": 16,
                         "dropout": 0.0, "label_smoothing": 0.1, "max_len": 64})";
    c.set_vocab_sizes(11, 13);
    return c;
}

// Full recomputation: the network run on the whole prefix <sos> y_1 .. y_t, the last row's
// log-probabilities.
std::vector<double> full_log_probs(const models::TransformerModel& m, const std::vector<std::int64_t>& src,
                                  const std::vector<std::int64_t>& prefix) {
    NoGradGuard no_grad;
    std::vector<std::int64_t> tin = {models::kSos};
    tin.insert(tin.end(), prefix.begin(), prefix.end());
    const auto S = static_cast<std::int64_t>(src.size()), T = static_cast<std::int64_t>(tin.size());
    const Tensor z = m.net().logits(Tensor::ids(src, {1, S}), {S}, Tensor::ids(tin, {1, T}));  // [1, T, V]
    const std::int64_t V = z.size(2);
    const std::vector<double> all = log_softmax(reshape(z, {T, V}), 1).to_vector();
    return {all.end() - V, all.end()};
}

}  // namespace

TEST_CASE("transformer model: config.json round trip and make_model's case", "[transformer][model]") {
    const auto names = models::architecture_names();
    CHECK(std::find(names.begin(), names.end(), "transformer") != names.end());
    const models::ModelConfig c = tiny_config();
    Generator gen(1);
    const auto made = models::make_model(c, &gen);
    const auto* t = dynamic_cast<const models::TransformerModel*>(made.get());
    REQUIRE(t != nullptr);
    CHECK(t->net().config().d_model == 8);
    CHECK(t->net().config().num_decoder_layers == 2);
    CHECK(t->net().config().tgt_vocab == 13);
    CHECK(made->target_vocab_size() == 13);

    const std::string json = made->model_config().to_json();
    const nlohmann::json j = nlohmann::json::parse(json);
    CHECK(j["architecture"] == "transformer");
    CHECK(j["heads"] == 2);
    CHECK(j["activation"] == "relu");
    const models::ModelConfig back = models::ModelConfig::from_json(json, "config.json");
    CHECK(back.architecture == "transformer");
    CHECK(back.src_vocab() == 11);
    CHECK(nlohmann::json::parse(back.to_json()) == j);
    // The tensor names are the network's own: no prefix for the adapter.
    Generator gen2(1);
    const auto again = models::make_model(back, &gen2);
    const auto a = made->named_parameters(), b = again->named_parameters();
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].first == b[i].first);
    CHECK(a.front().first.rfind("src_embed.", 0) == 0);

    CHECK_THROWS_WITH(models::transformer_config_from_json(R"({"heads": "four"})", "m.json"),
                      Catch::Contains("m.json: bad transformer config: "));
    CHECK_THROWS_AS(models::transformer_config_from_json(R"({"heads": "four"})", "m.json"), Error);
}

TEST_CASE("transformer model: greedy and beam through the shared decoders equal full recomputation",
          "[transformer][model][decoding]") {
    Generator gen(5);
    const auto made = models::make_model(tiny_config(), &gen);
    made->eval();
    const auto& m = dynamic_cast<const models::TransformerModel&>(*made);
    const std::vector<std::int64_t> src = {4, 7, 5, 9, 6};
    const std::int64_t max_len = 7;

    // Greedy: each token is the argmax of the full recomputation on the prefix so far.
    const models::Hypothesis g = models::greedy(m, src, max_len);
    std::vector<std::int64_t> expect;
    double log_prob = 0;
    for (std::int64_t t = 0; t < max_len; ++t) {
        const std::vector<double> lp = full_log_probs(m, src, expect);
        const auto best = static_cast<std::int64_t>(std::max_element(lp.begin(), lp.end()) - lp.begin());
        log_prob += lp[static_cast<std::size_t>(best)];
        if (best == models::kEos) break;
        expect.push_back(best);
    }
    CHECK(g.ids == expect);
    CHECK(g.log_prob == Approx(log_prob).margin(1e-4));
    // One attention row per step (the <eos> step included when it came), each a distribution over the source.
    REQUIRE(!g.attention.empty());
    for (const auto& row : g.attention) {
        REQUIRE(row.size() == src.size());
        double sum = 0;
        for (float w : row) sum += w;
        CHECK(sum == Approx(1.0).margin(1e-5));
    }

    // Beam: the best hypothesis's log-probability is what the full recomputation gives its tokens,
    // and it is at least greedy's.
    const models::Hypothesis b = models::beam_search(m, src, 3, max_len, 0.0);
    double full = 0;
    std::vector<std::int64_t> prefix;
    for (std::size_t i = 0; i <= b.ids.size(); ++i) {
        if (i == b.ids.size() && static_cast<std::int64_t>(b.ids.size()) == max_len) break;  // ended by max_len
        const std::vector<double> lp = full_log_probs(m, src, prefix);
        const std::int64_t y = i < b.ids.size() ? b.ids[i] : models::kEos;
        full += lp[static_cast<std::size_t>(y)];
        prefix.push_back(y);
    }
    CHECK(b.log_prob == Approx(full).margin(1e-4));
    CHECK(b.log_prob >= g.log_prob - 1e-6);
}

// Decoding asked for more tokens than the positional table has rows stops at the table's end instead
// of failing (the translator asks for 2 * source + 10 tokens: 110 for a 50-token source).
TEST_CASE("transformer model: greedy and beam stop at the positional table's end", "[transformer][model][decoding]") {
    models::ModelConfig c = tiny_config();
    c.options_json = R"({"d_model": 8, "heads": 2, "encoder_layers": 1, "decoder_layers": 1, "ff": 16,
                         "dropout": 0.0, "label_smoothing": 0.1, "max_len": 6})";
    c.set_vocab_sizes(11, 13);
    Generator gen(3);
    const auto made = models::make_model(c, &gen);
    made->eval();
    CHECK(made->max_target_len() == 6);
    // Untrained, the model rarely ends a sentence: every hypothesis below is at most 6 tokens and the
    // calls do not throw.
    const std::vector<std::int64_t> src = {4, 7, 5};
    const models::Hypothesis g = models::greedy(*made, src, 40);
    CHECK(g.ids.size() <= 6);
    for (const auto& h : models::greedy_batch(*made, {src, {5, 6}}, 40)) CHECK(h.ids.size() <= 6);
    const models::Hypothesis b = models::beam_search(*made, src, 3, 40, 0.0);
    CHECK(b.ids.size() <= 6);
    // Within the table, a limit below it is kept.
    CHECK(models::greedy(*made, src, 2).ids.size() <= 2);
    // The recurrent model has no such bound.
    models::ModelConfig rnn;
    rnn.set_vocab_sizes(11, 13);
    CHECK(models::make_model(rnn, &gen)->max_target_len() == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("transformer model: reorder keeps the chosen rows of the cache and the memory", "[transformer][model]") {
    Generator gen(6);
    const auto m = models::make_model(tiny_config(), &gen);
    m->eval();
    NoGradGuard no_grad;
    const Tensor src = Tensor::ids({4, 5, 6, 7, 8, 9, 10, 4, 0, 0}, {2, 5});
    auto both = m->start_decoding(src, {5, 3});
    auto only_b = m->start_decoding(Tensor::ids({9, 10, 4}, {1, 3}), {3});
    (void)both->step(Tensor::ids({models::kSos, models::kSos}, {2}));
    (void)only_b->step(Tensor::ids({models::kSos}, {1}));
    both->reorder({1, 1, 0});
    CHECK(both->rows() == 3);
    CHECK(both->memory().size(0) == 3);
    const models::DecoderStep s3 = both->step(Tensor::ids({5, 5, 5}, {3}));
    const models::DecoderStep s1 = only_b->step(Tensor::ids({5}, {1}));
    CHECK(s3.layer_weights.size() == 2);  // every decoder layer's cross-attention, [rows, heads, 1, S]
    CHECK(s3.layer_weights[0].shape() == Shape{3, 2, 1, 5});
    CHECK(s3.layer_scores[0].shape() == Shape{3, 2, 1, 5});
    const auto l3 = s3.logits.to_vector(), l1 = s1.logits.to_vector();
    const std::size_t V = l1.size();
    for (std::size_t v = 0; v < V; ++v) {
        CHECK(l3[v] == Approx(l1[v]).margin(1e-5));
        CHECK(l3[V + v] == Approx(l1[v]).margin(1e-5));
    }
    CHECK_THROWS_MATCHES(both->reorder({3}), IndexError,
                         Catch::Matchers::Message("Transformer decoder: reorder row 3 out of range for 3 rows"));
}

TEST_CASE("transformer model: a tiny copy task trains, saves, loads and evaluates through models::train",
          "[transformer][model][translator]") {
    seqgrad::testing::TempDir dir("transformer_copy");
    models::TrainOptions o;
    o.data.task = "copy";
    o.data.max_len = 8;
    o.data.source_tokenizer = o.data.target_tokenizer = "word";
    o.max_pairs = 1000;
    o.out_dir = dir / "run";
    o.architecture = "transformer";
    o.architecture_options = R"({"d_model": 32, "heads": 2, "encoder_layers": 1, "decoder_layers": 1, "ff": 64,
                                 "dropout": 0.0, "label_smoothing": 0.1})";
    o.epochs = 15;
    o.lr = 0.005;
    o.schedule = "noam";
    o.bleu_examples = 50;
    o.quiet = true;
    std::ostringstream log;
    const models::TrainResult r = models::train(o, log);
    REQUIRE(r.history.size() == 15);
    CHECK(r.history.back().valid_loss < r.history.front().valid_loss);

    const models::Translator t = models::Translator::load(dir / "run");
    CHECK(t.model().model_config().architecture == "transformer");
    const models::EvalResult greedy = models::evaluate(t, dir / "run", {.split = "test"});
    const models::EvalResult beam = models::evaluate(t, dir / "run", {.split = "test", .beam = 3});
    INFO("greedy exact " << greedy.exact_match << ", beam exact " << beam.exact_match);
    CHECK(greedy.exact_match > 0.5);
    CHECK(beam.exact_match > 0.5);

    // inspect, head by head: every head's ∂L/∂e from the backward pass is its softmax Jacobian
    // applied to ∂L/∂α, and the gradient reaches the source positions.
    const models::StepInspection insp = models::inspect_step(t, "a b c", 0);
    REQUIRE(insp.heads.size() == 2);  // 1 decoder layer x 2 heads
    for (const auto& h : insp.heads) {
        CHECK(h.layer == 0);
        REQUIRE(h.weights.size() == 3);
        double sum = 0, dsum = 0, dw = 0;
        for (double w : h.weights) sum += w;
        for (double d : h.dscores) dsum += d;
        for (double d : h.dweights) dw += std::abs(d);
        CHECK(sum == Approx(1.0).margin(1e-5));
        CHECK(dsum == Approx(0.0).margin(1e-5));  // a softmax's input gradients sum to zero
        CHECK(dw > 0);                              // the weights are on the loss's path
        CHECK(h.identity_max_error < 1e-5);
    }
    double reach = 0;
    for (double v : insp.dencoder_norm) reach += v;
    CHECK(reach > 0);
}

TEST_CASE("transformer model: attention maps per layer and head agree with the decoder steps",
          "[transformer][model][attention]") {
    Generator gen(9);
    const auto made = models::make_model(tiny_config(), &gen);
    made->eval();
    const std::vector<std::int64_t> src = {4, 7, 5, 9};
    const std::vector<std::int64_t> tgt_in = {models::kSos, 6, 8};
    const std::vector<models::AttentionMap> maps =
        made->attention_maps(Tensor::ids(src, {1, 4}), Tensor::ids(tgt_in, {1, 3}));
    // 2 encoder layers + 2 decoder layers x (self, cross), 2 heads each.
    REQUIRE(maps.size() == 12);
    std::map<std::string, int> kinds;
    for (const auto& m : maps) {
        ++kinds[m.kind];
        const std::size_t rows = m.kind == "encoder self" ? 4 : 3, cols = m.kind == "decoder self" ? 3 : 4;
        REQUIRE(m.weights.size() == rows);
        for (std::size_t r = 0; r < rows; ++r) {
            REQUIRE(m.weights[r].size() == cols);
            double sum = 0;
            for (float w : m.weights[r]) sum += w;
            CHECK(sum == Approx(1.0).margin(1e-5));
            // The decoder's self-attention is causal: nothing above the diagonal.
            if (m.kind == "decoder self")
                for (std::size_t c = r + 1; c < cols; ++c) CHECK(m.weights[r][c] == 0.0f);
        }
    }
    CHECK(kinds == std::map<std::string, int>{{"cross", 4}, {"decoder self", 4}, {"encoder self", 4}});

    // The cross maps of the one-pass run are the weights the incremental decoder reports step by step.
    NoGradGuard no_grad;
    auto dec = made->start_decoding(Tensor::ids(src, {1, 4}), {4});
    for (std::size_t t = 0; t < tgt_in.size(); ++t) {
        const models::DecoderStep s = dec->step(Tensor::ids({tgt_in[t]}, {1}));
        REQUIRE(s.layer_weights.size() == 2);
        for (const auto& m : maps) {
            if (m.kind != "cross") continue;
            const std::vector<double> step = s.layer_weights[static_cast<std::size_t>(m.layer)].to_vector();  // [1, h, S]
            for (std::size_t c = 0; c < 4; ++c)
                CHECK(m.weights[t][c] == Approx(step[static_cast<std::size_t>(m.head) * 4 + c]).margin(1e-5));
        }
    }

    CHECK_THROWS_WITH(made->attention_maps(Tensor::ids({4, 7, 4, 7}, {2, 2}), Tensor::ids(tgt_in, {1, 3})),
                      Catch::Contains("TransformerModel::attention_maps: one sentence pair"));
}
