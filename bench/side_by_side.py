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
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def torch_pairs_per_second(a):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
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
    src = torch.randint(0, a.src_vocab, (a.batch, a.len))
    tgt = torch.randint(0, a.tgt_vocab, (a.batch, a.len))

    def step():
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
            logits = model(src, tgt)
            loss = F.cross_entropy(logits.float().reshape(-1, a.tgt_vocab), tgt.reshape(-1))
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        step()
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return a.steps * a.batch / dt, 1e3 * cpu / a.steps, torch.__version__


def seqgrad_figures(a):
    exe = a.seqgrad or os.path.join(HERE, "..", "build", "seqgrad")
    cmd = [exe, "bench", "seq2seq", "--hidden", str(a.hidden), "--batch", str(a.batch), "--len", str(a.len),
           "--src-vocab", str(a.src_vocab), "--tgt-vocab", str(a.tgt_vocab), "--threads", str(a.threads),
           "--steps", str(a.steps), "--json"]
    if a.bf16:
        cmd += ["--precision", "bf16"]
    if a.gemm:
        cmd += ["--gemm", a.gemm]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--len", type=int, default=10)
    p.add_argument("--src-vocab", type=int, default=4345)
    p.add_argument("--tgt-vocab", type=int, default=2803)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--bf16", action="store_true", help="torch autocast bf16 and seqgrad --precision bf16")
    p.add_argument("--gemm", help="seqgrad's gemm backend (default: the fastest built)")
    p.add_argument("--seqgrad", help="path of the seqgrad binary (default build/seqgrad)")
    a = p.parse_args()
    # PyTorch's set_num_threads does not reach OpenBLAS's own thread pool: without this, "1 thread"
    # PyTorch still ran its matrix products on 2 OpenBLAS threads. Set before torch loads OpenBLAS.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(a.threads))
    try:
        import torch  # noqa: F401
    except ImportError:
        print("side_by_side: python3-torch is not installed; skipping (apt-get install python3-torch)")
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
