/**
 * The LSTM recurrence over T steps composed from a backend's step kernels (gemm and the cell):
 * the definition of `Kernels.lstmForwardSteps` / `lstmBackwardSteps`, used by the reference
 * backend and by faster backends wherever they run the steps one by one.
 */
import type {
  Block,
  GruBackwardStepsIO,
  GruCellBackwardIO,
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
import { eachStep, type LstmSaved, type RowGroup } from "./kernels.js";

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

/**
 * The recurrence's product with W_hh [G, H] (rows H apart) for m rows: forward
 * C[m, G] (=|+=) h_{t−1}·W_hhᵀ, backward C[m, H] (=|+=) dG_t·W_hh (beta 1 adds to C).
 */
function timesWhh(
  k: Pick<Kernels, "gemm">,
  c: Strided,
  a: Strided,
  w: Block,
  op: { m: number; G: number; H: number; backward: boolean; beta: 0 | 1 },
): void {
  const { m, G, H, backward, beta } = op;
  const wHh: Strided = { buf: w.buf, off: w.off, ld: H };
  const n = backward ? H : G;
  k.gemm(c, a, wHh, { m, n, k: backward ? G : H, transA: false, transB: !backward, beta });
}

/** Rows row, row + 1, … of a strided [T·B, ·] operand (row = t·B + r). */
function rowsOf(v: Strided, row: number): Strided {
  return { buf: v.buf, off: v.off + row * v.ld, ld: v.ld };
}

/**
 * h_{t−1} of a row group: h0's rows for rows that start at this step (stepRows: r0 ≥ cont), else
 * y at tPrev.
 */
function hPrevRows(y: Strided, h0: Block, g: RowGroup, plan: StepPlan): Strided {
  const { B, H } = plan;
  return g.fromInit
    ? { buf: h0.buf, off: h0.off + g.r0 * H, ld: H }
    : rowsOf(y, g.tPrev * B + g.r0);
}

/** c_{t−1} of an LSTM row group: c0's rows, or the c that step tPrev saved. */
function cPrevRows(c0: Block, act: LstmSaved, g: RowGroup, plan: StepPlan): Block {
  const { B, H } = plan;
  return g.fromInit
    ? { buf: c0.buf, off: c0.off + g.r0 * H }
    : { buf: act.buf, off: act.c + (g.tPrev * B + g.r0) * H };
}

/** Kernels.lstmForwardSteps from k's gemm and lstmCellForward (operands as there). */
export function forwardSteps(k: StepKernels, io: LstmForwardStepsIO, plan: StepPlan): void {
  // io.work is unused: the per-step products pack W_hh themselves.
  const { act, y } = io;
  const buf = act.buf;
  eachStep(plan, false, (g) => {
    const { B, H } = plan;
    const m = g.r1 - g.r0;
    const row = g.t * B + g.r0;
    const gates: Block = { buf, off: act.gates + row * 4 * H };
    // (F2) a_t += W_hh h_{t-1}, from the initial state on a row's first consumed step
    const hPrev = hPrevRows(y, io.h0, g, plan);
    timesWhh(k, { buf, off: gates.off, ld: 4 * H }, hPrev, io.w, {
      m,
      G: 4 * H,
      H,
      backward: false,
      beta: 1,
    });
    // (F3) gates = σ/tanh(a_t); (F4) c_t = f⊙c_{t-1} + i⊙g; (F5) h_t = o⊙tanh(c_t)
    const cell: LstmCellForwardIO = {
      gates,
      c: { buf, off: act.c + row * H },
      tanhC: { buf, off: act.tanhC + row * H },
      h: rowsOf(y, row),
      cPrev: cPrevRows(io.c0, act, g, plan),
    };
    k.lstmCellForward(cell, { B: m, H });
  });
}

/** Kernels.lstmBackwardSteps from k's lstmCellBackward and gemm (operands as there). */
export function backwardSteps(k: StepKernels, io: LstmBackwardStepsIO, plan: StepPlan): void {
  // io.work is unused: the per-step products pack W_hh themselves.
  const { scratch, act } = io;
  const { B, H } = plan;
  const sb = scratch.buf;
  // Inverts F5, F4, F3: dPre_t from dh = dy_t + dh_{t+1→t}, and the carry dc_t⊙f to step t−1
  // (rows that were not in step t+1 still hold the loss's gradient on their final state).
  const cellBackward = (g: RowGroup): void => {
    const row = g.t * B + g.r0;
    const cell: LstmCellBackwardIO = {
      dPre: { buf: sb, off: scratch.dPre + row * 4 * H },
      dc: { buf: sb, off: scratch.dc + g.r0 * H },
      dy: rowsOf(io.dy, row),
      dhNext: { buf: sb, off: scratch.dh + g.r0 * H },
      gates: { buf: act.buf, off: act.gates + row * 4 * H },
      cPrev: cPrevRows(io.c0, act, g, plan),
      tanhC: { buf: act.buf, off: act.tanhC + row * H },
    };
    k.lstmCellBackward(cell, { B: g.r1 - g.r0, H });
  };
  // Inverts F2 for h_{t-1}: the gradient carried to the previous step, dh = dPre_t · W_hh
  // (for rows [cont, n) it is what reaches h0).
  eachStep(plan, true, cellBackward, ({ t, n }) => {
    const dh: Strided = { buf: sb, off: scratch.dh, ld: H };
    const dPre: Strided = { buf: sb, off: scratch.dPre + t * B * 4 * H, ld: 4 * H };
    timesWhh(k, dh, dPre, io.w, { m: n, G: 4 * H, H, backward: true, beta: 0 });
  });
}

/** Kernels.gruForwardSteps from k's gemm and gruCellForward (operands as there). */
export function gruForwardSteps(k: GruStepKernels, io: GruForwardStepsIO, plan: StepPlan): void {
  // io.work is unused: the per-step products pack W_hh themselves.
  const { act, y, bhh } = io;
  eachStep(plan, false, (g) => {
    const { B, H } = plan;
    const row = g.t * B + g.r0;
    const hPrev = hPrevRows(y, io.h0, g, plan);
    const hg: Block = { buf: act.buf, off: act.hg + row * 3 * H };
    // (G2) hg_t = W_hh h_{t−1} (the cell adds b_hh)
    const m = g.r1 - g.r0;
    timesWhh(k, { buf: act.buf, off: hg.off, ld: 3 * H }, hPrev, io.w, {
      m,
      G: 3 * H,
      H,
      backward: false,
      beta: 0,
    });
    // (G3) r, z; (G4) n; (G5) h_t = n + z⊙(h_{t−1} − n)
    const gates: Block = { buf: act.buf, off: act.gates + row * 3 * H };
    const cell: GruCellForwardIO = { gates, hg, bhh, h: rowsOf(y, row), hPrev };
    k.gruCellForward(cell, { B: m, H });
  });
}

/** Kernels.gruBackwardSteps from k's gruCellBackward and gemm (operands as there). */
export function gruBackwardSteps(k: GruStepKernels, io: GruBackwardStepsIO, plan: StepPlan): void {
  const { scratch, act } = io;
  const { B, H } = plan;
  const G = 3 * H;
  const sb = scratch.buf;
  // (GB1–GB4) inverts G5–G3: dXg_t, dHg_t, and the direct carry dh_t⊙z (rows not in step t
  // keep dh: the loss's gradient on their final state until their last valid step)
  const cellBackward = (g: RowGroup): void => {
    const row = g.t * B + g.r0;
    const cell: GruCellBackwardIO = {
      dXg: { buf: sb, off: scratch.dXg + row * G },
      dHg: { buf: sb, off: scratch.dHg + row * G },
      dh: { buf: sb, off: scratch.dh + g.r0 * H },
      dy: rowsOf(io.dy, row),
      gates: { buf: act.buf, off: act.gates + row * G },
      hg: { buf: act.buf, off: act.hg + row * G },
      hPrev: hPrevRows(io.y, io.h0, g, plan),
    };
    k.gruCellBackward(cell, { B: g.r1 - g.r0, H });
  };
  // (GB5) inverts G2 for h_{t−1}: dh += dHg_t · W_hh
  eachStep(plan, true, cellBackward, ({ t, n }) => {
    const dHg: Strided = { buf: sb, off: scratch.dHg + t * B * G, ld: G };
    const dh: Strided = { buf: sb, off: scratch.dh, ld: H };
    timesWhh(k, dh, dHg, io.w, { m: n, G, H, backward: true, beta: 1 });
  });
}
