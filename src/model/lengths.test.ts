/**
 * Variable-length rows (ForwardOptions.lengths): each row equals that row run alone on its own
 * length, padded positions are zero and get no gradient, threads are bit-identical, and lengths
 * of T everywhere are the plain pass.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LstmModel } from "./model.js";
import { Objective } from "./objective.js";
import { listBackends } from "../backend/index.js";
import { ConfigError } from "../tensor/errors.js";
import { Rng } from "../tensor/rng.js";

const cfg = { inputSize: 3, hiddenSize: 5, outputSize: 4, numLayers: 2, bidirectional: true };
const T = 6;
const B = 5;
const LENGTHS = [3, 6, 1, 4, 3];

function randn(rng: Rng, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => rng.normal());
}

function model(
  dtype: "float32" | "float64",
  backend?: string,
  cell: "lstm" | "gru" = "lstm",
  projSize?: number,
): LstmModel {
  const m = new LstmModel({ ...cfg, cell, projSize }, { dtype, backend });
  m.initDefault(new Rng(7));
  return m;
}

describe("variable lengths", () => {
  for (const [cell, P] of [
    ["lstm", 0],
    ["gru", 0],
    ["lstm", 2], // with a projection: h of P entries, c of H
  ] as const)
    it(`${cell}${P ? ` P=${P}` : ""}: each row equals the row run alone on its length (y, h_n, c_n, gradients)`, () => {
      const rng = new Rng(3);
      const x = randn(rng, T * B * 3);
      const m = model("float64", "js", cell, P || undefined);
      const gru = cell === "gru";
      const D = 2;
      const C = 5; // c's width
      const H = P || C; // h's width (Hout)
      const S = 2 * D; // L·D
      const h0 = randn(rng, S * B * H);
      const c0 = gru ? undefined : randn(rng, S * B * C);
      const all = m.forward(x, { seqLen: T, batch: B, h0, c0, lengths: LENGTHS, readout: "final" });
      const y = all.y.slice();
      const hN = all.hN.slice();
      const cN = all.cN.slice();
      const dOut = randn(rng, B * 4);
      m.zeroGrad();
      const back = m.backward(dOut);
      const dx = back.dx.slice();
      const dh0 = back.dh0.slice();
      const grads = m.grads.slice();

      const sum = new Float64Array(m.numParams);
      for (let b = 0; b < B; b++) {
        const n = LENGTHS[b];
        const xb = new Float64Array(n * 3);
        for (let t = 0; t < n; t++) xb.set(x.subarray((t * B + b) * 3, (t * B + b + 1) * 3), t * 3);
        const pick = (s: Float64Array, W = H): Float64Array => {
          const out = new Float64Array(S * W);
          for (let k = 0; k < S; k++)
            out.set(s.subarray((k * B + b) * W, (k * B + b + 1) * W), k * W);
          return out;
        };
        const one = m.forward(xb, {
          seqLen: n,
          batch: 1,
          h0: pick(h0),
          c0: c0 && pick(c0, C),
          readout: "final",
        });
        for (let t = 0; t < T; t++)
          for (let j = 0; j < D * H; j++) {
            const got = y[(t * B + b) * D * H + j];
            const want = t < n ? one.y[t * D * H + j] : 0;
            assert.ok(Math.abs(got - want) < 1e-12, `y row ${b} t ${t}`);
          }
        const p = pick(Float64Array.from(hN));
        const pc = gru ? null : pick(Float64Array.from(cN), C);
        for (let j = 0; j < S * H; j++) assert.ok(Math.abs(p[j] - one.hN[j]) < 1e-12, `h_n ${b}`);
        if (pc)
          for (let j = 0; j < S * C; j++)
            assert.ok(Math.abs(pc[j] - one.cN[j]) < 1e-12, `c_n row ${b}`);
        m.zeroGrad();
        const ob = m.backward(dOut.subarray(b * 4, b * 4 + 4));
        for (let t = 0; t < T; t++)
          for (let j = 0; j < 3; j++) {
            const got = dx[(t * B + b) * 3 + j];
            const want = t < n ? ob.dx[t * 3 + j] : 0;
            assert.ok(
              Math.abs(got - want) < 1e-12,
              `dx row ${b} t ${t}: padded positions get none`,
            );
          }
        const od = pick(Float64Array.from(dh0));
        for (let j = 0; j < S * H; j++) assert.ok(Math.abs(od[j] - ob.dh0[j]) < 1e-12);
        for (let i = 0; i < sum.length; i++) sum[i] += m.grads[i];
      }
      // The batch's parameter gradient is the sum of the rows'.
      for (let i = 0; i < sum.length; i++)
        assert.ok(Math.abs(sum[i] - grads[i]) < 1e-12, `grad ${i}`);
    });

  it("lengths of T everywhere are the plain pass, bit for bit", () => {
    const rng = new Rng(4);
    const x = randn(rng, T * B * 3);
    const m = model("float32");
    const plain = m.forward(x, { seqLen: T, batch: B }).output.slice();
    const full = m.forward(x, { seqLen: T, batch: B, lengths: new Array(B).fill(T) }).output;
    assert.deepEqual(full, plain);
  });

  for (const backend of listBackends().filter((n) => n.startsWith("wasm")))
    for (const cell of ["lstm", "gru"] as const) {
      it(`${backend}, ${cell}: two threads give the one-thread results bit for bit`, () => {
        const rng = new Rng(5);
        const TT = 40;
        const BB = 33;
        const big = { ...cfg, cell, inputSize: 8, hiddenSize: 48 };
        const x = randn(rng, BB * TT * 8);
        const lengths = Array.from({ length: BB }, () => 1 + rng.int(TT));
        const targets = Array.from({ length: BB }, () => rng.int(4));
        const run = (threads: number): Float32Array[] => {
          const m = new LstmModel(big, { backend, threads });
          m.initDefault(new Rng(9));
          const o = new Objective(m, "xent_final");
          m.zeroGrad();
          const batch = { x, seqLen: TT, batch: BB, batchFirst: true, targets, lengths };
          const r = o.run(batch);
          const out = [r.forward.y, r.forward.hN, r.backward!.dx, m.grads].map((a) =>
            Float32Array.from(a),
          );
          m.dispose();
          return out;
        };
        const one = run(1);
        const two = run(2);
        for (let i = 0; i < one.length; i++) assert.deepEqual(two[i], one[i]);
      });
    }

  it("per-step losses count valid positions only; bad lengths are ConfigErrors", () => {
    const rng = new Rng(6);
    const x = randn(rng, T * B * 3);
    const m = model("float64", "js");
    const o = new Objective(m, "xent");
    const targets = Array.from({ length: T * B }, () => rng.int(4));
    const base = o.run({ x, seqLen: T, batch: B, targets, lengths: LENGTHS }, false).loss;
    // Changing a target at a padded position (t = 2 of row 2, length 1) changes nothing.
    targets[2 * B + 2] = (targets[2 * B + 2] + 1) % 4;
    assert.equal(o.run({ x, seqLen: T, batch: B, targets, lengths: LENGTHS }, false).loss, base);
    for (const bad of [
      [0, 1, 1, 1, 1],
      [7, 1, 1, 1, 1],
      [1.5, 1, 1, 1, 1],
      [1, 1],
    ])
      assert.throws(
        () => m.forward(x, { seqLen: T, batch: B, lengths: bad }),
        (e: unknown) => e instanceof ConfigError || (e as Error).name === "ShapeError",
      );
  });
});
