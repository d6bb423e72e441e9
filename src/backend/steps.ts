/**
 * The LSTM recurrence over T steps composed from a backend's step kernels (gemm and the cell):
 * the definition of `Kernels.lstmForwardSteps` / `lstmBackwardSteps`, used by the reference
 * backend and by faster backends wherever they run the steps one by one.
 */
import type {
  Block,
  GemmOp,
  GruBackwardStepsIO,
  GruCellForwardIO,
  GruForwardStepsIO,
  Kernels,
  LstmBackwardStepsIO,
  LstmCellBackwardIO,
  LstmCellForwardIO,
  LstmForwardStepsIO,
  StepPlan,
  Strided,
} from "./kernels.js";
import { stepRows } from "./kernels.js";

type StepKernels = Pick<Kernels, "gemm" | "lstmCellForward" | "lstmCellBackward">;
type GruStepKernels = Pick<Kernels, "gemm" | "gruCellForward" | "gruCellBackward">;

/**
 * Elements of the `work` operand of the steps kernels for hidden size H: room for W_hh [4H, H]
 * packed in panels of 8 columns either way round (W_hhᵀ for forward, W_hh for backward).
 */
export function stepsWorkSize(hidden: number): number {
  const H = hidden;
  return Math.max(Math.ceil((4 * H) / 8) * 8 * H, Math.ceil(H / 8) * 8 * 4 * H);
}

/** Kernels.lstmForwardSteps from k's gemm and lstmCellForward (operands as there). */
export function forwardSteps(k: StepKernels, io: LstmForwardStepsIO, plan: StepPlan): void {
  // io.work is unused: the per-step products pack W_hh themselves.
  const { act, y, h0, c0, w } = io;
  const { T, H } = plan;
  const G = 4 * H;
  const buf = act.buf;
  const wHh: Strided = { buf: w.buf, off: w.off, ld: H };
  for (let s = 0; s < T; s++) {
    // Rows [0, cont) continue from step tPrev, rows [cont, n) start from h0, c0 (stepRows).
    const { t, tPrev, n, cont } = stepRows(plan, s);
    const B = plan.B;
    for (const [r0, r1] of [
      [0, cont],
      [cont, n],
    ]) {
      if (r1 <= r0) continue;
      const m = r1 - r0;
      const fromInit = r0 === cont;
      const gates = { buf, off: act.gates + (t * B + r0) * G };
      // h_{t-1}, c_{t-1}: the initial state on a row's first consumed step.
      const hPrev: Strided = fromInit
        ? { buf: h0.buf, off: h0.off + r0 * H, ld: H }
        : { buf: y.buf, off: y.off + (tPrev * B + r0) * y.ld, ld: y.ld };
      const cPrev: Block = fromInit
        ? { buf: c0.buf, off: c0.off + r0 * H }
        : { buf, off: act.c + (tPrev * B + r0) * H };
      // (F2) a_t += W_hh h_{t-1}
      const step: GemmOp = { m, n: G, k: H, transA: false, transB: true, beta: 1 };
      k.gemm({ buf, off: gates.off, ld: G }, hPrev, wHh, step);
      // (F3) gates = σ/tanh(a_t); (F4) c_t = f⊙c_{t-1} + i⊙g; (F5) h_t = o⊙tanh(c_t)
      const cell: LstmCellForwardIO = {
        gates,
        c: { buf, off: act.c + (t * B + r0) * H },
        tanhC: { buf, off: act.tanhC + (t * B + r0) * H },
        h: { buf: y.buf, off: y.off + (t * B + r0) * y.ld, ld: y.ld },
        cPrev,
      };
      k.lstmCellForward(cell, { B: m, H });
    }
  }
}

/** Kernels.lstmBackwardSteps from k's lstmCellBackward and gemm (operands as there). */
export function backwardSteps(k: StepKernels, io: LstmBackwardStepsIO, plan: StepPlan): void {
  // io.work is unused: the per-step products pack W_hh themselves.
  const { scratch, dy, act, c0, w } = io;
  const { T, B, H } = plan;
  const G = 4 * H;
  const sb = scratch.buf;
  const buf = act.buf;
  const wHh: Strided = { buf: w.buf, off: w.off, ld: H };
  for (let s = T - 1; s >= 0; s--) {
    const { t, tPrev, n, cont } = stepRows(plan, s);
    // Inverts F5, F4, F3: dPre_t from dh = dy_t + dh_{t+1→t}, and the carry dc_t⊙f to step t−1
    // (rows that were not in step t+1 still hold the loss's gradient on their final state).
    for (const [r0, r1] of [
      [0, cont],
      [cont, n],
    ]) {
      if (r1 <= r0) continue;
      const fromInit = r0 === cont;
      const cell: LstmCellBackwardIO = {
        dPre: { buf: sb, off: scratch.dPre + (t * B + r0) * G },
        dc: { buf: sb, off: scratch.dc + r0 * H },
        dy: { buf: dy.buf, off: dy.off + (t * B + r0) * dy.ld, ld: dy.ld },
        dhNext: { buf: sb, off: scratch.dh + r0 * H },
        gates: { buf, off: act.gates + (t * B + r0) * G },
        cPrev: fromInit
          ? { buf: c0.buf, off: c0.off + r0 * H }
          : { buf, off: act.c + (tPrev * B + r0) * H },
        tanhC: { buf, off: act.tanhC + (t * B + r0) * H },
      };
      k.lstmCellBackward(cell, { B: r1 - r0, H });
    }
    // Inverts F2 for h_{t-1}: the gradient carried to the previous step, dh = dPre_t · W_hh
    // (for rows [cont, n) it is what reaches h0).
    const carry: GemmOp = { m: n, n: H, k: G, transA: false, transB: false, beta: 0 };
    const dh: Strided = { buf: sb, off: scratch.dh, ld: H };
    k.gemm(dh, { buf: sb, off: scratch.dPre + t * B * G, ld: G }, wHh, carry);
  }
}

/**
 * h_{t−1} of rows [r0, …) of step t: h0 for rows that start there (stepRows: r0 ≥ cont), else y
 * at tPrev.
 */
function hPrevRows(
  y: Strided,
  h0: Block,
  at: { tPrev: number; r0: number; fromInit: boolean },
  plan: StepPlan,
): Strided {
  const { B, H } = plan;
  return at.fromInit
    ? { buf: h0.buf, off: h0.off + at.r0 * H, ld: H }
    : { buf: y.buf, off: y.off + (at.tPrev * B + at.r0) * y.ld, ld: y.ld };
}

/** Kernels.gruForwardSteps from k's gemm and gruCellForward (operands as there). */
export function gruForwardSteps(k: GruStepKernels, io: GruForwardStepsIO, plan: StepPlan): void {
  // io.work is unused: the per-step products pack W_hh themselves.
  const { act, y, h0, w, bhh } = io;
  const { B, H } = plan;
  const G = 3 * H;
  const buf = act.buf;
  const wHh: Strided = { buf: w.buf, off: w.off, ld: H };
  for (let s = 0; s < plan.T; s++) {
    // Rows [0, cont) continue from step tPrev, rows [cont, n) start from h0 (stepRows).
    const { t, tPrev, n, cont } = stepRows(plan, s);
    for (const [r0, r1] of [
      [0, cont],
      [cont, n],
    ]) {
      if (r1 <= r0) continue;
      const m = r1 - r0;
      const hPrev = hPrevRows(y, h0, { tPrev, r0, fromInit: r0 === cont }, plan);
      const hg = { buf, off: act.hg + (t * B + r0) * G };
      // (G2) hg_t = W_hh h_{t−1} (the cell adds b_hh)
      const step: GemmOp = { m, n: G, k: H, transA: false, transB: true, beta: 0 };
      k.gemm({ buf, off: hg.off, ld: G }, hPrev, wHh, step);
      // (G3) r, z; (G4) n; (G5) h_t = n + z⊙(h_{t−1} − n)
      const cell: GruCellForwardIO = {
        gates: { buf, off: act.gates + (t * B + r0) * G },
        hg,
        bhh,
        h: { buf: y.buf, off: y.off + (t * B + r0) * y.ld, ld: y.ld },
        hPrev,
      };
      k.gruCellForward(cell, { B: m, H });
    }
  }
}

/** Kernels.gruBackwardSteps from k's gruCellBackward and gemm (operands as there). */
export function gruBackwardSteps(k: GruStepKernels, io: GruBackwardStepsIO, plan: StepPlan): void {
  const { scratch, dy, act, y, h0, w } = io;
  const { B, H } = plan;
  const G = 3 * H;
  const sb = scratch.buf;
  const buf = act.buf;
  const wHh: Strided = { buf: w.buf, off: w.off, ld: H };
  for (let s = plan.T - 1; s >= 0; s--) {
    const { t, tPrev, n, cont } = stepRows(plan, s);
    // (GB1–GB4) inverts G5–G3: dXg_t, dHg_t, and the direct carry dh_t⊙z (rows not in step t
    // keep dh: the loss's gradient on their final state until their last valid step)
    for (const [r0, r1] of [
      [0, cont],
      [cont, n],
    ]) {
      if (r1 <= r0) continue;
      k.gruCellBackward(
        {
          dXg: { buf: sb, off: scratch.dXg + (t * B + r0) * G },
          dHg: { buf: sb, off: scratch.dHg + (t * B + r0) * G },
          dh: { buf: sb, off: scratch.dh + r0 * H },
          dy: { buf: dy.buf, off: dy.off + (t * B + r0) * dy.ld, ld: dy.ld },
          gates: { buf, off: act.gates + (t * B + r0) * G },
          hg: { buf, off: act.hg + (t * B + r0) * G },
          hPrev: hPrevRows(y, h0, { tPrev, r0, fromInit: r0 === cont }, plan),
        },
        { B: r1 - r0, H },
      );
    }
    // (GB5) inverts G2 for h_{t−1}: dh += dHg_t · W_hh
    const carry: GemmOp = { m: n, n: H, k: G, transA: false, transB: false, beta: 1 };
    const dHg: Strided = { buf: sb, off: scratch.dHg + t * B * G, ld: G };
    k.gemm({ buf: sb, off: scratch.dh, ld: H }, dHg, wHh, carry);
  }
}
