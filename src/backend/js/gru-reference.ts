/**
 * The GRU kernels in plain TypeScript (float32 and float64): the oracle the wasm GRU kernels
 * (assembly/gru.ts) are tested against, with the same operands and the same order of operations.
 * Equations G1–G6 and their backward GB1–GB8: docs/derivation.md, §7 "GRU".
 *
 * PyTorch `nn.GRU`: gate row blocks r, z, n, each H wide; the input side xg = W_ih x + b_ih and
 * the hidden side hg = W_hh h + b_hh stay apart because b_hn sits inside the reset product:
 *   (G1) xg_t = W_ih u_t + b_ih (the caller, for all t at once)
 *   (G2) hg_t = W_hh h_{t−1} + b_hh
 *   (G3) r = σ(xg_r + hg_r),  z = σ(xg_z + hg_z)
 *   (G4) n = tanh(xg_n + r ⊙ hg_n)
 *   (G5) h_t = n + z ⊙ (h_{t−1} − n)      (= (1 − z) ⊙ n + z ⊙ h_{t−1})
 *
 * Operands are descriptors: a matrix is `{ buf, off, ld }` (rows ld elements apart from element
 * off of buf); a vector's ld is ignored. Letters: T time, B batch, H hidden.
 */
import type { FloatArray } from "../../tensor/dtype.js";

/** A matrix (or vector) inside a flat array: row i starts at buf[off + i·ld]. */
export interface Operand {
  buf: FloatArray;
  off: number;
  ld: number;
}

export interface GruCellDims {
  batch: number;
  hidden: number;
}

/** The operands of one step (see gruCellForward and gruCellBackward for what each holds). */
export interface GruCellOperands {
  /** [B, 3H]: xg on entry; r, z, n (post-activation) after forward. */
  gates: Operand;
  /** [B, 3H]: W_hh h_{t−1} on entry; hg = W_hh h_{t−1} + b_hh after forward. */
  hg: Operand;
  /** [3H]: b_hh. */
  bhh: Operand;
  /** [B, H]: h_t (forward's output). */
  h: Operand;
  /** [B, H]: h_{t−1}. */
  hPrev: Operand;
}

/** The gradients of one step (backward). */
export interface GruCellGrads {
  /** [B, H]: the loss gradient reaching h_t from above. */
  dy: Operand;
  /** [B, H]: in, the gradient reaching h_t from step t+1; out, dh_t ⊙ z. */
  dh: Operand;
  /** [B, 3H] out: ∂loss/∂xg = [da_r, da_z, da_n]. */
  dXg: Operand;
  /** [B, 3H] out: ∂loss/∂hg = [da_r, da_z, da_n ⊙ r]. */
  dHg: Operand;
}

/**
 * Fused cell forward (G2's bias, G3–G5) for B rows.
 * Saved for backward: gates (r, z, n), the n block of hg (W_hn h_{t−1} + b_hn) and h_{t−1}.
 */
export function gruCellForward(ops: GruCellOperands, dims: GruCellDims): void {
  const { gates, hg, bhh, h, hPrev } = ops;
  const H = dims.hidden;
  const g = gates.buf;
  const hgb = hg.buf;
  const b = bhh.buf;
  for (let row = 0; row < dims.batch; row++) {
    const g0 = gates.off + row * gates.ld;
    const h0 = hg.off + row * hg.ld;
    const hr = h.off + row * h.ld;
    const pr = hPrev.off + row * hPrev.ld;
    // (G2) the hidden side gets its bias; (G3) a = xg + hg for the r and z blocks
    for (let j = 0; j < 3 * H; j++) hgb[h0 + j] = hgb[h0 + j] + b[bhh.off + j];
    for (let j = 0; j < 2 * H; j++) g[g0 + j] = g[g0 + j] + hgb[h0 + j];
    for (let j = 0; j < H; j++) {
      const r = sigmoid(g[g0 + j]); // (G3)
      const z = sigmoid(g[g0 + H + j]);
      g[g0 + j] = r;
      g[g0 + H + j] = z;
      // (G4) the stored (rounded) values are what the next line and backward see
      g[g0 + 2 * H + j] = g[g0 + 2 * H + j] + g[g0 + j] * hgb[h0 + 2 * H + j];
      const n = Math.tanh(g[g0 + 2 * H + j]);
      g[g0 + 2 * H + j] = n;
      const nr = g[g0 + 2 * H + j];
      h.buf[hr + j] = nr + g[g0 + H + j] * (hPrev.buf[pr + j] - nr); // (G5)
    }
  }
}

/**
 * Fused cell backward for B rows (GB1–GB4): inverts gruCellForward, reading what forward
 * saved (ops.gates = r, z, n; the n block of ops.hg; ops.hPrev). ops.h is not read.
 */
export function gruCellBackward(
  ops: GruCellOperands,
  grads: GruCellGrads,
  dims: GruCellDims,
): void {
  const { gates, hg, hPrev } = ops;
  const { dy, dh, dXg, dHg } = grads;
  const H = dims.hidden;
  const g = gates.buf;
  for (let row = 0; row < dims.batch; row++) {
    const g0 = gates.off + row * gates.ld;
    const n0 = hg.off + row * hg.ld + 2 * H;
    const x0 = dXg.off + row * dXg.ld;
    const k0 = dHg.off + row * dHg.ld;
    for (let j = 0; j < H; j++) {
      const r = g[g0 + j];
      const z = g[g0 + H + j];
      const n = g[g0 + 2 * H + j];
      const hn = hg.buf[n0 + j];
      const dhi = dh.off + row * dh.ld + j;
      // (GB1) h_t reaches the loss from above (dy) and through step t+1 (dh).
      const dht = dy.buf[dy.off + row * dy.ld + j] + dh.buf[dhi];
      // (GB2) inverts G5, h_t = n + z ⊙ (h_{t−1} − n): the direct path to h_{t−1}, dn, dz
      dh.buf[dhi] = dht * z;
      const dn = dht * (1 - z);
      const dz = dht * (hPrev.buf[hPrev.off + row * hPrev.ld + j] - n);
      // (GB3) inverts G4, n = tanh(xg_n + r ⊙ hn): tanh' = 1 − n², then the product's factors
      const dan = dn * (1 - n * n);
      // (GB4) inverts G3: σ' = σ(1 − σ); dr = da_n ⊙ hn
      const dar = dan * hn * r * (1 - r);
      const daz = dz * z * (1 - z);
      // a_r, a_z are sums of both sides; xg_n and hn enter n's pre-activation apart (GB3)
      dXg.buf[x0 + j] = dar;
      dXg.buf[x0 + H + j] = daz;
      dXg.buf[x0 + 2 * H + j] = dan;
      dHg.buf[k0 + j] = dar;
      dHg.buf[k0 + H + j] = daz;
      dHg.buf[k0 + 2 * H + j] = dan * r;
    }
  }
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}
