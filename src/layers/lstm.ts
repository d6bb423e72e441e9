/**
 * One LSTM layer in one direction over a whole sequence: forward and exact backpropagation
 * through time, side by side. See docs/derivation.md for the equations each line implements.
 *
 * Letters: T time, B batch, I input width, H hidden, G = 4H (gate blocks i, f, g, o),
 * P projection (LSTMP: h_t = W_hr (o ⊙ tanh c_t) has P entries), Hout = P or H.
 * All sequence tensors are time-major: row (t, b) of a [T, B, ·] tensor is row t·B + b.
 */
import type { Block, Kernels, StepPlan, Strided } from "../backend/kernels.js";
import { eachStep, stepRows, type RowGroup } from "../backend/kernels.js";
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

/** Gate blocks of the LSTM cell: i, f, g, o (PyTorch order). */
const GATES = 4;

/**
 * One direction's plan: where its parameters and saved activations live (offsets in elements),
 * computed once per shape by `lstmCell.planDirection`.
 */
export interface LstmDirection extends DirectionParams {
  /** Absolute offsets into the activation buffer: what forward saves for backward. */
  readonly gates: number; // [T, B, G] post-activation i, f, g, o
  readonly c: number; // [T, B, H] cell state after consuming x_t
  readonly tanhC: number; // [T, B, H] tanh(c_t)
  /** With a projection: [T, B, H] o ⊙ tanh(c_t) before W_hr, and [T, B, P] ∂loss/∂h_t. */
  readonly hRaw: number;
  readonly dhTot: number;
}

/** Operands of lstmForward: the sequence operands every cell has, and the cell state. */
export interface LstmForwardIO extends SequenceForwardIO {
  /** [B, H]: the cell state after the last consumed step. */
  readonly cN: Block;
  /** [B, H] initial cell state. */
  readonly c0: Block;
}

/** The input side of an LSTM carries both biases (F1). */
function inputSide(d: LstmDirection, H: number): InputSide {
  return { G: GATES * H, wIh: d.wIh, biases: [d.bIh, d.bHh] };
}

/**
 * Forward over t = 0…T−1 (or T−1…0 when reversed): y, hN, cN and the saved activations from
 * x, h0, c0 and the direction's parameters.
 */
function lstmForward(k: Kernels, io: LstmForwardIO, dims: LayerDims, d: LstmDirection): void {
  // (F1) a_t = W_ih x_t + b_ih + b_hh for all t at once: one [T·B, I]·[I, G] product.
  inputGates(k, io, dims, inputSide(d, dims.H), d.gates);
  const { T, B, H } = dims;
  const { act, y, params } = io;

  // (F2) a_t += W_hh h_{t-1}; (F3) gates = σ/tanh(a_t); (F4) c_t = f⊙c_{t-1} + i⊙g;
  // (F5) h_t = o⊙tanh(c_t) — for every step in turn, h_{-1} = h0, c_{-1} = c0 (the loop is
  // forwardSteps in src/backend/steps.ts; a backend may run it in one call).
  const P = dims.P ?? 0;
  if (P > 0) projectedForwardSteps(k, io, projectedPass(io.params, dims, d));
  else {
    const saved = { buf: act, gates: d.gates, c: d.c, tanhC: d.tanhC };
    const w = { buf: params.buf, off: params.off + d.wHh };
    const stepsIO = { act: saved, y, h0: io.h0, c0: io.c0, w, work: io.work };
    k.lstmForwardSteps(stepsIO, stepPlan(dims, d));
  }
  // (F6) h_n, c_n: the state after each row's last consumed step.
  const lengths = dims.rows?.lengths;
  takeLastSteps(io.hN, y, { T, B, W: P > 0 ? P : H, reverse: d.reverse, lengths });
  takeLastSteps(io.cN, { buf: act, off: d.c, ld: H }, { T, B, W: H, reverse: d.reverse, lengths });
}

/**
 * What both passes of the projected recurrence use: the sizes (G = 4H gate rows, h_t of P
 * entries), W_hh [G, P] and W_hr [P, H] as operands, and the direction's step plan.
 */
function projectedPass(params: Block, dims: LayerDims, d: LstmDirection): ProjectedPass {
  const { T, B, H } = dims;
  const P = dims.P!;
  const { buf: p, off: pb } = params;
  const wHh: Strided = { buf: p, off: pb + d.wHh, ld: P };
  const wHr: Strided = { buf: p, off: pb + d.wHr!, ld: H };
  return { T, B, H, P, G: GATES * H, wHh, wHr, plan: stepPlan(dims, d), d };
}

/** See projectedPass. */
interface ProjectedPass {
  readonly T: number;
  readonly B: number;
  readonly H: number;
  readonly P: number;
  readonly G: number;
  readonly wHh: Strided;
  readonly wHr: Strided;
  readonly plan: StepPlan;
  readonly d: LstmDirection;
}

/**
 * The recurrence with a projection, step by step from gemm and the cell kernel (the one-call
 * steps kernels assume h has H entries): for each consumed t, (F2) a_t += W_hh h_{t-1}
 * (W_hh [G, P]); (F3–F5) the cell, writing hRaw_t = o ⊙ tanh(c_t); (F5p) h_t = W_hr hRaw_t.
 * With lengths, step t computes rows [0, n) only, rows [cont, n) from h0, c0 (stepRows).
 */
function projectedForwardSteps(k: Kernels, io: LstmForwardIO, pass: ProjectedPass): void {
  const { B, H, P, G, wHh, wHr, plan, d } = pass;
  const { act, y, h0, c0 } = io;
  const group = ({ t, tPrev, r0, r1, fromInit }: RowGroup): void => {
    // h_{t-1} [m, P], c_{t-1} [m, H]: the initial state on a row's first consumed step.
    const hPrev: Strided = fromInit
      ? { buf: h0.buf, off: h0.off + r0 * P, ld: P }
      : { buf: y.buf, off: y.off + (tPrev * B + r0) * y.ld, ld: y.ld };
    const cPrev: Block = fromInit
      ? { buf: c0.buf, off: c0.off + r0 * H }
      : { buf: act, off: d.c + (tPrev * B + r0) * H };
    const gates = { buf: act, off: d.gates + (t * B + r0) * G };
    const recur = { m: r1 - r0, n: G, k: P, transA: false, transB: true, beta: 1 } as const;
    k.gemm({ buf: act, off: gates.off, ld: G }, hPrev, wHh, recur); // (F2)
    const hRaw: Strided = { buf: act, off: d.hRaw + (t * B + r0) * H, ld: H };
    const c = { buf: act, off: d.c + (t * B + r0) * H };
    const tanhC = { buf: act, off: d.tanhC + (t * B + r0) * H };
    k.lstmCellForward({ gates, c, tanhC, h: hRaw, cPrev }, { B: r1 - r0, H }); // (F3–F5)
  };
  eachStep(plan, false, group, ({ t, n }) => {
    // (F5p) h_t [n, P] = hRaw_t W_hrᵀ for the step's rows.
    const project = { m: n, n: P, k: H, transA: false, transB: true, beta: 0 } as const;
    const hRaw: Strided = { buf: act, off: d.hRaw + t * B * H, ld: H };
    k.gemm({ buf: y.buf, off: y.off + t * B * y.ld, ld: y.ld }, hRaw, wHr, project);
  });
}

/** Scratch buffers backward reuses; sized once per shape. */
export interface LstmScratch {
  readonly buf: FloatArray;
  readonly dPre: number; // [T, B, G] ∂loss/∂a_t for every t
  readonly dh: number; // [B, Hout] gradient reaching h_t from step t+1
  readonly dc: number; // [B, H] gradient reaching c_t from step t+1
  readonly work: number; // [stepsWorkSize(H)] the steps kernel's workspace
  /** [B, H] each, with a projection: ∂loss/∂hRaw_t, and zeros (the cell's dhNext). */
  readonly dRaw: number;
  readonly zeros: number;
}

/** Operands of lstmBackward: the sequence operands every cell has, and the cell state's. */
export interface LstmBackwardIO extends SequenceBackwardIO<LstmScratch> {
  /** [B, H] += ∂loss/∂c0. */
  readonly dc0: Block;
  /** [B, H]: ∂loss/∂c_n (null when the loss does not use it). */
  readonly dcN: Block | null;
  readonly c0: Block;
}

/**
 * Backward through the whole sequence, from the last consumed step to the first.
 * Accumulates (+=) into grads, dx, dh0 and dc0.
 */
function lstmBackward(k: Kernels, io: LstmBackwardIO, dims: LayerDims, d: LstmDirection): void {
  const { T, B, H } = dims;
  const G = GATES * H;
  const { scratch, act, params } = io;
  const s0 = scratch.buf;
  const rows = T * B;
  const P = dims.P ?? 0;
  const Hout = P > 0 ? P : H;
  // The carries start from what the loss sends into the final state (inverts F6).
  const dh = { buf: s0, off: scratch.dh };
  const dc = { buf: s0, off: scratch.dc };
  startCarry(dh, io.dhN, B * Hout);
  startCarry(dc, io.dcN, B * H);

  // For s = T−1…0: inverts F5, F4, F3 (dPre_t from dh = dy_t + dh_{t+1→t}, the carry
  // dc_t⊙f to step t−1), then F2 for h_{t-1} (dh = dPre_t · W_hh): backwardSteps in
  // src/backend/steps.ts, or the backend's one-call version.
  const plan = stepPlan(dims, d);
  // With lengths the steps write dPre (and dhTot) of valid positions only; the padded ones
  // must be zero for the all-rows products below.
  if (dims.rows) s0.fill(0, scratch.dPre, scratch.dPre + rows * G);
  if (dims.rows && P > 0) act.fill(0, d.dhTot, d.dhTot + rows * P);
  if (P > 0) projectedBackwardSteps(k, io, projectedPass(io.params, dims, d));
  else {
    const saved = { buf: act, gates: d.gates, c: d.c, tanhC: d.tanhC };
    const stepsIO = {
      scratch: { buf: s0, dPre: scratch.dPre, dh: scratch.dh, dc: scratch.dc },
      dy: io.dy,
      act: saved,
      c0: io.c0,
      w: { buf: params.buf, off: params.off + d.wHh },
      work: { buf: s0, off: scratch.work },
    };
    k.lstmBackwardSteps(stepsIO, plan);
  }
  // What reaches the initial state (B6: inverts the s = 0 case of F2 and F4).
  addCarryToInitial(io.dh0, dh, B * Hout);
  addCarryToInitial(io.dc0, dc, B * H);

  // (B7) inverts F2 for W_hh: dW_hh += Σ_t dPre_tᵀ · h_{t-1}, summed over all steps in two
  // products: the steps whose h_{t-1} is a stored output, and the first consumed step whose
  // h_{t-1} is h0.
  const dGates = { buf: s0, off: scratch.dPre };
  addRecurrentWeightGrad(k, io, { wHh: d.wHh, dGates, plan, G, Hh: Hout });
  if (P > 0) {
    // Inverts F5p for W_hr: dW_hr [P, H] += Σ_t dh_tᵀ · hRaw_t, one product over all steps.
    const dhTot: Strided = { buf: act, off: d.dhTot, ld: P };
    const hRaw: Strided = { buf: act, off: d.hRaw, ld: H };
    const dWhr: Strided = { buf: io.grads.buf, off: io.grads.off + d.wHr!, ld: H };
    k.gemm(dWhr, dhTot, hRaw, { m: P, n: H, k: rows, transA: true, transB: false, beta: 1 });
  }
  // (B8–B10) inverts F1: dW_ih += dPreᵀ · x, db_ih += Σ dPre, db_hh += Σ dPre, dx += dPre · W_ih.
  inputGatesBackward(k, io, dims, inputSide(d, H), dGates);
}

/**
 * Backward through the projected recurrence, step by step (inverts projectedForwardSteps): for
 * s = T−1…0, dh_t = dy_t + the carry from t+1 (saved in dhTot for W_hr's gradient); inverts F5p
 * (dRaw = dh_t · W_hr); the cell backward (its dhNext is zero: dRaw already holds all of it);
 * inverts F2 for h_{t-1} (carry = dPre_t · W_hh, P wide). Leaves the carries in scratch.dh, .dc.
 * With lengths, step t runs rows [0, n) only; the others keep their carries (stepRows).
 */
function projectedBackwardSteps(k: Kernels, io: LstmBackwardIO, pass: ProjectedPass): void {
  const { T, B, H, P, G, wHh, wHr, plan, d } = pass;
  const { scratch, act, dy } = io;
  const sb = scratch.buf;
  const dRaw: Strided = { buf: sb, off: scratch.dRaw, ld: H };
  const zeros: Strided = { buf: sb, off: scratch.zeros, ld: H };
  sb.fill(0, scratch.zeros, scratch.zeros + B * H);
  for (let s = T - 1; s >= 0; s--) {
    const { t, tPrev, n, cont } = stepRows(plan, s);
    const dh = act.subarray(d.dhTot + t * B * P, d.dhTot + (t + 1) * B * P);
    for (let b = 0; b < n; b++)
      for (let j = 0; j < P; j++)
        dh[b * P + j] = dy.buf[dy.off + (t * B + b) * dy.ld + j] + sb[scratch.dh + b * P + j];
    const unproject = { m: n, n: H, k: P, transA: false, transB: false, beta: 0 } as const;
    k.gemm(dRaw, { buf: act, off: d.dhTot + t * B * P, ld: P }, wHr, unproject);
    // The cell backward on rows [0, cont) (from step tPrev) and [cont, n) (from c0), as eachStep
    // splits them; this pass does its own loop, since dh_t and dRaw come before the cell.
    for (const [r0, r1] of [
      [0, cont],
      [cont, n],
    ]) {
      if (r1 <= r0) continue;
      const fromInit = r0 === cont;
      k.lstmCellBackward(
        {
          dPre: { buf: sb, off: scratch.dPre + (t * B + r0) * G },
          dc: { buf: sb, off: scratch.dc + r0 * H },
          dy: { buf: sb, off: dRaw.off + r0 * H, ld: H },
          dhNext: { buf: sb, off: zeros.off + r0 * H },
          gates: { buf: act, off: d.gates + (t * B + r0) * G },
          cPrev: fromInit
            ? { buf: io.c0.buf, off: io.c0.off + r0 * H }
            : { buf: act, off: d.c + (tPrev * B + r0) * H },
          tanhC: { buf: act, off: d.tanhC + (t * B + r0) * H },
        },
        { B: r1 - r0, H },
      );
    }
    const carry = { m: n, n: P, k: G, transA: false, transB: false, beta: 0 } as const;
    const dPre: Strided = { buf: sb, off: scratch.dPre + t * B * G, ld: G };
    k.gemm({ buf: sb, off: scratch.dh, ld: P }, dPre, wHh, carry);
  }
}

/** The LSTM as a recurrent cell: what the model's plans and loops need to know of it. */
export const lstmCell: RecurrentCell<LstmDirection, LstmForwardIO, LstmBackwardIO> = {
  name: "lstm",
  gates: GATES,
  planDirection(params, rows, H, slot) {
    return {
      // eslint-disable-next-line no-restricted-syntax -- once per shape, not per call
      ...params,
      gates: slot(rows * GATES * H),
      c: slot(rows * H),
      tanhC: slot(rows * H),
      // With a projection (P < H, so rows·H holds dhTot's rows·P).
      hRaw: params.wHr !== undefined ? slot(rows * H) : 0,
      dhTot: params.wHr !== undefined ? slot(rows * H) : 0,
    };
  },
  forward: lstmForward,
  backward: lstmBackward,
};
