// The seqgrad side of tests/torch_crosscheck_rnn.py: GRU and LSTM weights port both ways between
// seqgrad and torch.nn.GRU / torch.nn.LSTM, and both compute the same outputs and gradients.
// Hidden ([.crosscheck_rnn]): it needs files the script writes, so the suite does not run it.
//
// For each cell (gru, lstm) the script writes torch_<cell>.safetensors: torch's own initial weights
// under PyTorch's parameter names, an input batch x with per-sequence lengths, initial states, the
// upstream gradients, and what torch computed (output, h_n, c_n and every gradient). This test loads
// the weights into a seqgrad module, runs the same forward and backward and compares every value.
// Then it writes seqgrad_<cell>.safetensors the same way from seqgrad's own initial weights, which
// the script loads into torch and compares. The configuration is the hardest the wrappers support:
// 2 layers, bidirectional, padded sequences of different lengths, given initial states, float64.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "core/safetensors.h"
#include "crosscheck_helpers.h"
#include "helpers.h"
#include "layers/rnn.h"

using namespace seqgrad;
namespace fs = std::filesystem;
using namespace seqgrad::testing;

namespace {

constexpr std::int64_t kInput = 5, kHidden = 4, kLayers = 2, kBatch = 3, kSteps = 6;

std::vector<std::int64_t> lengths_of(const Tensor& t) {
    const auto* p = t.data<std::int64_t>();
    return std::vector<std::int64_t>(p, p + t.numel());
}

// Runs `rnn` on the case's inputs, backpropagates the upstream gradients and returns what torch's
// side names output, h_n, c_n, grad.x, grad.h0, grad.c0 and grad.<parameter>.
template <typename Module>
std::map<std::string, Tensor> run_case(Module& rnn, const std::map<std::string, Tensor>& in, bool lstm) {
    const Tensor x = in.at("x").clone().set_requires_grad();
    const Tensor h0 = in.at("h0").clone().set_requires_grad();
    const Tensor c0 = lstm ? in.at("c0").clone().set_requires_grad() : Tensor();
    const auto lengths = lengths_of(in.at("lengths"));
    nn::RNNOutput r;
    if constexpr (std::is_same_v<Module, nn::LSTM>) {
        r = rnn.forward(x, {h0, c0}, lengths);
    } else {
        r = rnn.forward(x, h0, lengths);
    }
    // L = Σ output ⊙ g_out + Σ h_n ⊙ g_h (+ Σ c_n ⊙ g_c): its gradients are the backward of the
    // three outputs for these upstream gradients, exactly what torch.autograd.backward computes.
    Tensor loss = sum(r.output * in.at("grad_output")) + sum(r.h_n * in.at("grad_h_n"));
    if (lstm) loss = loss + sum(r.c_n * in.at("grad_c_n"));
    loss.backward();
    std::map<std::string, Tensor> out{{"output", r.output.detach()}, {"h_n", r.h_n.detach()},
                                      {"grad.x", x.grad()}, {"grad.h0", h0.grad()}};
    if (lstm) {
        out["c_n"] = r.c_n.detach();
        out["grad.c0"] = c0.grad();
    }
    for (const auto& [name, p] : rnn.named_parameters()) out["grad." + name] = p.grad();
    return out;
}

template <typename Module>
void crosscheck(const fs::path& dir, const std::string& cell) {
    const bool lstm = cell == "lstm";
    const nn::RecurrentOptions options{.input_size = kInput, .hidden_size = kHidden, .num_layers = kLayers,
                                       .bidirectional = true, .dtype = DType::Float64};
    const std::int64_t states = kLayers * 2;

    // torch -> seqgrad: torch's weights, inputs and results.
    const SafetensorsFile from_torch = load_safetensors((dir / ("torch_" + cell + ".safetensors")).string());
    Module torch_weights(options);
    load_torch_weights(torch_weights, from_torch);
    const auto ours = run_case(torch_weights, from_torch.tensors, lstm);
    for (const auto& [name, t] : ours)
        require_close(t, from_torch.tensors.at(name), cell + " torch->seqgrad " + name, 1e-12);

    // seqgrad -> torch: seqgrad's own initial weights, fresh inputs; the script checks this file.
    Generator gen(2024);
    nn::RecurrentOptions seeded = options;
    seeded.generator = &gen;
    Module own(seeded);
    const TensorOptions f64{.dtype = DType::Float64};
    std::map<std::string, Tensor> in{
        {"x", randn({kBatch, kSteps, kInput}, f64, &gen)},
        {"h0", randn({states, kBatch, kHidden}, f64, &gen)},
        {"lengths", Tensor::ids({kSteps, 2, 4}, {kBatch})},
        {"grad_output", randn({kBatch, kSteps, 2 * kHidden}, f64, &gen)},
        {"grad_h_n", randn({states, kBatch, kHidden}, f64, &gen)},
    };
    if (lstm) {
        in["c0"] = randn({states, kBatch, kHidden}, f64, &gen);
        in["grad_c_n"] = randn({states, kBatch, kHidden}, f64, &gen);
    }
    save_for_torch((dir / ("seqgrad_" + cell + ".safetensors")).string(), in, own, run_case(own, in, lstm));
}

}  // namespace

TEST_CASE("rnn: GRU and LSTM cross-check with PyTorch", "[.crosscheck_rnn]") {
    const char* env = std::getenv("SEQGRAD_CROSSCHECK_DIR");
    if (!env) FAIL("set SEQGRAD_CROSSCHECK_DIR (run tests/torch_crosscheck_rnn.py)");
    crosscheck<nn::GRU>(env, "gru");
    crosscheck<nn::LSTM>(env, "lstm");
}
