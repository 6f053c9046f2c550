"""What tests/torch_crosscheck_rnn.py and tests/torch_crosscheck_transformer.py share: writing torch's
case file, reading seqgrad's back, comparing results tensor by tensor, and the run in both directions
around the hidden Catch2 test. Needs torch and numpy (the scripts check for them first)."""
import os
import subprocess
import tempfile

import numpy as np
import torch

from torch_crosscheck_safetensors import read_numpy, write_numpy


def seeded(seed, make):
    """make() under torch's seed `seed`, and a float64 standard-normal sampler randn(*shape) on a
    generator of its own (seed + 1), for the inputs."""
    torch.manual_seed(seed)
    module = make()
    g = torch.Generator().manual_seed(seed + 1)
    return module, lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64)


def with_parameter_grads(results, module):
    """results with every parameter's gradient added as grad.<name>."""
    for name, p in module.named_parameters():
        results["grad." + name] = p.grad
    return results


def write_case(path, inputs, weights, results):
    """torch's case file: the inputs, the weights under PyTorch's names and what torch computed."""
    arrays = {k: v.numpy() for k, v in inputs.items()}
    arrays.update({name: p.detach().numpy() for name, p in weights.items()})
    arrays.update({k: v.numpy() for k, v in results.items()})
    write_numpy(path, arrays, {"source": "torch"})


def read_case(path):
    """seqgrad's case file as torch tensors by name."""
    arrays, _, _, _ = read_numpy(path)
    return {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}


def load_weights(module, t, names):
    """Loads the tensors of t named `names` (the module's own) into module, strictly."""
    module.load_state_dict({name: t[name] for name in names}, strict=True)


def compare(label, results, t, tol):
    """Every result torch computed against seqgrad's of the same name in t: the problems found and
    the largest difference."""
    problems = []
    largest = 0.0
    for name, want in results.items():
        if name not in t:
            problems.append(f"{label} {name}: not in seqgrad's file")
            continue
        got = t[name]
        if got.shape != want.shape:
            problems.append(f"{label} {name}: shape {tuple(got.shape)} vs torch {tuple(want.shape)}")
            continue
        worst = (got - want).abs().max().item() if want.numel() else 0.0
        largest = max(largest, worst)
        if not worst < tol:
            problems.append(f"{label} {name}: largest difference {worst:.3g}")
    return problems, largest


def run_both_ways(argv, doc, what, tag, cases, torch_agrees, ok):
    """The scripts' main(): argv is [script, seqgrad_tests binary] (else prints doc and returns 2).
    cases: (torch_file, write(path), seqgrad_file, check(path) -> problems) per case. In a temporary
    directory every torch file is written, the hidden test `tag` runs on them (torch -> seqgrad,
    printing torch_agrees when it passes) and writes the seqgrad files, which are checked in torch.
    Returns the exit code; prints `ok` when nothing differs."""
    if len(argv) != 2:
        print(doc)
        return 2
    binary = argv[1]
    print(f"torch {torch.__version__}")
    with tempfile.TemporaryDirectory(prefix=f"seqgrad_{what}_crosscheck_") as d:
        for torch_file, write, _, _ in cases:
            write(os.path.join(d, torch_file))
        env = dict(os.environ, SEQGRAD_CROSSCHECK_DIR=d)
        r = subprocess.run([binary, tag], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout, r.stderr, sep="\n")
            print("FAILED: seqgrad with torch's weights does not compute what torch computed")
            return 1
        print(torch_agrees)
        problems = []
        for _, _, seqgrad_file, check in cases:
            problems += check(os.path.join(d, seqgrad_file))
    for p in problems:
        print("MISMATCH:", p)
    print("FAILED" if problems else ok)
    return 1 if problems else 0
