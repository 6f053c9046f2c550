// The model interface with a second architecture: a tiny "bag of embeddings" translator that lives
// only in this file. It is registered with register_architecture, trained by models::train, decoded
// greedily and with beam search by models/decoding, saved and loaded through the model folder, and
// inspected by inspect_step: the same paths the recurrent model takes, with no file of models/ or
// apps/ knowing it. Its teacher-forced loss runs all target positions in one pass (as a Transformer
// does) while its StepDecoder keeps a per-row state, so the tests below also check what any
// architecture must satisfy: the steps reproduce the one-pass loss, and reorder moves the rows.
//
// The bag model, for source x [B, S] and decoder input y [B, T]:
//   memory_s = E_src[x_s] + P_src[s]                       [B, S, D]
//   h_t      = sum_{u <= t} E_tgt[y_u] + P_tgt[t] + R[len - t]   [B, T, D]   (a bag of the tokens so
//              far, the position, and how many source tokens remain: R[0] is where <eos> belongs)
//   α_t      = masked_softmax(h_t · memory_s)              [B, T, S]
//   logits_t = W [h_t; Σ_s α_ts memory_s] + b              [B, T, V]
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/fused_ops.h"
#include "helpers.h"
#include "model_helpers.h"
#include "layers/attention.h"
#include "layers/embedding.h"
#include "layers/linear.h"
#include "models/data/toy_tasks.h"
#include "models/decoding.h"
#include "models/fileio.h"
#include "models/inspect.h"
#include "models/trainer.h"
#include "models/translator.h"

using namespace seqgrad;
namespace fs = std::filesystem;

namespace {

struct BagConfig {
    std::int64_t src_vocab = 0, tgt_vocab = 0, dim = 24, max_len = 32;
    static BagConfig from(const models::ModelConfig& c) {
        const auto j = nlohmann::json::parse(c.options_json);
        BagConfig b;
        b.src_vocab = j.at("src_vocab");
        b.tgt_vocab = j.at("tgt_vocab");
        b.dim = j.value("dim", std::int64_t{24});
        b.max_len = j.value("max_len", std::int64_t{32});
        return b;
    }
};

class BagModel;

class BagDecoder final : public models::StepDecoder {
public:
    BagDecoder(const BagModel& m, Tensor memory, Tensor keep, std::vector<std::int64_t> lengths);
    std::int64_t rows() const override { return memory_.size(0); }
    models::DecoderStep step(const Tensor& previous) override;
    void reorder(const std::vector<std::int64_t>& keep) override {
        const Tensor idx = Tensor::ids(keep, {static_cast<std::int64_t>(keep.size())});
        memory_ = index_select(memory_, 0, idx);
        keep_ = index_select(keep_, 0, idx);
        if (bag_.defined()) bag_ = index_select(bag_, 0, idx);
        std::vector<std::int64_t> lengths;
        for (auto k : keep) lengths.push_back(lengths_.at(static_cast<std::size_t>(k)));
        lengths_ = std::move(lengths);
    }
    Tensor memory() const override { return memory_; }

private:
    const BagModel& m_;
    Tensor memory_, keep_, bag_;  // bag_: [rows, D] the sum of the target embeddings so far
    std::vector<std::int64_t> lengths_;
    std::int64_t t_ = 0;
};

class BagModel final : public models::TranslationModel {
public:
    BagModel(const BagConfig& c, Generator* gen) : c_(c) {
        src_embed = register_module("src_embed", std::make_shared<nn::Embedding>(nn::EmbeddingOptions{
            .num_embeddings = c.src_vocab, .embedding_dim = c.dim, .padding_idx = models::kPad, .generator = gen}));
        tgt_embed = register_module("tgt_embed", std::make_shared<nn::Embedding>(nn::EmbeddingOptions{
            .num_embeddings = c.tgt_vocab, .embedding_dim = c.dim, .padding_idx = models::kPad, .generator = gen}));
        src_pos = register_module("src_pos", std::make_shared<nn::Embedding>(nn::EmbeddingOptions{
            .num_embeddings = c.max_len, .embedding_dim = c.dim, .generator = gen}));
        tgt_pos = register_module("tgt_pos", std::make_shared<nn::Embedding>(nn::EmbeddingOptions{
            .num_embeddings = c.max_len, .embedding_dim = c.dim, .generator = gen}));
        remaining = register_module("remaining", std::make_shared<nn::Embedding>(nn::EmbeddingOptions{
            .num_embeddings = c.max_len, .embedding_dim = c.dim, .generator = gen}));
        out = register_module("out", std::make_shared<nn::Linear>(nn::LinearOptions{
            .in_features = 2 * c.dim, .out_features = c.tgt_vocab, .generator = gen}));
    }
    std::string type_name() const override { return "BagModel"; }
    models::ModelConfig model_config() const override {
        models::ModelConfig m;
        m.architecture = "bag";
        m.options_json = nlohmann::json{{"src_vocab", c_.src_vocab}, {"tgt_vocab", c_.tgt_vocab}, {"dim", c_.dim},
                                        {"max_len", c_.max_len}}.dump();
        return m;
    }
    std::int64_t target_vocab_size() const override { return c_.tgt_vocab; }
    bool has_attention() const override { return true; }

    // memory [B, S, D] and the mask of real tokens [B, S]
    std::pair<Tensor, Tensor> encode(const Tensor& src, const std::vector<std::int64_t>& lengths) const {
        return encode_lookup((*src_embed)(src), lengths);
    }
    // The same from the source lookup E_src[src] [B, S, D].
    std::pair<Tensor, Tensor> encode_lookup(const Tensor& lookup, const std::vector<std::int64_t>& lengths) const {
        const std::int64_t B = lookup.size(0), S = lookup.size(1);
        std::vector<float> keep(static_cast<std::size_t>(B * S), 0.0f);
        for (std::int64_t b = 0; b < B; ++b)
            for (std::int64_t s = 0; s < lengths.at(static_cast<std::size_t>(b)); ++s) keep[b * S + s] = 1.0f;
        std::vector<std::int64_t> pos(static_cast<std::size_t>(S));
        for (std::int64_t s = 0; s < S; ++s) pos[s] = std::min(s, c_.max_len - 1);
        Tensor memory = add(lookup, (*src_pos)(Tensor::ids(pos, {S})));
        return {memory, Tensor::from_float(keep, {B, S})};
    }
    // queries h [B, T, D] against memory -> (logits [B, T, V], weights [B, T, S], scores [B, T, S])
    std::tuple<Tensor, Tensor, Tensor> attend(const Tensor& h, const Tensor& memory, const Tensor& keep) const {
        const std::int64_t T = h.size(1);
        Tensor scores = matmul(h, memory, {.transpose_rhs = true});
        Tensor k = expand(unsqueeze(keep, 1), {keep.size(0), T, keep.size(1)});
        Tensor weights = nn::masked_softmax(scores, k);
        Tensor context = matmul(weights, memory);
        return {(*out)(cat({h, context}, 2)), weights, scores};
    }

    Tensor loss(const Tensor& src, const std::vector<std::int64_t>& lengths, const Tensor& tgt_in, const Tensor& tgt_out,
                const models::LossOptions& = {}) const override {
        const std::int64_t B = tgt_in.size(0), T = tgt_in.size(1);
        auto [memory, keep] = encode(src, lengths);
        return cross_entropy(reshape(logits(memory, keep, lengths, tgt_in), {B * T, c_.tgt_vocab}), reshape(tgt_out, {B * T}),
                             {.ignore_index = models::kPad});
    }

    // Saliency (models/saliency.h): the one-pass teacher forcing from the source lookup as a leaf.
    models::SaliencyPass teacher_forced_with_embeddings(const Tensor& src, const Tensor& tgt_in) const override {
        models::SaliencyPass pass;
        pass.embeddings = (*src_embed)(src).detach();
        pass.embeddings.set_requires_grad(true);
        auto [memory, keep] = encode_lookup(pass.embeddings, {src.size(1)});
        pass.log_probs = log_softmax(logits(memory, keep, {src.size(1)}, tgt_in), 2);
        return pass;
    }

    // Every target position in one pass -> logits [B, T, V].
    Tensor logits(const Tensor& memory, const Tensor& keep, const std::vector<std::int64_t>& lengths,
                  const Tensor& tgt_in) const {
        const std::int64_t B = tgt_in.size(0), T = tgt_in.size(1);
        // h_t = sum_{u <= t} E[y_u] + P[t]: all positions at once, by a triangular product over the
        // positions: bagᵀ [B, D, T] = Eᵀ [B, D, T] x U [T, T] with U[u, t] = 1 for u <= t.
        std::vector<double> upper(static_cast<std::size_t>(T * T), 0.0);
        for (std::int64_t u = 0; u < T; ++u)
            for (std::int64_t t = u; t < T; ++t) upper[u * T + t] = 1.0;
        std::vector<std::int64_t> pos(static_cast<std::size_t>(T));
        for (std::int64_t t = 0; t < T; ++t) pos[t] = std::min(t, c_.max_len - 1);
        const Tensor embedded = (*tgt_embed)(tgt_in);  // [B, T, D]
        Tensor bag = transpose(matmul(transpose(embedded, 1, 2), Tensor::from(upper, {T, T}, {.dtype = embedded.dtype()})), 1, 2);
        std::vector<std::int64_t> rem(static_cast<std::size_t>(B * T));
        for (std::int64_t b = 0; b < B; ++b)
            for (std::int64_t t = 0; t < T; ++t) rem[b * T + t] = remaining_index(lengths.at(static_cast<std::size_t>(b)), t);
        Tensor h = add(add(bag, (*tgt_pos)(Tensor::ids(pos, {T}))), (*remaining)(Tensor::ids(rem, {B, T})));
        return std::get<0>(attend(h, memory, keep));
    }

    std::unique_ptr<models::StepDecoder> start_decoding(const Tensor& src,
                                                        const std::vector<std::int64_t>& lengths) const override {
        auto [memory, keep] = encode(src, lengths);
        return std::make_unique<BagDecoder>(*this, memory, keep, lengths);
    }

    BagConfig c_;
    std::shared_ptr<nn::Embedding> src_embed, tgt_embed, src_pos, tgt_pos, remaining;
    // R's index for a source of `length` tokens at target position t
    std::int64_t remaining_index(std::int64_t length, std::int64_t t) const {
        return std::clamp<std::int64_t>(length - t, 0, c_.max_len - 1);
    }
    std::shared_ptr<nn::Linear> out;
};

BagDecoder::BagDecoder(const BagModel& m, Tensor memory, Tensor keep, std::vector<std::int64_t> lengths)
    : m_(m), memory_(std::move(memory)), keep_(std::move(keep)), lengths_(std::move(lengths)) {}

models::DecoderStep BagDecoder::step(const Tensor& previous) {
    const Tensor e = (*m_.tgt_embed)(previous);  // [rows, D]
    bag_ = bag_.defined() ? add(bag_, e) : e;
    std::vector<std::int64_t> rem;
    for (auto len : lengths_) rem.push_back(m_.remaining_index(len, t_));
    const Tensor pos = (*m_.tgt_pos)(Tensor::ids({std::min(t_++, m_.c_.max_len - 1)}, {1}));  // [1, D]
    const Tensor r = (*m_.remaining)(Tensor::ids(rem, {static_cast<std::int64_t>(rem.size())}));  // [rows, D]
    const Tensor h = unsqueeze(add(add(bag_, pos), r), 1);                                      // [rows, 1, D]
    auto [logits, weights, scores] = m_.attend(h, memory_, keep_);
    models::DecoderStep d;
    d.logits = select(logits, 1, 0);
    d.weights = select(weights, 1, 0);
    d.scores = select(scores, 1, 0);
    return d;
}

// The registration: the only thing a new architecture adds outside its own files.
const bool registered = [] {
    models::register_architecture("bag", [](const models::ModelConfig& c, Generator* gen) {
        return std::make_shared<BagModel>(BagConfig::from(c), gen);
    });
    return true;
}();

std::string copy_corpus(const std::string& dir, std::size_t n) {
    return seqgrad::testing::write_digit_corpus((fs::path(dir) / "copy.tsv").string(), n, 11, 3, 5, "copy");
}

models::TrainOptions bag_options(const std::string& data, const std::string& out) {
    models::TrainOptions o;
    o.data.file = data;
    o.out_dir = out;
    o.architecture = "bag";
    o.architecture_options = R"({"dim": 24})";
    o.epochs = 8;
    o.batch_size = 32;
    o.lr = 1e-2;
    o.seed = 4;
    o.quiet = true;
    return o;
}

// A trained bag model folder, made once for the test cases of this file.
const std::string& trained_folder() {
    static testing::TempDir dir("bag");
    static const std::string folder = [] {
        std::ostringstream log;
        models::train(bag_options(copy_corpus(dir.path.string(), 1500), dir / "model"), log);
        return dir / "model";
    }();
    return folder;
}

}  // namespace

TEST_CASE("model interface: a second architecture trains, decodes and evaluates through the shared paths",
          "[model][translator]") {
    REQUIRE(registered);
    const auto names = models::architecture_names();
    CHECK(std::find(names.begin(), names.end(), "bag") != names.end());
    CHECK(std::find(names.begin(), names.end(), "rnn") != names.end());

    const std::string& folder = trained_folder();
    const nlohmann::json config = nlohmann::json::parse(read_file(folder + "/config.json"));
    CHECK(config["model"]["architecture"] == "bag");
    CHECK(config["model"]["dim"] == 24);

    const models::Translator t = models::Translator::load(folder);
    CHECK(t.model().model_config().architecture == "bag");
    const models::EvalResult e = models::evaluate(t, folder, {.split = "test"});
    INFO("exact match " << e.exact_match << ", BLEU " << e.bleu);
    CHECK(e.exact_match > 0.9);  // copying 3-5 digits by attending to position t

    const models::Translation greedy = t.translate("3 1 4 1 5");
    CHECK(greedy.text == "3 1 4 1 5");
    REQUIRE(greedy.attention.size() == 6);  // five tokens and <eos>
    for (const auto& row : greedy.attention) CHECK(row.size() == 5);
    const models::Translation beam = t.translate("3 1 4 1 5", 4);
    CHECK(beam.text == "3 1 4 1 5");
    CHECK(beam.log_prob >= greedy.log_prob - 1e-9);
    CHECK(models::evaluate(t, folder, {.split = "test", .beam = 3}).exact_match > 0.9);
}

TEST_CASE("model interface: step decoding reproduces the one-pass teacher-forced loss", "[model]") {
    const models::Translator t = models::Translator::load(trained_folder());
    const models::TranslationModel& m = t.model();
    const std::vector<std::int64_t> src = t.source_vocab().encode({"2", "7", "1", "8"});
    const std::vector<std::int64_t> tgt = t.target_vocab().encode({"2", "7", "1", "8"});
    std::vector<std::int64_t> tin = {models::kSos}, tout = tgt;
    tin.insert(tin.end(), tgt.begin(), tgt.end());
    tout.push_back(models::kEos);
    const auto T = static_cast<std::int64_t>(tin.size());
    const auto [nll, tokens] =
        m.nll_sum(Tensor::ids(src, {1, 4}), {4}, Tensor::ids(tin, {1, T}), Tensor::ids(tout, {1, T}));
    CHECK(tokens == T);

    NoGradGuard no_grad;
    auto decoder = m.start_decoding(Tensor::ids(src, {1, 4}), {4});
    double steps = 0;
    for (std::int64_t i = 0; i < T; ++i) {
        const Tensor lp = log_softmax(decoder->step(Tensor::ids({tin[i]}, {1})).logits, 1);
        steps -= lp.to_vector()[static_cast<std::size_t>(tout[i])];
    }
    CHECK(steps == Approx(nll).epsilon(1e-5));
}

TEST_CASE("model interface: reorder keeps the chosen rows of every decoder, the recurrent one included", "[model]") {
    auto check = [](const models::TranslationModel& m, const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
        NoGradGuard no_grad;
        // rows: sentence a, sentence b (padded to the same length)
        const auto S = static_cast<std::int64_t>(std::max(a.size(), b.size()));
        std::vector<std::int64_t> ids(static_cast<std::size_t>(2 * S), models::kPad);
        std::copy(a.begin(), a.end(), ids.begin());
        std::copy(b.begin(), b.end(), ids.begin() + S);
        const std::vector<std::int64_t> lengths = {static_cast<std::int64_t>(a.size()), static_cast<std::int64_t>(b.size())};
        auto both = m.start_decoding(Tensor::ids(ids, {2, S}), lengths);
        auto only_b = m.start_decoding(Tensor::ids(b, {1, static_cast<std::int64_t>(b.size())}), {lengths[1]});
        (void)both->step(Tensor::ids({models::kSos, models::kSos}, {2}));
        (void)only_b->step(Tensor::ids({models::kSos}, {1}));
        both->reorder({1, 1, 0});
        CHECK(both->rows() == 3);
        const auto y = Tensor::ids({5, 5, 5}, {3});
        const auto l3 = both->step(y).logits.to_vector();
        const auto l1 = only_b->step(Tensor::ids({5}, {1})).logits.to_vector();
        const std::size_t V = l1.size();
        for (std::size_t v = 0; v < V; ++v) {
            CHECK(l3[v] == Approx(l1[v]).margin(1e-5));
            CHECK(l3[V + v] == Approx(l1[v]).margin(1e-5));
        }
    };
    const models::Translator bag = models::Translator::load(trained_folder());
    check(bag.model(), bag.source_vocab().encode({"1", "2", "3", "4", "5"}), bag.source_vocab().encode({"9", "8", "7"}));

    models::ModelConfig rnn;
    rnn.rnn.embed_size = 8;
    rnn.rnn.hidden_size = 8;
    rnn.rnn.input_feeding = true;
    rnn.set_vocab_sizes(12, 12);
    Generator gen(2);
    const auto seq2seq = models::make_model(rnn, &gen);
    seq2seq->eval();
    check(*seq2seq, {4, 5, 6, 7, 8}, {9, 10, 11});
}

TEST_CASE("model interface: inspect traces a step of any architecture", "[model][inspect]") {
    const models::Translator t = models::Translator::load(trained_folder());
    const models::StepInspection r = models::inspect_step(t, "6 0 2", 1);
    CHECK(r.step_token == "0");
    REQUIRE(r.weights.size() == 3);
    REQUIRE(r.dscores.size() == 3);
    CHECK(r.identity_applies);
    CHECK(r.identity_max_error < 1e-6);
    double norm = 0;
    for (double v : r.dencoder_norm) norm += v;
    CHECK(norm > 0);  // the gradient reaches the memory
    // Beside α, the step's saliency: the bag model gives its source embeddings (teacher_forced_with_embeddings).
    CHECK(r.saliency_note.empty());
    REQUIRE(r.saliency.size() == 3);
    double total = 0;
    for (double v : r.saliency) total += v;
    CHECK(total == Approx(1.0));
}

TEST_CASE("model interface: model configs name their architecture, old ones load as rnn, unknown ones are refused",
          "[model][errors]") {
    models::ModelConfig c;
    c.set_vocab_sizes(10, 11);
    const nlohmann::json j = nlohmann::json::parse(c.to_json());
    CHECK(j["architecture"] == "rnn");
    CHECK(j["format"] == "seqgrad-seq2seq-config");
    nlohmann::json old = j;
    old.erase("architecture");
    const models::ModelConfig back = models::ModelConfig::from_json(old.dump(), "old.json");
    CHECK(back.architecture == "rnn");
    CHECK(back.rnn.src_vocab == 10);
    CHECK(back.tgt_vocab() == 11);

    nlohmann::json bad = j;
    bad["architecture"] = "perceptron";
    CHECK_THROWS_WITH(models::ModelConfig::from_json(bad.dump(), "m.json"),
                      Catch::StartsWith("m.json: unknown architecture 'perceptron' (valid: bag, rnn"));
    bad["architecture"] = 3;
    CHECK_THROWS_WITH(models::ModelConfig::from_json(bad.dump(), "m.json"),
                      "m.json: bad model config: \"architecture\" must be a string, got 3");
    models::ModelConfig unknown;
    unknown.architecture = "perceptron";
    CHECK_THROWS_WITH(models::make_model(unknown), Catch::StartsWith("make_model: unknown architecture 'perceptron' (valid: "));
    CHECK_THROWS_WITH(models::register_architecture("rnn", nullptr), "register_architecture: 'rnn' is already registered");
    CHECK_THROWS_WITH(models::trace_step(*models::make_model(c), {}, {}, 0), "trace_step: the source sentence is empty");
    CHECK_THROWS_WITH(models::trace_step(*models::make_model(c), {4}, {5}, 2), "trace_step: step 2 needs 2 prefix tokens, got 1");
}
