/**
 * Inverted dropout (PyTorch semantics): a dropped tensor is t ⊙ m / (1 − p) with m of 0/1
 * entries. A mask buffer holds the scaled factors m / (1 − p), so forward and backward are the
 * same product: y = x ⊙ s, and dx = dy ⊙ s. Masks come from the caller's seeded Rng (same seed,
 * same masks) or are given (fixtures).
 *
 * Letters: T time, B batch, W the tensor's width; masks are time-major [T, B, W].
 */
import type { Block } from "../backend/kernels.js";
import type { FloatArray } from "../tensor/dtype.js";
import { ConfigError } from "../tensor/errors.js";
import type { Rng } from "../tensor/rng.js";

/** (D0) s[i] = 0 with probability p, else 1/(1 − p): n factors drawn from rng, in order. */
export function drawMask(s: Block, n: number, p: number, rng: Rng): void {
  const keep = 1 / (1 - p);
  for (let i = 0; i < n; i++) s.buf[s.off + i] = rng.uniform() < p ? 0 : keep;
}

/**
 * s = m / (1 − p) from a given 0/1 mask m [T, B, W] (or [B, T, W] when batchFirst), time-major.
 * `name` labels errors.
 */
export function givenMask(
  s: Block,
  mask: ArrayLike<number>,
  shape: { T: number; B: number; W: number; batchFirst: boolean; p: number },
  name: string,
): void {
  const { T, B, W, batchFirst, p } = shape;
  if (mask.length !== T * B * W)
    throw new ConfigError(name, `expected ${T * B * W} mask entries, got ${mask.length}`);
  const keep = 1 / (1 - p);
  for (let t = 0; t < T; t++)
    for (let b = 0; b < B; b++) {
      const src = (batchFirst ? b * T + t : t * B + b) * W;
      const dst = s.off + (t * B + b) * W;
      for (let w = 0; w < W; w++) {
        const m = mask[src + w];
        if (m !== 0 && m !== 1)
          throw new ConfigError(`${name}[${src + w}]`, `must be 0 or 1, got ${m}`);
        s.buf[dst + w] = m * keep;
      }
    }
}

/** (D1) x[i] *= s[i] for i < n, in place: forward of dropout, and its backward on a gradient. */
export function scaleByMask(x: Block, s: Block, n: number): void {
  for (let i = 0; i < n; i++) x.buf[x.off + i] *= s.buf[s.off + i];
}

/** out[i] = x[i] · s[i] for i < n (dropout into another buffer). */
export function maskInto(out: Block, x: Block, s: Block, n: number): void {
  const o: FloatArray = out.buf;
  for (let i = 0; i < n; i++) o[out.off + i] = x.buf[x.off + i] * s.buf[s.off + i];
}

/** Inverts maskInto into an accumulating gradient: dx[i] += dy[i] · s[i]. */
export function addMasked(dx: Block, dy: Block, s: Block, n: number): void {
  for (let i = 0; i < n; i++) dx.buf[dx.off + i] += dy.buf[dy.off + i] * s.buf[s.off + i];
}
