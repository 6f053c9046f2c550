#!/usr/bin/env python3
"""Cross-check seqgrad's nn::Transformer against torch.nn.Transformer, weights in both directions.
Optional and not part of ctest (needs python3-torch); exits 0 with a message when torch is absent.

    python3 tests/torch_crosscheck_transformer.py build/tests/seqgrad_tests

Two variants, float64, batch_first, d_model 8, 2 heads, 2 encoder + 2 decoder layers, feed-forward 16,
dropout 0 (so both sides compute the same function in training mode):
  post: post-norm (Vaswani et al., nn.Transformer's default), ReLU
  pre:  pre-norm (norm_first=True), GELU in its tanh form (F.gelu(x, approximate="tanh"))
with padded source and target sentences (src/tgt/memory key padding masks) and the causal target
mask (nn.Transformer.generate_square_subsequent_mask).
  1. torch -> seqgrad: torch builds the model with its own initialisation, runs forward and backward
     of L = sum(output * grad_output) and writes torch_transformer_<variant>.safetensors: the state
     dict under PyTorch's names, the inputs and every result. The hidden Catch2 test
     "[.crosscheck_transformer]" (tests/test_crosscheck_transformer.cpp) loads the weights into
     seqgrad and requires the output and every gradient to agree within 1e-11.
  2. seqgrad -> torch: the same test writes seqgrad_transformer_<variant>.safetensors from seqgrad's
     own initial weights; this script loads them into torch (load_state_dict, strict) and compares.
seqgrad's masks are 1 = real; torch's key padding masks are True = ignore: the script converts.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_crosscheck_safetensors  # noqa: E402,F401  (the numpy check happens there)

try:
    import torch
    import torch.nn.functional as F
    from torch_crosscheck_common import (compare, load_weights, read_case, run_both_ways, seeded, with_parameter_grads,
                                         write_case)
except ImportError:
    print("torch is not installed (Debian: apt-get install python3-torch): skipping the Transformer cross-check")
    sys.exit(0)

D_MODEL, HEADS, LAYERS, FF, BATCH, SRC, TGT = 8, 2, 2, 16, 3, 5, 4
SRC_LENGTHS, TGT_LENGTHS = [5, 3, 1], [4, 2, 3]
TOL = 1e-11
VARIANTS = ["post", "pre"]


def gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


def make_model(variant):
    pre = variant == "pre"
    return torch.nn.Transformer(d_model=D_MODEL, nhead=HEADS, num_encoder_layers=LAYERS, num_decoder_layers=LAYERS,
                                dim_feedforward=FF, dropout=0.0, activation=gelu_tanh if pre else F.relu,
                                batch_first=True, norm_first=pre).double()


def real_mask(lengths, total):
    """seqgrad's convention, float64 [B, L]: 1 on real positions, 0 on padding."""
    return torch.tensor([[1.0 if i < n else 0.0 for i in range(total)] for n in lengths], dtype=torch.float64)


def run(model, t):
    """Forward and backward in torch; returns the results under the names the C++ test uses."""
    src = t["src"].clone().requires_grad_()
    tgt = t["tgt"].clone().requires_grad_()
    src_ignore = t["src_mask"] == 0  # torch: True = padding
    tgt_ignore = t["tgt_mask"] == 0
    causal = torch.triu(torch.ones(TGT, TGT, dtype=torch.bool), diagonal=1)  # True above the diagonal: hidden
    model.train()
    model.zero_grad()
    out = model(src, tgt, tgt_mask=causal, src_key_padding_mask=src_ignore, tgt_key_padding_mask=tgt_ignore,
                memory_key_padding_mask=src_ignore)
    (out * t["grad_output"]).sum().backward()
    return with_parameter_grads({"output": out.detach(), "grad.src": src.grad, "grad.tgt": tgt.grad}, model)


def write_torch_case(path, variant, seed):
    model, randn = seeded(seed, lambda: make_model(variant))
    t = {
        "src": randn(BATCH, SRC, D_MODEL),
        "tgt": randn(BATCH, TGT, D_MODEL),
        "src_mask": real_mask(SRC_LENGTHS, SRC),
        "tgt_mask": real_mask(TGT_LENGTHS, TGT),
        "grad_output": randn(BATCH, TGT, D_MODEL),
    }
    write_case(path, t, model.state_dict(), run(model, t))


def check_seqgrad_case(path, variant):
    t = read_case(path)
    model = make_model(variant)
    names = list(model.state_dict().keys())
    load_weights(model, t, names)
    results = run(model, t)
    problems, largest = compare(variant, results, t, TOL)
    print(f"seqgrad -> torch, {variant}-norm: {len(results)} tensors compared ({len(names)} weights), "
          f"largest difference {largest:.2g}")
    return problems


def main():
    cases = [(f"torch_transformer_{variant}.safetensors",
              lambda path, variant=variant, i=i: write_torch_case(path, variant, seed=300 + i),
              f"seqgrad_transformer_{variant}.safetensors", lambda path, variant=variant: check_seqgrad_case(path, variant))
             for i, variant in enumerate(VARIANTS)]
    return run_both_ways(sys.argv, __doc__, "transformer", "[crosscheck_transformer]", cases,
                         f"torch -> seqgrad, post-norm and pre-norm: the output and every gradient agree within {TOL:g}",
                         "OK: nn.Transformer weights port both ways; outputs and gradients agree")


if __name__ == "__main__":
    sys.exit(main())
