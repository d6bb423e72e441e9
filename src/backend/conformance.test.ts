/**
 * One conformance suite for every registered backend: each kernel against a naive oracle
 * written from the definition, on odd sizes (not multiples of 4), strides and every dtype the
 * backend lists. A backend that owns its memory (`createMemory`) gets every operand allocated
 * there; sizes past its blocking (K > 256, N > 512, M > 128 for wasm) exercise the blocked paths
 * and their edges.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getBackend, listBackends } from "./index.js";
import {
  backwardSteps,
  forwardSteps,
  gruBackwardSteps,
  gruForwardSteps,
  stepsWorkSize,
} from "./steps.js";
import { rowLengths } from "./kernels.js";
import { RECURRENCE_SHAPES } from "./testing.js";
import type { KernelMemory, Kernels, StepPlan } from "./kernels.js";
import { Rng } from "../tensor/rng.js";
import { allocFloat, type DType, type FloatArray } from "../tensor/dtype.js";

/** [M, N, K] */
const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [4, 8, 4],
  [9, 13, 6],
  [17, 3, 33],
  [5, 7, 1],
  [1, 17, 9],
  [2, 9, 13],
  [7, 16, 5],
  [33, 24, 17],
  [67, 129, 37],
  [130, 9, 3], // M past one row block
  [6, 11, 300], // K past one depth block: later blocks accumulate
  [3, 530, 5], // N past one column block
  [2, 4, 300], // few columns: dot products along K (op(B) = Bᵀ), K tails of 16 and 4
  [1, 600, 37], // one row
];

function randArray(rng: Rng, dtype: DType, n: number): FloatArray {
  const a = allocFloat(dtype, n);
  for (let i = 0; i < n; i++) a[i] = rng.range(-1, 1);
  return a;
}

function close(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    assert.ok(
      d <= tol * Math.max(1, Math.abs(expected[i])),
      `${what}[${i}]: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

/**
 * Where a test's operands live. Without `createMemory` each operand is its own array at offset 0;
 * with it, every operand is copied into one KernelMemory and addressed by (view, offset). Take
 * `buf(i)` after the last `put` (allocation may grow the memory and replace the view).
 */
class Operands {
  private readonly mem: KernelMemory | null;
  private readonly arrays: FloatArray[] = [];
  private readonly offs: number[] = [];

  constructor(k: Kernels, mem?: KernelMemory) {
    this.mem = mem ?? (k.createMemory ? k.createMemory() : null);
  }

  /** Stores a copy of `data`; returns its handle. */
  put(data: FloatArray): number {
    if (this.mem) {
      const off = this.mem.alloc(data.length);
      this.mem.view().set(data, off);
      this.offs.push(off);
      this.arrays.push(data);
    } else {
      this.offs.push(0);
      this.arrays.push(data.slice());
    }
    return this.offs.length - 1;
  }

  buf(h: number): FloatArray {
    return this.mem ? this.mem.view() : this.arrays[h];
  }

  off(h: number): number {
    return this.offs[h];
  }

  /** The operand's current contents (a copy). */
  get(h: number): FloatArray {
    const n = this.arrays[h].length;
    return this.mem
      ? this.mem.view().slice(this.offs[h], this.offs[h] + n)
      : this.arrays[h].slice();
  }
}

/**
 * [rows, cols] of the bias, column-sum and cell tests ([B, H] for the cells): sizes around the
 * kernels' vector widths (4, 8, 16) with every tail, one row, many rows.
 */
const MATRIX_SHAPES: [number, number][] = [
  [1, 1],
  [1, 2],
  [2, 4],
  [2, 7],
  [3, 5],
  [2, 9],
  [5, 7],
  [4, 16],
  [3, 17],
  [5, 33],
  [9, 33],
  [3, 67],
  [300, 13],
  [67, 129],
];

/**
 * Checks that the one-call recurrence left act, y and scratch bit-identical to the step-by-step
 * run and y's padding columns H…ldy−1 alone; returns h [B, H] of the last consumed step from y.
 */
function checkOneCall(
  one: FloatArray[],
  steps: FloatArray[],
  yPad: FloatArray,
  s: { T: number; B: number; H: number; ldy: number; reverse: boolean },
  what: string,
): Float64Array {
  const { T, B, H, ldy } = s;
  for (let i = 0; i < 3; i++)
    assert.deepEqual(one[i], steps[i], `${what}: ${["act", "y", "scratch"][i]}`);
  const y = one[1];
  for (let b = 0; b < B; b++)
    for (let j = H; j < ldy; j++)
      assert.equal(y[b * ldy + j], yPad[b * ldy + j], `${what}: y padding left alone`);
  const tLast = s.reverse ? 0 : T - 1;
  const hLast = new Float64Array(B * H);
  for (let b = 0; b < B; b++)
    for (let j = 0; j < H; j++) hLast[b * H + j] = y[(tLast * B + b) * ldy + j];
  return hLast;
}

const sig = (x: number): number => 1 / (1 + Math.exp(-x));

function concat(dtype: "float32" | "float64", ...parts: FloatArray[]): FloatArray {
  const out = allocFloat(
    dtype,
    parts.reduce((n, p) => n + p.length, 0),
  );
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The final h [B, H] of the LSTM recurrence from its definition, in float64. */
function referenceRecurrence(
  inputs: { pre: FloatArray; h0: FloatArray; c0: FloatArray; w: FloatArray },
  plan: StepPlan,
): Float64Array {
  const { pre, h0, c0, w } = inputs;
  const { T, B, H, reverse } = plan;
  const h = Float64Array.from(h0);
  const c = Float64Array.from(c0);
  const G = 4 * H;
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    const hNext = new Float64Array(B * H);
    for (let b = 0; b < B; b++) {
      const a = (q: number, j: number) => {
        let v = pre[(t * B + b) * G + q * H + j];
        for (let p = 0; p < H; p++) v += w[(q * H + j) * H + p] * h[b * H + p];
        return v;
      };
      for (let j = 0; j < H; j++) {
        const [i, f, g, o] = [sig(a(0, j)), sig(a(1, j)), Math.tanh(a(2, j)), sig(a(3, j))];
        c[b * H + j] = f * c[b * H + j] + i * g;
        hNext[b * H + j] = o * Math.tanh(c[b * H + j]);
      }
    }
    h.set(hNext);
  }
  return h;
}

/**
 * The GRU's h_t of the last consumed step and ∂L/∂h0 for L = Σ_t Σ dy_t ⊙ h_t, from the
 * definition (PyTorch nn.GRU) in float64, backward by reverse-mode written out per step.
 */
function referenceGru(
  inputs: { xg: FloatArray; h0: FloatArray; w: FloatArray; bhh: FloatArray; dy: FloatArray },
  plan: StepPlan & { ldy: number },
): { hLast: Float64Array; dh0: Float64Array } {
  const { xg, h0, w, bhh, dy } = inputs;
  const { T, B, H, reverse, ldy } = plan;
  const G = 3 * H;
  const hs: Float64Array[] = [Float64Array.from(h0)];
  const saved: { r: number[]; z: number[]; n: number[]; hn: number[] }[] = [];
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    const h = hs[s];
    const next = new Float64Array(B * H);
    const rec = { r: [] as number[], z: [] as number[], n: [] as number[], hn: [] as number[] };
    for (let b = 0; b < B; b++)
      for (let j = 0; j < H; j++) {
        const hq = (q: number) => {
          let v = bhh[q * H + j];
          for (let p = 0; p < H; p++) v += w[(q * H + j) * H + p] * h[b * H + p];
          return v;
        };
        const x = (q: number) => xg[(t * B + b) * G + q * H + j];
        const r = sig(x(0) + hq(0));
        const z = sig(x(1) + hq(1));
        const hn = hq(2);
        const n = Math.tanh(x(2) + r * hn);
        next[b * H + j] = (1 - z) * n + z * h[b * H + j];
        rec.r.push(r);
        rec.z.push(z);
        rec.n.push(n);
        rec.hn.push(hn);
      }
    hs.push(next);
    saved.push(rec);
  }
  const dh = new Float64Array(B * H);
  for (let s = T - 1; s >= 0; s--) {
    const t = reverse ? T - 1 - s : s;
    const { r, z, n, hn } = saved[s];
    const h = hs[s];
    const dPrev = new Float64Array(B * H);
    for (let b = 0; b < B; b++)
      for (let j = 0; j < H; j++) {
        const i = b * H + j;
        const d = dh[i] + dy[(t * B + b) * ldy + j];
        const dn = d * (1 - z[i]);
        const dz = d * (h[i] - n[i]);
        const dan = dn * (1 - n[i] * n[i]);
        const dar = dan * hn[i] * r[i] * (1 - r[i]);
        const daz = dz * z[i] * (1 - z[i]);
        dPrev[i] += d * z[i];
        const dhg = [dar, daz, dan * r[i]];
        for (let q = 0; q < 3; q++)
          for (let p = 0; p < H; p++) dPrev[b * H + p] += dhg[q] * w[(q * H + j) * H + p];
      }
    dh.set(dPrev);
  }
  return { hLast: hs[T], dh0: dh };
}

for (const name of listBackends()) {
  const k = getBackend(name);
  for (const dtype of k.dtypes) {
    const tol = dtype === "float64" ? 1e-12 : 1e-5;
    describe(`backend ${name} (${dtype})`, () => {
      it("gemm matches the definition for every transpose, stride, size and beta", () => {
        const rng = new Rng(7);
        const mem = k.createMemory?.();
        for (const [m, n, kk] of SIZES)
          for (const transA of [false, true])
            for (const transB of [false, true])
              for (const beta of [0, 1] as const) {
                const pad = (m + n + kk) % 3; // leading dimensions wider than the rows
                const lda = (transA ? m : kk) + pad;
                const ldb = (transB ? kk : n) + pad + 1;
                const ldc = n + 2;
                const aOff = 3;
                const bOff = 1;
                const cOff = 2;
                const a = randArray(rng, dtype, aOff + (transA ? kk : m) * lda);
                const b = randArray(rng, dtype, bOff + (transB ? n : kk) * ldb);
                const c = randArray(rng, dtype, cOff + m * ldc + 1);
                const want = Float64Array.from(c);
                for (let i = 0; i < m; i++)
                  for (let j = 0; j < n; j++) {
                    let s = 0;
                    for (let p = 0; p < kk; p++) {
                      const av = transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                      const bv = transB ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
                      s += av * bv;
                    }
                    want[cOff + i * ldc + j] = (beta ? c[cOff + i * ldc + j] : 0) + s;
                  }
                // beta 0 must not read C: NaN there may not leak into the result.
                if (beta === 0)
                  for (let i = 0; i < m; i++) c.fill(NaN, cOff + i * ldc, cOff + i * ldc + n);
                const ops = new Operands(k, mem);
                const [hc, ha, hb] = [ops.put(c), ops.put(a), ops.put(b)];
                k.gemm(
                  { buf: ops.buf(hc), off: ops.off(hc) + cOff, ld: ldc },
                  { buf: ops.buf(ha), off: ops.off(ha) + aOff, ld: lda },
                  { buf: ops.buf(hb), off: ops.off(hb) + bOff, ld: ldb },
                  { m, n, k: kk, transA, transB, beta },
                );
                // `want` also checks that elements around and between the rows are left alone.
                close(
                  ops.get(hc),
                  want,
                  tol * kk,
                  `gemm m=${m} n=${n} k=${kk} tA=${transA} tB=${transB} beta=${beta}`,
                );
                assert.deepEqual(ops.get(ha), a, "gemm leaves A alone");
                assert.deepEqual(ops.get(hb), b, "gemm leaves B alone");
              }
      });

      it("gemm with k = 0 clears C for beta 0 and keeps it for beta 1", () => {
        const rng = new Rng(5);
        for (const beta of [0, 1] as const) {
          const c = randArray(rng, dtype, 3 * 7);
          const a = randArray(rng, dtype, 4);
          const ops = new Operands(k);
          const [hc, ha] = [ops.put(c), ops.put(a)];
          k.gemm(
            { buf: ops.buf(hc), off: ops.off(hc), ld: 7 },
            { buf: ops.buf(ha), off: ops.off(ha), ld: 1 },
            { buf: ops.buf(ha), off: ops.off(ha), ld: 5 },
            { m: 3, n: 5, k: 0, transA: false, transB: false, beta },
          );
          const want = Float64Array.from(c);
          for (let i = 0; i < 3; i++) for (let j = 0; j < 5; j++) if (!beta) want[i * 7 + j] = 0;
          close(ops.get(hc), want, 0, `gemm k=0 beta=${beta}`);
        }
      });

      it("fillBias and addColumnSums", () => {
        const rng = new Rng(3);
        for (const [rows, cols] of MATRIX_SHAPES) {
          const ld = cols + 3;
          const b1 = randArray(rng, dtype, cols + 1);
          const b2 = randArray(rng, dtype, cols + 2);
          const out = randArray(rng, dtype, 1 + rows * ld);
          const want = Float64Array.from(out);
          for (let r = 0; r < rows; r++)
            for (let j = 0; j < cols; j++) want[1 + r * ld + j] = b1[1 + j] + b2[2 + j];
          const ops = new Operands(k);
          const [ho, h1, h2] = [ops.put(out), ops.put(b1), ops.put(b2)];
          const b1v = { buf: ops.buf(h1), off: ops.off(h1) + 1 };
          const b2v = { buf: ops.buf(h2), off: ops.off(h2) + 2 };
          k.fillBias({ buf: ops.buf(ho), off: ops.off(ho) + 1, ld }, b1v, b2v, rows, cols);
          const filled = ops.get(ho);
          close(filled, want, tol, "fillBias");

          // Without b2.
          const out1 = randArray(rng, dtype, 1 + rows * ld);
          const want1 = Float64Array.from(out1);
          for (let r = 0; r < rows; r++)
            for (let j = 0; j < cols; j++) want1[1 + r * ld + j] = b1[1 + j];
          const ho1 = ops.put(out1);
          const b1Now = { buf: ops.buf(h1), off: ops.off(h1) + 1 }; // after put: the memory may have grown
          k.fillBias({ buf: ops.buf(ho1), off: ops.off(ho1) + 1, ld }, b1Now, null, rows, cols);
          close(ops.get(ho1), want1, 0, "fillBias without b2");

          const sums = randArray(rng, dtype, cols);
          const wantSums = Float64Array.from(sums);
          for (let j = 0; j < cols; j++)
            for (let r = 0; r < rows; r++) wantSums[j] += filled[1 + r * ld + j];
          const hs = ops.put(sums);
          const x = { buf: ops.buf(ho), off: ops.off(ho) + 1, ld };
          k.addColumnSums({ buf: ops.buf(hs), off: ops.off(hs) }, x, rows, cols);
          close(ops.get(hs), wantSums, tol * rows, "addColumnSums");
        }
      });

      it("lstmCellForward and lstmCellBackward match the cell equations", () => {
        const rng = new Rng(11);
        for (const [B, H] of MATRIX_SHAPES) {
          const pre = randArray(rng, dtype, B * 4 * H).map((v) => v * 3);
          // A few saturating and exact-zero pre-activations.
          pre[0] = 30;
          if (pre.length > 3) pre[3] = -40;
          if (pre.length > 5) pre[5] = 0;
          const cPrev = randArray(rng, dtype, B * H);
          const ldh = H + 2;
          const dy = randArray(rng, dtype, B * ldh);
          const dhNext = randArray(rng, dtype, B * H);
          const dcIn = randArray(rng, dtype, B * H);
          const ops = new Operands(k);
          const hg = ops.put(pre);
          const hcp = ops.put(cPrev);
          const hc = ops.put(allocFloat(dtype, B * H));
          const htc = ops.put(allocFloat(dtype, B * H));
          const hh = ops.put(randArray(rng, dtype, B * ldh));
          const hdy = ops.put(dy);
          const hdn = ops.put(dhNext);
          const hdc = ops.put(dcIn);
          const hdp = ops.put(allocFloat(dtype, B * 4 * H));
          const hPad = Float64Array.from(ops.get(hh));
          const at = (h: number) => ({ buf: ops.buf(h), off: ops.off(h) });
          const strided = (h: number) => ({ ...at(h), ld: ldh });
          const fwd = { gates: at(hg), c: at(hc), tanhC: at(htc), h: strided(hh), cPrev: at(hcp) };
          k.lstmCellForward(fwd, { B, H });
          k.lstmCellBackward(
            {
              dPre: at(hdp),
              dc: at(hdc),
              dy: strided(hdy),
              dhNext: at(hdn),
              gates: at(hg),
              cPrev: at(hcp),
              tanhC: at(htc),
            },
            { B, H },
          );
          const [gates, c, tc, h, dc, dPre] = [hg, hc, htc, hh, hdc, hdp].map((x) => ops.get(x));
          for (let b = 0; b < B; b++) {
            for (let j = H; j < ldh; j++)
              assert.equal(h[b * ldh + j], hPad[b * ldh + j], "h padding left alone");
            for (let j = 0; j < H; j++) {
              const r = b * 4 * H;
              const i = sig(pre[r + j]);
              const f = sig(pre[r + H + j]);
              const g = Math.tanh(pre[r + 2 * H + j]);
              const o = sig(pre[r + 3 * H + j]);
              const ct = f * cPrev[b * H + j] + i * g;
              close(
                [gates[r + j], gates[r + H + j], gates[r + 2 * H + j], gates[r + 3 * H + j]],
                [i, f, g, o],
                tol,
                "gates",
              );
              close(
                [c[b * H + j], tc[b * H + j], h[b * ldh + j]],
                [ct, Math.tanh(ct), o * Math.tanh(ct)],
                tol,
                "state",
              );
              const dh = dy[b * ldh + j] + dhNext[b * H + j];
              const dct = dcIn[b * H + j] + dh * o * (1 - Math.tanh(ct) ** 2);
              close(
                [
                  dPre[r + j],
                  dPre[r + H + j],
                  dPre[r + 2 * H + j],
                  dPre[r + 3 * H + j],
                  dc[b * H + j],
                ],
                [
                  dct * g * i * (1 - i),
                  dct * cPrev[b * H + j] * f * (1 - f),
                  dct * i * (1 - g * g),
                  dh * Math.tanh(ct) * o * (1 - o),
                  dct * f,
                ],
                tol * 10,
                "backward",
              );
            }
          }
        }
      });

      it("lstmForwardSteps and lstmBackwardSteps equal the per-step kernels, bit for bit", () => {
        // The recurrence as one call against the same backend's gemm and cell kernels step by
        // step (forwardSteps / backwardSteps of steps.ts): the same operations, so the same bits.
        // The reference implements it as exactly those loops; the check that matters is for
        // backends that run it in one call.
        const rng = new Rng(13);
        // Each case also with per-row lengths (sorted longest first, some 1, one T): only the
        // active rows of a step are computed, reverse rows start at their own last step.
        for (const withLengths of [false, true])
          for (const [T, B, H, reverse] of RECURRENCE_SHAPES) {
            const G = 4 * H;
            const ldy = H + 3;
            const gates = randArray(rng, dtype, T * B * G);
            const h0 = randArray(rng, dtype, B * H);
            const c0 = randArray(rng, dtype, B * H);
            const w = randArray(rng, dtype, G * H).map((v) => v * 0.5);
            const dy = randArray(rng, dtype, T * B * ldy);
            const dh = randArray(rng, dtype, B * H);
            const dc = randArray(rng, dtype, B * H);
            const yPad = randArray(rng, dtype, T * B * ldy);
            const lengths = Int32Array.from({ length: B }, (_, b) =>
              b === 0 ? T : 1 + rng.int(T),
            );
            lengths.sort((a, b) => b - a);
            const rows = withLengths ? rowLengths(lengths, T) : null;
            const run = (oneCall: boolean): FloatArray[] => {
              const ops = new Operands(k);
              // act: gates, c, tanhC; scratch: dPre, dh, dc
              const act = ops.put(concat(dtype, gates, allocFloat(dtype, 2 * T * B * H)));
              const y = ops.put(yPad);
              const [hh0, hc0, hw, hdy] = [h0, c0, w, dy].map((x) => ops.put(x));
              const sc = ops.put(concat(dtype, allocFloat(dtype, T * B * G), dh, dc));
              const work = ops.put(allocFloat(dtype, stepsWorkSize(H)));
              const sizes = rows ? ops.put(Float64Array.from(rows.batchSizes)) : -1;
              const at = (h: number) => ({ buf: ops.buf(h), off: ops.off(h) });
              const stored = rows ? at(sizes) : null;
              const [cOff, tcOff] = [T * B * G, T * B * G + T * B * H]; // gates at 0
              const [dhOff, dcOff] = [T * B * G, T * B * G + B * H]; // dPre at 0
              const a0 = ops.off(act);
              const saved = { buf: ops.buf(act), gates: a0, c: a0 + cOff, tanhC: a0 + tcOff };
              const plan = { T, B, H, reverse, rows: rows && { ...rows, stored } };
              const fwd = {
                act: saved,
                y: { ...at(y), ld: ldy },
                h0: at(hh0),
                c0: at(hc0),
                w: at(hw),
                work: at(work),
              };
              if (oneCall) k.lstmForwardSteps(fwd, plan);
              else forwardSteps(k, fwd, plan);
              const s0 = ops.off(sc);
              const bwd = {
                scratch: { buf: ops.buf(sc), dPre: s0, dh: s0 + dhOff, dc: s0 + dcOff },
                dy: { ...at(hdy), ld: ldy },
                act: saved,
                c0: at(hc0),
                w: at(hw),
                work: at(work),
              };
              if (oneCall) k.lstmBackwardSteps(bwd, plan);
              else backwardSteps(k, bwd, plan);
              return [ops.get(act), ops.get(y), ops.get(sc)];
            };
            const one = run(true);
            const steps = run(false);
            const what = `T=${T} B=${B} H=${H} reverse=${reverse} lengths=${withLengths ? lengths.join(",") : "all"}`;
            const hLast = checkOneCall(one, steps, yPad, { T, B, H, ldy, reverse }, what);
            if (withLengths) continue;
            // And against the definition: h_t of the last consumed step.
            const hRef = referenceRecurrence({ pre: gates, h0, c0, w }, { T, B, H, reverse });
            close(hLast, hRef, tol * 10, `${what}: h at the last step`);
          }
      });

      it("gruForwardSteps and gruBackwardSteps equal the per-step kernels bit for bit, and the GRU equations", () => {
        // As for the LSTM: the one-call recurrence against gemm and the GRU cell kernels step by
        // step (gruForwardSteps / gruBackwardSteps of steps.ts), then h_T and ∂L/∂h0 against
        // the definition (referenceGru), which also checks the cell kernels' equations.
        const rng = new Rng(17);
        // Each case also with per-row lengths (sorted longest first: random with ties, and every
        // row full), where the rows outside a step keep dh (so dh starts random there).
        for (const lengthsKind of ["none", "random", "full"] as const)
        for (const [T, B, H, reverse] of RECURRENCE_SHAPES) {
          const G = 3 * H;
          const ldy = H + 3;
          const xg = randArray(rng, dtype, T * B * G);
          const h0 = randArray(rng, dtype, B * H);
          const w = randArray(rng, dtype, G * H).map((v) => v * 0.5);
          const bhh = randArray(rng, dtype, G);
          const dy = randArray(rng, dtype, T * B * ldy);
          const yPad = randArray(rng, dtype, T * B * ldy);
          const lengths = Int32Array.from({ length: B }, (_, b) =>
            b === 0 || lengthsKind === "full" ? T : 1 + rng.int(T),
          ).sort((a, b) => b - a);
          const rows = lengthsKind === "none" ? null : rowLengths(lengths, T);
          // dh: zero without lengths (the loss reads y only), else the loss's gradient on h_n
          const dhIn = rows ? randArray(rng, dtype, B * H) : allocFloat(dtype, B * H);
          const run = (oneCall: boolean): FloatArray[] => {
            const ops = new Operands(k);
            // act: gates, hg; scratch: dXg, dHg, dh
            const act = ops.put(concat(dtype, xg, allocFloat(dtype, T * B * G)));
            const y = ops.put(yPad);
            const [hh0, hw, hb, hdy] = [h0, w, bhh, dy].map((x) => ops.put(x));
            const sc = ops.put(concat(dtype, allocFloat(dtype, 2 * T * B * G), dhIn));
            const work = ops.put(allocFloat(dtype, stepsWorkSize(H)));
            const at = (h: number) => ({ buf: ops.buf(h), off: ops.off(h) });
            const stored = rows ? at(ops.put(Float64Array.from(rows.batchSizes))) : null;
            const a0 = ops.off(act);
            const saved = { buf: ops.buf(act), gates: a0, hg: a0 + T * B * G };
            const plan = { T, B, H, reverse, rows: rows && { ...rows, stored } };
            const yv = { ...at(y), ld: ldy };
            const fwd = { act: saved, y: yv, h0: at(hh0), w: at(hw), bhh: at(hb), work: at(work) };
            if (oneCall) k.gruForwardSteps(fwd, plan);
            else gruForwardSteps(k, fwd, plan);
            const s0 = ops.off(sc);
            const scratch = { buf: ops.buf(sc), dXg: s0, dHg: s0 + T * B * G, dh: s0 + 2 * T * B * G };
            const bwd = { scratch, dy: { ...at(hdy), ld: ldy }, act: saved, y: yv, h0: at(hh0), w: at(hw), work: at(work) };
            if (oneCall) k.gruBackwardSteps(bwd, plan);
            else gruBackwardSteps(k, bwd, plan);
            return [ops.get(act), ops.get(y), ops.get(sc)];
          };
          const one = run(true);
          const steps = run(false);
          const what = `GRU T=${T} B=${B} H=${H} reverse=${reverse} lengths=${rows ? lengths.join(",") : "all"}`;
          const hLast = checkOneCall(one, steps, yPad, { T, B, H, ldy, reverse }, what);
          if (rows) continue;
          const ref = referenceGru({ xg, h0, w, bhh, dy }, { T, B, H, reverse, ldy });
          close(hLast, ref.hLast, tol * 10, `${what}: h at the last step`);
          const dh0 = one[2].subarray(2 * T * B * G);
          close(dh0, ref.dh0, tol * 100, `${what}: ∂L/∂h0`);
        }
      }); // prettier-ignore

      if (k.createMemory) {
        const create = k.createMemory.bind(k);

        it("memory: 16-byte aligned zeroed allocations; growth keeps data and renews the view", () => {
          const mem = create();
          const first = mem.alloc(5);
          assert.equal(first % 4, 0);
          const v0 = mem.view();
          assert.ok(v0.subarray(first, first + 5).every((x) => x === 0));
          v0.set([1, 2, 3, 4, 5], first);
          const big = mem.alloc(v0.length + 1000); // past the current memory: must grow
          assert.equal(big % 4, 0);
          assert.ok(big >= first + 5);
          const v1 = mem.view();
          assert.notEqual(v1.buffer, v0.buffer, "a grown memory gets a new view");
          assert.ok(v1.length >= big + v0.length + 1000);
          assert.deepEqual(Array.from(v1.subarray(first, first + 5)), [1, 2, 3, 4, 5]);
          assert.ok(v1[big] === 0 && v1[big + v0.length + 999] === 0);
          assert.equal(mem.alloc(0) % 4, 0);
          // Kernels work on the renewed view; the stale one is refused.
          const x = mem.alloc(4);
          const v2 = mem.view();
          v2.set([1, 2, 3, 4], x);
          const s = mem.alloc(4);
          const v3 = mem.view();
          k.addColumnSums({ buf: v3, off: s }, { buf: v3, off: x, ld: 4 }, 1, 4);
          assert.deepEqual(Array.from(v3.subarray(s, s + 4)), [1, 2, 3, 4]);
          mem.alloc(1 << 22); // grows again: v3 is stale now
          const xNow = { buf: mem.view(), off: x, ld: 4 };
          assert.throws(() => k.addColumnSums({ buf: v3, off: s }, xNow, 1, 4), /grown/);
        });

        it("memory: operands outside the backend's memory, or from another memory, throw", () => {
          const mem = create();
          const off = mem.alloc(64);
          const v = mem.view();
          const plain = new Float32Array(64);
          const inV = { buf: v, off, ld: 8 };
          const inPlain = { buf: plain, off: 0, ld: 8 };
          assert.throws(() => k.addColumnSums(inPlain, inV, 2, 8), /KernelMemory/);
          assert.throws(() => k.addColumnSums(inV, inPlain, 2, 8), /KernelMemory/);
          const op = { m: 2, n: 2, k: 2, transA: false, transB: false, beta: 0 } as const;
          const v4 = { buf: v, off, ld: 4 };
          assert.throws(() => k.gemm(v4, v4, { ...inPlain, ld: 4 }, op), /KernelMemory/);
          const other = create();
          const o2 = other.alloc(64);
          const otherV = { buf: other.view(), off: o2, ld: 4 };
          assert.throws(() => k.gemm(v4, otherV, v4, op), /another/);
          // Out-of-range offsets throw instead of touching other data.
          const near = { buf: v, off: v.length - 2 };
          assert.throws(() => k.addColumnSums(near, inV, 2, 8), /outside/);
          // A subarray of the view is fine: its byteOffset is honoured.
          const sub = v.subarray(off + 8, off + 16);
          sub.set([1, 1, 1, 1, 2, 2, 2, 2]);
          k.addColumnSums({ buf: v, off }, { buf: sub, off: 0, ld: 4 }, 2, 4);
          assert.deepEqual(Array.from(v.subarray(off, off + 4)), [3, 3, 3, 3]);
        });
      }
    });
  }
}
