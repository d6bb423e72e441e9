/**
 * A test-local GRU driver (test code, not the library's GRU layer, which is built on the cell
 * interface): runs a stacked, bidirectional, batch-first GRU with an nn.Linear head, forward,
 * loss and backward, over a format-2 fixture (`gru_*.json`, test/fixtures/v2/README.md), with
 * the reference gemm / fillBias / addColumnSums and a given pair of GRU recurrence kernels, in
 * float32 or float64. Used by src/backend/js/gru-reference.test.ts (the TypeScript kernels,
 * float64 at 1e-9) and src/backend/wasm/gru-kernels.test.ts (the wasm kernels, float32 at 1e-4).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { referenceKernels as k } from "../src/backend/js/reference.js";
import {
  gruCellBackward,
  gruCellForward,
  type GruCellOperands,
  type Operand,
} from "../src/backend/js/gru-reference.js";
import { meanSquared, softmaxCrossEntropy, sumSquares } from "../src/loss/losses.js";
import { allocFloat, type DType, type FloatArray } from "../src/tensor/dtype.js";
import { ROOT } from "./helpers.js";

/** The fixture folders the GRU tests read (the extra one when present). */
const DIRS = ["test/fixtures/v2/", "test/fixtures-extra/v2/"];

interface JsonArray {
  shape: number[];
  data: number[];
}

/** The fields of a format-2 GRU fixture the driver reads. */
export interface GruFixture {
  name: string;
  config: {
    cell: string;
    input_size: number;
    hidden_size: number;
    num_layers: number;
    num_directions: number;
    seq_len: number;
    batch: number;
    batch_first: boolean;
    loss: "sum_sq" | "mse_last" | "xent";
    head_out_size: number;
  };
  param_order: string[];
  params: Record<string, JsonArray>;
  inputs: Record<string, JsonArray>;
  outputs: { y: JsonArray; h_n: JsonArray; loss: number };
  grads: Record<string, JsonArray>;
}

export interface GruStepsDims {
  steps: number;
  batch: number;
  hidden: number;
  /** t runs T−1…0 (the reverse direction of a bidirectional layer). */
  reverse: boolean;
}

/** One direction of one layer over T steps. */
export interface GruStepsOperands {
  /** [T, B, 3H] (ld 3H): xg_t on entry; r, z, n after forward. */
  gates: Operand;
  /** [T, B, 3H] (ld 3H): written by forward (hg_t), read by backward. */
  hg: Operand;
  /** [T, B, H], rows y.ld apart: h_t. */
  y: Operand;
  /** [B, H] (ld H): h0. */
  h0: Operand;
  /** W_hh [3H, H] (ld H). */
  w: Operand;
  /** b_hh [3H]. */
  bhh: Operand;
}

/** The gradients of one direction over T steps (backward). */
export interface GruStepsGrads {
  /** [T, B, H], rows dy.ld apart: the loss gradient reaching y_t from above. */
  dy: Operand;
  /** [B, H] (ld H): in, the gradient of h_{T−1} from beyond (often 0); out, ∂loss/∂h0. */
  dh: Operand;
  /** [T, B, 3H] (ld 3H) out: ∂loss/∂xg_t. */
  dXg: Operand;
  /** [T, B, 3H] (ld 3H) out: ∂loss/∂hg_t. */
  dHg: Operand;
}

/** Row block of step t of a [T, B, ·] operand. */
function at(o: Operand, t: number, batch: number): Operand {
  return { buf: o.buf, off: o.off + t * batch * o.ld, ld: o.ld };
}

/** The operands of step t: h_{t−1} is h0 on the first consumed step, else y at t ∓ 1. */
function stepOperands(ops: GruStepsOperands, t: number, dims: GruStepsDims): GruCellOperands {
  const B = dims.batch;
  const first = dims.reverse ? t === dims.steps - 1 : t === 0;
  const tPrev = dims.reverse ? t + 1 : t - 1;
  return {
    gates: at(ops.gates, t, B),
    hg: at(ops.hg, t, B),
    bhh: ops.bhh,
    h: at(ops.y, t, B),
    hPrev: first ? ops.h0 : at(ops.y, tPrev, B),
  };
}

/**
 * Forward recurrence (G2–G5) for s = 0…T−1, t = s (T−1−s when reverse):
 * hg_t = h_{t−1}·W_hhᵀ, then gruCellForward on step t.
 */
export function gruForwardSteps(ops: GruStepsOperands, dims: GruStepsDims): void {
  const { steps: T, batch: B, hidden: H } = dims;
  for (let s = 0; s < T; s++) {
    const t = dims.reverse ? T - 1 - s : s;
    const step = stepOperands(ops, t, dims);
    const { hg, hPrev } = step;
    const w = ops.w;
    // (G2) the hidden-side product, bias added by the cell
    k.gemm(
      { buf: hg.buf, off: hg.off, ld: hg.ld },
      { buf: hPrev.buf, off: hPrev.off, ld: hPrev.ld },
      { buf: w.buf, off: w.off, ld: w.ld },
      { m: B, n: 3 * H, k: H, transA: false, transB: true, beta: 0 },
    );
    gruCellForward(step, { batch: B, hidden: H });
  }
}

/**
 * Backward recurrence (GB1–GB6) for s = T−1…0: gruCellBackward on step t (dh ← dh_t ⊙ z),
 * then dh += dHg_t · W_hh (GB5, inverts G2 for h_{t−1}). dXg and dHg keep every step's gate
 * gradients for the caller's whole-sequence products (GB7, GB8): dW_ih += Σ_t dXg_tᵀ x_t,
 * db_ih += Σ dXg_t, dx_t = dXg_t · W_ih; dW_hh += Σ_t dHg_tᵀ h_{t−1}, db_hh += Σ dHg_t.
 */
export function gruBackwardSteps(
  ops: GruStepsOperands,
  grads: GruStepsGrads,
  dims: GruStepsDims,
): void {
  const { steps: T, batch: B, hidden: H } = dims;
  const { dh } = grads;
  const { w } = ops;
  for (let s = T - 1; s >= 0; s--) {
    const t = dims.reverse ? T - 1 - s : s;
    const dHg = at(grads.dHg, t, B);
    const stepGrads = { dy: at(grads.dy, t, B), dh, dXg: at(grads.dXg, t, B), dHg };
    gruCellBackward(stepOperands(ops, t, dims), stepGrads, { batch: B, hidden: H });
    k.gemm(
      { buf: dh.buf, off: dh.off, ld: dh.ld },
      { buf: dHg.buf, off: dHg.off, ld: dHg.ld },
      { buf: w.buf, off: w.off, ld: w.ld },
      { m: B, n: H, k: 3 * H, transA: false, transB: false, beta: 1 },
    );
  }
}

/** The recurrence kernels under test and the element type of every buffer. */
export interface GruStepKernels {
  dtype: DType;
  forward(ops: GruStepsOperands, dims: GruStepsDims): void;
  backward(ops: GruStepsOperands, grads: GruStepsGrads, dims: GruStepsDims): void;
}

export interface GruResult {
  y: FloatArray;
  hN: FloatArray;
  loss: number;
  grads: Record<string, FloatArray>;
}

const op = (buf: FloatArray, off = 0, ld = 0): Operand => ({ buf, off, ld });

/** [T, B, F] ↔ [B, T, F]. */
function swap01(
  alloc: (n: number) => FloatArray,
  a: ArrayLike<number>,
  d0: number,
  d1: number,
  f: number,
): FloatArray {
  const out = alloc(d0 * d1 * f);
  for (let i = 0; i < d0; i++)
    for (let j = 0; j < d1; j++)
      for (let q = 0; q < f; q++) out[(j * d0 + i) * f + q] = a[(i * d1 + j) * f + q];
  return out;
}

/** Forward, loss and backward of fixture f with `impl`'s recurrence kernels. */
export function runGru(f: GruFixture, impl: GruStepKernels): GruResult {
  const alloc = (n: number): FloatArray => allocFloat(impl.dtype, n);
  const from = (a: ArrayLike<number>): FloatArray => {
    const v = alloc(a.length);
    v.set(Array.from(a));
    return v;
  };
  const c = f.config;
  const [I, H, L, D, T, B, O] = [
    c.input_size,
    c.hidden_size,
    c.num_layers,
    c.num_directions,
    c.seq_len,
    c.batch,
    c.head_out_size,
  ];
  const G = 3 * H;
  const DH = D * H;
  const TB = T * B;
  const p = (name: string): FloatArray => from(f.params[name].data);
  const x = from(f.inputs.x.data);
  const xs = c.batch_first ? swap01(alloc, x, B, T, I) : x; // time-major [T, B, I]
  const h0 = from(f.inputs.h0.data); // [L·D, B, H]
  const suffix = (l: number, d: number): string => `l${l}${d === 1 ? "_reverse" : ""}`;

  // Forward, layer by layer: outs[l] [T, B, D·H]; each direction's saved gates, hg.
  const inputs: FloatArray[] = [xs];
  const saved: { gates: FloatArray; hg: FloatArray }[][] = [];
  const hN = alloc(L * D * B * H);
  for (let l = 0; l < L; l++) {
    const X = inputs[l];
    const In = l === 0 ? I : DH;
    const out = alloc(TB * DH);
    saved.push([]);
    for (let d = 0; d < D; d++) {
      const s = suffix(l, d);
      const gates = alloc(TB * G);
      const hg = alloc(TB * G);
      // xg = X·W_ihᵀ + b_ih for all T·B rows at once
      k.fillBias(
        { buf: gates, off: 0, ld: G },
        { buf: p(`gru.bias_ih_${s}`), off: 0 },
        null,
        TB,
        G,
      );
      k.gemm(
        { buf: gates, off: 0, ld: G },
        { buf: X, off: 0, ld: In },
        { buf: p(`gru.weight_ih_${s}`), off: 0, ld: In },
        { m: TB, n: G, k: In, transA: false, transB: true, beta: 1 },
      );
      const ops = {
        gates: op(gates, 0, G),
        hg: op(hg, 0, G),
        y: op(out, d * H, DH),
        h0: op(h0, (l * D + d) * B * H, H),
        w: op(p(`gru.weight_hh_${s}`), 0, H),
        bhh: op(p(`gru.bias_hh_${s}`)),
      };
      impl.forward(ops, { steps: T, batch: B, hidden: H, reverse: d === 1 });
      saved[l].push({ gates, hg });
      const tLast = d === 1 ? 0 : T - 1;
      for (let b = 0; b < B; b++)
        for (let j = 0; j < H; j++)
          hN[((l * D + d) * B + b) * H + j] = out[(tLast * B + b) * DH + d * H + j];
    }
    inputs.push(out);
  }
  const y = inputs[L];

  // Head and loss; dY [T, B, D·H] from dz.
  const hw = p("head.weight");
  const hb = p("head.bias");
  const grads: Record<string, FloatArray> = {};
  const dY = alloc(TB * DH);
  const last = c.loss === "mse_last";
  const rows = last ? B : TB;
  const hIn = last ? y.subarray((T - 1) * B * DH) : y; // mse_last: y at the last time index
  const z = alloc(rows * O);
  k.fillBias({ buf: z, off: 0, ld: O }, { buf: hb, off: 0 }, null, rows, O);
  k.gemm(
    { buf: z, off: 0, ld: O },
    { buf: hIn, off: 0, ld: DH },
    { buf: hw, off: 0, ld: DH },
    { m: rows, n: O, k: DH, transA: false, transB: true, beta: 1 },
  );
  const dz = alloc(rows * O);
  const tg = f.inputs.targets.data;
  let loss: number;
  if (c.loss === "xent") {
    const targets = c.batch_first ? swap01(alloc, tg, B, T, 1) : from(tg);
    loss = softmaxCrossEntropy(dz, z, targets, rows, O);
  } else if (last) loss = meanSquared(dz, z, from(tg));
  else loss = sumSquares(dz, z, c.batch_first ? swap01(alloc, tg, B, T, O) : from(tg));
  grads["head.weight"] = alloc(O * DH);
  grads["head.bias"] = alloc(O);
  k.gemm(
    { buf: grads["head.weight"], off: 0, ld: DH },
    { buf: dz, off: 0, ld: O },
    { buf: hIn, off: 0, ld: DH },
    { m: O, n: DH, k: rows, transA: true, transB: false, beta: 1 },
  );
  k.addColumnSums({ buf: grads["head.bias"], off: 0 }, { buf: dz, off: 0, ld: O }, rows, O);
  k.gemm(
    { buf: dY, off: last ? (T - 1) * B * DH : 0, ld: DH },
    { buf: dz, off: 0, ld: O },
    { buf: hw, off: 0, ld: DH },
    { m: rows, n: DH, k: O, transA: false, transB: false, beta: 0 },
  );

  // Backward, top layer first: dX of layer l is dY of layer l − 1.
  const dh0 = alloc(L * D * B * H);
  let dOut = dY;
  for (let l = L - 1; l >= 0; l--) {
    const X = inputs[l];
    const In = l === 0 ? I : DH;
    const dX = alloc(TB * In);
    for (let d = 0; d < D; d++) {
      const s = suffix(l, d);
      const { gates, hg } = saved[l][d];
      const wih = p(`gru.weight_ih_${s}`);
      const dh = op(dh0, (l * D + d) * B * H, H);
      const dXg = alloc(TB * G);
      const dHg = alloc(TB * G);
      const ops = {
        gates: op(gates, 0, G),
        hg: op(hg, 0, G),
        y: op(inputs[l + 1], d * H, DH),
        h0: op(h0, (l * D + d) * B * H, H),
        w: op(p(`gru.weight_hh_${s}`), 0, H),
        bhh: op(p(`gru.bias_hh_${s}`)),
      };
      const g = { dy: op(dOut, d * H, DH), dh, dXg: op(dXg, 0, G), dHg: op(dHg, 0, G) };
      impl.backward(ops, g, { steps: T, batch: B, hidden: H, reverse: d === 1 });
      // h_{t−1} for every t, to pair with dHg_t: h0 on the first consumed step.
      const hPrev = alloc(TB * H);
      for (let t = 0; t < T; t++) {
        const tp = d === 1 ? t + 1 : t - 1;
        for (let b = 0; b < B; b++)
          for (let j = 0; j < H; j++)
            hPrev[(t * B + b) * H + j] =
              tp < 0 || tp >= T
                ? h0[((l * D + d) * B + b) * H + j]
                : inputs[l + 1][(tp * B + b) * DH + d * H + j];
      }
      const dWih = alloc(G * In);
      const dWhh = alloc(G * H);
      const dbih = alloc(G);
      const dbhh = alloc(G);
      k.gemm(
        { buf: dWih, off: 0, ld: In },
        { buf: dXg, off: 0, ld: G },
        { buf: X, off: 0, ld: In },
        { m: G, n: In, k: TB, transA: true, transB: false, beta: 0 },
      );
      k.gemm(
        { buf: dWhh, off: 0, ld: H },
        { buf: dHg, off: 0, ld: G },
        { buf: hPrev, off: 0, ld: H },
        { m: G, n: H, k: TB, transA: true, transB: false, beta: 0 },
      );
      k.addColumnSums({ buf: dbih, off: 0 }, { buf: dXg, off: 0, ld: G }, TB, G);
      k.addColumnSums({ buf: dbhh, off: 0 }, { buf: dHg, off: 0, ld: G }, TB, G);
      k.gemm(
        { buf: dX, off: 0, ld: In },
        { buf: dXg, off: 0, ld: G },
        { buf: wih, off: 0, ld: In },
        { m: TB, n: In, k: G, transA: false, transB: false, beta: 1 },
      );
      grads[`gru.weight_ih_${s}`] = dWih;
      grads[`gru.weight_hh_${s}`] = dWhh;
      grads[`gru.bias_ih_${s}`] = dbih;
      grads[`gru.bias_hh_${s}`] = dbhh;
    }
    dOut = dX;
  }
  grads.x = c.batch_first ? swap01(alloc, dOut, T, B, I) : dOut;
  grads.h0 = dh0;
  return { y: c.batch_first ? swap01(alloc, y, T, B, DH) : y, hN, loss, grads };
}

/** Worst |a − e| / max(|e|, 1e-6·max|e|) over the array (the README's float64 test). */
export function worstElementwise(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let m = 0;
  for (let i = 0; i < expected.length; i++) m = Math.max(m, Math.abs(expected[i]));
  let w = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    const e = d / Math.max(Math.abs(expected[i]), 1e-6 * m, 1e-300);
    if (!(e <= w)) w = e; // NaN sticks
  }
  return w;
}

/** The gru_*.json files of the fixture folders, as paths relative to the repository root. */
export function gruFixtureFiles(): string[] {
  const files: string[] = [];
  for (const dir of DIRS) {
    if (!existsSync(ROOT + dir)) continue;
    for (const name of readdirSync(ROOT + dir).sort())
      if (name.startsWith("gru_") && name.endsWith(".json")) files.push(dir + name);
  }
  return files;
}

export function readGruFixture(file: string): GruFixture {
  return JSON.parse(readFileSync(ROOT + file, "utf8")) as GruFixture;
}

/** [name, computed, expected] for y, h_n, the loss and every gradient the fixture holds. */
export function gruChecks(
  f: GruFixture,
  r: GruResult,
): [string, ArrayLike<number>, ArrayLike<number>][] {
  const checks: [string, ArrayLike<number>, ArrayLike<number>][] = [
    ["y", r.y, f.outputs.y.data],
    ["h_n", r.hN, f.outputs.h_n.data],
    ["loss", [r.loss], [f.outputs.loss]],
  ];
  for (const name of Object.keys(f.grads))
    checks.push([`grads.${name}`, r.grads[name] ?? [], f.grads[name].data]);
  return checks;
}
