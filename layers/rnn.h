// Sequence wrappers RNN, GRU and LSTM: num_layers x num_directions cells (layers/rnn_cell.h)
// unrolled over a batch-first sequence, as torch.nn.RNN/GRU/LSTM(batch_first=True) compute it.
//
//   x [B, T, input_size] -> output [B, T, D*H]   (D = 2 when bidirectional: forward ‖ reverse)
//                           h_n    [L*D, B, H]   (LSTM also c_n), row l*D + d for layer l, direction d
//
// Layer l > 0 reads layer l-1's output (dropout between layers while training). Parameters carry
// PyTorch's names, registered directly on the wrapper: weight_ih_l0, weight_hh_l0, bias_ih_l0,
// bias_hh_l0, then the same with _reverse, then _l1 ... so a state_dict ports both ways.
//
// Variable lengths (the equivalent of PyTorch's packed sequences): with lengths[b] = n, steps
// t >= n of sequence b are padding. A [B, 1] mask m_t per step keeps them out, with core ops only:
//   h_t = m_t ⊙ h_new + (1 − m_t) ⊙ h_{t-1}      (padding leaves the state unchanged)
//   out_t = m_t ⊙ h_new                           (exactly zero on padding; no gradient flows back)
// The reverse direction runs t = T-1 .. 0, so the state stays at its initial value until the
// sequence's own last real token, where it starts.
#pragma once
#include <vector>

#include "layers/rnn_cell.h"

namespace seqgrad::nn {

struct RecurrentOptions {
    std::int64_t input_size = 0;
    std::int64_t hidden_size = 0;
    std::int64_t num_layers = 1;
    bool bias = true;
    bool bidirectional = false;
    double dropout = 0.0;  // on every layer's output but the last, in training mode; in [0, 1)
    DType dtype = DType::Float32;
    Generator* generator = nullptr;          // initialisation only; nullptr: the default generator
    Generator* dropout_generator = nullptr;  // dropout masks (must outlive the module); nullptr: default
};
using RNNOptions = RecurrentOptions;
using GRUOptions = RecurrentOptions;
using LSTMOptions = RecurrentOptions;

struct RNNOutput {
    Tensor output;  // [B, T, D*H]; zero on padded steps
    Tensor h_n;     // [L*D, B, H]; each sequence's state after its last real step
    Tensor c_n;     // [L*D, B, H] for LSTM; undefined for RNN and GRU
};

namespace detail {

// What RNN, GRU and LSTM share: the cells, the parameter names, the checks and the unrolling.
template <typename Cell>
class RecurrentStack : public Module {
public:
    const RecurrentOptions& options() const { return options_; }
    std::int64_t num_directions() const { return options_.bidirectional ? 2 : 1; }
    // The cell of one layer and direction (0: forward, 1: reverse). Its tensors are this module's
    // parameters (weight_ih_l{layer}[_reverse] ...), shared, not copied.
    const Cell& cell(std::int64_t layer, std::int64_t direction = 0) const;

protected:
    // layer: the type name for constructor errors.
    RecurrentStack(const RecurrentOptions& options, const char* layer);
    // initial.h / initial.c: [L*D, B, H] or undefined (zeros); c is used by LSTM only.
    RNNOutput run(const Tensor& x, const LSTMState& initial, const std::vector<std::int64_t>& lengths) const;

private:
    void check(const Tensor& x, const LSTMState& initial, const std::vector<std::int64_t>& lengths) const;

    RecurrentOptions options_;
    std::vector<std::shared_ptr<Cell>> cells_;  // index layer * D + direction
};

}  // namespace detail

// Defined in layers/rnn.cpp for the three cell types.
extern template class detail::RecurrentStack<RNNCell>;
extern template class detail::RecurrentStack<GRUCell>;
extern template class detail::RecurrentStack<LSTMCell>;

namespace detail {

inline LSTMState initial_state(const Tensor& h0) { return {h0, Tensor()}; }
inline const LSTMState& initial_state(const LSTMState& initial) { return initial; }

// forward() and operator() of RNN, GRU (Initial = Tensor: h0) and LSTM (Initial = LSTMState).
template <typename Cell, typename Initial>
class RecurrentLayer : public RecurrentStack<Cell> {
public:
    // x [B, T, input_size]; h0 [L*D, B, H] or undefined (zeros) (LSTM: initial {h0, c0}, each
    // [L*D, B, H], both or neither); lengths: empty or B values in 1..T
    RNNOutput forward(const Tensor& x, const Initial& initial = Initial(),
                      const std::vector<std::int64_t>& lengths = {}) const {
        return this->run(x, initial_state(initial), lengths);
    }
    RNNOutput operator()(const Tensor& x, const Initial& initial = Initial(),
                         const std::vector<std::int64_t>& lengths = {}) const {
        return forward(x, initial, lengths);
    }

protected:
    using RecurrentStack<Cell>::RecurrentStack;
};

}  // namespace detail

// Elman RNN with tanh.
class RNN final : public detail::RecurrentLayer<RNNCell, Tensor> {
public:
    explicit RNN(const RNNOptions& options) : RecurrentLayer(options, "RNN") {}
    std::string type_name() const override { return "RNN"; }
};

class GRU final : public detail::RecurrentLayer<GRUCell, Tensor> {
public:
    explicit GRU(const GRUOptions& options) : RecurrentLayer(options, "GRU") {}
    std::string type_name() const override { return "GRU"; }
};

class LSTM final : public detail::RecurrentLayer<LSTMCell, LSTMState> {
public:
    explicit LSTM(const LSTMOptions& options) : RecurrentLayer(options, "LSTM") {}
    std::string type_name() const override { return "LSTM"; }
};

}  // namespace seqgrad::nn
