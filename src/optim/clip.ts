/**
 * Gradient clipping as torch.nn.utils.clip_grad_norm_ (norm_type 2) and clip_grad_value_, on a
 * flat gradient buffer (LstmModel.grads holds every parameter's gradient, so the norm is the
 * global norm over all parameters, as torch computes it over the parameter list).
 */
import type { FloatArray } from "../tensor/dtype.js";
import { ConfigError } from "../tensor/errors.js";

/**
 * The 2-norm of `grads`: sqrt of the sum of squares, accumulated in float64. NaN if any entry
 * is NaN, Infinity if any entry is infinite. A sum that overflows although every entry is
 * finite (only possible for float64 entries beyond ~1e154) is recomputed with scaling.
 */
export function gradNorm(grads: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < grads.length; i++) s += grads[i] * grads[i];
  if (s !== Infinity) return Math.sqrt(s);
  let max = 0;
  for (let i = 0; i < grads.length; i++) {
    const a = Math.abs(grads[i]);
    if (a === Infinity) return Infinity;
    if (a > max) max = a;
  }
  s = 0;
  for (let i = 0; i < grads.length; i++) {
    const r = grads[i] / max;
    s += r * r;
  }
  return max * Math.sqrt(s);
}

/** What clipGradNorm measured and did. */
export interface ClipResult {
  /** The 2-norm of the gradients before clipping (NaN or Infinity if they were not finite). */
  totalNorm: number;
  /** The factor the gradients were multiplied by: min(maxNorm / (totalNorm + eps), 1). */
  scale: number;
}

/**
 * Scales `grads` in place so that their 2-norm is at most about `maxNorm`, as
 * torch.nn.utils.clip_grad_norm_(params, maxNorm, norm_type=2): clip_coef = maxNorm /
 * (totalNorm + eps), and the gradients are multiplied by clip_coef only when it is below 1.
 *
 * If the total norm is NaN or infinite the gradients are left untouched and `scale` is 1, so the
 * caller can see `totalNorm` and skip the step (torch would multiply by a NaN or zero factor).
 */
export function clipGradNorm(grads: FloatArray, maxNorm: number, eps = 1e-6): ClipResult {
  if (typeof maxNorm !== "number" || !Number.isFinite(maxNorm) || maxNorm <= 0)
    throw new ConfigError("maxNorm", `must be a finite number > 0, got ${String(maxNorm)}`);
  if (typeof eps !== "number" || !Number.isFinite(eps) || eps < 0)
    throw new ConfigError("eps", `must be a finite number ≥ 0, got ${String(eps)}`);
  const totalNorm = gradNorm(grads);
  if (!Number.isFinite(totalNorm)) return { totalNorm, scale: 1 };
  const coef = maxNorm / (totalNorm + eps);
  if (coef >= 1) return { totalNorm, scale: 1 };
  for (let i = 0; i < grads.length; i++) grads[i] *= coef;
  return { totalNorm, scale: coef };
}

/**
 * Clamps every gradient entry to [−clipValue, clipValue] in place, as
 * torch.nn.utils.clip_grad_value_. NaN entries stay NaN. Returns how many entries were clamped.
 */
export function clipGradValue(grads: FloatArray, clipValue: number): number {
  if (typeof clipValue !== "number" || !Number.isFinite(clipValue) || clipValue <= 0)
    throw new ConfigError("clipValue", `must be a finite number > 0, got ${String(clipValue)}`);
  let clamped = 0;
  for (let i = 0; i < grads.length; i++) {
    const g = grads[i];
    if (g > clipValue) {
      grads[i] = clipValue;
      clamped++;
    } else if (g < -clipValue) {
      grads[i] = -clipValue;
      clamped++;
    }
  }
  return clamped;
}
