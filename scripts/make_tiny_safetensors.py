#!/usr/bin/env python3
"""Independent safetensors writer and reader (standard library only: struct + json).

  make_tiny_safetensors.py make [OUT]   writes the test fixture (default src/io/testdata/tiny.safetensors)
  make_tiny_safetensors.py dump FILE    reads FILE and prints {metadata, tensors: {name: {dtype, shape, values}}}

The fixture is laid out the way the reference implementation (huggingface/safetensors) lays out
files, which differs from lstm-ts's own writer on purpose: "__metadata__" first, data sorted by
dtype alignment (largest first) then name, header keys in sorted order with json.dumps' default
", " / ": " separators, padded with spaces to a multiple of 8 bytes. src/io/safetensors.test.ts
checks that lstm-ts decodes it to exactly the values below.
"""
import json
import struct
import sys

FMT = {"F64": ("d", 8), "I64": ("q", 8), "F32": ("f", 4), "I32": ("i", 4), "U8": ("B", 1)}

TENSORS = {
    "lstm.weight_ih_l0": ("F32", [4, 3], [round(0.1 * i - 0.55, 2) for i in range(12)]),
    "lstm.bias": ("F64", [2], [1.0 / 3.0, -2.5]),
    "steps": ("I64", [3], [0, -1, 2**40 + 7]),
    "ids": ("I32", [2, 2], [-(2**31), 2**31 - 1, 0, 5]),
    "mask": ("U8", [5], [0, 1, 2, 254, 255]),
    "empty": ("F32", [0], []),
    "scalar": ("F32", [], [3.5]),
}
METADATA = {"format": "pt", "producer": "scripts/make_tiny_safetensors.py"}


def make(path):
    order = sorted(TENSORS, key=lambda n: (-FMT[TENSORS[n][0]][1], n))
    header = {"__metadata__": METADATA}
    data = b""
    for name in order:
        dtype, shape, values = TENSORS[name]
        code, _ = FMT[dtype]
        blob = struct.pack("<%d%s" % (len(values), code), *values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header, sort_keys=True).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def dump(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    out = {"metadata": header.pop("__metadata__", {}), "tensors": {}}
    for name, info in header.items():
        code, size = FMT[info["dtype"]]
        begin, end = info["data_offsets"]
        count = (end - begin) // size
        values = list(struct.unpack_from("<%d%s" % (count, code), raw, base + begin))
        if info["dtype"] == "I64":
            values = [str(v) for v in values]  # exact beyond 2**53 on the JavaScript side
        out["tensors"][name] = {"dtype": info["dtype"], "shape": info["shape"], "values": values}
    # json.dumps writes floats as the shortest repr that round-trips, so JavaScript reads them
    # back exactly; NaN and Infinity come out as the (non-standard) tokens NaN and Infinity.
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "make":
        make(sys.argv[2] if len(sys.argv) > 2 else "src/io/testdata/tiny.safetensors")
    elif len(sys.argv) == 3 and sys.argv[1] == "dump":
        dump(sys.argv[2])
    else:
        sys.exit(__doc__)
