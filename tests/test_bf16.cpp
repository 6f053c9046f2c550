// bf16 mixed precision (core/blas.h Precision::BF16, core/bf16_cache.h): rounding by hand, the bf16
// products against the definition on rounded inputs and against fp32, the matmul op and linear in
// bf16 against fp32 (values and gradients), the weight copies made once per change and remade after
// an optimizer step, and a short training run whose loss tracks the fp32 run. Where bf16 cannot run
// (no oneDNN, no avx512_bf16) the refusal is checked instead.
#include <cmath>
#include <cstring>
#include <tuple>

#include "core/bf16_cache.h"
#include "core/blas.h"
#include "helpers.h"
#include "models/transformer/transformer_translator.h"
#include "optim/adam.h"

using namespace seqgrad;

namespace {
bool bf16_runs() { return blas::bf16_unavailable_reason().empty(); }

float bits_to_float(std::uint32_t bits) {
    float x;
    std::memcpy(&x, &bits, sizeof x);
    return x;
}

// The definition on bf16-rounded inputs, summed in long double.
std::vector<float> rounded(const std::vector<float>& x) {
    std::vector<blas::bf16_t> r(x.size());
    blas::to_bf16(x.data(), r.data(), static_cast<std::int64_t>(x.size()));
    std::vector<float> out(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) out[i] = blas::from_bf16(r[i]);
    return out;
}

std::vector<float> values(std::size_t n, std::uint64_t seed) {
    Generator gen(seed);
    return uniform({static_cast<std::int64_t>(n)}, -1, 1, {}, &gen).to_float_vector();
}
}  // namespace

TEST_CASE("bf16: rounding to nearest even, by hand, on every path", "[bf16]") {
    // 1 + 2^-8 lies halfway between 1 (0x3f80) and 1 + 2^-7 (0x3f81): ties go to the even 0x3f80;
    // 1 + 3·2^-8 lies halfway between 0x3f81 and 0x3f82: to 0x3f82. Just above halfway rounds up.
    const std::vector<float> x = {1.0f, bits_to_float(0x3f808000u), bits_to_float(0x3f818000u),
                                  bits_to_float(0x3f808001u), -2.5f, 0.0f, std::nanf("")};
    std::vector<blas::bf16_t> r(x.size());
    blas::to_bf16(x.data(), r.data(), static_cast<std::int64_t>(x.size()));
    CHECK(r[0] == 0x3f80);
    CHECK(r[1] == 0x3f80);
    CHECK(r[2] == 0x3f82);
    CHECK(r[3] == 0x3f81);
    CHECK(blas::from_bf16(r[4]) == -2.5f);
    CHECK(r[5] == 0);
    CHECK(std::isnan(blas::from_bf16(r[6])));
    // A long array (the vector path) agrees with the elementwise rounding of its tail, and stays within
    // bf16's half-ulp (2^-9 relative).
    const auto v = values(1000, 3);
    const auto rv = rounded(v);
    for (std::size_t i = 0; i < v.size(); ++i) REQUIRE(std::abs(rv[i] - v[i]) <= std::abs(v[i]) * 0x1p-8f);
    std::vector<blas::bf16_t> one(1);
    for (std::size_t i = 990; i < 1000; ++i) {
        blas::to_bf16(&v[i], one.data(), 1);
        CHECK(blas::from_bf16(one[0]) == rv[i]);
    }
    CHECK(blas::parse_precision("bf16") == blas::Precision::BF16);
    CHECK(std::string(blas::precision_name(blas::Precision::FP32)) == "fp32");
    CHECK_THROWS_WITH(blas::parse_precision("fp16"), "precision 'fp16' is unknown: use fp32 or bf16");
}

TEST_CASE("bf16: refused with one line where it cannot run", "[bf16][errors]") {
    if (bf16_runs()) {
        blas::PrecisionGuard use(blas::Precision::BF16);
        CHECK(blas::precision() == blas::Precision::BF16);
        return;
    }
    CHECK_THROWS_WITH(blas::set_precision(blas::Precision::BF16),
                      "--precision bf16 is not available: " + blas::bf16_unavailable_reason() + "; use --precision fp32");
    CHECK(blas::precision() == blas::Precision::FP32);
}

TEST_CASE("bf16: products equal the definition on rounded inputs, every flag, beta, stride and the split",
          "[bf16][blas]") {
    if (!bf16_runs()) return;
    blas::PrecisionGuard use(blas::Precision::BF16);
    const std::vector<std::tuple<int, int, int>> shapes = {{3, 5, 7}, {1, 9, 4}, {6, 1, 5}, {17, 33, 65}, {2, 3, 0},
                                                           {64, 80, 96}};
    for (const int threads : {1, 2}) {
        blas::set_num_threads(threads);
        for (const auto& [M, N, K] : shapes)
            for (const bool ta : {false, true})
                for (const bool tb : {false, true})
                    for (const float beta : {0.0f, 1.0f, 0.5f})
                        for (const int pad : {0, 3}) {
                            INFO("threads " << threads << " M " << M << " N " << N << " K " << K << " ta " << ta
                                            << " tb " << tb << " beta " << beta << " pad " << pad);
                            const int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
                            const int lda = ac + pad, ldb = bc + pad, ldc = N + pad;
                            const auto A = values(static_cast<std::size_t>(ar) * lda + 1, 11);
                            const auto B = values(static_cast<std::size_t>(br) * ldb + 1, 12);
                            std::vector<float> C = values(static_cast<std::size_t>(M) * ldc + 1, 13);
                            if (beta == 0.0f) std::fill(C.begin(), C.end(), std::nanf(""));
                            const std::vector<float> C0 = C;
                            blas::gemm(ta, tb, M, N, K, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
                            const auto Ar = rounded(A), Br = rounded(B);
                            for (int i = 0; i < M; ++i)
                                for (int j = 0; j < N; ++j) {
                                    long double want = beta == 0.0f ? 0.0L : static_cast<long double>(beta) * C0[i * ldc + j];
                                    long double fp32 = want;
                                    for (int k = 0; k < K; ++k) {
                                        const int ia = ta ? k * lda + i : i * lda + k, ib = tb ? j * ldb + k : k * ldb + j;
                                        want += static_cast<long double>(Ar[ia]) * Br[ib];
                                        fp32 += static_cast<long double>(A[ia]) * B[ib];
                                    }
                                    const double got = C[i * ldc + j];
                                    REQUIRE(std::abs(got - static_cast<double>(want)) <= 1e-5 * (1 + K));
                                    // and bf16's error against the fp32 product: ~2^-8 per input, random signs
                                    REQUIRE(std::abs(got - static_cast<double>(fp32)) <= 1e-2 * std::sqrt(1.0 + K));
                                }
                        }
    }
    blas::set_num_threads(1);
}

// gemm_bias: C = op(A) op(B) + bias with the bias added inside the bf16 product, against the
// definition on rounded inputs, for both flags, strides, the split over two threads (each block gets
// its own columns of the bias) and K = 0; and under fp32 the copy-then-accumulate path, exactly as
// copying the bias by hand and calling gemm with beta 1.
TEST_CASE("bf16: gemm_bias adds the bias inside the product, every block its own columns", "[bf16][blas]") {
    const std::vector<std::tuple<int, int, int>> shapes = {{3, 5, 7}, {1, 9, 4}, {17, 33, 65}, {2, 3, 0}, {320, 283, 128}};
    for (const auto precision : {blas::Precision::FP32, blas::Precision::BF16}) {
        if (precision == blas::Precision::BF16 && !bf16_runs()) continue;
        blas::PrecisionGuard use(precision);
        for (const int threads : {1, 2}) {
            blas::set_num_threads(threads);
            for (const auto& [M, N, K] : shapes)
                for (const bool ta : {false, true})
                    for (const bool tb : {false, true})
                        for (const int pad : {0, 3}) {
                            INFO(blas::precision_name(precision) << " threads " << threads << " M " << M << " N " << N
                                                                 << " K " << K << " ta " << ta << " tb " << tb << " pad " << pad);
                            const int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
                            const int lda = ac + pad, ldb = bc + pad, ldc = N + pad;
                            const auto A = values(static_cast<std::size_t>(ar) * lda + 1, 21);
                            const auto B = values(static_cast<std::size_t>(br) * ldb + 1, 22);
                            const auto bias = values(static_cast<std::size_t>(N), 23);
                            std::vector<float> C(static_cast<std::size_t>(M) * ldc + 1, std::nanf(""));
                            blas::gemm_bias(ta, tb, M, N, K, A.data(), lda, B.data(), ldb, bias.data(), C.data(), ldc, {});
                            if (precision == blas::Precision::FP32) {
                                std::vector<float> D(C.size(), std::nanf(""));
                                for (int i = 0; i < M; ++i) std::copy(bias.begin(), bias.end(), D.begin() + i * ldc);
                                blas::gemm(ta, tb, M, N, K, A.data(), lda, B.data(), ldb, 1.0f, D.data(), ldc);
                                for (int i = 0; i < M; ++i)
                                    for (int j = 0; j < N; ++j) REQUIRE(C[i * ldc + j] == D[i * ldc + j]);
                                continue;
                            }
                            const auto Ar = rounded(A), Br = rounded(B);
                            for (int i = 0; i < M; ++i)
                                for (int j = 0; j < N; ++j) {
                                    long double want = bias[j];
                                    for (int k = 0; k < K; ++k) {
                                        const int ia = ta ? k * lda + i : i * lda + k, ib = tb ? j * ldb + k : k * ldb + j;
                                        want += static_cast<long double>(Ar[ia]) * Br[ib];
                                    }
                                    REQUIRE(std::abs(C[i * ldc + j] - static_cast<double>(want)) <= 1e-5 * (1 + K));
                                }
                            CHECK(std::isnan(C.back()));  // nothing written past the last row
                        }
        }
        blas::set_num_threads(1);
    }
}

// linear in bf16 with a bias: the fused path (the bias inside the product) against the plain path
// (set_fast_paths(false): the bias copied into every row, the product added on top), values and
// gradients, at the output layer's shape.
TEST_CASE("bf16: linear with the bias inside the product equals the bias copied first", "[bf16][matmul][fast]") {
    if (!bf16_runs()) return;
    blas::PrecisionGuard use(blas::Precision::BF16);
    Generator g(5);
    const Tensor x0 = randn({40, 8, 128}, {}, &g), w0 = randn({283, 128}, {}, &g) * 0.1, b0 = randn({283}, {}, &g);
    auto run = [&](bool fast) {
        FastPathGuard guard(fast);
        Tensor x = x0.clone().set_requires_grad(), w = w0.clone().set_requires_grad(), b = b0.clone().set_requires_grad();
        Tensor y = linear(x, w, b);
        sum(y * y).backward();
        return std::vector<Tensor>{y, x.grad(), w.grad(), b.grad()};
    };
    const auto fused = run(true), plain = run(false);
    for (std::size_t i = 0; i < fused.size(); ++i) {
        INFO("tensor " << i);
        const double scale = max(abs(plain[i])).item();
        CHECK(max(abs(fused[i] - plain[i])).item() <= 1e-5 * scale);
    }
}

TEST_CASE("bf16: matmul and linear against fp32 (values and gradients), and the weight copies", "[bf16][matmul]") {
    if (!bf16_runs()) return;
    const seqgrad::testing::MatmulLinearCase c;
    auto run = [&](blas::Precision p) {
        blas::PrecisionGuard use(p);
        return c.run();
    };
    const Tensor &a0 = c.a, &b0 = c.b, &w0 = c.w;
    const auto want = run(blas::Precision::FP32), got = run(blas::Precision::BF16);
    for (std::size_t i = 0; i < want.size(); ++i) {
        INFO("tensor " << i);
        const double scale = max(abs(want[i])).item();
        CHECK(max(abs(got[i] - want[i])).item() <= 1e-2 * scale);
        CHECK(!allclose(got[i], want[i], 1e-7, 1e-7));  // really rounded
    }
    // float64 (gradcheck) is never rounded.
    {
        blas::PrecisionGuard use(blas::Precision::BF16);
        Tensor a = a0.to(DType::Float64), b = b0.to(DType::Float64);
        blas::PrecisionGuard fp32(blas::Precision::FP32);
        Tensor exact = matmul(a, b);
        blas::PrecisionGuard bf16(blas::Precision::BF16);
        CHECK(allclose(matmul(a, b), exact, 0, 0));
    }

    // The weight copies: one conversion per change of the weight, however many products use it.
    blas::PrecisionGuard use(blas::Precision::BF16);
    Tensor w = w0.clone().set_requires_grad(), x = a0.clone();
    optim::Adam adam({w}, {.lr = 0.1});
    const auto s0 = bf16::cache_stats();
    Tensor y1 = linear(x, w, Tensor());
    Tensor y2 = linear(x, w, Tensor());
    const auto s1 = bf16::cache_stats();
    CHECK(s1.conversions == s0.conversions + 1);
    CHECK(s1.hits >= s0.hits + 1);
    CHECK(allclose(y1, y2, 0, 0));
    sum(y2 * y2).backward();  // dx = dy W reads the copy again: no conversion
    CHECK(bf16::cache_stats().conversions == s1.conversions);
    adam.step();  // the weight changed: its next use converts again, and sees the new values
    Tensor y3 = linear(x, w, Tensor());
    CHECK(bf16::cache_stats().conversions == s1.conversions + 1);
    Tensor fresh = linear(x, w.detach().clone(), Tensor());  // a new tensor: rounded from the current values
    CHECK(allclose(y3, fresh, 0, 0));
    CHECK(!allclose(y3, y1, 1e-3, 1e-3));
    w.fill_(0.5);  // an in-place write: stale copy dropped too
    CHECK(max(abs(linear(x, w, Tensor()) - linear(x, w.detach().clone(), Tensor()))).item() == 0.0);
    const std::size_t entries = bf16::cache_stats().entries;
    { Tensor t = w0.clone(); (void)linear(x, t, Tensor()); }  // a weight that dies drops its copy
    CHECK(bf16::cache_stats().entries <= entries);
}

TEST_CASE("bf16: a batched matmul (one oneDNN call for the batch) equals the per-matrix products", "[bf16][matmul]") {
    if (!bf16_runs()) return;
    Generator gen(9);
    const Tensor a0 = uniform({6, 7, 9}, -1, 1, {}, &gen), b0 = uniform({6, 9, 5}, -1, 1, {}, &gen);
    const Tensor bt0 = uniform({6, 5, 9}, -1, 1, {}, &gen);
    blas::PrecisionGuard use(blas::Precision::BF16);
    for (const bool tb : {false, true}) {
        INFO("transpose_rhs " << tb);
        Tensor a = a0.clone().set_requires_grad(), b = (tb ? bt0 : b0).clone().set_requires_grad();
        Tensor y = matmul(a, b, {.transpose_rhs = tb});
        Tensor g = uniform(y.shape(), -1, 1, {}, &gen);
        sum(y * g).backward();
        for (std::int64_t i = 0; i < 6; ++i) {
            Tensor ai = select(a0, 0, i).clone().set_requires_grad(), bi = select(tb ? bt0 : b0, 0, i).clone().set_requires_grad();
            Tensor yi = matmul(ai, bi, {.transpose_rhs = tb});
            sum(yi * select(g, 0, i)).backward();
            CHECK(allclose(select(y, 0, i).detach(), yi.detach(), 1e-5, 1e-6));
            CHECK(allclose(select(a.grad(), 0, i), ai.grad(), 1e-5, 1e-6));
            CHECK(allclose(select(b.grad(), 0, i), bi.grad(), 1e-5, 1e-6));
        }
        blas::PrecisionGuard fp32(blas::Precision::FP32);
        Tensor exact = matmul(a0, tb ? bt0 : b0, {.transpose_rhs = tb});
        CHECK(max(abs(y.detach() - exact)).item() <= 1e-2 * max(abs(exact)).item());
        CHECK(!allclose(y.detach(), exact, 1e-7, 1e-7));
    }
}

TEST_CASE("bf16: a short training run's loss tracks the fp32 run", "[bf16][train]") {
    if (!bf16_runs()) return;
    auto losses = [](blas::Precision p) {
        blas::PrecisionGuard use(p);
        Generator gen(7);
        models::TransformerTranslator model({.src_vocab = 12, .tgt_vocab = 12, .d_model = 32, .nhead = 4,
                                             .num_encoder_layers = 1, .num_decoder_layers = 1, .dim_feedforward = 64,
                                             .dropout = 0.0, .label_smoothing = 0.1, .max_len = 16},
                                            &gen);
        optim::Adam adam(model.parameters(), {.lr = 3e-3});
        Generator data(8);
        std::vector<double> out;
        for (int step = 0; step < 40; ++step) {
            // copy task: 8 sentences of 6 tokens from 4..11
            std::vector<std::int64_t> src(48), tin(48), tout(48);
            for (int i = 0; i < 48; ++i) src[i] = 4 + static_cast<std::int64_t>(data.randint(8));
            for (int b = 0; b < 8; ++b)
                for (int t = 0; t < 6; ++t) {
                    tout[b * 6 + t] = src[b * 6 + t];
                    tin[b * 6 + t] = t == 0 ? 1 : src[b * 6 + t - 1];
                }
            adam.zero_grad();
            Tensor loss = model.loss(Tensor::ids(src, {8, 6}), std::vector<std::int64_t>(8, 6), Tensor::ids(tin, {8, 6}),
                                     Tensor::ids(tout, {8, 6}));
            loss.backward();
            adam.step();
            out.push_back(loss.item());
        }
        return out;
    };
    const auto fp32 = losses(blas::Precision::FP32), bf16 = losses(blas::Precision::BF16);
    CHECK(fp32.back() < 0.7 * fp32.front());  // it learns
    for (std::size_t i = 0; i < fp32.size(); ++i) {
        INFO("step " << i << ": fp32 " << fp32[i] << ", bf16 " << bf16[i]);
        CHECK(std::abs(bf16[i] - fp32[i]) <= 0.05 * fp32[i]);
    }
}
