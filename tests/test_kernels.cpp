// The row kernels of core/row_kernels.h: Adam's vectorised update against the plain optimizer loop, and every
// kernel of every variant the CPU runs against plain loops.
#include "core/kernels.h"
#include "core/row_kernels.h"
#include "helpers.h"
#include "optim/adam.h"

using namespace seqgrad;

namespace {
// Parameters after `steps` Adam updates with fixed pseudo-random gradients, fast path on or off.
std::vector<Tensor> adam_run(bool fast, DType dtype, int steps) {
    FastPathGuard guard(fast);
    Generator gen(17);
    Tensor a = uniform({37, 29}, -1, 1, {.dtype = dtype, .requires_grad = true}, &gen);  // not a multiple of 8
    Tensor b = uniform({5}, -1, 1, {.dtype = dtype, .requires_grad = true}, &gen);
    optim::Adam adam({a, b}, {.lr = 1e-2});
    for (int s = 0; s < steps; ++s) {
        adam.zero_grad();
        Generator g(100 + s);
        sum(a * uniform(a.shape(), -2, 2, {.dtype = dtype}, &g)).backward();
        sum(b * b * b).backward();
        adam.step();
    }
    return {a.detach().clone(), b.detach().clone()};
}
}  // namespace

TEST_CASE("kernels: Adam's vectorised update equals the plain loop", "[kernels][optim]") {
    for (const DType dtype : {DType::Float32, DType::Float64}) {
        INFO(dtype_name(dtype));
        const auto fast = adam_run(true, dtype, 7), plain = adam_run(false, dtype, 7);
        const double tol = dtype == DType::Float32 ? 1e-6 : 1e-13;
        for (std::size_t i = 0; i < fast.size(); ++i) CHECK(allclose(fast[i], plain[i], tol, tol));
    }
}

// ---- the row kernels, every variant this CPU runs -------------------------------------------------
// Each kernel against a plain loop in long double, at every length 0..70 (so every tail of the 8-wide
// partial sums and of 8-, 16- and 32-byte vectors, odd lengths included), float32 and float64, for
// every variant the CPU supports (AVX-512, AVX2, baseline: the dispatch of core/row_kernels.h), with
// inputs that start at odd offsets (unaligned) and guard values after the end that must stay untouched.
namespace {
struct IsaGuard {
    kernels::Isa prev = kernels::isa();
    ~IsaGuard() { kernels::set_isa(prev); }
};

template <typename T>
std::vector<T> values(std::size_t n, std::uint64_t seed, double lo = -3, double hi = 3) {
    Generator gen(seed);
    const auto v = uniform({static_cast<std::int64_t>(n)}, lo, hi, {.dtype = DType::Float64}, &gen).to_vector();
    return {v.begin(), v.end()};
}

template <typename T>
void check_row_kernels(double tol) {
    using L = long double;
    for (std::int64_t n = 0; n <= 70; ++n) {
        INFO("n = " << n);
        const std::size_t off = 1 + static_cast<std::size_t>(n % 3);  // unaligned starts
        const auto xa = values<T>(n + off + 4, 100 + n), ya = values<T>(n + off + 4, 200 + n);
        const T* x = xa.data() + off;
        const T* y = ya.data() + off;
        const T shift = T(0.5);
        L max_want = -1e300L, sum_exp_want = 0, dot_want = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            max_want = std::max<L>(max_want, x[i]);
            sum_exp_want += std::exp(static_cast<L>(x[i]) - shift);
            dot_want += static_cast<L>(x[i]) * y[i];
        }
        if (n > 0) CHECK(kernels::row_max(x, n) == static_cast<T>(max_want));
        CHECK(static_cast<double>(kernels::sum_exp(x, n, shift)) == Approx(static_cast<double>(sum_exp_want)).epsilon(tol).margin(tol));
        CHECK(static_cast<double>(kernels::dot(x, y, n)) == Approx(static_cast<double>(dot_want)).epsilon(tol).margin(tol));
        if constexpr (std::is_same_v<T, float>) {  // accumulated in double: as exact as double
            L squares_want = 0;
            for (std::int64_t i = 0; i < n; ++i) squares_want += static_cast<L>(x[i]) * x[i];
            CHECK(kernels::sum_squares(x, n) == Approx(static_cast<double>(squares_want)).epsilon(1e-14).margin(1e-14));
            // Column sums, bit for bit the plain loop's (the same additions in the same order), for
            // widths below one 64-column block, one block and a tail, and several blocks.
            for (const std::int64_t cols : {n, n + 128}) {
                for (const std::int64_t rows : {0, 1, 3, 7}) {
                    INFO("add_rows " << rows << " x " << cols);
                    const auto m = values<float>(static_cast<std::size_t>(rows * cols) + 1, 1100 + n + rows);
                    std::vector<float> got(static_cast<std::size_t>(cols) + 1, 0.5f), want = got;
                    got.back() = want.back() = 7.0f;  // a guard value after the end
                    kernels::add_rows(got.data(), m.data() + 1, rows, cols);
                    for (std::int64_t r = 0; r < rows; ++r)
                        for (std::int64_t j = 0; j < cols; ++j) want[j] += m[1 + r * cols + j];
                    CHECK(got == want);
                }
            }
        }
        std::vector<T> out(static_cast<std::size_t>(n) + 3, T(7));  // 3 guard values after the end
        const T s = kernels::exp_store_sum(out.data(), x, n, shift);
        CHECK(static_cast<double>(s) == Approx(static_cast<double>(sum_exp_want)).epsilon(tol).margin(tol));
        for (std::int64_t i = 0; i < n; ++i)
            CHECK(static_cast<double>(out[i]) == Approx(std::exp(static_cast<double>(x[i]) - shift)).epsilon(tol));
        kernels::scaled_exp(out.data(), x, n, shift, T(2));
        for (std::int64_t i = 0; i < n; ++i)
            CHECK(static_cast<double>(out[i]) == Approx(2 * std::exp(static_cast<double>(x[i]) - shift)).epsilon(tol));
        kernels::scale_into(out.data(), x, n, T(-1.5));
        for (std::int64_t i = 0; i < n; ++i) CHECK(out[i] == T(-1.5) * x[i]);
        kernels::tanh_sum(out.data(), x, y, n);
        for (std::int64_t i = 0; i < n; ++i)
            CHECK(static_cast<double>(out[i]) == Approx(std::tanh(static_cast<double>(x[i]) + y[i])).epsilon(tol).margin(tol));
        for (std::size_t i = static_cast<std::size_t>(n); i < out.size(); ++i) CHECK(out[i] == T(7));

        // One GRU row of width H = n, against the formulas written out.
        const std::int64_t H = n;
        const auto gx = values<T>(3 * H, 300 + n, -2, 2), gh = values<T>(3 * H, 400 + n, -2, 2);
        const auto h = values<T>(H, 500 + n, -1, 1), d = values<T>(H, 600 + n, -1, 1);
        std::vector<T> o(H + 2, T(9)), saved(4 * H + 2, T(9)), dgx(3 * H + 2, T(9)), dgh(3 * H + 2, T(9)), dh(H + 2, T(9));
        kernels::gru_forward_row(gx.data(), gh.data(), h.data(), o.data(), saved.data(), H);
        kernels::gru_backward_row(d.data(), saved.data(), h.data(), dgx.data(), dgh.data(), dh.data(), H);
        auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
        for (std::int64_t j = 0; j < H; ++j) {
            const double r = sig(gx[j] + gh[j]), z = sig(gx[H + j] + gh[H + j]);
            const double nn = std::tanh(gx[2 * H + j] + r * gh[2 * H + j]);
            CHECK(static_cast<double>(o[j]) == Approx((1 - z) * nn + z * h[j]).epsilon(tol).margin(tol));
            const double dn_pre = d[j] * (1 - z) * (1 - nn * nn);
            CHECK(static_cast<double>(dgx[2 * H + j]) == Approx(dn_pre).epsilon(10 * tol).margin(10 * tol));
            CHECK(static_cast<double>(dgh[2 * H + j]) == Approx(dn_pre * r).epsilon(10 * tol).margin(10 * tol));
            CHECK(static_cast<double>(dh[j]) == Approx(d[j] * z).epsilon(tol).margin(tol));
        }
        CHECK(o[H] == T(9));
        CHECK(saved[4 * H] == T(9));
        CHECK(dgx[3 * H] == T(9));
        CHECK(dh[H] == T(9));

        // Adam's update against the loop written out.
        auto p = values<T>(n + 1, 700 + n), m = values<T>(n + 1, 800 + n, -0.1, 0.1), v = values<T>(n + 1, 900 + n, 0, 0.1);
        const auto g = values<T>(n + 1, 1000 + n);
        const auto p0 = p, m0 = m, v0 = v;
        const kernels::AdamConstants c{.b1 = 0.9, .b2 = 0.999, .one_b1 = 0.1, .one_b2 = 0.001, .step_size = 1e-2,
                                       .inv_bias2_sqrt = 3.0, .eps = 1e-8};
        kernels::adam_update(p.data(), g.data(), m.data(), v.data(), n, c);
        for (std::int64_t i = 0; i < n; ++i) {
            const double mi = 0.9 * m0[i] + 0.1 * g[i], vi = 0.999 * v0[i] + 0.001 * g[i] * g[i];
            CHECK(static_cast<double>(p[i]) == Approx(p0[i] - 1e-2 * mi / (std::sqrt(vi) * 3.0 + 1e-8)).epsilon(tol).margin(tol));
        }
        CHECK(p[n] == p0[n]);  // one past the end: untouched
    }
}
}  // namespace

TEST_CASE("kernels: every row kernel variant this CPU runs equals the plain loop at every length and tail", "[kernels]") {
    IsaGuard restore;
    int ran = 0;
    for (const kernels::Isa isa : {kernels::Isa::AVX512, kernels::Isa::AVX2, kernels::Isa::Baseline}) {
        if (!kernels::isa_supported(isa)) {
            CHECK_THROWS_WITH(kernels::set_isa(isa),
                              std::string("row kernels: this CPU cannot run the ") + kernels::isa_name(isa) + " variant");
            continue;
        }
        INFO("variant " << kernels::isa_name(isa));
        kernels::set_isa(isa);
        CHECK(kernels::isa() == isa);
        check_row_kernels<float>(2e-6);
        check_row_kernels<double>(1e-12);
        ++ran;
    }
    CHECK(ran >= 2);  // at least AVX2 and baseline on any x86-64 CPU seqgrad runs on
}
