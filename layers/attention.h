// Attention for one decoder step: the interface every variant shares, the factory that builds a
// variant from a config value, and Luong's two local variants (local-m, local-p).
//
// One decoder step of attention, for each sentence b of the batch:
//   e_s   = score(q, k_s)                 the score function: the only part the variants disagree on
//   α     = softmax over real positions   padding positions get exactly zero weight
//   c     = Σ_s α_s v_s                   the context vector, a batched matmul [B,1,S] x [B,S,Hv]
// Attention::attend() does the checks, the masking, the softmax and the context sum once for every
// variant; each variant only supplies scores() (layers/attention_scores.h). The local variants also
// change how weights are formed from scores (a window, a Gaussian). Everything is built from the
// differentiable ops of core/ops.h, so the backward pass comes from autograd; it is derived step by
// step in docs/backprop-through-attention.md. Equations, shapes and parameter names of every
// variant: docs/attention.md.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "layers/linear.h"
#include "layers/module.h"

namespace seqgrad::nn {

// A new kind is a value here and a row (its name and class) in the table at the end of
// layers/attention_scores.cpp; every list of kinds is read from that table.
enum class AttentionKind { Additive, Dot, General, Concat, Location, ScaledDot, Cosine, LocalM, LocalP };

// A name of the table ("additive", "scaled-dot", "local-p", ...); anything else is a ShapeError
// listing the valid names.
AttentionKind parse_attention_kind(std::string_view name);
// The inverse: AttentionKind::ScaledDot -> "scaled-dot".
const char* attention_kind_name(AttentionKind kind);
// Every kind's name, in the order of the table in layers/attention_scores.cpp: the one list the
// command line, `seqgrad gradcheck` and the tests read.
std::vector<std::string> attention_kind_names();

struct AttentionOptions {
    AttentionKind kind = AttentionKind::Additive;
    std::int64_t query_size = 0;      // Hq: the decoder state
    std::int64_t key_size = 0;        // Hk: the encoder outputs used as keys (values may have any size Hv)
    std::int64_t attention_size = 0;  // A: the hidden size of additive and concat scores (and of local-p's W_p)
    std::int64_t window = 0;          // D: local-m and local-p attend to positions within ±D of the centre
    double temperature = 1.0;         // cosine: e = cos(q, k) / temperature
    bool learn_temperature = false;   // cosine: temperature is a parameter when true
    std::int64_t max_source_len = 0;  // location: the width of W_a's output (longest source sentence)
    AttentionKind local_score = AttentionKind::General;  // the score used inside local-m / local-p
    DType dtype = DType::Float32;
    Generator* generator = nullptr;  // nullptr: the default generator
};

class Attention;

// The keys-only part of a score, computed once per source sentence and reused at every decoder step
// (W_k k_s for additive, W_a k_s for general, ...). Its gradient accumulates over all the steps that
// use it, because every step's graph points at the same tensor.
struct PreparedKeys {
    Tensor keys;                       // [B, S, Hk]: what it was made from (attend checks it gets the same)
    Tensor projected;                  // variant-specific (see docs/attention.md); undefined when none
    const Attention* owner = nullptr;  // the attention that made it
};

struct AttendContext {
    std::int64_t target_position = -1;      // t, the decoder step (0-based); local-m needs it
    const PreparedKeys* prepared = nullptr;  // from prepare(keys) of this same attention, or nullptr
};

struct AttentionOutput {
    Tensor context;  // [B, Hv]  c = Σ_s α_s v_s
    Tensor weights;  // [B, S]   α, exactly 0 at padding; kept so it can be drawn
    Tensor scores;   // [B, S]   e, before masking and softmax
};

// Softmax over the last dim of scores [..., S] restricted to positions where keep != 0:
//   α = softmax(masked_fill(e, keep == 0, -1e30)) * keep
// softmax's std::exp already gives exp(-1e30 - max) = 0; the multiplication guarantees exact zeros
// whatever exp the softmax uses (a vectorised fast exp clamps at exp(-87) ≈ 1e-38, not 0) and
// changes nothing else. keep broadcasts to scores (no gradient).
// A row with nothing kept has no softmax: the caller checks for that first.
Tensor masked_softmax(const Tensor& scores, const Tensor& keep);

// The interface of every attention variant. Not copyable (a Module); build one with make_attention.
class Attention : public Module {
public:
    // query [B, Hq], keys [B, S, Hk], values [B, S, Hv], mask [B, S] (1 = real, 0 = padding; undefined:
    // all real) -> context [B, Hv], weights [B, S], scores [B, S]. Throws ShapeError naming the variant
    // and the shapes for bad input, and for a row whose every position is masked.
    AttentionOutput attend(const Tensor& query, const Tensor& keys, const Tensor& values, const Tensor& mask,
                           const AttendContext& ctx = {}) const;
    AttentionOutput operator()(const Tensor& query, const Tensor& keys, const Tensor& values, const Tensor& mask,
                               const AttendContext& ctx = {}) const {
        return attend(query, keys, values, mask, ctx);
    }

    // keys [B, S, Hk] -> the keys-only part of the score, for AttendContext::prepared.
    PreparedKeys prepare(const Tensor& keys) const;

    // The two steps a variant supplies. attend() has checked the shapes before it calls them.
    //   project_keys: keys [B, S, Hk] -> the keys-only part (undefined when the score has none)
    //   scores:       query [B, Hq], keys [B, S, Hk], projected (from project_keys, or undefined:
    //                 compute it here) -> e [B, S]
    virtual Tensor project_keys(const Tensor& keys) const;
    virtual Tensor scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const = 0;

    AttentionKind kind() const { return options_.kind; }
    const AttentionOptions& options() const { return options_; }
    // "additive attention", used to start every error message.
    std::string label() const;

protected:
    explicit Attention(const AttentionOptions& options);
    // scores e [B, S] and keep [B, S] (1 = real) -> weights α [B, S]. The default is the plain
    // masked softmax; the local variants narrow keep to a window first.
    virtual Tensor weights(const Tensor& scores, const Tensor& keep, const Tensor& query,
                           const AttendContext& ctx) const;
    // Throws "<label>: row b has ..." when some row of keep [B, S] is all zero.
    void check_rows(const Tensor& keep, std::string_view what) const;
    // What attend() does once the inputs are checked: e = scores(), α = weights(), c = Σ_s α_s v_s.
    // keep [B, S] (1 = real), projected: the prepared keys or undefined. ScaledDotAttention replaces
    // it with scaled_dot_product_attention, the one function multi-head attention runs too.
    virtual AttentionOutput attend_checked(const Tensor& query, const Tensor& keys, const Tensor& values,
                                           const Tensor& keep, const Tensor& projected,
                                           const AttendContext& ctx) const;

    AttentionOptions options_;

private:
    void check_inputs(const Tensor& query, const Tensor& keys, const Tensor& values, const Tensor& mask) const;
};

// Builds the variant options.kind names. Options a variant does not use are ignored; missing ones
// (attention_size for additive, window for local, ...) are a ShapeError naming the variant.
std::shared_ptr<Attention> make_attention(const AttentionOptions& options);

// ---- Luong et al. (2015) local attention ----------------------------------------------------------
// Both attend only to a window [p_t - D, p_t + D] of source positions around a centre p_t, with an
// inner score (options.local_score, General by default) registered as the child "score".

// local-m (monotonic): p_t = t, the decoder step, clamped to the row's last real position:
//   p_t = min(t, S_b - 1),  keep_s = real_s and |s - p_t| <= D,  α = masked_softmax(e, keep)
// S_b is the row's real length (the number of 1s in its mask; padding is at the end).
class LocalMAttention : public Attention {
public:
    explicit LocalMAttention(const AttentionOptions& options);
    std::string type_name() const override { return "LocalMAttention"; }
    Tensor project_keys(const Tensor& keys) const override;
    Tensor scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const override;
    // keep [B, S] (1 = real) -> [B, S]: 1 where real and inside the window around min(t, S_b - 1).
    Tensor window_keep(const Tensor& keep, std::int64_t target_position) const;

    std::shared_ptr<Attention> score;

protected:
    Tensor weights(const Tensor& scores, const Tensor& keep, const Tensor& query,
                   const AttendContext& ctx) const override;
};

// local-p (predictive): the centre is predicted from the query,
//   p_t = S_b · sigmoid(v_pᵀ tanh(W_p q))                         [B]   (real-valued, in [0, S_b])
//   keep_s = real_s and |s - p_t| <= D
//   α_s = masked_softmax(e, keep)_s · exp(-(s - p_t)² / (2σ²)),  σ = D / 2
// The window's edges are a step function of p_t (no gradient), but the Gaussian is smooth in p_t,
// so W_p and v_p learn through it. Because of the Gaussian a row of α sums to at most 1, as in the paper.
class LocalPAttention : public Attention {
public:
    explicit LocalPAttention(const AttentionOptions& options);
    std::string type_name() const override { return "LocalPAttention"; }
    Tensor project_keys(const Tensor& keys) const override;
    Tensor scores(const Tensor& query, const Tensor& keys, const Tensor& projected) const override;
    // query [B, Hq], keep [B, S] -> p_t [B]
    Tensor predict_centre(const Tensor& query, const Tensor& keep) const;

    std::shared_ptr<Attention> score;
    std::shared_ptr<Linear> W_p;  // [A, Hq], no bias
    Tensor v_p;                   // [A]

protected:
    Tensor weights(const Tensor& scores, const Tensor& keep, const Tensor& query,
                   const AttendContext& ctx) const override;
};

}  // namespace seqgrad::nn
