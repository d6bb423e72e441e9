/**
 * The weight gradient of the recurrent product, shared by every cell: each cell's step computes
 * its hidden-side gate rows as W_hh · h_{t−1} (LSTM F2, GRU G2), so its backward adds
 *   dW_hh += Σ_t dG_tᵀ · h_{t−1}
 * where dG_t [B, G] is the gradient reaching those gate rows at step t (LSTM: dPre; GRU: dHg).
 * Shapes: T time, B batch, G gate rows (4H or 3H), Hh the width of h (H, or P with projections).
 */
import type { Block, Kernels, StepPlan, Strided } from "../backend/kernels.js";
import { stepRows } from "../backend/kernels.js";

/** C += Aᵀ · B: the weight-gradient form of gemm. */
const ACCUMULATE_AT_B = { transA: true, transB: false, beta: 1 } as const;

/** The operands of the recurrent weight gradient of one direction. */
export interface RecurrentGradIO {
  /** dW_hh [G, Hh], accumulated into. */
  dW: Strided;
  /** dG [T, B, G] (row stride G): the gradient at the gate rows of every step. */
  dGates: Block;
  /** The direction's outputs y [T, B, Hh] (row stride y.ld): h_{t−1} of every step but the first. */
  y: Strided;
  /** h0 [B, Hh]: h_{t−1} of each row's first consumed step. */
  h0: Block;
}

/**
 * dW_hh += Σ_t dG_tᵀ · h_{t−1} in two kinds of product: the steps whose h_{t−1} is a stored
 * output (one product over T−1 steps), and each row's first consumed step, whose h_{t−1} is h0
 * (t = 0 forward; reversed, each row's last valid step: t = T−1 for every row without lengths,
 * rows [cont, n) of step t, stepRows).
 */
export function addRecurrentWeightGrad(
  k: Kernels,
  io: RecurrentGradIO,
  shape: { plan: StepPlan; G: number; Hh: number },
): void {
  const { plan, G, Hh } = shape;
  const { T, B, reverse } = plan;
  const { dW, dGates, y, h0 } = io;
  if (T > 1) {
    // t = 0…T−2 (reverse) or 1…T−1 (forward); their h_{t−1}: y at t+1 or t−1
    const hPrev: Strided = { buf: y.buf, off: reverse ? y.off + B * y.ld : y.off, ld: y.ld };
    const dG: Strided = { buf: dGates.buf, off: dGates.off + (reverse ? 0 : B * G), ld: G };
    k.gemm(dW, dG, hPrev, { m: G, n: Hh, k: (T - 1) * B, ...ACCUMULATE_AT_B });
  }
  for (let s = 0; s < T; s++) {
    const { t, n, cont } = stepRows(plan, s);
    if (s > 0 && !reverse) break;
    if (n <= cont) continue;
    const h0v: Strided = { buf: h0.buf, off: h0.off + cont * Hh, ld: Hh };
    const dG0: Strided = { buf: dGates.buf, off: dGates.off + (t * B + cont) * G, ld: G };
    k.gemm(dW, dG0, h0v, { m: G, n: Hh, k: n - cont, ...ACCUMULATE_AT_B });
    if (!plan.rows) break;
  }
}
