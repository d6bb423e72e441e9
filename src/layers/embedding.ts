/**
 * Embedding lookup (PyTorch `nn.Embedding`): forward gathers table rows, backward scatter-adds
 * the rows' gradients into the touched rows only. Side by side.
 *
 * Letters: R rows (T·B, time-major), V table rows (vocabulary), E embedding width.
 */
import type { Block } from "../backend/kernels.js";
import { ConfigError } from "../tensor/errors.js";

/** Sizes of one lookup: R rows from a [V, E] table. */
export interface EmbeddingDims {
  readonly R: number;
  readonly V: number;
  readonly E: number;
}

/**
 * Checks token ids (integers in [0, V)) and returns them as row indices in time-major order:
 * `tokens` is [T, B], or [B, T] when batchFirst.
 */
export function tokenRows(
  tokens: ArrayLike<number>,
  shape: { T: number; B: number; batchFirst: boolean },
  V: number,
): Int32Array {
  const { T, B, batchFirst } = shape;
  const rows = new Int32Array(T * B);
  for (let t = 0; t < T; t++)
    for (let b = 0; b < B; b++) {
      const i = batchFirst ? b * T + t : t * B + b;
      const id = tokens[i];
      if (!Number.isInteger(id) || id < 0 || id >= V)
        throw new ConfigError(`x[${i}]`, `token id must be an integer in [0, ${V}), got ${id}`);
      rows[t * B + b] = id;
    }
  return rows;
}

/** (E1) out[r, :] = table[ids[r], :] for r < R: out [R, E] contiguous, table [V, E]. */
export function embeddingForward(
  out: Block,
  table: Block,
  ids: Int32Array,
  dims: EmbeddingDims,
): void {
  const { R, E } = dims;
  for (let r = 0; r < R; r++) {
    const src = table.off + ids[r] * E;
    out.buf.set(table.buf.subarray(src, src + E), out.off + r * E);
  }
}

/**
 * Inverts E1: dTable[ids[r], :] += dOut[r, :] for every row whose id is not `paddingIdx` (its
 * row gets no gradient, as in PyTorch). Only the touched rows of dTable change.
 */
export function embeddingBackward(
  dTable: Block,
  dOut: Block,
  ids: Int32Array,
  lookup: { dims: EmbeddingDims; paddingIdx: number | null },
): void {
  const { R, E } = lookup.dims;
  const g = dTable.buf;
  const d = dOut.buf;
  for (let r = 0; r < R; r++) {
    const id = ids[r];
    if (id === lookup.paddingIdx) continue;
    const dst = dTable.off + id * E;
    const src = dOut.off + r * E;
    for (let j = 0; j < E; j++) g[dst + j] += d[src + j];
  }
}
