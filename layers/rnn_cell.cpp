// Recurrent cells from core ops. No backward is written here: every op below records its own, so
// autograd composes, for example for the GRU's last line h' = (1 − z) ⊙ n + z ⊙ h,
//   dn = dh' ⊙ (1 − z),   dz = dh' ⊙ (h − n),   dh = dh' ⊙ z (+ the paths through r, z and n),
// and for each projection g = x Wᵀ + b:  dW = dgᵀ x,  db = Σ_batch dg,  dx = dg W.
#include "layers/rnn_cell.h"

#include <cmath>

#include "core/fused_ops.h"
#include "core/ops.h"
#include "layers/gradcheck_cases.h"
#include "layers/init.h"

namespace seqgrad::nn {

// ---- the composite math -------------------------------------------------------------------------

Tensor rnn_tanh_cell(const Tensor& x, const Tensor& h, const Tensor& weight_ih, const Tensor& weight_hh,
                     const Tensor& bias_ih, const Tensor& bias_hh) {
    // x [B, in], h [B, H] -> [B, H]
    return tanh(linear(x, weight_ih, bias_ih) + linear(h, weight_hh, bias_hh));
}

Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& weight_ih, const Tensor& weight_hh,
                const Tensor& bias_ih, const Tensor& bias_hh) {
    const std::vector<Tensor> gi = chunk(linear(x, weight_ih, bias_ih), 3, 1);  // W_i* x + b_i*, 3 x [B, H]
    const std::vector<Tensor> gh = chunk(linear(h, weight_hh, bias_hh), 3, 1);  // W_h* h + b_h*, 3 x [B, H]
    const Tensor r = sigmoid(gi[0] + gh[0]);
    const Tensor z = sigmoid(gi[1] + gh[1]);
    const Tensor n = tanh(gi[2] + r * gh[2]);  // the reset gate scales W_hn h + b_hn, bias included
    return (1.0 - z) * n + z * h;
}

LSTMState lstm_cell(const Tensor& x, const LSTMState& state, const Tensor& weight_ih, const Tensor& weight_hh,
                    const Tensor& bias_ih, const Tensor& bias_hh) {
    const Tensor gates = linear(x, weight_ih, bias_ih) + linear(state.h, weight_hh, bias_hh);  // [B, 4H]
    const std::vector<Tensor> g4 = chunk(gates, 4, 1);                                         // i, f, g, o
    const Tensor i = sigmoid(g4[0]);
    const Tensor f = sigmoid(g4[1]);
    const Tensor g = tanh(g4[2]);
    const Tensor o = sigmoid(g4[3]);
    const Tensor c = f * state.c + i * g;
    return {o * tanh(c), c};
}

// ---- the modules --------------------------------------------------------------------------------

RecurrentCell::RecurrentCell(const RecurrentCellOptions& options, std::int64_t gates, const char* layer)
    : options_(options) {
    if (options.input_size <= 0 || options.hidden_size <= 0)
        fail("{}: input_size and hidden_size must be positive, got input_size={}, hidden_size={}", layer,
             options.input_size, options.hidden_size);
    if (!is_floating(options.dtype)) fail("{}: dtype must be float32 or float64, got {}", layer, dtype_name(options.dtype));
    // PyTorch's reset_parameters: every tensor U(-1/sqrt(H), 1/sqrt(H)), in this order.
    const double bound = 1.0 / std::sqrt(static_cast<double>(options.hidden_size));
    const std::int64_t rows = gates * options.hidden_size;
    auto make = [&](const char* name, const Shape& shape) {
        Tensor t = Tensor::empty(shape, options.dtype);
        init::uniform_(t, -bound, bound, options.generator);
        return register_parameter(name, t);
    };
    weight_ih = make("weight_ih", {rows, options.input_size});
    weight_hh = make("weight_hh", {rows, options.hidden_size});
    if (options.bias) {
        bias_ih = make("bias_ih", {rows});
        bias_hh = make("bias_hh", {rows});
    }
}

void RecurrentCell::check_input(const Tensor& x) const {
    check_defined(type_name().c_str(), x);
    if (x.dim() != 2 || x.size(1) != options_.input_size)
        fail("{}: input must be [B, input_size = {}], got {} (weight_ih {})", type_name(), options_.input_size,
             shape_str(x.shape()), shape_str(weight_ih.shape()));
    if (x.dtype() != weight_ih.dtype())
        fail("{}: input is {} but the parameters are {} (convert with to())", type_name(), dtype_name(x.dtype()),
             dtype_name(weight_ih.dtype()));
}

void RecurrentCell::check_state(const Tensor& x, const Tensor& state, const char* what) const {
    const Shape want{x.size(0), options_.hidden_size};
    if (state.shape() != want)
        fail("{}: {} must be [B, hidden_size] = {} for input {}, got {}", type_name(), what, shape_str(want),
             shape_str(x.shape()), shape_str(state.shape()));
    if (state.dtype() != weight_ih.dtype())
        fail("{}: {} is {} but the parameters are {}", type_name(), what, dtype_name(state.dtype()),
             dtype_name(weight_ih.dtype()));
}

Tensor RecurrentCell::zero_state(const Tensor& x) const {
    return zeros({x.size(0), options_.hidden_size}, {.dtype = weight_ih.dtype()});
}

RNNCell::RNNCell(const RNNCellOptions& options) : RecurrentCellCalls(options, 1, "RNNCell") {}

Tensor RNNCell::step(const Tensor& x, const Tensor& h) const {
    check_input(x);
    if (!h.defined()) return rnn_tanh_cell(x, zero_state(x), weight_ih, weight_hh, bias_ih, bias_hh);
    check_state(x, h, "h");
    return rnn_tanh_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh);
}

GRUCell::GRUCell(const GRUCellOptions& options) : RecurrentCellCalls(options, 3, "GRUCell") {}

Tensor GRUCell::step(const Tensor& x, const Tensor& h) const {
    check_input(x);
    if (!h.defined()) return step(x, zero_state(x));
    check_state(x, h, "h");
    // Fast path: one fused node for the gates (core/fused_ops.h), tested against gru_cell above.
    if (fast_paths_enabled()) return gru_cell_fused(linear(x, weight_ih, bias_ih), h, weight_hh, bias_hh);
    return gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh);
}

LSTMCell::LSTMCell(const LSTMCellOptions& options) : RecurrentCellCalls(options, 4, "LSTMCell") {}

LSTMState LSTMCell::step(const Tensor& x, const LSTMState& state) const {
    check_input(x);
    if (state.h.defined() != state.c.defined())
        fail("LSTMCell: give both h and c or neither (got only {}) for input {}", state.h.defined() ? "h" : "c",
             shape_str(x.shape()));
    if (!state.h.defined()) return step(x, {zero_state(x), zero_state(x)});
    check_state(x, state.h, "h");
    check_state(x, state.c, "c");
    if (fast_paths_enabled()) {  // one fused node for the gates, tested against lstm_cell above
        const Tensor hc = lstm_cell_fused(linear(x, weight_ih, bias_ih), state.h, state.c, weight_hh, bias_hh);
        const std::int64_t H = state.h.size(1);
        return {narrow(hc, 1, 0, H), narrow(hc, 1, H, H)};
    }
    return lstm_cell(x, state, weight_ih, weight_hh, bias_ih, bias_hh);
}

// ---- the gradcheck cases `seqgrad gradcheck` runs (layers/gradcheck_cases.h) --------------------

namespace {
const GradcheckCase rnn_cell_case("RNNCell", [] {
    Generator g(4);
    RNNCell m({.input_size = 3, .hidden_size = 2, .dtype = DType::Float64, .generator = &g});
    return check_layer(m, {gradcheck_input({2, 3}, g), gradcheck_input({2, 2}, g)},
                       [&](const std::vector<Tensor>& x) { return m(x[0], x[1]); });
});
const GradcheckCase gru_cell_case("GRUCell", [] {
    Generator g(5);
    GRUCell m({.input_size = 3, .hidden_size = 2, .dtype = DType::Float64, .generator = &g});
    return check_layer(m, {gradcheck_input({2, 3}, g), gradcheck_input({2, 2}, g)},
                       [&](const std::vector<Tensor>& x) { return m(x[0], x[1]); });
});
const GradcheckCase lstm_cell_case("LSTMCell", [] {
    Generator g(6);
    LSTMCell m({.input_size = 3, .hidden_size = 2, .dtype = DType::Float64, .generator = &g});
    return check_layer(m, {gradcheck_input({2, 3}, g), gradcheck_input({2, 2}, g), gradcheck_input({2, 2}, g)},
                       [&](const std::vector<Tensor>& x) {
                           LSTMState s = m(x[0], {x[1], x[2]});
                           return cat({s.h, s.c}, 1);
                       });
});
}  // namespace

}  // namespace seqgrad::nn
