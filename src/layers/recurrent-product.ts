/**
 * The weight gradient of the recurrent product, shared by every cell: each cell's step computes
 * its hidden-side gate rows as W_hh · h_{t−1} (LSTM F2, GRU G2), so its backward adds
 *   dW_hh += Σ_t dG_tᵀ · h_{t−1}
 * where dG_t [B, G] is the gradient reaching those gate rows at step t (LSTM: dPre; GRU: dHg).
 * Shapes: T time, B batch, G gate rows (4H or 3H), Hh the width of h (H, or P with projections).
 */
import type { Block, GemmOp, Kernels, StepPlan, Strided } from "../backend/kernels.js";
import { stepRows } from "../backend/kernels.js";
import type { SequenceBackwardIO } from "./cell.js";

/** C += Aᵀ · B: the weight-gradient form of gemm. */
/** C += Aᵀ·B of sizes m×n (k summed): literal, not spread (see withLstmSteps in the wasm backend). */
const accumulateAtB = (m: number, n: number, k: number): GemmOp => ({
  m,
  n,
  k,
  transA: true,
  transB: false,
  beta: 1,
});

/** Where the gradient goes and what it is taken of, besides the operands every cell shares. */
export interface RecurrentGradAt {
  /** Offset of W_hh [G, Hh] in the parameter table (and so of dW_hh in grads). */
  readonly wHh: number;
  /** dG [T, B, G] (row stride G): the gradient at the gate rows of every step. */
  readonly dGates: Block;
  /** The direction's step plan (its lengths say which step is each row's first). */
  readonly plan: StepPlan;
  readonly G: number;
  /** The width of h (H, or P with projections). */
  readonly Hh: number;
}

/**
 * dW_hh += Σ_t dG_tᵀ · h_{t−1} into io.grads, in two kinds of product: the steps whose h_{t−1}
 * is a stored output, io.y (one product over T−1 steps), and each row's first consumed step,
 * whose h_{t−1} is io.h0 (t = 0 forward; reversed, each row's last valid step: t = T−1 for every
 * row without lengths, rows [cont, n) of step t, stepRows).
 */
export function addRecurrentWeightGrad(
  k: Kernels,
  io: SequenceBackwardIO<unknown>,
  at: RecurrentGradAt,
): void {
  const { plan, G, Hh, dGates } = at;
  const { T, B, reverse } = plan;
  const { y, h0 } = io;
  const dW: Strided = { buf: io.grads.buf, off: io.grads.off + at.wHh, ld: Hh };
  if (T > 1) {
    // t = 0…T−2 (reverse) or 1…T−1 (forward); their h_{t−1}: y at t+1 or t−1
    const hPrev: Strided = { buf: y.buf, off: reverse ? y.off + B * y.ld : y.off, ld: y.ld };
    const dG: Strided = { buf: dGates.buf, off: dGates.off + (reverse ? 0 : B * G), ld: G };
    k.gemm(dW, dG, hPrev, accumulateAtB(G, Hh, (T - 1) * B));
  }
  for (let s = 0; s < T; s++) {
    const { t, n, cont } = stepRows(plan, s);
    if (s > 0 && !reverse) break;
    if (n <= cont) continue;
    const h0v: Strided = { buf: h0.buf, off: h0.off + cont * Hh, ld: Hh };
    const dG0: Strided = { buf: dGates.buf, off: dGates.off + (t * B + cont) * G, ld: G };
    k.gemm(dW, dG0, h0v, accumulateAtB(G, Hh, n - cont));
    if (!plan.rows) break;
  }
}
