// Saliency (models/saliency.h): ‖∂ log p(y_t)/∂e_s‖ and gradient × input by autograd, checked against
// central finite differences on tiny float64 models of every architecture (the recurrent one with
// and without attention, the Transformer); rows normalised; the translation-level view; the
// agreement statistics the implicit-vs-explicit experiment reports; and the errors.
#include <cmath>
#include <limits>

#include "helpers.h"
#include "models/rnn/seq2seq.h"
#include "models/saliency.h"
#include "models/transformer/transformer_model.h"
#include "models/translator.h"

using namespace seqgrad;

namespace {

models::ModelConfig rnn_config(const std::string& attention) {
    models::ModelConfig c;
    c.rnn.embed_size = 3;
    c.rnn.hidden_size = 4;
    c.rnn.attention = attention;
    c.rnn.max_source_len = 8;
    c.set_vocab_sizes(9, 8);
    return c;
}

models::ModelConfig transformer_config() {
    models::ModelConfig c;
    c.architecture = "transformer";
    c.options_json = R"({"d_model": 4, "heads": 2, "encoder_layers": 1, "decoder_layers": 1, "ff": 8, "max_len": 16})";
    c.set_vocab_sizes(9, 8);
    return c;
}

// A fresh float64 model in eval mode (dropout off).
std::shared_ptr<models::TranslationModel> tiny(const models::ModelConfig& c, std::uint64_t seed = 3) {
    Generator gen(seed);
    auto m = models::make_model(c, &gen);
    m->to(DType::Float64);
    m->eval();
    return m;
}

// The source embedding table of the model, found by name (every architecture's own).
Tensor source_table(const models::TranslationModel& m) {
    for (const auto& [name, t] : m.named_parameters())
        if (name == "encoder.embedding.weight" || name == "src_embed.embedding.weight") return t;
    FAIL("no source embedding table");
    return {};
}

// log p(y_t) for every t from a plain pass, no gradients.
std::vector<double> log_probs(const models::TranslationModel& m, const std::vector<std::int64_t>& src,
                              const std::vector<std::int64_t>& targets) {
    NoGradGuard no_grad;
    std::vector<std::int64_t> tgt_in = {models::kSos};
    tgt_in.insert(tgt_in.end(), targets.begin(), targets.end() - 1);
    const auto S = static_cast<std::int64_t>(src.size()), T = static_cast<std::int64_t>(targets.size());
    const Tensor lp = m.teacher_forced_with_embeddings(Tensor::ids(src, {1, S}), Tensor::ids(tgt_in, {1, T})).log_probs;
    std::vector<double> out;
    for (std::int64_t t = 0; t < T; ++t) out.push_back(lp.at({0, t, targets[static_cast<std::size_t>(t)]}));
    return out;
}

// ∂ log p(y_t)/∂e_s by central differences, perturbing row src[s] of the embedding table (the source
// tokens are distinct, so that row is e_s alone) -> norms and dots [T][S].
std::pair<models::Rows, models::Rows> finite_differences(const models::TranslationModel& m,
                                                          const std::vector<std::int64_t>& src,
                                                          const std::vector<std::int64_t>& targets) {
    Tensor table = source_table(m);
    const std::int64_t E = table.size(1);
    const std::size_t S = src.size(), T = targets.size();
    const double h = 1e-6;
    std::vector<std::vector<std::vector<double>>> grad(T, std::vector<std::vector<double>>(S, std::vector<double>(E)));
    double* w = table.data<double>();
    for (std::size_t s = 0; s < S; ++s)
        for (std::int64_t k = 0; k < E; ++k) {
            double& x = w[src[s] * E + k];
            const double keep = x;
            x = keep + h;
            const auto up = log_probs(m, src, targets);
            x = keep - h;
            const auto down = log_probs(m, src, targets);
            x = keep;
            for (std::size_t t = 0; t < T; ++t) grad[t][s][static_cast<std::size_t>(k)] = (up[t] - down[t]) / (2 * h);
        }
    models::Rows norms(T, std::vector<double>(S)), dots(T, std::vector<double>(S));
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t s = 0; s < S; ++s) {
            double n = 0, d = 0;
            for (std::int64_t k = 0; k < E; ++k) {
                n += grad[t][s][k] * grad[t][s][k];
                d += grad[t][s][k] * w[src[s] * E + k];
            }
            norms[t][s] = std::sqrt(n);
            dots[t][s] = d;
        }
    return {norms, dots};
}

void check_rows_close(const models::Rows& a, const models::Rows& b, double tol) {
    REQUIRE(a.size() == b.size());
    for (std::size_t t = 0; t < a.size(); ++t) {
        REQUIRE(a[t].size() == b[t].size());
        for (std::size_t s = 0; s < a[t].size(); ++s) {
            INFO("row " << t << ", column " << s);
            CHECK(a[t][s] == Approx(b[t][s]).epsilon(tol).margin(tol));
        }
    }
}

}  // namespace

TEST_CASE("saliency: autograd equals finite differences for the RNN with and without attention and the Transformer",
          "[saliency]") {
    const std::vector<std::int64_t> src = {4, 5, 6, 7}, targets = {5, 6, 4, models::kEos};
    for (const auto& [name, config] : std::vector<std::pair<std::string, models::ModelConfig>>{
             {"rnn none", rnn_config("none")},
             {"rnn additive", rnn_config("additive")},
             {"rnn local-p", rnn_config("local-p")},
             {"transformer", transformer_config()}}) {
        INFO(name);
        const auto m = tiny(config);
        const models::SaliencyMatrices s = models::saliency(*m, src, targets);
        const auto [norms, dots] = finite_differences(*m, src, targets);
        check_rows_close(s.gradient_norm, norms, 1e-6);
        check_rows_close(s.gradient_x_input, dots, 1e-6);
        const auto lp = log_probs(*m, src, targets);
        for (std::size_t t = 0; t < targets.size(); ++t) CHECK(s.log_probs[t] == Approx(lp[t]).epsilon(1e-12));
        // Every output reads the source (through the final state at least): no zero row.
        for (const auto& row : s.gradient_norm) {
            double total = 0;
            for (double v : row) total += v;
            CHECK(total > 0);
        }
        // The parameters were out of the graph: none has a gradient, and all require grad again.
        for (const Tensor& p : m->parameters()) {
            CHECK(p.requires_grad());
            CHECK_FALSE(p.grad().defined());
        }
    }
}

TEST_CASE("saliency: rows are normalised by the sum of their absolute values", "[saliency]") {
    const models::Rows n = models::normalise_rows({{1, 3}, {0, 0}, {-1, 1}, {2, -6, 2}});
    const models::Rows expected = {{0.25, 0.75}, {0, 0}, {-0.5, 0.5}, {0.2, -0.6, 0.2}};
    check_rows_close(n, expected, 1e-15);
}

TEST_CASE("saliency: a translation's rows are its output tokens and <eos>, normalised, for every architecture",
          "[saliency]") {
    const data::Vocab vocab = data::Vocab::build({{"1", "2", "3", "4", "5", "6"}});
    for (const auto& config : {rnn_config("none"), rnn_config("dot"), rnn_config("general"), transformer_config()}) {
        INFO(config.architecture << " " << config.rnn.attention);
        models::ModelConfig c = config;
        Generator gen(5);
        models::Translator tr(c, vocab, vocab, models::DataSource{}, &gen);
        tr.model().eval();
        const models::Translation x = tr.translate("3 1 4");
        const models::TranslationSaliency s = models::translation_saliency(tr, x);
        CHECK(s.source_tokens == x.source_tokens);
        REQUIRE(s.saliency.size() == x.output_ids.size() + (x.ended ? 1 : 0));
        REQUIRE(s.output_tokens.size() == s.saliency.size());
        if (x.ended) CHECK(s.output_tokens.back() == "<eos>");
        if (!x.attention.empty()) CHECK(x.attention.size() == s.saliency.size());
        double total_lp = 0;
        for (std::size_t t = 0; t < s.saliency.size(); ++t) {
            REQUIRE(s.saliency[t].size() == 3);
            double sum = 0, abs_sum = 0;
            for (double v : s.saliency[t]) sum += v;
            for (double v : s.gradient_x_input[t]) abs_sum += std::abs(v);
            CHECK(sum == Approx(1.0).epsilon(1e-6));
            CHECK(abs_sum == Approx(1.0).epsilon(1e-6));
            total_lp += s.raw.log_probs[t];
        }
        // The teacher-forced pass over the model's own output reproduces greedy decoding's score.
        CHECK(total_lp == Approx(x.log_prob).epsilon(1e-4));
    }
}

TEST_CASE("saliency: Spearman's rho and the argmax agreement of attention with saliency", "[saliency]") {
    CHECK(models::spearman({1, 2, 3}, {10, 20, 30}) == Approx(1.0));
    CHECK(models::spearman({1, 2, 3}, {3, 2, 1}) == Approx(-1.0));
    // Ties take the average rank: ranks (1.5, 1.5, 3) against (1, 2, 3) give ρ = 1.5 / √(1.5 · 2).
    CHECK(models::spearman({5, 5, 7}, {1, 2, 3}) == Approx(1.5 / std::sqrt(3.0)));
    CHECK(std::isnan(models::spearman({1, 1, 1}, {1, 2, 3})));
    CHECK(std::isnan(models::spearman({1}, {2})));

    models::Agreement a;
    models::add_agreement(a, {{0.7f, 0.2f, 0.1f}, {0.1f, 0.1f, 0.8f}}, {{0.5, 0.3, 0.2}, {0.6, 0.3, 0.1}});
    CHECK(a.rows == 2);
    CHECK(a.same_argmax == 1);
    CHECK(a.argmax_share() == Approx(0.5));
    CHECK(a.chance_share() == Approx(1.0 / 3));
    // Row 1: ρ = 1; row 2: attention ranks (1.5, 1.5, 3) against (3, 2, 1): ρ = −1.5 / √(1.5 · 2).
    CHECK(a.mean_spearman() == Approx((1.0 - 1.5 / std::sqrt(3.0)) / 2));
    CHECK(std::isnan(models::Agreement{}.mean_spearman()));
}

namespace {
// An architecture that leaves teacher_forced_with_embeddings to the default (it delegates everything
// else to a recurrent model), and one whose pass is broken (the embeddings are not a leaf requiring grad).
class Opaque : public models::TranslationModel {
public:
    explicit Opaque(std::shared_ptr<models::TranslationModel> inner) : inner_(std::move(inner)) {
        register_module("inner", inner_);
    }
    std::string type_name() const override { return "Opaque"; }
    models::ModelConfig model_config() const override {
        models::ModelConfig c = inner_->model_config();
        c.architecture = "opaque";
        return c;
    }
    std::int64_t target_vocab_size() const override { return inner_->target_vocab_size(); }
    bool has_attention() const override { return inner_->has_attention(); }
    Tensor loss(const Tensor& src, const std::vector<std::int64_t>& lengths, const Tensor& tgt_in, const Tensor& tgt_out,
                const models::LossOptions& options) const override {
        return inner_->loss(src, lengths, tgt_in, tgt_out, options);
    }
    std::unique_ptr<models::StepDecoder> start_decoding(const Tensor& src,
                                                        const std::vector<std::int64_t>& lengths) const override {
        return inner_->start_decoding(src, lengths);
    }

protected:
    std::shared_ptr<models::TranslationModel> inner_;
};
class Broken final : public Opaque {
public:
    using Opaque::Opaque;
    models::SaliencyPass teacher_forced_with_embeddings(const Tensor& src, const Tensor& tgt_in) const override {
        models::SaliencyPass p = inner_->teacher_forced_with_embeddings(src, tgt_in);
        p.embeddings = p.embeddings.detach();
        return p;
    }
};
}  // namespace

TEST_CASE("saliency: errors name what is missing", "[saliency][errors]") {
    const auto m = tiny(rnn_config("additive"));
    CHECK_THROWS_WITH(models::saliency(*m, {}, {5}), "saliency: the source sentence is empty");
    CHECK_THROWS_WITH(models::saliency(*m, {4}, {}), "saliency: there is no output token to explain");
    CHECK_THROWS_WITH(models::saliency(Opaque(m), {4, 5}, {5, models::kEos}),
                      "saliency: the opaque architecture does not expose its source embeddings (it does not implement "
                      "TranslationModel::teacher_forced_with_embeddings)");
    CHECK_THROWS_WITH(models::saliency(Broken(m), {4, 5}, {5, models::kEos}),
                      "saliency: the opaque architecture's pass gave embeddings [1, 2, 3] and log-probabilities [1, 2, 8], "
                      "expected [1, 2, E] requiring grad and [1, 2, V]");
    const Tensor two = Tensor::ids({4, 5, 6, 7}, {2, 2}), one = Tensor::ids({1, 5}, {1, 2});
    CHECK_THROWS_WITH(m->teacher_forced_with_embeddings(two, one),
                      "Seq2Seq::teacher_forced_with_embeddings: one sentence pair, src [1, S] and tgt_in [1, T]; got [2, 2] and [1, 2]");
    CHECK_THROWS_WITH(tiny(transformer_config())->teacher_forced_with_embeddings(two, one),
                      "TransformerModel::teacher_forced_with_embeddings: one sentence pair, src [1, S] and tgt_in [1, T]; "
                      "got [2, 2] and [1, 2]");
    CHECK_THROWS_WITH(models::spearman({1, 2}, {1}), "spearman: the rows have 2 and 1 values");
    models::Agreement a;
    CHECK_THROWS_WITH(models::add_agreement(a, {{0.5f, 0.5f}}, {{1.0}}), "agreement: row 0 has 2 attention weights and 1 saliencies");
}
