// Encoder, decoder, loss with teacher forcing, and the model's StepDecoder for decoding.
#include "models/rnn/seq2seq.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/fused_ops.h"
#include "core/ops.h"
#include "core/random.h"

namespace seqgrad::models {

// ---- encoder ------------------------------------------------------------------------------------

Encoder::Encoder(const Seq2SeqConfig& c, Generator* gen) : config_(c) {
    embedding = register_module("embedding", std::make_shared<nn::Embedding>(nn::EmbeddingOptions{
        .num_embeddings = c.src_vocab, .embedding_dim = c.embed_size, .padding_idx = kPad, .generator = gen}));
    if (c.cell == CellKind::GRU)
        rnn = register_module("rnn", std::make_shared<nn::GRU>(nn::GRUOptions{
            .input_size = c.embed_size, .hidden_size = c.hidden_size, .num_layers = c.num_layers,
            .bidirectional = c.bidirectional, .dropout = c.dropout, .generator = gen}));
    else
        rnn = register_module("rnn", std::make_shared<nn::LSTM>(nn::LSTMOptions{
            .input_size = c.embed_size, .hidden_size = c.hidden_size, .num_layers = c.num_layers,
            .bidirectional = c.bidirectional, .dropout = c.dropout, .generator = gen}));
    if (c.bidirectional) {
        // One bridge for h (and one for c with LSTM), shared by all layers: [h_fwd; h_bwd] -> H.
        bridge.push_back(register_module("bridge_h", std::make_shared<nn::Linear>(nn::LinearOptions{
            .in_features = 2 * c.hidden_size, .out_features = c.hidden_size, .generator = gen})));
        if (c.cell == CellKind::LSTM)
            bridge.push_back(register_module("bridge_c", std::make_shared<nn::Linear>(nn::LinearOptions{
                .in_features = 2 * c.hidden_size, .out_features = c.hidden_size, .generator = gen})));
    }
}

EncoderOutput Encoder::forward(const Tensor& src, const std::vector<std::int64_t>& lengths) const {
    if (src.dim() != 2) fail("Encoder: src must be [B, S] token ids, got {}", shape_str(src.shape()));
    return forward_embedded((*embedding)(src), lengths);  // [B, S, E]
}

EncoderOutput Encoder::forward_embedded(const Tensor& x, const std::vector<std::int64_t>& lengths) const {
    const std::int64_t B = x.shape()[0], S = x.shape()[1], H = config_.hidden_size, L = config_.num_layers;
    EncoderOutput out;
    out.lengths = lengths;
    std::vector<float> mask(static_cast<std::size_t>(B * S), 0.0f);
    for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t s = 0; s < std::min(lengths.at(b), S); ++s) mask[b * S + s] = 1.0f;
    out.mask = Tensor::from_float(mask, {B, S}, {.dtype = embedding->weight.dtype()});

    nn::RNNOutput r = config_.cell == CellKind::GRU
                          ? static_cast<const nn::GRU&>(*rnn).forward(x, Tensor(), lengths)
                          : static_cast<const nn::LSTM&>(*rnn).forward(x, nn::LSTMState{}, lengths);
    out.outputs = r.output;  // [B, S, H*dirs]
    // Final states h_n [L*dirs, B, H] -> one [B, H] per decoder layer.
    auto per_layer = [&](const Tensor& states, std::size_t bridge_index) {
        std::vector<Tensor> result;
        for (std::int64_t l = 0; l < L; ++l) {
            if (config_.bidirectional) {
                Tensor both = cat({select(states, 0, 2 * l), select(states, 0, 2 * l + 1)}, 1);  // [B, 2H]
                result.push_back(tanh((*bridge[bridge_index])(both)));
            } else {
                result.push_back(select(states, 0, l));
            }
        }
        return result;
    };
    out.h0 = per_layer(r.h_n, 0);
    if (config_.cell == CellKind::LSTM) out.c0 = per_layer(r.c_n, 1);
    (void)H;
    return out;
}

// ---- decoder ------------------------------------------------------------------------------------

Decoder::Decoder(const Seq2SeqConfig& c, Generator* gen) : config_(c) {
    const std::int64_t H = c.hidden_size, K = c.hidden_size * (c.bidirectional ? 2 : 1);
    embedding = register_module("embedding", std::make_shared<nn::Embedding>(nn::EmbeddingOptions{
        .num_embeddings = c.tgt_vocab, .embedding_dim = c.embed_size, .padding_idx = kPad, .generator = gen}));
    const bool attends = c.attends();
    const bool hard = c.attention == "hard";
    if (attends) {
        const nn::AttentionOptions score{
            .kind = hard ? nn::AttentionKind::Additive : nn::parse_attention_kind(c.attention), .query_size = H,
            .key_size = K, .attention_size = c.attention_size > 0 ? c.attention_size : H, .window = c.window,
            .max_source_len = c.max_source_len, .generator = gen};
        if (hard)
            attention = register_module("attention", std::make_shared<nn::HardAttention>(nn::HardAttentionOptions{.score = score}));
        else
            attention = register_module("attention", nn::make_attention(score));
    }
    // Layer 0 reads the embedding plus the context (Bahdanau) or the fed-back h~ (Luong).
    const std::int64_t extra = !attends ? 0 : (c.input_feeding ? H : K);
    for (std::int64_t l = 0; l < c.num_layers; ++l) {
        const std::int64_t in = l == 0 ? c.embed_size + extra : H;
        const std::string name = fmt::format("cell{}", l);
        if (c.cell == CellKind::GRU)
            cells.push_back(register_module(name, std::make_shared<nn::GRUCell>(nn::GRUCellOptions{
                .input_size = in, .hidden_size = H, .generator = gen})));
        else
            cells.push_back(register_module(name, std::make_shared<nn::LSTMCell>(nn::LSTMCellOptions{
                .input_size = in, .hidden_size = H, .generator = gen})));
    }
    if (c.input_feeding)
        combine = register_module("combine", std::make_shared<nn::Linear>(nn::LinearOptions{
            .in_features = K + H, .out_features = H, .generator = gen}));
    out = register_module("out", std::make_shared<nn::Linear>(nn::LinearOptions{
        .in_features = H, .out_features = c.tgt_vocab, .generator = gen}));
    // The sampler's seed is drawn last, so a `hard` model starts from the same weights as an `additive` one.
    if (hard) hard_attention()->sampler().manual_seed((gen ? *gen : default_generator()).next_u64());
}

nn::HardAttention* Decoder::hard_attention() const { return dynamic_cast<nn::HardAttention*>(attention.get()); }

DecoderState Decoder::initial_state(const EncoderOutput& enc) const {
    DecoderState s;
    s.h = enc.h0;
    s.c = enc.c0;
    if (config_.input_feeding) s.feed = zeros({enc.h0[0].shape()[0], config_.hidden_size}, {.dtype = enc.h0[0].dtype()});
    return s;
}

StepOutput Decoder::step(const Tensor& y_prev, DecoderState& state, const EncoderOutput& enc, std::int64_t t) const {
    return step_embedded((*embedding)(y_prev), state, enc, t);  // emb [B, E]
}

StepOutput Decoder::step_embedded(const Tensor& emb, DecoderState& state, const EncoderOutput& enc, std::int64_t t,
                                  bool project) const {
    StepOutput o;
    const nn::AttendContext ctx{.target_position = t, .prepared = &enc.prepared};
    auto run_cells = [&](Tensor input) {
        for (std::size_t l = 0; l < cells.size(); ++l) {
            if (config_.cell == CellKind::GRU) {
                state.h[l] = static_cast<const nn::GRUCell&>(*cells[l]).step(input, state.h[l]);
            } else {
                nn::LSTMState st = static_cast<const nn::LSTMCell&>(*cells[l]).step(input, {state.h[l], state.c[l]});
                state.h[l] = st.h;
                state.c[l] = st.c;
            }
            input = state.h[l];
        }
        return input;  // top layer h_t
    };
    if (!attention) {
        o.hidden = run_cells(emb);
    } else if (!config_.input_feeding) {
        // Bahdanau: attend with h_{t-1}, feed the context into the cell.
        nn::AttentionOutput a = attention->attend(state.h.back(), enc.outputs, enc.outputs, enc.mask, ctx);
        o.weights = a.weights;
        o.scores = a.scores;
        o.hidden = run_cells(cat({emb, a.context}, 1));
    } else {
        // Luong with input feeding: the cell reads h~_{t-1}; attend with h_t.
        Tensor h = run_cells(cat({emb, state.feed}, 1));
        nn::AttentionOutput a = attention->attend(h, enc.outputs, enc.outputs, enc.mask, ctx);
        o.weights = a.weights;
        o.scores = a.scores;
        state.feed = tanh((*combine)(cat({a.context, h}, 1)));
        o.hidden = state.feed;
    }
    if (project) o.logits = (*out)(o.hidden);
    return o;
}

// ---- the whole model ----------------------------------------------------------------------------

Seq2Seq::Seq2Seq(const Seq2SeqConfig& config, Generator* gen) : config_(config) {
    config.validate();
    encoder = register_module("encoder", std::make_shared<Encoder>(config, gen));
    decoder = register_module("decoder", std::make_shared<Decoder>(config, gen));
}

namespace {
void check_batch(const Tensor& src, const std::vector<std::int64_t>& lengths, const Tensor& tgt_in, const Tensor& tgt_out) {
    if (src.dim() != 2 || src.dtype() != DType::Int64)
        fail("Seq2Seq: src must be int64 [B, S], got {} {}", dtype_name(src.dtype()), shape_str(src.shape()));
    if (tgt_in.shape() != tgt_out.shape() || tgt_in.dim() != 2 || tgt_in.shape()[0] != src.shape()[0])
        fail("Seq2Seq: tgt_in {} and tgt_out {} must both be [B, T] with B = {} (src {})", shape_str(tgt_in.shape()),
             shape_str(tgt_out.shape()), src.shape()[0], shape_str(src.shape()));
    if (static_cast<std::int64_t>(lengths.size()) != src.shape()[0])
        fail("Seq2Seq: {} source lengths for a batch of {}", lengths.size(), src.shape()[0]);
    for (auto l : lengths)
        if (l < 1 || l > src.shape()[1])
            fail("Seq2Seq: source length {} out of range 1..{} (src {})", l, src.shape()[1], shape_str(src.shape()));
}

EncoderOutput with_prepared_keys(const Seq2Seq& m, EncoderOutput enc) {
    if (m.decoder->attention) enc.prepared = m.decoder->attention->prepare(enc.outputs);
    return enc;
}

EncoderOutput encode(const Seq2Seq& m, const Tensor& src, const std::vector<std::int64_t>& lengths) {
    return with_prepared_keys(m, m.encoder->forward(src, lengths));
}
}  // namespace

Tensor Seq2Seq::loss(const Tensor& src, const std::vector<std::int64_t>& src_lengths, const Tensor& tgt_in,
                     const Tensor& tgt_out, const LossOptions& options) const {
    check_batch(src, src_lengths, tgt_in, tgt_out);
    const std::int64_t B = tgt_in.shape()[0], T = tgt_in.shape()[1];
    nn::HardAttention* hard = decoder->hard_attention();
    if (hard) hard->clear_record();  // the steps below are the only ones the surrogate may see
    EncoderOutput enc = encode(*this, src, src_lengths);
    DecoderState state = decoder->initial_state(enc);
    Generator& gen = options.generator ? *options.generator : default_generator();
    Tensor all;  // logits [B*T, V]
    if (fast_paths_enabled() && options.teacher_forcing >= 1.0) {
        // Fast path, full teacher forcing: every decoder input is known before the loop, so the
        // target embedding is one lookup for all steps (one dense [V, E] gradient, not T) and the
        // output layer is one gemm over all steps' hidden states, [B*T, H] x [H, V]. Same math as
        // the loop below (tests/test_fused_ops.cpp compares both).
        const Tensor emb = (*decoder->embedding)(tgt_in);  // [B, T, E]
        std::vector<Tensor> hidden;                        // T x [B, H]
        hidden.reserve(static_cast<std::size_t>(T));
        for (std::int64_t t = 0; t < T; ++t)
            hidden.push_back(decoder->step_embedded(select(emb, 1, t), state, enc, t, false).hidden);
        all = reshape((*decoder->out)(stack(hidden, 1)), {B * T, config_.tgt_vocab});
    } else {
        std::vector<Tensor> logits;
        logits.reserve(static_cast<std::size_t>(T));
        Tensor y = select(tgt_in, 1, 0);  // <sos> column [B]
        for (std::int64_t t = 0; t < T; ++t) {
            StepOutput o = decoder->step(y, state, enc, t);
            logits.push_back(o.logits);
            if (t + 1 < T) {
                const bool teacher = options.teacher_forcing >= 1.0 || gen.uniform() < options.teacher_forcing;
                y = teacher ? select(tgt_in, 1, t + 1) : argmax(o.logits.detach(), 1);
            }
        }
        all = reshape(stack(logits, 1), {B * T, config_.tgt_vocab});
    }
    const Tensor targets = reshape(tgt_out, {B * T});
    Tensor ce = fast_paths_enabled() ? cross_entropy_fused(all, targets, {.ignore_index = kPad})
                                     : cross_entropy(all, targets, {.ignore_index = kPad});  // the composite twin
    if (!hard || hard->recorded_steps() == 0) return ce;  // eval mode or no grad: nothing was sampled for training

    // REINFORCE for the sampled attention positions: reward_b = −(mean token cross-entropy of sentence b),
    // a constant; steps at target padding are masked out (their samples affect no target token).
    // Adding (surrogate − its detached value) keeps the returned number the cross-entropy while the
    // gradient gains the estimator.
    std::vector<double> reward(static_cast<std::size_t>(B), 0.0), step_mask(static_cast<std::size_t>(B * T), 0.0);
    {
        NoGradGuard no_grad;
        const auto nll = nll_loss(log_softmax(all.detach(), 1), targets, {.ignore_index = kPad, .reduction = Reduction::None})
                             .to_vector();  // [B*T], 0 at padding
        const auto ids = tgt_out.to_ids();
        for (std::int64_t b = 0; b < B; ++b) {
            double total = 0;
            std::int64_t n = 0;
            for (std::int64_t t = 0; t < T; ++t)
                if (ids[b * T + t] != kPad) {
                    total += nll[b * T + t];
                    step_mask[b * T + t] = 1.0;
                    ++n;
                }
            reward[b] = n > 0 ? -total / static_cast<double>(n) : 0.0;
        }
    }
    const DType dt = ce.dtype();
    Tensor surrogate = hard->reinforce_surrogate(Tensor::from(reward, {B}, {.dtype = dt}),
                                                 {.step_mask = Tensor::from(step_mask, {B, T}, {.dtype = dt})});
    return ce + (surrogate - surrogate.detach());
}

// ---- saliency -------------------------------------------------------------------------------------

SaliencyPass Seq2Seq::teacher_forced_with_embeddings(const Tensor& src, const Tensor& tgt_in) const {
    if (src.dim() != 2 || src.size(0) != 1 || tgt_in.dim() != 2 || tgt_in.size(0) != 1)
        fail("Seq2Seq::teacher_forced_with_embeddings: one sentence pair, src [1, S] and tgt_in [1, T]; got {} and {}",
             shape_str(src.shape()), shape_str(tgt_in.shape()));
    check_batch(src, {src.size(1)}, tgt_in, tgt_in);
    SaliencyPass pass;
    pass.embeddings = (*encoder->embedding)(src).detach();  // [1, S, E]
    pass.embeddings.set_requires_grad(true);
    EncoderOutput enc = with_prepared_keys(*this, encoder->forward_embedded(pass.embeddings, {src.size(1)}));
    DecoderState state = decoder->initial_state(enc);
    std::vector<Tensor> logits;
    for (std::int64_t t = 0; t < tgt_in.size(1); ++t)
        logits.push_back(decoder->step(select(tgt_in, 1, t), state, enc, t).logits);  // [1, V]
    pass.log_probs = log_softmax(stack(logits, 1), 2);  // [1, T, V]
    return pass;
}

// ---- step decoding --------------------------------------------------------------------------------

namespace {
// The recurrent model's StepDecoder: the decoder state (h, c, and h~ with input feeding) per row, and
// the encoder output the rows attend to. `rows_` maps each row to its source sentence in `base_`, so
// after a reorder the encoder output is base_'s rows gathered (and their keys' projection redone).
class Seq2SeqStepDecoder final : public StepDecoder {
public:
    Seq2SeqStepDecoder(const Seq2Seq& model, EncoderOutput enc) : model_(model), base_(std::move(enc)), enc_(base_) {
        state_ = model_.decoder->initial_state(base_);
        for (std::size_t r = 0; r < base_.lengths.size(); ++r) rows_.push_back(static_cast<std::int64_t>(r));
    }
    std::int64_t rows() const override { return static_cast<std::int64_t>(rows_.size()); }

    DecoderStep step(const Tensor& previous) override {
        StepOutput o = model_.decoder->step(previous, state_, enc_, t_++);
        DecoderStep d;
        d.logits = o.logits;
        d.weights = o.weights;
        d.scores = o.scores;
        return d;
    }

    void reorder(const std::vector<std::int64_t>& keep) override {
        const auto n = static_cast<std::int64_t>(rows_.size());
        std::vector<std::int64_t> rows;
        for (auto k : keep) {
            if (k < 0 || k >= n) fail<IndexError>("Seq2Seq decoder: reorder row {} out of range for {} rows", k, n);
            rows.push_back(rows_[static_cast<std::size_t>(k)]);
        }
        const Tensor idx = Tensor::ids(keep, {static_cast<std::int64_t>(keep.size())});
        for (auto& h : state_.h) h = index_select(h, 0, idx);
        for (auto& c : state_.c) c = index_select(c, 0, idx);
        if (state_.feed.defined()) state_.feed = index_select(state_.feed, 0, idx);
        rows_ = std::move(rows);
        bool identity = rows_.size() == base_.lengths.size();
        for (std::size_t r = 0; identity && r < rows_.size(); ++r) identity = rows_[r] == static_cast<std::int64_t>(r);
        if (identity) {
            enc_ = base_;
            return;
        }
        const Tensor src_rows = Tensor::ids(rows_, {static_cast<std::int64_t>(rows_.size())});
        enc_.outputs = index_select(base_.outputs, 0, src_rows);
        enc_.mask = index_select(base_.mask, 0, src_rows);
        if (model_.decoder->attention) enc_.prepared = model_.decoder->attention->prepare(enc_.outputs);
        enc_.lengths.clear();
        for (auto r : rows_) enc_.lengths.push_back(base_.lengths[static_cast<std::size_t>(r)]);
    }

    Tensor memory() const override { return enc_.outputs; }

private:
    const Seq2Seq& model_;
    EncoderOutput base_, enc_;
    DecoderState state_;
    std::vector<std::int64_t> rows_;
    std::int64_t t_ = 0;
};
}  // namespace

std::unique_ptr<StepDecoder> Seq2Seq::start_decoding(const Tensor& src, const std::vector<std::int64_t>& src_lengths) const {
    return std::make_unique<Seq2SeqStepDecoder>(*this, encode(*this, src, src_lengths));
}

ModelConfig Seq2Seq::model_config() const {
    ModelConfig c;
    c.architecture = "rnn";
    c.rnn = config_;
    return c;
}

}  // namespace seqgrad::models
