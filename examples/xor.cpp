// A two-layer network learns XOR with seqgrad's autograd: the smallest complete training loop.
//   h = tanh(x W1^T + b1),  p = sigmoid(h W2^T + b2),  loss = mean binary cross-entropy
// The update is plain gradient descent written out by hand, so every step is visible.
// Exits non-zero if the network fails to learn XOR (the test suite runs this program).
#include <cstdio>

#include "layers/linear.h"
#include "seqgrad.h"

using namespace seqgrad;

int main() {
    manual_seed(42);
    nn::Linear hidden({.in_features = 2, .out_features = 8});
    nn::Linear output({.in_features = 8, .out_features = 1});
    const Tensor x = Tensor::from({0, 0, 0, 1, 1, 0, 1, 1}, {4, 2});
    const Tensor y = Tensor::from({0, 1, 1, 0}, {4, 1});

    const double lr = 1.0;
    double loss_value = 0;
    for (int step = 0; step <= 2000; ++step) {
        Tensor p = sigmoid(output(tanh(hidden(x))));
        // binary cross-entropy: -(y log p + (1 - y) log(1 - p)), clamped away from log(0)
        Tensor pc = clamp(p, 1e-6, 1 - 1e-6);
        Tensor loss = neg(mean(y * log(pc) + (1.0 - y) * log(1.0 - pc)));
        loss.backward();
        loss_value = loss.item();
        {
            NoGradGuard no_grad;
            for (nn::Module* m : {static_cast<nn::Module*>(&hidden), static_cast<nn::Module*>(&output)})
                for (auto& [name, w] : m->named_parameters()) {
                    float* pw = w.data<float>();
                    const float* g = w.grad().data<float>();
                    for (std::int64_t i = 0; i < w.numel(); ++i) pw[i] -= static_cast<float>(lr) * g[i];
                    w.zero_grad();
                }
        }
        if (step % 250 == 0) std::printf("step %4d  loss %.4f\n", step, loss_value);
    }
    NoGradGuard no_grad;
    const auto p = sigmoid(output(tanh(hidden(x)))).to_vector();
    std::printf("predictions: 0^0=%.3f 0^1=%.3f 1^0=%.3f 1^1=%.3f\n", p[0], p[1], p[2], p[3]);
    const bool learned = p[0] < 0.1 && p[1] > 0.9 && p[2] > 0.9 && p[3] < 0.1;
    std::printf("%s\n", learned ? "XOR learned." : "XOR NOT learned.");
    return learned ? 0 : 1;
}
