import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  decodeSafetensors,
  encodeSafetensors,
  type DecodedTensor,
  type SafetensorsInput,
} from "./safetensors.js";
import { ConfigError, FormatError, ShapeError } from "../tensor/errors.js";
import { Rng } from "../tensor/rng.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const FIXTURE = join(ROOT, "src/io/testdata/tiny.safetensors");
const PY_SCRIPT = join(ROOT, "scripts/make_tiny_safetensors.py");
const PYTHON = "/usr/bin/python3";

// ------------------------------------------------------------------------------------------------
// Helpers

/** A file built by hand: header (an object, or raw JSON text), then `data` (bytes or a length). */
function build(
  header: unknown,
  data: Uint8Array | number = 0,
  opts: { declaredLength?: bigint } = {},
): Uint8Array {
  const json =
    header instanceof Uint8Array
      ? header
      : new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const body = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, opts.declaredLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

function headerText(bytes: Uint8Array): string {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return new TextDecoder().decode(bytes.subarray(8, 8 + n));
}

/** Asserts that decoding throws a FormatError whose message matches `pattern`. */
function rejects(bytes: Uint8Array, pattern: RegExp, source = "bad.safetensors"): FormatError {
  let caught: unknown;
  try {
    decodeSafetensors(bytes, source);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof FormatError, `expected a FormatError, got ${String(caught)}`);
  assert.equal(caught.code, "E_FORMAT");
  assert.equal(caught.source, source);
  assert.ok(caught.message.startsWith(`${source}: `), caught.message);
  assert.match(caught.message, pattern);
  return caught;
}

const F32 = (begin: number, end: number, shape = [(end - begin) / 4]) => ({
  dtype: "F32",
  shape,
  data_offsets: [begin, end],
});

// ------------------------------------------------------------------------------------------------
// Round trips

test("round trip of every dtype, odd shapes, scalars and empty tensors", () => {
  const f64 = new Float64Array([0, -0, 1.5, -1e-310, Number.MAX_VALUE, Infinity, -Infinity, NaN]);
  const tensors: SafetensorsInput[] = [
    {
      name: "f32",
      dtype: "F32",
      shape: [3, 1, 5],
      data: Float32Array.from({ length: 15 }, (_, i) => i / 7 - 1),
    },
    { name: "f32.scalar", dtype: "F32", shape: [], data: new Float32Array([2.5]) },
    { name: "f32.empty", dtype: "F32", shape: [0], data: new Float32Array(0) },
    { name: "f64", dtype: "F64", shape: [2, 4], data: f64 },
    { name: "f64.empty", dtype: "F64", shape: [2, 0, 3], data: [] },
    {
      name: "i32",
      dtype: "I32",
      shape: [1, 3],
      data: new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0]),
    },
    { name: "i32.plain", dtype: "I32", shape: [2], data: [-7, 7] },
    {
      name: "i64",
      dtype: "I64",
      shape: [4],
      data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n]),
    },
    { name: "i64.plain", dtype: "I64", shape: [3], data: [2 ** 53 - 1, -(2 ** 53), 12] },
    {
      name: "u8",
      dtype: "U8",
      shape: [2, 2, 2],
      data: new Uint8Array([0, 1, 2, 3, 127, 128, 254, 255]),
    },
    { name: "u8.empty", dtype: "U8", shape: [0], data: new Uint8Array(0) },
    { name: "", dtype: "U8", shape: [1], data: [9] },
    { name: "ünï cödé ✓", dtype: "F32", shape: [1], data: [1] },
  ];
  const bytes = encodeSafetensors(tensors);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0, "header padded to a multiple of 8 bytes");
  assert.match(headerText(bytes), /^\{.*\} *$/);

  const { metadata, tensors: out } = decodeSafetensors(bytes, "rt.safetensors");
  assert.deepEqual(metadata, {});
  assert.deepEqual(
    [...out.keys()],
    tensors.map((t) => t.name),
  );
  for (const t of tensors) {
    const d = out.get(t.name) as DecodedTensor;
    assert.equal(d.dtype, t.dtype, t.name);
    assert.deepEqual(d.shape, t.shape, t.name);
    const expected =
      t.dtype === "I64" && !(t.data instanceof BigInt64Array)
        ? Array.from(t.data as ArrayLike<number>, BigInt)
        : Array.from(t.data as ArrayLike<number>);
    assert.deepEqual(Array.from(d.data as ArrayLike<number>), expected, t.name);
  }
  // Typed arrays of the right kind; -0 and NaN survive bit for bit.
  assert.ok(out.get("f32")?.data instanceof Float32Array);
  assert.ok(out.get("f64")?.data instanceof Float64Array);
  assert.ok(out.get("i32")?.data instanceof Int32Array);
  assert.ok(out.get("i64.plain")?.data instanceof BigInt64Array);
  assert.ok(out.get("u8")?.data instanceof Uint8Array);
  assert.ok(Object.is(out.get("f64")?.data[1], -0));
});

test("F32 from a Float64Array or plain numbers rounds to nearest float32", () => {
  const values = [0.1, 1 / 3, 1e-46, 3.4e38, 1e39, -2.5];
  const bytes = encodeSafetensors([
    { name: "a", dtype: "F32", shape: [6], data: new Float64Array(values) },
    { name: "b", dtype: "F32", shape: [2, 3], data: values },
  ]);
  const out = decodeSafetensors(bytes, "x").tensors;
  const expected = values.map(Math.fround);
  assert.deepEqual([...(out.get("a")?.data as Float32Array)], expected);
  assert.deepEqual([...(out.get("b")?.data as Float32Array)], expected);
  assert.equal(expected[4], Infinity); // 1e39 overflows float32, as in PyTorch's .float()
});

test("metadata round trip", () => {
  // Parsed from JSON so that "__proto__" is an own key, as it would be in a file.
  const withMeta = JSON.parse(
    JSON.stringify({
      format: "pt",
      "lstm-ts": '{"hiddenSize":8,"layers":2}',
      empty: "",
      unicode: "ü ✓ 𝄞",
      "10": "integer-like key",
    }).replace(/^\{/, '{"__proto__":"not a prototype",'),
  ) as Record<string, string>;
  assert.ok(Object.hasOwn(withMeta, "__proto__"));
  const bytes = encodeSafetensors([{ name: "w", dtype: "F32", shape: [1], data: [1] }], withMeta);
  const decoded = decodeSafetensors(bytes, "m");
  assert.deepEqual(decoded.metadata, withMeta);
  assert.equal(Object.getPrototypeOf(decoded.metadata), Object.prototype);
  assert.ok(Object.hasOwn(decoded.metadata, "__proto__"));
  // Metadata alone, no tensors.
  const only = decodeSafetensors(encodeSafetensors([], { a: "b" }), "m");
  assert.deepEqual(only.metadata, { a: "b" });
  assert.equal(only.tensors.size, 0);
  // The reference writer puts __metadata__ first; so do we.
  assert.match(headerText(bytes), /^\{"__metadata__":\{/);
});

test("byte-exact determinism: same input, same bytes; decode then re-encode gives the same bytes", () => {
  const make = (): SafetensorsInput[] => [
    { name: "10", dtype: "F32", shape: [2], data: [1, 2] },
    { name: "2", dtype: "I64", shape: [1], data: [5] },
    { name: "b", dtype: "U8", shape: [3], data: [1, 2, 3] },
    { name: "a", dtype: "F64", shape: [1], data: [0.5] },
  ];
  const meta = { z: "1", a: "2" };
  const first = encodeSafetensors(make(), meta);
  assert.deepEqual(encodeSafetensors(make(), meta), first);

  const decoded = decodeSafetensors(first, "d");
  // Integer-like names ("10", "2") come first in a parsed JSON object; the decoder still returns
  // the tensors in data order, which is the order they were written in.
  assert.deepEqual([...decoded.tensors.keys()], ["10", "2", "b", "a"]);
  const again = encodeSafetensors(
    [...decoded.tensors].map(([name, t]) => ({ name, ...t })),
    decoded.metadata,
  );
  assert.deepEqual(again, first);
});

test("golden bytes: the exact layout for a small file", () => {
  const bytes = encodeSafetensors([
    { name: "w", dtype: "F32", shape: [2], data: [1, -2] },
    { name: "n", dtype: "U8", shape: [1], data: [7] },
  ]);
  const json =
    '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"n":{"dtype":"U8","shape":[1],"data_offsets":[8,9]}}';
  const padded = json + " ".repeat((8 - (json.length % 8)) % 8);
  const expected = Buffer.concat([
    Buffer.from([padded.length, 0, 0, 0, 0, 0, 0, 0]),
    Buffer.from(padded),
    Buffer.from([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 7]),
  ]);
  assert.deepEqual(Buffer.from(bytes), expected);
});

test("decoded arrays are aligned copies, even from a Buffer at an odd offset", () => {
  const bytes = encodeSafetensors([
    { name: "u", dtype: "U8", shape: [3], data: [1, 2, 3] },
    { name: "f", dtype: "F64", shape: [2], data: [1.25, -3] },
    { name: "g", dtype: "F32", shape: [1], data: [4] },
  ]);
  const pool = Buffer.alloc(bytes.length + 3);
  pool.set(bytes, 3);
  const view = pool.subarray(3); // byteOffset 3: F64 data is misaligned in memory
  const out = decodeSafetensors(view, "odd").tensors;
  const f = out.get("f")?.data as Float64Array;
  assert.deepEqual([...f], [1.25, -3]);
  assert.equal(f.byteOffset % 8, 0);
  assert.notEqual(f.buffer, pool.buffer);
  pool.fill(0xff); // the input may be reused: results must not change
  assert.deepEqual([...f], [1.25, -3]);
  assert.deepEqual([...(out.get("u")?.data as Uint8Array)], [1, 2, 3]);
});

test("reads a file written independently by a Python struct+json script (testdata/tiny.safetensors)", () => {
  const bytes = readFileSync(FIXTURE);
  const { metadata, tensors } = decodeSafetensors(bytes, "tiny.safetensors");
  assert.deepEqual(metadata, { format: "pt", producer: "scripts/make_tiny_safetensors.py" });
  // Data order in that file: 8-byte dtypes first, then by name (the reference writer's order).
  assert.deepEqual(
    [...tensors.keys()],
    ["lstm.bias", "steps", "empty", "ids", "lstm.weight_ih_l0", "scalar", "mask"],
  );
  const get = (name: string) => tensors.get(name) as DecodedTensor;
  const w = [-0.55, -0.45, -0.35, -0.25, -0.15, -0.05, 0.05, 0.15, 0.25, 0.35, 0.45, 0.55];
  assert.deepEqual(get("lstm.weight_ih_l0"), {
    dtype: "F32",
    shape: [4, 3],
    data: new Float32Array(w),
  });
  assert.deepEqual(get("lstm.bias"), {
    dtype: "F64",
    shape: [2],
    data: new Float64Array([1 / 3, -2.5]),
  });
  assert.deepEqual(get("steps"), {
    dtype: "I64",
    shape: [3],
    data: new BigInt64Array([0n, -1n, 2n ** 40n + 7n]),
  });
  assert.deepEqual(get("ids"), {
    dtype: "I32",
    shape: [2, 2],
    data: new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, 5]),
  });
  assert.deepEqual(get("mask"), {
    dtype: "U8",
    shape: [5],
    data: new Uint8Array([0, 1, 2, 254, 255]),
  });
  assert.deepEqual(get("empty"), { dtype: "F32", shape: [0], data: new Float32Array(0) });
  assert.deepEqual(get("scalar"), { dtype: "F32", shape: [], data: new Float32Array([3.5]) });
});

test(
  "an independent Python reader (struct+json) reads our files exactly",
  { skip: existsSync(PYTHON) ? false : `${PYTHON} not found` },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "lstm-ts-st-"));
    try {
      const file = join(dir, "ours.safetensors");
      const f32 = [0.1, -1 / 3, 1e-40, 65504];
      const f64 = [Math.PI, -0, 5e-324];
      writeFileSync(
        file,
        encodeSafetensors(
          [
            { name: "a.f32", dtype: "F32", shape: [2, 2], data: f32 },
            { name: "b.f64", dtype: "F64", shape: [3], data: f64 },
            {
              name: "c.i64",
              dtype: "I64",
              shape: [2],
              data: new BigInt64Array([-(2n ** 63n), 2n ** 62n + 1n]),
            },
            { name: "d.i32", dtype: "I32", shape: [1, 1, 1], data: [-123456] },
            { name: "e.u8", dtype: "U8", shape: [0, 4], data: [] },
          ],
          { producer: "lstm-ts" },
        ),
      );
      const r = spawnSync(PYTHON, [PY_SCRIPT, "dump", file], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      const dump = JSON.parse(r.stdout) as {
        metadata: Record<string, string>;
        tensors: Record<string, { dtype: string; shape: number[]; values: unknown[] }>;
      };
      assert.deepEqual(dump.metadata, { producer: "lstm-ts" });
      assert.deepEqual(dump.tensors, {
        "a.f32": { dtype: "F32", shape: [2, 2], values: f32.map(Math.fround) },
        "b.f64": { dtype: "F64", shape: [3], values: [Math.PI, -0, 5e-324] },
        "c.i64": { dtype: "I64", shape: [2], values: [`${-(2n ** 63n)}`, `${2n ** 62n + 1n}`] },
        "d.i32": { dtype: "I32", shape: [1, 1, 1], values: [-123456] },
        "e.u8": { dtype: "U8", shape: [0, 4], values: [] },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

// ------------------------------------------------------------------------------------------------
// Encoder validation

test("encoder rejects duplicate or reserved names, wrong lengths, bad shapes and out-of-range values", () => {
  const one = { dtype: "F32" as const, shape: [1], data: [0] };
  assert.throws(
    () =>
      encodeSafetensors([
        { name: "w", ...one },
        { name: "w", ...one },
      ]),
    (e: unknown) => e instanceof ConfigError && /tensor 'w'.*duplicate tensor name/.test(e.message),
  );
  assert.throws(() => encodeSafetensors([{ name: "__metadata__", ...one }]), /reserved/);
  assert.throws(
    () =>
      encodeSafetensors([{ name: "w", dtype: "F32", shape: [2, 3], data: new Float32Array(5) }]),
    (e: unknown) =>
      e instanceof ShapeError &&
      /tensor 'w' data: expected shape \[2, 3\] \(6 elements\), got 5/.test(e.message),
  );
  assert.throws(
    () => encodeSafetensors([{ name: "w", dtype: "F32", shape: [-1], data: [] }]),
    (e: unknown) => e instanceof ConfigError && /not a non-negative integer/.test(e.message),
  );
  assert.throws(
    () => encodeSafetensors([{ name: "w", dtype: "F32", shape: [2 ** 31, 2 ** 31], data: [] }]),
    /too many elements/,
  );
  assert.throws(
    () => encodeSafetensors([{ name: "w", dtype: "F16" as "F32", shape: [0], data: [] }]),
    /unsupported dtype "F16"/,
  );
  assert.throws(
    () => encodeSafetensors([{ name: "i", dtype: "I32", shape: [1], data: [2 ** 31] }]),
    /element 0 is 2147483648/,
  );
  assert.throws(
    () => encodeSafetensors([{ name: "u", dtype: "U8", shape: [2], data: [1, 256] }]),
    /element 1 is 256/,
  );
  assert.throws(
    () => encodeSafetensors([{ name: "u", dtype: "U8", shape: [1], data: [-1] }]),
    ConfigError,
  );
  assert.throws(
    () => encodeSafetensors([{ name: "l", dtype: "I64", shape: [1], data: [0.5] }]),
    /element 0 is 0.5/,
  );
  assert.throws(
    () => encodeSafetensors([{ name: "l", dtype: "I64", shape: [1], data: [NaN] }]),
    ConfigError,
  );
  assert.throws(
    () => encodeSafetensors([{ name: "b", dtype: "F32", shape: [1], data: new BigInt64Array(1) }]),
    /BigInt64Array data needs dtype I64/,
  );
  assert.throws(
    () => encodeSafetensors([], { version: 2 } as unknown as Record<string, string>),
    (e: unknown) =>
      e instanceof ConfigError && /metadata 'version'.*must be a string, got 2/.test(e.message),
  );
});

// ------------------------------------------------------------------------------------------------
// Hostile files

test("rejects a file too short for the header length", () => {
  rejects(new Uint8Array(0), /file is 0 bytes, too short/);
  rejects(new Uint8Array(7), /file is 7 bytes, too short/);
});

test("rejects a huge header length before allocating anything", () => {
  rejects(
    build({}, 0, { declaredLength: 2n ** 40n }),
    /header length 1099511627776 exceeds the limit of 100000000 bytes/,
  );
  rejects(
    build({}, 0, { declaredLength: 2n ** 64n - 1n }),
    /header length 18446744073709551615 exceeds the limit/,
  );
  // Under the limit, but longer than the file.
  rejects(
    build({}, 0, { declaredLength: 4096n }),
    /header length 4096 runs past the end of the file \(10 bytes; truncated/,
  );
  // A caller-chosen limit.
  const ok = encodeSafetensors([{ name: "w", dtype: "F32", shape: [1], data: [1] }]);
  assert.throws(
    () => decodeSafetensors(ok, "f", { maxHeaderBytes: 16 }),
    /exceeds the limit of 16 bytes/,
  );
});

test("rejects a truncated file at every cut point", () => {
  const full = encodeSafetensors(
    [
      { name: "lstm.weight_hh_l0", dtype: "F32", shape: [4, 2], data: new Float32Array(8) },
      { name: "bias", dtype: "F64", shape: [3], data: new Float64Array(3) },
    ],
    { a: "b" },
  );
  const headerEnd = 8 + Number(new DataView(full.buffer).getBigUint64(0, true));
  for (let cut = 0; cut < full.length; cut++) {
    const pattern =
      cut < 8
        ? /too short/
        : cut < headerEnd
          ? /runs past the end of the file/
          : /tensor '(lstm\.weight_hh_l0|bias)': data_offsets \[\d+, \d+\] run past the end of the data \(\d+ bytes\)/;
    rejects(full.subarray(0, cut), pattern);
  }
  assert.equal(decodeSafetensors(full, "f").tensors.size, 2);
});

test("rejects a header that is not UTF-8 JSON object text", () => {
  rejects(build(new Uint8Array([0x7b, 0xff, 0x7d]), 0), /header is not valid UTF-8/);
  rejects(build("{not json}"), /header is not valid JSON/);
  rejects(build('{"a": 1'), /header is not valid JSON/);
  rejects(build("[]"), /must be a JSON object starting with '\{'/);
  rejects(build("null"), /must be a JSON object/);
  rejects(build(""), /must be a JSON object/);
  rejects(build("\ufeff{}"), /must be a JSON object/); // a BOM is not allowed either
  rejects(build(' {"w": 1}'), /must be a JSON object starting with '\{'/);
  // Trailing spaces (the writers' padding) are fine.
  assert.equal(decodeSafetensors(build("{}      "), "f").tensors.size, 0);
});

test("rejects tensor entries that are not objects, and unknown or unsupported dtypes", () => {
  rejects(
    build({ w: [1, 2] }),
    /tensor 'w': expected an object with dtype, shape and data_offsets/,
  );
  rejects(build({ w: null }), /tensor 'w': expected an object/);
  rejects(
    build({ w: { ...F32(0, 4), dtype: "F17" } }, 4),
    /tensor 'w': unknown dtype "F17" \(supported: F32, F64, I32, I64, U8\)/,
  );
  rejects(build({ w: { ...F32(0, 4), dtype: "F16" } }, 4), /tensor 'w': unsupported dtype "F16"/);
  rejects(build({ w: { ...F32(0, 4), dtype: "f32" } }, 4), /unknown dtype "f32"/);
  rejects(
    build({ w: { shape: [1], data_offsets: [0, 4] } }, 4),
    /tensor 'w': unknown dtype nothing/,
  );
  rejects(build({ w: { ...F32(0, 4), dtype: "toString" } }, 4), /unknown dtype "toString"/);
});

test("rejects bad shapes and element counts that overflow", () => {
  const entry = (shape: unknown) =>
    build({ "lstm.weight_ih_l0": { dtype: "F32", shape, data_offsets: [0, 4] } }, 4);
  rejects(
    entry([2 ** 31, 2 ** 31]),
    /tensor 'lstm\.weight_ih_l0': shape \[2147483648,2147483648\] overflows/,
  );
  rejects(entry([2 ** 20, 2 ** 20, 2 ** 20]), /overflows/);
  rejects(entry([2 ** 53]), /dimension 9007199254740992 that is not a non-negative integer/);
  rejects(entry([-1]), /shape \[-1\] has a dimension -1 that is not a non-negative integer/);
  rejects(entry([1.5]), /dimension 1.5/);
  rejects(entry(["4"]), /dimension "4"/);
  rejects(entry([null]), /dimension null/);
  rejects(entry("4"), /tensor 'lstm\.weight_ih_l0': shape "4" is not an array/);
  rejects(entry(undefined), /shape nothing is not an array/);
  rejects(entry(4), /shape 4 is not an array/);
  // A large but representable shape is caught by the byte count, not allocated.
  rejects(
    entry([2 ** 20, 2 ** 20]),
    /hold 4 bytes, but F32 shape \[1048576, 1048576\] needs 1099511627776 × 4 = 4398046511104/,
  );
});

test("rejects data_offsets that are malformed or out of range", () => {
  const entry = (offsets: unknown, data = 16) =>
    build({ w: { dtype: "F32", shape: [4], data_offsets: offsets } }, data);
  for (const bad of [
    undefined,
    null,
    0,
    [0],
    [0, 16, 32],
    [-4, 12],
    [0.5, 16],
    ["0", "16"],
    [0, 2 ** 53],
    {},
  ]) {
    rejects(
      entry(bad),
      /tensor 'w': data_offsets .* must be two non-negative integers \[begin, end\]/,
    );
  }
  rejects(entry([16, 0]), /tensor 'w': data_offsets \[16, 0\] begin after they end/);
  rejects(
    build({ "lstm.weight_hh_l0": F32(0, 999999, [4, 4]) }, 4096),
    /^model\.safetensors: tensor 'lstm\.weight_hh_l0': data_offsets \[0, 999999\] run past the end of the data \(4096 bytes\)$/,
    "model.safetensors",
  );
  rejects(
    entry([0, 12], 16),
    /tensor 'w': data_offsets \[0, 12\] hold 12 bytes, but F32 shape \[4\] needs 4 × 4 = 16/,
  );
  rejects(build({ w: { dtype: "F64", shape: [2], data_offsets: [0, 8] } }, 8), /needs 2 × 8 = 16/);
});

test("rejects overlapping tensors, holes and trailing bytes", () => {
  rejects(
    build({ a: F32(0, 8), b: F32(4, 12) }, 12),
    /tensor 'b': data_offsets \[4, 12\] overlap tensor 'a' \(data_offsets \[0, 8\]\)/,
  );
  rejects(build({ a: F32(0, 8), b: F32(0, 8) }, 8), /overlap tensor '(a|b)'/);
  // An empty tensor inside another tensor's bytes is an overlap too.
  rejects(
    build({ a: F32(0, 8), e: F32(4, 4, [0]) }, 8),
    /tensor 'e': data_offsets \[4, 4\] overlap tensor 'a'/,
  );
  rejects(
    build({ a: F32(4, 8) }, 8),
    /hole in the data: bytes \[0, 4\) at the start belong to no tensor \(next is tensor 'a'\)/,
  );
  rejects(
    build({ a: F32(0, 4), b: F32(8, 12) }, 12),
    /hole in the data: bytes \[4, 8\) after tensor 'a' belong to no tensor \(next is tensor 'b'\)/,
  );
  rejects(
    build({ a: F32(0, 4) }, 6),
    /2 trailing bytes after the last tensor \(the tensors cover 4 of 6 data bytes\)/,
  );
  rejects(build({}, 3), /3 trailing bytes after the last tensor/);
  // Fine: header order differs from data order; empty tensors at boundaries; all empty.
  const ok = decodeSafetensors(
    build({ b: F32(4, 8), e: F32(8, 8, [0]), a: F32(0, 4), z: F32(0, 0, [0, 5]) }, 8),
    "ok",
  );
  assert.deepEqual([...ok.tensors.keys()], ["z", "a", "b", "e"]);
});

test("rejects metadata that is not an object of strings", () => {
  const w = F32(0, 4);
  rejects(
    build({ __metadata__: { epoch: 3 }, w }, 4),
    /__metadata__ 'epoch' must be a string, got 3/,
  );
  rejects(
    build({ __metadata__: { a: "ok", b: null }, w }, 4),
    /__metadata__ 'b' must be a string, got null/,
  );
  rejects(
    build({ __metadata__: { nested: { x: "y" } }, w }, 4),
    /__metadata__ 'nested' must be a string, got \{"x":"y"\}/,
  );
  rejects(
    build({ __metadata__: ["a"], w }, 4),
    /__metadata__ must be an object whose values are strings/,
  );
  rejects(build({ __metadata__: "pt", w }, 4), /__metadata__ must be an object/);
  rejects(build({ __metadata__: null, w }, 4), /__metadata__ must be an object/);
});

test("random corruption of a valid file yields either a valid decode or a FormatError, nothing else", () => {
  const valid = encodeSafetensors(
    [
      { name: "a", dtype: "F32", shape: [2, 3], data: new Float32Array(6).fill(1) },
      { name: "b", dtype: "I64", shape: [2], data: [1, 2] },
      { name: "c", dtype: "U8", shape: [3], data: [1, 2, 3] },
    ],
    { k: "v" },
  );
  const rng = new Rng(7);
  for (let trial = 0; trial < 3000; trial++) {
    const bytes = valid.slice();
    const flips = 1 + rng.int(3);
    for (let k = 0; k < flips; k++) bytes[rng.int(bytes.length)] = rng.int(256);
    const cut = rng.uniform() < 0.2 ? rng.int(bytes.length) : bytes.length;
    try {
      decodeSafetensors(bytes.subarray(0, cut), "fuzz");
    } catch (err) {
      assert.ok(err instanceof FormatError, `trial ${trial}: ${String(err)}`);
    }
  }
});
