// gradcheck itself (core/gradcheck.h): it passes on correct ops, and it FAILS on deliberately wrong
// backward functions built with record(), reporting the worst element (input index, element
// index, analytic vs numeric). Also: only inputs that require grad are perturbed, the inputs are
// left as they were, NaN is a failure, tolerances are honoured, and bad arguments are errors.
#include <cmath>

#include "helpers.h"

using namespace seqgrad;
using seqgrad::testing::f64;
using seqgrad::testing::param;

namespace {

// y = a * b (elementwise, same shape) with a backward that is right for a and wrong for b at one
// element: db[bad] gets an extra `extra * dy[bad]`.
Tensor mul_wrong_at(const Tensor& a, const Tensor& b, std::int64_t bad, double extra) {
    Tensor y = mul(a.detach(), b.detach());
    return record("mul_wrong_at", y, {a, b}, [a = a.detach(), b = b.detach(), bad, extra](const Tensor& dy, Grads& g) {
        if (g.needs(0)) g[0] = mul(dy, b);
        if (g.needs(1)) {
            Tensor db = mul(dy, a);
            db.data<double>()[bad] += extra * dy.data<double>()[bad];
            g[1] = db;
        }
    });
}

// y = x^2 with the derivative 3x instead of 2x: the error at element i is |x_i| dy_i.
Tensor square_wrong(const Tensor& x) {
    Tensor y = mul(x.detach(), x.detach());
    return record("square_wrong", y, {x}, [x = x.detach()](const Tensor& dy, Grads& g) { g[0] = mul(mul(dy, x), 3.0); });
}

}  // namespace

TEST_CASE("gradcheck: passes on correct ops and counts the perturbed elements", "[gradcheck]") {
    Tensor x = param({2, 3}, 1);
    GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return tanh(in[0]); }, {x});
    INFO(r.message);
    CHECK(r.ok);
    CHECK(r.checked == 6);
    CHECK(r.max_abs_error < 1e-8);
    CHECK_THAT(r.message, Catch::StartsWith("gradcheck passed: 6 elements"));

    // several inputs, scalar output
    Tensor a = param({3}, 2), b = param({2, 3}, 3);
    r = gradcheck([](const std::vector<Tensor>& in) { return sum(mul(in[0], in[1])); }, {a, b});
    CHECK(r.ok);
    CHECK(r.checked == 9);
}

TEST_CASE("gradcheck: fails on a wrong backward and names input, element, analytic and numeric", "[gradcheck]") {
    Tensor a = param({2, 3}, 4, 0.5, 1.5);
    Tensor b = param({2, 3}, 5);
    const double a4 = a.data<double>()[4];
    // scalar output: dy = 1, so the analytic gradient of b[4] is a[4] + 0.5 and the numeric one a[4]
    GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return sum(mul_wrong_at(in[0], in[1], 4, 0.5)); }, {a, b});
    INFO(r.message);
    CHECK_FALSE(r.ok);
    CHECK(r.checked == 12);
    CHECK(r.input == 1);
    CHECK(r.element == 4);
    CHECK(r.analytic == Approx(a4 + 0.5).epsilon(1e-12));
    CHECK(r.numeric == Approx(a4).epsilon(1e-6));
    CHECK(r.max_abs_error == Approx(0.5).epsilon(1e-5));
    CHECK_THAT(r.message, Catch::StartsWith("gradcheck FAILED: 12 elements"));
    CHECK_THAT(r.message, Catch::Contains("worst: input 1 element 4: analytic " + fmt::format("{:.10g}", r.analytic) +
                                          " vs numeric " + fmt::format("{:.10g}", r.numeric)));

    // non-scalar output: the random projection still exposes the wrong element
    r = gradcheck([](const std::vector<Tensor>& in) { return mul_wrong_at(in[0], in[1], 2, 1.0); }, {a, b});
    CHECK_FALSE(r.ok);
    CHECK(r.input == 1);
    CHECK(r.element == 2);
    // numeric = a[2] R[2] and the extra is R[2], whatever the projection R is
    CHECK(r.analytic - r.numeric == Approx(r.numeric / a.data<double>()[2]).epsilon(1e-5));

    // the same op is right for input 0: checking a alone passes
    Tensor b_const = b.detach();
    CHECK(gradcheck([&](const std::vector<Tensor>& in) { return mul_wrong_at(in[0], b_const, 2, 1.0); }, {a}).ok);
}

TEST_CASE("gradcheck: the worst element is the one with the largest error", "[gradcheck]") {
    // error of square_wrong at element i is |x_i|: the largest |x| is element 3 (-2.5)
    Tensor x = f64({0.5, -1.0, 2.0, -2.5, 1.5}, {5}, true);
    GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return sum(square_wrong(in[0])); }, {x});
    INFO(r.message);
    CHECK_FALSE(r.ok);
    CHECK(r.input == 0);
    CHECK(r.element == 3);
    CHECK(r.analytic == Approx(-7.5));
    CHECK(r.numeric == Approx(-5.0).epsilon(1e-6));
    CHECK(r.max_abs_error == Approx(2.5).epsilon(1e-5));
    CHECK(r.max_rel_error == Approx(0.5).epsilon(1e-5));
}

TEST_CASE("gradcheck: a missing gradient or a NaN is a failure", "[gradcheck]") {
    Tensor x = param({3}, 6);
    // a backward that sends nothing: analytic 0 against a numeric 1
    GradcheckResult r = gradcheck(
        [](const std::vector<Tensor>& in) {
            return sum(record("no_grad_op", mul(in[0].detach(), 1.0), {in[0]}, [](const Tensor&, Grads&) {}));
        },
        {x});
    CHECK_FALSE(r.ok);
    CHECK(r.analytic == 0);
    CHECK(r.numeric == Approx(1.0));

    // a NaN analytic gradient
    r = gradcheck(
        [](const std::vector<Tensor>& in) {
            return sum(record("nan_grad_op", mul(in[0].detach(), 1.0), {in[0]},
                              [](const Tensor& dy, Grads& g) { g[0] = mul(dy, std::nan("")); }));
        },
        {x});
    CHECK_FALSE(r.ok);
    CHECK(std::isnan(r.analytic));

    // a NaN numeric gradient: log is undefined just left of 0, the analytic 1/x is finite
    Tensor z = f64({1e-7, 1.0}, {2}, true);
    r = gradcheck([](const std::vector<Tensor>& in) { return sum(log(in[0])); }, {z});
    INFO(r.message);
    CHECK_FALSE(r.ok);
    CHECK(r.element == 0);
    CHECK(std::isnan(r.numeric));
}

TEST_CASE("gradcheck: tolerances are honoured", "[gradcheck]") {
    Tensor a = param({4}, 7, 0.5, 1.5), b = param({4}, 8);
    auto f = [](const std::vector<Tensor>& in) { return sum(mul_wrong_at(in[0], in[1], 1, 1e-4)); };
    CHECK_FALSE(gradcheck(f, {a, b}, {.atol = 1e-5, .rtol = 0}).ok);
    CHECK(gradcheck(f, {a, b}, {.atol = 1e-3, .rtol = 0}).ok);
    CHECK(gradcheck(f, {a, b}, {.atol = 0, .rtol = 1e-3}).ok);  // 1e-4 relative to |a| >= 0.5
}

TEST_CASE("gradcheck: only inputs that require grad are perturbed - inputs are left unchanged", "[gradcheck]") {
    Tensor a = param({2, 2}, 9);
    Tensor c = f64({1, 2, 3, 4}, {2, 2});  // a constant
    const auto before = a.to_vector();
    GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return mul(in[0], in[1]); }, {a, c});
    CHECK(r.ok);
    CHECK(r.checked == 4);
    CHECK(a.to_vector() == before);  // every perturbation undone exactly
    CHECK_FALSE(a.grad().defined());  // no gradient left behind
    // an undefined entry in the inputs is skipped
    CHECK(gradcheck([](const std::vector<Tensor>& in) { return exp(in[0]); }, {a, Tensor()}).checked == 4);
}

TEST_CASE("gradcheck: perturbed evaluations run in the same grad mode as the analytic one", "[gradcheck]") {
    // dropout is the identity without grad mode: a gradcheck that switched grad off for its
    // numeric evaluations would compare the mask against the identity and fail
    Generator gen(0);
    Tensor x = param({4, 4}, 10);
    GradcheckResult r = gradcheck(
        [&](const std::vector<Tensor>& in) {
            gen.manual_seed(1);
            return dropout(in[0], 0.5, true, &gen);
        },
        {x});
    INFO(r.message);
    CHECK(r.ok);
}

TEST_CASE("gradcheck: bad arguments are errors", "[gradcheck][errors]") {
    Tensor f32 = zeros({2}, {.requires_grad = true});
    CHECK_THROWS_MATCHES(gradcheck([](const std::vector<Tensor>& in) { return in[0]; }, {f32}), ShapeError,
                         Catch::Matchers::Message("gradcheck: input 0 is float32; gradients are checked in float64 (convert with .to(DType::Float64))"));
    Tensor x = param({2}, 11);
    CHECK_THROWS_MATCHES(gradcheck([](const std::vector<Tensor>& in) { return in[0].to(DType::Float32); }, {x}), ShapeError,
                         Catch::Matchers::Message("gradcheck: f returned float32, expected float64"));
}

// ---- the layers' registered cases (layers/gradcheck_cases.h), what `seqgrad gradcheck` runs --------

TEST_CASE("gradcheck cases: every layer registers its case once and every case passes", "[gradcheck]") {
    const std::vector<nn::NamedLayerCheck> cases = nn::gradcheck_cases();
    std::vector<std::string> names;
    for (const auto& c : cases) names.push_back(c.name);
    CHECK(std::is_sorted(names.begin(), names.end()));
    CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
    std::vector<std::string> expected = {"Embedding", "FeedForward", "GRU", "GRUCell", "LSTM", "LSTMCell", "LayerNorm",
                                         "Linear", "MultiHeadAttention", "RNNCell", "TransformerDecoderLayer",
                                         "TransformerEncoderLayer"};
    for (const std::string& kind : nn::attention_kind_names()) expected.push_back("Attention(" + kind + ")");
    for (const std::string& name : expected) {
        INFO(name);
        CHECK(std::find(names.begin(), names.end(), name) != names.end());
    }
    for (const auto& [name, run] : cases) {
        INFO(name);
        const nn::LayerCheck c = run();
        CHECK(c.result.ok);
        CHECK(c.result.checked > 0);
        CHECK(c.parameters >= 0);
    }
}

TEST_CASE("gradcheck cases: a case of one's own is listed, and a name registered twice is an error",
          "[gradcheck][errors]") {
    // A layer written outside the library registers the same way (examples/add_a_layer/glu.cpp does).
    nn::register_gradcheck_case("test: Linear without bias", [] {
        Generator g(21);
        nn::Linear m({.in_features = 2, .out_features = 2, .bias = false, .dtype = DType::Float64, .generator = &g});
        return nn::check_layer(m, {nn::gradcheck_input({3, 2}, g)}, [&](const std::vector<Tensor>& x) { return m(x[0]); });
    });
    const auto cases = nn::gradcheck_cases();
    auto it = std::find_if(cases.begin(), cases.end(), [](const auto& c) { return c.name == "test: Linear without bias"; });
    REQUIRE(it != cases.end());
    const nn::LayerCheck c = it->run();
    CHECK(c.result.ok);
    CHECK(c.parameters == 4);
    CHECK_THROWS_AS(nn::register_gradcheck_case("Linear", nullptr), ShapeError);
    CHECK_THROWS_WITH(nn::register_gradcheck_case("Linear", nullptr),
                      "register_gradcheck_case: a case named 'Linear' is already registered");
}
