// The training loop and evaluation of the image classifiers.
#include "models/vision/training.h"

#include <chrono>
#include <numeric>
#include <ostream>

#include "core/autograd.h"
#include "core/ops.h"
#include "optim/adam.h"
#include "optim/clip.h"

namespace seqgrad::vision {

ImageTrainResult train_classifier(ImageClassifier& model, const DigitImages& train, const ImageTrainOptions& o,
                                  std::ostream* log) {
    if (train.canvas != model.canvas() || train.size() == 0)
        fail("train_classifier: the {} model is for a {}-pixel canvas but the data has {} images of {} pixels",
             model.short_name(), model.canvas(), train.size(), train.canvas);
    if (o.epochs <= 0 || o.batch <= 0 || !(o.lr > 0.0))
        fail("train_classifier: epochs, batch and lr must be positive, got epochs={}, batch={}, lr={}", o.epochs, o.batch,
             o.lr);
    const auto t0 = std::chrono::steady_clock::now();
    model.train();
    optim::Adam adam(model.parameters(), {.lr = o.lr});
    Generator shuffle(o.seed);
    std::vector<std::int64_t> order(static_cast<std::size_t>(train.size()));
    std::iota(order.begin(), order.end(), 0);
    ImageTrainResult result;
    for (std::int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
        for (std::size_t i = order.size(); i > 1; --i)  // Fisher-Yates
            std::swap(order[i - 1], order[shuffle.randint(i)]);
        double total = 0, reward = 0;
        std::int64_t batches = 0;
        const auto* glimpses = dynamic_cast<const GlimpseClassifier*>(&model);
        for (std::size_t begin = 0; begin < order.size(); begin += static_cast<std::size_t>(o.batch)) {
            const std::size_t end = std::min(order.size(), begin + static_cast<std::size_t>(o.batch));
            const std::vector<std::int64_t> idx(order.begin() + static_cast<std::ptrdiff_t>(begin),
                                                order.begin() + static_cast<std::ptrdiff_t>(end));
            adam.zero_grad();
            Tensor loss = model.training_loss(train.images(idx), train.targets(idx));
            loss.backward();
            if (o.clip > 0) optim::clip_grad_norm(model.parameters(), o.clip);
            adam.step();
            total += loss.item();
            if (glimpses) reward += glimpses->last_reward();
            ++batches;
            ++result.steps;
        }
        result.last_epoch_loss = total / static_cast<double>(batches);
        if (log) {
            *log << fmt::format("  {:<8} N={:<3} epoch {:>3}/{}  loss {:.4f}", model.short_name(), model.canvas(), epoch,
                                o.epochs, result.last_epoch_loss);
            if (glimpses) *log << fmt::format("  mean reward {:.3f}", reward / static_cast<double>(batches));
            *log << "\n" << std::flush;
        }
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return result;
}

std::vector<std::int64_t> predict(ImageClassifier& model, const DigitImages& data, std::int64_t batch) {
    model.eval();
    NoGradGuard no_grad;
    std::vector<std::int64_t> out;
    for (std::int64_t begin = 0; begin < data.size(); begin += batch) {
        const std::int64_t n = std::min(batch, data.size() - begin);
        const auto p = argmax(model.logits(data.images(begin, n)), 1).to_ids();
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

double accuracy(ImageClassifier& model, const DigitImages& data, std::int64_t batch) {
    if (data.size() == 0) return 0.0;
    const auto p = predict(model, data, batch);
    std::int64_t right = 0;
    for (std::size_t i = 0; i < p.size(); ++i) right += p[i] == data.labels[i];
    return static_cast<double>(right) / static_cast<double>(data.size());
}

}  // namespace seqgrad::vision
