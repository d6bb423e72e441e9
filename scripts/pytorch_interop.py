#!/usr/bin/python3
"""PyTorch side of the lstm-ts interoperability check (test/interop.test.ts, docs/model-format.md).

Needs torch (1.13 is enough); does not need the `safetensors` package: files are read and written
with struct + json + torch.frombuffer, as in the fallback reader of docs/model-format.md.

  pytorch_interop.py forward MODEL.safetensors INPUT.json [--dtype float32|float64]
      Loads an lstm-ts model file into [nn.Embedding +] nn.LSTM (or nn.GRU when its config says
      "cell": "gru") + nn.Linear with load_state_dict(strict=True), runs it on INPUT.json (x: token
      ids for an embedding model) and prints {"torch", "dtype", "config", "y", "h_n", "c_n" (LSTM
      only), "out"} as JSON.

  pytorch_interop.py export OUT.safetensors --input-size I --hidden-size H [--num-layers L]
          [--bidirectional] --output-size O [--seed S] [--lstm-name lstm] [--head-name head]
          [--dtype float32|float64] [--input INPUT.json] [--cell lstm|gru]
      Builds a seeded nn.LSTM (or nn.GRU) + nn.Linear, saves its state_dict as safetensors with torch's own
      key names (`<lstm-name>.weight_ih_l0`, or bare `weight_ih_l0` with --lstm-name "";
      `<head-name>.weight`, `<head-name>.bias`), and prints {"keys": [...]} plus, with --input,
      that module's outputs on the input (computed before saving, in --dtype).

INPUT.json: {"x": {"shape": [T, B, I], "data": [...]}, "h0"?: {...}, "c0"?: {...} (LSTM)}; x is
time-major, h0/c0 are [L*D, B, H]. Every output array is {"shape": [...], "data": [...]} with
data flat row-major. The head is applied at every time step: out is [T, B, O].
"""
import argparse
import json
import struct
import sys

import torch
from torch import nn

DTYPES = {"F32": torch.float32, "F64": torch.float64}
NAMES = {torch.float32: "F32", torch.float64: "F64"}


def load_safetensors(path):
    """The fallback reader of docs/model-format.md: (tensors, metadata) from a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        buf = bytearray(raw[8 + n + begin : 8 + n + end])
        tensors[name] = torch.frombuffer(buf, dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
    return tensors, metadata


def save_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} (float32/float64, contiguous little-endian) as safetensors."""
    header = {"__metadata__": metadata} if metadata else {}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        a = t.detach().contiguous().cpu().numpy()
        blob = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": NAMES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class Net(nn.Module):
    """The lstm-ts model: [nn.Embedding] + nn.LSTM (optional proj_size) or nn.GRU (time-major,
    attribute named after the cell, so the state_dict keys are the model file's `lstm.*` /
    `gru.*`) + nn.Linear head on every step; with a tied head, head.weight is embedding.weight."""

    def __init__(self, c):
        super().__init__()
        cell = c.get("cell", "lstm")
        emb = c.get("embedding")
        proj = c.get("proj_size", 0)
        d = 2 if c["bidirectional"] else 1
        self.cell = cell
        if emb:
            self.embedding = nn.Embedding(emb["num_embeddings"], c["input_size"], padding_idx=emb["padding_idx"])
        extra = {"proj_size": proj} if proj else {}
        setattr(self, cell, CELLS[cell](c["input_size"], c["hidden_size"], c["num_layers"],
                                        bidirectional=c["bidirectional"], **extra))
        self.head = nn.Linear(d * (proj or c["hidden_size"]), c["output_size"])
        if c.get("tied_head"):
            self.head.weight = self.embedding.weight


def array(t):
    return {"shape": list(t.shape), "data": t.detach().double().reshape(-1).tolist()}


def tensor(a, dtype):
    return torch.tensor(a["data"], dtype=torch.float64).reshape(a["shape"]).to(dtype)


def run(rnn, head, inputs, dtype, embedding=None):
    if embedding is not None:
        x = embedding(torch.tensor(inputs["x"]["data"], dtype=torch.int64).reshape(inputs["x"]["shape"]))
    else:
        x = tensor(inputs["x"], dtype)
    gru = isinstance(rnn, nn.GRU)
    state = None
    if "h0" in inputs:
        h0 = tensor(inputs["h0"], dtype)
        state = h0 if gru else (h0, tensor(inputs["c0"], dtype))
    with torch.no_grad():
        y, s = rnn(x, state)
        out = head(y)
    if gru:
        return {"y": array(y), "h_n": array(s), "out": array(out)}
    return {"y": array(y), "h_n": array(s[0]), "c_n": array(s[1]), "out": array(out)}


def cmd_forward(args):
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    tensors, meta = load_safetensors(args.model)
    c = json.loads(meta["config"])
    cell = c.get("cell", "lstm")
    net = Net(c)
    if c.get("tied_head"):
        # A tied module's state_dict names the shared tensor twice; the file stores it once.
        tensors["head.weight"] = tensors["embedding.weight"]
    net.load_state_dict(tensors, strict=True)
    net = net.to(dtype)
    with open(args.input) as f:
        inputs = json.load(f)
    result = run(getattr(net, cell), net.head, inputs, dtype, getattr(net, "embedding", None))
    result.update({"torch": torch.__version__, "dtype": args.dtype, "config": c})
    json.dump(result, sys.stdout)


def cmd_export(args):
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    torch.manual_seed(args.seed)
    extra = {"proj_size": args.proj_size} if args.proj_size else {}
    lstm = CELLS[args.cell](args.input_size, args.hidden_size, args.num_layers, bidirectional=args.bidirectional,
                            **extra)
    d = 2 if args.bidirectional else 1
    head = nn.Linear(d * (args.proj_size or args.hidden_size), args.output_size)
    embedding = nn.Embedding(args.vocab, args.input_size) if args.vocab else None
    if embedding is not None and args.tie:
        head.weight = embedding.weight
    # Give the biases a wider spread than the default init so a dropped bias cannot go unnoticed.
    with torch.no_grad():
        for name, p in list(lstm.named_parameters()) + list(head.named_parameters()):
            if "bias" in name:
                p.uniform_(-0.5, 0.5)
    lstm, head = lstm.to(dtype), head.to(dtype)
    if embedding is not None:
        embedding = embedding.to(dtype)
        if args.tie:
            head.weight = embedding.weight
    state = {}
    if embedding is not None:
        state[f"{args.embedding_name}.weight"] = embedding.weight
    for k, v in lstm.state_dict().items():
        state[f"{args.lstm_name}.{k}" if args.lstm_name else k] = v
    for k, v in head.state_dict().items():
        state[f"{args.head_name}.{k}"] = v
    save_safetensors(args.out, state, {"format": "pt"})
    result = {"torch": torch.__version__, "dtype": args.dtype, "keys": list(state)}
    if args.input:
        with open(args.input) as f:
            result.update(run(lstm, head, json.load(f), dtype, embedding))
    json.dump(result, sys.stdout)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("forward")
    f.add_argument("model")
    f.add_argument("input")
    f.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    f.set_defaults(fn=cmd_forward)
    e = sub.add_parser("export")
    e.add_argument("out")
    e.add_argument("--input-size", type=int, required=True)
    e.add_argument("--hidden-size", type=int, required=True)
    e.add_argument("--num-layers", type=int, default=1)
    e.add_argument("--bidirectional", action="store_true")
    e.add_argument("--output-size", type=int, required=True)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--lstm-name", default="lstm")
    e.add_argument("--head-name", default="head")
    e.add_argument("--proj-size", type=int, default=0)
    e.add_argument("--vocab", type=int, default=0, help="an nn.Embedding of this many rows (x: token ids)")
    e.add_argument("--embedding-name", default="embedding")
    e.add_argument("--tie", action="store_true", help="head.weight is the embedding's weight")
    e.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    e.add_argument("--input")
    e.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    e.set_defaults(fn=cmd_export)
    args = p.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
