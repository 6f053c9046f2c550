// The model interface: what the trainer, the decoders (models/decoding.h), the Translator, inspect
// and `seqgrad graph` need from a translation model, and nothing about how it computes. An
// architecture is a TranslationModel plus a StepDecoder, registered by name with make_model.
//
//   loss       teacher-forced: every target position t predicts tgt_out[t] from tgt_in[0..t] and the
//              source; mean token cross-entropy (0 = padding ignored). A recurrent model walks the
//              positions one by one; a Transformer computes them all in one pass under a causal mask.
//   nll_sum    the sum of token negative log-likelihoods and the token count (perplexity), no grad.
//   decode     start_decoding(source batch) -> StepDecoder: step(y_{t-1}) gives the logits of y_t and
//              keeps whatever state the model carries (RNN: hidden states; Transformer: the keys and
//              values of the positions before t, so each step is O(t) work); reorder(rows) keeps the
//              given rows (beam search picks parents, repeats allowed).
//   trace      a StepDecoder runs under grad mode as well: memory() is the encoder output the steps
//              read, and DecoderStep's weights/scores are graph tensors, so `seqgrad inspect` can
//              retain_grad() them, backpropagate one step's loss and read the gradients.
//   saliency   teacher_forced_with_embeddings: one teacher-forced pass computed from the source
//              embeddings as a leaf of the graph, so models/saliency.h can differentiate each output
//              token's log-probability with respect to each source token's embedding.
//
// Tensor names of a model's state_dict are the model's own (register_module in its constructor):
// the interface registers nothing, so the RNN's checkpoints keep their names.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"
#include "layers/module.h"
#include "models/rnn/seq2seq_config.h"

namespace seqgrad::models {

// Special ids shared with data::Vocab.
constexpr std::int64_t kPad = 0, kSos = 1, kEos = 2, kUnk = 3;

// Which architecture and its options: config.json's "model" object. The recurrent model's options are
// a typed struct here; another architecture keeps its options as JSON text that its factory parses
// into its own typed struct (so adding one touches no file of this interface).
struct ModelConfig {
    std::string architecture = "rnn";
    Seq2SeqConfig rnn;               // architecture "rnn" (models/rnn/)
    std::string options_json = "{}"; // any other architecture: its options object (vocabulary sizes included)

    // Vocabulary sizes, filled in from the data before the model is made.
    void set_vocab_sizes(std::int64_t src, std::int64_t tgt);
    std::int64_t src_vocab() const;
    std::int64_t tgt_vocab() const;
    // config.json's "model" object. Written with "architecture"; read without it as "rnn" (the
    // folders written before there was a second architecture). `where` names the file in errors.
    std::string to_json() const;
    static ModelConfig from_json(const std::string& text, const std::string& where);
};

struct LossOptions {
    double teacher_forcing = 1.0;    // probability of feeding the reference token (recurrent models)
    Generator* generator = nullptr;  // for the teacher-forcing coin
};

// One decoder step for a batch of B rows.
struct DecoderStep {
    Tensor logits;   // [B, V]
    // The cross-attention to draw as one heatmap row per step: [B, S], undefined without attention.
    // A model with several layers or heads chooses one summary (and says which in its header).
    Tensor weights;
    Tensor scores;   // [B, S] the scores softmax turned into `weights`, when there is one such softmax
    // Every cross-attention of the step, per layer: [B, heads, 1, S], the tensors the layer computed
    // (so under grad mode their gradients are the ones that reach them), and the scores its masked
    // softmax turned into them. Empty for a model with a single attention.
    std::vector<Tensor> layer_weights;
    std::vector<Tensor> layer_scores;
};

// One attention map of a sentence pair, for pictures: row r attends over the columns with weights
// summing to 1. Kinds: "cross" (rows = output positions, columns = source tokens), "encoder self"
// (source x source), "decoder self" (output positions x the target tokens fed in, causal).
struct AttentionMap {
    std::string kind;
    std::int64_t layer = 0, head = 0;  // 0-based
    std::vector<std::vector<float>> weights;
};

// A teacher-forced pass over one sentence pair for models/saliency.h.
struct SaliencyPass {
    // [1, S, E]: the source embedding lookup E_src[src] — before any scaling, positional encoding or
    // dropout — detached and marked requires_grad, so it is a leaf the rest of the pass is computed
    // from: after a backward, embeddings.grad()[0, s] is the gradient with respect to e_s.
    Tensor embeddings;
    Tensor log_probs;  // [1, T, V]: log p(· | source, tgt_in[0..t]) at every target position t
};

class StepDecoder {
public:
    virtual ~StepDecoder() = default;
    // Rows of the current batch (hypotheses).
    virtual std::int64_t rows() const = 0;
    // previous: y_{t-1} ids [rows] (int64; <sos> at t = 0). Advances t by one.
    virtual DecoderStep step(const Tensor& previous) = 0;
    // Keeps rows `keep` (indices into the current rows, repeats allowed) in that order.
    virtual void reorder(const std::vector<std::int64_t>& keep) = 0;
    // The encoder output the steps attend to, [rows, S, K], as a graph tensor (inspect reads its gradient).
    virtual Tensor memory() const = 0;
};

class TranslationModel : public nn::Module {
public:
    virtual ModelConfig model_config() const = 0;
    virtual std::int64_t target_vocab_size() const = 0;
    // True when decoder steps report attention weights (inspect and --show-attention need them).
    virtual bool has_attention() const = 0;
    // True when a step's weights are exactly softmax(scores), so inspect can check the softmax
    // Jacobian identity on them (false e.g. for local-p, whose weights are scaled by a Gaussian).
    virtual bool weights_are_softmax() const { return has_attention(); }
    // The most target tokens a decoder can produce (the Transformer's: the rows of its positional
    // table); the decoders stop there even when asked for more. The default has no bound.
    virtual std::int64_t max_target_len() const { return std::numeric_limits<std::int64_t>::max(); }

    // Mean token cross-entropy. src [B, S] int64 (0 = padding) with its lengths, tgt_in/tgt_out [B, T].
    virtual Tensor loss(const Tensor& src, const std::vector<std::int64_t>& src_lengths, const Tensor& tgt_in,
                        const Tensor& tgt_out, const LossOptions& options = {}) const = 0;
    // Sum of token negative log-likelihoods and the token count, no grad. The default runs loss()
    // with full teacher forcing.
    virtual std::pair<double, std::int64_t> nll_sum(const Tensor& src, const std::vector<std::int64_t>& src_lengths,
                                                    const Tensor& tgt_in, const Tensor& tgt_out) const;

    // Every attention map of a teacher-forced pass over one sentence pair (src [1, S], tgt_in [1, T]
    // = <sos> y_1 .. y_{T-1}), per kind, layer and head, without gradients. The default gives none:
    // a model with a single attention has nothing beyond the weights its decoder steps report.
    virtual std::vector<AttentionMap> attention_maps(const Tensor& src, const Tensor& tgt_in) const;

    // A teacher-forced pass over one sentence pair (src [1, S], tgt_in [1, T] = <sos> y_1 .. y_{T-1})
    // under grad mode, computed from the source embeddings as a leaf (SaliencyPass). The model's
    // training mode is its own (call eval() first: dropout would make the gradients random). The
    // default throws: an architecture that does not override it has no saliency.
    virtual SaliencyPass teacher_forced_with_embeddings(const Tensor& src, const Tensor& tgt_in) const;

    // Encodes the batch and returns its decoder, positioned before the first target token.
    virtual std::unique_ptr<StepDecoder> start_decoding(const Tensor& src,
                                                         const std::vector<std::int64_t>& src_lengths) const = 0;
};

// ---- architectures --------------------------------------------------------------------------------

using ModelFactory = std::function<std::shared_ptr<TranslationModel>(const ModelConfig&, Generator*)>;
// Adds an architecture by name (done once, e.g. from a static object in the architecture's .cpp);
// registering a name twice is an error.
void register_architecture(const std::string& name, ModelFactory factory);
// "rnn" and every registered name, sorted.
std::vector<std::string> architecture_names();
// The model a config describes, with fresh weights drawn from gen (default generator when null).
std::shared_ptr<TranslationModel> make_model(const ModelConfig& config, Generator* gen = nullptr);

}  // namespace seqgrad::models
