// Stochastic hard attention (layers/hard_attention.h): sampling frequencies against α (a chi-square
// test), argmax in eval mode, the REINFORCE surrogate's gradient against the formula by hand, a
// gradcheck of the surrogate with the sampled positions held fixed, unbiasedness of the estimator
// against the exact gradient of the expected reward (by enumeration), the baseline, errors, and
// `hard` attention inside the translator (models/rnn/seq2seq.h).
#include <cmath>
#include <set>

#include "helpers.h"
#include "layers/attention_scores.h"
#include "layers/hard_attention.h"
#include "models/decoding.h"
#include "models/rnn/seq2seq.h"

using namespace seqgrad;
using seqgrad::testing::f64;
using seqgrad::testing::param;
using nn::AttentionKind;

namespace {

// The position each one-hot row of weights [B, S] picks.
std::vector<std::int64_t> picked(const Tensor& weights) { return argmax(weights, 1).to_ids(); }

// Σ_s (observed_s − expected_s)² / expected_s over the positions with expected_s > 0.
double chi_square(const std::vector<double>& counts, const std::vector<double>& probs, double n) {
    double x2 = 0;
    for (std::size_t s = 0; s < counts.size(); ++s)
        if (probs[s] > 0) x2 += (counts[s] - n * probs[s]) * (counts[s] - n * probs[s]) / (n * probs[s]);
    return x2;
}

// Every gradient of the listed tensors, flattened into one vector (zeros where none arrived).
std::vector<double> flat_grads(const std::vector<Tensor>& ts) {
    std::vector<double> out;
    for (const Tensor& t : ts) {
        const auto g = t.grad().defined() ? t.grad().to_vector() : std::vector<double>(t.numel(), 0.0);
        out.insert(out.end(), g.begin(), g.end());
    }
    return out;
}

void zero_grads(const std::vector<Tensor>& ts) {
    for (const Tensor& t : ts) t.zero_grad();
}

}  // namespace

TEST_CASE("hard attention: sampling frequencies match α (chi-square), padding is never picked",
          "[hard_attention]") {
    // Dot score, Hq = Hk = 1: e_s = q k_s. Even rows: 4 real positions; odd rows: the last is padding.
    // B = 20,000 rows of the same two problems give 10,000 draws each in one attend() call.
    auto att = std::make_shared<nn::HardAttention>(nn::HardAttentionOptions{
        .score = {.kind = AttentionKind::Dot, .query_size = 1, .key_size = 1, .dtype = DType::Float64}, .seed = 5});
    const std::int64_t B = 20000, S = 4;
    const std::vector<double> row_keys = {2.0, 0.5, -1.0, 1.0};  // q = 1: e = k
    std::vector<double> keys, mask;
    for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t s = 0; s < S; ++s) {
            keys.push_back(row_keys[s]);
            mask.push_back(b % 2 == 1 && s == S - 1 ? 0.0 : 1.0);
        }
    Tensor q = ones({B, 1}, {.dtype = DType::Float64});
    Tensor k = f64(keys, {B, S, 1}), v = f64(keys, {B, S, 1}), m = f64(mask, {B, S});

    nn::AttentionOutput out;
    {
        NoGradGuard no_grad;  // sampling still happens (training mode); nothing is recorded
        out = att->attend(q, k, v, m);
    }
    CHECK(att->recorded_steps() == 0);
    // The context is v at the sampled position, and the weights are one-hot.
    const auto pos = picked(out.weights);
    const auto ctx = out.context.to_vector();
    const auto w = out.weights.to_vector();
    double weight_sum = 0;
    for (double x : w) weight_sum += x;
    CHECK(weight_sum == Approx(static_cast<double>(B)));

    std::vector<double> even(S, 0.0), odd(S, 0.0);
    for (std::int64_t b = 0; b < B; ++b) {
        REQUIRE(ctx[b] == row_keys[pos[b]]);
        (b % 2 == 0 ? even : odd)[pos[b]] += 1;
    }
    CHECK(odd[S - 1] == 0);  // padding has α = 0 exactly

    auto softmax_of = [](std::vector<double> e) {
        double z = 0;
        for (double& x : e) z += (x = std::exp(x));
        for (double& x : e) x /= z;
        return e;
    };
    const auto p_even = softmax_of(row_keys);
    auto p_odd = softmax_of({2.0, 0.5, -1.0});
    p_odd.push_back(0.0);
    const double n = static_cast<double>(B / 2);
    // 99.9% quantiles of chi-square: 16.27 (3 degrees of freedom), 13.82 (2).
    CHECK(chi_square(even, p_even, n) < 16.27);
    CHECK(chi_square(odd, p_odd, n) < 13.82);
    // The test can tell distributions apart: the same counts are far from uniform.
    CHECK(chi_square(even, {0.25, 0.25, 0.25, 0.25}, n) > 1000);
}

TEST_CASE("hard attention: eval mode takes the argmax over real positions and records nothing",
          "[hard_attention]") {
    Generator gen(3);
    auto att = std::make_shared<nn::HardAttention>(nn::HardAttentionOptions{
        .score = {.kind = AttentionKind::Additive, .query_size = 3, .key_size = 3, .attention_size = 4,
                  .dtype = DType::Float64, .generator = &gen}});
    att->eval();
    Tensor q = param({2, 3}, 1), k = param({2, 5, 3}, 2), v = param({2, 5, 2}, 3);
    Tensor m = f64({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5});
    nn::AttentionOutput a = att->attend(q, k, v, m);
    nn::AttentionOutput again = att->attend(q, k, v, m);
    CHECK(att->recorded_steps() == 0);
    CHECK(allclose(a.weights, again.weights, 0, 0));

    const auto e = a.scores.to_vector();
    const auto pos = picked(a.weights);
    const auto vv = v.to_vector();
    const auto ctx = a.context.to_vector();
    for (std::int64_t b = 0; b < 2; ++b) {
        const std::int64_t real = b == 0 ? 5 : 3;
        std::int64_t best = 0;
        for (std::int64_t s = 1; s < real; ++s)
            if (e[b * 5 + s] > e[b * 5 + best]) best = s;
        CHECK(pos[b] == best);
        for (std::int64_t h = 0; h < 2; ++h) CHECK(ctx[b * 2 + h] == vv[(b * 5 + best) * 2 + h]);
    }
    // The scores are the wrapped additive score's own.
    CHECK(allclose(a.scores, att->score->attend(q, k, v, m).scores, 0, 0));
    // Padding wins nothing even when its score is the largest: dot score, e = [0.1, 0.2, 5 (padding)].
    nn::HardAttention dot({.score = {.kind = AttentionKind::Dot, .query_size = 1, .key_size = 1}});
    dot.eval();
    Tensor kd = Tensor::from({0.1, 0.2, 5.0}, {1, 3, 1});
    nn::AttentionOutput d = dot.attend(ones({1, 1}), kd, kd, Tensor::from({1, 1, 0}, {1, 3}));
    CHECK(picked(d.weights)[0] == 1);
    CHECK(d.context.item() == Approx(0.2));
}

TEST_CASE("hard attention: the surrogate's gradient is the REINFORCE formula on a case by hand",
          "[hard_attention]") {
    // Dot score, one query over 3 keys:  q = [1, 0.5],  k0 = [1, 0], k1 = [0, 1], k2 = [-1, 0]
    //   e = q·k = [1, 0.5, -1],   α = softmax(e) = [0.574097, 0.348207, 0.077696]
    // surrogate = −(r − b) log α_s;  d log α_s / d e_j = 1[j = s] − α_j;  d e_j / dq = k_j;  d e_j / dk_j = q
    //   dq   = −(r − b) (k_s − Σ_j α_j k_j)            Σ_j α_j k_j = [α0 − α2, α1] = [0.496401, 0.348207]
    //   dk_j = −(r − b) (1[j = s] − α_j) q
    auto att = std::make_shared<nn::HardAttention>(nn::HardAttentionOptions{
        .score = {.kind = AttentionKind::Dot, .query_size = 2, .key_size = 2, .dtype = DType::Float64},
        .baseline_decay = 0.9, .seed = 17});
    const double z = std::exp(1.0) + std::exp(0.5) + std::exp(-1.0);
    const std::vector<double> alpha = {std::exp(1.0) / z, std::exp(0.5) / z, std::exp(-1.0) / z};
    CHECK(alpha[0] == Approx(0.574097).margin(1e-6));
    CHECK(alpha[1] == Approx(0.348207).margin(1e-6));
    CHECK(alpha[2] == Approx(0.077696).margin(1e-6));
    const std::vector<std::vector<double>> key = {{1, 0}, {0, 1}, {-1, 0}};
    const std::vector<double> mean_key = {alpha[0] - alpha[2], alpha[1]};
    const std::vector<double> qv = {1, 0.5};

    std::set<std::int64_t> seen;
    double b = 0;  // the baseline the next surrogate uses; 0 before any update
    for (int draw = 0; draw < 12; ++draw) {
        Tensor q = f64(qv, {1, 2}, true);
        Tensor k = f64({1, 0, 0, 1, -1, 0}, {1, 3, 2}, true);
        nn::AttentionOutput a = att->attend(q, k, k, Tensor());
        {
            const auto w = nn::masked_softmax(a.scores, ones({1, 3}, {.dtype = DType::Float64})).to_vector();
            for (int j = 0; j < 3; ++j) REQUIRE(w[j] == Approx(alpha[j]).margin(1e-12));
        }
        REQUIRE(att->recorded_steps() == 1);
        const std::int64_t s = picked(a.weights)[0];
        seen.insert(s);
        const double r = draw % 3 == 0 ? 2.0 : -1.0;
        Tensor surrogate = att->reinforce_surrogate(f64({r}, {1}));
        CHECK(att->recorded_steps() == 0);
        const double adv = r - b;
        CHECK(surrogate.item() == Approx(-adv * std::log(alpha[s])).margin(1e-10));
        surrogate.backward();
        const auto dq = q.grad().to_vector();
        for (int i = 0; i < 2; ++i) CHECK(dq[i] == Approx(-adv * (key[s][i] - mean_key[i])).margin(1e-10));
        const auto dk = k.grad().to_vector();
        for (int j = 0; j < 3; ++j)
            for (int i = 0; i < 2; ++i)
                CHECK(dk[j * 2 + i] == Approx(-adv * ((j == s ? 1.0 : 0.0) - alpha[j]) * qv[i]).margin(1e-10));
        // Baseline: the first update sets b = mean reward, later ones average with decay 0.9.
        b = draw == 0 ? r : 0.9 * b + 0.1 * r;
        CHECK(att->baseline() == Approx(b));
        CHECK(att->baseline_updates() == draw + 1);
    }
    CHECK(seen.size() >= 2);  // more than one position was sampled, so the formula was checked at several s
}

TEST_CASE("hard attention: gradcheck of the surrogate with the sampled positions held fixed",
          "[hard_attention][gradcheck]") {
    // Reseeding the sampler before every evaluation replays the same uniform draws, so the
    // perturbed inputs see the same positions (checked below); the baseline is held fixed.
    // Additive score, B = 2, S = 4 (row 1 padded at the end), two decoder steps with a step mask.
    Generator gen(9);
    auto att = std::make_shared<nn::HardAttention>(nn::HardAttentionOptions{
        .score = {.kind = AttentionKind::Additive, .query_size = 3, .key_size = 3, .attention_size = 4,
                  .generator = &gen}});
    att->to(DType::Float64);
    att->set_baseline(0.25);
    Tensor q1 = param({2, 3}, 1), q2 = param({2, 3}, 2), k = param({2, 4, 3}, 3), v = param({2, 4, 2}, 4);
    Tensor m = f64({1, 1, 1, 1, 1, 1, 1, 0}, {2, 4});
    Tensor reward = f64({1.5, -0.5}, {2});
    Tensor step_mask = f64({1, 1, 1, 0}, {2, 2});  // row 1's second step is padding
    std::vector<Tensor> inputs = {q1, q2, k, v};
    for (const Tensor& p : att->parameters()) inputs.push_back(p);
    REQUIRE(inputs.size() == 8);  // and the score's W_query.weight, W_query.bias, W_key.weight, v

    std::vector<std::vector<std::int64_t>> positions;
    auto f = [&](const std::vector<Tensor>& in) {
        att->sampler().manual_seed(123);
        nn::AttentionOutput a1 = att->attend(in[0], in[2], in[3], m);
        nn::AttentionOutput a2 = att->attend(in[1], in[2], in[3], m);
        auto p = picked(a1.weights), p2 = picked(a2.weights);
        p.insert(p.end(), p2.begin(), p2.end());
        positions.push_back(p);
        // The contexts carry the values' gradient; the surrogate carries the scores'.
        Tensor surrogate = att->reinforce_surrogate(reward, {.step_mask = step_mask, .update_baseline = false});
        return cat({reshape(surrogate, {1}), reshape(a1.context, {-1}), reshape(a2.context, {-1})}, 0);
    };
    seqgrad::testing::require_gradcheck(f, inputs);
    REQUIRE(positions.size() > 2);
    for (const auto& p : positions) CHECK(p == positions.front());
    CHECK(att->baseline() == 0.25);

    // And the primitive alone: log α_s over scores with padding.
    Tensor e = param({2, 4}, 5);
    Tensor pos = Tensor::ids({2, 1}, {2});
    seqgrad::testing::require_gradcheck(
        [&](const std::vector<Tensor>& in) { return nn::sampled_log_prob(in[0], m, pos); }, {e});
}

TEST_CASE("hard attention: the estimator is unbiased: its mean matches the exact gradient of the expected reward",
          "[hard_attention]") {
    // J(θ) = (1/B) Σ_b Σ_s α_{b,s}(θ) R_{b,s}: the expected reward, by enumeration over positions, and
    // its exact gradient by autograd. Each estimate is −∇ surrogate for one sampled s per row with
    // reward R_{b,s}; the baseline moves between draws. The mean of N estimates must agree with ∇J in
    // every component within 4 standard errors.
    Generator gen(31);
    auto att = std::make_shared<nn::HardAttention>(nn::HardAttentionOptions{
        .score = {.kind = AttentionKind::Additive, .query_size = 2, .key_size = 2, .attention_size = 3,
                  .dtype = DType::Float64, .generator = &gen},
        .baseline_decay = 0.8, .seed = 77});
    Tensor q = param({2, 2}, 11, -1.5, 1.5), k = param({2, 3, 2}, 12, -1.5, 1.5), v = param({2, 3, 1}, 13);
    Tensor m = f64({1, 1, 1, 1, 1, 0}, {2, 3});
    const std::vector<double> R = {1.0, -2.0, 0.5, 3.0, -1.0, 0.0};  // R[b][s]; R[1][2] is padding
    std::vector<Tensor> wrt = {q, k};
    for (const Tensor& p : att->parameters()) wrt.push_back(p);

    // Exact: ∇J with J = mean_b Σ_s α R.
    zero_grads(wrt);
    Tensor alpha = nn::masked_softmax(att->scores(q, k, Tensor()), m);
    mean(sum(alpha * f64(R, {2, 3}), {1})).backward();
    const std::vector<double> exact = flat_grads(wrt);

    const int N = 8000;
    std::vector<double> total(exact.size(), 0.0), total_sq(exact.size(), 0.0);
    for (int i = 0; i < N; ++i) {
        zero_grads(wrt);
        const auto pos = picked(att->attend(q, k, v, m).weights);
        Tensor reward = f64({R[0 * 3 + pos[0]], R[1 * 3 + pos[1]]}, {2});
        att->reinforce_surrogate(reward).backward();
        const auto g = flat_grads(wrt);
        for (std::size_t j = 0; j < g.size(); ++j) {
            total[j] -= g[j];  // the estimate is −∇ surrogate
            total_sq[j] += g[j] * g[j];
        }
    }
    double err2 = 0, norm2 = 0;
    for (std::size_t j = 0; j < exact.size(); ++j) {
        const double mean_j = total[j] / N;
        const double se = std::sqrt(std::max(total_sq[j] / N - mean_j * mean_j, 0.0) / N);
        INFO("component " << j << ": estimate " << mean_j << " vs exact " << exact[j] << " (standard error " << se << ")");
        CHECK(std::abs(mean_j - exact[j]) <= 4 * se + 1e-9);
        err2 += (mean_j - exact[j]) * (mean_j - exact[j]);
        norm2 += exact[j] * exact[j];
    }
    // Not vacuous: the gradient is far from zero and the estimate is close to it as a whole.
    CHECK(std::sqrt(norm2) > 0.05);
    CHECK(std::sqrt(err2) < 0.1 * std::sqrt(norm2));
}

TEST_CASE("hard attention: bad use is a clear error", "[hard_attention]") {
    CHECK_THROWS_WITH(nn::HardAttention(nn::HardAttentionOptions{
                          .score = {.kind = AttentionKind::LocalM, .query_size = 2, .key_size = 2, .attention_size = 2,
                                    .window = 1}}),
                      Catch::Contains("hard attention") && Catch::Contains("local-m"));
    CHECK_THROWS_AS(nn::HardAttention(nn::HardAttentionOptions{
                        .score = {.kind = AttentionKind::Dot, .query_size = 2, .key_size = 2}, .baseline_decay = 1.0}),
                    ShapeError);

    nn::HardAttention att({.score = {.kind = AttentionKind::Dot, .query_size = 2, .key_size = 2}});
    CHECK_THROWS_AS(att.reinforce_surrogate(Tensor::from({1.0}, {1})), Error);  // nothing recorded
    Tensor q = randn({2, 2}), k = randn({2, 3, 2});
    att.attend(q, k, k, Tensor());
    CHECK_THROWS_WITH(att.reinforce_surrogate(Tensor::from({1.0, 2.0, 3.0}, {3})),
                      Catch::Contains("reward must be") && Catch::Contains("[3]") && Catch::Contains("[2]"));
    CHECK_THROWS_WITH(att.reinforce_surrogate(Tensor::from({1.0, 2.0}, {2}), {.step_mask = ones({2, 5})}),
                      Catch::Contains("step_mask") && Catch::Contains("[2, 1]") && Catch::Contains("[2, 5]"));
    CHECK(att.recorded_steps() == 1);  // a failed call keeps the record
    att.clear_record();
    CHECK(att.recorded_steps() == 0);

    Tensor e = randn({2, 3});
    CHECK_THROWS_AS(nn::sampled_log_prob(e, ones({2, 3}), Tensor::ids({0, 3}, {2})), IndexError);
    CHECK_THROWS_AS(nn::sampled_log_prob(e, Tensor::from({1, 1, 0, 1, 1, 1}, {2, 3}), Tensor::ids({2, 0}, {2})),
                    IndexError);
    CHECK_THROWS_AS(nn::sampled_log_prob(e, ones({2, 4}), Tensor::ids({0, 0}, {2})), ShapeError);
}

namespace {
models::Seq2SeqConfig tiny_config(const std::string& attention) {
    models::Seq2SeqConfig c;
    c.src_vocab = 9;
    c.tgt_vocab = 8;
    c.embed_size = 6;
    c.hidden_size = 5;
    c.attention = attention;
    return c;
}

// A batch of 3 sentences: src [3, 4] (row 2 padded after 2 tokens), targets [3, 5] (padded rows).
struct TinyBatch {
    Tensor src = Tensor::ids({4, 5, 6, 7, 8, 4, 5, 6, 6, 7, 0, 0}, {3, 4});
    std::vector<std::int64_t> lengths = {4, 4, 2};
    Tensor tgt_in = Tensor::ids({1, 3, 4, 5, 6, 1, 4, 5, 6, 0, 1, 7, 3, 0, 0}, {3, 5});
    Tensor tgt_out = Tensor::ids({3, 4, 5, 6, 2, 4, 5, 6, 2, 0, 7, 3, 2, 0, 0}, {3, 5});
};
}  // namespace

TEST_CASE("hard attention in the translator: config, same initial weights as additive, loss and gradients",
          "[hard_attention]") {
    models::Seq2SeqConfig config = tiny_config("hard");
    CHECK_NOTHROW(config.validate());
    CHECK(models::Seq2SeqConfig::from_json(config.to_json(), "config.json").attention == "hard");
    CHECK_THROWS_WITH(tiny_config("hardd").validate(), Catch::Contains("'hardd'"));

    Generator g1(5), g2(5);
    models::Seq2Seq soft(tiny_config("additive"), &g1), hard(config, &g2);
    REQUIRE(hard.decoder->hard_attention() != nullptr);
    CHECK(soft.decoder->hard_attention() == nullptr);
    // Same weights: the hard model's score is the additive one, one level down.
    auto hard_params = hard.state_dict();
    std::size_t compared = 0;
    for (auto& [name, p] : soft.state_dict()) {
        std::string hard_name = name;
        const std::string prefix = "decoder.attention.";
        if (name.rfind(prefix, 0) == 0) hard_name = prefix + "score." + name.substr(prefix.size());
        REQUIRE(hard_params.count(hard_name) == 1);
        CHECK(allclose(p, hard_params.at(hard_name), 0, 0));
        ++compared;
    }
    CHECK(compared + 2 == hard_params.size());  // plus the two baseline buffers
    CHECK(hard_params.count("decoder.attention.baseline") == 1);

    TinyBatch b;
    nn::HardAttention& att = *hard.decoder->hard_attention();
    // Training mode: the value is the cross-entropy of the sampled forward pass (replayed here under
    // NoGradGuard, which samples the same positions from the same seed but records nothing).
    att.sampler().manual_seed(99);
    Tensor loss = hard.loss(b.src, b.lengths, b.tgt_in, b.tgt_out);
    CHECK(att.recorded_steps() == 0);  // the surrogate consumed the record
    CHECK(att.baseline_updates() == 1);
    double replay = 0;
    {
        NoGradGuard no_grad;
        att.sampler().manual_seed(99);
        replay = hard.loss(b.src, b.lengths, b.tgt_in, b.tgt_out).item();
    }
    CHECK(loss.item() == Approx(replay).epsilon(1e-6));
    CHECK(att.baseline_updates() == 1);  // nothing recorded, nothing updated without grad

    // The score's parameters learn only through REINFORCE: a gradient in training mode ...
    hard.zero_grad();
    loss.backward();
    double score_grad = 0;
    for (auto& [name, p] : att.score->named_parameters()) {
        REQUIRE(p.grad().defined());
        score_grad += sum(mul(p.grad(), p.grad())).item();
    }
    CHECK(score_grad > 0);
    // ... and none in eval mode (argmax, deterministic, no surrogate).
    hard.eval();
    hard.zero_grad();
    Tensor l1 = hard.loss(b.src, b.lengths, b.tgt_in, b.tgt_out);
    Tensor l2 = hard.loss(b.src, b.lengths, b.tgt_in, b.tgt_out);
    CHECK(l1.item() == l2.item());
    l1.backward();
    for (auto& [name, p] : att.score->named_parameters()) CHECK(!p.grad().defined());
    // Decoding works in eval mode and attends to exactly one real source position per step.
    models::Hypothesis h = models::greedy(hard, {4, 5, 6}, 6);
    for (const auto& row : h.attention) {
        double total = 0;
        for (float w : row) {
            CHECK((w == 0.0f || w == 1.0f));
            total += w;
        }
        CHECK(total == 1.0);
    }
}
