#!/usr/bin/env python3
"""End to end on real data: seconds per training epoch of seqgrad against PyTorch, same batches.

`seqgrad bench epoch` trains the default recurrent model (GRU encoder, additive-attention GRU decoder,
Adam, clip 1, teacher forcing) on a corpus for a few epochs, prints where each epoch's time goes and
(--export) writes the first epoch's training batches. PyTorch then trains the PyTorch tutorial's model
of the same sizes on exactly those batches (the same token ids, padding, order and vocabularies), with
the same per-epoch work as seqgrad's trainer: the training pass (masked attention over the source,
cross-entropy without the padding, clipping, Adam), a validation loss over as many pairs as seqgrad's
validation split and greedy decoding of as many sentences as seqgrad decodes for BLEU (in batches of
64, at most 2 * source length + 10 tokens). PyTorch's validation and decoding use the first exported
batches' sources (the same length distribution: the split is random), and it computes no BLEU.

The two sides alternate, --rounds times, and every figure is the mean of the epochs after the first.

    /usr/bin/python3 bench/side_by_side_epoch.py --data ../shared/data/tatoeba-eng-fra-5k.tsv -- --reverse --max-len 10
    /usr/bin/python3 bench/side_by_side_epoch.py --task enfr --rounds 2

Everything after `--` goes to `seqgrad bench epoch` as it is (any option of `seqgrad train`).
Needs Debian's python3-torch; without it, prints a note and exits 0 (it is optional).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from side_by_side_common import HERE, seeded_torch, torch_available


def seqgrad_epochs(a, extra, export):
    cmd = [a.seqgrad, "bench", "epoch", "--epochs", str(a.epochs), "--threads", str(a.threads), "--json"]
    cmd += ["--data", a.data] if a.data else ["--task", a.task]
    if export:
        cmd += ["--export", export]
    out = subprocess.run(cmd + extra, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def torch_epochs(a, exported):
    torch = seeded_torch(a)
    import torch.nn as nn
    import torch.nn.functional as F

    H, E = exported["hidden"], exported["embed"]
    SV, TV = exported["src_vocab"], exported["tgt_vocab"]

    class Tutorial(nn.Module):
        """The tutorial's encoder and Bahdanau decoder, with the padding masked as seqgrad masks it."""

        def __init__(self):
            super().__init__()
            self.src_embed = nn.Embedding(SV, E, padding_idx=0)
            self.encoder = nn.GRU(E, H, batch_first=True)
            self.tgt_embed = nn.Embedding(TV, E, padding_idx=0)
            self.w_query, self.w_key, self.v = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, 1)
            self.decoder = nn.GRU(E + H, H, batch_first=True)
            self.proj = nn.Linear(H, TV)

        def encode(self, src):
            keys, h = self.encoder(self.src_embed(src))
            return keys, self.w_key(keys), h, src.eq(0)

        def step(self, token, keys, keys_proj, h, pad):
            scores = self.v(torch.tanh(self.w_query(h[-1]).unsqueeze(1) + keys_proj)).squeeze(2)
            weights = F.softmax(scores.masked_fill(pad, float("-inf")), dim=1)
            context = torch.bmm(weights.unsqueeze(1), keys)
            out, h = self.decoder(torch.cat((self.tgt_embed(token), context), dim=2), h)
            return self.proj(out.squeeze(1)), h

        def forward(self, src, tgt_in):
            keys, keys_proj, h, pad = self.encode(src)
            logits = []
            for t in range(tgt_in.size(1)):
                z, h = self.step(tgt_in[:, t:t + 1], keys, keys_proj, h, pad)
                logits.append(z)
            return torch.stack(logits, 1)

    def tensors(b):
        rows = b["rows"]
        return (torch.tensor(b["src"]).view(rows, b["src_len"]), torch.tensor(b["tgt_in"]).view(rows, b["tgt_len"]),
                torch.tensor(b["tgt_out"]).view(rows, b["tgt_len"]))

    batches = [tensors(b) for b in exported["batches"]]
    model = Tutorial()
    opt = torch.optim.Adam(model.parameters(), lr=exported["lr"])
    rows_per_batch = exported["batch_size"]
    valid = batches[:max(1, -(-exported["valid_pairs"] // rows_per_batch))]
    firsts = [s for s, _, _ in batches[:max(1, -(-exported["bleu_sentences"] // rows_per_batch))]]
    width = max(s.size(1) for s in firsts)
    decode_srcs = torch.cat([F.pad(s, (0, width - s.size(1))) for s in firsts], 0)
    decode_srcs = decode_srcs[:exported["bleu_sentences"]]

    def train_pass():
        model.train()
        for src, tin, tout in batches:
            opt.zero_grad()
            loss = F.cross_entropy(model(src, tin).reshape(-1, TV), tout.reshape(-1), ignore_index=0)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()

    def valid_loss():
        model.eval()
        with torch.no_grad():
            for src, tin, tout in valid:
                F.cross_entropy(model(src, tin).reshape(-1, TV), tout.reshape(-1), ignore_index=0)

    def decode():
        model.eval()
        with torch.no_grad():
            for start in range(0, decode_srcs.size(0), 64):
                src = decode_srcs[start:start + 64]
                src = src[:, :int(src.ne(0).sum(1).max())]
                keys, keys_proj, h, pad = model.encode(src)
                token = torch.full((src.size(0), 1), 1, dtype=torch.long)  # <sos>
                done = torch.zeros(src.size(0), dtype=torch.bool)
                for _ in range(2 * src.size(1) + 10):
                    z, h = model.step(token, keys, keys_proj, h, pad)
                    token = z.argmax(1, keepdim=True)
                    done |= token.squeeze(1).eq(2)  # <eos>
                    if bool(done.all()):
                        break

    epochs = []
    for _ in range(a.epochs):
        t0 = time.perf_counter()
        train_pass()
        t1 = time.perf_counter()
        valid_loss()
        t2 = time.perf_counter()
        decode()
        t3 = time.perf_counter()
        epochs.append({"train": t1 - t0, "valid_loss": t2 - t1, "decode": t3 - t2, "total": t3 - t0})
    return epochs, torch.__version__


def mean_after_first(epochs, key):
    rest = epochs[1:] or epochs
    return sum(e[key] for e in rest) / len(rest)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="A tab-separated corpus (seqgrad train --data)")
    p.add_argument("--task", default="enfr", help="A bundled task when --data is not given")
    p.add_argument("--epochs", type=int, default=3, help="Epochs per side and round (the first is not counted)")
    p.add_argument("--rounds", type=int, default=3, help="Alternating rounds of the two sides")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seqgrad", default=os.path.join(HERE, "..", "build", "seqgrad"))
    a, extra = p.parse_known_args()
    extra = [x for x in extra if x != "--"]
    if not torch_available(a, "side_by_side_epoch"):  # also limits OpenBLAS to --threads, before torch loads it
        return 0
    if a.epochs < 2:
        p.error("--epochs must be at least 2 (the first epoch is not counted)")
    with tempfile.TemporaryDirectory() as tmp:
        export = os.path.join(tmp, "batches.json")
        first = seqgrad_epochs(a, extra, export)
        with open(export) as f:
            exported = json.load(f)
    print(f"{first['train_pairs']} train pairs in {first['batches']} batches, {first['valid_pairs']} valid pairs "
          f"({first['bleu_sentences']} decoded), vocab {first['src_vocab']}/{first['tgt_vocab']}, "
          f"{a.threads} thread(s); seconds per epoch, mean of epochs 2..{a.epochs}")
    print(f"{'round':>5} {'side':>8} {'total':>7} {'train':>7} {'v.loss':>7} {'decode':>7}")
    ratios_train, ratios_total = [], []
    version = ""
    for r in range(1, a.rounds + 1):
        s = seqgrad_epochs(a, extra, None)["epochs"]
        t, version = torch_epochs(a, exported)
        for name, e in (("seqgrad", s), ("pytorch", t)):
            print(f"{r:>5} {name:>8} {mean_after_first(e, 'total'):7.3f} {mean_after_first(e, 'train'):7.3f} "
                  f"{mean_after_first(e, 'valid_loss'):7.3f} {mean_after_first(e, 'decode'):7.3f}")
        ratios_train.append(mean_after_first(t, "train") / mean_after_first(s, "train"))
        ratios_total.append(mean_after_first(t, "total") / mean_after_first(s, "total"))
    fmt = lambda v: ", ".join(f"{x:.2f}x" for x in v)
    print(f"PyTorch {version} time / seqgrad time, per round: training pass {fmt(ratios_train)}; "
          f"whole epoch (seqgrad's also saves checkpoints) {fmt(ratios_total)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
