/**
 * Interoperability as a user meets it: `lstm convert` from the command line, and — when
 * /usr/bin/python3 can import torch — our model files loaded into torch nn.LSTM + nn.Linear with
 * load_state_dict(strict=True), and torch state_dicts imported by `lstm convert --from pytorch`,
 * each giving the same outputs (scripts/pytorch_interop.py runs the torch side).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  encodeSafetensors,
  loadModel,
  LstmModel,
  paramsSha256,
  Rng,
  saveModel,
  type ModelConfigInput,
  type ModelMeta,
} from "../src/node.js";
import { ROOT, runCli } from "./helpers.js";
import { randomModel, scaledError } from "./numeric.js";

/** The Python with torch (PyTorch 1.13 at /usr/bin/python3 here); LSTM_TORCH_PYTHON overrides it. */
const PYTHON = process.env.LSTM_TORCH_PYTHON ?? "/usr/bin/python3";
const SCRIPT = join(ROOT, "scripts/pytorch_interop.py");
const torchProbe = spawnSync(PYTHON, ["-c", "import torch"], { encoding: "utf8" });
const SKIP_TORCH =
  torchProbe.status === 0
    ? false
    : `${PYTHON} cannot import torch (${(torchProbe.stderr || String(torchProbe.error ?? "")).trim().split("\n").pop()}): PyTorch interop not checked`;

const tmp = mkdtempSync(join(tmpdir(), "lstm-interop-"));
const GENERIC: ModelMeta = { task: "generic", input: { kind: "dense" } };
const GENERIC_EMB: ModelMeta = { task: "generic", input: { kind: "embedding" } };

interface Arr {
  shape: number[];
  data: number[];
}

/** Float32-representable random values, so both sides read the same input. */
function arr(shape: number[], rng: Rng): Arr {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Array.from({ length: n }, () => Math.fround(rng.range(-1, 1))) };
}

function python(args: string[]): Record<string, unknown> {
  const r = spawnSync(PYTHON, [SCRIPT, ...args], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `pytorch_interop.py ${args.join(" ")} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** Our forward on inputs.json's x (time-major), h0, c0; head on every step. */
function ours(m: LstmModel, inputs: { x: Arr; h0?: Arr; c0?: Arr }) {
  const [T, B] = inputs.x.shape;
  const r = m.forward(inputs.x.data, {
    seqLen: T,
    batch: B,
    h0: inputs.h0?.data,
    c0: inputs.c0?.data,
  });
  return {
    y: Array.from(r.y),
    h_n: Array.from(r.hN),
    c_n: Array.from(r.cN), // empty for a GRU
    out: Array.from(r.output),
  };
}

/** Max scaled error over y, h_n, c_n and the head outputs, after checking the shapes. */
function compare(
  mine: Record<string, number[]>,
  torch: Record<string, unknown>,
  shapes: Record<string, number[]>,
): number {
  let worst = 0;
  for (const k of Object.keys(shapes)) {
    const t = torch[k] as Arr;
    assert.deepEqual(t.shape, shapes[k], `${k} shape`);
    worst = Math.max(worst, scaledError(mine[k], t.data));
  }
  return worst;
}

const CASES: { name: string; cfg: ModelConfigInput; T: number; B: number; state: boolean }[] = [
  {
    name: "2 layers, bidirectional",
    cfg: { inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, outputSize: 2 },
    T: 5,
    B: 3,
    state: true,
  },
  {
    name: "1 layer, unidirectional",
    cfg: { inputSize: 5, hiddenSize: 6, numLayers: 1, outputSize: 3 },
    T: 7,
    B: 2,
    state: false,
  },
  {
    name: "GRU, 2 layers, bidirectional",
    cfg: { cell: "gru", inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, outputSize: 2 }, // prettier-ignore
    T: 5,
    B: 3,
    state: true,
  },
  {
    name: "GRU, 1 layer, unidirectional",
    cfg: { cell: "gru", inputSize: 5, hiddenSize: 6, numLayers: 1, outputSize: 3 },
    T: 7,
    B: 2,
    state: false,
  },
];

function inputsFor(c: (typeof CASES)[number], seed: number) {
  const rng = new Rng(seed);
  const { inputSize: I, hiddenSize: H, numLayers: L = 1, bidirectional } = c.cfg;
  const LD = L * (bidirectional ? 2 : 1);
  const inputs: { x: Arr; h0?: Arr; c0?: Arr } = { x: arr([c.T, c.B, I], rng) };
  if (c.state) {
    inputs.h0 = arr([LD, c.B, H], rng);
    if (c.cfg.cell !== "gru") inputs.c0 = arr([LD, c.B, H], rng);
  }
  return inputs;
}

function shapesFor(c: (typeof CASES)[number]) {
  const { hiddenSize: H, numLayers: L = 1, bidirectional, outputSize: O } = c.cfg;
  const D = bidirectional ? 2 : 1;
  const shapes: Record<string, number[]> = { y: [c.T, c.B, D * H], h_n: [L * D, c.B, H], out: [c.T, c.B, O] }; // prettier-ignore
  if (c.cfg.cell !== "gru") shapes.c_n = [L * D, c.B, H]; // a GRU has no cell state
  return shapes;
}

// ------------------------------------------------------------------------------------------------
// PyTorch (needs torch)

CASES.forEach((c, i) => {
  test(
    `torch loads our ${c.name} model file (strict) and gives our outputs`,
    { skip: SKIP_TORCH },
    (t) => {
      const model = join(tmp, `ours-${i}.safetensors`);
      saveModel(model, randomModel(c.cfg, 100 + i), GENERIC);
      const inputs = inputsFor(c, 200 + i);
      const input = join(tmp, `ours-${i}.json`);
      writeFileSync(input, JSON.stringify(inputs));
      for (const dtype of ["float32", "float64"] as const) {
        const torch = python(["forward", model, input, "--dtype", dtype]);
        const err = compare(ours(loadModel(model, dtype).model, inputs), torch, shapesFor(c));
        t.diagnostic(`${dtype}: max scaled error ${err.toExponential(2)} (torch ${torch.torch})`);
        assert.ok(err <= (dtype === "float32" ? 1e-5 : 1e-12), `${dtype}: max scaled error ${err}`);
      }
    },
  );
});

const EXPORTS = [
  { lstm: "rnn", head: "fc", dtype: "float32" },
  { lstm: "", head: "head", dtype: "float64" },
  { lstm: "lstm", head: "decoder", dtype: "float32" },
];

CASES.forEach((c, i) =>
  EXPORTS.forEach((e, j) => {
    const keys = `${e.lstm ? `${e.lstm}.` : ""}weight_ih_l0…, ${e.head}.*, ${e.dtype}`;
    test(
      `lstm convert --from pytorch imports a torch ${c.name} state_dict (${keys})`,
      { skip: SKIP_TORCH },
      (t) => {
        const sd = join(tmp, `torch-${i}-${j}.safetensors`);
        const input = join(tmp, `torch-${i}-${j}.json`);
        const inputs = inputsFor(c, 300 + i);
        writeFileSync(input, JSON.stringify(inputs));
        const {
          inputSize: I,
          hiddenSize: H,
          numLayers: L = 1,
          bidirectional,
          outputSize: O,
        } = c.cfg;
        const torch = python([
        "export", sd, "--input-size", String(I), "--hidden-size", String(H),
        "--num-layers", String(L), ...(bidirectional ? ["--bidirectional"] : []),
        "--output-size", String(O), "--seed", String(7 + j), "--lstm-name", e.lstm,
        "--head-name", e.head, "--dtype", e.dtype, "--input", input, "--cell", c.cfg.cell ?? "lstm",
      ]); // prettier-ignore
        assert.ok((torch.keys as string[]).includes(`${e.lstm ? `${e.lstm}.` : ""}weight_hh_l0`));
        const out = join(tmp, `torch-${i}-${j}.lstm.safetensors`);
        const r = runCli(["convert", "--from", "pytorch", sd, "--out", out, "--json"]);
        assert.equal(r.status, 0, r.stderr);
        const summary = JSON.parse(r.stdout);
        assert.equal(summary.lstmPrefix, e.lstm);
        assert.equal(summary.headPrefix, e.head);
        const { model } = loadModel(out);
        assert.deepEqual(model.config, {
          ...c.cfg,
          cell: c.cfg.cell ?? "lstm",
          numLayers: L,
          bidirectional: !!bidirectional,
        });
        const err = compare(ours(model, inputs), torch, shapesFor(c));
        t.diagnostic(
          `max scaled error ${err.toExponential(2)} (torch ${torch.torch}, ${e.dtype} weights)`,
        );
        assert.ok(err <= 1e-5, `max scaled error ${err}`);
      },
    );
  }),
);

test(
  "torch loads our embedding + projection + tied-head + dropout model (strict) with the same eval outputs",
  { skip: SKIP_TORCH },
  (t) => {
    const V = 9;
    const cfg: ModelConfigInput = {
      inputSize: 4,
      hiddenSize: 6,
      projSize: 4,
      numLayers: 2,
      outputSize: V,
      embedding: { numEmbeddings: V, paddingIdx: 0 },
      tiedHead: true,
      dropout: { input: 0.1, betweenLayers: 0.2, output: 0.3 },
    };
    const file = join(tmp, "ours-emb.safetensors");
    saveModel(file, randomModel(cfg, 41), GENERIC_EMB);
    const rng = new Rng(42);
    const inputs = { x: { shape: [5, 3], data: Array.from({ length: 15 }, () => rng.int(V)) } };
    const input = join(tmp, "ours-emb.json");
    writeFileSync(input, JSON.stringify(inputs));
    const shapes = { y: [5, 3, 4], h_n: [2, 3, 4], c_n: [2, 3, 6], out: [5, 3, V] };
    for (const dtype of ["float32", "float64"] as const) {
      const torch = python(["forward", file, input, "--dtype", dtype]);
      const err = compare(ours(loadModel(file, dtype).model, inputs), torch, shapes);
      t.diagnostic(`${dtype}: max scaled error ${err.toExponential(2)}`);
      assert.ok(err <= (dtype === "float32" ? 1e-5 : 1e-12), `${dtype}: max scaled error ${err}`);
    }
  },
);

test(
  "lstm convert --from pytorch reads encoder/rnn/decoder names, projections and a tied head",
  { skip: SKIP_TORCH },
  (t) => {
    const sd = join(tmp, "torch-emb.safetensors");
    const input = join(tmp, "torch-emb.json");
    const rng = new Rng(43);
    const inputs = { x: { shape: [4, 2], data: Array.from({ length: 8 }, () => rng.int(7)) } };
    writeFileSync(input, JSON.stringify(inputs));
    const torch = python([
      "export", sd, "--input-size", "4", "--hidden-size", "6", "--proj-size", "4", "--num-layers", "2",
      "--output-size", "7", "--vocab", "7", "--tie", "--embedding-name", "encoder", "--lstm-name", "rnn",
      "--head-name", "decoder", "--input", input,
    ]); // prettier-ignore
    const out = join(tmp, "torch-emb.lstm.safetensors");
    const r = runCli(["convert", "--from", "pytorch", sd, "--out", out, "--padding-idx", "0"]);
    assert.equal(r.status, 0, r.stderr);
    const { model } = loadModel(out);
    assert.equal(model.config.projSize, 4);
    assert.equal(model.config.tiedHead, true);
    assert.deepEqual(model.config.embedding, { numEmbeddings: 7, paddingIdx: 0 });
    const shapes = { y: [4, 2, 4], h_n: [2, 2, 4], c_n: [2, 2, 6], out: [4, 2, 7] };
    const err = compare(ours(model, inputs), torch, shapes);
    t.diagnostic(`max scaled error ${err.toExponential(2)}`);
    assert.ok(err <= 1e-5, `max scaled error ${err}`);
  },
);

// ------------------------------------------------------------------------------------------------
// lstm convert (no torch needed)

test("lstm convert --to keras and back gives the same forward outputs and metadata", () => {
  const m = randomModel(
    { inputSize: 4, hiddenSize: 5, numLayers: 2, bidirectional: true, outputSize: 4 },
    400,
  );
  const meta: ModelMeta = {
    task: "text",
    input: { kind: "one-hot" },
    vocab: ["a", "b", "c", "\n"],
  };
  const model = join(tmp, "text.safetensors");
  saveModel(model, m, meta);
  const keras = join(tmp, "text.keras.json");
  let r = runCli(["convert", model, "--to", "keras", "--out", keras]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /lstm-ts model/);
  const json = JSON.parse(readFileSync(keras, "utf8"));
  assert.equal(json.format, "keras-lstm");
  assert.deepEqual(json.layers[1].kernel.shape, [10, 20]);
  assert.deepEqual(json.layers[1].backward_layer.recurrent_kernel.shape, [5, 20]);
  const back = join(tmp, "text.back.safetensors");
  r = runCli(["convert", keras, "--out", back]); // --from detected
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /keras-lstm JSON/);
  assert.match(r.stdout, /note: Keras has one bias per gate/);
  const loaded = loadModel(back);
  assert.deepEqual(loaded.meta.vocab, meta.vocab);
  assert.equal(loaded.meta.task, "text");
  assert.deepEqual(loaded.meta.input, { kind: "one-hot" });
  assert.deepEqual(loaded.meta.training, { convertedFrom: "keras", source: "text.keras.json" });
  const rng = new Rng(401);
  const inputs = { x: arr([6, 2, 4], rng) };
  const a = ours(loaded.model, inputs);
  const e = ours(m, inputs);
  for (const k of ["y", "h_n", "c_n", "out"] as const)
    assert.ok(scaledError(a[k], e[k]) <= 1e-6, `${k}: ${scaledError(a[k], e[k])}`);
});

test("lstm convert --from pytorch reads a state_dict with prefixes, a vocabulary and --json", () => {
  const m = randomModel({ inputSize: 3, hiddenSize: 2, outputSize: 3 }, 500);
  const tensors = m.paramNames().map((n) => ({
    name: n.replace("lstm.", "model.rnn.").replace("head.", "readout."),
    dtype: "F32" as const,
    shape: [...m.paramShape(n)],
    data: m.param(n),
  }));
  const sd = join(tmp, "prefixed.safetensors");
  writeFileSync(sd, encodeSafetensors(tensors, { format: "pt" }));
  const out = join(tmp, "prefixed.lstm.safetensors");
  const vocab = join(tmp, "vocab.json");
  writeFileSync(vocab, JSON.stringify(["x", "y", "z"]));
  let r = runCli(["convert", "--from", "pytorch", sd, "--out", out]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^lstm: error: .*no head found.*--head-prefix/);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.ok(!existsSync(out));
  r = runCli(["convert", sd, "--head-prefix", "readout", "--vocab", vocab, "--out", out, "--json"]);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.from, "pytorch");
  assert.equal(s.lstmPrefix, "model.rnn");
  assert.equal(s.task, "text");
  assert.equal(s.paramsSha256, paramsSha256(m));
  const info = JSON.parse(runCli(["info", "--json", out]).stdout);
  assert.equal(info.paramsSha256, paramsSha256(m));
  assert.equal(info.vocabSize, 3);
});

test("lstm convert --task series takes --series metadata and checks it against the sizes", () => {
  const m = randomModel({ inputSize: 2, hiddenSize: 3, outputSize: 4 }, 600);
  const model = join(tmp, "generic.safetensors");
  saveModel(model, m, GENERIC);
  const keras = join(tmp, "generic.json");
  assert.equal(runCli(["convert", model, "--to", "keras", "--out", keras]).status, 0);
  const series = join(tmp, "series.json");
  const meta = {
    columns: ["a", "b"],
    targetColumns: ["b"],
    horizon: 4,
    seqLen: 8,
    scaler: { mean: [1, 2], std: [3, 4] },
  };
  writeFileSync(series, JSON.stringify(meta));
  const out = join(tmp, "series.safetensors");
  let r = runCli(["convert", keras, "--task", "series", "--series", series, "--out", out]);
  assert.equal(r.status, 0, r.stderr);
  const loaded = loadModel(out);
  assert.equal(loaded.meta.task, "series");
  assert.deepEqual(loaded.meta.series, meta);
  writeFileSync(series, JSON.stringify({ ...meta, horizon: 3 }));
  const bad = join(tmp, "bad-series.safetensors");
  r = runCli(["convert", keras, "--series", series, "--out", bad]);
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /series.json: series\.horizon: horizon 3 × 1 target column = 3, but the model's output_size is 4/,
  );
  assert.ok(!existsSync(bad));
});

test("lstm convert rejects bad input in one line and writes nothing", () => {
  // A float16 state_dict (written by hand: our writer has no F16).
  let json = JSON.stringify({
    "lstm.weight_ih_l0": { dtype: "F16", shape: [4, 1], data_offsets: [0, 8] },
    "lstm.weight_hh_l0": { dtype: "F16", shape: [4, 1], data_offsets: [8, 16] },
  });
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const half = new Uint8Array(8 + json.length + 16);
  new DataView(half.buffer).setBigUint64(0, BigInt(json.length), true);
  half.set(new TextEncoder().encode(json), 8);
  const halfPath = join(tmp, "half.safetensors");
  writeFileSync(halfPath, half);

  const model = join(tmp, "plain.safetensors");
  saveModel(model, randomModel({ inputSize: 3, hiddenSize: 2, outputSize: 2 }, 700), GENERIC);
  const vocab = join(tmp, "vocab2.json");
  writeFileSync(vocab, JSON.stringify(["a", "b"]));
  const notJson = join(tmp, "not.json");
  writeFileSync(notJson, "{ nope");
  const out = join(tmp, "never.safetensors");
  const cases: [string[], RegExp][] = [
    [["convert", halfPath, "--out", out], /tensor "lstm.weight_ih_l0" has dtype F16: unsupported dtype, convert to float32 in PyTorch first/],
    [["convert", model, "--out", out], /already an lstm-ts model: nothing to convert/],
    [["convert", model, "--to", "keras", "--out", model], /--out: .* is the input <input>/],
    [["convert", model, "--to", "keras", "--vocab", vocab, "--out", out], /vocab: has 2 characters but the model's input_size is 3/],
    [["convert", notJson, "--from", "keras", "--out", out], /not.json: is not valid JSON/],
    [["convert", join(tmp, "missing.json"), "--out", out], /cannot read .*missing.json: no such file/],
    [["convert", model, "--from", "keras", "--out", out], /is not UTF-8 text|is not valid JSON/],
    [["convert", model, "--from", "pytorch", "--lstm-prefix", "rnn", "--out", out], /lstm prefix: no nn.LSTM tensors named rnn.weight_ih_l0; LSTM prefixes in .*: "lstm"/],
    [["convert", notJson, "--from", "keras", "--head-prefix", "fc", "--out", out], /--lstm-prefix, --head-prefix, --embedding-prefix and --padding-idx are for --from pytorch/],
  ]; // prettier-ignore
  for (const [args, re] of cases) {
    const r = runCli(args);
    assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(!existsSync(out), args.join(" "));
  }
  const r = runCli(["convert", model, "--to", "coreml", "--out", out]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--to must be one of lstm, keras/);
});
