"""PyTorch companion of lstm-ts: the same model, data and file format, trained with
DistributedDataParallel under torchrun. Pure PyTorch and the standard library.

    torchrun --nproc_per_node 2 python/lstm_ts.py train-text FILE.txt --steps N --out m.safetensors
    torchrun --nproc_per_node 2 python/lstm_ts.py train-series FILE.csv --column c --steps N --out m.safetensors
    torchrun --nproc_per_node 2 python/lstm_ts.py train-classify FILE.csv --text-column t \\
        --label-column l --steps N --out m.safetensors
    python3 python/lstm_ts.py eval m.safetensors FILE            (prints one JSON line)

Every model option of `lstm train-*` (--cell, --layers, --bidirectional, --embedding,
--proj-size, --dropout, --input-dropout, --output-dropout, --tie-weights) and the training
options that matter for a real run (--optimizer, --momentum, --weight-decay, --schedule,
--warmup, --step-size, --gamma, --clip, --clip-value, --steps/--epochs/--time, --eval-every,
--patience, --checkpoint, --checkpoint-every, --resume, --fine-tune, --init, --orthogonal,
--forget-bias)
have lstm's names and defaults. docs/scale-out.md explains what is shared with the TypeScript
side and what is not.
Letters: T window, B batch, I input, E embedding width, H hidden, P projection, L layers,
D directions, O outputs, V vocabulary, C columns or classes, K horizon, W world size (processes).
"""
import argparse
import csv
import hashlib
import io
import json
import math
import os
import stat
import struct
import sys
import time
import unicodedata

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

FORMAT = "lstm-ts-model"
CHECKPOINT_FORMAT = "lstm-ts-companion-checkpoint"
INIT_SCHEMES = ("pytorch", "xavier")


class CompanionError(Exception):
    """A bad input or option: one line naming the file and field, never a stack trace."""


def fail(message):
    raise CompanionError(message)


def js_round(x):
    """JavaScript's Math.round (halves up), which lstm-ts's splits use; Python's round() is
    banker's rounding and would split 0.5 cases differently."""
    return math.floor(x + 0.5)


# ---------------------------------------------------------------------------------------------
# Model: [nn.Embedding as `embedding`] + nn.LSTM as `lstm` (or nn.GRU as `gru`) + nn.Linear as
# `head`, exactly the parameter names and order of our files (docs/model-format.md), with the
# optional projection, tied head and the three dropout sites of `lstm train-*`.


class LstmModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        check_config(config)
        self.config = dict(config)
        c = config
        self.cell = c.get("cell", "lstm")
        D = 2 if c["bidirectional"] else 1
        emb = c.get("embedding")
        if emb:  # registered first: embedding.weight is the file's first tensor
            self.embedding = nn.Embedding(emb["num_embeddings"], c["input_size"], padding_idx=emb.get("padding_idx"))
        drop = c.get("dropout") or {}
        P = c.get("proj_size") or 0
        kw = {"bidirectional": c["bidirectional"]}
        if c["num_layers"] > 1 and drop.get("between_layers", 0) > 0:
            kw["dropout"] = drop["between_layers"]  # nn.LSTM's dropout: every layer's output but the last
        if P:
            kw["proj_size"] = P
        rnn = nn.GRU if self.cell == "gru" else nn.LSTM
        setattr(self, self.cell, rnn(c["input_size"], c["hidden_size"], c["num_layers"], **kw))
        self.head = nn.Linear(D * (P or c["hidden_size"]), c["output_size"])
        if c.get("tied_head"):
            self.head.weight = self.embedding.weight  # one parameter, the gradient of both uses
        self.input_dropout = nn.Dropout(drop.get("input", 0))
        self.output_dropout = nn.Dropout(drop.get("output", 0))

    @property
    def rnn(self):
        return getattr(self, self.cell)

    def forward(self, x, state=None, readout="all", lengths=None):
        """x: token ids [T, B] (long: an embedding's tokens, or one-hot rows of I) or values
        [T, B, I]. readout "all" → [T, B, O]; "last" → [B, O] (head on y[T−1]); "final" → [B, O]
        (head on the last layer's final states [forward | reverse] at each row's length, lengths
        [B], packed sequences). Returns the output and the state: (h, c) [L·D, B, Hout] and
        [L·D, B, H] for the LSTM, h for the GRU."""
        if not torch.is_floating_point(x):
            x = self.embedding(x) if hasattr(self, "embedding") else F.one_hot(x, self.config["input_size"]).float()
        x = self.input_dropout(x)
        if readout == "final":
            packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
            _, state = self.rnn(packed, state)
            h = state if torch.is_tensor(state) else state[0]
            D = 2 if self.config["bidirectional"] else 1
            final = torch.cat([h[h.shape[0] - D + d] for d in range(D)], dim=1)  # [B, D·Hout]
            return self.head(self.output_dropout(final)), state
        y, state = self.rnn(x, state)
        y = self.output_dropout(y)
        return self.head(y if readout == "all" else y[-1]), state


def check_config(c):
    """The rules of makeConfig (src/model/config.ts) that building the module relies on."""
    for k in ("input_size", "hidden_size", "num_layers", "output_size"):
        if not isinstance(c.get(k), int) or isinstance(c.get(k), bool) or c[k] < 1:
            fail(f"config.{k}: expected a positive integer, got {c.get(k)!r}")
    if not isinstance(c.get("bidirectional"), bool):
        fail(f"config.bidirectional: expected true or false, got {c.get('bidirectional')!r}")
    if c.get("cell", "lstm") not in ("lstm", "gru"):
        fail(f"config.cell: expected lstm or gru, got {c.get('cell')!r}")
    P = c.get("proj_size") or 0
    if not isinstance(P, int) or isinstance(P, bool):
        fail(f"config.proj_size: expected an integer, got {P!r}")
    if P and (c.get("cell", "lstm") != "lstm" or not 0 < P < c["hidden_size"]):
        fail(f"config.proj_size: {P} needs an LSTM with hidden_size > {P}")
    emb = c.get("embedding")
    if emb is not None and not isinstance(emb, dict):
        fail(f"config.embedding: expected an object, got {emb!r}")
    if emb is not None:
        pad = emb.get("padding_idx")
        if not isinstance(emb.get("num_embeddings"), int) or emb["num_embeddings"] < 1:
            fail("config.embedding.num_embeddings: expected a positive integer")
        if pad is not None and not (isinstance(pad, int) and 0 <= pad < emb["num_embeddings"]):
            fail(f"config.embedding.padding_idx: {pad!r} is outside [0, {emb['num_embeddings']})")
    if c.get("tied_head"):
        D = 2 if c["bidirectional"] else 1
        if emb is None or emb["num_embeddings"] != c["output_size"] or c["input_size"] != D * (P or c["hidden_size"]):
            fail("config.tied_head: needs an embedding [output_size, D·Hout]")
    if not isinstance(c.get("dropout") or {}, dict):
        fail(f"config.dropout: expected an object, got {c.get('dropout')!r}")
    for k, p in (c.get("dropout") or {}).items():
        if not (isinstance(p, (int, float)) and 0 <= p < 1):
            fail(f"config.dropout.{k}: expected a probability in [0, 1), got {p!r}")


def model_config(args, I, O, vocab=None):
    """The file's `config` for a new model from the command line's flags (featureConfig in
    cli/train-flags.ts): `vocab` is V for token input (text, classify chars), else None."""
    D = 2 if args.bidirectional else 1
    c = {"input_size": I, "hidden_size": args.hidden, "num_layers": args.layers, "bidirectional": args.bidirectional, "output_size": O}
    if args.cell == "gru":
        c = {"cell": "gru", **c}
    if args.embedding is not None:
        if vocab is None:
            fail("--embedding is for token input (text models, train-classify --kind chars)")
        c["input_size"] = args.embedding
        c["embedding"] = {"num_embeddings": vocab, "padding_idx": 0 if args.command == "train-classify" else None}
    if args.proj_size is not None:
        if args.cell == "gru":
            fail("--proj-size is for --cell lstm (a GRU has no projection)")
        if args.proj_size >= args.hidden:
            fail(f"--proj-size {args.proj_size} must be smaller than --hidden {args.hidden}")
        c["proj_size"] = args.proj_size
    if args.tie_weights:
        width = D * (args.proj_size or args.hidden)
        if args.command == "train-classify":
            fail("--tie-weights: a classifier's head predicts classes, not characters")
        if args.embedding is None:
            fail("--tie-weights needs --embedding")
        if args.embedding != width:
            fail(f"--tie-weights needs --embedding {width} (the head's input: {'--proj-size' if args.proj_size else '--hidden'}), got {args.embedding}")
        c["tied_head"] = True
    drop = {"input": args.input_dropout or 0, "between_layers": args.dropout or 0, "output": args.output_dropout or 0}
    if any(v > 0 for v in drop.values()):
        c["dropout"] = drop
    return c


def init_params(model, args):
    """--init pytorch|xavier, --orthogonal, --forget-bias (src/model/init.ts), drawn from
    torch's generator: the same rules as lstm's initialiser, not the same numbers."""
    H = model.config["hidden_size"]
    with torch.no_grad():
        for name, p in model.named_parameters():
            if args.init == "xavier":
                if p.dim() == 1:
                    p.zero_()
                else:
                    bound = math.sqrt(6 / (p.shape[0] + p.shape[1]))
                    p.uniform_(-bound, bound)
            if args.orthogonal and ".weight_hh_" in name:
                for g in range(p.shape[0] // H):
                    nn.init.orthogonal_(p[g * H : (g + 1) * H])
            if args.forget_bias is not None and name.startswith("lstm.bias_"):
                p[H : 2 * H] = args.forget_bias if name.startswith("lstm.bias_ih_") else 0.0
        emb = getattr(model, "embedding", None)
        if emb is not None and emb.padding_idx is not None:
            emb.weight[emb.padding_idx].zero_()  # the padding row starts at zero, as in PyTorch


# ---------------------------------------------------------------------------------------------
# The model file: safetensors, F32, metadata strings (docs/model-format.md).

META_KEYS = ("vocab", "series", "classifier", "training")


def read_file_bytes(path):
    """The bytes of a regular file: a FIFO, device or directory is refused before it is opened
    (reading one could block or never end), as lstm refuses them."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            fail(f"{path}: not a regular file")
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        fail(f"{path}: cannot read ({e.strerror})")


def read_safetensors(path):
    data = read_file_bytes(path)
    if len(data) < 8:
        fail(f"{path}: not a safetensors file ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > min(len(data) - 8, 100_000_000):
        fail(f"{path}: not a safetensors file (header length {n})")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        fail(f"{path}: not a safetensors file (the header is not UTF-8 JSON)")
    if not isinstance(header, dict):
        fail(f"{path}: not a safetensors file (the header is not an object)")
    return header, data[8 + n :]


def read_model(path):
    """(LstmModel, info): info holds task, input and the metadata entries, parsed; the exact
    strings are kept in info["_raw"] so write_model rewrites an unchanged file byte for byte.
    Every header field is checked first: a bad file is one CompanionError naming it and the field."""
    header, body = read_safetensors(path)
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        fail(f"{path}: __metadata__: expected an object of strings")
    if meta.get("format") not in (FORMAT, "lstm-ts-checkpoint"):
        fail(f"{path}: not an lstm-ts model (format {meta.get('format')!r})")
    if meta.get("format_version") != "1":
        fail(f"{path}: format version {meta.get('format_version')} is not supported")
    entries = {name: check_tensor_entry(path, name, t, len(body)) for name, t in header.items()}
    c = _meta_json(path, meta, "config")
    if not isinstance(c, dict):
        fail(f"{path}: __metadata__ config: expected a JSON object")
    try:
        model = LstmModel(c)
    except CompanionError as e:
        fail(f"{path}: {e}")
    info = {"task": meta.get("task", "generic"), "input": _meta_json(path, meta, "input", '{"kind":"dense"}')}
    for k in META_KEYS:
        if k in meta:
            info[k] = _meta_json(path, meta, k)
    check_meta(path, info, c)
    state = {}
    for name, p in model.state_dict().items():
        if name == "head.weight" and c.get("tied_head"):
            continue  # stored once, as embedding.weight
        if name not in entries:
            fail(f"{path}: tensor {name} is missing")
        dtype, shape, a, b = entries[name]
        if shape != list(p.shape):
            fail(f"{path}: tensor {name}: shape {shape}, expected {list(p.shape)}")
        state[name] = torch.frombuffer(bytearray(body[a:b]), dtype=DTYPES[dtype][0]).reshape(shape).float() if b > a else torch.zeros(shape)
        if not bool(torch.isfinite(state[name]).all()):
            fail(f"{path}: tensor {name} holds NaN or ±Infinity")
    if c.get("tied_head"):
        state["head.weight"] = state["embedding.weight"]
    model.load_state_dict(state, strict=True)
    info["_raw"] = {k: meta[k] for k in ("config", "input", *META_KEYS) if k in meta}
    return model, info


# safetensors dtypes the reader takes: torch dtype and bytes per entry.
DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8)}


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def check_tensor_entry(path, name, t, body_len):
    """(dtype, shape, a, b) of one header entry: a known dtype, a shape of non-negative integers,
    0 ≤ a ≤ b ≤ the data's length, and b − a the shape's bytes (safetensors' own rules)."""
    where = f"{path}: tensor {name}"
    if not isinstance(t, dict):
        fail(f"{where}: expected an object with dtype, shape and data_offsets")
    dtype = t.get("dtype")
    if dtype not in DTYPES:
        fail(f"{where}: dtype {dtype!r} is not supported (F32 or F64)")
    shape = t.get("shape")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        fail(f"{where}: shape: expected a list of non-negative integers, got {shape!r}")
    off = t.get("data_offsets")
    if not (isinstance(off, list) and len(off) == 2 and all(_is_int(x) for x in off)):
        fail(f"{where}: data_offsets: expected [begin, end], got {off!r}")
    a, b = off
    if not 0 <= a <= b <= body_len:
        fail(f"{where}: data_offsets [{a}, {b}] are outside the {body_len} bytes of data")
    need = math.prod(shape) * DTYPES[dtype][1]
    if b - a != need:
        fail(f"{where}: data_offsets [{a}, {b}] hold {b - a} bytes; {dtype} {shape} needs {need}")
    return dtype, shape, a, b


def _meta_json(path, meta, key, default=None):
    s = meta.get(key, default)
    if s is None:
        fail(f"{path}: __metadata__ {key} is missing")
    try:
        return json.loads(s)
    except ValueError:
        fail(f"{path}: __metadata__ {key} is not JSON")


def check_meta(path, info, c):
    """The metadata the companion reads, checked against the config (src/io/schemas.ts's
    schemas and checkMetaAgainstConfig): a bad entry is an error naming it, never a KeyError."""

    def bad(field, msg):
        fail(f"{path}: __metadata__ {field}: {msg}")

    def strings(v, nonempty=False):
        return isinstance(v, list) and all(isinstance(x, str) and (x or not nonempty) for x in v)

    def numbers(v):
        return isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)

    task, inp = info["task"], info["input"]
    I, O = c["input_size"], c["output_size"]
    rows = (c.get("embedding") or {}).get("num_embeddings")
    if task not in ("text", "series", "generic", "classify"):
        bad("task", f"expected text, series, classify or generic, got {task!r}")
    if not isinstance(inp, dict) or inp.get("kind") not in ("one-hot", "embedding", "dense"):
        bad("input", f"expected {{\"kind\": one-hot, embedding or dense}}, got {inp!r}")
    if (inp["kind"] == "embedding") != (rows is not None):
        bad("input", f"is {inp['kind']} but the config {'has' if rows else 'has no'} embedding table")
    if "training" in info and not isinstance(info["training"], dict):
        bad("training", "expected a JSON object")
    vocab = info.get("vocab")
    if task == "text" and vocab is None:
        bad("vocab", "a text model needs a vocabulary")
    if vocab is not None:
        if not strings(vocab) or not vocab or any(len(ch) != 1 for ch in vocab) or len(set(vocab)) != len(vocab):
            bad("vocab", "expected a non-empty list of distinct single characters")
        V = len(vocab)
        if (inp["kind"] == "one-hot" and V != I) or (inp["kind"] == "embedding" and V != rows) or (task == "text" and V != O):
            bad("vocab", f"has {V} characters; the config has input_size {I}, output_size {O}, embedding rows {rows}")
    def section(key, needed_by, why):
        """info[key], a JSON object: required by task `needed_by` (`why`), else optional."""
        sec = info.get(key)
        if task == needed_by and sec is None:
            bad(key, why)
        if sec is not None and not isinstance(sec, dict):
            bad(key, "expected a JSON object")
        return sec

    clf = section("classifier", "classify", "a classifier needs its metadata")
    if clf is not None:
        if clf.get("kind") not in ("chars", "numbers"):
            bad("classifier.kind", f"expected chars or numbers, got {clf.get('kind')!r}")
        for k in ("textColumn", "labelColumn"):
            if not isinstance(clf.get(k), str):
                bad(f"classifier.{k}", "expected a string")
        cl = clf.get("classes")
        if not strings(cl, nonempty=True) or len(cl) < 2 or len(set(cl)) != len(cl):
            bad("classifier.classes", "expected at least 2 distinct non-empty labels")
        if len(cl) != O:
            bad("classifier.classes", f"{len(cl)} classes but output_size is {O}")
        if clf["kind"] == "chars":
            if not strings(clf.get("vocab")) or (inp["kind"] != "dense" and len(clf["vocab"]) + 1 != (rows or I)):
                bad("classifier.vocab", f"expected the characters of ids 1 … {(rows or I) - 1}")
        else:
            sc = clf.get("scaler")
            if clf.get("features") != I:
                bad("classifier.features", f"{clf.get('features')!r} features but input_size is {I}")
            if not isinstance(sc, dict) or not numbers(sc.get("mean")) or not numbers(sc.get("std")) or not len(sc["mean"]) == len(sc["std"]) == I:
                bad("classifier.scaler", f"expected {{mean, std}}, {I} numbers each")
    s = section("series", "series", "a series model needs series metadata")
    if s is not None:
        cols = s.get("columns")
        if not strings(cols, nonempty=True) or len(cols) != I:
            bad("series.columns", f"expected {I} column names (the model's input_size)")
        s.setdefault("targetColumns", cols)  # the schema's defaults, as lstm reads them
        s.setdefault("horizon", 1)
        tg = s["targetColumns"]
        if not strings(tg, nonempty=True) or not tg or any(t not in cols for t in tg):
            bad("series.targetColumns", "expected a non-empty list of the columns")
        for k in ("seqLen", "horizon"):
            if not _is_int(s.get(k)) or s[k] < 1:
                bad(f"series.{k}", f"expected a positive integer, got {s.get(k)!r}")
        if s["horizon"] * len(tg) != O:
            bad("series.horizon", f"horizon {s['horizon']} × {len(tg)} targets, but output_size is {O}")
        sc = s.get("scaler")
        if not isinstance(sc, dict) or not numbers(sc.get("mean")) or not numbers(sc.get("std")) or not len(sc["mean"]) == len(sc["std"]) == I or not all(x > 0 for x in sc["std"]):
            bad("series.scaler", f"expected {{mean, std}}, {I} finite numbers each, std > 0")
        if s.get("transform", "none") not in ("none", "log"):
            bad("series.transform", f"expected none or log, got {s.get('transform')!r}")
        if not isinstance(s.get("relative", False), bool):
            bad("series.relative", "expected true or false")
        sp, n = s.get("split"), s.get("rows")
        if n is not None and not (_is_int(n) and n >= 0):
            bad("series.rows", f"expected a row count, got {n!r}")
        if sp is not None and not (isinstance(sp, dict) and all(isinstance(sp.get(k), list) and len(sp[k]) == 2 and all(_is_int(x) and x >= 0 for x in sp[k]) for k in ("train", "valid", "test"))):
            bad("series.split", "expected {train, valid, test}, each [begin, end] row numbers")


def _json(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def write_model(path, model, info):
    """Writes atomically (temporary file in the same directory, then rename). Entries whose
    value is unchanged since read_model keep their exact strings."""
    raw = info.get("_raw", {})

    def entry(key, value):
        s = raw.get(key)
        return s if s is not None and json.loads(s) == value else _json(value)

    meta = {
        "format": FORMAT,
        "format_version": "1",
        "config": entry("config", model.config),
        "task": info["task"],
        "input": entry("input", info["input"]),
    }
    for k in META_KEYS:
        if k in info:
            meta[k] = entry(k, info[k])
    header = {"__metadata__": meta}
    blobs, offset = [], 0
    for name, p in model.state_dict().items():  # embedding.*, lstm.* (gru.*), head.*
        if name == "head.weight" and model.config.get("tied_head"):
            continue
        b = _f32_bytes(p)
        header[name] = {"dtype": "F32", "shape": list(p.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = _json(header).encode("utf-8")
    h += b" " * (-len(h) % 8)
    write_atomic(path, struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_atomic(path, data):
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        fail(f"{path}: cannot write ({e.strerror})")


def _f32_bytes(p):
    return p.detach().to("cpu", torch.float32).contiguous().numpy().tobytes() if _HAS_NUMPY else _pack(p)


def _pack(p):
    flat = p.detach().to("cpu", torch.float32).reshape(-1).tolist()
    return struct.pack(f"<{len(flat)}f", *flat)


try:  # torch's .numpy() needs numpy; without it, struct (slower, same bytes)
    torch.zeros(1).numpy()
    _HAS_NUMPY = sys.byteorder == "little"
except Exception:  # noqa: BLE001 (RuntimeError or ImportError, depending on the build)
    _HAS_NUMPY = False


# ---------------------------------------------------------------------------------------------
# lstm-ts's random generator (src/tensor/rng.ts: xoshiro128**, seeded through splitmix32), so
# train-classify's seeded validation split picks the same rows here as in lstm.

_M = 0xFFFFFFFF


def _rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & _M


class Rng:
    def __init__(self, seed=0):
        x = ((seed & _M) ^ ((seed // 0x100000000) * 0x9E3779B9)) & _M
        words = []
        for _ in range(4):
            x = (x + 0x9E3779B9) & _M
            z = x
            z = ((z ^ (z >> 16)) * 0x85EBCA6B) & _M
            z = ((z ^ (z >> 13)) * 0xC2B2AE35) & _M
            words.append((z ^ (z >> 16)) & _M)
        self.s = words if any(words) else [1, 0, 0, 0]

    def next_u32(self):
        s0, s1, s2, s3 = self.s
        result = (_rotl((s1 * 5) & _M, 7) * 9) & _M
        t = (s1 << 9) & _M
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 11)
        self.s = [s0, s1, s2, s3]
        return result

    def uniform(self):
        hi = self.next_u32() >> 5
        lo = self.next_u32() >> 6
        return (hi * 67108864 + lo) / 9007199254740992

    def int(self, n):
        return math.floor(self.uniform() * n)


# ---------------------------------------------------------------------------------------------
# Text: src/data/text.ts. Characters are code points; the vocabulary is every distinct one,
# sorted by code point; the last valid_fraction is validation; B contiguous streams, windows of
# T steps, the state carried from window to window (truncated BPTT) and reset each epoch.


def read_text(path):
    raw = read_file_bytes(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        fail(f"{path}: not UTF-8 text (byte {e.start})")
    return text[1:] if text.startswith("\ufeff") else text


def split_train_valid(ids, valid_fraction):
    n = len(ids)
    n_valid = max(1, js_round(n * valid_fraction)) if valid_fraction > 0 else 0
    return ids[: n - n_valid], ids[n - n_valid :]


class TextStreams:
    def __init__(self, ids, B, T):
        self.ids, self.B, self.T = ids, B, T
        self.S = (len(ids) - 1) // B
        self.windows = self.S // T
        if self.windows == 0:
            fail(f"text too short: {len(ids)} characters cannot fill batch {B} × seqLen {T} (+1)")

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


def stream_cross_entropy(model, ids, B=1, T=256, max_windows=None):
    """Mean cross-entropy (nats) of predicting each id from those before it: B streams carried
    from window to window from a zero state (streamCrossEntropy in src/train/text-task.ts; `lstm
    eval` is B = 1 over the whole text, validation is B = --batch, T = --seq-len, 50 windows)."""
    n = len(ids)
    if n < 2:
        return None
    B = max(1, min(B, (n - 1) // T))
    T = min(T, n - 1)
    S = (n - 1) // B
    windows = S // T if max_windows is None else min(S // T, max_windows)
    device = next(model.parameters()).device
    streams = ids[: B * S + 1]
    total, count, state = 0.0, 0, None
    spans = [(k * T, T) for k in range(windows)]
    if max_windows is None and S - windows * T > 0:
        spans.append((windows * T, S - windows * T))
    with torch.no_grad():
        for s, length in spans:
            x = torch.stack([streams[b * S + s : b * S + s + length] for b in range(B)], dim=1)
            y = torch.stack([streams[b * S + s + 1 : b * S + s + length + 1] for b in range(B)], dim=1)
            out, state = model(x.to(device), state)
            total += F.cross_entropy(out.reshape(-1, out.shape[-1]).double(), y.to(device).reshape(-1), reduction="sum").item()
            count += length * B
    return total / count


# ---------------------------------------------------------------------------------------------
# Series: src/data/series.ts and src/train/forecast.ts. Time-ordered split train | valid | test;
# optional log transform; a standard scaler fitted on the training rows (population std, 1 for a
# constant column); windows of T rows predict the next K rows of the target columns.


def read_csv_rows(path):
    """Header and data rows of a CSV file (csv-parse with trim and skip_empty_lines, as
    src/data/csv.ts): every field trimmed, blank lines skipped, each row as wide as the header.
    Yields (line, fields)."""
    text = read_text(path)
    if not text.strip():
        fail(f"{path} is empty")
    if "\0" in text:
        fail(f"{path}: not a text CSV file (NUL byte; binary?)")
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        fail(f"{path}: {e}")
    rows, line = [], 1
    for rec in records:
        fields = [f.strip() for f in rec]
        here = line
        line += 1 + sum(f.count("\n") for f in rec)
        if not rec or (len(fields) == 1 and fields[0] == ""):
            continue
        rows.append((here, fields))
    head = rows[0][1]
    body = rows[1:]
    if not body:
        fail(f"{path}: a header and no data rows")
    for n, r in body:
        if len(r) != len(head):
            fail(f"{path} line {n}: {len(r)} fields, the header has {len(head)}")
    return head, body


def find_column(head, name, path, role="column"):
    at = [i for i, h in enumerate(head) if h == name]
    if len(at) == 1:
        return at[0]
    if len(at) > 1:
        fail(f"{role} '{name}' appears {len(at)} times in the header of {path}")
    fail(f"{role} '{name}' not found in {path}; available: {', '.join(head)}")


def read_csv(path, columns):
    head, body = read_csv_rows(path)
    idx = [find_column(head, c, path) for c in columns]
    values = []
    for n, r in body:
        try:
            values.append([float(r[i]) for i in idx])
        except ValueError:
            fail(f"{path} line {n}: an empty or non-numeric cell (only --missing error is supported here)")
    time_col = head[0] if head[0] not in columns else None
    times = [r[0] for _, r in body] if time_col else None
    return torch.tensor(values, dtype=torch.float64), time_col, times


def split_series(N, valid_fraction, test_fraction):
    n_valid = max(1, js_round(N * valid_fraction)) if valid_fraction > 0 else 0
    n_test = max(1, js_round(N * test_fraction)) if test_fraction > 0 else 0
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
    if n == 0:
        fail(f"no forecast origin: rows {rows[0]}–{rows[1] - 1} are too few for seqLen {T} + horizon {K}")
    return {"rmse": math.sqrt(se / n), "mae": ae / n, "mape": 100 * ape / max(1, n_pct), "windows": last - first + 1}


# ---------------------------------------------------------------------------------------------
# Classification: src/data/classify.ts. One sequence and one label per CSV row; classes sorted
# by UTF-16 code units; the last round(N·test_fraction) rows are the test part; a stratified,
# seeded validation draw (lstm-ts's generator, so the same rows as lstm); the vocabulary of the
# training rows (NFC, code points, id 0 = padding) or a scaler fitted on their steps.

_NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"


def parse_number_cell(cell, at):
    """[len, F] values of `1;2.5;-3`, `[1, 2.5]` or `[[1, 0], [2.5, 1]]` (parseNumberSequence)."""
    import re

    def bad(msg):
        fail(f"{at}: {msg}")

    cell = cell.strip()
    if cell.startswith("["):
        try:
            j = json.loads(cell)
        except ValueError:
            bad(f"{cell!r} is not a JSON array")
        if not isinstance(j, list):
            bad(f"{cell!r} is not a JSON array")
        if not j:
            bad("empty sequence")
        nested = isinstance(j[0], list)
        Fn = len(j[0]) if nested else 1
        if Fn == 0:
            bad("step 0 has no features")
        out = []
        for t, step in enumerate(j):
            row = step if nested else [step]
            if not isinstance(row, list) or len(row) != Fn:
                bad(f"step {t} is {json.dumps(step)}, expected {'an array of %d numbers' % Fn if nested else 'a number'}")
            for v in row:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    bad(f"step {t} is {json.dumps(step)}, expected finite numbers")
            out.append([float(v) for v in row])
        return out
    parts = [p.strip() for p in cell.split(";")]
    if parts == [""]:
        bad("empty sequence")
    out = []
    for t, p in enumerate(parts):
        v = float(p) if re.match(_NUMBER, p) else math.nan
        if not math.isfinite(v):
            bad(f"step {t} {p!r} is not a finite number")
        out.append([v])
    return out


def read_classify_csv(path, text_column, label_column, kind):
    """(texts or number rows, labels, lines) of a classification CSV (parseClassifyCsv)."""
    if text_column == label_column:
        fail(f"--label-column '{label_column}' is also the text column")
    head, body = read_csv_rows(path)
    ti = find_column(head, text_column, path, "text column")
    li = find_column(head, label_column, path, "label column")
    texts, labels, lines, features = [], [], [], None
    for n, r in body:
        if r[ti] == "":
            fail(f"{path} line {n}: empty sequence in text column '{text_column}'")
        if r[li] == "":
            fail(f"{path} line {n}: empty label in label column '{label_column}'")
        if kind == "numbers":
            seq = parse_number_cell(r[ti], f"{path} line {n}, column '{text_column}'")
            if features is None:
                features = len(seq[0])
            elif len(seq[0]) != features:
                fail(f"{path} line {n}, column '{text_column}': {len(seq[0])} features per step, other rows have {features}")
            texts.append(seq)
        else:
            texts.append(r[ti])
        labels.append(r[li])
        lines.append(n)
    return texts, labels, lines, features or 1


def class_names(labels, path, label_column):
    names = sorted(set(labels), key=lambda s: s.encode("utf-16-be"))  # UTF-16 code-unit order, as JS
    if len(names) < 2:
        fail(f"{path}: every row has the label '{names[0]}' in column '{label_column}'; classification needs at least 2 classes")
    return names


def split_classification(class_ids, classes, valid_fraction, test_fraction, seed):
    N = len(class_ids)
    n_test = js_round(N * test_fraction)
    rest = N - n_test
    by_class = [[] for _ in classes]
    for r in range(rest):
        by_class[class_ids[r]].append(r)
    rng = Rng(seed)
    is_valid = [False] * N
    for c, rows in enumerate(by_class):
        if not rows:
            fail(f"class '{classes[c]}' has no training rows" + (f" (all its rows are in the last {n_test} rows, the test part)" if n_test else ""))
        n_valid = min(len(rows) - 1, js_round(len(rows) * valid_fraction))
        for i in range(n_valid):  # partial Fisher–Yates, as splitClassification
            j = i + rng.int(len(rows) - i)
            rows[i], rows[j] = rows[j], rows[i]
            is_valid[rows[i]] = True
    train = [r for r in range(rest) if not is_valid[r]]
    valid = [r for r in range(rest) if is_valid[r]]
    return {"train": train, "valid": valid, "test": list(range(rest, N))}


def fit_scaler(steps, Fn):
    """Per-feature mean and population std of the steps (sequential sums, as StandardScaler.fit;
    a constant feature gets std 1)."""
    m = len(steps)
    mean = [0.0] * Fn
    for s in steps:
        for f in range(Fn):
            mean[f] += s[f]
    mean = [v / m for v in mean]
    std = [0.0] * Fn
    for s in steps:
        for f in range(Fn):
            std[f] += (s[f] - mean[f]) ** 2
    std = [math.sqrt(v / m) for v in std]
    return {"mean": mean, "std": [v if v > 0 else 1.0 for v in std]}


class SequenceEncoder:
    """A classifier's preprocessing (the file's `classifier` entry): character ids (≥ 1, NFC) or
    standardised numbers."""

    def __init__(self, meta):
        self.meta = meta
        self.index = {ch: i + 1 for i, ch in enumerate(meta["vocab"])} if meta["kind"] == "chars" else None

    def encode(self, cell, at, unknown="error"):
        """[len] long ids, or [len, F] float values."""
        m = self.meta
        if self.index is not None:
            text = unicodedata.normalize("NFC", cell)
            ids = [self.index.get(ch) for ch in text]
            if unknown == "error" and None in ids:
                pos = ids.index(None)
                fail(f"{at}: character {text[pos]!r} at position {pos} of {cell!r} is not in the vocabulary; use --unknown skip to drop unseen characters")
            ids = [i for i in ids if i is not None]
            if not ids:
                fail(f"{at}: no character of {cell!r} is in the vocabulary")
            return torch.tensor(ids, dtype=torch.long)
        rows = parse_number_cell(cell, at) if isinstance(cell, str) else cell
        if len(rows[0]) != m["features"]:
            fail(f"{at}: {len(rows[0])} features per step, the model takes {m['features']}")
        v = torch.tensor(rows, dtype=torch.float64)
        s = m["scaler"]
        return ((v - torch.tensor(s["mean"], dtype=torch.float64)) / torch.tensor(s["std"], dtype=torch.float64)).float()


def prepare_classification(args, path, loaded_meta=None):
    """(encoded sequences, class ids, split, classifier meta) as prepareClassification with
    --valid-fraction, --test-fraction and --seed; a fine-tune (--fine-tune, --resume) keeps the
    file's classes and vocabulary or scaler."""
    if loaded_meta:
        args.text_column, args.label_column, args.kind = loaded_meta["textColumn"], loaded_meta["labelColumn"], loaded_meta["kind"]
    texts, labels, lines, Fn = read_classify_csv(path, args.text_column, args.label_column, args.kind)
    classes = loaded_meta["classes"] if loaded_meta else class_names(labels, path, args.label_column)
    cid = {c: i for i, c in enumerate(classes)}
    for label, n in zip(labels, lines):
        if label not in cid:
            fail(f"{path} line {n}: label '{label}' is not one of the model's classes ({', '.join(classes)})")
    class_ids = [cid[label] for label in labels]
    split = split_classification(class_ids, classes, args.valid_fraction, args.test_fraction, args.seed)
    if loaded_meta:
        meta = loaded_meta
    elif args.kind == "chars":
        chars = set(unicodedata.normalize("NFC", "".join(texts[r] for r in split["train"])))
        vocab = sorted(chars, key=ord)
        meta = {"kind": "chars", "textColumn": args.text_column, "labelColumn": args.label_column, "classes": classes, "vocab": vocab, "features": 1, "scaler": None}
    else:
        steps = [s for r in split["train"] for s in texts[r]]
        meta = {"kind": "numbers", "textColumn": args.text_column, "labelColumn": args.label_column, "classes": classes, "vocab": None, "features": Fn, "scaler": fit_scaler(steps, Fn)}
    enc = SequenceEncoder(meta)
    train_rows = set(split["train"])
    seqs = [enc.encode(t, f"{path} line {n}", "error" if (r in train_rows and not loaded_meta) else "skip") for r, (t, n) in enumerate(zip(texts, lines))]
    return seqs, class_ids, split, meta


def pad_batch(seqs, rows):
    """x [T, B] ids or [T, B, F] values (zero padding) and lengths [B] of the given rows."""
    batch = [seqs[r] for r in rows]
    lengths = torch.tensor([len(s) for s in batch], dtype=torch.long)
    x = nn.utils.rnn.pad_sequence(batch)  # [T, B(, F)]
    return x, lengths


def classify_logits(model, seqs, rows, batch=256):
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for s in range(0, len(rows), batch):
            x, lengths = pad_batch(seqs, rows[s : s + batch])
            z, _ = model(x.to(device), readout="final", lengths=lengths)
            out.append(z.double().cpu())
    return torch.cat(out) if out else torch.zeros(0, model.config["output_size"], dtype=torch.float64)


def classification_metrics(truth, predicted, labels, reference):
    """classificationMetrics (src/train/metrics.ts): accuracy, macro-F1 over the classes present,
    per-class scores, confusion (rows true), and the majority class of `reference`."""
    C = len(labels)

    def confusion_of(pred):
        m = [[0] * C for _ in range(C)]
        for t, p in zip(truth, pred):
            m[t][p] += 1
        return m

    def scores(m):
        n = correct = present = 0
        f1_sum = 0.0
        per = []
        for c in range(C):
            support = sum(m[c])
            predicted_as = sum(m[k][c] for k in range(C))
            tp = m[c][c]
            n += support
            correct += tp
            precision = tp / predicted_as if predicted_as > 0 else 0
            recall = tp / support if support > 0 else 0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0
            per.append({"label": labels[c], "precision": precision, "recall": recall, "f1": f1, "support": support})
            if support > 0 or predicted_as > 0:
                f1_sum += f1
                present += 1
        return {"accuracy": correct / n if n else 0, "macroF1": f1_sum / present if present else 0, "perClass": per}

    counts = [0] * C
    for c in reference:
        counts[c] += 1
    major = max(range(C), key=lambda c: (counts[c], -c))
    confusion = confusion_of(predicted)
    base = scores(confusion_of([major] * len(truth)))
    return {"labels": list(labels), "count": len(truth), **scores(confusion), "confusion": confusion, "baseline": {"label": labels[major], "accuracy": base["accuracy"], "macroF1": base["macroF1"]}}


# ---------------------------------------------------------------------------------------------
# Distributed training.


def setup_distributed(backend=None):
    """torchrun sets RANK, WORLD_SIZE, MASTER_ADDR/PORT; a plain `python3` run is one process.
    nccl with CUDA, else gloo (--backend overrides)."""
    cuda = torch.cuda.is_available()
    if "RANK" not in os.environ:
        return 0, 1, torch.device("cuda" if cuda and backend != "gloo" else "cpu")
    backend = backend or ("nccl" if cuda else "gloo")
    if backend == "nccl" and not cuda:
        fail("--backend nccl needs CUDA GPUs (torch.cuda.is_available() is False here); use gloo")
    dist.init_process_group(backend)
    rank = dist.get_rank()
    use_cuda = cuda and backend == "nccl"
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    return rank, dist.get_world_size(), device


def shard(B, rank, world):
    """This process's share of the global batch's B rows (contiguous, sizes differ by ≤ 1)."""
    if B < world:
        fail(f"--batch {B} is smaller than the {world} processes: each needs at least one row")
    return list(range(B * rank // world, B * (rank + 1) // world))


def broadcast_float(x, device):
    """Rank 0's value on every rank (so stop and best-weight decisions agree)."""
    if not dist.is_initialized():
        return x
    t = torch.tensor([math.nan if x is None else x], dtype=torch.float64, device=device)
    dist.broadcast(t, 0)
    v = t.item()
    return None if math.isnan(v) else v


def all_sum(t):
    if dist.is_initialized():
        dist.all_reduce(t)
    return t


def gather_objects(obj):
    """Every rank's obj, in rank order (rank 0 writes checkpoints with all of them)."""
    if not dist.is_initialized():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def make_optimizer(args, params):
    """--optimizer with lstm's flags and torch's defaults (src/optim/optimizers.ts names torch
    1.13's algorithms): --momentum for sgd and rmsprop, --weight-decay (decoupled for adamw,
    whose default is 1e-2)."""
    if args.momentum is not None and args.optimizer not in ("sgd", "rmsprop"):
        fail(f"--momentum applies to sgd and rmsprop, not {args.optimizer}")
    wd = args.weight_decay
    kw = {"lr": args.lr}
    if args.optimizer == "sgd":
        return torch.optim.SGD(params, momentum=args.momentum or 0, weight_decay=wd or 0, **kw)
    if args.optimizer == "adam":
        return torch.optim.Adam(params, weight_decay=wd or 0, **kw)
    if args.optimizer == "adamw":
        return torch.optim.AdamW(params, weight_decay=1e-2 if wd is None else wd, **kw)
    if args.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, momentum=args.momentum or 0, weight_decay=wd or 0, **kw)
    return torch.optim.Adagrad(params, weight_decay=wd or 0, **kw)


def step_budget(args, steps_per_epoch):
    t = min(args.steps if args.steps is not None else math.inf, math.ceil(args.epochs * steps_per_epoch) if args.epochs is not None else math.inf)
    return t if math.isfinite(t) else None


def lr_schedule(args, steps_per_epoch):
    """lrAt (src/optim/schedule.ts) with the schedule trainOptions (cli/train-flags.ts) builds:
    linear warm-up, then constant, step (gamma every --step-size, default a third of the budget)
    or cosine to 1 % at the last step. A function of the 0-based step index."""
    budget = step_budget(args, steps_per_epoch)
    warm, base = args.warmup, args.lr
    if args.schedule == "cosine" and budget is None:
        fail("--schedule cosine needs --steps or --epochs (it decays to the last step)")
    total = max(budget or 0, warm + 1)
    size = args.step_size or (max(1, (budget - warm) // 3) if budget is not None else steps_per_epoch)

    def lr_at(step):
        if step < warm:
            return base * (step + 1) / warm
        u = step - warm
        if args.schedule == "step":
            return base * args.gamma ** (u // size)
        if args.schedule == "cosine":
            lo = 0.01 * base
            return lo + (base - lo) * (1 + math.cos(math.pi * min(u / (total - warm), 1))) / 2
        return base

    return lr_at


class TrainTask:
    """One data task: the loss of step k (this process's share, scaled so DDP's average of the W
    gradients is the gradient of the global batch's mean), validation, and its position."""

    steps_per_epoch = 1
    loss_name = ""

    def step_loss(self, ddp, k):
        raise NotImplementedError

    def valid_loss(self, model):
        return None

    def state(self):
        return {}

    def load_state(self, s):
        pass


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def check_outputs(args):
    """Output paths come from the command line only and never name an input."""
    inputs = [("<file>", args.file)]
    if args.fine_tune:
        inputs.append(("--fine-tune", args.fine_tune))
    if args.resume and not (args.checkpoint and same_file(args.checkpoint, args.resume)):
        inputs.append(("--resume", args.resume))
    outs = [("--out", args.out)] + ([("--checkpoint", args.checkpoint)] if args.checkpoint else [])
    for role, out in outs:
        for irole, inp in inputs:
            if os.path.exists(inp) and same_file(out, inp):
                fail(f"{role} {out} is the {irole} input; refusing to overwrite it")
    if args.checkpoint and same_file(args.checkpoint, args.out):
        fail(f"--checkpoint and --out are the same file ({args.out})")
    for role, out in outs:
        check_writable(role, out)


def check_writable(role, path):
    """Before any training: the output's folder exists and takes new files (write_atomic writes
    a temporary file there and renames it), and the output is not a folder or a device."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        fail(f"{role} {path} is a directory, not a file")
    if os.path.exists(path) and not os.path.isfile(path):
        fail(f"{role} {path} is not a regular file")
    if not os.path.isdir(folder):
        fail(f"{role} {path}: {folder} {'is not a folder' if os.path.exists(folder) else 'does not exist'}")
    if not os.access(folder, os.W_OK | os.X_OK):
        fail(f"{role} {path}: the folder {folder} is not writable")


def _flatten(v, tensors):
    """v as JSON-ready data, its tensors moved to `tensors` ({"__tensor__": i}); dicts with
    non-string keys (an optimizer's state) as {"__items__": [[k, v], …]}."""
    if torch.is_tensor(v):
        tensors.append(v.detach().cpu())
        return {"__tensor__": len(tensors) - 1}
    if isinstance(v, dict):
        if all(isinstance(k, str) for k in v):
            return {k: _flatten(x, tensors) for k, x in v.items()}
        return {"__items__": [[k, _flatten(x, tensors)] for k, x in v.items()]}
    if isinstance(v, (list, tuple)):
        return [_flatten(x, tensors) for x in v]
    return v


def _unflatten(v, tensors):
    if isinstance(v, dict):
        if "__tensor__" in v:
            return tensors[v["__tensor__"]]
        if "__items__" in v:
            return {k: _unflatten(x, tensors) for k, x in v["__items__"]}
        return {k: _unflatten(x, tensors) for k, x in v.items()}
    if isinstance(v, list):
        return [_unflatten(x, tensors) for x in v]
    return v


def save_checkpoint(path, ck):
    """torch.save of a JSON string and a list of tensors only, so that torch.load(weights_only=True)
    reads it (torch 1.13's safe unpickler refuses even a float) and no code runs from the file."""
    tensors = []
    text = json.dumps(_flatten(ck, tensors), ensure_ascii=False)
    buf = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "json": text, "tensors": tensors}, buf)
    write_atomic(path, buf.getvalue())


def load_checkpoint(path):
    """The companion's own checkpoint, read with weights_only=True."""
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as e:
        fail(f"{path}: cannot read ({e.strerror})")
    except Exception as e:  # noqa: BLE001 (pickle refusals and corrupt archives come in many types)
        fail(f"{path}: not a companion checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:120]})")
    if not isinstance(raw, dict) or raw.get("format") != CHECKPOINT_FORMAT:
        fail(f"{path}: not a companion checkpoint (lstm's own checkpoints resume with lstm train-* --resume)")
    try:
        ck = _unflatten(json.loads(raw["json"]), raw["tensors"])
    except (KeyError, ValueError, IndexError, TypeError) as e:
        fail(f"{path}: a damaged companion checkpoint ({type(e).__name__})")
    if not isinstance(ck, dict) or ck.get("version") != 1:
        fail(f"{path}: companion checkpoint version {ck.get('version') if isinstance(ck, dict) else None} is not supported")
    check_checkpoint(path, ck)
    return ck


def check_checkpoint(path, ck):
    """The fields a resume reads, each of its type, and the weights fitting the config: a damaged
    or hand-edited checkpoint is one error naming the field, never a KeyError later."""

    def need(field, ok, what):
        if not ok:
            fail(f"{path}: {field}: expected {what}")

    def number(x, nullable=False):
        return (x is None and nullable) or (isinstance(x, (int, float)) and not isinstance(x, bool))

    def tensors(d):
        return isinstance(d, dict) and all(isinstance(k, str) and torch.is_tensor(v) for k, v in d.items())

    need("options", isinstance(ck.get("options"), dict), "an object of the run's options")
    need("options.command", ck["options"].get("command") in ("train-text", "train-series", "train-classify"), "train-text, train-series or train-classify")
    need("dataSha256", isinstance(ck.get("dataSha256"), str), "a sha256 string")
    need("config", isinstance(ck.get("config"), dict), "the model's config object")
    need("info", isinstance(ck.get("info"), dict) and isinstance(ck["info"].get("task"), str), "an object with the task")
    need("model", tensors(ck.get("model")), "an object of tensors")
    need("best", ck.get("best") is None or tensors(ck["best"]), "null or an object of tensors")
    need("optimizer", isinstance(ck.get("optimizer"), dict), "the optimizer's state object")
    need("task", isinstance(ck.get("task"), list) and ck["task"] and all(isinstance(t, dict) for t in ck["task"]), "a list of each process's data position")
    for k in ("torch_rng", "cuda_rng"):
        need(k, ck.get(k) is None or (isinstance(ck[k], list) and all(x is None or torch.is_tensor(x) for x in ck[k])), "a list of generator states")
    tr = ck.get("trainer")
    need("trainer", isinstance(tr, dict), "the trainer's counters")
    for k in ("step", "lossCount", "evalsSinceBest", "nonFiniteSteps"):
        need(f"trainer.{k}", _is_int(tr.get(k)) and tr[k] >= 0, "a non-negative integer")
    for k, nullable in (("lossSum", False), ("elapsed", False), ("bestValid", True), ("bestStep", True)):
        need(f"trainer.{k}", number(tr.get(k), nullable), "a number" + (" or null" if nullable else ""))
    need("trainer.history", isinstance(tr.get("history"), list) and all(isinstance(h, dict) and _is_int(h.get("step")) and number(h.get("trainLoss")) and number(h.get("validLoss"), True) for h in tr["history"]), "a list of {step, trainLoss, validLoss}")
    try:
        for weights in (ck["model"], ck["best"] or ck["model"]):
            LstmModel(ck["config"]).load_state_dict(weights, strict=True)
    except CompanionError as e:
        fail(f"{path}: {e}")
    except RuntimeError as e:
        fail(f"{path}: model: the weights do not fit the config ({str(e).splitlines()[0][:120]})")


def check_saved_options(path, options, parser):
    """Each stored option as if typed again (its parser's type and choices; cli/train-resume.ts's
    checkSavedOptions), so a hand-edited checkpoint is an error naming the option."""
    actions = {a.dest: a for a in parser._actions}
    for k, v in options.items():
        a = actions.get(k)
        if a is None or v is None or k in ("file", "out", "checkpoint", "resume", "help"):
            continue
        field = f"{path}: options.{k}"
        if isinstance(a, argparse._StoreTrueAction):
            if not isinstance(v, bool):
                fail(f"{field}: expected true or false, got {v!r}")
            continue
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            fail(f"{field}: expected a string or a number, got {v!r}")
        if a.choices is not None and v not in a.choices:
            fail(f"{field}: expected one of {', '.join(map(str, a.choices))}, got {v!r}")
        if a.type is not None:
            try:
                parsed = a.type(str(v))
            except argparse.ArgumentTypeError as e:
                fail(f"{field}: {e}")
            if parsed != v:
                fail(f"{field}: expected {parsed!r}, got {v!r}")
        elif not isinstance(v, str):
            fail(f"{field}: expected a string, got {v!r}")


# Flags that may change on --resume (cli/train-resume.ts's RESUMABLE); the rest come from the
# checkpoint. Paths come from the command line only.
RESUMABLE = {"steps", "epochs", "time", "out", "checkpoint", "checkpoint_every", "resume", "backend", "quiet"}


def train_run(args, ctx, task, model, info):
    """The trainer (src/train/trainer.ts) under DDP: schedule, clipping, optimizer step,
    evaluation every --eval-every steps with early stopping and best-weight restore, checkpoints,
    and skipped non-finite steps. ctx = (rank, world, device, resumed checkpoint or None)."""
    rank, world, device, ck = ctx
    model.to(device)
    ddp = nn.parallel.DistributedDataParallel(model) if dist.is_initialized() else model
    opt = make_optimizer(args, ddp.parameters())
    spe = task.steps_per_epoch
    lr_at = lr_schedule(args, spe)
    total = step_budget(args, spe)
    eval_every = args.eval_every or max(1, min(spe, 200))
    st = {"step": 0, "history": [], "lossSum": 0.0, "lossCount": 0, "bestValid": None, "bestStep": None, "evalsSinceBest": 0, "nonFiniteSteps": 0, "elapsed": 0.0}
    best = None
    if ck:
        st.update(ck["trainer"])
        best = ck.get("best")
        try:
            opt.load_state_dict(ck["optimizer"])
            task.load_state(ck["task"])
            rngs, cuda_rngs = ck.get("torch_rng") or [], ck.get("cuda_rng") or []
            if len(rngs) == world:  # the dropout masks continue where they were (same world size)
                torch.set_rng_state(rngs[rank])
            # On a GPU the masks come from the device's generator (saved by CUDA runs only).
            if device.type == "cuda" and len(cuda_rngs) == world and cuda_rngs[rank] is not None:
                torch.cuda.set_rng_state(cuda_rngs[rank], device)
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as e:
            fail(f"{args.resume}: the optimizer state, data position or generators do not fit this run ({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''})")
    start = time.time() - st["elapsed"]

    def checkpoint_now():
        states = gather_objects(task.state())
        rngs = gather_objects(torch.get_rng_state())
        cuda_rngs = gather_objects(torch.cuda.get_rng_state(device) if device.type == "cuda" else None)
        if rank == 0:
            st["elapsed"] = time.time() - start
            save_checkpoint(args.checkpoint, {
                "format": CHECKPOINT_FORMAT, "version": 1, "config": model.config,
                "info": {k: v for k, v in info.items() if k != "_raw"},
                "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "optimizer": opt.state_dict(), "trainer": dict(st), "best": best,
                "task": states, "torch_rng": rngs, "cuda_rng": cuda_rngs, "world": world,
                "options": {k: v for k, v in vars(args).items() if k not in ("func", "resume_ck")},
                "dataSha256": args.data_sha256,
            })

    def evaluate():
        nonlocal best
        train_loss = st["lossSum"] / st["lossCount"] if st["lossCount"] else math.nan
        model.eval()
        valid = broadcast_float(task.valid_loss(model) if rank == 0 else None, device)
        model.train()
        if valid is not None and math.isfinite(valid):
            if st["bestValid"] is None or valid < st["bestValid"]:
                st.update(bestValid=valid, bestStep=st["step"], evalsSinceBest=0)
                best = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            else:
                st["evalsSinceBest"] += 1
        st["history"].append({"step": st["step"], "trainLoss": train_loss, "validLoss": valid})
        st["lossSum"], st["lossCount"] = 0.0, 0
        if rank == 0 and not args.quiet:
            print(json.dumps({"type": "eval", "step": st["step"], "trainLoss": train_loss, "validLoss": valid}), file=sys.stderr, flush=True)

    model.train()
    reason = None
    while reason is None:
        if total is not None and st["step"] >= total:
            reason = "steps" if args.steps is not None and st["step"] >= args.steps else "epochs"
        elif args.time is not None and broadcast_float(time.time() - start, device) >= args.time:
            reason = "time"
        if reason:
            break
        lr = lr_at(st["step"])
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        loss, mean = task.step_loss(ddp, st["step"])
        loss.backward()
        mean = all_sum(mean.detach().reshape(1).double().clone()).item()
        if args.clip_value is not None:
            nn.utils.clip_grad_value_(ddp.parameters(), args.clip_value)
        norm = nn.utils.clip_grad_norm_(ddp.parameters(), args.clip if args.clip > 0 else math.inf).item()
        if math.isfinite(mean) and math.isfinite(norm):
            opt.step()
            st["lossSum"] += mean
            st["lossCount"] += 1
        else:  # the same decision on every rank: mean and norm are global
            st["nonFiniteSteps"] += 1
        task.after_step(st["step"])
        st["step"] += 1
        if st["step"] % eval_every == 0:
            evaluate()
            if args.patience > 0 and st["evalsSinceBest"] >= args.patience:
                reason = "early-stopping"
        if args.checkpoint and args.checkpoint_every and st["step"] % args.checkpoint_every == 0:
            checkpoint_now()
    if args.checkpoint:  # where a later --resume continues: before the last evaluation and restore
        checkpoint_now()
    if st["step"] > 0 and (not st["history"] or st["history"][-1]["step"] != st["step"]):
        evaluate()
    restored = False
    last_valid = st["history"][-1]["validLoss"] if st["history"] else None
    if best is not None and st["bestValid"] is not None and last_valid is not None and last_valid > st["bestValid"]:
        model.load_state_dict(best)
        restored = True
    losses = [h["trainLoss"] for h in st["history"] if math.isfinite(h["trainLoss"])]
    return {
        "steps": st["step"],
        "epochs": st["step"] / spe,
        "stopReason": reason,
        "finalTrainLoss": losses[-1] if losses else None,
        "bestValidLoss": st["bestValid"],
        "bestStep": st["bestStep"],
        "restoredBest": restored,
        "seconds": time.time() - start,
        "nonFiniteSteps": st["nonFiniteSteps"],
        "loss": task.loss_name,
        "history": [{**h, "trainLoss": h["trainLoss"] if math.isfinite(h["trainLoss"]) else None} for h in st["history"]],
    }


def finish(args, ctx, model, info, summary):
    """Rank 0 writes the model with its training summary."""
    rank, world = ctx[0], ctx[1]
    if rank == 0:
        info = dict(info)
        opts = {k: v for k, v in vars(args).items() if k not in ("func", "data_sha256", "resume_ck", "default_out")}
        info["training"] = {
            **summary,
            "options": opts,
            "data": args.file,
            "trainer": "python/lstm_ts.py (PyTorch DistributedDataParallel)",
            "worldSize": world,
            "fineTunedFrom": args.fine_tuned_from,
        }
        write_model(args.out, model.cpu(), info)
        print(json.dumps({"out": args.out, "steps": summary["steps"], "stopReason": summary["stopReason"], "finalTrainLoss": summary["finalTrainLoss"], "bestValidLoss": summary["bestValidLoss"], "worldSize": world}))
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def start_model(args, I, O, loaded, vocab=None):
    """The model to train: from --resume's checkpoint or --fine-tune's file (read once by the caller;
    their sizes must fit the data), else new from the flags under torch.manual_seed(--seed)
    (the same initial weights in every process)."""
    if loaded:
        model, info = loaded
        c = model.config
        if c["output_size"] != O or (not c.get("embedding") and c["input_size"] != I) or (c.get("embedding") and c["embedding"]["num_embeddings"] != vocab):
            fail(f"{args.fine_tune or args.resume}: the model has I={c['input_size']}, O={c['output_size']}; the data needs I={I}, O={O}")
        return model, info
    torch.manual_seed(args.seed)
    model = LstmModel(model_config(args, I, O, vocab))
    init_params(model, args)
    return model, None


def seed_dropout(args, rank):
    """Each process draws its own dropout masks (its own rows), reproducibly."""
    torch.manual_seed(args.seed * 1000003 + 7919 * (rank + 1))


# ---------------------------------------------------------------------------------------------
# The three data tasks.


def _detach(state):
    return state.detach() if torch.is_tensor(state) else tuple(s.detach() for s in state)


def _rows_of(state, rows):
    return state[:, rows] if torch.is_tensor(state) else tuple(s[:, rows] for s in state)


class TextTask(TrainTask):
    """Windows of B contiguous streams with the state carried (TextTask in text-task.ts); this
    process runs its contiguous share of the streams."""

    loss_name = "nats/char"

    def __init__(self, args, ids, ctx):
        rank, world, self.device, _ = ctx
        self.world, self.args = world, args
        train, self.valid = split_train_valid(ids, args.valid_fraction)
        self.data = TextStreams(train, args.batch, args.seq_len)
        self.mine = shard(args.batch, rank, world)
        self.steps_per_epoch = self.data.windows
        self.carried = None

    def step_loss(self, ddp, k):
        w = k % self.data.windows
        if w == 0:
            self.carried = None  # each epoch starts from a zero state
        x, y = self.data.window(w, self.mine)
        out, state = ddp(x.to(self.device), self.carried)
        self.carried = _detach(state)  # truncated BPTT
        # This process's sum over the global count (all_sum of it: the global mean); × W for the
        # backward because DDP averages the W gradients. Exact for uneven shards too.
        part = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.to(self.device).reshape(-1), reduction="sum") / (self.args.seq_len * self.args.batch)
        return part * self.world, part

    def after_step(self, k):
        pass

    def valid_loss(self, model):
        return stream_cross_entropy(model, self.valid, self.args.batch, self.args.seq_len, 50)

    def state(self):
        s = None if self.carried is None else (self.carried.cpu() if torch.is_tensor(self.carried) else tuple(t.cpu() for t in self.carried))
        return {"rows": self.mine, "state": s}

    def load_state(self, states):
        """Every process's streams, put together and cut again (so the world size may change)."""
        if any(s["state"] is None for s in states):
            self.carried = None
            return
        first = states[0]["state"]
        like = [first] if torch.is_tensor(first) else list(first)
        full = [torch.zeros(t.shape[0], self.args.batch, t.shape[2]) for t in like]
        for s in states:
            parts = [s["state"]] if torch.is_tensor(s["state"]) else list(s["state"])
            for f, p in zip(full, parts):
                f[:, s["rows"]] = p
        mine = [f[:, self.mine].to(self.device) for f in full]
        self.carried = mine[0] if torch.is_tensor(first) else tuple(mine)


class SeriesTask(TrainTask):
    """Shuffled windows (the order from a torch.Generator seeded with --seed, the same in every
    process); the head reads the last step; MSE on the scaled targets."""

    loss_name = "MSE (scaled)"

    def __init__(self, args, windows, ctx):
        rank, world, self.device, _ = ctx
        self.world = world
        self.xs, self.ys, self.valid = windows
        self.B = min(args.batch, len(self.xs))
        self.steps_per_epoch = len(self.xs) // self.B
        self.mine = shard(self.B, rank, world)
        self.gen = torch.Generator().manual_seed(args.seed)
        self.order = None

    def step_loss(self, ddp, k):
        p = k % self.steps_per_epoch
        if p == 0:
            self.order = torch.randperm(len(self.xs), generator=self.gen)
        idx = self.order[p * self.B : (p + 1) * self.B][self.mine]
        out, _ = ddp(self.xs[idx].transpose(0, 1).float().to(self.device), readout="last")
        part = F.mse_loss(out, self.ys[idx].float().to(self.device), reduction="sum") / (self.B * self.ys.shape[1])
        return part * self.world, part

    def after_step(self, k):
        pass

    def valid_loss(self, model):
        if self.valid is None:
            return None
        xv, yv = self.valid
        with torch.no_grad():
            out, _ = model(xv.transpose(0, 1).float().to(self.device), readout="last")
        return F.mse_loss(out.double(), yv.to(self.device)).item()

    def state(self):
        return {"gen": self.gen.get_state(), "order": self.order}

    def load_state(self, states):
        self.gen.set_state(states[0]["gen"])
        self.order = states[0]["order"]


class ClassifyTask(TrainTask):
    """Batches of B training rows (shuffled each epoch by a torch.Generator seeded with --seed),
    packed sequences, the head on the last layer's final states, cross-entropy (weighted by class
    with --class-weights: Σ w·ce / Σ w over the global batch, as lstm)."""

    loss_name = "cross-entropy (nats)"

    def __init__(self, args, data, ctx):
        self.rank, self.world, self.device, _ = ctx
        self.seqs, self.class_ids, split, self.weights = data
        self.train, self.valid = torch.tensor(split["train"]), split["valid"]
        if len(self.train) == 0:
            fail("no training rows")
        self.B = args.batch
        self.steps_per_epoch = math.ceil(len(self.train) / self.B)
        self.gen = torch.Generator().manual_seed(args.seed)
        self.order = None
        self.targets = torch.tensor(self.class_ids)

    def step_loss(self, ddp, k):
        p = k % self.steps_per_epoch
        if p == 0:
            self.order = self.train[torch.randperm(len(self.train), generator=self.gen)]
        rows = self.order[p * self.B : (p + 1) * self.B].tolist()
        b = len(rows)
        mine = rows[b * self.rank // self.world : b * (self.rank + 1) // self.world]
        factor = 1.0
        if not mine:  # a last batch smaller than W: this process still runs (DDP), weighing 0
            mine, factor = rows[:1], 0.0
        x, lengths = pad_batch(self.seqs, mine)
        out, _ = ddp(x.to(self.device), readout="final", lengths=lengths)
        t = self.targets[mine].to(self.device)
        ce = F.cross_entropy(out, t, reduction="none") * factor
        if self.weights is not None:
            w = self.weights.to(self.device)[t]
            total = all_sum((w * factor).sum().detach().double().clone())
            part = (w * ce).sum() / total.float()
        else:
            part = ce.sum() / b
        return part * self.world, part

    def after_step(self, k):
        pass

    def valid_loss(self, model):
        if not self.valid:
            return None
        z = classify_logits(model, self.seqs, self.valid)
        return F.cross_entropy(z, self.targets[self.valid]).item()

    def state(self):
        return {"gen": self.gen.get_state(), "order": self.order}

    def load_state(self, states):
        self.gen.set_state(states[0]["gen"])
        self.order = states[0]["order"]


# ---------------------------------------------------------------------------------------------
# Commands.


def loaded_model(args, task):
    """(model, info) of --resume's checkpoint or --fine-tune's model file, or None; checks the task."""
    if args.resume_ck:
        ck = args.resume_ck
        model = LstmModel(ck["config"])
        model.load_state_dict(ck["model"], strict=True)
        loaded, source = (model, dict(ck["info"])), args.resume
    elif args.fine_tune:
        loaded, source = read_model(args.fine_tune), args.fine_tune
    else:
        return None
    if loaded[1]["task"] != task:
        fail(f"{source} is a {loaded[1]['task']} model, not a {task} model")
    return loaded


def train_text(args):
    ctx = setup_distributed(args.backend) + (args.resume_ck,)
    text = read_text(args.file)
    loaded = loaded_model(args, "text")
    chars = loaded[1]["vocab"] if loaded else sorted(set(text), key=ord)
    index = {ch: i for i, ch in enumerate(chars)}
    unknown = sorted({ch for ch in text if ch not in index})
    if unknown:
        fail(f"{args.file}: characters not in the model's vocabulary: {unknown[:10]}")
    ids = torch.tensor([index[ch] for ch in text], dtype=torch.long)
    V = len(chars)
    model, info = start_model(args, V, V, loaded, vocab=V)
    info = info or {"task": "text", "input": {"kind": "embedding" if model.config.get("embedding") else "one-hot"}, "vocab": chars}
    seed_dropout(args, ctx[0])
    summary = train_run(args, ctx, TextTask(args, ids, ctx), model, info)
    finish(args, ctx, model, info, summary)


def train_series(args):
    ctx = setup_distributed(args.backend) + (args.resume_ck,)
    loaded = loaded_model(args, "series")
    if loaded:
        sm = loaded[1]["series"]
        columns, targets = sm["columns"], sm["targetColumns"]
    else:
        if not args.column:
            fail("train-series needs --column (or --fine-tune MODEL)")
        columns = args.column.split(",")
        targets = args.target.split(",") if args.target else columns
        for t in targets:
            if t not in columns:
                fail(f"--target {t} is not one of --column {args.column}")
    values, time_col, times = read_csv(args.file, columns)
    N, C = values.shape
    split = split_series(N, args.valid_fraction, args.test_fraction)
    transform = (sm.get("transform") or "none") if loaded else args.transform
    if transform == "log" and not bool((values > 0).all()):
        fail(f"{args.file}: --transform log needs positive values")
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
        fail(f"{args.file}: the training part has too few rows for seqLen {T} + horizon {K}")
    xv, yv = series_windows(scaled, split["valid"], T, K, target_idx, context=True)
    if relative:
        ys = ys - xs[:, T - 1, target_idx].repeat(1, K)
        if xv is not None:
            yv = yv - xv[:, T - 1, target_idx].repeat(1, K)
    model, info = start_model(args, C, K * len(target_idx), loaded)
    info = info or {
        "task": "series",
        "input": {"kind": "dense"},
        "series": {
            "columns": columns, "targetColumns": targets, "timeColumn": time_col, "horizon": K, "seqLen": T,
            "scaler": {"mean": mean.tolist(), "std": std.tolist()}, "transform": transform, "relative": relative,
            "missing": "error", "rows": N, "split": split, "lastTime": times[-1] if times else None,
        },
    }
    seed_dropout(args, ctx[0])
    task = SeriesTask(args, (xs, ys, (xv, yv) if xv is not None else None), ctx)
    summary = train_run(args, ctx, task, model, info)
    finish(args, ctx, model, info, summary)


def train_classify(args):
    ctx = setup_distributed(args.backend) + (args.resume_ck,)
    loaded = loaded_model(args, "classify")
    seqs, class_ids, split, meta = prepare_classification(args, args.file, loaded[1]["classifier"] if loaded else None)
    C = len(meta["classes"])
    V = len(meta["vocab"]) + 1 if meta["kind"] == "chars" else None
    model, info = start_model(args, V or meta["features"], C, loaded, vocab=V)
    info = info or {"task": "classify", "input": {"kind": "embedding" if model.config.get("embedding") else "one-hot" if V else "dense"}, "classifier": meta}
    weights = None
    if args.class_weights:
        counts = [0] * C
        for r in split["train"]:
            counts[class_ids[r]] += 1
        if 0 in counts:
            fail(f"class '{meta['classes'][counts.index(0)]}' has no training rows; its weight would be infinite")
        weights = torch.tensor([len(split["train"]) / (C * k) for k in counts], dtype=torch.float32)
    if ctx[0] == 0 and not args.quiet:
        longest = max(len(s) for s in seqs)
        print(f"{args.file}: {len(seqs)} rows, {C} classes ({', '.join(meta['classes'])}), longest {longest} steps; {len(split['train'])} train, {len(split['valid'])} validation, {len(split['test'])} test rows", file=sys.stderr)
    seed_dropout(args, ctx[0])
    summary = train_run(args, ctx, ClassifyTask(args, (seqs, class_ids, split, weights), ctx), model, info)
    if ctx[0] == 0:
        model.eval()
        acc = {}
        for part in ("valid", "test"):
            rows = split[part]
            acc[part] = None if not rows else (classify_logits(model, seqs, rows).argmax(1) == torch.tensor([class_ids[r] for r in rows])).double().mean().item()
        summary = {**summary, "rows": len(seqs), "accuracy": acc}
    finish(args, ctx, model, info, summary)


def evaluate(args):
    """The companion's own evaluation, with `lstm eval --json`'s definitions and keys."""
    model, info = read_model(args.model)
    model.eval()
    if info["task"] == "text":
        text = read_text(args.file)
        if args.max_chars is not None:
            text = text[: args.max_chars]  # code points, as lstm eval --max-chars
        index = {ch: i for i, ch in enumerate(info["vocab"])}
        ids = [index.get(ch) for ch in text]
        if args.unknown == "error" and None in ids:
            fail(f"{args.file}: character {text[ids.index(None)]!r} is not in the model's vocabulary (--unknown skip drops it)")
        ids = torch.tensor([i for i in ids if i is not None], dtype=torch.long)
        loss = stream_cross_entropy(model, ids)
        if loss is None:
            fail(f"{args.file}: fewer than 2 known characters to evaluate")
        print(json.dumps({"file": args.file, "task": "text", "loss": loss, "bitsPerChar": loss / math.log(2), "characters": len(ids) - 1}))
        return
    if info["task"] == "classify":
        print(json.dumps({"task": "classify", **evaluate_classifier(model, info, args)}))
        return
    if info["task"] != "series":
        fail(f"{args.model} is a {info['task']} model; eval handles text, series and classify models")
    sm = info["series"]
    values, _, _ = read_csv(args.file, sm["columns"])
    N = values.shape[0]
    split = sm.get("split")
    use_test = split is not None and sm.get("rows") == N and split["test"][1] > split["test"][0]
    rows = split["test"] if use_test else [0, N]
    r = evaluate_forecasts(model, sm, values, rows)
    print(json.dumps({"file": args.file, "task": "series", "rowsUsed": "test" if use_test else "all", **r}))


def evaluate_classifier(model, info, args, logits_out=None):
    """evalClassifier (cli/classify.ts): the metrics on the file's rows (or its last
    --test-fraction), the majority class learnt from the rows before them."""
    m = info["classifier"]
    texts, labels, lines, _ = read_classify_csv(args.file, m["textColumn"], m["labelColumn"], m["kind"])
    N = len(texts)
    n_test = js_round(N * args.test_fraction) if args.test_fraction else N
    if n_test < 1:
        fail(f"{args.file}: --test-fraction leaves no rows to evaluate")
    first = N - n_test
    ids = []
    for r, label in enumerate(labels):
        c = m["classes"].index(label) if label in m["classes"] else -1
        if c < 0 and r >= first:
            fail(f"{args.file} line {lines[r]}: label '{label}' is not one of the model's classes ({', '.join(m['classes'])})")
        ids.append(c)
    enc = SequenceEncoder(m)
    seqs = [enc.encode(texts[r], f"{args.file} line {lines[r]}", args.unknown) for r in range(first, N)]
    logits = classify_logits(model, seqs, list(range(len(seqs))))
    if logits_out is not None:
        logits_out.append(logits)
    truth = ids[first:]
    reference = [c for c in ids[:first] if c >= 0] if first > 0 else truth
    metrics = classification_metrics(truth, logits.argmax(1).tolist(), m["classes"], reference or truth)
    return {"file": args.file, "rowsUsed": f"last {n_test} of {N}" if first > 0 else f"all {N}", **metrics}


def positive_int(name, lo=1, hi=None):
    def parse(s):
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: expected an integer, got {s!r}")
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{name}: expected an integer from {lo}{f' to {hi}' if hi else ''}, got {v}")
        return v

    return parse


def bounded_float(name, lo, hi=None, lo_open=False):
    def parse(s):
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: expected a number, got {s!r}")
        if not math.isfinite(v) or v < lo or (lo_open and v == lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{name}: {v} is out of range")
        return v

    return parse


def add_train_options(cmd, d):
    """The flags of addTrainOptions (cli/train-flags.ts) the companion runs, same names and
    defaults. Those with default None here are filled after --resume has had its say."""
    cmd.add_argument("file")
    cmd.add_argument("--out", help=f"where to save the trained model (default {d['out']})")
    cmd.add_argument("--init", default="pytorch", help="weight initialisation: pytorch or xavier")
    cmd.add_argument("--fine-tune", metavar="MODEL", help="start from this lstm-ts model file's weights, sizes and features (keeps its vocabulary / scaler / classes, window, horizon) with fresh optimiser state")
    cmd.add_argument("--orthogonal", action="store_true", help="orthogonal recurrent weights")
    cmd.add_argument("--forget-bias", type=bounded_float("--forget-bias", -10, 10))
    cmd.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    cmd.add_argument("--hidden", type=positive_int("--hidden", 1, 4096), default=d["hidden"])
    cmd.add_argument("--layers", type=positive_int("--layers", 1, 16), default=1)
    cmd.add_argument("--bidirectional", action="store_true")
    cmd.add_argument("--embedding", type=positive_int("--embedding", 1, 65536), help="an embedding table of width E instead of one-hot input")
    cmd.add_argument("--proj-size", type=positive_int("--proj-size", 1, 4096), help="LSTM projection size P < H (LSTMP)")
    cmd.add_argument("--tie-weights", action="store_true", help="the head shares the embedding's weight (needs --embedding = D·H or D·P)")
    cmd.add_argument("--dropout", type=bounded_float("--dropout", 0, 0.99), help="dropout between stacked layers while training")
    cmd.add_argument("--input-dropout", type=bounded_float("--input-dropout", 0, 0.99))
    cmd.add_argument("--output-dropout", type=bounded_float("--output-dropout", 0, 0.99))
    cmd.add_argument("--seq-len", type=positive_int("--seq-len", 1, 100000), default=d["seq_len"])
    cmd.add_argument("--batch", type=positive_int("--batch", 1, 65536), default=d["batch"], help="global batch (split over the processes)")
    cmd.add_argument("--lr", type=bounded_float("--lr", 0, 10), default=d["lr"])
    cmd.add_argument("--optimizer", choices=["sgd", "adam", "adamw", "rmsprop", "adagrad"], default="adam")
    cmd.add_argument("--momentum", type=bounded_float("--momentum", 0, 1), help="sgd and rmsprop (default 0)")
    cmd.add_argument("--weight-decay", type=bounded_float("--weight-decay", 0, 1), help="L2; decoupled for adamw (default 0, adamw 1e-2)")
    cmd.add_argument("--schedule", choices=["constant", "step", "cosine"], default="constant")
    cmd.add_argument("--warmup", type=positive_int("--warmup", 0), default=0)
    cmd.add_argument("--step-size", type=positive_int("--step-size", 1), help="--schedule step: decay every n steps (default: a third of the budget)")
    cmd.add_argument("--gamma", type=bounded_float("--gamma", 1e-6, 1), default=0.3)
    cmd.add_argument("--clip", type=bounded_float("--clip", 0), default=d["clip"], help="global gradient norm (0 = off)")
    cmd.add_argument("--clip-value", type=bounded_float("--clip-value", 1e-12), help="clip each gradient entry to ±x")
    cmd.add_argument("--steps", type=positive_int("--steps", 1))
    cmd.add_argument("--epochs", type=bounded_float("--epochs", 0, lo_open=True))
    cmd.add_argument("--time", type=bounded_float("--time", 0, lo_open=True), help="stop after this many seconds")
    cmd.add_argument("--seed", type=positive_int("--seed", 0), default=1)
    cmd.add_argument("--valid-fraction", type=bounded_float("--valid-fraction", 0, 0.9), default=d["valid"])
    cmd.add_argument("--eval-every", type=positive_int("--eval-every", 1), help="default: each epoch, at most every 200 steps")
    cmd.add_argument("--patience", type=positive_int("--patience", 0), default=0, help="early stopping after n evaluations without improvement (0 = off)")
    cmd.add_argument("--checkpoint", help="the companion's own checkpoint (model, optimizer, generators, data position)")
    cmd.add_argument("--checkpoint-every", type=positive_int("--checkpoint-every", 0), help="write the checkpoint every n steps (default 0: only at the end)")
    cmd.add_argument("--resume", help="continue the run saved in this companion checkpoint (same data file)")
    cmd.add_argument("--backend", choices=["gloo", "nccl"], help="default: nccl when CUDA is available, else gloo")
    cmd.add_argument("--quiet", action="store_true", help="no evaluation lines on stderr")
    cmd.set_defaults(default_out=d["out"])


def resolve_args(args, parser):
    """--init scheme, --fine-tune model; --resume's stored options; defaults; output checks.
    `parser` is the command's own (its defaults tell which flags the user gave)."""
    args.resume_ck = None
    if args.init not in INIT_SCHEMES:
        fail(f"--init takes pytorch or xavier, not {args.init!r}; to start from a model file use --fine-tune {args.init}")
    if args.fine_tune and args.resume:
        fail("--fine-tune cannot be combined with --resume (a checkpoint continues its own run; --fine-tune starts a new one from a model file)")
    if args.resume:
        ck = load_checkpoint(args.resume)
        if ck["options"].get("command") != args.command:
            fail(f"{args.resume}: a checkpoint of {ck['options'].get('command')}, not {args.command}")
        check_saved_options(args.resume, ck["options"], parser)
        flags = {a.dest for a in parser._actions}
        for k, v in ck["options"].items():
            if k in ("file", "resume_ck", "data_sha256", "default_out", "command"):
                continue
            if k in ("out", "checkpoint"):
                continue  # paths come from the command line only
            # Given by the user: a value other than the flag's default (argparse does not say
            # whether a flag was typed, so typing the default value itself counts as not given).
            given = k in flags and getattr(args, k) != parser.get_default(k)
            if k in RESUMABLE and given:
                continue
            if given and getattr(args, k) != v and os.environ.get("RANK", "0") == "0":
                print(f"lstm_ts.py: note: --{k.replace('_', '-')} is taken from the checkpoint ({json.dumps(v)}) when resuming", file=sys.stderr)
            setattr(args, k, v)
        args.resume_ck = ck
        if args.out is None:
            base = os.path.splitext(args.resume)[0]
            args.out = f"{base}.resumed.safetensors"
            print(f"lstm_ts.py: no --out given: the model will be saved as {args.out}", file=sys.stderr)
    elif args.fine_tune:
        if not os.path.isfile(args.fine_tune):
            fail(f"--fine-tune {args.fine_tune}: no such file")
        args.fine_tuned_from = {"file": os.path.basename(args.fine_tune), "sha256": sha256_file(args.fine_tune)}
    if not getattr(args, "fine_tuned_from", None):
        args.fine_tuned_from = None
    if args.out is None:
        args.out = args.default_out
    if args.checkpoint_every is None:
        args.checkpoint_every = 0
    if args.steps is None and args.epochs is None and args.time is None:
        fail("give a budget: --steps N, --epochs N or --time SECONDS")
    if args.checkpoint_every and not args.checkpoint:
        fail("--checkpoint-every needs --checkpoint FILE")
    if args.forget_bias is not None and args.cell == "gru":
        fail("--forget-bias: a GRU has no forget gate")
    check_outputs(args)
    args.data_sha256 = sha256_file(args.file)
    if args.resume_ck and args.resume_ck["dataSha256"] != args.data_sha256:
        fail(f"{args.resume}: the checkpoint was made on other data (sha256 {args.resume_ck['dataSha256'][:12]}…), not {args.file}")


def main(argv=None):
    p = argparse.ArgumentParser(prog="lstm_ts.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(required=True, dest="command")
    t = sub.add_parser("train-text", help="character model (defaults as lstm train-text)")
    add_train_options(t, {"hidden": 128, "seq_len": 64, "batch": 32, "lr": 0.003, "clip": 5, "valid": 0.05, "out": "text-model.safetensors"})
    t.set_defaults(func=train_text)
    s = sub.add_parser("train-series", help="forecaster (defaults as lstm train-series)")
    add_train_options(s, {"hidden": 32, "seq_len": 24, "batch": 16, "lr": 0.01, "clip": 1, "valid": 0.15, "out": "series-model.safetensors"})
    s.add_argument("--column")
    s.add_argument("--target")
    s.add_argument("--horizon", type=positive_int("--horizon", 1, 10000), default=1)
    s.add_argument("--test-fraction", type=bounded_float("--test-fraction", 0, 0.9), default=0.15)
    s.add_argument("--transform", choices=["none", "log"], default="none")
    s.add_argument("--relative", action="store_true")
    s.set_defaults(func=train_series)
    c = sub.add_parser("train-classify", help="sequence classifier (defaults as lstm train-classify)")
    add_train_options(c, {"hidden": 128, "seq_len": 1, "batch": 64, "lr": 0.003, "clip": 5, "valid": 0.1, "out": "classifier.safetensors"})
    c.add_argument("--text-column")
    c.add_argument("--label-column")
    c.add_argument("--kind", choices=["chars", "numbers"], default="chars")
    c.add_argument("--test-fraction", type=bounded_float("--test-fraction", 0, 0.9), default=0.0)
    c.add_argument("--class-weights", action="store_true", help="weight the loss by inverse class frequency (n / (C·n_c), training rows)")
    c.set_defaults(func=train_classify)
    e = sub.add_parser("eval", help="evaluate a model file on a text or CSV file (one JSON line, lstm eval --json's keys)")
    e.add_argument("model")
    e.add_argument("file")
    e.add_argument("--max-chars", type=positive_int("--max-chars", 2), help="text: evaluate only the first n characters")
    e.add_argument("--unknown", choices=["error", "skip"], default="error", help="characters not in the vocabulary")
    e.add_argument("--test-fraction", type=bounded_float("--test-fraction", 0, 1, lo_open=True), help="classifiers: the last x of the rows only")
    e.set_defaults(func=evaluate)
    args = p.parse_args(argv)
    try:
        if args.command == "train-classify" and not (args.text_column and args.label_column) and not (args.resume or args.fine_tune):
            p.error("train-classify needs --text-column and --label-column (or --fine-tune MODEL)")
        if args.command != "eval":
            resolve_args(args, sub.choices[args.command])
        args.func(args)
    except CompanionError as err:
        print(f"lstm_ts.py: error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
