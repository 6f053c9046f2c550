// Visual attention on cluttered digits (models/vision/): the generator (deterministic, the digit intact,
// distractors clear of it), the retina's golden values, gradcheck of the soft and glimpse classifiers,
// that both attention models learn well above chance on a small canvas in a few seconds, the
// experiment's output folder rule, its files, the figure, and its command line.
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "helpers.h"
#include "models/fileio.h"
#include "models/vision/experiment.h"
#include "models/vision/figures.h"

using namespace seqgrad;
using namespace seqgrad::vision;
using seqgrad::testing::f64;
using seqgrad::testing::TempDir;
namespace fs = std::filesystem;

TEST_CASE("vision: cluttered digits are deterministic, the digit is intact, distractors stay clear of it", "[vision]") {
    const DigitImages a = cluttered_digits(3, 200, {.canvas = 40});
    const DigitImages b = cluttered_digits(3, 200, {.canvas = 40});
    const DigitImages c = cluttered_digits(4, 200, {.canvas = 40});
    CHECK(a.pixels == b.pixels);
    CHECK(a.labels == b.labels);
    CHECK(a.pixels != c.pixels);
    std::set<std::int64_t> classes(a.labels.begin(), a.labels.end());
    CHECK(classes.size() == 10);
    double clutter = 0;
    for (std::int64_t i = 0; i < a.size(); ++i) {
        const Box& box = a.boxes[i];
        REQUIRE(box.height == 14);
        REQUIRE(box.width == 10);
        const auto& g = glyph(static_cast<int>(a.labels[i]));
        for (std::int64_t y = 0; y < 40; ++y)
            for (std::int64_t x = 0; x < 40; ++x) {
                const float v = a.pixels[(i * 40 + y) * 40 + x];
                const bool inside = y >= box.top && y < box.top + 14 && x >= box.left && x < box.left + 10;
                if (inside) {
                    // Exactly the glyph, magnified twice: no distractor ink inside the digit's box.
                    REQUIRE(v == (g[(y - box.top) / 2][(x - box.left) / 2] == '#' ? 1.0f : 0.0f));
                } else {
                    clutter += v;
                }
            }
    }
    CHECK(clutter / a.size() > 20);  // 8 fragments per image, each a few inked cells of 4 pixels
    // The text view shows the top-left corner of glyph 1 (".." then "#") at scale 1 without clutter.
    const DigitImages one = cluttered_digits(0, 1, {.canvas = 7, .scale = 1, .distractors = 0});
    CHECK(to_text(one, 0).size() == 7 * 8);
}

TEST_CASE("vision: the retina's golden values, inside and beyond the canvas", "[vision]") {
    std::vector<double> v(16);
    for (int i = 0; i < 16; ++i) v[i] = i;
    const Tensor img = f64(v, {1, 4, 4});
    // Location (0, 0) is pixel (2, 2): scale 0 reads rows 1-2, columns 1-2; scale 1 the whole image in 2x2 means.
    const Tensor g = glimpse(img, f64({0, 0}, {1, 2}), {.size = 2, .scales = 2});
    seqgrad::testing::check_values(g, {5, 6, 9, 10, 2.5, 4.5, 10.5, 12.5});
    CHECK_FALSE(g.requires_grad());
    // (-1, -1) is the corner: three of the four pixels of scale 0 lie outside and read 0.
    const Tensor corner = glimpse(img, f64({-1, -1}, {1, 2}), {.size = 2, .scales = 1});
    seqgrad::testing::check_values(corner, {0, 0, 0, 0});
    const Tensor edge = glimpse(img, f64({-0.5, -0.5}, {1, 2}), {.size = 2, .scales = 1});  // pixel (1, 1)
    seqgrad::testing::check_values(edge, {0, 1, 4, 5});
    CHECK(location_to_pixel(1.0, 40) == 40.0);
}

TEST_CASE("vision: gradcheck of the soft attention and glimpse classifiers", "[vision]") {
    Generator gen(5);
    SoftAttentionClassifier soft({.canvas = 8, .patch = 4, .stride = 4, .features = 3, .attention_size = 2,
                                  .dtype = DType::Float64, .generator = &gen});
    CHECK(soft.grid.count() == 4);
    const Tensor images = seqgrad::testing::param({2, 8, 8}, 8, 0.0, 1.0);
    std::vector<Tensor> inputs = soft.parameters();
    seqgrad::testing::require_gradcheck([&](const std::vector<Tensor>&) { return soft.logits(images); }, inputs);

    // The glimpse model along a fixed path (a sampled run's locations, away from the canvas edge's clamp):
    // the samples have no gradient, so every parameter the cross-entropy reaches is checked, and the
    // policy's log p of that path through the policy's own parameters.
    GlimpseClassifier hard({.canvas = 8, .retina = {.size = 2, .scales = 2}, .glimpses = 3, .hidden = 3,
                            .dtype = DType::Float64, .generator = &gen});
    const std::vector<Tensor> path = {f64({0.1, -0.3, 0.4, 0.2}, {2, 2}), f64({-0.2, 0.5, 0.3, -0.6}, {2, 2}),
                                      f64({0.6, 0.1, -0.4, -0.1}, {2, 2})};
    std::vector<Tensor> learnt;
    for (const auto& [name, p] : hard.named_parameters())
        if (name.rfind("policy.", 0) != 0 && name.rfind("baseline.", 0) != 0) learnt.push_back(p);
    CHECK(learnt.size() == 10);  // what, where, the GRU's four, output: weights and biases
    seqgrad::testing::require_gradcheck([&](const std::vector<Tensor>&) { return hard.run(images, path).logits; }, learnt);
    seqgrad::testing::require_gradcheck(
        [&](const std::vector<Tensor>&) { return stack(hard.run(images, path).log_probs, 1); },
        {hard.policy->mean_head->weight, hard.policy->mean_head->bias});
    CHECK_THROWS_WITH(hard.run(images, {path[0]}), "GlimpseClassifier: 1 fixed locations for 3 glimpses");
}

TEST_CASE("vision: the glimpse model's loss trains the policy by REINFORCE and the baseline by its fit", "[vision]") {
    Generator gen(2);
    GlimpseClassifier hard({.canvas = 20, .retina = {.size = 4, .scales = 2}, .glimpses = 3, .hidden = 8,
                            .generator = &gen, .seed = 3});
    const DigitImages data = cluttered_digits(1, 16, {.canvas = 20});
    hard.train();
    const GlimpseRun run = hard.run(data.images(0, 16));
    REQUIRE(run.locations.size() == 3);
    for (const Tensor& l : run.locations)
        for (double v : l.to_vector()) CHECK(std::abs(v) <= 1.0);
    hard.training_loss(data.images(0, 16), data.targets(0, 16)).backward();
    CHECK(hard.policy->mean_head->weight.grad().defined());
    CHECK(hard.baseline->weight.grad().defined());
    CHECK(hard.output->weight.grad().defined());
    CHECK(hard.last_reward() >= 0.0);
    CHECK(hard.last_reward() <= 1.0);
}

TEST_CASE("vision: soft attention and glimpses both learn well above chance on a small canvas", "[vision][learn]") {
    // A 20-pixel canvas (2 distractors), 1,000 training images, 5 epochs: about a second of CPU per model.
    const DigitImages train = cluttered_digits(10, 1000, {.canvas = 20});
    const DigitImages test = cluttered_digits(11, 300, {.canvas = 20});
    const ImageTrainOptions fast{.epochs = 5, .batch = 32, .lr = 3e-3};
    Generator init(1);
    SoftAttentionClassifier soft({.canvas = 20, .features = 32, .attention_size = 16, .generator = &init});
    train_classifier(soft, train, fast);
    const double soft_accuracy = accuracy(soft, test);
    GlimpseClassifier hard({.canvas = 20, .retina = {.size = 5, .scales = 3}, .glimpses = 3, .hidden = 64,
                            .generator = &init, .seed = 1});
    train_classifier(hard, train, fast);
    const double hard_accuracy = accuracy(hard, test);
    INFO("soft " << soft_accuracy << ", glimpses " << hard_accuracy << " (chance 0.1)");
    CHECK(soft_accuracy > 0.5);
    CHECK(hard_accuracy > 0.3);
}

TEST_CASE("vision: the output folder is refused unless new, empty, its own, or --force, and nothing is removed",
          "[vision]") {
    TempDir dir("vision_out");
    VisualAttentionOptions o;
    o.canvases = {20};
    o.models = {"mlp"};
    o.train_images = 8;
    o.test_images = 4;
    o.training.epochs = 1;
    std::ostringstream log;
    // A folder someone else filled: refused, untouched (the shared rule of models/output_folder.h).
    fs::create_directories(dir.path / "theirs");
    write_file_atomic(dir / "theirs/notes.txt", "mine");
    o.out = dir / "theirs";
    CHECK_THROWS_AS(run_visual_attention(o, log), Error);
    CHECK_THROWS_WITH(run_visual_attention(o, log),
                      Catch::Contains("is not empty and was not written by seqgrad experiment visual-attention"));
    CHECK(dir.listing().size() == 1);
    CHECK(!fs::exists(dir.path / "theirs/table.txt"));
    // --force writes into it and keeps what was there.
    o.force = true;
    run_visual_attention(o, log);
    CHECK(read_file(dir / "theirs/notes.txt") == "mine");
    CHECK(fs::exists(dir.path / "theirs/table.txt"));
    // A new folder, then the same folder again (its own marker): both fine, without --force.
    o.force = false;
    o.out = dir / "new/deeper";
    run_visual_attention(o, log);
    run_visual_attention(o, log);
    CHECK(fs::exists(dir.path / "new/deeper/seqgrad-output.txt"));
    // A marker of another experiment is not this one's.
    fs::create_directories(dir.path / "other");
    write_file_atomic(dir / "other/seqgrad-output.txt", "written by: seqgrad experiment bottleneck\n");
    o.out = dir / "other";
    CHECK_THROWS_AS(run_visual_attention(o, log), Error);
}

TEST_CASE("vision: the experiment writes its table, plot and figures, bad options change nothing", "[vision]") {
    TempDir dir("vision_run");
    VisualAttentionOptions o;
    o.canvases = {20, 24};
    o.train_images = 64;
    o.test_images = 20;
    o.training.epochs = 1;
    o.training.batch = 32;
    o.figure_images = 2;
    o.out = dir / "run";
    std::ostringstream log;
    const VisualAttentionResult r = run_visual_attention(o, log);
    REQUIRE(r.rows.size() == 6);
    CHECK(r.rows[0].model == "mlp");
    CHECK(r.rows[5].model == "glimpse");
    CHECK(r.rows[5].canvas == 24);
    for (const char* f : {"table.txt", "accuracy.svg", "attention_20.svg", "attention_24.svg", "seqgrad-output.txt"})
        CHECK(fs::exists(dir.path / "run" / f));
    const std::string table = read_file(dir / "run/table.txt");
    CHECK_THAT(table, Catch::Contains("soft attention") && Catch::Contains("glimpses (hard, REINFORCE)"));
    const std::string svg = read_file(dir / "run/attention_24.svg");
    CHECK_THAT(svg, Catch::Contains("most attended window") && Catch::Contains("glimpse 3 at pixel") &&
                        Catch::EndsWith("</svg>\n"));
    // Run again into its own folder: allowed, files replaced.
    o.canvases = {20};
    o.models = {"mlp"};
    run_visual_attention(o, log);

    struct Bad {
        void (*change)(VisualAttentionOptions&);
        const char* message;
    };
    const std::vector<Bad> bad = {
        {[](VisualAttentionOptions& v) { v.canvases = {}; }, "experiment visual-attention: --canvas needs at least one size"},
        {[](VisualAttentionOptions& v) { v.canvases = {28, 12}; },
         "experiment visual-attention: --canvas 12 is outside [20, 200] (the 10x14 digit, a distractor beside it and "
         "the 18-pixel attention window need at least 20)"},
        {[](VisualAttentionOptions& v) { v.models = {}; },
         "experiment visual-attention: --models needs at least one of mlp, soft, glimpse"},
        {[](VisualAttentionOptions& v) { v.models = {"soft", "cnn"}; },
         "experiment visual-attention: unknown model 'cnn' in --models; valid models: mlp, soft, glimpse"},
        {[](VisualAttentionOptions& v) { v.test_images = 0; },
         "experiment visual-attention: --train and --test must be positive, got 64 and 0"},
        {[](VisualAttentionOptions& v) { v.training.lr = 0; },
         "experiment visual-attention: --epochs, --batch and --lr must be positive and --clip >= 0, got epochs=1, "
         "batch=32, lr=0, clip=5"},
        {[](VisualAttentionOptions& v) { v.sigma = 0; },
         "experiment visual-attention: --glimpses and --sigma must be positive and --figures >= 0, got glimpses=6, "
         "sigma=0, figures=2"},
        {[](VisualAttentionOptions& v) { v.out = ""; }, "experiment visual-attention: --out must name a folder"},
        {[](VisualAttentionOptions& v) { v.retina.scales = 7; },
         "retina: size must be positive and scales in [1, 6], got size=8, scales=7"},
    };
    for (const Bad& b : bad) {
        VisualAttentionOptions v = o;
        v.out = dir / "never";
        b.change(v);
        if (v.out.empty()) v.out = "";
        CHECK_THROWS_WITH(run_visual_attention(v, log), b.message);
        CHECK(!fs::exists(dir.path / "never"));
    }
}

TEST_CASE("vision: bad inputs to the generator, the retina, the models, training and the figure", "[vision][errors]") {
    CHECK_THROWS_WITH(cluttered_digits(0, 1, {.canvas = 16}),
                      "cluttered_digits: a canvas of 16 pixels cannot hold the 10x14 digit and a distractor beside it "
                      "(use a canvas of at least 20)");
    CHECK_THROWS_WITH(cluttered_digits(0, -1, {}),
                      "cluttered_digits: n >= 0, canvas > 0, scale > 0 and fragment in [1, 5] are required, got n=-1, "
                      "canvas=40, scale=2, fragment=3");
    CHECK_THROWS_AS(glyph(10), IndexError);
    CHECK_THROWS_WITH(glyph(10), "glyph: digit 10 outside [0, 9]");
    const DigitImages d = cluttered_digits(0, 3, {.canvas = 20});
    CHECK_THROWS_AS(d.images(2, 2), IndexError);
    CHECK_THROWS_WITH(d.targets({0, 3}), "DigitImages: example 3 outside the 3 images");

    CHECK_THROWS_WITH(glimpse(zeros({2, 4, 5}), zeros({2, 2}), {}), "retina: images must be float [B, N, N], got float32 [2, 4, 5]");
    CHECK_THROWS_WITH(glimpse(zeros({2, 4, 4}), zeros({2, 3}), {}),
                      "retina: locations must be [B, 2] = [2, 2] (y, x for each image of [2, 4, 4]), got [2, 3]");

    MlpClassifier mlp({.canvas = 20, .hidden = 4});
    CHECK_THROWS_WITH(mlp.logits(zeros({1, 24, 24})), "MlpClassifier: images must be [B, N, N] = [B, 20, 20], got [1, 24, 24]");
    CHECK_THROWS_WITH(GlimpseClassifier({.glimpses = 0}),
                      "GlimpseClassifier: glimpses and hidden must be positive, got glimpses=0, hidden=128");
    CHECK_THROWS_WITH(make_classifier("cnn", {}), "make_classifier: unknown model 'cnn'; valid models: mlp, soft, glimpse");
    CHECK_THROWS_WITH(train_classifier(mlp, cluttered_digits(0, 2, {.canvas = 24}), {}),
                      "train_classifier: the mlp model is for a 20-pixel canvas but the data has 2 images of 24 pixels");
    CHECK_THROWS_WITH(train_classifier(mlp, d, {.epochs = 0}),
                      "train_classifier: epochs, batch and lr must be positive, got epochs=0, batch=64, lr=0.001");

    CHECK_THROWS_WITH(visual_attention_svg({}, "t"), "visual_attention_svg: no images to draw");
    FigureRow row;
    row.canvas = 4;
    row.pixels.assign(15, 0.0f);
    row.alpha = {1.0};
    row.windows = {{0, 0, 4, 4}};
    CHECK_THROWS_WITH(visual_attention_svg({row}, "t"),
                      "visual_attention_svg: row 0 has 15 pixels for a canvas of 4 and 1 weights for 1 windows");
}

namespace {
// Runs `seqgrad args` through the shell with stdout and stderr in files; returns the exit code.
int run_seqgrad(const TempDir& dir, const std::string& args, std::string& err) {
    const std::string cmd = fmt::format("'{}/seqgrad' {} >'{}' 2>'{}'", SEQGRAD_BINARY_DIR, args, dir / "cli.out", dir / "cli.err");
    const int status = std::system(cmd.c_str());
    err = read_file(dir / "cli.err");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
}  // namespace

TEST_CASE("vision: experiment visual-attention's bad flags and foreign folders are one line, exit 2, nothing made",
          "[vision][cli]") {
    TempDir dir("vision_cli");
    const std::string out = dir / "out";
    std::string err;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"--canvas 12", "--canvas 12 is outside [20, 200]"},
        {"--canvas 28,x", "--canvas"},
        {"--models mlp,cnn", "--models"},
        {"--epochs 0", "--epochs"},
        {"--bogus", "bogus"},
    };
    for (const auto& [flags, fragment] : cases) {
        INFO(flags << " -> " << err);
        CHECK(run_seqgrad(dir, "experiment visual-attention --out '" + out + "' " + flags, err) == 2);
        CHECK(std::count(err.begin(), err.end(), '\n') == 1);
        CHECK_THAT(err, Catch::StartsWith("seqgrad: error: ") && Catch::Contains(fragment));
        CHECK(!fs::exists(out));
    }
    fs::create_directories(dir.path / "theirs");
    write_file_atomic(dir / "theirs/model.safetensors", "weights");
    CHECK(run_seqgrad(dir, "experiment visual-attention --canvas 20 --train 8 --test 4 --epochs 1 --models mlp --out '" +
                               (dir / "theirs") + "'",
                      err) == 2);
    CHECK_THAT(err, Catch::Contains("is not empty and was not written by seqgrad experiment visual-attention"));
    CHECK(std::count(err.begin(), err.end(), '\n') == 1);
    CHECK(read_file(dir / "theirs/model.safetensors") == "weights");
    CHECK(!fs::exists(dir.path / "theirs/table.txt"));
    // A tiny real run through the command line.
    CHECK(run_seqgrad(dir, "experiment visual-attention --canvas 20 --train 16 --test 8 --epochs 1 --figures 1 --out '" + out + "'",
                      err) == 0);
    CHECK(fs::exists(dir.path / "out/attention_20.svg"));
    CHECK_THAT(read_file(dir / "cli.out"), Catch::Contains("test accuracy"));
}
