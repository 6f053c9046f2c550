// The Transformer architecture behind the model interface: its config JSON, the TranslationModel
// adapter and its StepDecoder over the incremental decoder cache (see transformer_model.h).
#include "models/transformer/transformer_model.h"

#include <nlohmann/json.hpp>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

namespace seqgrad::models {

std::string transformer_config_to_json(const TransformerConfig& c) {
    const nlohmann::json j = {{"src_vocab", c.src_vocab},
                              {"tgt_vocab", c.tgt_vocab},
                              {"d_model", c.d_model},
                              {"heads", c.nhead},
                              {"encoder_layers", c.num_encoder_layers},
                              {"decoder_layers", c.num_decoder_layers},
                              {"ff", c.dim_feedforward},
                              {"dropout", c.dropout},
                              {"activation", nn::activation_name(c.activation)},
                              {"pre_norm", c.norm_first},
                              {"tie_embeddings", c.tie_embeddings},
                              {"label_smoothing", c.label_smoothing},
                              {"max_len", c.max_len}};
    return j.dump();
}

TransformerConfig transformer_config_from_json(const std::string& text, const std::string& where) {
    TransformerConfig c;
    try {
        const nlohmann::json j = nlohmann::json::parse(text);
        c.src_vocab = j.value("src_vocab", c.src_vocab);
        c.tgt_vocab = j.value("tgt_vocab", c.tgt_vocab);
        c.d_model = j.value("d_model", c.d_model);
        c.nhead = j.value("heads", c.nhead);
        c.num_encoder_layers = j.value("encoder_layers", c.num_encoder_layers);
        c.num_decoder_layers = j.value("decoder_layers", c.num_decoder_layers);
        c.dim_feedforward = j.value("ff", c.dim_feedforward);
        c.dropout = j.value("dropout", c.dropout);
        c.activation = nn::parse_activation(j.value("activation", std::string(nn::activation_name(c.activation))));
        c.norm_first = j.value("pre_norm", c.norm_first);
        c.tie_embeddings = j.value("tie_embeddings", c.tie_embeddings);
        c.label_smoothing = j.value("label_smoothing", c.label_smoothing);
        c.max_len = j.value("max_len", c.max_len);
    } catch (const nlohmann::json::exception& e) {
        fail<Error>("{}: bad transformer config: {}", where, e.what());
    }
    return c;
}

TransformerModel::TransformerModel(const TransformerConfig& config, Generator* gen)
    : net_(std::make_shared<TransformerTranslator>(config, gen)) {
    // The network's own children under their own names, so the checkpoint's tensor names are
    // TransformerTranslator's (no prefix for the adapter).
    register_module("src_embed", net_->src_embed);
    register_module("tgt_embed", net_->tgt_embed);
    register_module("transformer", net_->transformer);
    register_module("generator", net_->generator);
}

ModelConfig TransformerModel::model_config() const {
    ModelConfig c;
    c.architecture = "transformer";
    c.options_json = transformer_config_to_json(net_->config());
    c.rnn.src_vocab = net_->config().src_vocab;  // ModelConfig's vocabulary sizes read these for any architecture
    c.rnn.tgt_vocab = net_->config().tgt_vocab;
    return c;
}

Tensor TransformerModel::loss(const Tensor& src, const std::vector<std::int64_t>& src_lengths, const Tensor& tgt_in,
                              const Tensor& tgt_out, const LossOptions&) const {
    // Teacher forcing is all or nothing here: every position is computed in one pass from the
    // reference prefix, so LossOptions::teacher_forcing (scheduled sampling) does not apply.
    return net_->loss(src, src_lengths, tgt_in, tgt_out);
}

std::pair<double, std::int64_t> TransformerModel::nll_sum(const Tensor& src, const std::vector<std::int64_t>& src_lengths,
                                                          const Tensor& tgt_in, const Tensor& tgt_out) const {
    return net_->nll_sum(src, src_lengths, tgt_in, tgt_out);
}

namespace {

// Rows of the batch being decoded, each with its keys and values so far (nn::DecoderCache).
class TransformerStepDecoder final : public StepDecoder {
public:
    TransformerStepDecoder(const TransformerTranslator& net, const TransformerMemory& m)
        : net_(net), memory_(m.memory), cache_(net.start(m)), rows_(m.memory.size(0)) {}

    std::int64_t rows() const override { return rows_; }

    DecoderStep step(const Tensor& previous) override {
        TransformerStep s = net_.step(previous, cache_);
        DecoderStep d;
        d.logits = s.logits;  // [B, V]
        d.layer_weights = s.cross_weights;  // [B, h, 1, S] per layer
        d.layer_scores = s.cross_scores;
        const Tensor& last = s.cross_weights.back();
        d.weights = mean(reshape(last, {last.size(0), last.size(1), last.size(3)}), {1});  // [B, S]: the last layer, averaged over heads
        return d;
    }

    void reorder(const std::vector<std::int64_t>& keep) override {
        for (auto k : keep)
            if (k < 0 || k >= rows_) fail<IndexError>("Transformer decoder: reorder row {} out of range for {} rows", k, rows_);
        const Tensor idx = Tensor::ids(keep, {static_cast<std::int64_t>(keep.size())});
        cache_.reorder(idx);
        memory_ = index_select(memory_, 0, idx);
        rows_ = static_cast<std::int64_t>(keep.size());
    }

    Tensor memory() const override { return memory_; }

private:
    const TransformerTranslator& net_;
    Tensor memory_;  // [rows, S, D]
    nn::DecoderCache cache_;
    std::int64_t rows_;
};

}  // namespace

std::unique_ptr<StepDecoder> TransformerModel::start_decoding(const Tensor& src,
                                                              const std::vector<std::int64_t>& src_lengths) const {
    return std::make_unique<TransformerStepDecoder>(*net_, net_->encode(src, src_lengths));
}

std::vector<AttentionMap> TransformerModel::attention_maps(const Tensor& src, const Tensor& tgt_in) const {
    if (src.dim() != 2 || src.size(0) != 1 || tgt_in.dim() != 2 || tgt_in.size(0) != 1)
        fail("TransformerModel::attention_maps: one sentence pair, src [1, S] and tgt_in [1, T]; got {} and {}",
             shape_str(src.shape()), shape_str(tgt_in.shape()));
    NoGradGuard no_grad;
    TransformerAttentionMaps maps;
    net_->logits(src, {src.size(1)}, tgt_in, &maps);
    std::vector<AttentionMap> out;
    auto add = [&out](const std::string& kind, const std::vector<Tensor>& layers) {
        for (std::size_t l = 0; l < layers.size(); ++l) {
            const Tensor& w = layers[l];  // [1, h, rows, cols]
            const std::int64_t H = w.size(1), R = w.size(2), C = w.size(3);
            const std::vector<double> v = w.to_vector();
            for (std::int64_t h = 0; h < H; ++h) {
                AttentionMap m{.kind = kind, .layer = static_cast<std::int64_t>(l), .head = h, .weights = {}};
                for (std::int64_t r = 0; r < R; ++r)
                    m.weights.emplace_back(v.begin() + (h * R + r) * C, v.begin() + (h * R + r + 1) * C);
                out.push_back(std::move(m));
            }
        }
    };
    add("cross", maps.cross);
    add("encoder self", maps.encoder_self);
    add("decoder self", maps.decoder_self);
    return out;
}

SaliencyPass TransformerModel::teacher_forced_with_embeddings(const Tensor& src, const Tensor& tgt_in) const {
    if (src.dim() != 2 || src.size(0) != 1 || tgt_in.dim() != 2 || tgt_in.size(0) != 1)
        fail("TransformerModel::teacher_forced_with_embeddings: one sentence pair, src [1, S] and tgt_in [1, T]; got {} and {}",
             shape_str(src.shape()), shape_str(tgt_in.shape()));
    SaliencyPass pass;
    pass.embeddings = net_->src_embed->embedding->forward(src).detach();  // [1, S, D]
    pass.embeddings.set_requires_grad(true);
    pass.log_probs = log_softmax(net_->logits_from_lookup(src, pass.embeddings, {src.size(1)}, tgt_in), 2);  // [1, T, V]
    return pass;
}

std::shared_ptr<TranslationModel> make_transformer_model(const ModelConfig& config, Generator* gen) {
    return std::make_shared<TransformerModel>(transformer_config_from_json(config.options_json, "model config"), gen);
}

}  // namespace seqgrad::models
