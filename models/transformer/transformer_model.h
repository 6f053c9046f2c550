// The Transformer as an architecture of the translator (models/translation_model.h): the adapter
// that lets the trainer, the shared greedy and beam decoders (models/decoding.h), the Translator,
// eval, inspect and the model folder use TransformerTranslator exactly as they use the RNN.
//
//   loss / nll_sum   TransformerTranslator's one-pass teacher forcing (causal mask, no step loop);
//                    loss is label-smoothed, nll_sum is not (perplexity is the model's own).
//   start_decoding   encode once, then a StepDecoder over the decoder cache: each step feeds one
//                    token and attends to the cached keys/values of the positions before it.
//   DecoderStep      weights = the last decoder layer's cross-attention averaged over its heads
//                    ([B, S], one heatmap row per output token); layer_weights = every layer's
//                    cross-attention per head ([B, h, 1, S], the tensors the layers computed) with
//                    the scores of each head's softmax (layer_scores). No single softmax gives the
//                    average, so weights_are_softmax() is false and scores are left undefined;
//                    inspect checks the softmax identity per head instead.
//
// config.json's "model" object: {"architecture": "transformer", "src_vocab", "tgt_vocab", "d_model",
// "heads", "encoder_layers", "decoder_layers", "ff", "dropout", "activation" ("relu" | "gelu"),
// "pre_norm", "tie_embeddings", "label_smoothing", "max_len"}; a key left out takes the default of
// TransformerConfig. Parameter names are TransformerTranslator's (src_embed.*, tgt_embed.*,
// transformer.* as torch.nn.Transformer's state dict, generator.*).
#pragma once
#include <memory>
#include <string>

#include "models/transformer/transformer_translator.h"
#include "models/translation_model.h"

namespace seqgrad::models {

// TransformerConfig <-> the JSON above (without "architecture"). `where` names the file in errors.
std::string transformer_config_to_json(const TransformerConfig& config);
TransformerConfig transformer_config_from_json(const std::string& text, const std::string& where);

class TransformerModel final : public TranslationModel {
public:
    explicit TransformerModel(const TransformerConfig& config, Generator* gen = nullptr);
    std::string type_name() const override { return "TransformerModel"; }

    ModelConfig model_config() const override;
    std::int64_t target_vocab_size() const override { return net_->config().tgt_vocab; }
    bool has_attention() const override { return true; }
    bool weights_are_softmax() const override { return false; }
    std::int64_t max_target_len() const override { return net_->config().max_len; }

    Tensor loss(const Tensor& src, const std::vector<std::int64_t>& src_lengths, const Tensor& tgt_in,
                const Tensor& tgt_out, const LossOptions& options = {}) const override;
    std::pair<double, std::int64_t> nll_sum(const Tensor& src, const std::vector<std::int64_t>& src_lengths,
                                            const Tensor& tgt_in, const Tensor& tgt_out) const override;
    std::unique_ptr<StepDecoder> start_decoding(const Tensor& src,
                                                const std::vector<std::int64_t>& src_lengths) const override;
    // Every layer's and head's encoder self-, decoder self- and cross-attention of one pass.
    std::vector<AttentionMap> attention_maps(const Tensor& src, const Tensor& tgt_in) const override;
    // The one-pass teacher forcing from the source lookup E_src[src] (before the √D scale and the positions).
    SaliencyPass teacher_forced_with_embeddings(const Tensor& src, const Tensor& tgt_in) const override;

    // The network itself: every attention map of a teacher-forced pass (translate's drawings).
    const TransformerTranslator& net() const { return *net_; }

private:
    std::shared_ptr<TransformerTranslator> net_;
};

// make_model's case for "transformer": the options in config.options_json.
std::shared_ptr<TranslationModel> make_transformer_model(const ModelConfig& config, Generator* gen);

}  // namespace seqgrad::models
