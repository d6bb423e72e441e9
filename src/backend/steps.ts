/**
 * The LSTM recurrence over T steps composed from a backend's step kernels (gemm and the cell):
 * the definition of `Kernels.lstmForwardSteps` / `lstmBackwardSteps`, used by the reference
 * backend and by faster backends wherever they run the steps one by one.
 */
import type {
  Block,
  CellDims,
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
  const { T, B, H, reverse } = plan;
  const G = 4 * H;
  const buf = act.buf;
  const dims: CellDims = { B, H };
  const step: GemmOp = { m: B, n: G, k: H, transA: false, transB: true, beta: 1 };
  const wHh: Strided = { buf: w.buf, off: w.off, ld: H };
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    const tPrev = reverse ? t + 1 : t - 1;
    const gates = { buf, off: act.gates + t * B * G };
    // h_{t-1}, c_{t-1}: the initial state on the first consumed step.
    const first = s === 0;
    const hPrev: Strided = first
      ? { buf: h0.buf, off: h0.off, ld: H }
      : { buf: y.buf, off: y.off + tPrev * B * y.ld, ld: y.ld };
    const cPrev: Block = first ? c0 : { buf, off: act.c + tPrev * B * H };
    // (F2) a_t += W_hh h_{t-1}
    k.gemm({ buf, off: gates.off, ld: G }, hPrev, wHh, step);
    // (F3) gates = σ/tanh(a_t); (F4) c_t = f⊙c_{t-1} + i⊙g; (F5) h_t = o⊙tanh(c_t)
    const io: LstmCellForwardIO = {
      gates,
      c: { buf, off: act.c + t * B * H },
      tanhC: { buf, off: act.tanhC + t * B * H },
      h: { buf: y.buf, off: y.off + t * B * y.ld, ld: y.ld },
      cPrev,
    };
    k.lstmCellForward(io, dims);
  }
}

/** Kernels.lstmBackwardSteps from k's lstmCellBackward and gemm (operands as there). */
export function backwardSteps(k: StepKernels, io: LstmBackwardStepsIO, plan: StepPlan): void {
  // io.work is unused: the per-step products pack W_hh themselves.
  const { scratch, dy, act, c0, w } = io;
  const { T, B, H, reverse } = plan;
  const G = 4 * H;
  const sb = scratch.buf;
  const buf = act.buf;
  const dims: CellDims = { B, H };
  const carry: GemmOp = { m: B, n: H, k: G, transA: false, transB: false, beta: 0 };
  const wHh: Strided = { buf: w.buf, off: w.off, ld: H };
  const dh: Strided = { buf: sb, off: scratch.dh, ld: H };
  for (let s = T - 1; s >= 0; s--) {
    const t = reverse ? T - 1 - s : s;
    const tPrev = reverse ? t + 1 : t - 1;
    const dPre = { buf: sb, off: scratch.dPre + t * B * G };
    // Inverts F5, F4, F3: dPre_t from dh = dy_t + dh_{t+1→t}, and the carry dc_t⊙f to step t−1.
    const cell: LstmCellBackwardIO = {
      dPre,
      dc: { buf: sb, off: scratch.dc },
      dy: { buf: dy.buf, off: dy.off + t * B * dy.ld, ld: dy.ld },
      dhNext: dh,
      gates: { buf, off: act.gates + t * B * G },
      cPrev: s === 0 ? c0 : { buf, off: act.c + tPrev * B * H },
      tanhC: { buf, off: act.tanhC + t * B * H },
    };
    k.lstmCellBackward(cell, dims);
    // Inverts F2 for h_{t-1}: the gradient carried to the previous step, dh = dPre_t · W_hh.
    k.gemm(dh, { buf: sb, off: dPre.off, ld: G }, wHh, carry);
  }
}

/** h_{t−1} of step t of a direction: h0 on the first consumed step, else y at t ∓ 1. */
function hPrevAt(y: Strided, h0: Block, t: number, plan: StepPlan): Strided {
  const { T, B, H, reverse } = plan;
  const first = reverse ? t === T - 1 : t === 0;
  const tPrev = reverse ? t + 1 : t - 1;
  return first
    ? { buf: h0.buf, off: h0.off, ld: H }
    : { buf: y.buf, off: y.off + tPrev * B * y.ld, ld: y.ld };
}

/** Kernels.gruForwardSteps from k's gemm and gruCellForward (operands as there). */
export function gruForwardSteps(k: GruStepKernels, io: GruForwardStepsIO, plan: StepPlan): void {
  // io.work is unused: the per-step products pack W_hh themselves.
  const { act, y, h0, w, bhh } = io;
  const { T, B, H, reverse } = plan;
  const G = 3 * H;
  const buf = act.buf;
  const step: GemmOp = { m: B, n: G, k: H, transA: false, transB: true, beta: 0 };
  const wHh: Strided = { buf: w.buf, off: w.off, ld: H };
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    const hPrev = hPrevAt(y, h0, t, plan);
    const hg = { buf, off: act.hg + t * B * G };
    // (G2) hg_t = W_hh h_{t−1} (the cell adds b_hh)
    k.gemm({ buf, off: hg.off, ld: G }, hPrev, wHh, step);
    // (G3) r, z; (G4) n; (G5) h_t = n + z⊙(h_{t−1} − n)
    const cell: GruCellForwardIO = {
      gates: { buf, off: act.gates + t * B * G },
      hg,
      bhh,
      h: { buf: y.buf, off: y.off + t * B * y.ld, ld: y.ld },
      hPrev,
    };
    k.gruCellForward(cell, { B, H });
  }
}

/** Kernels.gruBackwardSteps from k's gruCellBackward and gemm (operands as there). */
export function gruBackwardSteps(k: GruStepKernels, io: GruBackwardStepsIO, plan: StepPlan): void {
  const { scratch, dy, act, y, h0, w } = io;
  const { T, B, H, reverse } = plan;
  const G = 3 * H;
  const sb = scratch.buf;
  const buf = act.buf;
  const carry: GemmOp = { m: B, n: H, k: G, transA: false, transB: false, beta: 1 };
  const wHh: Strided = { buf: w.buf, off: w.off, ld: H };
  const dh: Block = { buf: sb, off: scratch.dh };
  for (let s = T - 1; s >= 0; s--) {
    const t = reverse ? T - 1 - s : s;
    const dHg = { buf: sb, off: scratch.dHg + t * B * G };
    // (GB1–GB4) inverts G5–G3: dXg_t, dHg_t, and the direct carry dh_t⊙z
    k.gruCellBackward(
      {
        dXg: { buf: sb, off: scratch.dXg + t * B * G },
        dHg,
        dh,
        dy: { buf: dy.buf, off: dy.off + t * B * dy.ld, ld: dy.ld },
        gates: { buf, off: act.gates + t * B * G },
        hg: { buf, off: act.hg + t * B * G },
        hPrev: hPrevAt(y, h0, t, plan),
      },
      { B, H },
    );
    // (GB5) inverts G2 for h_{t−1}: dh += dHg_t · W_hh
    k.gemm({ buf: sb, off: dh.off, ld: H }, { buf: sb, off: dHg.off, ld: G }, wHh, carry);
  }
}
