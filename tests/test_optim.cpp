// The optimizers: three steps of each checked against arithmetic done by hand, convergence to the
// closed-form optimum of a least-squares problem, exact (bit-for-bit) resume from state_dict,
// parameters without gradients, parameter groups and the errors for bad options and bad state.
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>

#include "helpers.h"
#include "optim/adagrad.h"
#include "optim/adam.h"
#include "optim/rmsprop.h"
#include "optim/sgd.h"

using namespace seqgrad;
using seqgrad::testing::f64;

namespace {

// One scalar parameter x = 1 (float64) and the loss L = x^2, so dL/dx = 2x.
Tensor scalar_param(double x0 = 1.0) { return f64({x0}, {}, true); }

// Three steps of `opt` on L = x^2; returns x after each step.
std::vector<double> three_steps(optim::Optimizer& opt, Tensor& x) {
    std::vector<double> out;
    for (int i = 0; i < 3; ++i) {
        opt.zero_grad();
        (x * x).backward();
        opt.step();
        out.push_back(x.item());
    }
    return out;
}

void check_values(const std::vector<double>& got, const std::vector<double>& want) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("step " << i + 1);
        CHECK(got[i] == Approx(want[i]).epsilon(1e-12));
    }
}

// ---- least squares: minimise mean((A w - b)^2) over w [2, 1] -------------------------------------
const std::vector<double> kA = {1.0, 0.5, 0.2, 1.0, 1.5, -0.3, -0.7, 0.8, 0.3, 0.3, 1.0, 1.0};  // [6, 2]
const std::vector<double> kB = {1.0, 2.0, 0.5, 1.0, -0.5, 2.0};                                 // [6, 1]

// The optimum from the normal equations (A^T A) w = A^T b, a 2x2 system solved by Cramer's rule.
std::array<double, 2> least_squares_optimum() {
    double a11 = 0, a12 = 0, a22 = 0, r1 = 0, r2 = 0;
    for (int i = 0; i < 6; ++i) {
        const double u = kA[2 * i], v = kA[2 * i + 1];
        a11 += u * u;
        a12 += u * v;
        a22 += v * v;
        r1 += u * kB[i];
        r2 += v * kB[i];
    }
    const double det = a11 * a22 - a12 * a12;
    return {(r1 * a22 - a12 * r2) / det, (a11 * r2 - a12 * r1) / det};
}

struct LeastSquares {
    DType dtype;
    Tensor A = Tensor::from(kA, {6, 2}, {.dtype = dtype});
    Tensor b = Tensor::from(kB, {6, 1}, {.dtype = dtype});
    Tensor loss(const Tensor& w) const { return mean(pow(matmul(A, w) - b, 2.0)); }
};

// One training step: gradients from the loss, then the update.
void train_step(optim::Optimizer& opt, const LeastSquares& problem, const Tensor& w) {
    opt.zero_grad();
    problem.loss(w).backward();
    opt.step();
}

// Raw bits of a float32 tensor, for exact comparisons.
std::vector<std::uint32_t> bits(const Tensor& t) {
    std::vector<std::uint32_t> out(static_cast<std::size_t>(t.numel()));
    std::memcpy(out.data(), t.data<float>(), out.size() * sizeof(float));
    return out;
}

using Factory = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

// Every optimizer, configured so that every buffer it can keep is in use.
std::vector<std::pair<std::string, Factory>> all_optimizers() {
    return {
        {"SGD", [](std::vector<Tensor> p) {
             return std::make_unique<optim::SGD>(std::move(p), optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
         }},
        {"SGD dampened", [](std::vector<Tensor> p) {
             return std::make_unique<optim::SGD>(std::move(p), optim::SGDOptions{.lr = 0.05, .momentum = 0.8, .dampening = 0.3});
         }},
        {"Adam", [](std::vector<Tensor> p) {
             return std::make_unique<optim::Adam>(std::move(p), optim::AdamOptions{.lr = 0.05, .betas = {0.8, 0.99}, .weight_decay = 1e-3, .amsgrad = true});
         }},
        {"AdamW", [](std::vector<Tensor> p) {
             return std::make_unique<optim::AdamW>(std::move(p), optim::AdamWOptions{.lr = 0.05});
         }},
        {"RMSprop", [](std::vector<Tensor> p) {
             return std::make_unique<optim::RMSprop>(std::move(p), optim::RMSpropOptions{.lr = 0.01, .weight_decay = 1e-3, .momentum = 0.5, .centered = true});
         }},
        {"Adagrad", [](std::vector<Tensor> p) {
             return std::make_unique<optim::Adagrad>(std::move(p), optim::AdagradOptions{.lr = 0.3, .lr_decay = 0.01, .weight_decay = 1e-3, .initial_accumulator_value = 0.1});
         }},
    };
}

}  // namespace

// ---- three steps by hand ------------------------------------------------------------------------

TEST_CASE("optim: SGD, three steps by hand", "[optim]") {
    SECTION("plain: x = x - lr * 2x with lr = 0.1") {
        // x1 = 1 - 0.1*2 = 0.8;  x2 = 0.8 - 0.1*1.6 = 0.64;  x3 = 0.64 - 0.1*1.28 = 0.512
        Tensor x = scalar_param();
        optim::SGD opt({x}, {.lr = 0.1});
        check_values(three_steps(opt, x), {0.8, 0.64, 0.512});
    }
    SECTION("momentum 0.9, dampening 0.5, weight_decay 0.1, lr 0.1") {
        // g = 2x + 0.1x = 2.1x; the first buffer is g itself (no dampening on the first step)
        // 1: g = 2.1;       b = 2.1;                                  x = 1 - 0.21 = 0.79
        // 2: g = 1.659;     b = 0.9*2.1 + 0.5*1.659 = 2.7195;          x = 0.79 - 0.27195 = 0.51805
        // 3: g = 1.087905;  b = 0.9*2.7195 + 0.5*1.087905 = 2.9915025; x = 0.51805 - 0.29915025 = 0.21889975
        Tensor x = scalar_param();
        optim::SGD opt({x}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.5, .weight_decay = 0.1});
        check_values(three_steps(opt, x), {0.79, 0.51805, 0.21889975});
    }
    SECTION("nesterov, momentum 0.9, lr 0.1") {
        // step direction d = g + 0.9 b
        // 1: g = 2;       b = 2;                       d = 2 + 1.8 = 3.8;             x = 1 - 0.38 = 0.62
        // 2: g = 1.24;    b = 1.8 + 1.24 = 3.04;       d = 1.24 + 2.736 = 3.976;      x = 0.62 - 0.3976 = 0.2224
        // 3: g = 0.4448;  b = 2.736 + 0.4448 = 3.1808; d = 0.4448 + 2.86272 = 3.30752; x = 0.2224 - 0.330752 = -0.108352
        Tensor x = scalar_param();
        optim::SGD opt({x}, {.lr = 0.1, .momentum = 0.9, .nesterov = true});
        check_values(three_steps(opt, x), {0.62, 0.2224, -0.108352});
    }
}

TEST_CASE("optim: Adam and AdamW, three steps by hand", "[optim]") {
    SECTION("Adam, lr 0.1, betas (0.9, 0.999), eps 1e-8") {
        // 1: g = 2;   m = 0.1*2 = 0.2;  v = 0.001*4 = 0.004;  m^ = 0.2/0.1 = 2;  v^ = 0.004/0.001 = 4
        //    x = 1 - 0.1 * 2/(sqrt(4) + 1e-8) = 0.9000000005
        // 2: g = 1.800000001; m = 0.18 + 0.1800000001 = 0.3600000001; v = 0.003996 + 0.001*3.240000004 = 0.0072360000036
        //    m^ = 0.3600000001/0.19 = 1.89473684263; v^ = 0.0072360000036/0.001999 = 3.61980990675
        //    x = 0.9000000005 - 0.1 * 1.89473684263/(1.90257979... + 1e-8) = 0.800412228692
        // 3: g = 1.60082445738; m = 0.484082445828; v = 0.00979140294695
        //    m^ = 0.484082445828/0.271 = 1.78628208793; v^ = 0.00979140294695/0.002997001 = 3.26706696026
        //    x = 0.800412228692 - 0.1 * 1.78628208793/(1.80750296... + 1e-8) = 0.701586272946
        Tensor x = scalar_param();
        optim::Adam opt({x}, {.lr = 0.1, .betas = {0.9, 0.999}});
        check_values(three_steps(opt, x), {0.9000000005, 0.8004122286917927, 0.7015862729460302});
    }
    SECTION("Adam with weight_decay 0.5 adds 0.5 x to the gradient") {
        // 1: g = 2 + 0.5 = 2.5; m^ = 2.5, v^ = 6.25;  x = 1 - 0.1 * 2.5/(2.5 + 1e-8) = 0.9000000004
        // 2: g = 1.8000000008 + 0.4500000002 = 2.250000001; m = 0.225 + 0.2250000001 = 0.4500000001
        //    v = 0.00624375 + 0.001*5.0625000045 = 0.0113062500045
        //    x = 0.9000000004 - 0.1 * (0.4500000001/0.19)/(sqrt(0.0113062500045/0.001999) + 1e-8) = 0.800412228488
        // 3: g = 2.00103057122; x = 0.701586272634
        Tensor x = scalar_param();
        optim::Adam opt({x}, {.lr = 0.1, .betas = {0.9, 0.999}, .weight_decay = 0.5});
        check_values(three_steps(opt, x), {0.9000000003999999, 0.8004122284876838, 0.7015862726343534});
    }
    SECTION("AdamW with weight_decay 0.5 first shrinks x by (1 - 0.1*0.5) = 0.95") {
        // 1: g = 2 (from x = 1); x = 0.95 * 1 = 0.95; Adam step as above: x = 0.95 - 0.1*2/(2 + 1e-8) = 0.8500000005
        // 2: g = 1.700000001; x = 0.95 * 0.8500000005 = 0.807500000475
        //    m = 0.18 + 0.1700000001 = 0.3500000001, v = 0.003996 + 0.001*2.890000003 = 0.006886000003
        //    x = 0.807500000475 - 0.1 * (0.3500000001/0.19)/(sqrt(0.006886000003/0.001999) + 1e-8) = 0.70824844336
        // 3: g = 1.41649688672; x = 0.95 * 0.70824844336 - 0.1 * 1.68505420207/(sqrt(2.9648229792) + 1e-8) = 0.574973930742
        Tensor x = scalar_param();
        optim::AdamW opt({x}, {.lr = 0.1, .betas = {0.9, 0.999}, .weight_decay = 0.5});
        check_values(three_steps(opt, x), {0.8500000004999999, 0.7082484433597453, 0.5749739307415966});
    }
    SECTION("amsgrad divides by the largest second moment seen") {
        // Gradients 2, 0.2, 0.2 set by hand; lr 0.1, betas (0.5, 0.5), eps 0.
        // 1: m = 1, v = 2 = vmax;                  m^ = 1/0.5 = 2,     vmax^ = 2/0.5 = 4      x = 1 - 0.1*2/2 = 0.9
        // 2: m = 0.6, v = 1.02, vmax = 2;          m^ = 0.6/0.75 = 0.8, vmax^ = 2/0.75        x = 0.9 - 0.1*0.8/sqrt(8/3)
        // 3: m = 0.4, v = 0.53, vmax = 2;          m^ = 0.4/0.875,      vmax^ = 2/0.875       x = x2 - 0.1*(0.4/0.875)/sqrt(16/7)
        // (without amsgrad step 2 would divide by sqrt(1.02/0.75) instead: a much larger step)
        Tensor x = scalar_param();
        optim::Adam opt({x}, {.lr = 0.1, .betas = {0.5, 0.5}, .eps = 0.0, .amsgrad = true});
        std::vector<double> got;
        for (double g : {2.0, 0.2, 0.2}) {
            x.set_grad(f64({g}, {}));
            opt.step();
            got.push_back(x.item());
        }
        const double x2 = 0.9 - 0.1 * 0.8 / std::sqrt(8.0 / 3.0);
        const double x3 = x2 - 0.1 * (0.4 / 0.875) / std::sqrt(16.0 / 7.0);
        check_values(got, {0.9, x2, x3});
        const auto state = opt.state_dict();
        CHECK(state.at("state.0.max_exp_avg_sq").item() == Approx(2.0));
        CHECK(state.at("state.0.exp_avg_sq").item() == Approx(0.53));
    }
}

TEST_CASE("optim: RMSprop, three steps by hand", "[optim]") {
    SECTION("plain: lr 0.01, alpha 0.99") {
        // 1: g = 2;     s = 0.01*4 = 0.04;                   d = 0.2 + 1e-8;       x = 1 - 0.01*2/d = 0.900000005
        // 2: g = 1.80000001; s = 0.0396 + 0.01*3.24000004 = 0.0720000004; d = 0.268328168;  x = 0.832917967970
        // 3: g = 1.66583593594; s = 0.0712800004 + 0.01*2.7750100 = 0.0990300940; d = 0.314690483; x = 0.779982273244
        Tensor x = scalar_param();
        optim::RMSprop opt({x}, {.lr = 0.01, .alpha = 0.99});
        check_values(three_steps(opt, x), {0.9000000049999998, 0.8329179679700331, 0.7799822732436351});
    }
    SECTION("centered, momentum 0.9, weight_decay 0.5, alpha 0.9, lr 0.01") {
        // g = 2x + 0.5x = 2.5x; s = 0.9 s + 0.1 g^2; a = 0.9 a + 0.1 g; d = sqrt(s - a^2) + 1e-8; b = 0.9 b + g/d
        // 1: g = 2.5;  s = 0.625; a = 0.25;  d = sqrt(0.5625) + 1e-8 = 0.75000001; b = 3.33333328889
        //    x = 1 - 0.01*3.33333328889 = 0.966666667111
        // 2: g = 2.41666666778; s = 1.14652777831; a = 0.466666666778; d = 0.963716773595; b = 5.50765234708
        //    x = 0.966666667111 - 0.0550765234708 = 0.911590143640
        // 3: g = 2.27897535910; s = 1.55124786922; a = 0.647897536010; d = 1.06370892322; b = 7.09936736178
        //    x = 0.911590143640 - 0.0709936736178 = 0.840596470023
        Tensor x = scalar_param();
        optim::RMSprop opt({x}, {.lr = 0.01, .alpha = 0.9, .weight_decay = 0.5, .momentum = 0.9, .centered = true});
        check_values(three_steps(opt, x), {0.966666667111111, 0.9115901436402681, 0.840596470022502});
    }
}

TEST_CASE("optim: Adagrad, three steps by hand", "[optim]") {
    // lr 0.1, lr_decay 0.5, weight_decay 0.5, initial_accumulator_value 0.1, eps 1e-10:
    // g = 2.5x; clr = 0.1/(1 + (t-1)*0.5); sum += g^2; x -= clr * g/(sqrt(sum) + 1e-10)
    // 1: g = 2.5;           clr = 0.1;          sum = 0.1 + 6.25 = 6.35;              x = 1 - 0.1*2.5/2.51992063 = 0.900790526237
    // 2: g = 2.25197631559; clr = 0.1/1.5;      sum = 6.35 + 5.07139732599 = 11.4213973260; x = 0.856367009132
    // 3: g = 2.14091752283; clr = 0.1/2 = 0.05; sum = 11.4213973260 + 4.58352784 = 16.0049251656; x = 0.829609658042
    Tensor x = scalar_param();
    optim::Adagrad opt({x}, {.lr = 0.1, .lr_decay = 0.5, .weight_decay = 0.5, .initial_accumulator_value = 0.1});
    check_values(three_steps(opt, x), {0.9007905262373689, 0.8563670091320221, 0.8296096580424377});
    CHECK(opt.state_dict().at("state.0.sum").item() == Approx(16.004925165554504).epsilon(1e-12));
}

// ---- convergence on a convex problem ------------------------------------------------------------

TEST_CASE("optim: every optimizer reaches the least-squares optimum", "[optim]") {
    const auto [w1, w2] = least_squares_optimum();
    const LeastSquares problem{DType::Float64};
    // Adaptive methods hover within about lr of the optimum at a constant lr, so each run ends with
    // a smaller lr for its last stretch (the schedule a scheduler would give).
    struct Run {
        std::string name;
        std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)> make;
        int steps;
    };
    const std::vector<Run> runs = {
        {"SGD", [](auto p) { return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.3}); }, 500},
        {"SGD momentum", [](auto p) { return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.1, .momentum = 0.9}); }, 500},
        {"SGD nesterov", [](auto p) { return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true}); }, 500},
        {"Adam", [](auto p) { return std::make_unique<optim::Adam>(p, optim::AdamOptions{.lr = 0.05}); }, 1500},
        {"Adam amsgrad", [](auto p) { return std::make_unique<optim::Adam>(p, optim::AdamOptions{.lr = 0.05, .amsgrad = true}); }, 1500},
        {"AdamW (wd 0)", [](auto p) { return std::make_unique<optim::AdamW>(p, optim::AdamWOptions{.lr = 0.05, .weight_decay = 0.0}); }, 1500},
        {"RMSprop", [](auto p) { return std::make_unique<optim::RMSprop>(p, optim::RMSpropOptions{.lr = 0.01}); }, 1500},
        {"RMSprop centered momentum", [](auto p) { return std::make_unique<optim::RMSprop>(p, optim::RMSpropOptions{.lr = 0.005, .momentum = 0.5, .centered = true}); }, 1500},
        {"Adagrad", [](auto p) { return std::make_unique<optim::Adagrad>(p, optim::AdagradOptions{.lr = 0.5}); }, 1500},
    };
    for (const Run& run : runs) {
        INFO(run.name);
        Tensor w = f64({0.0, 0.0}, {2, 1}, true);
        auto opt = run.make({w});
        const double start_loss = problem.loss(w).item();
        for (int i = 0; i < run.steps; ++i) {
            if (i == run.steps * 2 / 3) opt->set_lr(opt->lr() * 0.01);
            train_step(*opt, problem, w);
        }
        CHECK(problem.loss(w).item() < start_loss);
        CHECK(w.at({0, 0}) == Approx(w1).margin(1e-4));
        CHECK(w.at({1, 0}) == Approx(w2).margin(1e-4));
    }
}

TEST_CASE("optim: AdamW's decoupled weight decay pulls the optimum toward zero", "[optim]") {
    // With decoupled decay the fixed point satisfies lr*wd*w = -lr * m^/(sqrt(v^)+eps), not grad = 0:
    // the weights end strictly smaller in norm than the unregularised optimum.
    const auto [w1, w2] = least_squares_optimum();
    const LeastSquares problem{DType::Float64};
    Tensor w = f64({0.0, 0.0}, {2, 1}, true);
    optim::AdamW opt({w}, {.lr = 0.02, .weight_decay = 0.5});
    for (int i = 0; i < 1500; ++i) train_step(opt, problem, w);
    const double norm = std::hypot(w.at({0, 0}), w.at({1, 0}));
    CHECK(norm < std::hypot(w1, w2) * 0.99);
    CHECK(norm > 0.1);
}

TEST_CASE("optim: float32 and float64 parameters give the same updates", "[optim]") {
    for (auto& [name, make] : all_optimizers()) {
        INFO(name);
        const LeastSquares p32{DType::Float32}, p64{DType::Float64};
        Tensor w32 = Tensor::from({0.3, -0.2}, {2, 1}, {.requires_grad = true});
        Tensor w64 = f64({0.3, -0.2}, {2, 1}, true);
        auto o32 = make({w32});
        auto o64 = make({w64});
        for (int i = 0; i < 20; ++i) {
            train_step(*o32, p32, w32);
            train_step(*o64, p64, w64);
        }
        CHECK(w32.dtype() == DType::Float32);
        CHECK(w32.at({0, 0}) == Approx(w64.at({0, 0})).margin(1e-5));
        CHECK(w32.at({1, 0}) == Approx(w64.at({1, 0})).margin(1e-5));
    }
}

// ---- state dict ---------------------------------------------------------------------------------

TEST_CASE("optim: save, load into a fresh optimizer, continue == uninterrupted, bit for bit", "[optim]") {
    const LeastSquares problem{DType::Float32};
    for (auto& [name, make] : all_optimizers()) {
        INFO(name);
        // Uninterrupted: 12 steps. `unused` never gets a gradient.
        Tensor w = Tensor::from({0.3, -0.2}, {2, 1}, {.requires_grad = true});
        Tensor unused = Tensor::from({5.0}, {1}, {.requires_grad = true});
        auto opt = make({w, unused});
        for (int i = 0; i < 12; ++i) train_step(*opt, problem, w);

        // Interrupted: 5 steps, snapshot parameters and optimizer, rebuild everything, 7 more.
        Tensor wa = Tensor::from({0.3, -0.2}, {2, 1}, {.requires_grad = true});
        Tensor ua = Tensor::from({5.0}, {1}, {.requires_grad = true});
        auto first = make({wa, ua});
        for (int i = 0; i < 5; ++i) train_step(*first, problem, wa);
        const auto saved = first->state_dict();
        const Tensor saved_w = wa.detach().clone();
        for (int i = 0; i < 3; ++i) train_step(*first, problem, wa);  // must not disturb the snapshot
        CHECK(saved.at("step").item() == 5.0);

        Tensor wb = saved_w.clone().set_requires_grad(true);
        Tensor ub = Tensor::from({5.0}, {1}, {.requires_grad = true});
        auto second = make({wb, ub});
        second->load_state_dict(saved);
        CHECK(second->step_count() == 5);
        for (int i = 0; i < 7; ++i) train_step(*second, problem, wb);

        CHECK(bits(wb) == bits(w));
        CHECK(second->step_count() == opt->step_count());
        // Every buffer is equal too.
        const auto s1 = opt->state_dict(), s2 = second->state_dict();
        REQUIRE(s1.size() == s2.size());
        for (const auto& [key, t] : s1) {
            INFO(key);
            REQUIRE(s2.count(key));
            if (t.dtype() == DType::Float32) CHECK(bits(s2.at(key)) == bits(t));
            else CHECK(s2.at(key).item() == t.item());
        }
    }
}

TEST_CASE("optim: state_dict names and contents", "[optim]") {
    Tensor a = f64({1.0, 2.0}, {2}, true), b = f64({3.0}, {}, true), c = f64({4.0}, {1}, true);
    optim::Adam opt(std::vector<optim::ParamGroup>{{.params = {a, b}, .lr = 0.5}, {.params = {c}, .weight_decay = 0.25}},
                    {.lr = 0.1});
    sum(a * a).backward();
    sum(c * 2.0).backward();
    opt.step();
    opt.step();
    const auto s = opt.state_dict();
    std::vector<std::string> keys;
    for (const auto& [k, t] : s) keys.push_back(k);
    // b never had a gradient: no state.1.* entries.
    CHECK(keys == std::vector<std::string>{"group.0.lr", "group.0.weight_decay", "group.1.lr", "group.1.weight_decay",
                                           "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.step", "state.2.exp_avg",
                                           "state.2.exp_avg_sq", "state.2.step", "step"});
    for (const char* k : {"step", "state.0.step", "group.0.lr"}) {
        CHECK(s.at(k).dim() == 0);
        CHECK(s.at(k).dtype() == DType::Float64);
    }
    CHECK(s.at("step").item() == 2.0);
    CHECK(s.at("state.0.step").item() == 2.0);
    CHECK(s.at("group.0.lr").item() == 0.5);
    CHECK(s.at("group.1.lr").item() == 0.1);
    CHECK(s.at("group.0.weight_decay").item() == 0.0);
    CHECK(s.at("group.1.weight_decay").item() == 0.25);
    CHECK(s.at("state.0.exp_avg").shape() == Shape{2});
    CHECK(s.at("state.2.exp_avg").shape() == Shape{1});
    // A snapshot, not a view: stepping again leaves it alone.
    const double before = s.at("state.0.exp_avg").at({0});
    opt.step();
    CHECK(s.at("state.0.exp_avg").at({0}) == before);
}

TEST_CASE("optim: load_state_dict restores lr and step counts", "[optim]") {
    Tensor x = scalar_param();
    optim::SGD opt({x}, {.lr = 0.1, .momentum = 0.9});
    (x * x).backward();
    opt.step();
    opt.set_lr(0.02);
    const auto s = opt.state_dict();
    Tensor y = scalar_param();
    optim::SGD fresh({y}, {.lr = 0.1, .momentum = 0.9});
    fresh.load_state_dict(s);
    CHECK(fresh.lr() == 0.02);
    CHECK(fresh.step_count() == 1);
    CHECK(fresh.state_dict().at("state.0.momentum_buffer").item() == 2.0);
}

TEST_CASE("optim: load_state_dict errors name the entries and change nothing", "[optim][errors]") {
    Tensor x = f64({1.0, 2.0}, {2}, true);
    optim::Adam opt({x}, {.lr = 0.1});
    sum(x * x).backward();
    opt.step();
    const auto good = opt.state_dict();

    Tensor y = f64({1.0, 2.0}, {2}, true);
    optim::Adam fresh({y}, {.lr = 0.3});

    auto missing = good;
    missing.erase("state.0.exp_avg_sq");
    CHECK_THROWS_AS(fresh.load_state_dict(missing), ShapeError);
    CHECK_THROWS_WITH(fresh.load_state_dict(missing), Catch::Contains("Adam") && Catch::Contains("missing") &&
                                                          Catch::Contains("'state.0.exp_avg_sq'"));

    auto unexpected = good;
    unexpected["state.0.momentum_buffer"] = zeros({2}, {.dtype = DType::Float64});
    unexpected["state.5.step"] = Tensor::scalar(1.0, DType::Float64);
    CHECK_THROWS_WITH(fresh.load_state_dict(unexpected), Catch::Contains("unexpected") &&
                                                             Catch::Contains("'state.0.momentum_buffer'") &&
                                                             Catch::Contains("'state.5.step'"));

    auto misshaped = good;
    misshaped["state.0.exp_avg"] = zeros({3}, {.dtype = DType::Float64});
    misshaped["group.0.lr"] = Tensor::scalar(0.1, DType::Float32);
    CHECK_THROWS_WITH(fresh.load_state_dict(misshaped),
                      Catch::Contains("mismatched") && Catch::Contains("'state.0.exp_avg' is [3] float64") &&
                          Catch::Contains("[2] float64") && Catch::Contains("'group.0.lr'"));

    auto no_step = good;
    no_step.erase("step");
    CHECK_THROWS_WITH(fresh.load_state_dict(no_step), Catch::Contains("missing ['step']"));

    auto bad_count = good;
    bad_count["state.0.step"] = Tensor::scalar(1.5, DType::Float64);
    CHECK_THROWS_WITH(fresh.load_state_dict(bad_count), Catch::Contains("'state.0.step'") && Catch::Contains("whole"));

    // Nothing was applied by the failed loads.
    CHECK(fresh.lr() == 0.3);
    CHECK(fresh.step_count() == 0);
    CHECK(fresh.state_dict().size() == 3);  // step, group.0.lr, group.0.weight_decay
}

// ---- behaviour ----------------------------------------------------------------------------------

TEST_CASE("optim: a parameter without a gradient is skipped", "[optim]") {
    for (auto& [name, make] : all_optimizers()) {
        INFO(name);
        Tensor used = f64({1.0}, {1}, true), idle = f64({7.0, 8.0}, {2}, true);
        auto opt = make({used, idle});
        for (int i = 0; i < 3; ++i) {
            opt->zero_grad();
            sum(used * used).backward();
            CHECK_NOTHROW(opt->step());
        }
        CHECK(idle.to_vector() == std::vector<double>{7.0, 8.0});
        CHECK(used.item() != 1.0);
        const auto s = opt->state_dict();
        CHECK(s.count("state.0.step") == 1);
        for (const auto& [k, t] : s) CHECK(k.rfind("state.1.", 0) != 0);
        // Later it gets a gradient: its own step count starts at 1.
        opt->zero_grad();
        sum(idle * used).backward();
        opt->step();
        CHECK(opt->state_dict().at("state.1.step").item() == 1.0);
        CHECK(opt->state_dict().at("state.0.step").item() == 4.0);
        CHECK(opt->step_count() == 4);
    }
}

TEST_CASE("optim: step updates in place, builds no graph - zero_grad drops gradients", "[optim]") {
    Tensor x = f64({1.0, -1.0}, {2}, true);
    const void* storage = x.raw_data();
    optim::Adam opt({x}, {.lr = 0.1});
    sum(x * x).backward();
    opt.step();
    CHECK(x.raw_data() == storage);
    CHECK(x.is_leaf());
    CHECK(x.requires_grad());
    CHECK(x.grad().defined());
    opt.zero_grad();
    CHECK_FALSE(x.grad().defined());
    CHECK(opt.step_count() == 1);
}

TEST_CASE("optim: parameter groups use their own lr and weight decay", "[optim]") {
    Tensor a = scalar_param(), b = scalar_param();
    optim::SGD opt(std::vector<optim::ParamGroup>{{.params = {a}, .lr = 0.1}, {.params = {b}, .weight_decay = 1.0}},
                   {.lr = 0.2});
    CHECK(opt.num_groups() == 2);
    CHECK(opt.lr(0) == 0.1);
    CHECK(opt.lr(1) == 0.2);
    CHECK(opt.weight_decay(0) == 0.0);
    CHECK(opt.weight_decay(1) == 1.0);
    (a * a + b * b).backward();
    opt.step();
    CHECK(a.item() == Approx(1.0 - 0.1 * 2.0));          // g = 2a
    CHECK(b.item() == Approx(1.0 - 0.2 * (2.0 + 1.0)));  // g = 2b + 1.0 b
    opt.set_lr(0.05);
    CHECK(opt.lr(0) == 0.05);
    CHECK(opt.lr(1) == 0.05);
    opt.set_lr(1, 0.5);
    CHECK(opt.lr(1) == 0.5);
    CHECK(opt.parameters().size() == 2);
    CHECK_THROWS_AS(opt.lr(2), IndexError);
}

// ---- bad options --------------------------------------------------------------------------------

TEST_CASE("optim: bad options throw ShapeError naming the optimizer and the option", "[optim][errors]") {
    Tensor x = scalar_param();
    auto check = [](auto make, const char* optimizer, const char* option) {
        INFO(optimizer << " " << option);
        CHECK_THROWS_AS(make(), ShapeError);
        CHECK_THROWS_AS(make(), std::invalid_argument);
        CHECK_THROWS_WITH(make(), Catch::StartsWith(std::string(optimizer) + ":") && Catch::Contains(option));
    };
    check([&] { optim::SGD o({x}, {.lr = -0.1}); }, "SGD", "lr");
    check([&] { optim::SGD o({x}, {.lr = 0.1, .momentum = -0.5}); }, "SGD", "momentum");
    check([&] { optim::SGD o({x}, {.lr = 0.1, .weight_decay = -1.0}); }, "SGD", "weight_decay");
    check([&] { optim::SGD o({x}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); }, "SGD", "dampening");
    check([&] { optim::SGD o({x}, {.lr = 0.1, .nesterov = true}); }, "SGD", "momentum");
    check([&] { optim::Adam o({x}, {.lr = -1e-3}); }, "Adam", "lr");
    check([&] { optim::Adam o({x}, {.betas = {1.0, 0.999}}); }, "Adam", "betas[0]");
    check([&] { optim::Adam o({x}, {.betas = {0.9, -0.1}}); }, "Adam", "betas[1]");
    check([&] { optim::Adam o({x}, {.betas = {0.9, 1.5}}); }, "Adam", "betas[1]");
    check([&] { optim::Adam o({x}, {.eps = -1.0}); }, "Adam", "eps");
    check([&] { optim::AdamW o({x}, {.betas = {-0.1, 0.999}}); }, "AdamW", "betas[0]");
    check([&] { optim::AdamW o({x}, {.weight_decay = -0.01}); }, "AdamW", "weight_decay");
    check([&] { optim::RMSprop o({x}, {.lr = -1.0}); }, "RMSprop", "lr");
    check([&] { optim::RMSprop o({x}, {.alpha = 1.5}); }, "RMSprop", "alpha");
    check([&] { optim::RMSprop o({x}, {.momentum = -0.1}); }, "RMSprop", "momentum");
    check([&] { optim::Adagrad o({x}, {.lr = -1.0}); }, "Adagrad", "lr");
    check([&] { optim::Adagrad o({x}, {.lr_decay = -1.0}); }, "Adagrad", "lr_decay");
    check([&] { optim::Adagrad o({x}, {.initial_accumulator_value = -1.0}); }, "Adagrad", "initial_accumulator_value");
    check([&] { optim::SGD o({x}, {.lr = std::nan("")}); }, "SGD", "lr");
    check([&] { optim::SGD o(std::vector<optim::ParamGroup>{{.params = {x}, .lr = -0.1}}, {.lr = 0.1}); }, "SGD", "group 0: lr");

    // Parameter lists.
    check([&] { optim::SGD o(std::vector<Tensor>{}, {.lr = 0.1}); }, "SGD", "empty");
    check([&] { optim::SGD o({x, x}, {.lr = 0.1}); }, "SGD", "more than once");
    check([&] { optim::SGD o({x * 2.0}, {.lr = 0.1}); }, "SGD", "not a leaf");
    check([&] { optim::SGD o({Tensor::ids({1}, {1})}, {.lr = 0.1}); }, "SGD", "int64");
    check([&] { optim::SGD o({Tensor()}, {.lr = 0.1}); }, "SGD", "undefined");

    optim::SGD ok({x}, {.lr = 0.1});
    check([&] { ok.set_lr(-1.0); }, "SGD", "lr");
}
