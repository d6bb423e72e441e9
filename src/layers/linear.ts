/**
 * Linear layer z = W·h + b applied to R rows, forward and backward side by side.
 * Letters: R rows (T·B or B), N input width, O outputs.
 */
import type { Kernels } from "../backend/kernels.js";
import type { FloatArray } from "../tensor/dtype.js";
import type { Block, Strided } from "./lstm.js";

/** Offsets of W [O, N] and b [O] in the parameter table (params and grads add their base). */
export interface LinearParams {
  readonly w: number;
  readonly b: number;
}

/** z [R, O] = h [R, N] · Wᵀ + b */
export function linearForward(
  k: Kernels,
  z: FloatArray,
  zOff: number,
  h: Strided,
  params: Block,
  p: LinearParams,
  R: number,
  N: number,
  O: number,
): void {
  const w = params.buf;
  const pb = params.off;
  k.fillBias(z, zOff, O, w, pb + p.b, null, 0, R, O); // (L1) z = b
  k.gemm(z, zOff, O, h.buf, h.off, h.ld, false, w, pb + p.w, N, true, R, O, N, 1); // (L2) z += h·Wᵀ
}

/** Inverts linearForward: dW += dzᵀ·h, db += Σ_r dz, dh [R, N] += dz·W. */
export function linearBackward(
  k: Kernels,
  grads: Block,
  dh: Strided,
  dz: FloatArray,
  dzOff: number,
  h: Strided,
  params: Block,
  p: LinearParams,
  R: number,
  N: number,
  O: number,
): void {
  const g = grads.buf;
  const gb = grads.off;
  const w = params.buf;
  const pb = params.off;
  k.gemm(g, gb + p.w, N, dz, dzOff, O, true, h.buf, h.off, h.ld, false, O, N, R, 1); // inverts L2 for W
  k.addColumnSums(g, gb + p.b, dz, dzOff, O, R, O); // inverts L1
  k.gemm(dh.buf, dh.off, dh.ld, dz, dzOff, O, false, w, pb + p.w, N, false, R, N, O, 1); // inverts L2 for h
}
