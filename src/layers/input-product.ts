/**
 * The input side of a recurrent layer, the same for every cell (LSTM F1, GRU G1 of
 * docs/derivation.md: biases plus x·W_ihᵀ for all steps at once) and its backward (B8–B10,
 * GB8). The product is dense (one gemm) or, for one-hot rows given by their ids, x_t·W_ihᵀ is
 * column id_t of W_ih: a column gather, and its gradient a scatter-add into the used columns,
 * R·G operations instead of R·G·I.
 *
 * Letters: R rows (T·B), G gate rows (gates·H), I input width (V for one-hot).
 */
import type { Block, Kernels, Strided } from "../backend/kernels.js";
import type { LayerDims, SequenceBackwardIO, SequenceForwardIO } from "./cell.js";

/** Sizes of the product: R rows, G outputs per row, I inputs. */
export interface InputProductDims {
  readonly R: number;
  readonly G: number;
  readonly I: number;
}

/** Operands: out [R, G] (+=), x [R, I] or one-hot ids [R] (then x is not read), W_ih [G, I]. */
interface InputProductIO {
  readonly out: Strided;
  readonly x: Strided;
  readonly ids: Int32Array | null;
  readonly w: Strided;
}

/** (F1) out += x·W_ihᵀ; with ids, out[r, g] += W_ih[g, ids[r]]. */
function inputProduct(k: Kernels, io: InputProductIO, dims: InputProductDims): void {
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
interface InputGradIO {
  readonly dW: Strided;
  readonly dPre: Strided;
  readonly x: Strided;
  readonly ids: Int32Array | null;
}

/** Inverts F1 for W_ih: dW += dPreᵀ·x; with ids, dW[g, ids[r]] += dPre[r, g]. */
function inputProductWeightGrad(k: Kernels, io: InputGradIO, dims: InputProductDims): void {
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

/**
 * The input side of one direction's gate rows: G rows per step at offset `out` of the activation
 * buffer (forward) or dPre (backward); W_ih [G, I] and the bias vectors [G] added on the input
 * side, as offsets into the parameter table (LSTM: b_ih and b_hh; GRU: b_ih only, its b_hh sits
 * in the recurrence).
 */
export interface InputSide {
  readonly G: number;
  readonly wIh: number;
  readonly biases: readonly [number] | readonly [number, number];
}

/**
 * (F1, G1) gates [T·B, G] = Σ biases + x·W_ihᵀ for all rows at once: every gate row's input side,
 * written at `gates` in io.act.
 */
export function inputGates(
  k: Kernels,
  io: SequenceForwardIO,
  dims: LayerDims,
  side: InputSide,
  gates: number,
): void {
  const { G } = side;
  const { I } = dims;
  const R = dims.T * dims.B;
  const { buf: p, off: pb } = io.params;
  const bias = (off: number): Block => ({ buf: p, off: pb + off });
  const [b1, b2] = side.biases;
  const out: Strided = { buf: io.act, off: gates, ld: G };
  k.fillBias(out, bias(b1), b2 === undefined ? null : bias(b2), R, G);
  const w: Strided = { buf: p, off: pb + side.wIh, ld: I };
  inputProduct(k, { out, x: io.x, ids: io.ids ?? null, w }, { R, G, I });
}

/**
 * Inverts inputGates (LSTM B8–B10, GRU GB8) from dPre [T·B, G] = ∂loss/∂gates (row stride G):
 * dW_ih += dPreᵀ·x, each bias += Σ_r dPre (in the order of side.biases), dx += dPre·W_ih (when
 * io.dx is given).
 */
export function inputGatesBackward(
  k: Kernels,
  io: SequenceBackwardIO<unknown>,
  dims: LayerDims,
  side: InputSide,
  dGates: Block,
): void {
  const { G } = side;
  const { I } = dims;
  const R = dims.T * dims.B;
  const { buf: g, off: gb } = io.grads;
  const dPre: Strided = { buf: dGates.buf, off: dGates.off, ld: G };
  const dW: Strided = { buf: g, off: gb + side.wIh, ld: I };
  inputProductWeightGrad(k, { dW, dPre, x: io.x, ids: io.ids ?? null }, { R, G, I });
  for (const b of side.biases) k.addColumnSums({ buf: g, off: gb + b }, dPre, R, G);
  if (io.dx) {
    const wIh: Strided = { buf: io.params.buf, off: io.params.off + side.wIh, ld: I };
    k.gemm(io.dx, dPre, wIh, { m: R, n: I, k: G, transA: false, transB: false, beta: 1 });
  }
}
