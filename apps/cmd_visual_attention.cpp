// `seqgrad experiment visual-attention`: where to look in an image. A plain MLP, soft attention over a
// grid of windows and a recurrent glimpse model trained by REINFORCE, on generated cluttered digits at
// several canvas sizes (models/vision/experiment.h). Every flag is checked before the output folder is
// touched; a folder the experiment did not make is refused unless --force.
#include <iostream>

#include "apps/commands.h"
#include "models/bench.h"
#include "models/vision/experiment.h"

namespace seqgrad::apps {

void add_visual_attention(CLI::App& experiment) {
    auto* cmd = experiment.add_subcommand(
        "visual-attention", "Where to look in an image: MLP vs soft attention vs glimpses (REINFORCE) on cluttered digits");
    struct Opts {
        vision::VisualAttentionOptions run;
        std::string reward = "correct";
        int threads = 1;
    };
    auto o = std::make_shared<Opts>();
    auto& r = o->run;
    cmd->add_option("--canvas", r.canvases, "Canvas sides in pixels, e.g. 28,40,60")->delimiter(',')->capture_default_str();
    cmd->add_option("--models", r.models, "Models to train: mlp, soft, glimpse")
        ->delimiter(',')
        ->check(CLI::IsMember(vision::classifier_names()))
        ->capture_default_str();
    cmd->add_option("--train", r.train_images, "Training images per canvas")->check(CLI::Range(1, 1000000))->capture_default_str();
    cmd->add_option("--test", r.test_images, "Test images per canvas")->check(CLI::Range(1, 1000000))->capture_default_str();
    cmd->add_option("--epochs", r.training.epochs, "Epochs per model")->check(CLI::Range(1, 100000))->capture_default_str();
    cmd->add_option("--batch", r.training.batch, "Images per batch")->check(CLI::Range(1, 100000))->capture_default_str();
    cmd->add_option("--lr", r.training.lr, "Learning rate (Adam)")->check(CLI::PositiveNumber)->capture_default_str();
    cmd->add_option("--clip", r.training.clip, "Clip the global gradient norm to this (0 = off)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--glimpses", r.glimpses, "Glimpses per image (glimpse model)")->check(CLI::Range(1, 64))->capture_default_str();
    cmd->add_option("--glimpse-size", r.retina.size, "Side of each glimpse scale in pixels")->check(CLI::Range(1, 64))->capture_default_str();
    cmd->add_option("--scales", r.retina.scales, "Glimpse scales, each twice the side of the one before")
        ->check(CLI::Range(1, 6))
        ->capture_default_str();
    cmd->add_option("--sigma", r.sigma, "Standard deviation of the location policy (locations span [-1, 1])")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->add_option("--reward", o->reward, "Reward of the glimpse policy: correct (1 for a right answer) or probability (of the right class)")
        ->check(CLI::IsMember({"correct", "probability"}))
        ->capture_default_str();
    cmd->add_flag("--policy-grad-into-core", r.policy_gradient_into_core,
                  "Let the REINFORCE gradient also train the glimpse net and the GRU (by default it stops at the location policy)");
    cmd->add_option("--seed", r.seed, "Seed of the data, the initial weights and the sampling")->capture_default_str();
    cmd->add_option("--figures", r.figure_images, "Test images in each canvas's attention figure (0 = none)")
        ->check(CLI::Range(0, 100))
        ->capture_default_str();
    cmd->add_option("--out", r.out, "Folder for the table and the figures")->capture_default_str();
    cmd->add_flag("--force", r.force, "Write into --out even when it holds files this experiment did not write (nothing is removed)");
    cmd->add_option("--threads", o->threads, "Threads")->check(CLI::Range(1, 256))->capture_default_str();
    cmd->callback([o] {
        models::set_num_threads(o->threads);
        o->run.reward = o->reward == "probability" ? vision::GlimpseOptions::Reward::Probability
                                                   : vision::GlimpseOptions::Reward::Correct;
        vision::run_visual_attention(o->run, std::cout);
    });
}

}  // namespace seqgrad::apps
