#!/usr/bin/env python3
"""Side-by-side speed check: seqgrad against PyTorch on the same seq2seq training step.

The model is the PyTorch seq2seq tutorial's shape: GRU encoder, additive (Bahdanau) attention GRU
decoder, teacher forcing, Adam, random token ids. Both run in this one process's session, one after
the other, so the ratio is meaningful on a noisy shared machine.

    python3 bench/side_by_side.py                       # hidden 128, batch 32, 1 thread
    python3 bench/side_by_side.py --batch 1 --steps 100
    python3 bench/side_by_side.py --threads 2 --hidden 256 --batch 64
    python3 bench/side_by_side.py --bf16                # torch autocast bf16, seqgrad --precision bf16
    python3 bench/side_by_side.py --gemm openblas       # seqgrad's gemm backend

Needs Debian's python3-torch; without it, prints a note and exits 0 (it is optional).
"""
import argparse
import sys

from side_by_side_common import (add_backend_arguments, add_common_arguments, seeded_torch, seqgrad_bench,
                                 timed_steps, torch_available, training_step)


def torch_pairs_per_second(a):
    torch = seeded_torch(a)
    import torch.nn as nn
    import torch.nn.functional as F

    H = a.hidden

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_embed = nn.Embedding(a.src_vocab, H)
            self.encoder = nn.GRU(H, H, batch_first=True)
            self.tgt_embed = nn.Embedding(a.tgt_vocab, H)
            self.w_query = nn.Linear(H, H)
            self.w_key = nn.Linear(H, H)
            self.v = nn.Linear(H, 1)
            self.decoder = nn.GRU(2 * H, H, batch_first=True)
            self.proj = nn.Linear(H, a.tgt_vocab)

        def forward(self, src, tgt_in):
            keys, h = self.encoder(self.src_embed(src))
            keys_proj = self.w_key(keys)
            outputs = []
            for t in range(tgt_in.size(1)):
                query = self.w_query(h[-1]).unsqueeze(1)
                weights = F.softmax(self.v(torch.tanh(query + keys_proj)).squeeze(2), dim=1)
                context = torch.bmm(weights.unsqueeze(1), keys)
                step_in = torch.cat((self.tgt_embed(tgt_in[:, t:t + 1]), context), dim=2)
                out, h = self.decoder(step_in, h)
                outputs.append(out)
            return self.proj(torch.cat(outputs, 1))

    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    pairs_per_s, cpu_ms = timed_steps(training_step(torch, model, opt, a), a)
    return pairs_per_s, cpu_ms, torch.__version__


def seqgrad_figures(a):
    return seqgrad_bench(a, "seq2seq", ["--hidden", str(a.hidden)])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(p, batch=32, length=10, src_vocab=4345, tgt_vocab=2803, steps=50)
    p.add_argument("--hidden", type=int, default=128)
    add_backend_arguments(p)
    a = p.parse_args()
    if not torch_available(a, "side_by_side"):
        return 0
    ours = seqgrad_figures(a)
    theirs, theirs_cpu, version = torch_pairs_per_second(a)
    # Process CPU time per step stays meaningful when other jobs share the machine; wall-clock
    # pairs/s does not. Both optimizers are dense Adam (torch.optim.Adam semantics).
    print(f"config: hidden={a.hidden} batch={a.batch} len={a.len} threads={a.threads} steps={a.steps} "
          f"{'bf16' if a.bf16 else 'fp32'} gemm={ours.get('gemm', '?')} (dense Adam both)")
    print(f"torch {version}: {theirs:9.0f} pairs/s  (CPU {theirs_cpu:.2f} ms/step)")
    print(f"seqgrad:      {ours['pairs_per_s']:9.0f} pairs/s  ({ours['ms_per_step']:.2f} ms/step, CPU "
          f"{ours['cpu_ms_per_step']:.2f} ms/step, {ours['gflops']:.1f} GFLOP/s, peak RSS {ours['peak_rss_mb']:.0f} MB)")
    print(f"ratio: {ours['pairs_per_s'] / theirs:.2f}x wall-clock, {theirs_cpu / ours['cpu_ms_per_step']:.2f}x CPU time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
