// Recurrent cells: one time step of an Elman RNN (tanh), a GRU and an LSTM, written from core ops
// (linear, chunk, sigmoid, tanh, mul, add), so autograd derives their backward and a reader can
// follow every gradient. Equations and weight layout are PyTorch's (torch.nn.RNNCell, GRUCell,
// LSTMCell), so weights port both ways:
//
//   weight_ih [G*H, input_size]   weight_hh [G*H, H]   bias_ih [G*H]   bias_hh [G*H]
//   G = 1 (RNNCell), 3 (GRUCell: row blocks r, z, n), 4 (LSTMCell: row blocks i, f, g, o)
//
// Every tensor starts U(-1/sqrt(H), 1/sqrt(H)), PyTorch's default. The input projection of all
// gates is one gemm (linear(x, weight_ih, bias_ih)), the recurrent one another; chunk splits them.
//
// The free functions rnn_tanh_cell / gru_cell / lstm_cell are the math itself, without validation:
// the modules check shapes and call them, and a fused kernel is tested against them (the reference).
// The sequence wrappers RNN / GRU / LSTM (layers/rnn.h) unroll these cells over time.
#pragma once
#include "layers/module.h"

namespace seqgrad::nn {

// The state of an LSTM: h and c, each [B, H] for a cell ([L*D, B, H] for the LSTM wrapper).
// Both undefined means "start from zeros".
struct LSTMState {
    Tensor h;
    Tensor c;
};

// ---- the composite math (no validation) ---------------------------------------------------------
// x [B, in], h [B, H]; biases may be undefined (bias = false).

// h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
Tensor rnn_tanh_cell(const Tensor& x, const Tensor& h, const Tensor& weight_ih, const Tensor& weight_hh,
                     const Tensor& bias_ih = Tensor(), const Tensor& bias_hh = Tensor());

// r  = σ(W_ir x + b_ir + W_hr h + b_hr)
// z  = σ(W_iz x + b_iz + W_hz h + b_hz)
// n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
// h' = (1 − z) ⊙ n + z ⊙ h
Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& weight_ih, const Tensor& weight_hh,
                const Tensor& bias_ih = Tensor(), const Tensor& bias_hh = Tensor());

// i = σ(W_ii x + b_ii + W_hi h + b_hi)      f = σ(W_if x + b_if + W_hf h + b_hf)
// g = tanh(W_ig x + b_ig + W_hg h + b_hg)   o = σ(W_io x + b_io + W_ho h + b_ho)
// c' = f ⊙ c + i ⊙ g,   h' = o ⊙ tanh(c')
LSTMState lstm_cell(const Tensor& x, const LSTMState& state, const Tensor& weight_ih, const Tensor& weight_hh,
                    const Tensor& bias_ih = Tensor(), const Tensor& bias_hh = Tensor());

// ---- the modules --------------------------------------------------------------------------------

struct RecurrentCellOptions {
    std::int64_t input_size = 0;
    std::int64_t hidden_size = 0;
    bool bias = true;
    DType dtype = DType::Float32;
    Generator* generator = nullptr;  // initialisation only; nullptr: the default generator
};
using RNNCellOptions = RecurrentCellOptions;
using GRUCellOptions = RecurrentCellOptions;
using LSTMCellOptions = RecurrentCellOptions;

// What the three cells share: the four tensors, their initialisation and the shape checks.
class RecurrentCell : public Module {
public:
    Tensor weight_ih;  // [G*H, input_size]
    Tensor weight_hh;  // [G*H, H]
    Tensor bias_ih;    // [G*H], undefined when options.bias is false
    Tensor bias_hh;    // [G*H], undefined when options.bias is false

    const RecurrentCellOptions& options() const { return options_; }
    std::int64_t input_size() const { return options_.input_size; }
    std::int64_t hidden_size() const { return options_.hidden_size; }

protected:
    // layer: the type name for constructor errors (type_name() is not yet callable there).
    RecurrentCell(const RecurrentCellOptions& options, std::int64_t gates, const char* layer);
    // Throws ShapeError naming the layer unless x is [B, input_size] and `state` (when defined) is
    // [B, hidden_size], all with the parameters' dtype. `what` names the state ("h" or "c").
    void check_input(const Tensor& x) const;
    void check_state(const Tensor& x, const Tensor& state, const char* what) const;
    // zeros [B, H] for x [B, input_size]
    Tensor zero_state(const Tensor& x) const;

private:
    RecurrentCellOptions options_;
};

// forward() and operator() of the cells: both are Cell's step(x, state), the state undefined
// (zeros) by default. State is Tensor (h) for RNNCell and GRUCell, LSTMState for LSTMCell.
template <typename Cell, typename State>
class RecurrentCellCalls : public RecurrentCell {
public:
    State forward(const Tensor& x, const State& state = State()) const { return cell().step(x, state); }
    State operator()(const Tensor& x, const State& state = State()) const { return cell().step(x, state); }

protected:
    using RecurrentCell::RecurrentCell;

private:
    const Cell& cell() const { return static_cast<const Cell&>(*this); }
};

// Elman RNN cell with tanh: h' = tanh(W_ih x + b_ih + W_hh h + b_hh).
class RNNCell : public RecurrentCellCalls<RNNCell, Tensor> {
public:
    explicit RNNCell(const RNNCellOptions& options);
    std::string type_name() const override { return "RNNCell"; }
    // x [B, input_size], h [B, H] (undefined: zeros) -> h' [B, H]
    Tensor step(const Tensor& x, const Tensor& h) const;
};

// GRU cell (gate order r, z, n; b_hn inside r ⊙ (...), as PyTorch and cuDNN).
class GRUCell : public RecurrentCellCalls<GRUCell, Tensor> {
public:
    explicit GRUCell(const GRUCellOptions& options);
    std::string type_name() const override { return "GRUCell"; }
    // x [B, input_size], h [B, H] (undefined: zeros) -> h' [B, H]
    Tensor step(const Tensor& x, const Tensor& h) const;
};

// LSTM cell (gate order i, f, g, o).
class LSTMCell : public RecurrentCellCalls<LSTMCell, LSTMState> {
public:
    explicit LSTMCell(const LSTMCellOptions& options);
    std::string type_name() const override { return "LSTMCell"; }
    // x [B, input_size], state {h [B, H], c [B, H]} (both undefined: zeros) -> {h', c'}
    LSTMState step(const Tensor& x, const LSTMState& state) const;
};

}  // namespace seqgrad::nn
