/**
 * Linear layer z = W·h + b applied to R rows, forward and backward side by side.
 * Letters: R rows (T·B or B), N input width, O outputs.
 */
import type { Kernels } from "../backend/kernels.js";
import type { FloatArray } from "../tensor/dtype.js";
import type { Strided } from "./lstm.js";

/** Offsets of W [O, N] and b [O] in the params and grads buffers. */
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
  params: FloatArray,
  p: LinearParams,
  R: number,
  N: number,
  O: number,
): void {
  k.fillBias(z, zOff, O, params, p.b, null, 0, R, O); // (L1) z = b
  k.gemm(z, zOff, O, h.buf, h.off, h.ld, false, params, p.w, N, true, R, O, N, 1); // (L2) z += h·Wᵀ
}

/** Inverts linearForward: dW += dzᵀ·h, db += Σ_r dz, dh [R, N] += dz·W. */
export function linearBackward(
  k: Kernels,
  grads: FloatArray,
  dh: Strided,
  dz: FloatArray,
  dzOff: number,
  h: Strided,
  params: FloatArray,
  p: LinearParams,
  R: number,
  N: number,
  O: number,
): void {
  k.gemm(grads, p.w, N, dz, dzOff, O, true, h.buf, h.off, h.ld, false, O, N, R, 1); // inverts L2 for W
  k.addColumnSums(grads, p.b, dz, dzOff, O, R, O); // inverts L1
  k.gemm(dh.buf, dh.off, dh.ld, dz, dzOff, O, false, params, p.w, N, false, R, N, O, 1); // inverts L2 for h
}
