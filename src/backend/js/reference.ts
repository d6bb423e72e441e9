import type { Kernels } from "../kernels.js";
import { backwardSteps, forwardSteps, gruBackwardSteps, gruForwardSteps } from "../steps.js";
import { gruCellBackward, gruCellForward } from "./gru-reference.js";

/**
 * The plain TypeScript backend: the oracle every faster backend is tested against. Loops are
 * ordered so the innermost one walks contiguous memory. Dot-product loops (gemm with op(B) = Bᵀ,
 * column sums) accumulate in float64 (JS numbers) and round once on store; the axpy-shaped
 * loops add each term into the output, so a float32 output rounds every partial sum.
 */
export const referenceKernels: Kernels = {
  name: "js",
  dtypes: ["float32", "float64"],

  gemm(cv, av, bv, op) {
    const { buf: c, off: cOff, ld: ldc } = cv;
    const { buf: a, off: aOff, ld: lda } = av;
    const { buf: b, off: bOff, ld: ldb } = bv;
    const { m, n, k, transA, transB, beta } = op;
    if (beta === 0) {
      for (let i = 0; i < m; i++) c.fill(0, cOff + i * ldc, cOff + i * ldc + n);
    }
    if (k === 0 || m === 0 || n === 0) return;
    // op(A)[i, p] = a[aOff + i·rsA + p·csA] (A stored [K, M] when transA).
    const rsA = transA ? 1 : lda;
    const csA = transA ? lda : 1;
    if (transB) {
      // C[i,j] += Σ_p op(A)[i,p]·B[j,p]: dot products along the contiguous rows of B.
      for (let i = 0; i < m; i++) {
        const ai = aOff + i * rsA;
        const ci = cOff + i * ldc;
        for (let j = 0; j < n; j++) {
          const bj = bOff + j * ldb;
          let s = 0;
          for (let p = 0; p < k; p++) s += a[ai + p * csA] * b[bj + p];
          c[ci + j] += s;
        }
      }
    } else {
      // C[i,:] += op(A)[i,p]·B[p,:]: each element adds its terms in the order of p.
      for (let i = 0; i < m; i++) {
        const ai = aOff + i * rsA;
        const ci = cOff + i * ldc;
        for (let p = 0; p < k; p++) {
          const s = a[ai + p * csA];
          if (s === 0) continue;
          const bp = bOff + p * ldb;
          for (let j = 0; j < n; j++) c[ci + j] += s * b[bp + j];
        }
      }
    }
  },

  fillBias(outV, b1V, b2V, rows, cols) {
    const { buf: out, off: outOff, ld: ldOut } = outV;
    const { buf: b1, off: b1Off } = b1V;
    for (let r = 0; r < rows; r++) {
      const o = outOff + r * ldOut;
      if (b2V) {
        const { buf: b2, off: b2Off } = b2V;
        for (let j = 0; j < cols; j++) out[o + j] = b1[b1Off + j] + b2[b2Off + j];
      } else for (let j = 0; j < cols; j++) out[o + j] = b1[b1Off + j];
    }
  },

  addColumnSums(outV, xV, rows, cols) {
    const { buf: out, off: outOff } = outV;
    const { buf: x, off: xOff, ld: ldx } = xV;
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += x[xOff + r * ldx + j];
      out[outOff + j] += s;
    }
  },

  lstmCellForward(io, { B: batch, H }) {
    const { buf: gates, off: gOff } = io.gates;
    const { buf: c, off: cOff } = io.c;
    const { buf: tanhC, off: tcOff } = io.tanhC;
    const { buf: h, off: hOff, ld: ldh } = io.h;
    const { buf: cPrev, off: cpOff } = io.cPrev;
    for (let b = 0; b < batch; b++) {
      const g0 = gOff + b * 4 * H; // gates row b: [i | f | g | o], each H wide
      const cb = cOff + b * H;
      const tb = tcOff + b * H;
      const hb = hOff + b * ldh;
      const pb = cpOff + b * H;
      for (let j = 0; j < H; j++) {
        const i = sigmoid(gates[g0 + j]);
        const f = sigmoid(gates[g0 + H + j]);
        const g = Math.tanh(gates[g0 + 2 * H + j]);
        const o = sigmoid(gates[g0 + 3 * H + j]);
        gates[g0 + j] = i;
        gates[g0 + H + j] = f;
        gates[g0 + 2 * H + j] = g;
        gates[g0 + 3 * H + j] = o;
        c[cb + j] = f * cPrev[pb + j] + i * g; // c_t = f⊙c_{t-1} + i⊙g
        const ct = c[cb + j]; // read back: in float32 the stored (rounded) c_t is what backward sees
        const tc = Math.tanh(ct);
        tanhC[tb + j] = tc;
        h[hb + j] = o * tc; // h_t = o⊙tanh(c_t)
      }
    }
  },

  lstmCellBackward(io, { B: batch, H }) {
    const { buf: dPre, off: dpOff } = io.dPre;
    const { buf: dc, off: dcOff } = io.dc;
    const { buf: dy, off: dyOff, ld: ldy } = io.dy;
    const { buf: dhNext, off: dhOff } = io.dhNext;
    const { buf: gates, off: gOff } = io.gates;
    const { buf: cPrev, off: cpOff } = io.cPrev;
    const { buf: tanhC, off: tcOff } = io.tanhC;
    for (let b = 0; b < batch; b++) {
      const g0 = gOff + b * 4 * H;
      const d0 = dpOff + b * 4 * H;
      for (let j = 0; j < H; j++) {
        const i = gates[g0 + j];
        const f = gates[g0 + H + j];
        const g = gates[g0 + 2 * H + j];
        const o = gates[g0 + 3 * H + j];
        const tc = tanhC[tcOff + b * H + j];
        // h_t reaches the loss from above (dy) and through step t+1 (dhNext).
        const dh = dy[dyOff + b * ldy + j] + dhNext[dhOff + b * H + j];
        // h_t = o⊙tanh(c_t): c_t gets dh·o·(1 − tanh²c_t) on top of what step t+1 sent back.
        const dct = dc[dcOff + b * H + j] + dh * o * (1 - tc * tc);
        const dO = dh * tc;
        // c_t = f⊙c_{t-1} + i⊙g
        const dI = dct * g;
        const dG = dct * i;
        const dF = dct * cPrev[cpOff + b * H + j];
        dc[dcOff + b * H + j] = dct * f; // carried to step t-1
        // Through the activations: σ' = σ(1 − σ), tanh' = 1 − tanh².
        dPre[d0 + j] = dI * i * (1 - i);
        dPre[d0 + H + j] = dF * f * (1 - f);
        dPre[d0 + 2 * H + j] = dG * (1 - g * g);
        dPre[d0 + 3 * H + j] = dO * o * (1 - o);
      }
    }
  },

  // The loops over the step kernels of `this`, so a backend made by overriding a step kernel
  // of this one (a test's deliberately broken cell, say) runs its own step in the loop; called
  // unbound, the reference's own.
  lstmForwardSteps(io, plan) {
    forwardSteps(this ?? referenceKernels, io, plan);
  },

  lstmBackwardSteps(io, plan) {
    backwardSteps(this ?? referenceKernels, io, plan);
  },

  // The GRU cell: gru-reference.ts (the oracle of the wasm GRU kernels), gate blocks 3H wide.
  gruCellForward(io, { B, H }) {
    const gates = { ...io.gates, ld: 3 * H };
    const hg = { ...io.hg, ld: 3 * H };
    const ops = { gates, hg, bhh: { ...io.bhh, ld: 0 }, h: io.h, hPrev: io.hPrev };
    gruCellForward(ops, { batch: B, hidden: H });
  },

  gruCellBackward(io, { B, H }) {
    const G = 3 * H;
    const ops = {
      gates: { ...io.gates, ld: G },
      hg: { ...io.hg, ld: G },
      bhh: { ...io.hg, ld: 0 }, // not read by backward
      h: io.hPrev, // not read by backward
      hPrev: io.hPrev,
    };
    const grads = {
      dy: io.dy,
      dh: { ...io.dh, ld: H },
      dXg: { ...io.dXg, ld: G },
      dHg: { ...io.dHg, ld: G },
    };
    gruCellBackward(ops, grads, { batch: B, hidden: H });
  },

  gruForwardSteps(io, plan) {
    gruForwardSteps(this ?? referenceKernels, io, plan);
  },

  gruBackwardSteps(io, plan) {
    gruBackwardSteps(this ?? referenceKernels, io, plan);
  },
};

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}
