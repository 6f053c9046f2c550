// `seqgrad experiment visual-attention`: the no-attention MLP, soft attention over windows and the
// recurrent glimpse model (models/vision/classifiers.h) trained on cluttered digits at several canvas
// sizes, same data and budget for all three; test accuracy by canvas as a table and a line plot, and
// per canvas a figure of a few test images with the soft α and the glimpse path (models/vision/figures.h).
//
// The output folder follows the rule of every experiment (models/output_folder.h), checked before
// anything is trained: a new or empty folder, or one this experiment marked as its own (its files are
// replaced), or any folder with `force`; nothing in it is ever removed.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "models/vision/training.h"

namespace seqgrad::vision {

struct VisualAttentionOptions {
    std::vector<std::int64_t> canvases = {28, 40, 60};
    std::vector<std::string> models = {"mlp", "soft", "glimpse"};
    std::int64_t train_images = 3000;
    std::int64_t test_images = 1000;
    ImageTrainOptions training{.epochs = 15, .lr = 3e-3};
    std::int64_t glimpses = 6;
    RetinaOptions retina;
    double sigma = 0.15;
    GlimpseOptions::Reward reward = GlimpseOptions::Reward::Correct;
    bool policy_gradient_into_core = false;
    std::uint64_t seed = 1;
    std::int64_t figure_images = 4;  // test images in each canvas's figure (needs soft and glimpse); 0 = none
    std::string out = "experiment-visual-attention";
    bool force = false;
};

// The smallest and largest canvas the experiment accepts.
constexpr std::int64_t kMinCanvas = 20, kMaxCanvas = 200;

// Throws ShapeError "experiment visual-attention: ..." naming the first bad option; changes nothing.
void check_visual_attention_options(const VisualAttentionOptions& options);

struct VisualAttentionRow {
    std::int64_t canvas = 0;
    std::string model;
    double accuracy = 0;  // test, in [0, 1]
    // The share of test images on whose digit the model looks (eval mode), in [0, 1]: for soft attention
    // the window of largest α holds the whole digit, for glimpses some glimpse is centred inside the
    // digit's box; -1 for the MLP, which has no place it looks at.
    double on_digit = -1;
    double seconds = 0;   // training
    std::int64_t parameters = 0;
};

struct VisualAttentionResult {
    std::vector<VisualAttentionRow> rows;
    std::string table;               // as written to table.txt
    std::vector<std::string> files;  // every file written
};

// The on_digit share of VisualAttentionRow for a soft attention or glimpse model (-1 for another).
double looks_at_digit(ImageClassifier& model, const DigitImages& data, std::int64_t batch = 250);

// Checks the options, claims the folder, then trains and evaluates every model at every canvas.
VisualAttentionResult run_visual_attention(const VisualAttentionOptions& options, std::ostream& log);

}  // namespace seqgrad::vision
