/**
 * Exported ONNX graphs run in ONNX Runtime (onnxruntime-web's wasm backend) and give our forward's
 * outputs and final states within 1e-5: stacked, bidirectional, batch-first, text (token ids
 * through Gather) and series (last-step readout) models; and, from hand-built weights, the GRU
 * path against a GRU written out here, the embedding path and sequence lengths (every step and
 * last step).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as ort from "onnxruntime-web";
import { LstmModel } from "../../model/model.js";
import type { ModelConfigInput } from "../../model/config.js";
import { ConfigError } from "../../tensor/errors.js";
import { Rng } from "../../tensor/rng.js";
import type { ModelMeta } from "../model-file.js";
import { exportOnnx, ONNX_IR_VERSION, ONNX_OPSET } from "./export.js";
import { buildRecurrentGraph, GRU_CELL, LSTM_CELL, type RecurrentNet } from "./graph.js";
import { encodeOnnxModel, type GraphDef } from "./proto.js";
import { ProtoWriter } from "./protobuf.js";
import { randomModel, maxDiff } from "../../../test/numeric.js";

ort.env.wasm.numThreads = 1;
const TOL = 1e-5;

function randoms(n: number, rng: Rng, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.range(-scale, scale));
}

type Feeds = Record<string, ort.Tensor>;
async function runOnnx(bytes: Uint8Array, feeds: Feeds) {
  const session = await ort.InferenceSession.create(bytes);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor("float32", data, dims);

interface Case {
  name: string;
  cfg: ModelConfigInput;
  meta: ModelMeta;
  batchFirst: boolean;
}

const dense: ModelMeta = { task: "generic", input: { kind: "dense" } };
const series: ModelMeta = {
  task: "series",
  input: { kind: "dense" },
  series: {
    columns: ["a", "b"],
    targetColumns: ["a"],
    horizon: 3,
    seqLen: 6,
    scaler: { mean: [0, 0], std: [1, 1] },
  },
};
const text = (V: number): ModelMeta => ({
  task: "text",
  input: { kind: "one-hot" },
  vocab: Array.from({ length: V }, (_, i) => String.fromCharCode(97 + i)),
});

const CASES: Case[] = [
  {
    name: "one layer",
    cfg: { inputSize: 3, hiddenSize: 5, outputSize: 2 },
    meta: dense,
    batchFirst: false,
  },
  {
    name: "stacked (3 layers)",
    cfg: { inputSize: 4, hiddenSize: 6, numLayers: 3, outputSize: 3 },
    meta: dense,
    batchFirst: false,
  },
  {
    name: "stacked bidirectional",
    cfg: { inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, outputSize: 2 },
    meta: dense,
    batchFirst: false,
  },
  {
    name: "bidirectional batch-first",
    cfg: { inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, outputSize: 2 },
    meta: dense,
    batchFirst: true,
  },
  {
    name: "text (token ids, Gather)",
    cfg: { inputSize: 7, hiddenSize: 8, numLayers: 2, outputSize: 7 },
    meta: text(7),
    batchFirst: false,
  },
  {
    name: "text batch-first bidirectional",
    cfg: { inputSize: 5, hiddenSize: 4, bidirectional: true, outputSize: 5 },
    meta: text(5),
    batchFirst: true,
  },
  {
    name: "series (last-step readout)",
    cfg: { inputSize: 2, hiddenSize: 6, numLayers: 2, outputSize: 3 },
    meta: series,
    batchFirst: false,
  },
  {
    name: "series bidirectional batch-first",
    cfg: { inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true, outputSize: 3 },
    meta: series,
    batchFirst: true,
  },
  {
    name: "GRU stacked bidirectional",
    cfg: { cell: "gru", inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, outputSize: 2 }, // prettier-ignore
    meta: dense,
    batchFirst: false,
  },
  {
    name: "GRU text batch-first",
    cfg: { cell: "gru", inputSize: 6, hiddenSize: 5, numLayers: 2, outputSize: 6 },
    meta: text(6),
    batchFirst: true,
  },
  {
    name: "GRU series (last-step readout)",
    cfg: { cell: "gru", inputSize: 2, hiddenSize: 6, outputSize: 3 },
    meta: series,
    batchFirst: false,
  },
  {
    name: "projections (Scan), stacked bidirectional",
    cfg: { inputSize: 3, hiddenSize: 5, projSize: 2, numLayers: 2, bidirectional: true, outputSize: 2 }, // prettier-ignore
    meta: dense,
    batchFirst: false,
  },
  {
    name: "projections, text (one-hot ids) batch-first, 3 layers",
    cfg: { inputSize: 6, hiddenSize: 4, projSize: 3, numLayers: 3, outputSize: 6 },
    meta: text(6),
    batchFirst: true,
  },
  {
    name: "projections, series bidirectional (last-step readout)",
    cfg: { inputSize: 2, hiddenSize: 6, projSize: 1, bidirectional: true, outputSize: 3 },
    meta: series,
    batchFirst: false,
  },
  {
    name: "projections, embedding and a tied head (head = embedding.weight)",
    cfg: { inputSize: 4, hiddenSize: 5, projSize: 2, bidirectional: true, outputSize: 7, embedding: { numEmbeddings: 7, paddingIdx: 0 }, tiedHead: true }, // prettier-ignore
    meta: { ...text(7), input: { kind: "embedding" } },
    batchFirst: true,
  },
  {
    name: "dropout (training only: the graph is the eval-mode forward)",
    cfg: { inputSize: 3, hiddenSize: 4, numLayers: 2, outputSize: 2, dropout: { input: 0.2, betweenLayers: 0.5, output: 0.3 } }, // prettier-ignore
    meta: dense,
    batchFirst: false,
  },
];

describe("ONNX export runs in ONNX Runtime with our forward's results", () => {
  CASES.forEach((c, k) => {
    it(c.name, async () => {
      const model = randomModel(c.cfg, 10 + k);
      const { inputSize: I, hiddenSize: H, numLayers: L = 1, outputSize: O } = c.cfg;
      const Hout = c.cfg.projSize ?? H;
      const D = c.cfg.bidirectional ? 2 : 1;
      const T = 6;
      const B = 3;
      const rng = new Rng(100 + k);
      const h0 = randoms(L * D * B * Hout, rng, 0.5);
      const c0 = randoms(L * D * B * H, rng, 0.5);
      const gru = c.cfg.cell === "gru"; // no c0 input, no cN output
      const feeds: Feeds = { h0: f32(h0, [L * D, B, Hout]) };
      if (!gru) feeds.c0 = f32(c0, [L * D, B, H]);
      let x: ArrayLike<number>;
      const seq = c.batchFirst ? [B, T] : [T, B];
      if (c.meta.input.kind !== "dense") {
        const V = c.cfg.embedding?.numEmbeddings ?? I;
        const ids = Array.from({ length: T * B }, () => rng.int(V));
        feeds.tokens = new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), seq);
        if (c.cfg.embedding) x = ids;
        else {
          const oneHot = new Float32Array(T * B * I);
          ids.forEach((id, i) => (oneHot[i * I + id] = 1));
          x = oneHot;
        }
      } else {
        x = randoms(T * B * I, rng);
        feeds.x = f32(x as Float32Array, [...seq, I]);
      }
      const readout = c.meta.task === "series" ? "last" : "all";
      const ours = model.forward(x, {
        seqLen: T,
        batch: B,
        batchFirst: c.batchFirst,
        h0,
        c0: gru ? undefined : c0,
        readout,
      });
      const exported = exportOnnx(model, c.meta, { batchFirst: c.batchFirst });
      assert.equal(exported.readout, readout);
      const r = await runOnnx(exported.bytes, feeds);
      assert.deepEqual(r.output.dims, readout === "last" ? [B, O] : [...seq, O]);
      assert.ok(maxDiff(r.output.data as Float32Array, ours.output) < TOL, "output");
      assert.deepEqual(r.hN.dims, [L * D, B, Hout]);
      assert.ok(maxDiff(r.hN.data as Float32Array, ours.hN) < TOL, "hN");
      if (gru) assert.equal(r.cN, undefined);
      else assert.ok(maxDiff(r.cN.data as Float32Array, ours.cN) < TOL, "cN");
      // The comparison can fail: a perturbed weight moves ORT's output past the tolerance.
      model.param("head.bias")[0] += 1e-3;
      const moved = await runOnnx(
        exportOnnx(model, c.meta, { batchFirst: c.batchFirst }).bytes,
        feeds,
      );
      assert.ok(maxDiff(moved.output.data as Float32Array, ours.output) > TOL);
    });
  });
});

/** One direction's PyTorch-layout weights for a G-gate cell. */
function directionWeights(G: number, H: number, inW: number, rng: Rng) {
  return {
    wIh: randoms(G * H * inW, rng, 0.6),
    wHh: randoms(G * H * H, rng, 0.6),
    bIh: randoms(G * H, rng, 0.5),
    bHh: randoms(G * H, rng, 0.5),
  };
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** W[rows, cols] · v + b, rows r0 … r0+n−1. */
function affine(
  W: ArrayLike<number>,
  b: ArrayLike<number>,
  v: ArrayLike<number>,
  r0: number,
  n: number,
) {
  const cols = v.length;
  return Array.from({ length: n }, (_, r) => {
    let s = b[r0 + r];
    for (let j = 0; j < cols; j++) s += W[(r0 + r) * cols + j] * v[j];
    return s;
  });
}

/**
 * nn.GRU's forward (PyTorch's equations, rows r, z, n) over x [T][in] for one direction:
 * r = σ(W_ir x + b_ir + W_hr h + b_hr), z likewise, n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),
 * h' = (1 − z) ⊙ n + z ⊙ h. Returns the outputs [T][H] in time order.
 */
function gruDirection(
  w: ReturnType<typeof directionWeights>,
  x: number[][],
  h0: number[],
  reverse: boolean,
) {
  const H = h0.length;
  let h = h0.slice();
  const ys: number[][] = new Array(x.length);
  for (let s = 0; s < x.length; s++) {
    const t = reverse ? x.length - 1 - s : s;
    const gi = affine(w.wIh, w.bIh, x[t], 0, 3 * H);
    const gh = affine(w.wHh, w.bHh, h, 0, 3 * H);
    h = h.map((hj, j) => {
      const r = sigmoid(gi[j] + gh[j]);
      const z = sigmoid(gi[H + j] + gh[H + j]);
      const n = Math.tanh(gi[2 * H + j] + r * gh[2 * H + j]);
      return (1 - z) * n + z * hj;
    });
    ys[t] = h;
  }
  return { ys, hN: h };
}

function encodeNet(net: RecurrentNet): Uint8Array {
  return encodeOnnxModel({
    graph: { name: "test", doc: "", ...buildRecurrentGraph(net) },
    opset: ONNX_OPSET,
    irVersion: ONNX_IR_VERSION,
    producer: { name: "lstm-ts test", version: "" },
    metadata: {},
  });
}

/** An LSTM net from a model's weights (projections too), with another input or sequence lengths. */
function lstmNet(model: LstmModel, over: Partial<RecurrentNet>): RecurrentNet {
  const c = model.config;
  const D = c.bidirectional ? 2 : 1;
  const p = (n: string) => model.param(n);
  return {
    cell: LSTM_CELL,
    ...{
      inputSize: c.inputSize,
      hiddenSize: c.hiddenSize,
      numLayers: c.numLayers,
      bidirectional: c.bidirectional,
      projSize: c.projSize ?? 0,
    },
    weights: Array.from({ length: c.numLayers }, (_, l) =>
      Array.from({ length: D }, (_, d) => {
        const s = `l${l}${d === 1 ? "_reverse" : ""}`;
        const q = (k: string) => p(`lstm.${k}_${s}`);
        const w = {
          wIh: q("weight_ih"),
          wHh: q("weight_hh"),
          bIh: q("bias_ih"),
          bHh: q("bias_hh"),
        };
        return c.projSize ? { ...w, wHr: q("weight_hr") } : w;
      }),
    ),
    head: { weight: p("head.weight"), bias: p("head.bias"), outputSize: c.outputSize },
    ...{ input: { kind: "dense" }, readout: "all", batchFirst: false, sequenceLengths: false },
    ...over,
  };
}

describe("ONNX graph paths for other cells and options (hand-built weights)", () => {
  it("GRU (stacked, bidirectional): gate order z, r, h and linear_before_reset = 1", async () => {
    const [I, H, L, D, O, T, B] = [3, 4, 2, 2, 2, 5, 2];
    const rng = new Rng(7);
    const weights = Array.from({ length: L }, (_, l) =>
      Array.from({ length: D }, () => directionWeights(3, H, l === 0 ? I : D * H, rng)),
    );
    const head = { weight: randoms(O * D * H, rng), bias: randoms(O, rng), outputSize: O };
    const x = randoms(T * B * I, rng);
    const h0 = randoms(L * D * B * H, rng, 0.5);
    const net: RecurrentNet = {
      cell: GRU_CELL,
      ...{ inputSize: I, hiddenSize: H, numLayers: L, bidirectional: true },
      ...{
        weights,
        head,
        input: { kind: "dense" },
        readout: "all",
        batchFirst: false,
        sequenceLengths: false,
      },
    };
    const r = await runOnnx(encodeNet(net), { x: f32(x, [T, B, I]), h0: f32(h0, [L * D, B, H]) });
    assert.deepEqual(Object.keys(r).sort(), ["hN", "output"]);
    for (let b = 0; b < B; b++) {
      let seq = Array.from({ length: T }, (_, t) =>
        Array.from(x.subarray((t * B + b) * I, (t * B + b + 1) * I)),
      );
      for (let l = 0; l < L; l++) {
        const outs = [0, 1].map((d) => {
          const s = ((l * D + d) * B + b) * H;
          const res = gruDirection(weights[l][d], seq, Array.from(h0.subarray(s, s + H)), d === 1);
          assert.ok(maxDiff(res.hN, (r.hN.data as Float32Array).subarray(s, s + H)) < TOL, "hN");
          return res.ys;
        });
        seq = seq.map((_, t) => [...outs[0][t], ...outs[1][t]]);
      }
      for (let t = 0; t < T; t++) {
        const z = affine(head.weight, head.bias, seq[t], 0, O);
        const got = (r.output.data as Float32Array).subarray((t * B + b) * O, (t * B + b + 1) * O);
        assert.ok(maxDiff(z, got) < TOL, `output t=${t} b=${b}`);
      }
    }
  });

  it("embedding: Gather from a [V, E] table feeds the first layer", async () => {
    const [V, E, H, T, B] = [9, 4, 5, 4, 3];
    const model = randomModel(
      { inputSize: E, hiddenSize: H, numLayers: 2, bidirectional: true, outputSize: V },
      3,
    );
    const rng = new Rng(4);
    const table = randoms(V * E, rng);
    const ids = Array.from({ length: T * B }, () => rng.int(V));
    const x = new Float32Array(T * B * E);
    ids.forEach((id, i) => x.set(table.subarray(id * E, id * E + E), i * E));
    const zeros = new Float32Array(4 * B * H);
    const ours = model.forward(x, { seqLen: T, batch: B });
    const r = await runOnnx(
      encodeNet(lstmNet(model, { input: { kind: "ids", table, vocabSize: V } })),
      {
        tokens: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [T, B]),
        h0: f32(zeros, [4, B, H]),
        c0: f32(zeros, [4, B, H]),
      },
    );
    assert.ok(maxDiff(r.output.data as Float32Array, ours.output) < TOL);
  });

  it("sequence lengths: each sequence equals our forward on its own valid steps", async () => {
    const [I, H, O, T] = [3, 4, 2, 5];
    const lens = [5, 3, 1];
    const B = lens.length;
    const model = randomModel(
      { inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, outputSize: O },
      5,
    );
    const rng = new Rng(6);
    const x = randoms(T * B * I, rng);
    const h0 = randoms(4 * B * H, rng, 0.5);
    const c0 = randoms(4 * B * H, rng, 0.5);
    const r = await runOnnx(encodeNet(lstmNet(model, { sequenceLengths: true })), {
      x: f32(x, [T, B, I]),
      h0: f32(h0, [4, B, H]),
      c0: f32(c0, [4, B, H]),
      seq_lens: new ort.Tensor("int32", Int32Array.from(lens), [B]),
    });
    const out = r.output.data as Float32Array;
    lens.forEach((len, b) => {
      const xb = new Float32Array(len * I);
      for (let t = 0; t < len; t++) xb.set(x.subarray((t * B + b) * I, (t * B + b + 1) * I), t * I);
      const rows = (s: Float32Array) => {
        const o = new Float32Array(4 * H);
        for (let k = 0; k < 4; k++) o.set(s.subarray((k * B + b) * H, (k * B + b + 1) * H), k * H);
        return o;
      };
      const ours = model.forward(xb, { seqLen: len, batch: 1, h0: rows(h0), c0: rows(c0) });
      for (let t = 0; t < len; t++)
        assert.ok(
          maxDiff(
            out.subarray((t * B + b) * O, (t * B + b + 1) * O),
            ours.output.subarray(t * O, t * O + O),
          ) < TOL,
        );
      assert.ok(maxDiff(rows(r.hN.data as Float32Array), ours.hN) < TOL, `hN b=${b}`);
      assert.ok(maxDiff(rows(r.cN.data as Float32Array), ours.cN) < TOL, `cN b=${b}`);
    });
  });

  it("sequence lengths with a last-step readout: each sequence's own last step", async () => {
    const [I, H, O, T] = [2, 3, 4, 6];
    const lens = [2, 6, 4, 1];
    const B = lens.length;
    const model = randomModel(
      { inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, outputSize: O },
      8,
    );
    const rng = new Rng(9);
    const x = randoms(T * B * I, rng);
    const zeros = new Float32Array(4 * B * H);
    const r = await runOnnx(encodeNet(lstmNet(model, { sequenceLengths: true, readout: "last" })), {
      x: f32(x, [T, B, I]),
      h0: f32(zeros, [4, B, H]),
      c0: f32(zeros, [4, B, H]),
      seq_lens: new ort.Tensor("int32", Int32Array.from(lens), [B]),
    });
    assert.deepEqual(r.output.dims, [B, O]);
    lens.forEach((len, b) => {
      const xb = new Float32Array(len * I);
      for (let t = 0; t < len; t++) xb.set(x.subarray((t * B + b) * I, (t * B + b + 1) * I), t * I);
      const ours = model.forward(xb, { seqLen: len, batch: 1, readout: "last" });
      const got = (r.output.data as Float32Array).subarray(b * O, b * O + O);
      assert.ok(maxDiff(got, ours.output) < TOL, `b=${b}`);
    });
  });
});

/** ModelProto.metadata_props (field 14: key 1, value 2) read back from the file's bytes. */
function readMetadata(bytes: Uint8Array): Record<string, string> {
  const varint = (b: Uint8Array, at: { i: number }) => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = b[at.i++];
      v |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return v;
    }
  };
  /** [field, bytes] of each length-delimited field of a message; varints skipped. */
  const fields = (b: Uint8Array) => {
    const out: [number, Uint8Array][] = [];
    const at = { i: 0 };
    while (at.i < b.length) {
      const tag = Number(varint(b, at));
      if ((tag & 7) === 0) varint(b, at);
      else {
        const n = Number(varint(b, at));
        out.push([tag >> 3, b.subarray(at.i, at.i + n)]);
        at.i += n;
      }
    }
    return out;
  };
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  const meta: Record<string, string> = {};
  for (const [field, entry] of fields(bytes))
    if (field === 14) {
      const kv = new Map(fields(entry));
      meta[text(kv.get(1)!)] = text(kv.get(2)!);
    }
  return meta;
}

const softmaxRows = (z: ArrayLike<number>, C: number) =>
  Array.from({ length: z.length }, (_, i) => {
    const row = Array.from({ length: C }, (_, k) => z[i - (i % C) + k]);
    const m = Math.max(...row);
    const sum = row.reduce((a, v) => a + Math.exp(v - m), 0);
    return Math.exp(z[i] - m) / sum;
  });

interface ClassifyCase {
  name: string;
  cfg: ModelConfigInput;
  kind: "chars" | "numbers";
  batchFirst: boolean;
}

const CLASSIFY_CASES: ClassifyCase[] = [
  {
    name: "one-hot characters, stacked bidirectional LSTM",
    cfg: { inputSize: 6, hiddenSize: 5, numLayers: 2, bidirectional: true, outputSize: 3 },
    kind: "chars",
    batchFirst: false,
  },
  {
    name: "embedding (padding_idx 0), bidirectional GRU, batch-first",
    cfg: { cell: "gru", inputSize: 4, hiddenSize: 5, numLayers: 2, bidirectional: true, outputSize: 4, embedding: { numEmbeddings: 8, paddingIdx: 0 } }, // prettier-ignore
    kind: "chars",
    batchFirst: true,
  },
  {
    name: "numbers, stacked bidirectional LSTM with projections (Scan with lengths)",
    cfg: { inputSize: 2, hiddenSize: 5, projSize: 3, numLayers: 2, bidirectional: true, outputSize: 3 }, // prettier-ignore
    kind: "numbers",
    batchFirst: false,
  },
  {
    name: "embedding, projections and dropout, batch-first",
    cfg: { inputSize: 3, hiddenSize: 4, projSize: 2, outputSize: 2, embedding: { numEmbeddings: 6, paddingIdx: 0 }, dropout: { input: 0.1, betweenLayers: 0, output: 0.4 } }, // prettier-ignore
    kind: "chars",
    batchFirst: true,
  },
];

/** A classifier's metadata as train-classify writes it, for `cfg`. */
function classifierMeta(cfg: ModelConfigInput, kind: "chars" | "numbers"): ModelMeta {
  const V = cfg.embedding?.numEmbeddings ?? cfg.inputSize;
  return {
    task: "classify",
    input: { kind: cfg.embedding ? "embedding" : kind === "chars" ? "one-hot" : "dense" },
    classifier: {
      kind,
      textColumn: "text",
      labelColumn: "label",
      classes: Array.from({ length: cfg.outputSize }, (_, k) => `class ${k}`),
      vocab: kind === "chars" ? Array.from({ length: V - 1 }, (_, i) => String.fromCharCode(97 + i)) : null, // prettier-ignore
      features: kind === "chars" ? 1 : cfg.inputSize,
      scaler: kind === "chars" ? null : { mean: [0.5, -1], std: [2, 3] },
    },
  };
}

describe("ONNX export of classifiers: logits of each row's final states at its own length", () => {
  CLASSIFY_CASES.forEach((c, k) => {
    it(c.name, async () => {
      const model = randomModel(c.cfg, 40 + k);
      const meta = classifierMeta(c.cfg, c.kind);
      const { inputSize: I, outputSize: C } = c.cfg;
      const lengths = [3, 7, 1, 5];
      const [T, B] = [7, lengths.length];
      const rng = new Rng(50 + k);
      const seq = c.batchFirst ? [B, T] : [T, B];
      const at = (t: number, b: number) => (c.batchFirst ? b * T + t : t * B + b);
      const feeds: Feeds = { seq_lens: new ort.Tensor("int32", Int32Array.from(lengths), [B]) };
      let x: Float64Array;
      if (c.kind === "chars") {
        // Ids 1 … V−1 on each row's steps, padding id 0 past them (as padTokenBatch pads).
        const V = c.cfg.embedding?.numEmbeddings ?? I;
        x = new Float64Array(T * B);
        for (let b = 0; b < B; b++)
          for (let t = 0; t < lengths[b]; t++) x[at(t, b)] = 1 + rng.int(V - 1);
        feeds.tokens = new ort.Tensor("int64", BigInt64Array.from(x, BigInt), seq);
      } else {
        x = new Float64Array(T * B * I);
        for (let b = 0; b < B; b++)
          for (let t = 0; t < lengths[b]; t++)
            for (let i = 0; i < I; i++) x[at(t, b) * I + i] = rng.range(-2, 2);
        feeds.x = f32(Float32Array.from(x), [...seq, I]);
      }
      const forward = () =>
        Float64Array.from(
          model.forward(x, {
            seqLen: T,
            batch: B,
            batchFirst: c.batchFirst,
            lengths,
            readout: "final",
            oneHot: c.kind === "chars" && !c.cfg.embedding,
          }).output,
        );
      const ours = forward();
      const exported = exportOnnx(model, meta, { batchFirst: c.batchFirst });
      assert.equal(exported.readout, "final");
      assert.deepEqual(exported.outputs, ["logits [B, " + C + "]", "probabilities [B, " + C + "]"]); // prettier-ignore
      const r = await runOnnx(exported.bytes, feeds);
      assert.deepEqual(Object.keys(r).sort(), ["logits", "probabilities"]);
      assert.deepEqual(r.logits.dims, [B, C]);
      assert.ok(maxDiff(r.logits.data as Float32Array, ours) < TOL, "logits");
      assert.ok(maxDiff(r.probabilities.data as Float32Array, softmaxRows(ours, C)) < TOL, "p");
      // The classes travel with the graph, in output order.
      const props = readMetadata(exported.bytes);
      assert.deepEqual(JSON.parse(props["lstm-ts.classes"]), meta.classifier!.classes);
      assert.deepEqual(JSON.parse(props["lstm-ts.outputs"]), ["logits", "probabilities"]);
      // The comparison can fail: a perturbed recurrent weight moves the logits past TOL.
      model.param(`${model.config.cell}.weight_hh_l0`)[0] += 0.05;
      const moved = await runOnnx(exportOnnx(model, meta, c).bytes, feeds);
      assert.ok(maxDiff(moved.logits.data as Float32Array, ours) > TOL);
      assert.ok(maxDiff(moved.logits.data as Float32Array, forward()) < TOL);
    });
  });

  it("refuses a classifier whose metadata does not fit the model, naming the reason", () => {
    const cfg = CLASSIFY_CASES[0].cfg;
    const model = randomModel(cfg, 1);
    const meta = classifierMeta(cfg, "chars");
    const refused = (m: ModelMeta, reason: RegExp) =>
      assert.throws(
        () => exportOnnx(model, m),
        (e: unknown) => e instanceof ConfigError && reason.test(e.message),
      );
    refused({ ...meta, classifier: undefined }, /task classify\) without classifier metadata/);
    refused(
      { ...meta, classifier: { ...meta.classifier!, classes: ["a", "b"] } },
      /classifier\.classes has 2 labels but the head has 3 outputs/,
    );
    refused(
      { ...meta, classifier: { ...meta.classifier!, vocab: ["a"] } },
      /classifier\.vocab has 1 characters \(\+ padding id 0\) but the model reads 6 token ids/,
    );
    refused({ ...meta, input: { kind: "embedding" } }, /metadata says input "embedding"/);
    const numbers = classifierMeta(cfg, "numbers");
    refused(
      { ...numbers, classifier: { ...numbers.classifier!, features: 2 } },
      /classifier\.features is 2 but the model reads 6 dense features/,
    );
  });
});

describe("ONNX export of projections (Scan): lengths and states", () => {
  it("every-step readout with lengths and given h0, c0 equals our forward with lengths", async () => {
    const [I, H, P, O, T] = [3, 5, 2, 2, 6];
    const lengths = [6, 2, 4];
    const B = lengths.length;
    const model = randomModel(
      { inputSize: I, hiddenSize: H, projSize: P, numLayers: 2, bidirectional: true, outputSize: O }, // prettier-ignore
      21,
    );
    const rng = new Rng(22);
    const x = randoms(T * B * I, rng);
    const h0 = randoms(4 * B * P, rng, 0.5);
    const c0 = randoms(4 * B * H, rng, 0.5);
    const ours = model.forward(x, { seqLen: T, batch: B, h0, c0, lengths });
    const net = lstmNet(model, { sequenceLengths: true });
    const r = await runOnnx(encodeNet(net), {
      x: f32(x, [T, B, I]),
      h0: f32(h0, [4, B, P]),
      c0: f32(c0, [4, B, H]),
      seq_lens: new ort.Tensor("int32", Int32Array.from(lengths), [B]),
    });
    assert.ok(maxDiff(r.output.data as Float32Array, ours.output) < TOL, "output");
    assert.ok(maxDiff(r.hN.data as Float32Array, ours.hN) < TOL, "hN");
    assert.ok(maxDiff(r.cN.data as Float32Array, ours.cN) < TOL, "cN");
  });

  it("lstm-ts.config names the projection, embedding, padding_idx, tied head and readout", () => {
    const cfg = CASES.find((c) => c.cfg.tiedHead)!;
    const e = exportOnnx(randomModel(cfg.cfg, 3), cfg.meta, { batchFirst: true });
    const config = JSON.parse(readMetadata(e.bytes)["lstm-ts.config"]);
    assert.deepEqual(
      {
        ...config,
        vocab: config.vocab.length,
        inputs: config.inputs.length,
        outputs: config.outputs.length,
      },
      {
        cell: "lstm",
        input_size: 4,
        hidden_size: 5,
        proj_size: 2,
        num_layers: 1,
        bidirectional: true,
        output_size: 7,
        embedding: { num_embeddings: 7, padding_idx: 0 },
        tied_head: true,
        dropout: null,
        task: "text",
        input: "embedding",
        layout: "batch-first",
        readout: "all",
        sequence_lens: false,
        inputs: 3,
        outputs: 3,
        vocab: 7,
        classes: null,
        scaler: null,
      },
    );
  });
});

describe("ONNX export of embedding models", () => {
  it("embedding input with a tied head and dropout: Gather from embedding.weight, eval-mode outputs", async () => {
    const V = 9;
    const cfg = {
      inputSize: 6,
      hiddenSize: 6,
      numLayers: 2,
      outputSize: V,
      embedding: { numEmbeddings: V, paddingIdx: 0 },
      tiedHead: true,
      dropout: { input: 0.1, betweenLayers: 0.3, output: 0.2 },
    };
    const model = randomModel(cfg, 77);
    const meta: ModelMeta = { ...text(V), input: { kind: "embedding" } };
    const T = 5;
    const B = 2;
    const rng = new Rng(78);
    const ids = Array.from({ length: T * B }, () => rng.int(V));
    const ours = model.forward(ids, { seqLen: T, batch: B });
    const exported = exportOnnx(model, meta);
    const tokens = new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [T, B]);
    const zeros = f32(new Float32Array(2 * B * 6), [2, B, 6]);
    const r = await runOnnx(exported.bytes, { tokens, h0: zeros, c0: zeros });
    assert.ok(maxDiff(r.output.data as Float32Array, ours.output) < TOL, "output");
    assert.ok(maxDiff(r.hN.data as Float32Array, ours.hN) < TOL, "hN");
  });
});

describe("exported graphs carry no dead weight", () => {
  it("every initializer, in the graph and in each Scan body, is read by a node", () => {
    const unread = (g: Pick<GraphDef, "nodes" | "initializers">): string[] => {
      const read = new Set(g.nodes.flatMap((n) => n.inputs));
      const bodies = g.nodes.flatMap((n) =>
        n.attrs.flatMap((a) => (a.kind === "graph" ? [a.value] : [])),
      );
      return [
        ...g.initializers.filter((t) => !read.has(t.name)).map((t) => t.name),
        ...bodies.flatMap(unread),
      ];
    };
    const models = [
      { inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, outputSize: 2 },
      { inputSize: 3, hiddenSize: 4, projSize: 2, numLayers: 2, bidirectional: true, outputSize: 2 }, // prettier-ignore
      { inputSize: 3, hiddenSize: 4, projSize: 3, outputSize: 2 },
    ].map((cfg) => randomModel(cfg, 1));
    for (const model of models)
      for (const readout of ["all", "last", "final"] as const)
        for (const [sequenceLengths, states] of [
          [false, true],
          [true, true],
          [true, false],
        ]) {
          const net = lstmNet(model, { readout, sequenceLengths, states, probabilities: !states });
          const where = `${JSON.stringify(model.config)} ${readout} ${sequenceLengths} ${states}`;
          assert.deepEqual(unread(buildRecurrentGraph(net)), [], where);
        }
  });
});

describe("protobuf writer", () => {
  it("writes varints, negative int64 as ten bytes, and length-delimited fields", () => {
    const w = new ProtoWriter().int(1, 300).int(2, -1).string(3, "hé");
    assert.deepEqual(Array.from(w.finish()), [
      0x08,
      0xac,
      0x02,
      0x10,
      ...Array(9).fill(0xff),
      0x01,
      0x1a,
      3,
      0x68,
      0xc3,
      0xa9,
    ]);
  });
});
