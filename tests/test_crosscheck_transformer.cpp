// The seqgrad side of tests/torch_crosscheck_transformer.py: nn::Transformer's weights port both ways
// between seqgrad and torch.nn.Transformer (batch_first), and both compute the same output and
// gradients, post-norm with ReLU and pre-norm with GELU (tanh form), with padding and the causal mask.
// Hidden ([.crosscheck_transformer]): it needs files the script writes, so the suite does not run it.
//
// For each variant the script writes torch_transformer_<variant>.safetensors: torch's own initial
// weights under PyTorch's names, the inputs (src, tgt, their masks 1 = real, grad_output) and what
// torch computed (output, grad.src, grad.tgt, grad.<parameter>). This test loads the weights, runs
// the same forward and backward and compares; then it writes seqgrad_transformer_<variant>.safetensors
// the same way from seqgrad's own initial weights, which the script loads into torch and compares.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "core/safetensors.h"
#include "crosscheck_helpers.h"
#include "helpers.h"
#include "layers/transformer.h"

using namespace seqgrad;
namespace fs = std::filesystem;
using namespace seqgrad::testing;

namespace {

constexpr std::int64_t kModel = 8, kHeads = 2, kLayers = 2, kFF = 16, kBatch = 3, kSrc = 5, kTgt = 4;

nn::TransformerOptions options_for(const std::string& variant, Generator* gen) {
    const bool pre = variant == "pre";
    return {.d_model = kModel, .nhead = kHeads, .num_encoder_layers = kLayers, .num_decoder_layers = kLayers,
            .dim_feedforward = kFF, .dropout = 0.0, .activation = pre ? nn::Activation::GELU : nn::Activation::ReLU,
            .norm_first = pre, .dtype = DType::Float64, .generator = gen};
}

std::map<std::string, Tensor> run_case(nn::Transformer& model, const std::map<std::string, Tensor>& in) {
    const Tensor src = in.at("src").clone().set_requires_grad();
    const Tensor tgt = in.at("tgt").clone().set_requires_grad();
    model.train();
    model.zero_grad();
    Tensor out = model.forward(src, tgt, in.at("src_mask"), in.at("tgt_mask"), /*causal=*/true);
    sum(out * in.at("grad_output")).backward();
    std::map<std::string, Tensor> r{{"output", out.detach()}, {"grad.src", src.grad()}, {"grad.tgt", tgt.grad()}};
    for (const auto& [name, p] : model.named_parameters()) r["grad." + name] = p.grad();
    return r;
}

void crosscheck(const fs::path& dir, const std::string& variant) {
    // torch -> seqgrad
    const SafetensorsFile from_torch = load_safetensors((dir / ("torch_transformer_" + variant + ".safetensors")).string());
    nn::Transformer ported(options_for(variant, nullptr));
    load_torch_weights(ported, from_torch);
    for (const auto& [name, t] : run_case(ported, from_torch.tensors))
        require_close(t, from_torch.tensors.at(name), variant + " torch->seqgrad " + name, 1e-11);

    // seqgrad -> torch: seqgrad's own initial weights and fresh inputs; the script checks this file.
    Generator gen(2026);
    nn::Transformer own(options_for(variant, &gen));
    const TensorOptions f64{.dtype = DType::Float64};
    auto mask = [](const std::vector<std::int64_t>& lengths, std::int64_t total) {
        std::vector<double> v;
        for (std::int64_t n : lengths)
            for (std::int64_t i = 0; i < total; ++i) v.push_back(i < n ? 1.0 : 0.0);
        return Tensor::from(v, {static_cast<std::int64_t>(lengths.size()), total}, {.dtype = DType::Float64});
    };
    std::map<std::string, Tensor> in{
        {"src", randn({kBatch, kSrc, kModel}, f64, &gen)},
        {"tgt", randn({kBatch, kTgt, kModel}, f64, &gen)},
        {"src_mask", mask({4, 5, 2}, kSrc)},
        {"tgt_mask", mask({1, 4, 3}, kTgt)},
        {"grad_output", randn({kBatch, kTgt, kModel}, f64, &gen)},
    };
    save_for_torch((dir / ("seqgrad_transformer_" + variant + ".safetensors")).string(), in, own, run_case(own, in));
}

}  // namespace

TEST_CASE("transformer: cross-check with torch.nn.Transformer", "[.crosscheck_transformer]") {
    const char* env = std::getenv("SEQGRAD_CROSSCHECK_DIR");
    if (!env) FAIL("set SEQGRAD_CROSSCHECK_DIR (run tests/torch_crosscheck_transformer.py)");
    crosscheck(env, "post");
    crosscheck(env, "pre");
}
