/**
 * The LSTM recurrence over T steps composed from a backend's step kernels (gemm and the cell):
 * the definition of `Kernels.lstmForwardSteps` / `lstmBackwardSteps`, used by the reference
 * backend and by faster backends wherever they run the steps one by one.
 */
import type {
  Block,
  GemmOp,
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
