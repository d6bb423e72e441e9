/**
 * One GRU layer in one direction over a whole sequence: forward and exact backpropagation
 * through time, side by side, structured like lstm.ts. Equations G1–G6 and their backward
 * GB1–GB8: docs/derivation.md §7 "GRU".
 *
 * Letters: T time, B batch, I input width, H hidden, G = 3H (gate blocks r, z, n).
 * All sequence tensors are time-major: row (t, b) of a [T, B, ·] tensor is row t·B + b.
 */
import type { Kernels } from "../backend/kernels.js";
import type { FloatArray } from "../tensor/dtype.js";
import { inputGates, inputGatesBackward, type InputSide } from "./input-product.js";
import { addRecurrentWeightGrad } from "./recurrent-product.js";
import { addCarryToInitial, startCarry, takeLastSteps } from "./sequence-state.js";
import {
  stepPlan,
  type DirectionParams,
  type LayerDims,
  type RecurrentCell,
  type SequenceBackwardIO,
  type SequenceForwardIO,
} from "./cell.js";

/** Gate blocks of the GRU cell: r, z, n (PyTorch order). */
const GATES = 3;

/** One direction's plan: parameter offsets and where the saved activations live. */
export interface GruDirection extends DirectionParams {
  /** Absolute offsets into the activation buffer: what forward saves for backward. */
  readonly gates: number; // [T, B, G] post-activation r, z, n
  readonly hg: number; // [T, B, G] W_hh h_{t−1} + b_hh (backward reads the n block)
}

/** Operands of gruForward: a GRU carries h only. */
export type GruForwardIO = SequenceForwardIO;

/** The input side of a GRU: b_hh is not on it (b_hn sits inside the reset product). */
function inputSide(d: GruDirection, H: number): InputSide {
  return { G: GATES * H, wIh: d.wIh, biases: [d.bIh] };
}

/**
 * Forward over t = 0…T−1 (or T−1…0 when reversed): y, hN and the saved activations from x, h0
 * and the direction's parameters.
 */
function gruForward(k: Kernels, io: GruForwardIO, dims: LayerDims, d: GruDirection): void {
  // (G1) xg_t = W_ih x_t + b_ih for all t at once (b_hh stays on the hidden side: b_hn sits
  // inside the reset product).
  inputGates(k, io, dims, inputSide(d, dims.H), d.gates);
  const { T, B, H } = dims;
  const { act, y, params } = io;

  // (G2) hg_t = W_hh h_{t−1} + b_hh; (G3) r, z; (G4) n; (G5) h_t = n + z⊙(h_{t−1} − n) — every
  // step in turn, h_{−1} = h0 (gruForwardSteps in src/backend/steps.ts, or one call).
  const saved = { buf: act, gates: d.gates, hg: d.hg };
  const w = { buf: params.buf, off: params.off + d.wHh };
  const bhh = { buf: params.buf, off: params.off + d.bHh };
  k.gruForwardSteps({ act: saved, y, h0: io.h0, w, bhh, work: io.work }, stepPlan(dims, d));
  // (G6) h_n: the state after each row's last consumed step.
  takeLastSteps(io.hN, y, { T, B, W: H, reverse: d.reverse, lengths: dims.rows?.lengths });
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
export type GruBackwardIO = SequenceBackwardIO<GruScratch>;

/**
 * Backward through the whole sequence, from the last consumed step to the first.
 * Accumulates (+=) into grads, dx and dh0.
 */
function gruBackward(k: Kernels, io: GruBackwardIO, dims: LayerDims, d: GruDirection): void {
  const { T, B, H } = dims;
  const G = GATES * H;
  const { scratch, act, y, h0, params } = io;
  const s0 = scratch.buf;
  const rows = T * B;
  // The carry starts from what the loss sends into the final state (inverts G6).
  const dh = { buf: s0, off: scratch.dh };
  startCarry(dh, io.dhN, B * H);

  // For s = T−1…0: inverts G5–G3 (GB1–GB4: dXg_t, dHg_t, the carry dh_t⊙z), then G2 for
  // h_{t−1} (GB5: dh += dHg_t · W_hh): gruBackwardSteps in src/backend/steps.ts, or one call.
  const stepsIO = {
    scratch: { buf: s0, dXg: scratch.dXg, dHg: scratch.dHg, dh: scratch.dh },
    dy: io.dy,
    act: { buf: act, gates: d.gates, hg: d.hg },
    y,
    h0,
    w: { buf: params.buf, off: params.off + d.wHh },
    work: { buf: s0, off: scratch.work },
  };
  // With lengths the steps write dXg, dHg of valid positions only; the padded ones must be zero
  // for the all-rows products below.
  if (dims.rows) {
    s0.fill(0, scratch.dXg, scratch.dXg + rows * G);
    s0.fill(0, scratch.dHg, scratch.dHg + rows * G);
  }
  const plan = stepPlan(dims, d);
  k.gruBackwardSteps(stepsIO, plan);
  // What reaches the initial state (GB6).
  addCarryToInitial(io.dh0, dh, B * H);

  // (GB7) inverts G2 for W_hh and b_hh: dW_hh += Σ_t dHg_tᵀ · h_{t−1} in two products (the
  // steps whose h_{t−1} is a stored output, and the first consumed step, whose h_{t−1} is h0);
  // db_hh += Σ dHg.
  const dGates = { buf: s0, off: scratch.dHg };
  addRecurrentWeightGrad(k, io, { wHh: d.wHh, dGates, plan, G, Hh: H });
  const dbHh = { buf: io.grads.buf, off: io.grads.off + d.bHh };
  k.addColumnSums(dbHh, { buf: s0, off: scratch.dHg, ld: G }, rows, G);
  // (GB8) inverts G1: dW_ih += dXgᵀ · x, db_ih += Σ dXg, dx += dXg · W_ih.
  const dXg = { buf: s0, off: scratch.dXg };
  inputGatesBackward(k, io, dims, inputSide(d, H), dXg);
}

/** The GRU as a recurrent cell: what the model's plans and loops need to know of it. */
export const gruCell: RecurrentCell<GruDirection, GruForwardIO, GruBackwardIO> = {
  name: "gru",
  gates: GATES,
  planDirection(params, rows, H, slot) {
    // eslint-disable-next-line no-restricted-syntax -- once per shape, not per call
    return { ...params, gates: slot(rows * GATES * H), hg: slot(rows * GATES * H) };
  },
  forward: gruForward,
  backward: gruBackward,
};
