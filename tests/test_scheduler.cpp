// Learning-rate schedulers: every schedule's lr sequence against its formula over 20+ steps (and a
// few values worked out by hand), warmup composed with other schedules, ReduceLROnPlateau's
// patience / cooldown / threshold logic, parameter groups, exact resume from state_dict, errors.
#include <cmath>
#include <functional>
#include <memory>
#include <numbers>

#include <sstream>

#include "helpers.h"
#include "model_helpers.h"
#include "models/data/toy_tasks.h"
#include "models/fileio.h"
#include "models/trainer.h"
#include "optim/adam.h"
#include "optim/scheduler.h"
#include "optim/sgd.h"

using namespace seqgrad;
using seqgrad::testing::f64;

namespace {

// An optimizer over one scalar parameter with the given lr; schedulers only touch its lr.
struct Fixture {
    Tensor x = f64({1.0}, {}, true);
    optim::SGD opt;
    explicit Fixture(double lr) : opt({x}, {.lr = lr}) {}
};

// lr after construction and after each of n steps (n + 1 values), also checking that the optimizer
// got the same value as last_lr().
std::vector<double> lr_sequence(optim::Scheduler& s, int n) {
    std::vector<double> out = {s.last_lr()};
    CHECK(s.optimizer().lr() == s.last_lr());
    for (int i = 0; i < n; ++i) {
        s.step();
        CHECK(s.optimizer().lr() == s.last_lr());
        out.push_back(s.last_lr());
    }
    return out;
}

void check_sequence(const std::vector<double>& got, const std::function<double(int)>& formula) {
    for (std::size_t t = 0; t < got.size(); ++t) {
        INFO("t = " << t);
        CHECK(got[t] == Approx(formula(static_cast<int>(t))).epsilon(1e-12).margin(1e-15));
    }
}

}  // namespace

TEST_CASE("scheduler: StepLR", "[scheduler]") {
    Fixture f(0.1);
    optim::StepLR s(f.opt, {.step_size = 3, .gamma = 0.5});
    const auto lrs = lr_sequence(s, 20);
    // By hand: 0.1 for t = 0..2, 0.05 for t = 3..5, 0.025 for t = 6..8, ...
    CHECK(lrs[0] == 0.1);
    CHECK(lrs[2] == 0.1);
    CHECK(lrs[3] == Approx(0.05));
    CHECK(lrs[5] == Approx(0.05));
    CHECK(lrs[6] == Approx(0.025));
    check_sequence(lrs, [](int t) { return 0.1 * std::pow(0.5, t / 3); });
    CHECK(s.step_count() == 20);
}

TEST_CASE("scheduler: ExponentialLR", "[scheduler]") {
    Fixture f(0.2);
    optim::ExponentialLR s(f.opt, {.gamma = 0.9});
    const auto lrs = lr_sequence(s, 20);
    CHECK(lrs[1] == Approx(0.18));    // 0.2 * 0.9
    CHECK(lrs[2] == Approx(0.162));   // 0.2 * 0.81
    check_sequence(lrs, [](int t) { return 0.2 * std::pow(0.9, t); });
}

TEST_CASE("scheduler: CosineAnnealingLR", "[scheduler]") {
    Fixture f(0.1);
    optim::CosineAnnealingLR s(f.opt, {.T_max = 10, .eta_min = 0.001});
    const auto lrs = lr_sequence(s, 20);
    // t = 0: base; t = 5: halfway, (0.1 + 0.001)/2 = 0.0505; t = 10: eta_min; t = 20: back to base.
    CHECK(lrs[0] == Approx(0.1));
    CHECK(lrs[5] == Approx(0.0505));
    CHECK(lrs[10] == Approx(0.001));
    CHECK(lrs[20] == Approx(0.1));
    check_sequence(lrs, [](int t) { return 0.001 + (0.1 - 0.001) * (1 + std::cos(std::numbers::pi * t / 10.0)) / 2; });
    for (int t = 1; t <= 10; ++t) CHECK(lrs[t] < lrs[t - 1]);
}

TEST_CASE("scheduler: NoamLR (inverse square root)", "[scheduler]") {
    Fixture f(123.0);  // ignored: the Noam schedule sets the lr outright
    optim::NoamLR s(f.opt, {.d_model = 16, .warmup_steps = 4, .factor = 2.0});
    const auto lrs = lr_sequence(s, 24);
    // factor * d_model^-0.5 = 2/4 = 0.5; n = t + 1; warmup^-1.5 = 1/8
    // t = 0: 0.5 * min(1, 1/8) = 0.0625;  t = 3 (n = 4, the peak): 0.5 * min(0.5, 0.5) = 0.25;
    // t = 15 (n = 16): 0.5 * min(0.25, 2) = 0.125
    CHECK(lrs[0] == Approx(0.0625));
    CHECK(lrs[1] == Approx(0.125));
    CHECK(lrs[3] == Approx(0.25));
    CHECK(lrs[15] == Approx(0.125));
    check_sequence(lrs, [](int t) {
        const double n = t + 1;
        return 2.0 / std::sqrt(16.0) * std::min(1.0 / std::sqrt(n), n * std::pow(4.0, -1.5));
    });
    for (int t = 1; t <= 3; ++t) CHECK(lrs[t] > lrs[t - 1]);
    for (int t = 4; t <= 24; ++t) CHECK(lrs[t] < lrs[t - 1]);
    optim::InverseSqrtLR same(f.opt, {.d_model = 16, .warmup_steps = 4, .factor = 2.0});
    CHECK(same.last_lr() == lrs[0]);
}

TEST_CASE("scheduler: LinearWarmup alone and wrapping other schedules", "[scheduler]") {
    SECTION("alone: base_lr * min(1, (t + 1) / warmup)") {
        Fixture f(0.1);
        optim::LinearWarmup s(f.opt, {.warmup_steps = 5});
        const auto lrs = lr_sequence(s, 20);
        // 0.02, 0.04, 0.06, 0.08, 0.1, 0.1, ...
        CHECK(lrs[0] == Approx(0.02));
        CHECK(lrs[3] == Approx(0.08));
        CHECK(lrs[4] == Approx(0.1));
        check_sequence(lrs, [](int t) { return 0.1 * std::min(1.0, (t + 1) / 5.0); });
    }
    SECTION("wrapping CosineAnnealingLR") {
        Fixture f(0.1);
        optim::LinearWarmup s(f.opt, {.warmup_steps = 6},
                              std::make_unique<optim::CosineAnnealingLR>(f.opt, optim::CosineAnnealingLROptions{.T_max = 20}));
        const auto lrs = lr_sequence(s, 22);
        check_sequence(lrs, [](int t) {
            return 0.1 * (1 + std::cos(std::numbers::pi * t / 20.0)) / 2 * std::min(1.0, (t + 1) / 6.0);
        });
        CHECK(s.inner()->step_count() == 22);
        CHECK(s.base_lrs() == std::vector<double>{0.1});
    }
    SECTION("wrapping StepLR") {
        Fixture f(1.0);
        optim::LinearWarmup s(f.opt, {.warmup_steps = 4},
                              std::make_unique<optim::StepLR>(f.opt, optim::StepLROptions{.step_size = 5, .gamma = 0.1}));
        const auto lrs = lr_sequence(s, 20);
        // t = 0..3: 0.25, 0.5, 0.75, 1.0;  t = 5: 0.1
        CHECK(lrs[0] == Approx(0.25));
        CHECK(lrs[2] == Approx(0.75));
        CHECK(lrs[5] == Approx(0.1));
        check_sequence(lrs, [](int t) { return std::pow(0.1, t / 5) * std::min(1.0, (t + 1) / 4.0); });
    }
    SECTION("wrapping ReduceLROnPlateau: step(metric) passes the metric on") {
        Fixture f(1.0);
        optim::LinearWarmup s(f.opt, {.warmup_steps = 2},
                              std::make_unique<optim::ReduceLROnPlateau>(
                                  f.opt, optim::ReduceLROnPlateauOptions{.factor = 0.5, .patience = 0}));
        CHECK(s.last_lr() == 0.5);
        s.step(1.0);  // better (inf -> 1): inner lr 1, factor 1
        CHECK(s.last_lr() == 1.0);
        s.step(2.0);  // worse, patience 0: inner lr 0.5
        CHECK(s.last_lr() == 0.5);
        CHECK(f.opt.lr() == 0.5);
        CHECK_THROWS_AS(s.step(), Error);
    }
}

TEST_CASE("scheduler: ReduceLROnPlateau, mode min with patience and cooldown", "[scheduler]") {
    Fixture f(1.0);
    optim::ReduceLROnPlateau s(f.opt, {.mode = optim::PlateauMode::Min, .factor = 0.5, .patience = 2,
                                       .threshold = 0.1, .cooldown = 1, .min_lr = 0.2});
    CHECK(s.last_lr() == 1.0);
    // metric  better than best*(1 - 0.1)?   bad   cooldown  lr
    // 10      yes (inf)    best = 10         0     0         1
    // 9.5     no (needs < 9)                 1     0         1
    // 9.2     no                             2     0         1
    // 9.1     no                             3 > 2 -> reduce, bad = 0, cooldown = 1   0.5
    // 9.0     no; in cooldown: counter 0, bad reset to 0                              0.5
    // 9.05    no                             1     0         0.5
    // 8.0     yes (< 9)    best = 8          0     0         0.5
    // 8.0     no                             1               0.5
    // 8.0     no                             2               0.5
    // 8.0     no                             3 -> reduce to max(0.25, 0.2) = 0.25, cooldown 1
    // 8.0     cooldown                       0               0.25
    // 8.0, 8.0, 8.0 -> reduce to max(0.125, 0.2) = 0.2 (min_lr)
    // 8.0 (cooldown), 8.0, 8.0, 8.0 -> max(0.1, 0.2) = 0.2: unchanged
    const std::vector<double> metrics = {10, 9.5, 9.2, 9.1, 9.0, 9.05, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0};
    const std::vector<double> want = {1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2, 0.2};
    for (std::size_t i = 0; i < metrics.size(); ++i) {
        INFO("step " << i + 1 << " metric " << metrics[i]);
        s.step(metrics[i]);
        CHECK(s.last_lr() == Approx(want[i]));
        CHECK(f.opt.lr() == s.last_lr());
    }
    CHECK(s.best() == 8.0);
    CHECK_THROWS_AS(s.step(), Error);
    CHECK_THROWS_WITH(s.step(), Catch::Contains("ReduceLROnPlateau") && Catch::Contains("metric"));
}

TEST_CASE("scheduler: ReduceLROnPlateau, mode max with an absolute threshold", "[scheduler]") {
    Fixture f(0.1);
    optim::ReduceLROnPlateau s(f.opt, {.mode = optim::PlateauMode::Max, .factor = 0.1, .patience = 1,
                                       .threshold = 0.05, .threshold_mode = optim::ThresholdMode::Absolute});
    // accuracy 0.5 (better than -inf), 0.54 (not > 0.55), 0.56 (> 0.55: better), 0.6 (not > 0.61),
    // 0.6 (2 bad > 1: reduce to 0.01)
    for (double m : {0.5, 0.54, 0.56, 0.6}) s.step(m);
    CHECK(s.last_lr() == Approx(0.1));
    CHECK(s.best() == 0.56);
    s.step(0.6);
    CHECK(s.last_lr() == Approx(0.01));
    CHECK(s.num_bad_steps() == 0);
}

TEST_CASE("scheduler: every group keeps its own base lr", "[scheduler]") {
    Tensor a = f64({1.0}, {}, true), b = f64({1.0}, {}, true);
    optim::Adam opt(std::vector<optim::ParamGroup>{{.params = {a}, .lr = 0.1}, {.params = {b}, .lr = 0.01}}, {});
    optim::ExponentialLR s(opt, {.gamma = 0.5});
    s.step();
    s.step();
    CHECK(opt.lr(0) == Approx(0.025));
    CHECK(opt.lr(1) == Approx(0.0025));
    CHECK(s.last_lrs() == std::vector<double>{opt.lr(0), opt.lr(1)});
}

TEST_CASE("scheduler: save, load into fresh objects, continue == uninterrupted", "[scheduler]") {
    using Make = std::function<std::unique_ptr<optim::Scheduler>(optim::Optimizer&)>;
    const std::vector<std::pair<std::string, Make>> makers = {
        {"StepLR", [](optim::Optimizer& o) { return std::make_unique<optim::StepLR>(o, optim::StepLROptions{.step_size = 3, .gamma = 0.7}); }},
        {"ExponentialLR", [](optim::Optimizer& o) { return std::make_unique<optim::ExponentialLR>(o, optim::ExponentialLROptions{.gamma = 0.95}); }},
        {"CosineAnnealingLR", [](optim::Optimizer& o) { return std::make_unique<optim::CosineAnnealingLR>(o, optim::CosineAnnealingLROptions{.T_max = 9, .eta_min = 1e-4}); }},
        {"NoamLR", [](optim::Optimizer& o) { return std::make_unique<optim::NoamLR>(o, optim::NoamLROptions{.d_model = 8, .warmup_steps = 5}); }},
        {"LinearWarmup", [](optim::Optimizer& o) { return std::make_unique<optim::LinearWarmup>(o, optim::LinearWarmupOptions{.warmup_steps = 12}); }},
        {"LinearWarmup(Cosine)", [](optim::Optimizer& o) {
             return std::make_unique<optim::LinearWarmup>(o, optim::LinearWarmupOptions{.warmup_steps = 12},
                                                          std::make_unique<optim::CosineAnnealingLR>(o, optim::CosineAnnealingLROptions{.T_max = 15}));
         }},
        {"ReduceLROnPlateau", [](optim::Optimizer& o) {
             return std::make_unique<optim::ReduceLROnPlateau>(o, optim::ReduceLROnPlateauOptions{.factor = 0.5, .patience = 1, .cooldown = 2});
         }},
        {"LinearWarmup(ReduceLROnPlateau)", [](optim::Optimizer& o) {
             return std::make_unique<optim::LinearWarmup>(o, optim::LinearWarmupOptions{.warmup_steps = 4},
                                                          std::make_unique<optim::ReduceLROnPlateau>(o, optim::ReduceLROnPlateauOptions{.factor = 0.5, .patience = 1}));
         }},
    };
    // A metric that improves, then stalls, so the plateau scheduler reduces more than once.
    auto metric = [](int i) { return i < 4 ? 10.0 - i : 6.0 + 0.01 * (i % 3); };
    for (const auto& [name, make] : makers) {
        INFO(name);
        const bool uses_metric = name.find("Plateau") != std::string::npos;
        auto advance = [&](optim::Scheduler& s, int i) { uses_metric ? s.step(metric(i)) : s.step(); };

        Fixture full(0.3);
        auto s_full = make(full.opt);
        std::vector<double> want;
        for (int i = 0; i < 20; ++i) {
            advance(*s_full, i);
            want.push_back(s_full->last_lr());
        }

        Fixture first(0.3);
        auto s_first = make(first.opt);
        for (int i = 0; i < 8; ++i) advance(*s_first, i);
        const auto opt_state = first.opt.state_dict();
        const auto sched_state = s_first->state_dict();
        for (const auto& [k, t] : sched_state) {
            CHECK(t.dim() == 0);
            CHECK(t.dtype() == DType::Float64);
        }

        Fixture second(0.3);
        auto s_second = make(second.opt);  // sets its own t = 0 lr ...
        second.opt.load_state_dict(opt_state);
        s_second->load_state_dict(sched_state);  // ... and loading puts back the saved one
        CHECK(second.opt.lr() == want[7]);
        CHECK(s_second->step_count() == 8);
        for (int i = 8; i < 20; ++i) {
            advance(*s_second, i);
            CHECK(s_second->last_lr() == want[static_cast<std::size_t>(i)]);  // exact
            CHECK(second.opt.lr() == want[static_cast<std::size_t>(i)]);
        }
        // Loading the scheduler alone also sets the optimizer's lr (nothing else restores it here).
        Fixture third(0.3);
        auto s_third = make(third.opt);
        s_third->load_state_dict(sched_state);
        CHECK(third.opt.lr() == want[7]);
        for (int i = 8; i < 20; ++i) advance(*s_third, i);
        CHECK(third.opt.lr() == want.back());
        if (name == "ReduceLROnPlateau") CHECK(want.back() < 0.3 * 0.25);  // it reduced three times or more
    }
}

TEST_CASE("scheduler: load_state_dict errors name the entries", "[scheduler][errors]") {
    Fixture f(0.1);
    optim::ReduceLROnPlateau s(f.opt, {});
    auto state = s.state_dict();
    CHECK(state.count("best") == 1);
    CHECK(state.count("num_bad_steps") == 1);
    CHECK(state.count("cooldown_counter") == 1);
    CHECK(state.count("last_lrs.0") == 1);
    state.erase("best");
    state["gamma"] = Tensor::scalar(0.5, DType::Float64);
    CHECK_THROWS_AS(s.load_state_dict(state), ShapeError);
    CHECK_THROWS_WITH(s.load_state_dict(state), Catch::Contains("ReduceLROnPlateau") && Catch::Contains("missing ['best']") &&
                                                    Catch::Contains("unexpected ['gamma']"));
    optim::StepLR step(f.opt, {.step_size = 2});
    auto st = step.state_dict();
    st["step"] = zeros({2}, {.dtype = DType::Float64});
    CHECK_THROWS_WITH(step.load_state_dict(st), Catch::Contains("StepLR") && Catch::Contains("'step' is [2]"));
    st["step"] = Tensor::scalar(-1.0, DType::Float64);
    CHECK_THROWS_WITH(step.load_state_dict(st), Catch::Contains("'step'") && Catch::Contains("whole"));
}

TEST_CASE("scheduler: bad options throw ShapeError naming the scheduler and the option", "[scheduler][errors]") {
    Fixture f(0.1);
    auto check = [](auto make, const char* scheduler, const char* option) {
        INFO(scheduler << " " << option);
        CHECK_THROWS_AS(make(), ShapeError);
        CHECK_THROWS_WITH(make(), Catch::StartsWith(std::string(scheduler) + ":") && Catch::Contains(option));
    };
    check([&] { optim::StepLR s(f.opt, {.step_size = 0}); }, "StepLR", "step_size");
    check([&] { optim::StepLR s(f.opt, {.step_size = 2, .gamma = -0.5}); }, "StepLR", "gamma");
    check([&] { optim::ExponentialLR s(f.opt, {.gamma = 0.0}); }, "ExponentialLR", "gamma");
    check([&] { optim::CosineAnnealingLR s(f.opt, {.T_max = 0}); }, "CosineAnnealingLR", "T_max");
    check([&] { optim::CosineAnnealingLR s(f.opt, {.T_max = 5, .eta_min = -1.0}); }, "CosineAnnealingLR", "eta_min");
    check([&] { optim::NoamLR s(f.opt, {.d_model = 0}); }, "NoamLR", "d_model");
    check([&] { optim::NoamLR s(f.opt, {.d_model = 8, .warmup_steps = 0}); }, "NoamLR", "warmup_steps");
    check([&] { optim::LinearWarmup s(f.opt, {.warmup_steps = 0}); }, "LinearWarmup", "warmup_steps");
    check([&] { optim::ReduceLROnPlateau s(f.opt, {.factor = 1.0}); }, "ReduceLROnPlateau", "factor");
    check([&] { optim::ReduceLROnPlateau s(f.opt, {.patience = -1}); }, "ReduceLROnPlateau", "patience");
    check([&] { optim::ReduceLROnPlateau s(f.opt, {.min_lr = -1.0}); }, "ReduceLROnPlateau", "min_lr");
    Fixture other(0.1);
    check([&] {
        optim::LinearWarmup s(f.opt, {.warmup_steps = 2}, std::make_unique<optim::StepLR>(other.opt, optim::StepLROptions{}));
    }, "LinearWarmup", "different optimizer");

    optim::StepLR s(f.opt, {.step_size = 2});
    CHECK_THROWS_AS(s.step(0.5), Error);
    CHECK_THROWS_WITH(s.step(0.5), Catch::Contains("StepLR") && Catch::Contains("step()"));
    optim::LinearWarmup w(f.opt, {.warmup_steps = 2});
    CHECK_THROWS_AS(w.step(0.5), Error);
}

// `seqgrad train --schedule S --lr X`: the rate of every epoch is proportional to --lr for every
// schedule (noam used to ignore --lr and peak at 1.0), and noam's peak, reached at the end of its
// warm-up (one epoch by default), is --lr itself.
TEST_CASE("trainer: every schedule's learning rate scales with --lr", "[scheduler][trainer]") {
    seqgrad::testing::TempDir dir("schedules");
    const std::string corpus = seqgrad::testing::write_digit_corpus(dir / "corpus.tsv", 120, 3, 2, 4);
    int run = 0;
    auto lrs = [&](const std::string& schedule, std::int64_t warmup, double lr) {
        models::TrainOptions o = seqgrad::testing::small_run(corpus, dir / fmt::format("run_{}", run++), 8, 8, 3, 2);
        o.lr = lr;
        o.schedule = schedule;
        o.warmup_steps = warmup;
        std::vector<double> out;
        for (const auto& m : seqgrad::testing::train_quietly(o).history) out.push_back(m.lr);
        return out;
    };
    const double lr = 1e-3;
    for (const auto& [schedule, warmup] : std::vector<std::pair<std::string, std::int64_t>>{
             {"none", 0}, {"step", 0}, {"exponential", 0}, {"cosine", 0}, {"plateau", 0}, {"noam", 0}, {"noam", 2}, {"cosine", 4}}) {
        INFO("--schedule " << schedule << " --warmup " << warmup);
        const auto a = lrs(schedule, warmup, lr), b = lrs(schedule, warmup, 3 * lr);
        REQUIRE(a.size() == 3);
        REQUIRE(b.size() == 3);
        for (std::size_t i = 0; i < a.size(); ++i) {
            CHECK(a[i] > 0);
            CHECK(a[i] <= lr * (1 + 1e-12));  // no schedule goes above --lr
            CHECK(b[i] == Approx(3 * a[i]).epsilon(1e-12));
        }
        // 96 training pairs in batches of 32: 3 steps an epoch, and noam's warm-up is one epoch. Its
        // third step ran at the peak, --lr; the rate set after it, for step n = 4, is lr * sqrt(3 / 4).
        if (schedule == "noam" && warmup == 0) CHECK(a[0] == Approx(lr * std::sqrt(3.0 / 4.0)).epsilon(1e-12));
    }
}
