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
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_crosscheck_safetensors import read_numpy, write_numpy  # noqa: E402  (numpy check happens there)

try:
    import numpy as np
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
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
    for name, p in module.named_parameters():
        r["grad." + name] = p.grad
    return r


def write_torch_case(path, cell, seed):
    torch.manual_seed(seed)
    module = make_module(cell)
    g = torch.Generator().manual_seed(seed + 1)
    states = LAYERS * 2
    t = {
        "x": torch.randn(BATCH, STEPS, INPUT, generator=g, dtype=torch.float64),
        "h0": torch.randn(states, BATCH, HIDDEN, generator=g, dtype=torch.float64),
        "lengths": torch.tensor([6, 4, 1], dtype=torch.int64),
        "grad_output": torch.randn(BATCH, STEPS, 2 * HIDDEN, generator=g, dtype=torch.float64),
        "grad_h_n": torch.randn(states, BATCH, HIDDEN, generator=g, dtype=torch.float64),
    }
    if cell == "lstm":
        t["c0"] = torch.randn(states, BATCH, HIDDEN, generator=g, dtype=torch.float64)
        t["grad_c_n"] = torch.randn(states, BATCH, HIDDEN, generator=g, dtype=torch.float64)
    results = run(module, cell, t)
    arrays = {k: v.numpy() for k, v in t.items()}
    arrays.update({name: p.detach().numpy() for name, p in module.named_parameters()})
    arrays.update({k: v.numpy() for k, v in results.items()})
    write_numpy(path, arrays, {"source": "torch"})


def check_seqgrad_case(path, cell):
    arrays, _, _, _ = read_numpy(path)
    t = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}
    module = make_module(cell)
    names = [name for name, _ in module.named_parameters()]
    module.load_state_dict({name: t[name] for name in names}, strict=True)
    results = run(module, cell, t)
    problems = []
    for name, want in results.items():
        got = t[name]
        if got.shape != want.shape:
            problems.append(f"{cell} {name}: shape {tuple(got.shape)} vs torch {tuple(want.shape)}")
            continue
        worst = (got - want).abs().max().item() if want.numel() else 0.0
        if not worst < TOL:
            problems.append(f"{cell} {name}: largest difference {worst:.3g}")
    print(f"seqgrad -> torch, {cell}: {len(results)} tensors compared (weights: {', '.join(names[:4])}, ...)")
    return problems


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    print(f"torch {torch.__version__}")
    with tempfile.TemporaryDirectory(prefix="seqgrad_rnn_crosscheck_") as d:
        for i, cell in enumerate(["gru", "lstm"]):
            write_torch_case(os.path.join(d, f"torch_{cell}.safetensors"), cell, seed=100 + i)
        env = dict(os.environ, SEQGRAD_CROSSCHECK_DIR=d)
        r = subprocess.run([binary, "[crosscheck_rnn]"], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout, r.stderr, sep="\n")
            print("FAILED: seqgrad with torch's weights does not compute what torch computed")
            return 1
        print("torch -> seqgrad, gru and lstm: outputs, final states and every gradient agree within 1e-12")
        problems = []
        for cell in ["gru", "lstm"]:
            problems += check_seqgrad_case(os.path.join(d, f"seqgrad_{cell}.safetensors"), cell)
    for p in problems:
        print("MISMATCH:", p)
    print("FAILED" if problems else "OK: GRU and LSTM weights port both ways; outputs and gradients agree")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
