"""PyTorch companion of lstm-ts: the same model, data and file format, trained with
DistributedDataParallel under torchrun. Pure PyTorch and the standard library.

    torchrun --nproc_per_node 2 python/lstm_ts.py train-text  FILE.txt --out m.safetensors
    torchrun --nproc_per_node 2 python/lstm_ts.py train-series FILE.csv --column c --out m.safetensors
    python3 python/lstm_ts.py eval m.safetensors FILE            (prints one JSON line)

docs/scale-out.md explains what is shared with the TypeScript side and what is not.
Letters: T window, B batch, I input, H hidden, L layers, D directions, O outputs, V vocabulary,
C columns, K horizon, W world size (processes).
"""
import argparse
import csv
import io
import json
import math
import os
import struct
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

FORMAT = "lstm-ts-model"


# ---------------------------------------------------------------------------------------------
# Model: nn.LSTM as `lstm` (or nn.GRU as `gru`, config "cell": "gru") + nn.Linear as `head`,
# exactly the parameter names of our files.


class LstmModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = dict(config)
        self.cell = config.get("cell", "lstm")
        D = 2 if config["bidirectional"] else 1
        rnn = nn.GRU if self.cell == "gru" else nn.LSTM
        setattr(
            self,
            self.cell,
            rnn(
                config["input_size"],
                config["hidden_size"],
                config["num_layers"],
                bidirectional=config["bidirectional"],
            ),
        )
        self.head = nn.Linear(D * config["hidden_size"], config["output_size"])

    def forward(self, x, state=None, readout="all"):
        """x [T, B, I] → output [T, B, O] (readout "all") or [B, O] ("last"), and the state:
        (h, c) [L·D, B, H] each for the LSTM, h for the GRU."""
        y, state = getattr(self, self.cell)(x, state)
        return self.head(y if readout == "all" else y[-1]), state


# ---------------------------------------------------------------------------------------------
# The model file: safetensors, F32, metadata strings (docs/model-format.md).


def read_model(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    if meta.get("format") not in (FORMAT, "lstm-ts-checkpoint"):
        raise SystemExit(f"{path}: not an lstm-ts model (format {meta.get('format')!r})")
    if meta.get("format_version") != "1":
        raise SystemExit(f"{path}: format version {meta.get('format_version')} is not supported")
    c = json.loads(meta["config"])
    model = LstmModel(c)
    body = data[8 + n :]
    state = {}
    for name, p in model.state_dict().items():
        t = header.get(name)
        if t is None:
            raise SystemExit(f"{path}: tensor {name} is missing")
        if list(t["shape"]) != list(p.shape) or t["dtype"] not in ("F32", "F64"):
            raise SystemExit(f"{path}: tensor {name} is {t['dtype']} {t['shape']}, expected F32 {list(p.shape)}")
        a, b = t["data_offsets"]
        dtype = torch.float32 if t["dtype"] == "F32" else torch.float64
        state[name] = torch.frombuffer(bytearray(body[a:b]), dtype=dtype).reshape(t["shape"]).float()
    model.load_state_dict(state, strict=True)
    info = {
        "task": meta.get("task", "generic"),
        "input": json.loads(meta.get("input", '{"kind":"dense"}')),
    }
    for k in ("vocab", "series", "training"):
        if k in meta:
            info[k] = json.loads(meta[k])
    return model, info


def write_model(path, model, info):
    """Writes atomically (temporary file in the same directory, then rename)."""
    c = model.config
    meta = {
        "format": FORMAT,
        "format_version": "1",
        "config": json.dumps(
            {k: c[k] for k in ("cell", "input_size", "hidden_size", "num_layers", "bidirectional", "output_size") if k in c and (k != "cell" or c[k] == "gru")},
            separators=(",", ":"),
        ),
        "task": info["task"],
        "input": json.dumps(info["input"], separators=(",", ":")),
    }
    for k in ("vocab", "series", "training"):
        if k in info:
            meta[k] = json.dumps(info[k], separators=(",", ":"), ensure_ascii=False)
    header = {"__metadata__": meta}
    blobs, offset = [], 0
    for name, p in model.state_dict().items():  # named_parameters order: lstm.*, head.*
        b = _f32_bytes(p)
        header[name] = {"dtype": "F32", "shape": list(p.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * (-len(h) % 8)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _f32_bytes(p):
    flat = p.detach().to(torch.float32).reshape(-1).tolist()
    return struct.pack(f"<{len(flat)}f", *flat)


# ---------------------------------------------------------------------------------------------
# Text: src/data/text.ts. Characters are code points; the vocabulary is every distinct one,
# sorted by code point; the last valid_fraction is validation; B contiguous streams, windows of
# T steps, the state carried from window to window (truncated BPTT) and reset each epoch.


def read_text(path):
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")
    return text[1:] if text.startswith("\ufeff") else text


def split_train_valid(ids, valid_fraction):
    n = len(ids)
    n_valid = max(1, round(n * valid_fraction)) if valid_fraction > 0 else 0
    return ids[: n - n_valid], ids[n - n_valid :]


class TextStreams:
    def __init__(self, ids, B, T):
        self.ids, self.B, self.T = ids, B, T
        self.S = (len(ids) - 1) // B
        self.windows = self.S // T
        if self.windows == 0:
            raise SystemExit(f"text too short: {len(ids)} characters cannot fill batch {B} × seqLen {T} (+1)")

    def window(self, k, streams):
        """x, y ids [T, len(streams)] of window k for the given streams."""
        x = torch.empty(self.T, len(streams), dtype=torch.long)
        y = torch.empty_like(x)
        for j, b in enumerate(streams):
            s = b * self.S + k * self.T
            seg = self.ids[s : s + self.T + 1]
            x[:, j] = seg[:-1]
            y[:, j] = seg[1:]
        return x, y


def stream_cross_entropy(model, ids, chunk=256):
    """Mean cross-entropy (nats) of predicting ids[1:] from everything before, one stream from a
    zero state (as `lstm eval`)."""
    V = model.config["input_size"]
    total, state = 0.0, None
    with torch.no_grad():
        for s in range(0, len(ids) - 1, chunk):
            x = ids[s : min(s + chunk, len(ids) - 1)]
            y = ids[s + 1 : s + 1 + len(x)]
            out, state = model(F.one_hot(x, V).float().unsqueeze(1), state)
            total += F.cross_entropy(out.squeeze(1).double(), y, reduction="sum").item()
    return total / (len(ids) - 1)


# ---------------------------------------------------------------------------------------------
# Series: src/data/series.ts and src/train/forecast.ts. Time-ordered split train | valid | test;
# optional log transform; a standard scaler fitted on the training rows (population std, 1 for a
# constant column); windows of T rows predict the next K rows of the target columns.


def read_csv(path, columns):
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], [r for r in rows[1:] if any(cell.strip() for cell in r)]
    idx = []
    for c in columns:
        if c not in head:
            raise SystemExit(f"{path}: no column {c!r} (columns: {', '.join(head)})")
        idx.append(head.index(c))
    values = []
    for n, r in enumerate(body):
        try:
            values.append([float(r[i]) for i in idx])
        except ValueError:
            raise SystemExit(f"{path}: row {n + 1} has an empty or non-numeric cell (only --missing error is supported here)")
    time_col = head[0] if head[0] not in columns else None
    times = [r[0] for r in body] if time_col else None
    return torch.tensor(values, dtype=torch.float64), time_col, times


def split_series(N, valid_fraction, test_fraction):
    n_valid = max(1, round(N * valid_fraction)) if valid_fraction > 0 else 0
    n_test = max(1, round(N * test_fraction)) if test_fraction > 0 else 0
    n_train = N - n_valid - n_test
    return {"train": [0, n_train], "valid": [n_train, n_train + n_valid], "test": [n_train + n_valid, N]}


def series_windows(scaled, rows, T, K, target_idx, context):
    """x [count, T, C], y [count, K·Ct] of the windows whose targets lie in rows."""
    start, end = rows
    first = max(0, start - T) if context else start
    count = max(0, end - T - K - first + 1)
    xs = torch.stack([scaled[first + i : first + i + T] for i in range(count)]) if count else None
    ys = torch.stack([scaled[first + i + T : first + i + T + K][:, target_idx].reshape(-1) for i in range(count)]) if count else None
    return xs, ys


def evaluate_forecasts(model, sm, values, rows):
    """RMSE, MAE, MAPE of K-step forecasts from every origin whose targets lie in rows (data
    units), as evaluateForecasts in src/train/forecast.ts."""
    T, K = sm["seqLen"], sm["horizon"]
    cols = sm["columns"]
    target_idx = [cols.index(c) for c in sm["targetColumns"]]
    mean = torch.tensor(sm["scaler"]["mean"], dtype=torch.float64)
    std = torch.tensor(sm["scaler"]["std"], dtype=torch.float64)
    log = sm.get("transform") == "log"
    first, last = max(rows[0], T), rows[1] - K
    se = ae = ape = 0.0
    n = n_pct = 0
    with torch.no_grad():
        for origin in range(first, last + 1):
            w = values[origin - T : origin].clone()
            if log:
                w = w.log()
            w = (w - mean) / std
            out, _ = model(w.float().unsqueeze(1), readout="last")
            pred = out[0].double().reshape(K, len(target_idx))
            if sm.get("relative"):
                pred = pred + w[T - 1, target_idx]
            pred = pred * std[target_idx] + mean[target_idx]
            if log:
                pred = pred.exp()
            for h in range(K):
                for j, c in enumerate(target_idx):
                    actual = values[origin + h, c].item()
                    e = pred[h, j].item() - actual
                    se += e * e
                    ae += abs(e)
                    n += 1
                    if actual != 0:
                        ape += abs(e / actual)
                        n_pct += 1
    return {"rmse": math.sqrt(se / n), "mae": ae / n, "mape": 100 * ape / max(1, n_pct), "windows": last - first + 1}


# ---------------------------------------------------------------------------------------------
# Distributed training.


def setup_distributed():
    """torchrun sets RANK, WORLD_SIZE, MASTER_ADDR/PORT; a plain `python3` run is one process."""
    if "RANK" not in os.environ:
        return 0, 1, torch.device("cpu")
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    return rank, dist.get_world_size(), device


def shard(B, rank, world):
    """This process's share of the global batch's B rows (contiguous, sizes differ by ≤ 1)."""
    if B < world:
        raise SystemExit(f"--batch {B} is smaller than the {world} processes: each needs at least one row")
    return list(range(B * rank // world, B * (rank + 1) // world))


def make_model(args, I, O, loaded):
    """The --init model (read once by the caller), or a new one with PyTorch's default init."""
    if loaded:
        model, info = loaded
        c = model.config
        if c["input_size"] != I or c["output_size"] != O:
            raise SystemExit(f"{args.init}: the model has I={c['input_size']}, O={c['output_size']}; the data needs I={I}, O={O}")
        return model, info
    torch.manual_seed(args.seed)  # the same initial weights in every process (PyTorch's init)
    return LstmModel(
        {"cell": args.cell, "input_size": I, "hidden_size": args.hidden, "num_layers": args.layers, "bidirectional": args.bidirectional, "output_size": O}
    ), None


def train_loop(args, model, device, step_fn):
    """Adam with global-norm clipping; DDP averages the gradients of the processes."""
    ddp = nn.parallel.DistributedDataParallel(model) if dist.is_initialized() else model
    opt = torch.optim.Adam(ddp.parameters(), lr=args.lr)
    history = []
    t0 = time.time()
    for step in range(1, args.steps + 1):
        opt.zero_grad()
        loss = step_fn(ddp, step - 1)
        loss.backward()
        if args.clip > 0:
            nn.utils.clip_grad_norm_(ddp.parameters(), args.clip)
        opt.step()
        mean = loss.detach().clone()
        if dist.is_initialized():
            dist.all_reduce(mean)
            mean /= dist.get_world_size()
        history.append({"step": step, "trainLoss": mean.item(), "validLoss": None})
    return history, time.time() - t0


def finish(args, model, info, history, seconds, run):
    """Rank 0 writes the model; `run` = (world, rank, loss name)."""
    world, rank, loss_name = run
    if rank == 0:
        info = dict(info)
        info["training"] = {
            "steps": args.steps,
            "stopReason": "steps",
            "loss": loss_name,
            "finalTrainLoss": history[-1]["trainLoss"] if history else None,
            "seconds": seconds,
            "history": history,
            "trainer": "python/lstm_ts.py (PyTorch DistributedDataParallel)",
            "worldSize": world,
            "fineTunedFrom": os.path.basename(args.init) if args.init else None,
            "options": {k: v for k, v in vars(args).items() if k != "func"},
            "data": args.file,
        }
        write_model(args.out, model.cpu(), info)
        print(json.dumps({"out": args.out, "steps": args.steps, "finalTrainLoss": info["training"]["finalTrainLoss"], "worldSize": world}))
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def train_text(args):
    rank, world, device = setup_distributed()
    text = read_text(args.file)
    loaded = read_model(args.init) if args.init else None
    if loaded and loaded[1]["task"] != "text":
        raise SystemExit(f"{args.init} is a {loaded[1]['task']} model, not a text model")
    chars = loaded[1]["vocab"] if loaded else sorted(set(text), key=ord)
    index = {ch: i for i, ch in enumerate(chars)}
    unknown = sorted({ch for ch in text if ch not in index})
    if unknown:
        raise SystemExit(f"{args.file}: characters not in the model's vocabulary: {unknown[:10]}")
    ids = torch.tensor([index[ch] for ch in text], dtype=torch.long)
    train, _ = split_train_valid(ids, args.valid_fraction)
    V = len(chars)
    model, info = make_model(args, V, V, loaded)
    info = info or {"task": "text", "input": {"kind": "one-hot"}, "vocab": chars}
    model.to(device)
    data = TextStreams(train, args.batch, args.seq_len)
    mine = shard(args.batch, rank, world)
    carried = {}

    def step(ddp, k):
        w = k % data.windows
        if w == 0:
            carried.clear()  # each epoch starts from a zero state
        x, y = data.window(w, mine)
        out, state = ddp(F.one_hot(x, V).float().to(device), carried.get("state"))
        # truncated BPTT (a GRU's state is one tensor, an LSTM's the pair h, c)
        carried["state"] = state.detach() if torch.is_tensor(state) else tuple(s.detach() for s in state)
        # This process's sum over the global count, × W because DDP averages the W gradients:
        # the gradient of the global batch's mean, whatever the shard sizes.
        ce = F.cross_entropy(out.reshape(-1, V), y.to(device).reshape(-1), reduction="sum")
        return ce * world / (args.seq_len * args.batch)

    history, seconds = train_loop(args, model, device, step)
    finish(args, model, info, history, seconds, (world, rank, "nats/char"))


def train_series(args):
    rank, world, device = setup_distributed()
    loaded = read_model(args.init) if args.init else None
    if loaded:
        if loaded[1]["task"] != "series":
            raise SystemExit(f"{args.init} is a {loaded[1]['task']} model, not a series model")
        sm = loaded[1]["series"]
        columns, targets = sm["columns"], sm["targetColumns"]
    else:
        columns = args.column.split(",")
        targets = args.target.split(",") if args.target else columns
    values, time_col, times = read_csv(args.file, columns)
    N, C = values.shape
    split = split_series(N, args.valid_fraction, args.test_fraction)
    transform = (sm.get("transform") or "none") if loaded else args.transform
    if transform == "log" and not bool((values > 0).all()):
        raise SystemExit(f"{args.file}: --transform log needs positive values")
    transformed = values.log() if transform == "log" else values.clone()
    if loaded:
        mean = torch.tensor(sm["scaler"]["mean"], dtype=torch.float64)
        std = torch.tensor(sm["scaler"]["std"], dtype=torch.float64)
        T, K, relative = sm["seqLen"], sm["horizon"], sm.get("relative", False)
    else:
        tr = transformed[split["train"][0] : split["train"][1]]
        mean = tr.mean(0)
        std = tr.std(0, unbiased=False)
        std[~(std > 0)] = 1.0
        T, K, relative = args.seq_len, args.horizon, args.relative
    scaled = (transformed - mean) / std
    target_idx = [columns.index(t) for t in targets]
    xs, ys = series_windows(scaled, split["train"], T, K, target_idx, context=False)
    if xs is None:
        raise SystemExit(f"{args.file}: the training part has too few rows for seqLen {T} + horizon {K}")
    if relative:
        ys = ys - xs[:, T - 1, target_idx].repeat(1, K)
    model, info = make_model(args, C, K * len(target_idx), loaded)
    info = info or {
        "task": "series",
        "input": {"kind": "dense"},
        "series": {
            "columns": columns,
            "targetColumns": targets,
            "timeColumn": time_col,
            "horizon": K,
            "seqLen": T,
            "scaler": {"mean": mean.tolist(), "std": std.tolist()},
            "transform": transform,
            "relative": relative,
            "missing": "error",
            "rows": N,
            "split": split,
            "lastTime": times[-1] if times else None,
        },
    }
    model.to(device)
    B = min(args.batch, len(xs))
    per_epoch = len(xs) // B
    mine = shard(B, rank, world)
    gen = torch.Generator().manual_seed(args.seed)  # the same window order in every process
    order = {}

    def step(ddp, k):
        if k % per_epoch == 0:
            order["o"] = torch.randperm(len(xs), generator=gen)
        idx = order["o"][(k % per_epoch) * B : (k % per_epoch + 1) * B][mine]
        out, _ = ddp(xs[idx].transpose(0, 1).float().to(device), readout="last")
        se = F.mse_loss(out, ys[idx].float().to(device), reduction="sum")
        return se * world / (B * ys.shape[1])  # the global batch's mean (see train_text)

    history, seconds = train_loop(args, model, device, step)
    finish(args, model, info, history, seconds, (world, rank, "MSE (scaled)"))


def evaluate(args):
    """The companion's own evaluation, with `lstm eval --json`'s definitions and keys."""
    model, info = read_model(args.model)
    model.eval()
    if info["task"] == "text":
        text = read_text(args.file)
        if args.max_chars is not None:
            text = text[: args.max_chars]  # code points, as lstm eval --max-chars
        index = {ch: i for i, ch in enumerate(info["vocab"])}
        ids = torch.tensor([index[ch] for ch in text if ch in index], dtype=torch.long)
        loss = stream_cross_entropy(model, ids)
        print(json.dumps({"task": "text", "loss": loss, "bitsPerChar": loss / math.log(2), "characters": len(ids) - 1}))
        return
    sm = info["series"]
    values, _, _ = read_csv(args.file, sm["columns"])
    N = values.shape[0]
    split = sm.get("split")
    use_test = split is not None and sm.get("rows") == N and split["test"][1] > split["test"][0]
    rows = split["test"] if use_test else [0, N]
    r = evaluate_forecasts(model, sm, values, rows)
    print(json.dumps({"task": "series", "rowsUsed": "test" if use_test else "all", **r}))


def main(argv=None):
    p = argparse.ArgumentParser(prog="lstm_ts.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(required=True)

    def common(cmd, **d):
        cmd.add_argument("file")
        cmd.add_argument("--out", required=True)
        cmd.add_argument("--init", help="an lstm-ts model to fine-tune (keeps its vocabulary / scaler, window, horizon)")
        cmd.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
        cmd.add_argument("--hidden", type=int, default=d["hidden"])
        cmd.add_argument("--layers", type=int, default=1)
        cmd.add_argument("--bidirectional", action="store_true")
        cmd.add_argument("--seq-len", type=int, default=d["seq_len"])
        cmd.add_argument("--batch", type=int, default=d["batch"], help="global batch (split over the processes)")
        cmd.add_argument("--lr", type=float, default=d["lr"])
        cmd.add_argument("--clip", type=float, default=d["clip"])
        cmd.add_argument("--steps", type=int, required=True)
        cmd.add_argument("--seed", type=int, default=0)
        cmd.add_argument("--valid-fraction", type=float, default=d["valid"])

    t = sub.add_parser("train-text", help="character model (defaults as lstm train-text)")
    common(t, hidden=128, seq_len=64, batch=32, lr=0.003, clip=5, valid=0.05)
    t.set_defaults(func=train_text)
    s = sub.add_parser("train-series", help="forecaster (defaults as lstm train-series)")
    common(s, hidden=32, seq_len=24, batch=16, lr=0.01, clip=1, valid=0.15)
    s.add_argument("--column")
    s.add_argument("--target")
    s.add_argument("--horizon", type=int, default=1)
    s.add_argument("--test-fraction", type=float, default=0.15)
    s.add_argument("--transform", choices=["none", "log"], default="none")
    s.add_argument("--relative", action="store_true")
    s.set_defaults(func=train_series)
    e = sub.add_parser("eval", help="evaluate a model file on a text or CSV file (one JSON line)")
    e.add_argument("model")
    e.add_argument("file")
    e.add_argument("--max-chars", type=int, help="text: evaluate only the first n characters")
    e.set_defaults(func=evaluate)
    args = p.parse_args(argv)
    if args.func is train_series and not args.init and not args.column:
        p.error("train-series needs --column (or --init)")
    args.func(args)


if __name__ == "__main__":
    main()
