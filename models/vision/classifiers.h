// Three digit classifiers for the cluttered-digits task (models/vision/digits.h), all built from the
// library's layers, all behind one small interface so the same training loop and evaluation serve them:
//
//   MlpClassifier            no attention: one hidden layer over all N² pixels at once
//   SoftAttentionClassifier  soft attention over a grid of windows: each window's pixels go through a
//                            shared two-layer feature net, attention pooling (layers/attention_pooling.h)
//                            averages the features with weights α, a Linear reads the average
//   GlimpseClassifier        hard attention (Mnih et al. 2014, "Recurrent Models of Visual Attention"):
//                            a GRU takes T glimpses (models/vision/retina.h), choosing each location with
//                            a Gaussian policy (layers/gaussian_policy.h); the class is read from the last
//                            state. The classifier (glimpse net, GRU, head) learns by backprop of the
//                            cross-entropy; the policy, whose samples have no gradient, by REINFORCE with
//                            reward 1 for a right answer and 0 otherwise, minus a learned baseline
//                            b_t = Linear(h_t) fitted to the reward by squared error.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layers/attention_pooling.h"
#include "layers/gaussian_policy.h"
#include "layers/linear.h"
#include "layers/patches.h"
#include "layers/rnn_cell.h"
#include "models/vision/digits.h"
#include "models/vision/retina.h"

namespace seqgrad::vision {

class ImageClassifier : public nn::Module {
public:
    // images [B, N, N] -> logits [B, 10]. Throws ShapeError naming the model for another canvas.
    virtual Tensor logits(const Tensor& images) const = 0;
    // The objective of one training batch, to minimise: the cross-entropy of logits(images), plus what
    // a model adds (the glimpse model's REINFORCE and baseline terms). targets int64 [B].
    virtual Tensor training_loss(const Tensor& images, const Tensor& targets) const;
    // A short name for tables: "mlp", "soft", "glimpse".
    virtual std::string short_name() const = 0;
    std::int64_t canvas() const { return canvas_; }

protected:
    explicit ImageClassifier(std::int64_t canvas) : canvas_(canvas) {}
    // Throws ShapeError "<type>: images must be [B, N, N] = [B, <N>, <N>], got <shape>".
    void check_images(const Tensor& images) const;

private:
    std::int64_t canvas_;
};

// ---- no attention -------------------------------------------------------------------------------

struct MlpOptions {
    std::int64_t canvas = 40;
    std::int64_t hidden = 256;
    DType dtype = DType::Float32;
    Generator* generator = nullptr;
};

// logits = W_2 relu(W_1 x + b_1) + b_2,   x = the image flattened [B, N²]
class MlpClassifier : public ImageClassifier {
public:
    explicit MlpClassifier(const MlpOptions& options);
    std::string type_name() const override { return "MlpClassifier"; }
    std::string short_name() const override { return "mlp"; }
    Tensor logits(const Tensor& images) const override;

    std::shared_ptr<nn::Linear> hidden, output;
};

// ---- soft attention -----------------------------------------------------------------------------

struct SoftAttentionOptions {
    std::int64_t canvas = 40;
    std::int64_t patch = 18;          // window side: larger than the 10×14 digit, so one window holds it all
    std::int64_t stride = 4;          // between windows (overlapping: a digit is always inside some window)
    std::int64_t features = 64;       // F: the feature net's width, the pooled vector's size
    std::int64_t attention_size = 32; // A: the additive score's hidden size
    DType dtype = DType::Float32;
    Generator* generator = nullptr;
};

// f_s = relu(W_2 relu(W_1 p_s + b_1) + b_2)   p_s the pixels of window s [P²], f_s [F]
// c   = Σ_s α_s f_s,  α = softmax_s(vᵀ tanh(W_q q + W_k f_s))   (attention pooling, learned query q)
// logits = W_o c + b_o
class SoftAttentionClassifier : public ImageClassifier {
public:
    explicit SoftAttentionClassifier(const SoftAttentionOptions& options);
    std::string type_name() const override { return "SoftAttentionClassifier"; }
    std::string short_name() const override { return "soft"; }
    Tensor logits(const Tensor& images) const override;
    // The pooled context [B, F], α [B, S] and scores [B, S] for images [B, N, N].
    nn::AttentionOutput attend(const Tensor& images) const;

    nn::PatchGrid grid;
    std::shared_ptr<nn::Linear> feature1, feature2, output;
    std::shared_ptr<nn::AttentionPooling> pool;
};

// ---- hard attention: the recurrent glimpse model ------------------------------------------------

struct GlimpseOptions {
    std::int64_t canvas = 40;
    RetinaOptions retina = {};
    std::int64_t glimpses = 6;   // T
    std::int64_t hidden = 128;   // H: the glimpse features and the GRU state
    double sigma = 0.15;         // the location policy's standard deviation (locations span [-1, 1])
    // Whether the REINFORCE gradient also reaches the glimpse net and the GRU through h_t (as in Mnih et
    // al.) or stops at the policy. Off by default: on this task and budget its variance swamped the
    // classifier's own gradient (training accuracy stayed at chance on a 60-pixel canvas).
    bool policy_gradient_into_core = false;
    // The reward of a pass: Correct gives 1 for a right answer and 0 otherwise (Mnih et al.); Probability
    // gives the probability the classifier puts on the right class, a denser signal with less variance.
    enum class Reward { Correct, Probability };
    Reward reward = Reward::Correct;
    DType dtype = DType::Float32;
    Generator* generator = nullptr;  // initialisation
    std::uint64_t seed = 0;          // the location sampler
};

// One pass over a batch: what each step looked at and how likely that was.
struct GlimpseRun {
    Tensor logits;                    // [B, 10] from the last state
    std::vector<Tensor> locations;    // T × [B, 2], the places looked at (clamped to [-1, 1]), constants
    std::vector<Tensor> log_probs;    // T × [B], log p(l_t) under the policy, with graph
    std::vector<Tensor> baselines;    // T × [B], b_t, with graph (to its own Linear only)
};

// h_0 = 0; for t = 0 .. T-1:
//   l_t ~ N(μ_t, σ² I), μ_t = tanh(W_μ h_t + b_μ)     (h_t detached unless policy_gradient_into_core)
//   g_t = relu(W_what ρ(x, clamp(l_t)) + W_where clamp(l_t) + b)   ρ the retina
//   h_{t+1} = GRU(g_t, h_t)
//   b_t = W_b h_t + b_b                              (h_t detached: the baseline learns by its own loss)
// logits = W_o h_T + b_o
// Training loss for rewards r_b = 1[argmax logits_b = y_b] (or p(y_b | x_b), Reward::Probability):
//   cross_entropy(logits, y) + score_function_surrogate(log p [B, T], r − b) + mean_{b,t} (b_{b,t} − r_b)²
class GlimpseClassifier : public ImageClassifier {
public:
    explicit GlimpseClassifier(const GlimpseOptions& options);
    std::string type_name() const override { return "GlimpseClassifier"; }
    std::string short_name() const override { return "glimpse"; }
    Tensor logits(const Tensor& images) const override;
    Tensor training_loss(const Tensor& images, const Tensor& targets) const override;
    // Training mode samples the locations; eval mode looks at the policy's means. Given `locations`
    // (T × [B, 2], e.g. an earlier run's), the model looks there instead and log p is of those: the path
    // is then fixed, so the classifier is a smooth function of its parameters (gradcheck needs that).
    GlimpseRun run(const Tensor& images, const std::vector<Tensor>& locations = {}) const;
    // The mean reward (training accuracy under sampling) of the last training_loss call.
    double last_reward() const { return last_reward_; }
    const GlimpseOptions& options() const { return options_; }

    std::shared_ptr<nn::Linear> what, where, baseline, output;
    std::shared_ptr<nn::GRUCell> core;
    std::shared_ptr<nn::GaussianPolicy> policy;

private:
    GlimpseOptions options_;
    mutable double last_reward_ = 0;
};

// What the experiment varies; every other size is the model's default.
struct ClassifierConfig {
    std::int64_t canvas = 40;
    RetinaOptions retina = {};        // glimpse
    std::int64_t glimpses = 6;        // glimpse
    double sigma = 0.15;              // glimpse
    GlimpseOptions::Reward reward = GlimpseOptions::Reward::Correct;  // glimpse
    bool policy_gradient_into_core = false;                            // glimpse
    Generator* generator = nullptr;   // initialisation
    std::uint64_t seed = 0;           // the glimpse model's location sampler
};

// The model names, in the order of the experiment's table.
const std::vector<std::string>& classifier_names();
// "mlp" | "soft" | "glimpse"; anything else is a ShapeError listing the names.
std::shared_ptr<ImageClassifier> make_classifier(const std::string& name, const ClassifierConfig& config);

}  // namespace seqgrad::vision
