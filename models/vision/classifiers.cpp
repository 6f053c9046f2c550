// The three digit classifiers (see the header for their equations) and their factory.
#include "models/vision/classifiers.h"

#include <algorithm>

#include "core/autograd.h"
#include "core/ops.h"

namespace seqgrad::vision {

Tensor ImageClassifier::training_loss(const Tensor& images, const Tensor& targets) const {
    return cross_entropy(logits(images), targets);
}

void ImageClassifier::check_images(const Tensor& images) const {
    check_defined(type_name().c_str(), images, "images");
    if (images.dim() != 3 || images.size(1) != canvas_ || images.size(2) != canvas_)
        fail("{}: images must be [B, N, N] = [B, {}, {}], got {}", type_name(), canvas_, canvas_,
             shape_str(images.shape()));
}

// ---- no attention -------------------------------------------------------------------------------

MlpClassifier::MlpClassifier(const MlpOptions& o) : ImageClassifier(o.canvas) {
    hidden = register_module("hidden", std::make_shared<nn::Linear>(nn::LinearOptions{
        .in_features = o.canvas * o.canvas, .out_features = o.hidden, .dtype = o.dtype, .generator = o.generator}));
    output = register_module("output", std::make_shared<nn::Linear>(nn::LinearOptions{
        .in_features = o.hidden, .out_features = kClasses, .dtype = o.dtype, .generator = o.generator}));
}

Tensor MlpClassifier::logits(const Tensor& images) const {
    check_images(images);
    Tensor x = reshape(images.to(hidden->weight.dtype()), {images.size(0), canvas() * canvas()});  // [B, N²]
    return output->forward(relu(hidden->forward(x)));
}

// ---- soft attention -----------------------------------------------------------------------------

SoftAttentionClassifier::SoftAttentionClassifier(const SoftAttentionOptions& o)
    : ImageClassifier(o.canvas), grid({.height = o.canvas, .width = o.canvas, .patch = o.patch, .stride = o.stride}) {
    feature1 = register_module("feature1", std::make_shared<nn::Linear>(nn::LinearOptions{
        .in_features = grid.patch_pixels(), .out_features = o.features, .dtype = o.dtype, .generator = o.generator}));
    feature2 = register_module("feature2", std::make_shared<nn::Linear>(nn::LinearOptions{
        .in_features = o.features, .out_features = o.features, .dtype = o.dtype, .generator = o.generator}));
    pool = register_module("pool", std::make_shared<nn::AttentionPooling>(nn::AttentionPoolingOptions{
        .feature_size = o.features, .attention_size = o.attention_size, .dtype = o.dtype, .generator = o.generator}));
    output = register_module("output", std::make_shared<nn::Linear>(nn::LinearOptions{
        .in_features = o.features, .out_features = kClasses, .dtype = o.dtype, .generator = o.generator}));
}

// images [B, N, N] -> patches [B, S, P²] -> features [B, S, F] -> pool -> context [B, F], α [B, S]
nn::AttentionOutput SoftAttentionClassifier::attend(const Tensor& images) const {
    check_images(images);
    Tensor patches = grid.extract(images.to(feature1->weight.dtype()));
    Tensor features = relu(feature2->forward(relu(feature1->forward(patches))));
    return pool->forward(features);
}

Tensor SoftAttentionClassifier::logits(const Tensor& images) const { return output->forward(attend(images).context); }

// ---- hard attention -----------------------------------------------------------------------------

GlimpseClassifier::GlimpseClassifier(const GlimpseOptions& o) : ImageClassifier(o.canvas), options_(o) {
    check_retina(o.retina);
    if (o.glimpses < 1 || o.hidden < 1)
        fail("GlimpseClassifier: glimpses and hidden must be positive, got glimpses={}, hidden={}", o.glimpses, o.hidden);
    const nn::LinearOptions base{.dtype = o.dtype, .generator = o.generator};
    auto lin = [&](std::int64_t in, std::int64_t out) {
        nn::LinearOptions l = base;
        l.in_features = in;
        l.out_features = out;
        return std::make_shared<nn::Linear>(l);
    };
    what = register_module("what", lin(glimpse_size(o.retina), o.hidden));
    where = register_module("where", lin(2, o.hidden));
    core = register_module("core", std::make_shared<nn::GRUCell>(nn::GRUCellOptions{
        .input_size = o.hidden, .hidden_size = o.hidden, .dtype = o.dtype, .generator = o.generator}));
    policy = register_module("policy", std::make_shared<nn::GaussianPolicy>(nn::GaussianPolicyOptions{
        .input_size = o.hidden, .action_size = 2, .sigma = o.sigma, .dtype = o.dtype, .generator = o.generator,
        .seed = o.seed}));
    baseline = register_module("baseline", lin(o.hidden, 1));
    output = register_module("output", lin(o.hidden, kClasses));
}

GlimpseRun GlimpseClassifier::run(const Tensor& images, const std::vector<Tensor>& fixed) const {
    check_images(images);
    if (!fixed.empty() && static_cast<std::int64_t>(fixed.size()) != options_.glimpses)
        fail("GlimpseClassifier: {} fixed locations for {} glimpses", fixed.size(), options_.glimpses);
    const DType dt = output->weight.dtype();
    const Tensor x = images.to(dt);
    const std::int64_t B = images.size(0);
    Tensor h = zeros({B, options_.hidden}, {.dtype = dt});
    GlimpseRun r;
    for (std::int64_t t = 0; t < options_.glimpses; ++t) {
        const Tensor state = h.detach();
        const Tensor policy_input = options_.policy_gradient_into_core ? h : state;
        nn::PolicyStep step;
        if (fixed.empty()) {
            step = policy->act(policy_input);
        } else {
            step.action = fixed[static_cast<std::size_t>(t)].to(dt);
            step.log_prob = policy->log_prob(policy_input, step.action);
        }
        r.log_probs.push_back(step.log_prob);
        r.baselines.push_back(squeeze(baseline->forward(state), 1));
        // The environment clamps the sample to the canvas; log p is of the sample itself (the clamp is part
        // of how the reward depends on it, which REINFORCE needs no derivative of).
        std::vector<double> l = step.action.to_vector();
        for (double& v : l) v = std::clamp(v, -1.0, 1.0);
        const Tensor location = Tensor::from(l, {B, 2}, {.dtype = dt});
        r.locations.push_back(location);
        const Tensor seen = glimpse(x, location, options_.retina);                     // [B, k·g²]
        const Tensor g = relu(what->forward(seen) + where->forward(location));        // [B, H]
        h = core->step(g, h);
    }
    r.logits = output->forward(h);
    return r;
}

Tensor GlimpseClassifier::logits(const Tensor& images) const { return run(images).logits; }

Tensor GlimpseClassifier::training_loss(const Tensor& images, const Tensor& targets) const {
    GlimpseRun r = run(images);
    const Tensor ce = cross_entropy(r.logits, targets);
    const std::int64_t B = images.size(0), T = options_.glimpses;
    // r_b: the reward of every step's choice (only the end is rewarded), a constant.
    const auto predicted = argmax(r.logits, 1).to_ids();
    const auto truth = targets.to_ids();
    const auto probs = softmax(r.logits.detach(), 1).to_vector();
    std::vector<double> reward(static_cast<std::size_t>(B * T));
    double total = 0;
    for (std::int64_t b = 0; b < B; ++b) {
        const double rb = options_.reward == GlimpseOptions::Reward::Correct ? (predicted[b] == truth[b] ? 1.0 : 0.0)
                                                                               : probs[b * kClasses + truth[b]];
        total += rb;
        for (std::int64_t t = 0; t < T; ++t) reward[b * T + t] = rb;
    }
    last_reward_ = total / static_cast<double>(B);
    const DType dt = r.logits.dtype();
    const Tensor rewards = Tensor::from(reward, {B, T}, {.dtype = dt});
    const Tensor baselines = stack(r.baselines, 1);                                   // [B, T]
    const Tensor reinforce = nn::score_function_surrogate(stack(r.log_probs, 1), rewards - baselines.detach());
    const Tensor baseline_fit = mean(pow(baselines - rewards, 2.0));
    return ce + reinforce + baseline_fit;
}

// ---- factory ------------------------------------------------------------------------------------

const std::vector<std::string>& classifier_names() {
    static const std::vector<std::string> names = {"mlp", "soft", "glimpse"};
    return names;
}

std::shared_ptr<ImageClassifier> make_classifier(const std::string& name, const ClassifierConfig& c) {
    if (name == "mlp") return std::make_shared<MlpClassifier>(MlpOptions{.canvas = c.canvas, .generator = c.generator});
    if (name == "soft")
        return std::make_shared<SoftAttentionClassifier>(SoftAttentionOptions{.canvas = c.canvas, .generator = c.generator});
    if (name == "glimpse")
        return std::make_shared<GlimpseClassifier>(GlimpseOptions{.canvas = c.canvas, .retina = c.retina,
                                                                  .glimpses = c.glimpses, .sigma = c.sigma,
                                                                  .policy_gradient_into_core = c.policy_gradient_into_core,
                                                                  .reward = c.reward, .generator = c.generator,
                                                                  .seed = c.seed});
    fail("make_classifier: unknown model '{}'; valid models: mlp, soft, glimpse", name);
}

}  // namespace seqgrad::vision
