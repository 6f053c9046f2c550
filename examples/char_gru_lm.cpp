// A character-level language model: Embedding -> GRU -> Linear, trained with Adam for 200 steps (a few seconds)
// on the short text below to predict each next character, then asked to write a sample.
//   x_t = E[c_t];   h_t = GRU(x_t, h_{t-1});   p(c_{t+1} | c_≤t) = softmax(W h_t + b)
//   loss = mean over positions of −log p(c_{t+1})   (cross-entropy per character, in nats)
// An untrained model starts near ln(V) (every character equally likely) and a model that ignores the
// context cannot beat the single-letter entropy (about 2.8 nats here); the loss must fall below
// kThreshold = 1.0, which takes real use of the context, or the program exits non-zero (the test
// suite runs it).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "layers/embedding.h"
#include "layers/linear.h"
#include "layers/rnn.h"
#include "optim/adam.h"
#include "optim/clip.h"
#include "seqgrad.h"

using namespace seqgrad;

namespace {

// Our own few paragraphs: plain words that repeat often enough for a small model to pick up.
const char* kText =
    "the river runs past the old mill and down to the sea. every morning the miller opens the door, "
    "looks at the water and says that the river is the oldest thing in the valley. the children of the "
    "village walk along the river to school, and they count the stones on the way. some days they count "
    "ten stones, some days they count twenty, and on the best days they forget to count at all.\n"
    "in the spring the river is fast and brown. in the summer it is slow and green, and the children "
    "swim where the water is deep and still. in the autumn the leaves fall on the water and float down "
    "to the sea like small boats. in the winter the river is quiet, and the miller sits by the fire and "
    "tells the children that the river will run again when the snow is gone.\n"
    "the miller is old now, but the mill still turns. the wheel goes round and round, the stones grind "
    "the grain, and the bread in the village tastes of the river. when the children ask the miller what "
    "he will do when he is too old to work, he smiles and says that the river will do the work, as it "
    "always has.\n";

constexpr double kThreshold = 1.0;  // nats per character: well below the text's single-letter entropy (printed)
constexpr int kSteps = 200;
constexpr std::int64_t kBatch = 16, kWindow = 48, kEmbed = 32, kHidden = 128;

}  // namespace

int main() {
    manual_seed(7);
    Generator data_gen(11), sample_gen(13);
    const std::string text = kText;

    // The vocabulary: every distinct character, in order of first appearance.
    std::map<char, std::int64_t> id_of;
    std::string chars;
    for (char c : text)
        if (id_of.emplace(c, static_cast<std::int64_t>(chars.size())).second) chars.push_back(c);
    const auto V = static_cast<std::int64_t>(chars.size());
    std::vector<std::int64_t> ids;
    for (char c : text) ids.push_back(id_of[c]);
    // The entropy of single letters, −Σ_c p(c) ln p(c): the best loss without looking at any context.
    std::vector<double> freq(chars.size(), 0.0);
    for (std::int64_t id : ids) freq[id] += 1.0 / static_cast<double>(ids.size());
    double unigram = 0;
    for (double p : freq) unigram -= p * std::log(p);
    std::printf("text: %zu characters, vocabulary of %lld; an untrained model scores about ln(V) = %.3f,\n"
                "the best model that ignores context %.3f (single-letter entropy); the threshold is %.2f\n",
                text.size(), static_cast<long long>(V), std::log(static_cast<double>(V)), unigram, kThreshold);

    nn::Embedding embed({.num_embeddings = V, .embedding_dim = kEmbed});
    nn::GRU gru({.input_size = kEmbed, .hidden_size = kHidden});
    nn::Linear head({.in_features = kHidden, .out_features = V});
    std::vector<Tensor> params;
    for (nn::Module* m : {static_cast<nn::Module*>(&embed), static_cast<nn::Module*>(&gru), static_cast<nn::Module*>(&head)})
        for (const Tensor& p : m->parameters()) params.push_back(p);
    optim::Adam adam(params, {.lr = 3e-3});

    // One batch: kBatch random windows of kWindow characters; targets are the next characters.
    auto batch = [&] {
        std::vector<std::int64_t> x, y;
        const auto span = static_cast<std::uint64_t>(ids.size() - kWindow - 1);
        for (std::int64_t b = 0; b < kBatch; ++b) {
            const auto start = static_cast<std::size_t>(data_gen.randint(span));
            for (std::int64_t t = 0; t < kWindow; ++t) {
                x.push_back(ids[start + t]);
                y.push_back(ids[start + t + 1]);
            }
        }
        return std::pair{Tensor::ids(x, {kBatch, kWindow}), Tensor::ids(y, {kBatch * kWindow})};
    };

    const auto t0 = std::chrono::steady_clock::now();
    double first = 0, recent = 0;  // the first loss; the mean of the last 20
    std::vector<double> history;
    int step = 0;
    for (; step < kSteps; ++step) {
        auto [x, y] = batch();
        Tensor h = gru(embed(x)).output;                                        // [B, T, H]
        Tensor logits = head(reshape(h, {kBatch * kWindow, kHidden}));          // [B*T, V]
        Tensor loss = cross_entropy(logits, y);
        adam.zero_grad();
        loss.backward();
        optim::clip_grad_norm(params, 1.0);
        adam.step();
        history.push_back(loss.item());
        if (step == 0) first = history.back();
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (step % 25 == 0) std::printf("step %3d  loss %.3f  (%.1f s)\n", step, history.back(), secs);
    }
    const std::size_t last = std::min<std::size_t>(20, history.size());
    for (std::size_t i = history.size() - last; i < history.size(); ++i) recent += history[i] / static_cast<double>(last);
    std::printf("after %d steps: loss %.3f (first step %.3f); mean of the last %zu steps %.3f\n", step, history.back(),
                first, last, recent);

    // A sample: feed a prompt, then draw each next character from softmax(logits / temperature).
    NoGradGuard no_grad;
    const std::string prompt = "the river ";
    const double temperature = 0.7;
    std::string out = prompt;
    Tensor state;  // [1, 1, H]
    std::int64_t next = 0;
    for (std::size_t i = 0; i < prompt.size() + 200; ++i) {
        const std::int64_t input = i < prompt.size() ? id_of[prompt[i]] : next;
        nn::RNNOutput r = gru(embed(Tensor::ids({input}, {1, 1})), state);
        state = r.h_n;
        const auto p = softmax(head(reshape(r.output, {1, kHidden})) / temperature, 1).to_vector();
        double u = sample_gen.uniform(), cumulative = 0;
        next = V - 1;
        for (std::int64_t c = 0; c < V; ++c) {
            cumulative += p[c];
            if (u < cumulative) {
                next = c;
                break;
            }
        }
        if (i + 1 >= prompt.size()) out.push_back(chars[next]);
    }
    std::printf("sample (temperature %.1f):\n%s\n", temperature, out.c_str());

    const bool learned = recent < kThreshold && recent < first;
    std::printf("%s: mean loss of the last steps %.3f %s the threshold %.2f\n", learned ? "OK" : "FAILED", recent,
                learned ? "is below" : "is NOT below", kThreshold);
    return learned ? 0 : 1;
}
