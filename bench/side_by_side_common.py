"""What bench/side_by_side.py and bench/side_by_side_transformer.py share: the command line both
take, the check for python3-torch, running `seqgrad bench ...`, and the timed PyTorch step."""
import json
import os
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def add_common_arguments(p, batch, length, src_vocab, tgt_vocab, steps):
    """The options both scripts take; the defaults that differ are the arguments."""
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--len", type=int, default=length)
    p.add_argument("--src-vocab", type=int, default=src_vocab)
    p.add_argument("--tgt-vocab", type=int, default=tgt_vocab)
    p.add_argument("--steps", type=int, default=steps)


def add_backend_arguments(p):
    p.add_argument("--bf16", action="store_true", help="torch autocast bf16 and seqgrad --precision bf16")
    p.add_argument("--gemm", help="seqgrad's gemm backend (default: the fastest built)")
    p.add_argument("--seqgrad", help="path of the seqgrad binary (default build/seqgrad)")


def torch_available(a, name):
    """Limits OpenBLAS to a.threads and imports torch; False (after a note) when it is missing."""
    # torch.set_num_threads does not reach OpenBLAS's own thread pool: without this, "1 thread"
    # PyTorch still ran its matrix products on 2 OpenBLAS threads. Set before torch loads OpenBLAS.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(a.threads))
    try:
        import torch  # noqa: F401
    except ImportError:
        print(f"{name}: python3-torch is not installed; skipping (apt-get install python3-torch)")
        return False
    return True


def seqgrad_bench(a, model, model_args):
    """Runs `seqgrad bench MODEL MODEL_ARGS` with the shared options and returns its --json figures."""
    exe = a.seqgrad or os.path.join(HERE, "..", "build", "seqgrad")
    cmd = [exe, "bench", model] + model_args + [
        "--batch", str(a.batch), "--len", str(a.len), "--src-vocab", str(a.src_vocab),
        "--tgt-vocab", str(a.tgt_vocab), "--threads", str(a.threads), "--steps", str(a.steps), "--json"]
    if a.bf16:
        cmd += ["--precision", "bf16"]
    if a.gemm:
        cmd += ["--gemm", a.gemm]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def seeded_torch(a):
    """torch with a.threads threads and seed 0."""
    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    return torch


def training_step(torch, model, opt, a):
    """One Adam step of MODEL(src, tgt) on random ids under cross-entropy (bf16 autocast with
    --bf16), warmed up with three steps."""
    import torch.nn.functional as F
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
    return step


def timed_steps(step, a):
    """Wall pairs/s and CPU ms per step (the process's CPU time: meaningful on a shared machine)."""
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        step()
    return a.steps * a.batch / (time.perf_counter() - t0), 1e3 * (time.process_time() - c0) / a.steps
