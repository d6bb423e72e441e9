#!/usr/bin/env python3
"""PyTorch on the benchmark workloads of bench/workloads.ts (nn.LSTM + nn.Linear back to the
input size, MSE against random targets, Adam lr 1e-3, full BPTT; D: one step at a time under
torch.no_grad() with the state carried).

    python3 bench/torch_bench.py [--workload A|B|C|D] [--threads N] [--info]

--threads N (default os.cpu_count()): torch.set_num_threads(N), and OpenBLAS's thread pool
(OPENBLAS_NUM_THREADS, unless set) — OpenBLAS sizes it when it loads, so torch is imported after.

Prints one JSON object per line, each prefixed with "@@bench " (the protocol of bench/run.ts):
"info" (versions and which BLAS torch runs on), "start" before each timed unit, "sample" after
it, and "done" with every time in milliseconds.
"""

import argparse
import ctypes
import json
import os
import re
import subprocess
import sys
import time

torch = None  # imported in main(), after OPENBLAS_NUM_THREADS is set

# Untimed inference steps before timing, as bench/workloads.ts INFER_WARMUP_STEPS.
INFER_WARMUP_STEPS = 500

WORKLOADS = {
    "A": dict(kind="train", batch=32, seq_len=50, input=32, hidden=128, reps=20),
    "B": dict(kind="train", batch=64, seq_len=100, input=128, hidden=256, reps=5),
    "C": dict(kind="train", batch=1, seq_len=100, input=16, hidden=64, reps=30),
    "D": dict(kind="infer", batch=1, seq_len=1, input=32, hidden=256, reps=10000),
}
BUDGET_S = 40.0  # stop starting timed repetitions after this long (at least one is timed)


def emit(event, **fields):
    print("@@bench " + json.dumps({"event": event, **fields}), flush=True)


def blas_loaded():
    """The BLAS torch runs on: the library mapped into this process after a matrix product."""
    a = torch.randn(64, 64)
    torch.mm(a, a)
    loaded = set()
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if p.startswith("/") and any(s in p for s in ("blas", "mkl", "lapack")):
                loaded.add(os.path.realpath(p))
    loaded = sorted(loaded)
    openblas = None
    if any("openblas" in p for p in loaded):
        try:
            fn = ctypes.CDLL("libopenblas.so.0").openblas_get_config
            fn.restype = ctypes.c_char_p
            openblas = fn().decode()
        except (OSError, AttributeError):
            pass
    if any("mkl" in p for p in loaded):
        kind = "MKL"
    elif any("openblas" in p for p in loaded):
        kind = "OpenBLAS"
    elif any("/blas/libblas.so" in p for p in loaded):
        kind = "reference BLAS"  # Debian's libblas3 (netlib)
    else:
        kind = "unknown BLAS"
    return kind, loaded, openblas


def blas_info():
    """Which BLAS torch was built for and runs on, and how fast its sgemm is."""
    kind, loaded, openblas = blas_loaded()
    a = torch.randn(512, 512)
    torch.mm(a, a)
    # sgemm speed: the reference BLAS manages a few GFLOP/s, an optimised one tens.
    reps = 5
    t = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, a)
    gflops = 2 * 512**3 * reps / (time.perf_counter() - t) / 1e9
    build = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    alternative = None
    try:
        out = subprocess.run(
            ["update-alternatives", "--display", "libblas.so.3-x86_64-linux-gnu"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        alternative = next((l.strip() for l in out.splitlines() if "currently points" in l), None)
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "kind": kind,
        "reference": kind == "reference BLAS",
        "openblasConfig": openblas,
        "loaded": loaded,
        "buildBlasInfo": build.group(1) if build else None,
        "alternative": alternative,
        "sgemm512Gflops": round(gflops, 2),
    }


CELL = "lstm"  # --cell: torch.nn.LSTM or torch.nn.GRU at the same sizes


def rnn(I, H):
    return torch.nn.GRU(I, H) if CELL == "gru" else torch.nn.LSTM(I, H)


def train_step(w):
    torch.manual_seed(1)
    T, B, I, H = w["seq_len"], w["batch"], w["input"], w["hidden"]
    lstm, head = rnn(I, H), torch.nn.Linear(H, I)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    x, y = torch.randn(T, B, I), torch.randn(T, B, I)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(head(lstm(x)[0]), y)
        loss.backward()
        opt.step()

    return step


def infer_block(w):
    torch.manual_seed(1)
    I, H = w["input"], w["hidden"]
    lstm, head = rnn(I, H), torch.nn.Linear(H, I)
    h0 = torch.zeros(1, 1, H)
    state = {"x": torch.randn(1, 1, I), "hc": h0 if CELL == "gru" else (h0, torch.zeros(1, 1, H))}

    def block(n):
        with torch.no_grad():
            x, hc = state["x"], state["hc"]
            for _ in range(n):
                out, hc = lstm(x, hc)
                x = head(out)  # the head maps back to the input size: feed the output in
            state["x"], state["hc"] = x, hc

    return block


def run(name):
    w = WORKLOADS[name]
    t0 = time.perf_counter()
    times = []
    if w["kind"] == "train":
        step = train_step(w)
        for _ in range(3):  # warm-up; one is enough for a slow step
            emit("start", steps=1)
            t = time.perf_counter()
            step()
            if time.perf_counter() - t > 2:
                break
        for i in range(w["reps"]):
            if i > 0 and time.perf_counter() - t0 > BUDGET_S:
                break
            emit("start", steps=1)
            t = time.perf_counter()
            step()
            times.append((time.perf_counter() - t) * 1000)
            emit("sample", ms=times[-1])
    else:
        block = infer_block(w)
        emit("start", steps=INFER_WARMUP_STEPS)
        block(INFER_WARMUP_STEPS)
        for i in range(max(1, w["reps"] // 100)):
            if i > 0 and time.perf_counter() - t0 > BUDGET_S:
                break
            emit("start", steps=100)
            t = time.perf_counter()
            block(100)
            times.append((time.perf_counter() - t) * 1000 / 100)
            emit("sample", ms=times[-1])
    emit("done", workload=name, times=times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workload", choices=sorted(WORKLOADS), action="append")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--info", action="store_true", help="print versions and BLAS only")
    ap.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    args = ap.parse_args()
    global CELL
    CELL = args.cell
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    global torch
    import torch

    torch.set_num_threads(args.threads)
    emit(
        "info",
        library=f"pytorch{' GRU' if CELL == 'gru' else ''} ({args.threads} thread{'s' if args.threads > 1 else ''}, {blas_loaded()[0]})",
        version=torch.__version__,
        python=sys.executable,
        threads=torch.get_num_threads(),
        openblasThreads=os.environ["OPENBLAS_NUM_THREADS"],
        blas=blas_info() if args.info else None,
    )
    if args.info:
        return
    for name in args.workload or sorted(WORKLOADS):
        run(name)


if __name__ == "__main__":
    main()
