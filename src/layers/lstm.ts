/**
 * One LSTM layer in one direction over a whole sequence: forward and exact backpropagation
 * through time, side by side. See docs/derivation.md for the equations each line implements.
 *
 * Letters: T time, B batch, I input width, H hidden, G = 4H (gate blocks i, f, g, o).
 * All sequence tensors are time-major: row (t, b) of a [T, B, ·] tensor is row t·B + b.
 */
import type { Kernels } from "../backend/kernels.js";
import type { FloatArray } from "../tensor/dtype.js";

/** Where one direction's parameters and saved activations live (offsets in elements). */
export interface LstmDirection {
  /** Consumes x from t = T−1 down to 0 (PyTorch's `_reverse` weights). */
  readonly reverse: boolean;
  /** Offsets into the parameter table; params and grads add their own base (Block.off). */
  readonly wIh: number; // [G, I]
  readonly wHh: number; // [G, H]
  readonly bIh: number; // [G]
  readonly bHh: number; // [G]
  /** Offsets into the activation buffer: what forward saves for backward. */
  readonly gates: number; // [T, B, G] post-activation i, f, g, o
  readonly c: number; // [T, B, H] cell state after consuming x_t
  readonly tanhC: number; // [T, B, H] tanh(c_t)
}

/** A (buffer, offset, row stride) triple for a [rows, cols] operand. */
export interface Strided {
  readonly buf: FloatArray;
  readonly off: number;
  readonly ld: number;
}

/** [B, H] blocks with row stride H. */
export interface Block {
  readonly buf: FloatArray;
  readonly off: number;
}

/**
 * Forward over t = 0…T−1 (or T−1…0 when reversed).
 *
 * Outputs: y [T, B, H] (stride y.ld; h_t stored at the time index of the x_t it consumed),
 *          hN, cN [B, H] the state after the last consumed step, and the saved activations.
 * Workspace: work [stepsWorkSize(H)] for the steps kernel.
 * Inputs:  x [T, B, I] (stride x.ld), h0, c0 [B, H].
 */
export function lstmForward(
  k: Kernels,
  y: Strided,
  hN: Block,
  cN: Block,
  act: FloatArray,
  work: Block,
  x: Strided,
  h0: Block,
  c0: Block,
  params: Block,
  d: LstmDirection,
  T: number,
  B: number,
  I: number,
  H: number,
): void {
  const G = 4 * H;
  const p = params.buf;
  const pb = params.off;
  // (F1) a_t = W_ih x_t + b_ih + b_hh for all t at once: one [T·B, I]·[I, G] product.
  k.fillBias(act, d.gates, G, p, pb + d.bIh, p, pb + d.bHh, T * B, G);
  k.gemm(act, d.gates, G, x.buf, x.off, x.ld, false, p, pb + d.wIh, I, true, T * B, G, I, 1);

  // (F2) a_t += W_hh h_{t-1}; (F3) gates = σ/tanh(a_t); (F4) c_t = f⊙c_{t-1} + i⊙g;
  // (F5) h_t = o⊙tanh(c_t) — for every step in turn, h_{-1} = h0, c_{-1} = c0 (the loop is
  // forwardSteps in src/backend/steps.ts; a backend may run it in one call).
  // prettier-ignore
  k.lstmForwardSteps(act, d.gates, d.c, d.tanhC, y.buf, y.off, y.ld, h0.buf, h0.off, c0.buf, c0.off, p, pb + d.wHh, work.buf, work.off, T, B, H, d.reverse);
  // (F6) h_n, c_n: the state after the last consumed step (t = T−1 forward, t = 0 reversed).
  const tLast = d.reverse ? 0 : T - 1;
  for (let b = 0; b < B; b++) {
    const yr = y.off + (tLast * B + b) * y.ld;
    hN.buf.set(y.buf.subarray(yr, yr + H), hN.off + b * H);
  }
  const cLast = d.c + tLast * B * H;
  cN.buf.set(act.subarray(cLast, cLast + B * H), cN.off);
}

/** Scratch buffers backward reuses; sized once per shape. */
export interface LstmScratch {
  readonly buf: FloatArray;
  readonly dPre: number; // [T, B, G] ∂loss/∂a_t for every t
  readonly dh: number; // [B, H] gradient reaching h_t from step t+1
  readonly dc: number; // [B, H] gradient reaching c_t from step t+1
  readonly work: number; // [stepsWorkSize(H)] the steps kernel's workspace
}

/**
 * Backward through the whole sequence, from the last consumed step to the first.
 * Accumulates (+=) into grads (this direction's weights), dx [T, B, I] (skipped when null, e.g.
 * for one-hot inputs nobody differentiates), dh0 and dc0 [B, H].
 *
 * Inputs: dy [T, B, H] (stride dy.ld): ∂loss/∂h_t from above (the head or the next layer);
 *         dhN, dcN [B, H]: ∂loss/∂h_n, ∂loss/∂c_n (null when the loss does not use them);
 *         x, y, h0, c0 and the saved activations exactly as forward used and produced them.
 */
export function lstmBackward(
  k: Kernels,
  grads: Block,
  dx: Strided | null,
  dh0: Block,
  dc0: Block,
  scratch: LstmScratch,
  dy: Strided,
  dhN: Block | null,
  dcN: Block | null,
  act: FloatArray,
  x: Strided,
  y: Strided,
  h0: Block,
  c0: Block,
  params: Block,
  d: LstmDirection,
  T: number,
  B: number,
  I: number,
  H: number,
): void {
  const G = 4 * H;
  const s0 = scratch.buf;
  const p = params.buf;
  const pb = params.off;
  const g = grads.buf;
  const gb = grads.off;
  const dPre = scratch.dPre;
  // The carries start from what the loss sends into the final state (inverts F6).
  if (dhN) s0.set(dhN.buf.subarray(dhN.off, dhN.off + B * H), scratch.dh);
  else s0.fill(0, scratch.dh, scratch.dh + B * H);
  if (dcN) s0.set(dcN.buf.subarray(dcN.off, dcN.off + B * H), scratch.dc);
  else s0.fill(0, scratch.dc, scratch.dc + B * H);

  // For s = T−1…0: inverts F5, F4, F3 (dPre_t from dh = dy_t + dh_{t+1→t}, the carry
  // dc_t⊙f to step t−1), then F2 for h_{t-1} (dh = dPre_t · W_hh): backwardSteps in
  // src/backend/steps.ts, or the backend's one-call version.
  // prettier-ignore
  k.lstmBackwardSteps(s0, dPre, scratch.dh, scratch.dc, dy.buf, dy.off, dy.ld, act, d.gates, d.c, d.tanhC, c0.buf, c0.off, p, pb + d.wHh, s0, scratch.work, T, B, H, d.reverse);
  // What reaches the initial state (inverts the s = 0 case of F2 and F4).
  for (let j = 0; j < B * H; j++) {
    dh0.buf[dh0.off + j] += s0[scratch.dh + j];
    dc0.buf[dc0.off + j] += s0[scratch.dc + j];
  }

  // Inverts F2 for W_hh: dW_hh += Σ_t dPre_tᵀ · h_{t-1}, summed over all steps in two products:
  // the steps whose h_{t-1} is a stored output, and the first consumed step whose h_{t-1} is h0.
  if (T > 1) {
    const dpFrom = d.reverse ? 0 : B * G; // t = 0…T−2 (reverse) or 1…T−1 (forward)
    const hFrom = d.reverse ? y.off + B * y.ld : y.off; // their h_{t-1}: y at t+1 or t−1
    // prettier-ignore
    k.gemm(g, gb + d.wHh, H, s0, dPre + dpFrom, G, true, y.buf, hFrom, y.ld, false, G, H, (T - 1) * B, 1);
  }
  const tFirst = d.reverse ? T - 1 : 0;
  // prettier-ignore
  k.gemm(g, gb + d.wHh, H, s0, dPre + tFirst * B * G, G, true, h0.buf, h0.off, H, false, G, H, B, 1);
  // Inverts F1: dW_ih += dPreᵀ · x, db_ih += Σ dPre, db_hh += Σ dPre, dx += dPre · W_ih.
  // prettier-ignore
  k.gemm(g, gb + d.wIh, I, s0, dPre, G, true, x.buf, x.off, x.ld, false, G, I, T * B, 1);
  k.addColumnSums(g, gb + d.bIh, s0, dPre, G, T * B, G);
  k.addColumnSums(g, gb + d.bHh, s0, dPre, G, T * B, G);
  // prettier-ignore
  if (dx) k.gemm(dx.buf, dx.off, dx.ld, s0, dPre, G, false, p, pb + d.wIh, I, false, T * B, I, G, 1);
}
