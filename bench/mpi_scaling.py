#!/usr/bin/env python3
"""Data-parallel scaling on this machine: the training-step benchmarks under `mpirun -np 2` with one
thread per process, against one process with 2 threads and one process with 1 thread, interleaved
(round after round, so that a change in the machine's load hits every configuration alike). A fourth
configuration is the machine's own ceiling for 2 processes: two independent processes (no MPI) side
by side, each on half the batch as a data-parallel rank has it, their pairs/s added.

    python3 bench/mpi_scaling.py [--seqgrad build/seqgrad] [--rounds 3] [--model seq2seq|transformer|both]

Prints one line per run and, per model, the median pairs/s of each configuration, the speed-ups
against one process at 1 thread, the scaling efficiency of 2 processes (speed-up / 2) and the share
of the data-parallel step spent inside the gradient all-reduce. Needs mpirun (openmpi-bin); not part
of the test suite (figures: bench/RESULTS.md)."""
import argparse, json, os, statistics, subprocess, sys

MODELS = {
    "seq2seq": ["bench", "seq2seq", "--hidden", "256", "--batch", "128", "--steps", "12", "--warmup", "2"],
    "transformer": ["bench", "transformer", "--steps", "6", "--warmup", "2"],
}

def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
    return json.loads(out.strip().splitlines()[-1])

def run_pair(cmd):
    """Two copies of cmd at once; their pairs/s added (the ms/step is the slower one's)."""
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True) for _ in range(2)]
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    if any(p.returncode != 0 for p in procs):
        raise SystemExit(f"mpi_scaling: {' '.join(cmd)} failed")
    return {"pairs_per_s": sum(o["pairs_per_s"] for o in outs), "ms_per_step": max(o["ms_per_step"] for o in outs)}

def half_batch(cmd, model):
    batch = 128 if model == "seq2seq" else 64
    if "--batch" in cmd:
        i = cmd.index("--batch")
        batch = int(cmd[i + 1])
        cmd = cmd[:i] + cmd[i + 2:]
    return cmd + ["--batch", str(batch // 2)]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seqgrad", default="build/seqgrad")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--model", default="both", choices=["seq2seq", "transformer", "both"])
    ap.add_argument("--bind", default="core", help="mpirun --bind-to (core: each rank on its own core)")
    a = ap.parse_args()
    mpirun = ["mpirun", "-q", "-np", "2", "--bind-to", a.bind]
    if os.geteuid() == 0:
        mpirun.append("--allow-run-as-root")
    models = list(MODELS) if a.model == "both" else [a.model]
    for model in models:
        base = [a.seqgrad] + MODELS[model] + ["--json"]
        configs = {
            "1 process, 1 thread": base + ["--threads", "1"],
            "1 process, 2 threads": base + ["--threads", "2"],
            "2 processes, 1 thread each": mpirun + base + ["--threads", "1"],
            "2 independent processes, half the batch each (no MPI: the ceiling)": half_batch(base, model) + ["--threads", "1"],
        }
        results = {name: [] for name in configs}
        for r in range(a.rounds):
            for name, cmd in configs.items():
                j = run_pair(cmd) if name.startswith("2 independent") else run(cmd)
                results[name].append(j)
                print(f"{model} round {r + 1} {name}: {j['pairs_per_s']:.1f} pairs/s, {j['ms_per_step']:.1f} ms/step, "
                      f"all-reduce {j.get('comm_ms_per_step', 0):.2f} ms/step", flush=True)
        one = statistics.median(j["pairs_per_s"] for j in results["1 process, 1 thread"])
        print(f"\n{model}: median of {a.rounds} rounds")
        for name, js in results.items():
            p = statistics.median(j["pairs_per_s"] for j in js)
            comm = statistics.median(100 * j.get("comm_ms_per_step", 0) / j["ms_per_step"] for j in js)
            extra = f", all-reduce {comm:.1f}% of the step, efficiency {p / one / 2:.0%}" if name.startswith("2 processes") else ""
            print(f"  {name}: {p:.1f} pairs/s = {p / one:.2f}x one process at 1 thread{extra}")
        print()

if __name__ == "__main__":
    sys.exit(main())
