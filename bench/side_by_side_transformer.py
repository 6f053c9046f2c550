#!/usr/bin/env python3
"""Side-by-side speed check: seqgrad's Transformer against torch.nn.Transformer on the same step.

The configuration is the base of the speed targets: d_model 256, 4 heads, 3 encoder + 3 decoder
layers, feed-forward 1024, dropout 0.1, batch 64, source and target length 20, vocabularies
8000/8000, Adam, the causal mask on the target, random token ids. One step = forward + backward +
optimizer update. The two sides run in turn (seqgrad, torch, seqgrad, torch, ...) in this one
session, so their ratio holds when the machine's speed drifts; the medians are printed.

    /usr/bin/python3 bench/side_by_side_transformer.py                   # fp32, 1 thread
    /usr/bin/python3 bench/side_by_side_transformer.py --bf16            # bf16 on both sides
    /usr/bin/python3 bench/side_by_side_transformer.py --rounds 5 --steps 10

Needs Debian's python3-torch; without it, prints a note and exits 0 (it is optional).
"""
import argparse
import math
import statistics
import sys

from side_by_side_common import (add_backend_arguments, add_common_arguments, seeded_torch, seqgrad_bench,
                                 timed_steps, torch_available, training_step)


def build_torch_step(a):
    torch = seeded_torch(a)
    import torch.nn as nn

    D = a.d_model

    class Translator(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_embed = nn.Embedding(a.src_vocab, D)
            self.tgt_embed = nn.Embedding(a.tgt_vocab, D)
            position = torch.arange(512).unsqueeze(1)
            freq = torch.exp(torch.arange(0, D, 2) * (-math.log(10000.0) / D))
            table = torch.zeros(512, D)
            table[:, 0::2] = torch.sin(position * freq)
            table[:, 1::2] = torch.cos(position * freq)
            self.register_buffer("positions", table)
            self.transformer = nn.Transformer(D, a.heads, a.layers, a.layers, a.ff, dropout=a.dropout,
                                              batch_first=True)
            self.generator = nn.Linear(D, a.tgt_vocab)

        def forward(self, src, tgt_in):
            scale = math.sqrt(D)
            s = self.src_embed(src) * scale + self.positions[: src.size(1)]
            t = self.tgt_embed(tgt_in) * scale + self.positions[: tgt_in.size(1)]
            causal = self.transformer.generate_square_subsequent_mask(tgt_in.size(1))
            return self.generator(self.transformer(s, t, tgt_mask=causal))

    model = Translator()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    return training_step(torch, model, opt, a), torch.__version__


def torch_round(step, a):
    return timed_steps(step, a)


def seqgrad_round(a):
    return seqgrad_bench(a, "transformer", ["--d-model", str(a.d_model), "--heads", str(a.heads),
                                            "--layers", str(a.layers), "--ff", str(a.ff),
                                            "--dropout", str(a.dropout)])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(p, batch=64, length=20, src_vocab=8000, tgt_vocab=8000, steps=10)
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--ff", type=int, default=1024)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--rounds", type=int, default=3)
    add_backend_arguments(p)
    a = p.parse_args()
    if not torch_available(a, "side_by_side_transformer"):
        return 0
    step, version = build_torch_step(a)
    ours, theirs, ratios, ours_cpu, theirs_cpu, cpu_ratios = [], [], [], [], [], []
    for _ in range(a.rounds):
        r = seqgrad_round(a)
        s, s_cpu = r["pairs_per_s"], r["cpu_ms_per_step"]
        t, t_cpu = torch_round(step, a)
        ours.append(s)
        theirs.append(t)
        ratios.append(s / t)
        ours_cpu.append(s_cpu)
        theirs_cpu.append(t_cpu)
        cpu_ratios.append(t_cpu / s_cpu)
    prec = "bf16" if a.bf16 else "fp32"
    print(f"config: d_model={a.d_model} heads={a.heads} layers={a.layers}+{a.layers} ff={a.ff} batch={a.batch} "
          f"len={a.len} vocab={a.src_vocab}/{a.tgt_vocab} threads={a.threads} {prec}, {a.rounds} rounds of {a.steps} steps")
    print(f"torch {version}: median {statistics.median(theirs):7.0f} pairs/s  (rounds: "
          + ", ".join(f"{x:.0f}" for x in theirs) + ")")
    print(f"seqgrad:       median {statistics.median(ours):7.0f} pairs/s  (rounds: "
          + ", ".join(f"{x:.0f}" for x in ours) + ")")
    print(f"ratio seqgrad/torch: median {statistics.median(ratios):.2f}x (min {min(ratios):.2f}, max {max(ratios):.2f})")
    # CPU time per step: what to quote when other jobs share the machine (wall time then measures them).
    print("CPU ms/step: torch " + ", ".join(f"{x:.0f}" for x in theirs_cpu) + "; seqgrad "
          + ", ".join(f"{x:.0f}" for x in ours_cpu))
    print(f"ratio in CPU time (torch / seqgrad): median {statistics.median(cpu_ratios):.2f}x "
          f"(min {min(cpu_ratios):.2f}, max {max(cpu_ratios):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
