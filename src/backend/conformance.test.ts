/**
 * One conformance suite for every registered backend: each kernel against a naive oracle
 * written from the definition, on odd sizes (not multiples of 4), strides and both dtypes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getBackend, listBackends } from "./index.js";
import { Rng } from "../tensor/rng.js";
import { allocFloat, type DType, type FloatArray } from "../tensor/dtype.js";

const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [4, 8, 4],
  [9, 13, 6],
  [17, 3, 33],
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

const sig = (x: number): number => 1 / (1 + Math.exp(-x));

for (const name of listBackends()) {
  const k = getBackend(name);
  for (const dtype of ["float64", "float32"] as const) {
    const tol = dtype === "float64" ? 1e-12 : 1e-5;
    describe(`backend ${name} (${dtype})`, () => {
      it("gemm matches the definition for every transpose, stride, size and beta", () => {
        const rng = new Rng(7);
        for (const [m, n, kk] of SIZES)
          for (const transA of [false, true])
            for (const transB of [false, true])
              for (const beta of [0, 1] as const) {
                const pad = 2; // leading dimensions wider than the rows
                const lda = (transA ? m : kk) + pad;
                const ldb = (transB ? kk : n) + pad;
                const ldc = n + pad;
                const aOff = 3;
                const bOff = 1;
                const cOff = 2;
                const a = randArray(rng, dtype, aOff + (transA ? kk : m) * lda);
                const b = randArray(rng, dtype, bOff + (transB ? n : kk) * ldb);
                const c = randArray(rng, dtype, cOff + m * ldc);
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
                k.gemm(c, cOff, ldc, a, aOff, lda, transA, b, bOff, ldb, transB, m, n, kk, beta);
                close(
                  c,
                  want,
                  tol * kk,
                  `gemm m=${m} n=${n} k=${kk} tA=${transA} tB=${transB} beta=${beta}`,
                );
              }
      });

      it("fillBias and addColumnSums", () => {
        const rng = new Rng(3);
        for (const [rows, cols] of [
          [1, 1],
          [5, 7],
          [3, 17],
        ]) {
          const ld = cols + 3;
          const b1 = randArray(rng, dtype, cols + 1);
          const b2 = randArray(rng, dtype, cols + 2);
          const out = randArray(rng, dtype, 1 + rows * ld);
          const want = Float64Array.from(out);
          for (let r = 0; r < rows; r++)
            for (let j = 0; j < cols; j++) want[1 + r * ld + j] = b1[1 + j] + b2[2 + j];
          k.fillBias(out, 1, ld, b1, 1, b2, 2, rows, cols);
          close(out, want, tol, "fillBias");
          const sums = randArray(rng, dtype, cols);
          const wantSums = Float64Array.from(sums);
          for (let j = 0; j < cols; j++)
            for (let r = 0; r < rows; r++) wantSums[j] += out[1 + r * ld + j];
          k.addColumnSums(sums, 0, out, 1, ld, rows, cols);
          close(sums, wantSums, tol * rows, "addColumnSums");
        }
      });

      it("lstmCellForward and lstmCellBackward match the cell equations", () => {
        const rng = new Rng(11);
        for (const [B, H] of [
          [1, 1],
          [3, 5],
          [2, 9],
        ]) {
          const pre = randArray(rng, dtype, B * 4 * H).map((v) => v * 3);
          const cPrev = randArray(rng, dtype, B * H);
          const gates = pre.slice();
          const c = allocFloat(dtype, B * H);
          const tc = allocFloat(dtype, B * H);
          const ldh = H + 2;
          const h = allocFloat(dtype, B * ldh);
          k.lstmCellForward(gates, 0, c, 0, tc, 0, h, 0, ldh, cPrev, 0, B, H);
          const dy = randArray(rng, dtype, B * ldh);
          const dhNext = randArray(rng, dtype, B * H);
          const dc = randArray(rng, dtype, B * H);
          const dcIn = Float64Array.from(dc);
          const dPre = allocFloat(dtype, B * 4 * H);
          k.lstmCellBackward(
            dPre,
            0,
            dc,
            0,
            dy,
            0,
            ldh,
            dhNext,
            0,
            gates,
            0,
            cPrev,
            0,
            tc,
            0,
            B,
            H,
          );
          for (let b = 0; b < B; b++)
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
      });
    });
  }
}
