// The visual-attention experiment: options check, output folder, the runs, the table and the figures.
#include "models/vision/experiment.h"

#include <algorithm>
#include <filesystem>
#include <ostream>

#include "core/autograd.h"
#include "core/ops.h"
#include "models/fileio.h"
#include "models/output_folder.h"
#include "models/viz/svg.h"
#include "models/vision/figures.h"

namespace seqgrad::vision {

namespace fs = std::filesystem;

namespace {
constexpr const char* kWho = "experiment visual-attention";

std::string model_label(const std::string& name) {
    if (name == "mlp") return "MLP (no attention)";
    if (name == "soft") return "soft attention";
    return "glimpses (hard, REINFORCE)";
}

// Separate streams for every canvas and split: (seed, canvas, split) -> a seed.
std::uint64_t data_seed(std::uint64_t seed, std::int64_t canvas, std::uint64_t split) {
    return seed * 1000003ULL + static_cast<std::uint64_t>(canvas) * 16ULL + split;
}

// The figure rows for the first n test images: α and windows of the soft model, the glimpse path (eval
// mode: the policy's means) of the hard one.
std::vector<FigureRow> figure_rows(SoftAttentionClassifier& soft, GlimpseClassifier& hard, const DigitImages& test,
                                   std::int64_t n) {
    n = std::min(n, test.size());
    soft.eval();
    hard.eval();
    NoGradGuard no_grad;
    const Tensor images = test.images(0, n);
    const nn::AttentionOutput att = soft.attend(images);
    const auto soft_pred = argmax(soft.output->forward(att.context), 1).to_ids();
    const auto alpha = att.weights.to_vector();
    const GlimpseRun run = hard.run(images);
    const auto hard_pred = argmax(run.logits, 1).to_ids();
    const std::int64_t N = test.canvas, S = soft.grid.count(), P = soft.grid.options().patch;
    std::vector<Box> windows;
    for (std::int64_t s = 0; s < S; ++s) {
        const auto [top, left] = soft.grid.origin(s);
        windows.push_back({top, left, P, P});
    }
    std::vector<std::int64_t> sides;
    for (std::int64_t s = 0; s < hard.options().retina.scales; ++s) sides.push_back(hard.options().retina.size << s);
    std::vector<FigureRow> rows;
    for (std::int64_t i = 0; i < n; ++i) {
        FigureRow row;
        row.canvas = N;
        row.pixels.assign(test.pixels.begin() + i * N * N, test.pixels.begin() + (i + 1) * N * N);
        row.label = test.labels[static_cast<std::size_t>(i)];
        row.alpha.assign(alpha.begin() + i * S, alpha.begin() + (i + 1) * S);
        row.windows = windows;
        row.soft_prediction = soft_pred[static_cast<std::size_t>(i)];
        for (const Tensor& l : run.locations)
            row.path.emplace_back(location_to_pixel(l.at({i, 0}), N), location_to_pixel(l.at({i, 1}), N));
        row.glimpse_sides = sides;
        row.glimpse_prediction = hard_pred[static_cast<std::size_t>(i)];
        rows.push_back(std::move(row));
    }
    return rows;
}
}  // namespace

double looks_at_digit(ImageClassifier& model, const DigitImages& data, std::int64_t batch) {
    auto* soft = dynamic_cast<SoftAttentionClassifier*>(&model);
    auto* hard = dynamic_cast<GlimpseClassifier*>(&model);
    if ((!soft && !hard) || data.size() == 0) return -1;
    model.eval();
    NoGradGuard no_grad;
    const std::int64_t N = data.canvas;
    std::int64_t hits = 0;
    for (std::int64_t begin = 0; begin < data.size(); begin += batch) {
        const std::int64_t n = std::min(batch, data.size() - begin);
        const Tensor images = data.images(begin, n);
        if (soft) {
            const auto best = argmax(soft->attend(images).weights, 1).to_ids();
            const std::int64_t P = soft->grid.options().patch;
            for (std::int64_t i = 0; i < n; ++i) {
                const Box& d = data.boxes[static_cast<std::size_t>(begin + i)];
                const auto [top, left] = soft->grid.origin(best[static_cast<std::size_t>(i)]);
                hits += top <= d.top && left <= d.left && d.top + d.height <= top + P && d.left + d.width <= left + P;
            }
        } else {
            const GlimpseRun run = hard->run(images);
            for (std::int64_t i = 0; i < n; ++i) {
                const Box& d = data.boxes[static_cast<std::size_t>(begin + i)];
                bool hit = false;
                for (const Tensor& l : run.locations) {
                    const double y = location_to_pixel(l.at({i, 0}), N), x = location_to_pixel(l.at({i, 1}), N);
                    hit = hit || (y >= static_cast<double>(d.top) && y <= static_cast<double>(d.top + d.height) &&
                                  x >= static_cast<double>(d.left) && x <= static_cast<double>(d.left + d.width));
                }
                hits += hit;
            }
        }
    }
    return static_cast<double>(hits) / static_cast<double>(data.size());
}

void check_visual_attention_options(const VisualAttentionOptions& o) {
    if (o.canvases.empty()) fail("{}: --canvas needs at least one size", kWho);
    for (std::int64_t n : o.canvases)
        if (n < kMinCanvas || n > kMaxCanvas)
            fail("{}: --canvas {} is outside [{}, {}] (the 10x14 digit, a distractor beside it and the 18-pixel "
                 "attention window need at least {})",
                 kWho, n, kMinCanvas, kMaxCanvas, kMinCanvas);
    if (o.models.empty()) fail("{}: --models needs at least one of mlp, soft, glimpse", kWho);
    for (const auto& m : o.models)
        if (std::find(classifier_names().begin(), classifier_names().end(), m) == classifier_names().end())
            fail("{}: unknown model '{}' in --models; valid models: mlp, soft, glimpse", kWho, m);
    if (o.train_images < 1 || o.test_images < 1)
        fail("{}: --train and --test must be positive, got {} and {}", kWho, o.train_images, o.test_images);
    if (o.training.epochs < 1 || o.training.batch < 1 || !(o.training.lr > 0.0) || !(o.training.clip >= 0.0))
        fail("{}: --epochs, --batch and --lr must be positive and --clip >= 0, got epochs={}, batch={}, lr={}, clip={}",
             kWho, o.training.epochs, o.training.batch, o.training.lr, o.training.clip);
    if (o.glimpses < 1 || !(o.sigma > 0.0) || o.figure_images < 0)
        fail("{}: --glimpses and --sigma must be positive and --figures >= 0, got glimpses={}, sigma={}, figures={}", kWho,
             o.glimpses, o.sigma, o.figure_images);
    check_retina(o.retina);
    if (o.out.empty()) fail("{}: --out must name a folder", kWho);
}

VisualAttentionResult run_visual_attention(const VisualAttentionOptions& o, std::ostream& log) {
    check_visual_attention_options(o);
    models::check_command_folder(o.out, kWho, o.force);
    models::claim_command_folder(o.out, kWho);
    VisualAttentionResult result;
    const fs::path out(o.out);
    const std::string settings = fmt::format(
        "cluttered digits (10x14-pixel digit, N²/200 distractor fragments): {} training and {} test images per "
        "canvas; Adam lr {}, batch {}, {} epochs, clip {}; glimpses: {} of {} scales ({}-pixel patches), sigma {}, "
        "reward {}, REINFORCE gradient {}; seed {}. Chance is 10%. On the digit: the share of test images whose "
        "most attended window holds the whole digit (soft) or with a glimpse centred on it (glimpses)\n",
        o.train_images, o.test_images, o.training.lr, o.training.batch, o.training.epochs, o.training.clip, o.glimpses,
        o.retina.scales, o.retina.size, o.sigma,
        o.reward == GlimpseOptions::Reward::Correct ? "1 if right" : "p(right class)",
        o.policy_gradient_into_core ? "into the GRU" : "stops at the policy", o.seed);
    log << settings << std::flush;

    std::vector<viz::Series> series;
    for (const auto& m : o.models) series.push_back({model_label(m), {}, {}});
    // "on the digit": soft, the most attended window holds the whole digit; glimpses, a glimpse is centred
    // on it (test images, eval mode). Chance accuracy is 10%.
    std::string table = fmt::format("{:>6}  {:<28} {:>13} {:>14} {:>9} {:>10}\n", "canvas", "model", "test accuracy",
                                    "on the digit", "train s", "parameters");

    for (std::int64_t N : o.canvases) {
        const ClutteredDigitsOptions data_options{.canvas = N};
        const DigitImages train = cluttered_digits(data_seed(o.seed, N, 0), o.train_images, data_options);
        const DigitImages test = cluttered_digits(data_seed(o.seed, N, 1), o.test_images, data_options);
        std::shared_ptr<ImageClassifier> soft, hard;
        for (std::size_t k = 0; k < o.models.size(); ++k) {
            Generator init(o.seed + 17 * k);
            auto model = make_classifier(o.models[k], {.canvas = N, .retina = o.retina, .glimpses = o.glimpses,
                                                       .sigma = o.sigma, .reward = o.reward,
                                                       .policy_gradient_into_core = o.policy_gradient_into_core,
                                                       .generator = &init, .seed = o.seed});
            ImageTrainOptions t = o.training;
            t.seed = o.seed;
            const ImageTrainResult trained = train_classifier(*model, train, t, &log);
            VisualAttentionRow row{N, o.models[k], accuracy(*model, test), looks_at_digit(*model, test), trained.seconds,
                                   model->num_parameters()};
            const std::string on_digit = row.on_digit < 0 ? "-" : fmt::format("{:.1f}%", 100 * row.on_digit);
            const std::string line = fmt::format("{:>6}  {:<28} {:>12.1f}% {:>14} {:>9.1f} {:>10}\n", N,
                                                 model_label(row.model), 100 * row.accuracy, on_digit, row.seconds,
                                                 row.parameters);
            log << line << std::flush;
            table += line;
            series[k].x.push_back(static_cast<double>(N));
            series[k].y.push_back(100 * row.accuracy);
            result.rows.push_back(row);
            if (o.models[k] == "soft") soft = model;
            if (o.models[k] == "glimpse") hard = model;
        }
        if (soft && hard && o.figure_images > 0) {
            const std::string path = (out / fmt::format("attention_{}.svg", N)).string();
            write_file_atomic(path, visual_attention_svg(
                                        figure_rows(static_cast<SoftAttentionClassifier&>(*soft),
                                                    static_cast<GlimpseClassifier&>(*hard), test, o.figure_images),
                                        fmt::format("Where the models look: {}x{} canvas", N, N)));
            result.files.push_back(path);
        }
    }
    result.table = settings + table;
    const std::string table_path = (out / "table.txt").string();
    write_file_atomic(table_path, result.table);
    result.files.push_back(table_path);
    const std::string plot = (out / "accuracy.svg").string();
    std::vector<viz::Series> with_chance = series;
    viz::Series chance{"chance (10%)", {}, {}};
    for (std::int64_t N : o.canvases) {
        chance.x.push_back(static_cast<double>(N));
        chance.y.push_back(100.0 / kClasses);
    }
    with_chance.push_back(chance);
    write_file_atomic(plot, viz::line_plot_svg(with_chance, {.title = "Cluttered digits: test accuracy by canvas size",
                                                             .x_label = "canvas side (pixels)",
                                                             .y_label = "test accuracy (%)",
                                                             .y_min = 0.0,
                                                             .y_max = 100.0}));
    result.files.push_back(plot);
    log << "\n" << table;
    for (const auto& f : result.files) log << "wrote " << f << "\n";
    return result;
}

}  // namespace seqgrad::vision
