// Encoder, decoder, loss with teacher forcing, greedy and beam-search decoding.
#include "models/rnn/seq2seq.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/autograd.h"
#include "core/fused_ops.h"
#include "core/ops.h"
#include "core/random.h"

namespace seqgrad::models {

CellKind parse_cell_kind(const std::string& name) {
    if (name == "gru") return CellKind::GRU;
    if (name == "lstm") return CellKind::LSTM;
    fail("unknown cell '{}' (valid: gru, lstm)", name);
}
std::string cell_kind_name(CellKind kind) { return kind == CellKind::GRU ? "gru" : "lstm"; }

// ---- config -------------------------------------------------------------------------------------

void Seq2SeqConfig::validate() const {
    auto positive = [](const char* what, std::int64_t v) {
        if (v <= 0) fail("Seq2Seq config: {} must be positive, got {}", what, v);
    };
    positive("src_vocab", src_vocab);
    positive("tgt_vocab", tgt_vocab);
    positive("embed_size", embed_size);
    positive("hidden_size", hidden_size);
    positive("num_layers", num_layers);
    if (attention_size < 0) fail("Seq2Seq config: attention_size must be >= 0, got {}", attention_size);
    positive("window", window);
    positive("max_source_len", max_source_len);
    if (!(dropout >= 0 && dropout < 1)) fail("Seq2Seq config: dropout must be in [0, 1), got {}", dropout);
    if (attends() && attention != "hard") (void)nn::parse_attention_kind(attention);  // throws listing the valid names
    if (input_feeding && !attends())
        fail("Seq2Seq config: input_feeding needs an attention (attention is none)");
}

std::string Seq2SeqConfig::to_json() const {
    nlohmann::json j = {{"format", "seqgrad-seq2seq-config"},
                        {"version", 1},
                        {"src_vocab", src_vocab},
                        {"tgt_vocab", tgt_vocab},
                        {"embed_size", embed_size},
                        {"hidden_size", hidden_size},
                        {"num_layers", num_layers},
                        {"bidirectional", bidirectional},
                        {"cell", cell_kind_name(cell)},
                        {"attention", attention},
                        {"attention_size", attention_size},
                        {"window", window},
                        {"max_source_len", max_source_len},
                        {"input_feeding", input_feeding},
                        {"dropout", dropout}};
    return j.dump(2);
}

Seq2SeqConfig Seq2SeqConfig::from_json(const std::string& text, const std::string& where) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        fail<Error>("{}: not valid JSON: {}", where, e.what());
    }
    // Compared as JSON values (not j.value("format", "")), so a non-string "format" is this error
    // rather than a json::type_error escaping (found by the config_loader fuzz target).
    if (!j.is_object() || j.value("format", nlohmann::json()) != "seqgrad-seq2seq-config")
        fail<Error>("{}: not a seqgrad model config (missing \"format\": \"seqgrad-seq2seq-config\")", where);
    if (j.value("version", nlohmann::json()) != 1)
        fail<Error>("{}: unsupported config version {}", where, j.value("version", nlohmann::json()).dump());
    // Sizes must be JSON integers: get<int64_t>() would truncate 2.5 and convert 1e300 with undefined behaviour.
    auto integer = [&](const char* key) -> std::int64_t {
        const nlohmann::json& v = j.at(key);
        if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > INT64_MAX))
            fail<Error>("{}: bad model config: \"{}\" must be an integer, got {}", where, key, v.dump());
        return v.get<std::int64_t>();
    };
    Seq2SeqConfig c;
    try {
        c.src_vocab = integer("src_vocab");
        c.tgt_vocab = integer("tgt_vocab");
        c.embed_size = integer("embed_size");
        c.hidden_size = integer("hidden_size");
        c.num_layers = integer("num_layers");
        c.bidirectional = j.at("bidirectional").get<bool>();
        c.cell = parse_cell_kind(j.at("cell").get<std::string>());
        c.attention = j.at("attention").get<std::string>();
        c.attention_size = integer("attention_size");
        c.window = integer("window");
        c.max_source_len = integer("max_source_len");
        c.input_feeding = j.at("input_feeding").get<bool>();
        c.dropout = j.at("dropout").get<double>();
    } catch (const nlohmann::json::exception& e) {
        fail<Error>("{}: bad model config: {}", where, e.what());
    } catch (const std::invalid_argument& e) {
        fail<Error>("{}: bad model config: {}", where, e.what());
    }
    try {
        c.validate();
    } catch (const std::invalid_argument& e) {
        fail<Error>("{}: {}", where, e.what());
    }
    return c;
}

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
    const std::int64_t B = src.shape()[0], S = src.shape()[1], H = config_.hidden_size, L = config_.num_layers;
    EncoderOutput out;
    out.lengths = lengths;
    std::vector<float> mask(static_cast<std::size_t>(B * S), 0.0f);
    for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t s = 0; s < std::min(lengths.at(b), S); ++s) mask[b * S + s] = 1.0f;
    out.mask = Tensor::from_float(mask, {B, S}, {.dtype = embedding->weight.dtype()});

    Tensor x = (*embedding)(src);  // [B, S, E]
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

EncoderOutput encode(const Seq2Seq& m, const Tensor& src, const std::vector<std::int64_t>& lengths) {
    EncoderOutput enc = m.encoder->forward(src, lengths);
    if (m.decoder->attention) enc.prepared = m.decoder->attention->prepare(enc.outputs);
    return enc;
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

std::pair<double, std::int64_t> Seq2Seq::nll_sum(const Tensor& src, const std::vector<std::int64_t>& src_lengths,
                                                 const Tensor& tgt_in, const Tensor& tgt_out) const {
    NoGradGuard no_grad;
    const Tensor l = loss(src, src_lengths, tgt_in, tgt_out, {.teacher_forcing = 1.0});
    std::int64_t tokens = 0;
    for (auto id : tgt_out.to_ids()) tokens += id != kPad;
    return {l.item() * static_cast<double>(tokens), tokens};
}

namespace {
std::vector<float> row_of(const Tensor& weights, std::int64_t b) {
    const std::int64_t S = weights.shape()[1];
    std::vector<float> r(static_cast<std::size_t>(S));
    const auto v = weights.to_float_vector();
    std::copy(v.begin() + b * S, v.begin() + (b + 1) * S, r.begin());
    return r;
}
}  // namespace

std::vector<Hypothesis> Seq2Seq::greedy_batch(const std::vector<std::vector<std::int64_t>>& srcs, std::int64_t max_len) const {
    NoGradGuard no_grad;
    const std::int64_t B = static_cast<std::int64_t>(srcs.size());
    std::vector<Hypothesis> hyps(srcs.size());
    if (B == 0) return hyps;
    std::int64_t S = 1;
    for (auto& s : srcs) S = std::max<std::int64_t>(S, static_cast<std::int64_t>(s.size()));
    std::vector<std::int64_t> ids(static_cast<std::size_t>(B * S), kPad), lengths;
    for (std::int64_t b = 0; b < B; ++b) {
        if (srcs[b].empty()) fail("greedy: source sentence {} is empty", b);
        std::copy(srcs[b].begin(), srcs[b].end(), ids.begin() + b * S);
        lengths.push_back(static_cast<std::int64_t>(srcs[b].size()));
    }
    EncoderOutput enc = encode(*this, Tensor::ids(ids, {B, S}), lengths);
    DecoderState state = decoder->initial_state(enc);
    Tensor y = Tensor::ids(std::vector<std::int64_t>(static_cast<std::size_t>(B), kSos), {B});
    std::vector<char> done(static_cast<std::size_t>(B), 0);
    for (std::int64_t t = 0; t < max_len; ++t) {
        StepOutput o = decoder->step(y, state, enc, t);
        Tensor lp = log_softmax(o.logits, 1);
        y = argmax(lp, 1);
        const auto next = y.to_ids();
        const auto lpv = lp.to_vector();
        bool all_done = true;
        for (std::int64_t b = 0; b < B; ++b) {
            if (done[b]) continue;
            if (o.weights.defined()) {
                auto w = row_of(o.weights, b);
                w.resize(srcs[b].size());
                hyps[b].attention.push_back(std::move(w));
            }
            hyps[b].log_prob += lpv[b * config_.tgt_vocab + next[b]];
            if (next[b] == kEos) done[b] = 1;
            else hyps[b].ids.push_back(next[b]);
            all_done = all_done && done[b];
        }
        if (all_done) break;
    }
    return hyps;
}

Hypothesis Seq2Seq::greedy(const std::vector<std::int64_t>& src, std::int64_t max_len) const {
    return greedy_batch({src}, max_len).front();
}

// Beam search: keep the k best partial hypotheses by total log-probability; a finished hypothesis
// is ranked by log_prob / ((5 + len) / 6)^alpha (the GNMT length penalty; alpha = 0 ranks by
// log-probability alone). The k beams run as one batch of k rows through the decoder.
Hypothesis Seq2Seq::beam_search(const std::vector<std::int64_t>& src, std::int64_t beam, std::int64_t max_len,
                                double alpha) const {
    if (beam < 1) fail("beam_search: beam size must be at least 1, got {}", beam);
    if (src.empty()) fail("beam_search: the source sentence is empty");
    NoGradGuard no_grad;
    const std::int64_t S = static_cast<std::int64_t>(src.size()), V = config_.tgt_vocab;
    EncoderOutput enc1 = encode(*this, Tensor::ids(src, {1, S}), {S});
    auto penalty = [alpha](std::size_t len) { return std::pow((5.0 + static_cast<double>(len)) / 6.0, alpha); };

    struct Beam {
        Hypothesis hyp;
        std::int64_t last = kSos;
    };
    std::vector<Beam> beams(1);
    DecoderState state = decoder->initial_state(enc1);
    std::vector<Hypothesis> finished;
    for (std::int64_t t = 0; t < max_len && !beams.empty(); ++t) {
        const std::int64_t k = static_cast<std::int64_t>(beams.size());
        // Expand the encoder output and the state to k rows.
        std::vector<std::int64_t> rows(static_cast<std::size_t>(k), 0);
        EncoderOutput enc = enc1;
        if (k > 1) {
            const Tensor zero_rows = Tensor::ids(rows, {k});
            enc.outputs = index_select(enc1.outputs, 0, zero_rows);
            enc.mask = index_select(enc1.mask, 0, zero_rows);
            if (decoder->attention) enc.prepared = decoder->attention->prepare(enc.outputs);
            enc.lengths.assign(static_cast<std::size_t>(k), S);
        }
        std::vector<std::int64_t> last;
        for (auto& b : beams) last.push_back(b.last);
        StepOutput o = decoder->step(Tensor::ids(last, {k}), state, enc, t);
        const auto lp = log_softmax(o.logits, 1).to_vector();
        // Candidates: (score, beam index, token)
        std::vector<std::tuple<double, std::int64_t, std::int64_t>> cand;
        for (std::int64_t b = 0; b < k; ++b)
            for (std::int64_t v = 0; v < V; ++v)
                cand.emplace_back(beams[b].hyp.log_prob + lp[b * V + v], b, v);
        const std::size_t keep = std::min<std::size_t>(cand.size(), static_cast<std::size_t>(2 * beam));
        std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(keep), cand.end(),
                          [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
        std::vector<Beam> next;
        std::vector<std::int64_t> parents;
        for (std::size_t i = 0; i < keep && static_cast<std::int64_t>(next.size()) < beam; ++i) {
            auto [score, b, v] = cand[i];
            Hypothesis h = beams[b].hyp;
            h.log_prob = score;
            if (o.weights.defined()) h.attention.push_back(row_of(o.weights, b));
            if (v == kEos) {
                finished.push_back(std::move(h));
                continue;
            }
            h.ids.push_back(v);
            next.push_back({std::move(h), v});
            parents.push_back(b);
        }
        // Stop when the best finished hypothesis beats every live one even without a penalty change.
        if (static_cast<std::int64_t>(finished.size()) >= beam) break;
        if (next.empty()) break;
        const Tensor idx = Tensor::ids(parents, {static_cast<std::int64_t>(parents.size())});
        for (auto& h : state.h) h = index_select(h, 0, idx);
        for (auto& c : state.c) c = index_select(c, 0, idx);
        if (state.feed.defined()) state.feed = index_select(state.feed, 0, idx);
        beams = std::move(next);
    }
    for (auto& b : beams) finished.push_back(b.hyp);  // unfinished at max_len
    auto score = [&](const Hypothesis& h) { return h.log_prob / penalty(h.ids.size() + 1); };
    return *std::max_element(finished.begin(), finished.end(),
                             [&](const Hypothesis& a, const Hypothesis& b) { return score(a) < score(b); });
}

}  // namespace seqgrad::models
