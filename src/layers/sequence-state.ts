/**
 * The final and initial state of a recurrent layer, the same for every cell: forward, the state
 * after each row's last consumed step (LSTM F6, GRU G6); backward, the carry that starts from the
 * loss's gradient on that state (inverts F6 / G6) and what reaches the initial state once the
 * time loop is done (LSTM B6, GRU GB6).
 *
 * Letters: T time, B batch, W the state's width (H, or P with projections).
 */
import type { Block, Strided } from "../backend/kernels.js";

/** Which row of a [T, B, W] sequence holds each row's final state. */
export interface LastStepShape {
  readonly T: number;
  readonly B: number;
  /** Entries per row copied (W). */
  readonly W: number;
  /** Reversed directions end at t = 0. */
  readonly reverse: boolean;
  /** [B] each row's length (absent: every row has T steps). */
  readonly lengths?: ArrayLike<number> | null;
}

/**
 * (F6, G6) out [B, W] = seq at each row's last consumed step: t = len_b − 1 forward (T − 1
 * without lengths), t = 0 reversed. Row (t, b) of seq is at seq.off + (t·B + b)·seq.ld.
 */
export function takeLastSteps(out: Block, seq: Strided, shape: LastStepShape): void {
  const { T, B, W, reverse, lengths } = shape;
  for (let b = 0; b < B; b++) {
    const tLast = reverse ? 0 : (lengths ? lengths[b] : T) - 1;
    const r = seq.off + (tLast * B + b) * seq.ld;
    out.buf.set(seq.buf.subarray(r, r + W), out.off + b * W);
  }
}

/**
 * Inverts F6 / G6: the backward carry [n] starts as the loss's gradient on the final state, or
 * as zeros when the loss does not use it (null).
 */
export function startCarry(carry: Block, dFinal: Block | null, n: number): void {
  if (dFinal) carry.buf.set(dFinal.buf.subarray(dFinal.off, dFinal.off + n), carry.off);
  else carry.buf.fill(0, carry.off, carry.off + n);
}

/** (B6, GB6) dInit [n] += carry: what reaches the initial state after the first consumed step. */
export function addCarryToInitial(dInit: Block, carry: Block, n: number): void {
  for (let j = 0; j < n; j++) dInit.buf[dInit.off + j] += carry.buf[carry.off + j];
}
