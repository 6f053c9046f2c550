// The encoder-decoder translator with attention.
//
//   Encoder: Embedding -> GRU or LSTM (several layers, optionally bidirectional). Its outputs
//            [B, S, H*dirs] are the attention's keys and values; its final states, bridged to the
//            decoder's size when bidirectional, start the decoder.
//   Decoder, one target step t (Bahdanau style, the default, as the PyTorch tutorial):
//            query = h_{t-1} (top layer); (c_t, a_t) = attend(query, enc, mask)
//            h_t = cell([embed(y_{t-1}); c_t], h_{t-1});  logits_t = W_out h_t + b_out
//   With input feeding (Luong style):
//            h_t = cell([embed(y_{t-1}); h~_{t-1}], h_{t-1}); (c_t, a_t) = attend(h_t, enc, mask)
//            h~_t = tanh(W_c [c_t; h_t]);  logits_t = W_out h~_t + b_out
//   Attention `none`: the classic encoder-decoder whose only link is the final state.
//   Attention `hard`: stochastic hard attention over additive scores (layers/hard_attention.h): one
//            sampled source position per step in training (argmax in eval); Seq2Seq::loss adds the
//            REINFORCE surrogate so the scores learn, with reward = −(the sentence's cross-entropy).
// Training uses teacher forcing with a ratio. Decoding (greedy, beam: models/decoding.h) steps the
// decoder through Seq2Seq::start_decoding, the model's StepDecoder.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layers/attention.h"
#include "layers/embedding.h"
#include "layers/hard_attention.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/rnn.h"
#include "layers/rnn_cell.h"
#include "models/rnn/seq2seq_config.h"
#include "models/translation_model.h"

namespace seqgrad::models {

// Encoder results for one batch, reused at every decoder step.
struct EncoderOutput {
    Tensor outputs;          // [B, S, H*dirs]: keys and values
    Tensor mask;             // [B, S] 1 = real token
    std::vector<Tensor> h0;  // per decoder layer [B, H]
    std::vector<Tensor> c0;  // LSTM only
    nn::PreparedKeys prepared;  // the keys' projection, computed once per batch
    std::vector<std::int64_t> lengths;
};

struct DecoderState {
    std::vector<Tensor> h;  // per layer [B, H]
    std::vector<Tensor> c;  // LSTM only
    Tensor feed;            // h~_{t-1} [B, H] with input feeding
};

struct StepOutput {
    Tensor logits;   // [B, V]
    Tensor hidden;   // [B, H] what the output layer saw (h_t or h~_t)
    Tensor weights;  // [B, S] attention weights, undefined for `none`
    Tensor scores;   // [B, S] before softmax
};

class Encoder : public nn::Module {
public:
    Encoder(const Seq2SeqConfig& config, Generator* gen);
    std::string type_name() const override { return "Encoder"; }
    // src ids [B, S] (int64, 0 = padding), lengths per row
    EncoderOutput forward(const Tensor& src, const std::vector<std::int64_t>& lengths) const;
    // The same from the embedded source x = embedding(src) [B, S, E] (saliency differentiates it).
    EncoderOutput forward_embedded(const Tensor& x, const std::vector<std::int64_t>& lengths) const;

    std::shared_ptr<nn::Embedding> embedding;
    std::shared_ptr<nn::Module> rnn;  // nn::GRU or nn::LSTM
    std::vector<std::shared_ptr<nn::Linear>> bridge;  // bidirectional: [2H] -> [H] per layer (h, then c)

private:
    Seq2SeqConfig config_;
};

class Decoder : public nn::Module {
public:
    Decoder(const Seq2SeqConfig& config, Generator* gen);
    std::string type_name() const override { return "Decoder"; }
    DecoderState initial_state(const EncoderOutput& enc) const;
    // One step: y_prev ids [B] (int64); t is the target position (for local-m attention).
    StepOutput step(const Tensor& y_prev, DecoderState& state, const EncoderOutput& enc, std::int64_t t) const;
    // The same step from the embedded input emb [B, E]. With project = false the output layer is
    // not applied (logits undefined): Seq2Seq::loss then projects all steps' hidden states at once.
    StepOutput step_embedded(const Tensor& emb, DecoderState& state, const EncoderOutput& enc, std::int64_t t,
                             bool project = true) const;
    // The attention when it is `hard` (it records the sampled steps), else null.
    nn::HardAttention* hard_attention() const;

    std::shared_ptr<nn::Embedding> embedding;
    std::shared_ptr<nn::Attention> attention;  // null for `none`
    std::vector<std::shared_ptr<nn::Module>> cells;  // GRUCell or LSTMCell per layer
    std::shared_ptr<nn::Linear> combine;  // W_c, input feeding only
    std::shared_ptr<nn::Linear> out;

private:
    Seq2SeqConfig config_;
};

class Seq2Seq : public TranslationModel {
public:
    explicit Seq2Seq(const Seq2SeqConfig& config, Generator* gen = nullptr);
    std::string type_name() const override { return "Seq2Seq"; }
    const Seq2SeqConfig& config() const { return config_; }

    // Mean token cross-entropy over tgt_out (0 = padding ignored). src [B, S], tgt_in/tgt_out [B, T].
    // With `hard` attention in training mode (and grad mode on) the result also carries the REINFORCE
    // gradient of the attention's sampled positions; its value is still the cross-entropy.
    Tensor loss(const Tensor& src, const std::vector<std::int64_t>& src_lengths, const Tensor& tgt_in,
                const Tensor& tgt_out, const LossOptions& options = {}) const override;
    // TranslationModel: the configuration as config.json's "model" object, decoding one step at a time.
    ModelConfig model_config() const override;
    std::int64_t target_vocab_size() const override { return config_.tgt_vocab; }
    bool has_attention() const override { return config_.attends(); }
    // local-p scales its softmax by a Gaussian around the predicted position.
    bool weights_are_softmax() const override { return config_.attends() && config_.attention != "local-p"; }
    // The encoder's output and final states, then the decoder state per row (h, c, h~).
    std::unique_ptr<StepDecoder> start_decoding(const Tensor& src, const std::vector<std::int64_t>& src_lengths) const override;
    // The decoder's steps over tgt_in from Encoder::forward_embedded of the source lookup (any attention, `none` too).
    SaliencyPass teacher_forced_with_embeddings(const Tensor& src, const Tensor& tgt_in) const override;

    std::shared_ptr<Encoder> encoder;
    std::shared_ptr<Decoder> decoder;

private:
    Seq2SeqConfig config_;
};

}  // namespace seqgrad::models
