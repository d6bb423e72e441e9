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
import { encodeOnnxModel } from "./proto.js";
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
];

describe("ONNX export runs in ONNX Runtime with our forward's results", () => {
  CASES.forEach((c, k) => {
    it(c.name, async () => {
      const model = randomModel(c.cfg, 10 + k);
      const { inputSize: I, hiddenSize: H, numLayers: L = 1, outputSize: O } = c.cfg;
      const D = c.cfg.bidirectional ? 2 : 1;
      const T = 6;
      const B = 3;
      const rng = new Rng(100 + k);
      const h0 = randoms(L * D * B * H, rng, 0.5);
      const c0 = randoms(L * D * B * H, rng, 0.5);
      const gru = c.cfg.cell === "gru"; // no c0 input, no cN output
      const feeds: Feeds = { h0: f32(h0, [L * D, B, H]) };
      if (!gru) feeds.c0 = f32(c0, [L * D, B, H]);
      let x: Float32Array;
      const seq = c.batchFirst ? [B, T] : [T, B];
      if (c.meta.input.kind === "one-hot") {
        const ids = Array.from({ length: T * B }, () => rng.int(I));
        x = new Float32Array(T * B * I);
        ids.forEach((id, i) => (x[i * I + id] = 1));
        feeds.tokens = new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), seq);
      } else {
        x = randoms(T * B * I, rng);
        feeds.x = f32(x, [...seq, I]);
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
      assert.deepEqual(r.hN.dims, [L * D, B, H]);
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

  /** An LSTM net from a model's weights, with another input or sequence lengths. */
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
      },
      weights: Array.from({ length: c.numLayers }, (_, l) =>
        Array.from({ length: D }, (_, d) => {
          const s = `l${l}${d === 1 ? "_reverse" : ""}`;
          const q = (k: string) => p(`lstm.${k}_${s}`);
          return { wIh: q("weight_ih"), wHh: q("weight_hh"), bIh: q("bias_ih"), bHh: q("bias_hh") };
        }),
      ),
      head: { weight: p("head.weight"), bias: p("head.bias"), outputSize: c.outputSize },
      ...{ input: { kind: "dense" }, readout: "all", batchFirst: false, sequenceLengths: false },
      ...over,
    };
  }

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

describe("ONNX export refuses what ONNX's LSTM cannot hold", () => {
  it("refuses a model with projections, naming proj_size", () => {
    const model = randomModel({ inputSize: 2, hiddenSize: 3, projSize: 2, outputSize: 1 }, 1);
    assert.throws(
      () => exportOnnx(model, dense),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(
          e.message,
          /proj_size 2, lstm\.weight_hr_\*\): ONNX's LSTM op has no projection/,
        );
        return true;
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
