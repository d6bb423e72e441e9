/**
 * The input product of a recurrent layer (F1 of docs/derivation.md) and its weight gradient,
 * for dense rows (one product) or for one-hot rows given by their ids: then x_t·W_ihᵀ is column
 * id_t of W_ih, so the product is a column gather and its gradient a scatter-add into the used
 * columns, R·G operations instead of R·G·I.
 *
 * Letters: R rows (T·B), G gate rows (gates·H), I input width (V for one-hot).
 */
import type { Kernels, Strided } from "../backend/kernels.js";

/** Sizes of the product: R rows, G outputs per row, I inputs. */
export interface InputProductDims {
  readonly R: number;
  readonly G: number;
  readonly I: number;
}

/** Operands: out [R, G] (+=), x [R, I] or one-hot ids [R] (then x is not read), W_ih [G, I]. */
export interface InputProductIO {
  readonly out: Strided;
  readonly x: Strided;
  readonly ids: Int32Array | null;
  readonly w: Strided;
}

/** (F1) out += x·W_ihᵀ; with ids, out[r, g] += W_ih[g, ids[r]]. */
export function inputProduct(k: Kernels, io: InputProductIO, dims: InputProductDims): void {
  const { R, G, I } = dims;
  const { out, ids, w } = io;
  if (!ids) {
    k.gemm(out, io.x, w, { m: R, n: G, k: I, transA: false, transB: true, beta: 1 });
    return;
  }
  const o = out.buf;
  const W = w.buf;
  for (let r = 0; r < R; r++) {
    const row = out.off + r * out.ld;
    const col = w.off + ids[r];
    for (let g = 0; g < G; g++) o[row + g] += W[col + g * w.ld];
  }
}

/** Operands of the weight gradient: dW [G, I] (+=), dPre [R, G], x [R, I] or ids [R]. */
export interface InputGradIO {
  readonly dW: Strided;
  readonly dPre: Strided;
  readonly x: Strided;
  readonly ids: Int32Array | null;
}

/** Inverts F1 for W_ih: dW += dPreᵀ·x; with ids, dW[g, ids[r]] += dPre[r, g]. */
export function inputProductWeightGrad(k: Kernels, io: InputGradIO, dims: InputProductDims): void {
  const { R, G, I } = dims;
  const { dW, dPre, ids } = io;
  if (!ids) {
    k.gemm(dW, dPre, io.x, { m: G, n: I, k: R, transA: true, transB: false, beta: 1 });
    return;
  }
  const g0 = dW.buf;
  const d = dPre.buf;
  for (let r = 0; r < R; r++) {
    const row = dPre.off + r * dPre.ld;
    const col = dW.off + ids[r];
    for (let g = 0; g < G; g++) g0[col + g * dW.ld] += d[row + g];
  }
}
