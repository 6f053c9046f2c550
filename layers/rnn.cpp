// Sequence wrappers: the layer stack, the time loop over the cells and the variable-length masking.
// Like the cells, this is composed from core ops only (select, stack, cat, mul, add, dropout), so
// backpropagation through time is autograd walking back through the unrolled graph.
#include "layers/rnn.h"

#include <algorithm>
#include <type_traits>

#include "core/fused_ops.h"
#include "core/ops.h"
#include "layers/gradcheck_cases.h"

namespace seqgrad::nn {

namespace {

// One step of any cell on a common state {h, c}; c stays undefined for RNN and GRU.
LSTMState advance(const RNNCell& cell, const Tensor& x, const LSTMState& s) { return {cell.step(x, s.h), Tensor()}; }
LSTMState advance(const GRUCell& cell, const Tensor& x, const LSTMState& s) { return {cell.step(x, s.h), Tensor()}; }
LSTMState advance(const LSTMCell& cell, const Tensor& x, const LSTMState& s) { return cell.step(x, s); }

template <typename Cell>
constexpr bool has_cell_state = std::is_same_v<Cell, LSTMCell>;

// Fast path (core/fused_ops.h): the input projection gx = x W_ihᵀ + b_ih is one gemm over all T
// steps, [B·T, in] x [in, G·H], taken before the time loop; each step then runs the fused cell on
// its slice of gx. Same math as advance() (tested against it in tests/test_fused_ops.cpp).
template <typename Cell>
constexpr bool has_projected_step = std::is_same_v<Cell, GRUCell> || std::is_same_v<Cell, LSTMCell>;

LSTMState advance_projected(const GRUCell& cell, const Tensor& gx, const LSTMState& s) {
    return {gru_cell_fused(gx, s.h, cell.weight_hh, cell.bias_hh), Tensor()};
}
LSTMState advance_projected(const LSTMCell& cell, const Tensor& gx, const LSTMState& s) {
    const Tensor hc = lstm_cell_fused(gx, s.h, s.c, cell.weight_hh, cell.bias_hh);  // [B, 2H]: h', c'
    const std::int64_t H = s.h.size(1);
    return {narrow(hc, 1, 0, H), narrow(hc, 1, H, H)};
}


// state = m ⊙ fresh + (1 − m) ⊙ old, with m [B, 1] of 0/1 and keep = 1 − m precomputed.
//   dfresh = m ⊙ dstate,   dold = (1 − m) ⊙ dstate   (padding passes the gradient straight through)
Tensor blend(const Tensor& m, const Tensor& keep, const Tensor& fresh, const Tensor& old) {
    return m * fresh + keep * old;
}

}  // namespace

namespace detail {

template <typename Cell>
RecurrentStack<Cell>::RecurrentStack(const RecurrentOptions& options, const char* layer) : options_(options) {
    if (options.input_size <= 0 || options.hidden_size <= 0 || options.num_layers <= 0)
        fail("{}: input_size, hidden_size and num_layers must be positive, got input_size={}, hidden_size={}, "
             "num_layers={}",
             layer, options.input_size, options.hidden_size, options.num_layers);
    if (!(options.dropout >= 0.0 && options.dropout < 1.0))
        fail("{}: dropout must be in [0, 1), got {}", layer, options.dropout);
    const std::int64_t D = num_directions(), H = options.hidden_size;
    // Same order as PyTorch's parameters: layer by layer, forward before reverse.
    for (std::int64_t l = 0; l < options.num_layers; ++l) {
        for (std::int64_t d = 0; d < D; ++d) {
            auto cell = std::make_shared<Cell>(RecurrentCellOptions{.input_size = l == 0 ? options.input_size : D * H,
                                                                    .hidden_size = H,
                                                                    .bias = options.bias,
                                                                    .dtype = options.dtype,
                                                                    .generator = options.generator});
            const std::string suffix = fmt::format("_l{}{}", l, d == 1 ? "_reverse" : "");
            register_parameter("weight_ih" + suffix, cell->weight_ih);
            register_parameter("weight_hh" + suffix, cell->weight_hh);
            if (options.bias) {
                register_parameter("bias_ih" + suffix, cell->bias_ih);
                register_parameter("bias_hh" + suffix, cell->bias_hh);
            }
            cells_.push_back(std::move(cell));
        }
    }
}

template <typename Cell>
const Cell& RecurrentStack<Cell>::cell(std::int64_t layer, std::int64_t direction) const {
    if (layer < 0 || layer >= options_.num_layers || direction < 0 || direction >= num_directions())
        fail<IndexError>("{}: no cell for layer {}, direction {} (num_layers = {}, num_directions = {})", type_name(),
                         layer, direction, options_.num_layers, num_directions());
    return *cells_[static_cast<std::size_t>(layer * num_directions() + direction)];
}

template <typename Cell>
void RecurrentStack<Cell>::check(const Tensor& x, const LSTMState& initial,
                                 const std::vector<std::int64_t>& lengths) const {
    const std::string name = type_name();
    check_defined(name.c_str(), x);
    if (x.dim() != 3 || x.size(2) != options_.input_size || x.size(0) == 0 || x.size(1) == 0)
        fail("{}: input must be [B, T, input_size = {}] (batch first, B and T at least 1), got {}", name,
             options_.input_size, shape_str(x.shape()));
    const DType dtype = cells_.front()->weight_ih.dtype();
    if (x.dtype() != dtype)
        fail("{}: input is {} but the parameters are {} (convert with to())", name, dtype_name(x.dtype()),
             dtype_name(dtype));
    const std::int64_t B = x.size(0), T = x.size(1);

    if constexpr (has_cell_state<Cell>) {
        if (initial.h.defined() != initial.c.defined())
            fail("{}: give both initial h0 and c0 or neither (got only {}) for input {}", name,
                 initial.h.defined() ? "h0" : "c0", shape_str(x.shape()));
    }
    const Shape want{options_.num_layers * num_directions(), B, options_.hidden_size};
    for (const auto& [state, what] : {std::pair{initial.h, "h0"}, std::pair{initial.c, "c0"}}) {
        if (!state.defined()) continue;
        if (state.shape() != want)
            fail("{}: initial {} must be [num_layers * num_directions, B, hidden_size] = {} for input {}, got {}", name,
                 what, shape_str(want), shape_str(x.shape()), shape_str(state.shape()));
        if (state.dtype() != dtype)
            fail("{}: initial {} is {} but the parameters are {}", name, what, dtype_name(state.dtype()),
                 dtype_name(dtype));
    }

    if (lengths.empty()) return;
    if (static_cast<std::int64_t>(lengths.size()) != B)
        fail("{}: lengths has {} entries but the batch has B = {} sequences (input {})", name, lengths.size(), B,
             shape_str(x.shape()));
    for (std::size_t b = 0; b < lengths.size(); ++b)
        if (lengths[b] < 1 || lengths[b] > T)
            fail("{}: lengths[{}] = {} is outside [1, T = {}] (input {})", name, b, lengths[b], T, shape_str(x.shape()));
}

template <typename Cell>
RNNOutput RecurrentStack<Cell>::run(const Tensor& x, const LSTMState& initial,
                                    const std::vector<std::int64_t>& lengths) const {
    check(x, initial, lengths);
    const std::int64_t B = x.size(0), T = x.size(1), H = options_.hidden_size;
    const std::int64_t L = options_.num_layers, D = num_directions();

    // masks[t] = m_t [B, 1]: 1 where step t is a real token of sequence b, 0 on padding;
    // keeps[t] = 1 − m_t. Left empty when no sequence is padded (then nothing is masked).
    std::vector<Tensor> masks, keeps;
    if (std::any_of(lengths.begin(), lengths.end(), [&](std::int64_t n) { return n < T; })) {
        for (std::int64_t t = 0; t < T; ++t) {
            std::vector<double> m(static_cast<std::size_t>(B));
            for (std::int64_t b = 0; b < B; ++b) m[b] = t < lengths[b] ? 1.0 : 0.0;
            masks.push_back(Tensor::from(m, {B, 1}, {.dtype = x.dtype()}));
            keeps.push_back(1.0 - masks.back());
        }
    }

    Tensor input = x;  // [B, T, F] for layer 0, [B, T, D*H] above
    std::vector<Tensor> h_n, c_n;
    for (std::int64_t l = 0; l < L; ++l) {
        std::vector<Tensor> directions;  // D x [B, T, H]
        for (std::int64_t d = 0; d < D; ++d) {
            const Cell& c = cell(l, d);
            const std::int64_t row = l * D + d;  // this cell's row of h0 / h_n
            LSTMState state;                     // h, c: [B, H]
            state.h = initial.h.defined() ? select(initial.h, 0, row) : zeros({B, H}, {.dtype = x.dtype()});
            if constexpr (has_cell_state<Cell>)
                state.c = initial.c.defined() ? select(initial.c, 0, row) : zeros({B, H}, {.dtype = x.dtype()});

            std::vector<Tensor> outputs(static_cast<std::size_t>(T));  // T x [B, H]
            const bool projected = has_projected_step<Cell> && fast_paths_enabled();
            const Tensor gx = projected ? linear(input, c.weight_ih, c.bias_ih) : Tensor();  // [B, T, G*H]
            for (std::int64_t s = 0; s < T; ++s) {
                const std::int64_t t = d == 0 ? s : T - 1 - s;  // the reverse direction walks back
                LSTMState fresh;
                if constexpr (has_projected_step<Cell>) {
                    fresh = projected ? advance_projected(c, select(gx, 1, t), state) : advance(c, select(input, 1, t), state);
                } else {
                    fresh = advance(c, select(input, 1, t), state);
                }
                if (masks.empty()) {
                    state = fresh;
                    outputs[t] = fresh.h;
                } else {
                    outputs[t] = masks[t] * fresh.h;  // zero on padding
                    state.h = blend(masks[t], keeps[t], fresh.h, state.h);
                    if constexpr (has_cell_state<Cell>) state.c = blend(masks[t], keeps[t], fresh.c, state.c);
                }
            }
            directions.push_back(stack(outputs, 1));
            h_n.push_back(state.h);
            if constexpr (has_cell_state<Cell>) c_n.push_back(state.c);
        }
        input = D == 2 ? cat(directions, 2) : directions.front();  // [B, T, D*H]: forward ‖ reverse
        if (l + 1 < L && options_.dropout > 0.0)
            input = dropout(input, options_.dropout, is_training(), options_.dropout_generator);
    }
    RNNOutput out;
    out.output = input;
    out.h_n = stack(h_n, 0);  // [L*D, B, H]
    if constexpr (has_cell_state<Cell>) out.c_n = stack(c_n, 0);
    return out;
}

template class RecurrentStack<RNNCell>;
template class RecurrentStack<GRUCell>;
template class RecurrentStack<LSTMCell>;

}  // namespace detail

// ---- the gradcheck cases `seqgrad gradcheck` runs (layers/gradcheck_cases.h) --------------------

namespace {
// Two layers, both directions, and a batch of lengths 3 and 2 (the second row padded).
const GradcheckCase gru_case("GRU", [] {
    Generator g(7);
    GRU m({.input_size = 3, .hidden_size = 2, .num_layers = 2, .bidirectional = true, .dtype = DType::Float64,
           .generator = &g});
    return check_layer(m, {gradcheck_input({2, 3, 3}, g)},
                       [&](const std::vector<Tensor>& x) { return m(x[0], Tensor(), {3, 2}).output; });
});
const GradcheckCase lstm_case("LSTM", [] {
    Generator g(8);
    LSTM m({.input_size = 3, .hidden_size = 2, .num_layers = 2, .bidirectional = true, .dtype = DType::Float64,
            .generator = &g});
    return check_layer(m, {gradcheck_input({2, 3, 3}, g)},
                       [&](const std::vector<Tensor>& x) { return m(x[0], {}, {3, 2}).output; });
});
}  // namespace

}  // namespace seqgrad::nn
