/**
 * Linear layer z = W·h + b applied to R rows, forward and backward side by side.
 * Letters: R rows (T·B or B), N input width, O outputs.
 */
import type { Block, Kernels, Strided } from "../backend/kernels.js";

/** Offsets of W [O, N] and b [O] in the parameter table (params and grads add their base). */
export interface LinearParams {
  readonly w: number;
  readonly b: number;
}

/** Sizes of one pass: R rows of N inputs to O outputs. */
export interface LinearDims {
  readonly R: number;
  readonly N: number;
  readonly O: number;
}

/** Operands of linearForward. */
export interface LinearForwardIO {
  /** [R, O], row stride O. */
  readonly z: Block;
  /** [R, N] (stride h.ld). */
  readonly h: Strided;
  readonly params: Block;
}

/** z [R, O] = h [R, N] · Wᵀ + b */
export function linearForward(
  k: Kernels,
  io: LinearForwardIO,
  p: LinearParams,
  dims: LinearDims,
): void {
  const { R, N, O } = dims;
  const { buf: w, off: pb } = io.params;
  const z: Strided = { buf: io.z.buf, off: io.z.off, ld: O };
  k.fillBias(z, { buf: w, off: pb + p.b }, null, R, O); // (L1) z = b
  const W: Strided = { buf: w, off: pb + p.w, ld: N };
  k.gemm(z, io.h, W, { m: R, n: O, k: N, transA: false, transB: true, beta: 1 }); // (L2) z += h·Wᵀ
}

/** Operands of linearBackward. */
export interface LinearBackwardIO {
  /** dW, db accumulate here (offsets as in params). */
  readonly grads: Block;
  /** [R, N] += dz·W. */
  readonly dh: Strided;
  /** [R, O], row stride O: ∂loss/∂z. */
  readonly dz: Block;
  readonly h: Strided;
  readonly params: Block;
}

/** Inverts linearForward: dW += dzᵀ·h, db += Σ_r dz, dh [R, N] += dz·W. */
export function linearBackward(
  k: Kernels,
  io: LinearBackwardIO,
  p: LinearParams,
  dims: LinearDims,
): void {
  const { R, N, O } = dims;
  const { buf: g, off: gb } = io.grads;
  const { buf: w, off: pb } = io.params;
  const dz: Strided = { buf: io.dz.buf, off: io.dz.off, ld: O };
  const dW: Strided = { buf: g, off: gb + p.w, ld: N };
  k.gemm(dW, dz, io.h, { m: O, n: N, k: R, transA: true, transB: false, beta: 1 }); // inverts L2 for W
  k.addColumnSums({ buf: g, off: gb + p.b }, dz, R, O); // inverts L1
  const W: Strided = { buf: w, off: pb + p.w, ld: N };
  k.gemm(io.dh, dz, W, { m: R, n: N, k: O, transA: false, transB: false, beta: 1 }); // inverts L2 for h
}
