/**
 * The GRU reference kernels end to end against PyTorch: a test-local driver (not production
 * code: the model's GRU layer is built on the cell interface) runs stacked, bidirectional,
 * batch-first GRUs forward and backward with gruForwardSteps / gruBackwardSteps over the
 * format-2 fixtures (`gru_*.json` in test/fixtures/v2 and test/fixtures-extra/v2) and compares
 * y, h_n, the loss and every gradient (parameters, x, h0) at the float64 tolerance of the
 * fixtures' README: |a − e| ≤ 1e-9·max(|e|, 1e-6·max|e|) element-wise.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { referenceKernels as k } from "./reference.js";
import { gruBackwardSteps, gruForwardSteps, type Operand } from "./gru-reference.js";
import { meanSquared, softmaxCrossEntropy, sumSquares } from "../../loss/losses.js";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const DIRS = ["test/fixtures/v2/", "test/fixtures-extra/v2/"];

interface JsonArray {
  shape: number[];
  data: number[];
}
interface GruFixture {
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
    proj_size: number;
    input: { kind: string };
    dropout: unknown;
    lengths: boolean;
  };
  param_order: string[];
  params: Record<string, JsonArray>;
  inputs: Record<string, JsonArray>;
  outputs: { y: JsonArray; h_n: JsonArray; loss: number };
  grads: Record<string, JsonArray>;
}

const op = (buf: Float64Array, off = 0, ld = 0): Operand => ({ buf, off, ld });

/** [T, B, F] ↔ [B, T, F]. */
function swap01(a: ArrayLike<number>, d0: number, d1: number, f: number): Float64Array {
  const out = new Float64Array(d0 * d1 * f);
  for (let i = 0; i < d0; i++)
    for (let j = 0; j < d1; j++)
      for (let q = 0; q < f; q++) out[(j * d0 + i) * f + q] = a[(i * d1 + j) * f + q];
  return out;
}

interface Result {
  y: Float64Array;
  hN: Float64Array;
  loss: number;
  grads: Record<string, Float64Array>;
}

/** Forward, loss and backward of fixture f with the reference GRU kernels (float64). */
function runGru(f: GruFixture): Result {
  const c = f.config;
  const [I, H, L, D, T, B, O] = [c.input_size, c.hidden_size, c.num_layers, c.num_directions, c.seq_len, c.batch, c.head_out_size]; // prettier-ignore
  const G = 3 * H;
  const DH = D * H;
  const TB = T * B;
  const p = (name: string): Float64Array => Float64Array.from(f.params[name].data);
  const x = Float64Array.from(f.inputs.x.data);
  const xs = c.batch_first ? swap01(x, B, T, I) : x; // time-major [T, B, I]
  const h0 = Float64Array.from(f.inputs.h0.data); // [L·D, B, H]
  const suffix = (l: number, d: number): string => `l${l}${d === 1 ? "_reverse" : ""}`;

  // Forward, layer by layer: outs[l] [T, B, D·H]; each direction's saved gates, hg.
  const inputs: Float64Array[] = [xs];
  const saved: { gates: Float64Array; hg: Float64Array }[][] = [];
  const hN = new Float64Array(L * D * B * H);
  for (let l = 0; l < L; l++) {
    const X = inputs[l];
    const In = l === 0 ? I : DH;
    const out = new Float64Array(TB * DH);
    saved.push([]);
    for (let d = 0; d < D; d++) {
      const s = suffix(l, d);
      const gates = new Float64Array(TB * G);
      const hg = new Float64Array(TB * G);
      // xg = X·W_ihᵀ + b_ih for all T·B rows at once
      k.fillBias(gates, 0, G, p(`gru.bias_ih_${s}`), 0, null, 0, TB, G);
      k.gemm(gates, 0, G, X, 0, In, false, p(`gru.weight_ih_${s}`), 0, In, true, TB, G, In, 1);
      const ops = {
        gates: op(gates, 0, G),
        hg: op(hg, 0, G),
        y: op(out, d * H, DH),
        h0: op(h0, (l * D + d) * B * H, H),
        w: op(p(`gru.weight_hh_${s}`), 0, H),
        bhh: op(p(`gru.bias_hh_${s}`)),
      };
      gruForwardSteps(ops, { steps: T, batch: B, hidden: H, reverse: d === 1 });
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
  const grads: Record<string, Float64Array> = {};
  const dY = new Float64Array(TB * DH);
  const last = c.loss === "mse_last";
  const rows = last ? B : TB;
  const hIn = last ? y.subarray((T - 1) * B * DH) : y; // mse_last: y at the last time index
  const z = new Float64Array(rows * O);
  k.fillBias(z, 0, O, hb, 0, null, 0, rows, O);
  k.gemm(z, 0, O, hIn, 0, DH, false, hw, 0, DH, true, rows, O, DH, 1);
  const dz = new Float64Array(rows * O);
  const tg = f.inputs.targets.data;
  let loss: number;
  if (c.loss === "xent") {
    const targets = c.batch_first ? swap01(tg, B, T, 1) : Float64Array.from(tg);
    loss = softmaxCrossEntropy(dz, z, targets, rows, O);
  } else if (last) loss = meanSquared(dz, z, tg);
  else loss = sumSquares(dz, z, c.batch_first ? swap01(tg, B, T, O) : tg);
  grads["head.weight"] = new Float64Array(O * DH);
  grads["head.bias"] = new Float64Array(O);
  k.gemm(grads["head.weight"], 0, DH, dz, 0, O, true, hIn, 0, DH, false, O, DH, rows, 1);
  k.addColumnSums(grads["head.bias"], 0, dz, 0, O, rows, O);
  k.gemm(dY, last ? (T - 1) * B * DH : 0, DH, dz, 0, O, false, hw, 0, DH, false, rows, DH, O, 0);

  // Backward, top layer first: dX of layer l is dY of layer l − 1.
  const dh0 = new Float64Array(L * D * B * H);
  let dOut = dY;
  for (let l = L - 1; l >= 0; l--) {
    const X = inputs[l];
    const In = l === 0 ? I : DH;
    const dX = new Float64Array(TB * In);
    for (let d = 0; d < D; d++) {
      const s = suffix(l, d);
      const { gates, hg } = saved[l][d];
      const wih = p(`gru.weight_ih_${s}`);
      const dh = op(dh0, (l * D + d) * B * H, H);
      const dXg = new Float64Array(TB * G);
      const dHg = new Float64Array(TB * G);
      const ops = {
        gates: op(gates, 0, G),
        hg: op(hg, 0, G),
        y: op(inputs[l + 1], d * H, DH),
        h0: op(h0, (l * D + d) * B * H, H),
        w: op(p(`gru.weight_hh_${s}`), 0, H),
        bhh: op(p(`gru.bias_hh_${s}`)),
      };
      const g = { dy: op(dOut, d * H, DH), dh, dXg: op(dXg, 0, G), dHg: op(dHg, 0, G) };
      gruBackwardSteps(ops, g, { steps: T, batch: B, hidden: H, reverse: d === 1 });
      // h_{t−1} for every t, to pair with dHg_t: h0 on the first consumed step.
      const hPrev = new Float64Array(TB * H);
      for (let t = 0; t < T; t++) {
        const tp = d === 1 ? t + 1 : t - 1;
        for (let b = 0; b < B; b++)
          for (let j = 0; j < H; j++)
            hPrev[(t * B + b) * H + j] =
              tp < 0 || tp >= T
                ? h0[((l * D + d) * B + b) * H + j]
                : inputs[l + 1][(tp * B + b) * DH + d * H + j];
      }
      const dWih = new Float64Array(G * In);
      const dWhh = new Float64Array(G * H);
      const dbih = new Float64Array(G);
      const dbhh = new Float64Array(G);
      k.gemm(dWih, 0, In, dXg, 0, G, true, X, 0, In, false, G, In, TB, 0);
      k.gemm(dWhh, 0, H, dHg, 0, G, true, hPrev, 0, H, false, G, H, TB, 0);
      k.addColumnSums(dbih, 0, dXg, 0, G, TB, G);
      k.addColumnSums(dbhh, 0, dHg, 0, G, TB, G);
      k.gemm(dX, 0, In, dXg, 0, G, false, wih, 0, In, false, TB, In, G, 1);
      grads[`gru.weight_ih_${s}`] = dWih;
      grads[`gru.weight_hh_${s}`] = dWhh;
      grads[`gru.bias_ih_${s}`] = dbih;
      grads[`gru.bias_hh_${s}`] = dbhh;
    }
    dOut = dX;
  }
  grads.x = c.batch_first ? swap01(dOut, T, B, I) : dOut;
  grads.h0 = dh0;
  return { y: c.batch_first ? swap01(y, T, B, DH) : y, hN, loss, grads };
}

/** Worst |a − e| / max(|e|, 1e-6·max|e|) over the array (the README's float64 test). */
function worst(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let m = 0;
  for (let i = 0; i < expected.length; i++) m = Math.max(m, Math.abs(expected[i]));
  let w = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.abs(actual[i] - expected[i]) / Math.max(Math.abs(expected[i]), 1e-6 * m, 1e-300); // prettier-ignore
    if (!(e <= w)) w = e; // NaN sticks
  }
  return w;
}

function gruFixtures(): string[] {
  const files: string[] = [];
  for (const dir of DIRS) {
    if (!existsSync(ROOT + dir)) continue;
    for (const name of readdirSync(ROOT + dir).sort())
      if (name.startsWith("gru_") && name.endsWith(".json")) files.push(dir + name);
  }
  return files;
}

describe("GRU reference kernels against PyTorch nn.GRU (float64 fixtures)", () => {
  const files = gruFixtures();

  it("finds the 23 public GRU fixtures", () => {
    assert.equal(files.filter((f) => f.startsWith("test/fixtures/v2/")).length, 23);
  });

  for (const file of files)
    it(`${file}: y, h_n, loss and every gradient within 1e-9`, () => {
      const f = JSON.parse(readFileSync(ROOT + file, "utf8")) as GruFixture;
      assert.equal(f.config.cell, "gru");
      const r = runGru(f);
      const checks: [string, ArrayLike<number>, ArrayLike<number>][] = [
        ["y", r.y, f.outputs.y.data],
        ["h_n", r.hN, f.outputs.h_n.data],
        ["loss", [r.loss], [f.outputs.loss]],
      ];
      // Every gradient the fixture holds, and nothing the driver made goes unchecked.
      assert.deepEqual(Object.keys(r.grads).sort(), Object.keys(f.grads).sort());
      for (const name of Object.keys(f.grads))
        checks.push([`grads.${name}`, r.grads[name], f.grads[name].data]);
      for (const [name, got, want] of checks) {
        const e = worst(got, want);
        assert.ok(e <= 1e-9, `${file} ${name}: scaled error ${e}`);
      }
    });

  it("a GRU with b_hn outside the reset product (a common slip) fails the fixture check", () => {
    // The check can fail: moving b_hn to the input side changes n, so y leaves the tolerance.
    const f = JSON.parse(readFileSync(ROOT + DIRS[0] + "gru_small_sum_sq.json", "utf8")) as GruFixture; // prettier-ignore
    const H = f.config.hidden_size;
    const bih = f.params["gru.bias_ih_l0"].data;
    const bhh = f.params["gru.bias_hh_l0"].data;
    for (let j = 2 * H; j < 3 * H; j++) {
      bih[j] += bhh[j];
      bhh[j] = 0;
    }
    assert.ok(worst(runGru(f).y, f.outputs.y.data) > 1e-6);
  });
});
