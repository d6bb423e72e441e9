/**
 * The LSTM recurrence over T steps composed from a backend's step kernels (gemm and the cell):
 * the definition of `Kernels.lstmForwardSteps` / `lstmBackwardSteps`, used by the reference
 * backend and by faster backends wherever they run the steps one by one.
 */
import type { FloatArray } from "../tensor/dtype.js";
import type { Kernels } from "./kernels.js";

type StepKernels = Pick<Kernels, "gemm" | "lstmCellForward" | "lstmCellBackward">;

/**
 * Elements of the `work` operand of the steps kernels for hidden size H: room for W_hh [4H, H]
 * packed in panels of 8 columns either way round (W_hhᵀ for forward, W_hh for backward).
 */
export function stepsWorkSize(hidden: number): number {
  const H = hidden;
  return Math.max(Math.ceil((4 * H) / 8) * 8 * H, Math.ceil(H / 8) * 8 * 4 * H);
}

/** Kernels.lstmForwardSteps from k's gemm and lstmCellForward (arguments as there). */
export function forwardSteps(
  k: StepKernels,
  act: FloatArray,
  gOff: number,
  cOff: number,
  tcOff: number,
  y: FloatArray,
  yOff: number,
  ldy: number,
  h0: FloatArray,
  h0Off: number,
  c0: FloatArray,
  c0Off: number,
  w: FloatArray,
  wOff: number,
  _work: FloatArray, // unused: the per-step products pack W_hh themselves
  _workOff: number,
  T: number,
  B: number,
  H: number,
  reverse: boolean,
): void {
  const G = 4 * H;
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    const tPrev = reverse ? t + 1 : t - 1;
    const gT = gOff + t * B * G;
    // h_{t-1}, c_{t-1}: the initial state on the first consumed step.
    const first = s === 0;
    const hPrev = first ? h0 : y;
    const hPrevOff = first ? h0Off : yOff + tPrev * B * ldy;
    const hPrevLd = first ? H : ldy;
    const cPrev = first ? c0 : act;
    const cPrevOff = first ? c0Off : cOff + tPrev * B * H;
    // (F2) a_t += W_hh h_{t-1}
    k.gemm(act, gT, G, hPrev, hPrevOff, hPrevLd, false, w, wOff, H, true, B, G, H, 1);
    // (F3) gates = σ/tanh(a_t); (F4) c_t = f⊙c_{t-1} + i⊙g; (F5) h_t = o⊙tanh(c_t)
    k.lstmCellForward(
      act, gT,
      act, cOff + t * B * H,
      act, tcOff + t * B * H,
      y, yOff + t * B * ldy, ldy,
      cPrev, cPrevOff,
      B, H,
    ); // prettier-ignore
  }
}

/** Kernels.lstmBackwardSteps from k's lstmCellBackward and gemm (arguments as there). */
export function backwardSteps(
  k: StepKernels,
  scratch: FloatArray,
  dpOff: number,
  dhOff: number,
  dcOff: number,
  dy: FloatArray,
  dyOff: number,
  ldy: number,
  act: FloatArray,
  gOff: number,
  cOff: number,
  tcOff: number,
  c0: FloatArray,
  c0Off: number,
  w: FloatArray,
  wOff: number,
  _work: FloatArray, // unused: the per-step products pack W_hh themselves
  _workOff: number,
  T: number,
  B: number,
  H: number,
  reverse: boolean,
): void {
  const G = 4 * H;
  for (let s = T - 1; s >= 0; s--) {
    const t = reverse ? T - 1 - s : s;
    const tPrev = reverse ? t + 1 : t - 1;
    const cPrev = s === 0 ? c0 : act;
    const cPrevOff = s === 0 ? c0Off : cOff + tPrev * B * H;
    // Inverts F5, F4, F3: dPre_t from dh = dy_t + dh_{t+1→t}, and the carry dc_t⊙f to step t−1.
    k.lstmCellBackward(
      scratch, dpOff + t * B * G,
      scratch, dcOff,
      dy, dyOff + t * B * ldy, ldy,
      scratch, dhOff,
      act, gOff + t * B * G,
      cPrev, cPrevOff,
      act, tcOff + t * B * H,
      B, H,
    ); // prettier-ignore
    // Inverts F2 for h_{t-1}: the gradient carried to the previous step, dh = dPre_t · W_hh.
    k.gemm(scratch, dhOff, H, scratch, dpOff + t * B * G, G, false, w, wOff, H, false, B, H, G, 0);
  }
}
