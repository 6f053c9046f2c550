#!/usr/bin/env python3
"""Cross-check seqgrad's GRU and LSTM against torch.nn.GRU / torch.nn.LSTM, weights in both directions.
Optional and not part of ctest (needs python3-torch); exits 0 with a message when torch is absent.

    python3 tests/torch_crosscheck_rnn.py build/tests/seqgrad_tests

For each cell, in float64, 2 layers, bidirectional, batch_first, padded sequences of lengths
(6, 4, 1) and (6, 2, 4), given initial states:
  1. torch -> seqgrad: torch builds the module with its own initialisation, runs forward and
     backward (upstream gradients for output, h_n and c_n) and writes torch_<cell>.safetensors:
     the weights under PyTorch's names, the inputs, and every result. The hidden Catch2 test
     "[.crosscheck_rnn]" (tests/test_crosscheck_rnn.cpp) loads the weights into seqgrad and
     requires every output and gradient to agree within 1e-12.
  2. seqgrad -> torch: the same test writes seqgrad_<cell>.safetensors from seqgrad's own initial
     weights; this script loads them into torch (load_state_dict, strict) and compares the same way.
Padding is torch's packed sequences (pack_padded_sequence, enforce_sorted=False), which is what
seqgrad's per-sequence lengths mean: padded steps output zero and leave the state unchanged.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_crosscheck_safetensors  # noqa: E402,F401  (the numpy check happens there)

try:
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    from torch_crosscheck_common import (compare, load_weights, read_case, run_both_ways, seeded, with_parameter_grads,
                                         write_case)
except ImportError:
    print("torch is not installed (Debian: apt-get install python3-torch): skipping the GRU/LSTM cross-check")
    sys.exit(0)

INPUT, HIDDEN, LAYERS, BATCH, STEPS = 5, 4, 2, 3, 6
TOL = 1e-12


def make_module(cell):
    cls = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
    return cls(INPUT, HIDDEN, num_layers=LAYERS, bidirectional=True, batch_first=True).double()


def run(module, cell, t):
    """Forward and backward in torch; returns the results under the names the C++ test uses."""
    lstm = cell == "lstm"
    x = t["x"].clone().requires_grad_()
    h0 = t["h0"].clone().requires_grad_()
    c0 = t["c0"].clone().requires_grad_() if lstm else None
    lengths = t["lengths"].long()
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, state = module(packed, (h0, c0) if lstm else h0)
    output, _ = pad_packed_sequence(out, batch_first=True, total_length=STEPS)
    h_n, c_n = state if lstm else (state, None)
    outs, grads = [output, h_n], [t["grad_output"], t["grad_h_n"]]
    if lstm:
        outs.append(c_n)
        grads.append(t["grad_c_n"])
    module.zero_grad()
    torch.autograd.backward(outs, grads)
    r = {"output": output.detach(), "h_n": h_n.detach(), "grad.x": x.grad, "grad.h0": h0.grad}
    if lstm:
        r["c_n"] = c_n.detach()
        r["grad.c0"] = c0.grad
    return with_parameter_grads(r, module)


def write_torch_case(path, cell, seed):
    module, randn = seeded(seed, lambda: make_module(cell))
    states = LAYERS * 2
    t = {
        "x": randn(BATCH, STEPS, INPUT),
        "h0": randn(states, BATCH, HIDDEN),
        "lengths": torch.tensor([6, 4, 1], dtype=torch.int64),
        "grad_output": randn(BATCH, STEPS, 2 * HIDDEN),
        "grad_h_n": randn(states, BATCH, HIDDEN),
    }
    if cell == "lstm":
        t["c0"] = randn(states, BATCH, HIDDEN)
        t["grad_c_n"] = randn(states, BATCH, HIDDEN)
    write_case(path, t, dict(module.named_parameters()), run(module, cell, t))


def check_seqgrad_case(path, cell):
    t = read_case(path)
    module = make_module(cell)
    names = [name for name, _ in module.named_parameters()]
    load_weights(module, t, names)
    results = run(module, cell, t)
    problems, _ = compare(cell, results, t, TOL)
    print(f"seqgrad -> torch, {cell}: {len(results)} tensors compared (weights: {', '.join(names[:4])}, ...)")
    return problems


def main():
    cells = ["gru", "lstm"]
    cases = [(f"torch_{cell}.safetensors", lambda path, cell=cell, i=i: write_torch_case(path, cell, seed=100 + i),
              f"seqgrad_{cell}.safetensors", lambda path, cell=cell: check_seqgrad_case(path, cell))
             for i, cell in enumerate(cells)]
    return run_both_ways(sys.argv, __doc__, "rnn", "[crosscheck_rnn]", cases,
                         "torch -> seqgrad, gru and lstm: outputs, final states and every gradient agree within 1e-12",
                         "OK: GRU and LSTM weights port both ways; outputs and gradients agree")


if __name__ == "__main__":
    sys.exit(main())
