#!/usr/bin/env python3
"""A seqgrad model folder as a torch.nn.Module: the recurrent translator (architecture "rnn") or the
Transformer built from config.json and model.safetensors, with greedy decoding and the teacher-forced
loss, so that a model trained by `seqgrad train` can be used, inspected or fine-tuned in PyTorch.

Optional: nothing in seqgrad's build or `make test` needs it (the ctest entry torch_translator_check runs
it when /usr/bin/python3 has torch, and is skipped otherwise). Needs torch and numpy.

    import seqgrad_torch
    m = seqgrad_torch.load("runs/fra-eng")                 # a torch.nn.Module in eval mode
    ids, steps_attention = m.greedy(m.source_ids(["je", "suis", "là", "."]))
    print(m.target_tokens(ids))
    loss = m.loss(src_ids, tgt_ids)                        # mean token cross-entropy, as seqgrad computes it

Command line: `python3 python/seqgrad_torch.py --model DIR --check FILE.jsonl` reads the objects that
`seqgrad eval --model DIR --json-lines FILE.jsonl` wrote (source and reference tokens, seqgrad's
hypothesis) and prints how many greedy translations agree and the perplexity over the references; with
`--perplexity P` it fails (exit 1) unless every translation agrees and the perplexity is within 1e-4 of P
(and, with `--min-distinct K`, unless at least K of the translations differ from each other).

The module follows seqgrad's models/rnn/seq2seq.h step by step, with seqgrad's tensor names, which are
PyTorch's layouts (docs/layers.md): the encoder is a torch.nn.GRU / LSTM (weight_ih_l0, ..._reverse), the
decoder's cells are torch.nn.GRUCell / LSTMCell, Linear weights are [out, in]. Attention: none, additive
(Bahdanau), dot, scaled-dot, general and concat (Luong); the other seqgrad variants (location, cosine,
local-m, local-p, hard) are not ported. The Transformer is torch.nn.Transformer itself, whose state-dict
names seqgrad's follow. Decoding is one sentence at a time (no padding).
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

PAD, SOS, EOS, UNK = 0, 1, 2, 3
_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "F16": np.float16}


def read_safetensors(path):
    """{name: torch.Tensor} of a safetensors file (the format: 8-byte little-endian header size, a JSON
    header of dtype/shape/data_offsets per tensor, then the raw little-endian data)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[base + begin:base + end], dtype=_DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(array.copy())
    return out


def read_vocab(path):
    with open(path, encoding="utf-8") as f:
        tokens = json.load(f)["tokens"]
    return tokens, {t: i for i, t in enumerate(tokens)}


class Attention(nn.Module):
    """score(query [B, Hq], keys [B, S, Hk]) -> [B, S]; softmax; context = weights @ values."""

    def __init__(self, kind, query_size, key_size, attention_size):
        super().__init__()
        self.kind = kind
        if kind == "additive":  # e_s = vᵀ tanh(W_query q + W_key k_s)
            self.W_query = nn.Linear(query_size, attention_size)
            self.W_key = nn.Linear(key_size, attention_size, bias=False)
            self.v = nn.Parameter(torch.zeros(attention_size))
        elif kind == "general":  # e_s = qᵀ (W_a k_s)
            self.W_a = nn.Linear(key_size, query_size, bias=False)
        elif kind == "concat":  # e_s = v_aᵀ tanh(W_a [q; k_s])
            self.W_a = nn.Linear(query_size + key_size, attention_size, bias=False)
            self.v_a = nn.Parameter(torch.zeros(attention_size))
        elif kind not in ("dot", "scaled-dot"):
            raise NotImplementedError(f"attention '{kind}' is not ported to torch (supported: none, additive, dot, "
                                      "scaled-dot, general, concat)")

    def scores(self, q, keys):
        if self.kind == "additive":
            return torch.tanh(self.W_query(q).unsqueeze(1) + self.W_key(keys)) @ self.v
        if self.kind == "general":
            return (self.W_a(keys) @ q.unsqueeze(2)).squeeze(2)
        if self.kind == "concat":
            q_each = q.unsqueeze(1).expand(-1, keys.size(1), -1)
            return torch.tanh(self.W_a(torch.cat([q_each, keys], 2))) @ self.v_a
        e = (keys @ q.unsqueeze(2)).squeeze(2)
        return e / math.sqrt(keys.size(2)) if self.kind == "scaled-dot" else e

    def forward(self, q, keys):
        w = torch.softmax(self.scores(q, keys), dim=1)  # [B, S]
        return (w.unsqueeze(1) @ keys).squeeze(1), w  # context [B, Hk], weights


class Seq2Seq(nn.Module):
    """seqgrad's recurrent translator (models/rnn/seq2seq.h) with its parameter names."""

    def __init__(self, config):
        super().__init__()
        c = self.config = config
        if c.get("architecture", "rnn") != "rnn":
            raise NotImplementedError(f"architecture '{c['architecture']}': only the recurrent translator is ported")
        E, H, L = c["embed_size"], c["hidden_size"], c["num_layers"]
        self.lstm = c["cell"] == "lstm"
        self.bidirectional = c["bidirectional"]
        self.input_feeding = c["input_feeding"]
        K = H * (2 if self.bidirectional else 1)
        rnn_cls, cell_cls = (nn.LSTM, nn.LSTMCell) if self.lstm else (nn.GRU, nn.GRUCell)
        self.encoder = nn.Module()
        self.encoder.embedding = nn.Embedding(c["src_vocab"], E, padding_idx=PAD)
        self.encoder.rnn = rnn_cls(E, H, num_layers=L, bidirectional=self.bidirectional, batch_first=True)
        if self.bidirectional:
            self.encoder.bridge_h = nn.Linear(2 * H, H)
            if self.lstm:
                self.encoder.bridge_c = nn.Linear(2 * H, H)
        self.decoder = nn.Module()
        self.decoder.embedding = nn.Embedding(c["tgt_vocab"], E, padding_idx=PAD)
        kind = c["attention"]
        self.attends = kind != "none"
        if self.attends:
            A = c.get("attention_size", 0) or H
            self.decoder.attention = Attention(kind, H, K, A)
        extra = 0 if not self.attends else (H if self.input_feeding else K)
        for l in range(L):
            setattr(self.decoder, f"cell{l}", cell_cls(E + extra if l == 0 else H, H))
        if self.input_feeding:
            self.decoder.combine = nn.Linear(K + H, H)
        self.decoder.out = nn.Linear(H, c["tgt_vocab"])

    def cells(self):
        return [getattr(self.decoder, f"cell{l}") for l in range(self.config["num_layers"])]

    # ---- encoder ---------------------------------------------------------------------------------
    def encode(self, src):
        """src: ids [1, S] -> (outputs [1, S, K], decoder state)."""
        L = self.config["num_layers"]
        out, state = self.encoder.rnn(self.encoder.embedding(src))
        h_n, c_n = state if self.lstm else (state, None)

        def per_layer(states, bridge):
            if not self.bidirectional:
                return [states[l] for l in range(L)]
            return [torch.tanh(bridge(torch.cat([states[2 * l], states[2 * l + 1]], 1))) for l in range(L)]

        h = per_layer(h_n, getattr(self.encoder, "bridge_h", None))
        c = per_layer(c_n, getattr(self.encoder, "bridge_c", None)) if self.lstm else None
        feed = torch.zeros(src.size(0), self.config["hidden_size"], dtype=out.dtype) if self.input_feeding else None
        return out, {"h": h, "c": c, "feed": feed}

    # ---- one decoder step ------------------------------------------------------------------------
    def step(self, y_prev, state, enc):
        """y_prev ids [1] -> (logits [1, V], attention weights [1, S] or None); updates state."""
        emb = self.decoder.embedding(y_prev)

        def run_cells(x):
            for l, cell in enumerate(self.cells()):
                if self.lstm:
                    state["h"][l], state["c"][l] = cell(x, (state["h"][l], state["c"][l]))
                else:
                    state["h"][l] = cell(x, state["h"][l])
                x = state["h"][l]
            return x

        weights = None
        if not self.attends:
            hidden = run_cells(emb)
        elif not self.input_feeding:  # Bahdanau: attend with h_{t-1}, feed the context into the cell
            context, weights = self.decoder.attention(state["h"][-1], enc)
            hidden = run_cells(torch.cat([emb, context], 1))
        else:  # Luong with input feeding
            h = run_cells(torch.cat([emb, state["feed"]], 1))
            context, weights = self.decoder.attention(h, enc)
            state["feed"] = torch.tanh(self.decoder.combine(torch.cat([context, h], 1)))
            hidden = state["feed"]
        return self.decoder.out(hidden), weights

    @torch.no_grad()
    def greedy(self, src_ids, max_len=None):
        """Greedy decoding of one sentence (ids without specials): (ids, attention rows)."""
        src = torch.tensor([src_ids], dtype=torch.long)
        enc, state = self.encode(src)
        max_len = max_len or 2 * len(src_ids) + 10
        y, ids, rows = torch.tensor([SOS]), [], []
        for _ in range(max_len):
            logits, w = self.step(y, state, enc)
            if w is not None:
                rows.append(w[0].tolist())
            y = torch.log_softmax(logits, 1).argmax(1)
            if y.item() == EOS:
                break
            ids.append(y.item())
        return ids, rows

    def loss(self, src_ids, tgt_ids, reduction="mean"):
        """Teacher-forced cross-entropy of one pair (ids without specials): the decoder reads <sos> y_1 ..
        y_T and predicts y_1 .. y_T <eos>; mean over the T + 1 tokens (or their sum)."""
        src = torch.tensor([src_ids], dtype=torch.long)
        enc, state = self.encode(src)
        tgt_in = [SOS] + list(tgt_ids)
        tgt_out = list(tgt_ids) + [EOS]
        logits = [self.step(torch.tensor([y]), state, enc)[0] for y in tgt_in]
        return nn.functional.cross_entropy(torch.cat(logits, 0), torch.tensor(tgt_out), reduction=reduction)


class Transformer(nn.Module):
    """seqgrad's Transformer translator (models/transformer/transformer_translator.h): embeddings scaled by
    √d_model plus the sinusoidal table (the folder's src_embed.positional.pe), torch.nn.Transformer (the
    same state-dict names: transformer.encoder.layers.N..., post- or pre-norm), and the generator."""

    def __init__(self, config):
        super().__init__()
        c = self.config = config
        D, V_src, V_tgt = c["d_model"], c["src_vocab"], c["tgt_vocab"]
        self.d_model = D
        for name, V in (("src_embed", V_src), ("tgt_embed", V_tgt)):
            side = nn.Module()
            side.embedding = nn.Embedding(V, D, padding_idx=PAD)
            side.positional = nn.Module()
            side.positional.register_buffer("pe", torch.zeros(c.get("max_len", 256), D))
            setattr(self, name, side)
        activation = c.get("activation", "relu")
        # seqgrad's GELU is the tanh form (docs/layers.md).
        act = (lambda x: nn.functional.gelu(x, approximate="tanh")) if activation == "gelu" else "relu"
        self.transformer = nn.Transformer(d_model=D, nhead=c["heads"], num_encoder_layers=c["encoder_layers"],
                                          num_decoder_layers=c["decoder_layers"], dim_feedforward=c["ff"],
                                          dropout=c.get("dropout", 0.1), activation=act, batch_first=True,
                                          norm_first=c.get("pre_norm", False))
        self.generator = nn.Linear(D, V_tgt)
        self.tied = c.get("tie_embeddings", False)

    def tie(self):
        if self.tied:
            self.generator.weight = self.tgt_embed.embedding.weight

    def embed(self, side, ids):
        x = side.embedding(ids) * math.sqrt(self.d_model)
        return x + side.positional.pe[:ids.size(1)].to(x.dtype)

    def logits(self, src, tgt_in):
        """Teacher forcing in one pass under the causal mask: src [1, S], tgt_in [1, T] -> [1, T, V]."""
        T = tgt_in.size(1)
        causal = torch.triu(torch.full((T, T), float("-inf"), dtype=self.generator.bias.dtype), diagonal=1)
        y = self.transformer(self.embed(self.src_embed, src), self.embed(self.tgt_embed, tgt_in), tgt_mask=causal)
        return self.generator(y)

    @torch.no_grad()
    def greedy(self, src_ids, max_len=None):
        """Greedy decoding (the whole prefix run again each step: the same numbers as seqgrad's cache)."""
        src = torch.tensor([src_ids], dtype=torch.long)
        max_len = max_len or 2 * len(src_ids) + 10
        prefix, ids = [SOS], []
        for _ in range(max_len):
            y = torch.log_softmax(self.logits(src, torch.tensor([prefix]))[0, -1], 0).argmax().item()
            if y == EOS:
                break
            ids.append(y)
            prefix.append(y)
        return ids, []

    def loss(self, src_ids, tgt_ids, reduction="mean"):
        """Plain cross-entropy (seqgrad's nll_sum and eval's perplexity; training adds label smoothing)."""
        src = torch.tensor([src_ids], dtype=torch.long)
        logits = self.logits(src, torch.tensor([[SOS] + list(tgt_ids)]))[0]
        return nn.functional.cross_entropy(logits, torch.tensor(list(tgt_ids) + [EOS]), reduction=reduction)


class Vocabularies:
    """The folder's two vocabularies: tokens <-> ids (unknown tokens are <unk>)."""

    def __init__(self, folder):
        self.src_tokens, self.src_index = read_vocab(os.path.join(folder, "source_vocab.json"))
        self.tgt_tokens, self.tgt_index = read_vocab(os.path.join(folder, "target_vocab.json"))

    def source_ids(self, tokens):
        return [self.src_index.get(t, UNK) for t in tokens]

    def target_ids(self, tokens):
        return [self.tgt_index.get(t, UNK) for t in tokens]

    def target_tokens(self, ids):
        return [self.tgt_tokens[i] for i in ids]


def load(folder, weights="model.safetensors"):
    """The translator of a model folder (Seq2Seq or Transformer by config.json's architecture) with its
    weights, in eval mode, with source_ids / target_ids / target_tokens from its vocabularies."""
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    arch = config["model"].get("architecture", "rnn")
    cls = {"rnn": Seq2Seq, "transformer": Transformer}.get(arch)
    if cls is None:
        raise NotImplementedError(f"architecture '{arch}' is not ported to torch (rnn, transformer)")

    class Translator(cls, Vocabularies):
        def __init__(self):
            cls.__init__(self, config["model"])
            Vocabularies.__init__(self, folder)
            self.data = config["data"]

    m = Translator()
    state = read_safetensors(os.path.join(folder, weights))
    m.to(next(iter(state.values())).dtype)
    missing, unexpected = m.load_state_dict(state, strict=False)
    if arch == "transformer" and m.tied:
        missing = [k for k in missing if k != "generator.weight"]
        m.tie()
    if missing or unexpected:
        raise ValueError(f"{folder}/{weights}: missing {missing}, unexpected {unexpected}")
    return m.eval()


def check(folder, jsonl, expected_perplexity=None):
    """Compares with `seqgrad eval --json-lines`: returns (agreeing translations, sentences, perplexity,
    distinct translations)."""
    m = load(folder)
    with open(jsonl, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    agree, nll, tokens, distinct = 0, 0.0, 0, set()
    # eval decodes greedily in chunks of 64 with max_len = 2 * (longest source of the chunk) + 10.
    for start in range(0, len(records), 64):
        chunk = records[start:start + 64]
        max_len = 2 * max(len(r["source_tokens"]) for r in chunk) + 10
        for r in chunk:
            src = m.source_ids(r["source_tokens"])
            ids, _ = m.greedy(src, max_len)
            distinct.add(tuple(ids))
            if m.target_tokens(ids) == r["hypotheses"][0]["tokens"]:
                agree += 1
            else:
                print(f"differs: {r['source']!r}: torch {m.target_tokens(ids)} vs seqgrad {r['hypotheses'][0]['tokens']}")
            with torch.no_grad():
                tgt = m.target_ids(r["reference_tokens"])
                nll += m.loss(src, tgt, reduction="sum").item()
                tokens += len(tgt) + 1
    perplexity = math.exp(nll / tokens)
    return agree, len(records), perplexity, len(distinct)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="model folder written by seqgrad train")
    p.add_argument("--check", required=True, help="FILE.jsonl written by seqgrad eval --json-lines")
    p.add_argument("--perplexity", type=float, help="seqgrad eval's perplexity: fail unless within 1e-4")
    p.add_argument("--min-distinct", type=int, default=0,
                   help="fail unless at least this many translations differ (a model repeating one output proves little)")
    a = p.parse_args()
    agree, n, ppl, distinct = check(a.model, a.check)
    print(f"torch: {agree} of {n} greedy translations equal seqgrad's ({distinct} distinct); perplexity {ppl:.6f}"
          + (f" (seqgrad {a.perplexity:.6f})" if a.perplexity is not None else ""))
    failed = distinct < a.min_distinct
    if a.perplexity is not None:
        failed = failed or agree != n or abs(ppl - a.perplexity) > 1e-4 * a.perplexity
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
