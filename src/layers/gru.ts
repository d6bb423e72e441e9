/**
 * One GRU layer in one direction over a whole sequence: forward and exact backpropagation
 * through time, side by side, structured like lstm.ts. Equations G1–G6 and their backward
 * GB1–GB8: docs/derivation.md §7 "GRU".
 *
 * Letters: T time, B batch, I input width, H hidden, G = 3H (gate blocks r, z, n).
 * All sequence tensors are time-major: row (t, b) of a [T, B, ·] tensor is row t·B + b.
 */
import type { Block, Kernels, StepPlan, Strided } from "../backend/kernels.js";
import type { FloatArray } from "../tensor/dtype.js";
import { inputProduct, inputProductWeightGrad } from "./input-product.js";
import { addRecurrentWeightGrad } from "./recurrent-product.js";
import type { DirectionParams, LayerDims, RecurrentCell } from "./cell.js";

/** Gate blocks of the GRU cell: r, z, n (PyTorch order). */
const GATES = 3;

/** One direction's plan: parameter offsets and where the saved activations live. */
export interface GruDirection extends DirectionParams {
  /** Absolute offsets into the activation buffer: what forward saves for backward. */
  readonly gates: number; // [T, B, G] post-activation r, z, n
  readonly hg: number; // [T, B, G] W_hh h_{t−1} + b_hh (backward reads the n block)
}

/** Operands of gruForward. */
export interface GruForwardIO {
  /** [T, B, H] (stride y.ld): h_t at the time index of the x_t it consumed. */
  readonly y: Strided;
  /** [B, H]: the state after the last consumed step. */
  readonly hN: Block;
  /** The buffer holding the saved activations (offsets in the direction's plan). */
  readonly act: FloatArray;
  /** [stepsWorkSize(H)] for the steps kernel. */
  readonly work: Block;
  /** [T, B, I] (stride x.ld). */
  readonly x: Strided;
  /** One-hot input as its ids [T·B] (x is then not read), or null/absent. */
  readonly ids?: Int32Array | null;
  /** [B, H] initial state. */
  readonly h0: Block;
  /** The parameter table (the direction's offsets add to params.off). */
  readonly params: Block;
}

/**
 * Forward over t = 0…T−1 (or T−1…0 when reversed): y, hN and the saved activations from x, h0
 * and the direction's parameters.
 */
function gruForward(k: Kernels, io: GruForwardIO, dims: LayerDims, d: GruDirection): void {
  const { T, B, I, H } = dims;
  const G = GATES * H;
  const { act, y } = io;
  const p = io.params.buf;
  const pb = io.params.off;
  const rows = T * B;
  const gates: Strided = { buf: act, off: d.gates, ld: G };
  // (G1) xg_t = W_ih x_t + b_ih for all t at once (b_hh stays on the hidden side: b_hn sits
  // inside the reset product).
  k.fillBias(gates, { buf: p, off: pb + d.bIh }, null, rows, G);
  const wIh: Strided = { buf: p, off: pb + d.wIh, ld: I };
  inputProduct(k, { out: gates, x: io.x, ids: io.ids ?? null, w: wIh }, { R: rows, G, I });

  // (G2) hg_t = W_hh h_{t−1} + b_hh; (G3) r, z; (G4) n; (G5) h_t = n + z⊙(h_{t−1} − n) — every
  // step in turn, h_{−1} = h0 (gruForwardSteps in src/backend/steps.ts, or one call).
  const saved = { buf: act, gates: d.gates, hg: d.hg };
  const w = { buf: p, off: pb + d.wHh };
  const bhh = { buf: p, off: pb + d.bHh };
  const plan: StepPlan = { T, B, H, reverse: d.reverse, rows: dims.rows };
  k.gruForwardSteps({ act: saved, y, h0: io.h0, w, bhh, work: io.work }, plan);
  // (G6) h_n: the state after each row's last consumed step (t = len_b − 1 forward, t = 0
  // reversed; len_b = T without lengths).
  const lengths = dims.rows?.lengths;
  for (let b = 0; b < B; b++) {
    const tLast = d.reverse ? 0 : (lengths ? lengths[b] : T) - 1;
    const yr = y.off + (tLast * B + b) * y.ld;
    io.hN.buf.set(y.buf.subarray(yr, yr + H), io.hN.off + b * H);
  }
}

/** Scratch buffers backward reuses; sized once per shape. */
export interface GruScratch {
  readonly buf: FloatArray;
  readonly dXg: number; // [T, B, G] ∂loss/∂xg_t for every t
  readonly dHg: number; // [T, B, G] ∂loss/∂hg_t for every t
  readonly dh: number; // [B, H] gradient reaching h_t from step t+1
  readonly work: number; // [stepsWorkSize(H)] the steps kernel's workspace
}

/** Operands of gruBackward: outputs, scratch, then what forward used and produced. */
export interface GruBackwardIO {
  /** This direction's weight gradients accumulate here (offsets as in params). */
  readonly grads: Block;
  /** [T, B, I] += ∂loss/∂x; null skips it. */
  readonly dx: Strided | null;
  /** [B, H] += ∂loss/∂h0. */
  readonly dh0: Block;
  readonly scratch: GruScratch;
  /** [T, B, H] (stride dy.ld): ∂loss/∂h_t from above (the head or the next layer). */
  readonly dy: Strided;
  /** [B, H]: ∂loss/∂h_n (null when the loss does not use it). */
  readonly dhN: Block | null;
  readonly act: FloatArray;
  readonly x: Strided;
  /** One-hot input as its ids [T·B], as in GruForwardIO. */
  readonly ids?: Int32Array | null;
  readonly y: Strided;
  readonly h0: Block;
  readonly params: Block;
}

/**
 * Backward through the whole sequence, from the last consumed step to the first.
 * Accumulates (+=) into grads, dx and dh0.
 */
function gruBackward(k: Kernels, io: GruBackwardIO, dims: LayerDims, d: GruDirection): void {
  const { T, B, I, H } = dims;
  const G = GATES * H;
  const { scratch, act, x, y, h0, dh0, dhN } = io;
  const s0 = scratch.buf;
  const p = io.params.buf;
  const pb = io.params.off;
  const g = io.grads.buf;
  const gb = io.grads.off;
  const rows = T * B;
  // The carry starts from what the loss sends into the final state (inverts G6).
  if (dhN) s0.set(dhN.buf.subarray(dhN.off, dhN.off + B * H), scratch.dh);
  else s0.fill(0, scratch.dh, scratch.dh + B * H);

  // For s = T−1…0: inverts G5–G3 (GB1–GB4: dXg_t, dHg_t, the carry dh_t⊙z), then G2 for
  // h_{t−1} (GB5: dh += dHg_t · W_hh): gruBackwardSteps in src/backend/steps.ts, or one call.
  const stepsIO = {
    scratch: { buf: s0, dXg: scratch.dXg, dHg: scratch.dHg, dh: scratch.dh },
    dy: io.dy,
    act: { buf: act, gates: d.gates, hg: d.hg },
    y,
    h0,
    w: { buf: p, off: pb + d.wHh },
    work: { buf: s0, off: scratch.work },
  };
  // With lengths the steps write dXg, dHg of valid positions only; the padded ones must be zero
  // for the all-rows products below.
  if (dims.rows) {
    s0.fill(0, scratch.dXg, scratch.dXg + rows * G);
    s0.fill(0, scratch.dHg, scratch.dHg + rows * G);
  }
  const plan: StepPlan = { T, B, H, reverse: d.reverse, rows: dims.rows };
  k.gruBackwardSteps(stepsIO, plan);
  // What reaches the initial state (GB6).
  for (let j = 0; j < B * H; j++) dh0.buf[dh0.off + j] += s0[scratch.dh + j];

  // (GB7) inverts G2 for W_hh and b_hh: dW_hh += Σ_t dHg_tᵀ · h_{t−1} in two products (the
  // steps whose h_{t−1} is a stored output, and the first consumed step, whose h_{t−1} is h0);
  // db_hh += Σ dHg.
  const dWhh: Strided = { buf: g, off: gb + d.wHh, ld: H };
  const dHgAt = (t: number): Strided => ({ buf: s0, off: scratch.dHg + t * B * G, ld: G });
  const dGates = { buf: s0, off: scratch.dHg };
  addRecurrentWeightGrad(k, { dW: dWhh, dGates, y, h0 }, { plan, G, Hh: H });
  k.addColumnSums({ buf: g, off: gb + d.bHh }, dHgAt(0), rows, G);
  // (GB8) inverts G1: dW_ih += dXgᵀ · x, db_ih += Σ dXg, dx += dXg · W_ih.
  const dXg: Strided = { buf: s0, off: scratch.dXg, ld: G };
  const dW: Strided = { buf: g, off: gb + d.wIh, ld: I };
  inputProductWeightGrad(k, { dW, dPre: dXg, x, ids: io.ids ?? null }, { R: rows, G, I });
  k.addColumnSums({ buf: g, off: gb + d.bIh }, dXg, rows, G);
  if (io.dx) {
    const wIh: Strided = { buf: p, off: pb + d.wIh, ld: I };
    k.gemm(io.dx, dXg, wIh, { m: rows, n: I, k: G, transA: false, transB: false, beta: 1 });
  }
}

/** The GRU as a recurrent cell: what the model's plans and loops need to know of it. */
export const gruCell: RecurrentCell<GruDirection, GruForwardIO, GruBackwardIO> = {
  name: "gru",
  gates: GATES,
  planDirection(params, rows, H, slot) {
    return { ...params, gates: slot(rows * GATES * H), hg: slot(rows * GATES * H) };
  },
  forward: gruForward,
  backward: gruBackward,
};
