// Attention worked by hand on a 2 x 3 toy: 2 queries over 3 keys/values, dot-product scores.
//   forward:   e = Q Kᵀ [2, 3]     α = softmax(e) row by row     C = α V [2, 2]
//   loss:      L = Σ G ⊙ C        (G a fixed [2, 2] matrix, so dL/dC = G)
//   backward:  dα = G Vᵀ                                  (C = α V)
//              de_ij = α_ij (dα_ij − Σ_k α_ik dα_ik)      (the softmax Jacobian: ∂α_ij/∂e_il = α_ij (δ_jl − α_il))
//              dQ = de K,   dK = deᵀ Q,   dV = αᵀ G
// Every number is computed twice: by hand with plain loops in double, and by seqgrad's autograd
// (float64). The program prints both and exits non-zero if any pair differs by more than 1e-12.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "seqgrad.h"

using namespace seqgrad;

namespace {

using Mat = std::vector<std::vector<double>>;

int failures = 0;

void print(const char* name, const Mat& m) {
    std::printf("%-4s =", name);
    for (const auto& row : m) {
        std::printf("  [");
        for (std::size_t j = 0; j < row.size(); ++j) std::printf("%s%9.6f", j ? ", " : "", row[j]);
        std::printf("]");
    }
    std::printf("\n");
}

Mat rows_of(const Tensor& t) {
    const auto v = t.to_vector();
    const std::int64_t r = t.size(0), c = t.size(1);
    Mat m(static_cast<std::size_t>(r), std::vector<double>(static_cast<std::size_t>(c)));
    for (std::int64_t i = 0; i < r; ++i)
        for (std::int64_t j = 0; j < c; ++j) m[i][j] = v[i * c + j];
    return m;
}

// Prints the hand value and autograd's, and counts a failure when they differ.
void compare(const char* name, const Mat& by_hand, const Tensor& autograd) {
    const Mat a = rows_of(autograd);
    double worst = 0;
    for (std::size_t i = 0; i < by_hand.size(); ++i)
        for (std::size_t j = 0; j < by_hand[i].size(); ++j) worst = std::max(worst, std::abs(by_hand[i][j] - a[i][j]));
    const bool ok = worst <= 1e-12;
    failures += !ok;
    std::printf("%s: by hand vs autograd, largest difference %.1e  %s\n", name, worst, ok ? "ok" : "MISMATCH");
    print("hand", by_hand);
    print("auto", a);
}

Tensor tensor_of(const Mat& m, bool requires_grad) {
    std::vector<double> v;
    for (const auto& row : m) v.insert(v.end(), row.begin(), row.end());
    return Tensor::from(v, {static_cast<std::int64_t>(m.size()), static_cast<std::int64_t>(m[0].size())},
                        {.dtype = DType::Float64, .requires_grad = requires_grad});
}

}  // namespace

int main() {
    const Mat Q = {{1.0, 0.5}, {-0.5, 1.0}};             // 2 queries, size 2
    const Mat K = {{1.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}};  // 3 keys
    const Mat V = {{1.0, 2.0}, {3.0, -1.0}, {0.0, 1.0}}; // 3 values
    const Mat G = {{1.0, 0.0}, {0.5, -1.0}};             // dL/dC
    const std::size_t nq = 2, ns = 3, h = 2;

    // ---- forward by hand ----
    Mat e(nq, std::vector<double>(ns)), alpha = e, C(nq, std::vector<double>(h, 0.0));
    for (std::size_t i = 0; i < nq; ++i) {
        double z = 0, m = -1e300;
        for (std::size_t j = 0; j < ns; ++j) {
            e[i][j] = Q[i][0] * K[j][0] + Q[i][1] * K[j][1];  // e_ij = q_i · k_j
            m = std::max(m, e[i][j]);
        }
        for (std::size_t j = 0; j < ns; ++j) z += std::exp(e[i][j] - m);
        for (std::size_t j = 0; j < ns; ++j) alpha[i][j] = std::exp(e[i][j] - m) / z;  // softmax, max subtracted
        for (std::size_t j = 0; j < ns; ++j)
            for (std::size_t d = 0; d < h; ++d) C[i][d] += alpha[i][j] * V[j][d];  // c_i = Σ_j α_ij v_j
    }

    // ---- backward by hand ----
    Mat dalpha(nq, std::vector<double>(ns, 0.0)), de = dalpha;
    Mat dQ(nq, std::vector<double>(h, 0.0)), dK(ns, std::vector<double>(h, 0.0)), dV = dK;
    for (std::size_t i = 0; i < nq; ++i) {
        for (std::size_t j = 0; j < ns; ++j)
            for (std::size_t d = 0; d < h; ++d) dalpha[i][j] += G[i][d] * V[j][d];  // dα = G Vᵀ
        double dot = 0;  // Σ_k α_ik dα_ik
        for (std::size_t k = 0; k < ns; ++k) dot += alpha[i][k] * dalpha[i][k];
        for (std::size_t j = 0; j < ns; ++j) de[i][j] = alpha[i][j] * (dalpha[i][j] - dot);
    }
    for (std::size_t i = 0; i < nq; ++i)
        for (std::size_t j = 0; j < ns; ++j)
            for (std::size_t d = 0; d < h; ++d) {
                dQ[i][d] += de[i][j] * K[j][d];       // dQ = de K
                dK[j][d] += de[i][j] * Q[i][d];       // dK = deᵀ Q
                dV[j][d] += alpha[i][j] * G[i][d];    // dV = αᵀ G
            }

    // ---- the same with autograd ----
    Tensor q = tensor_of(Q, true), k = tensor_of(K, true), v = tensor_of(V, true);
    Tensor scores = matmul(q, k, {.transpose_rhs = true});  // [2, 3]
    Tensor weights = softmax(scores, 1);                     // [2, 3]
    Tensor context = matmul(weights, v);                     // [2, 2]
    scores.retain_grad();
    weights.retain_grad();
    Tensor loss = sum(context * tensor_of(G, false));
    loss.backward();

    std::printf("Attention by hand: 2 queries over 3 keys/values, dot-product scores\n\n");
    print("Q", Q);
    print("K", K);
    print("V", V);
    print("G", G);
    std::printf("\nforward\n");
    compare("scores e = Q K^T", e, scores);
    compare("weights alpha = softmax(e)", alpha, weights);
    compare("context C = alpha V", C, context);
    std::printf("\nbackward (L = sum(G * C))\n");
    compare("d alpha = G V^T", dalpha, weights.grad());
    compare("d e = alpha * (d alpha - sum_k alpha_k d alpha_k)", de, scores.grad());
    compare("d Q = de K", dQ, q.grad());
    compare("d K = de^T Q", dK, k.grad());
    compare("d V = alpha^T G", dV, v.grad());

    // A property that needs no autograd: each row of de sums to 0 (shifting all scores of a row by
    // the same amount changes no weight).
    for (std::size_t i = 0; i < nq; ++i) {
        double s = de[i][0] + de[i][1] + de[i][2];
        if (std::abs(s) > 1e-12) {
            std::printf("row %zu of de sums to %.3e, not 0\n", i, s);
            ++failures;
        }
    }
    std::printf("\n%s\n", failures == 0 ? "All hand-computed values match autograd." : "Some values DIFFER.");
    return failures == 0 ? 0 : 1;
}
