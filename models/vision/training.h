// Training and evaluating an image classifier (models/vision/classifiers.h) on generated digits: Adam
// on shuffled mini-batches of the model's training_loss, gradient norm clipping, accuracy in eval mode.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <vector>

#include "models/vision/classifiers.h"
#include "models/vision/digits.h"

namespace seqgrad::vision {

struct ImageTrainOptions {
    std::int64_t epochs = 10;
    std::int64_t batch = 64;
    double lr = 1e-3;        // Adam
    double clip = 5.0;       // global gradient norm; 0 = off
    std::uint64_t seed = 1;  // the shuffling order
};

struct ImageTrainResult {
    std::int64_t steps = 0;
    double seconds = 0;
    double last_epoch_loss = 0;  // mean training_loss over the last epoch
};

// Trains `model` in place (training mode). Logs one line per epoch to `log` when it is not null.
// Throws ShapeError naming train_classifier for a data set of another canvas, no images, or a
// non-positive epochs, batch or lr.
ImageTrainResult train_classifier(ImageClassifier& model, const DigitImages& train, const ImageTrainOptions& options,
                                  std::ostream* log = nullptr);

// argmax predictions [n] of the model in eval mode without a graph (the model is left in eval mode).
std::vector<std::int64_t> predict(ImageClassifier& model, const DigitImages& data, std::int64_t batch = 250);
// The share of `data` the model classifies right, in [0, 1].
double accuracy(ImageClassifier& model, const DigitImages& data, std::int64_t batch = 250);

}  // namespace seqgrad::vision
