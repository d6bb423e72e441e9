/**
 * Losses on the head output z, each returning the loss and writing ∂loss/∂z. Sums run in
 * float64 whatever the dtype of z.
 */
import type { FloatArray } from "../tensor/dtype.js";
import { ConfigError, DataError, NonFiniteError } from "../tensor/errors.js";
import { checkFinite, checkLength } from "../tensor/shape.js";

/**
 * sum_sq: ½Σ(z − y)² over every step; mse: the mean of (z − y)² over every step (F.mse_loss);
 * mse_last: the mean over the last step only (sequence-to-one); xent: mean softmax
 * cross-entropy over every step; xent_final: mean softmax cross-entropy of one class per
 * sequence, read from the last layer's final states (sequence classification). With per-row
 * lengths, "every step" means every valid step and "last" each row's last valid step.
 */
export type LossKind = "sum_sq" | "mse" | "mse_last" | "xent" | "xent_final";
/** Every loss kind, for validating user input. */
export const LOSS_KINDS: readonly LossKind[] = ["sum_sq", "mse", "mse_last", "xent", "xent_final"];
/** The losses the golden-fixture format defines. */
export const FIXTURE_LOSS_KINDS: readonly LossKind[] = ["sum_sq", "mse_last", "xent", "xent_final"];

export function isLossKind(v: unknown): v is LossKind {
  return typeof v === "string" && (LOSS_KINDS as readonly string[]).includes(v);
}

/**
 * Σ (z − target)² over every entry, summed in float64, after checking target (as long as z,
 * finite); writes dz[i] = (dzScale.mul · e) / dzScale.div with e = z[i] − target[i] (two
 * numbers, not a callback: a call per element is slow, and 1·e/1 = e exactly).
 */
function sumSquaredErrors(
  dz: FloatArray,
  z: ArrayLike<number>,
  target: ArrayLike<number>,
  dzScale: { readonly mul: number; readonly div: number },
): number {
  checkLength("targets", target, [z.length]);
  checkFinite("targets", target);
  const { mul, div } = dzScale;
  let sum = 0;
  for (let i = 0; i < z.length; i++) {
    const e = z[i] - target[i];
    dz[i] = (mul * e) / div;
    sum += e * e;
  }
  return sum;
}

/** loss = ½ Σ (z − target)²; dz = z − target (the sign: ∂/∂z of (z − y)² is +2(z − y)). */
export function sumSquares(
  dz: FloatArray,
  z: ArrayLike<number>,
  target: ArrayLike<number>,
): number {
  return 0.5 * sumSquaredErrors(dz, z, target, { mul: 1, div: 1 });
}

/** loss = (1/n) Σ (z − target)² (F.mse_loss, reduction "mean"); dz = 2(z − target)/n. */
export function meanSquared(
  dz: FloatArray,
  z: ArrayLike<number>,
  target: ArrayLike<number>,
): number {
  const n = z.length;
  return sumSquaredErrors(dz, z, target, { mul: 2, div: n }) / n;
}

/** targets[r] as a class index, which must be an integer in [0, classes). */
function targetClass(targets: ArrayLike<number>, r: number, classes: number): number {
  const y = targets[r];
  if (!Number.isInteger(y) || y < 0 || y >= classes)
    throw new DataError(`targets: element ${r} is ${y}, expected a class index in [0, ${classes})`);
  return y;
}

/**
 * logsumexp of the row z[o … o + classes): the max is subtracted before exp, so large logits do
 * not overflow; a non-finite max (an infinite or NaN logit) is an error.
 */
function rowLogSumExp(z: ArrayLike<number>, o: number, classes: number): number {
  let max = -Infinity;
  for (let c = 0; c < classes; c++) if (z[o + c] > max) max = z[o + c];
  if (!Number.isFinite(max)) throw new NonFiniteError("logits", o, max);
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp(z[o + c] - max);
  return Math.log(sum) + max;
}

/**
 * Fused softmax + cross-entropy, mean over R rows of C logits (F.cross_entropy, "mean"):
 * loss = (1/R) Σ_r [logsumexp(z_r) − z_r[target_r]]; dz_r = (softmax(z_r) − onehot(target_r))/R.
 * The max is subtracted before exp, so large logits do not overflow.
 */
export function softmaxCrossEntropy(
  dz: FloatArray,
  z: ArrayLike<number>,
  targets: ArrayLike<number>,
  rows: number,
  classes: number,
): number {
  if (z.length !== rows * classes)
    throw new ConfigError("logits", `expected ${rows}×${classes} values, got ${z.length}`);
  checkLength("targets", targets, [rows]);
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const y = targetClass(targets, r, classes);
    const o = r * classes;
    const logSum = rowLogSumExp(z, o, classes);
    loss += logSum - z[o + y];
    for (let c = 0; c < classes; c++) dz[o + c] = Math.exp(z[o + c] - logSum) / rows;
    dz[o + y] -= 1 / rows;
  }
  return loss / rows;
}

/**
 * Class-weighted softmax cross-entropy (F.cross_entropy with `weight`, reduction "mean"):
 * loss = Σ_r w[y_r]·(logsumexp(z_r) − z_r[y_r]) / Σ_r w[y_r];
 * dz_r = w[y_r]·(softmax(z_r) − onehot(y_r)) / Σ_r w[y_r]. `weights` [C] are finite and ≥ 0.
 */
export function weightedSoftmaxCrossEntropy(
  dz: FloatArray,
  z: ArrayLike<number>,
  targets: ArrayLike<number>,
  shape: { rows: number; classes: number; weights: ArrayLike<number> },
): number {
  const { rows, classes, weights } = shape;
  checkLength("classWeights", weights, [classes]);
  for (let c = 0; c < classes; c++)
    if (!(weights[c] >= 0 && Number.isFinite(weights[c])))
      throw new ConfigError(
        "classWeights",
        `entry ${c} is ${weights[c]}, expected a finite weight ≥ 0`,
      );
  checkLength("targets", targets, [rows]);
  let total = 0;
  for (let r = 0; r < rows; r++) total += weights[targetClass(targets, r, classes)];
  if (!(total > 0)) throw new DataError("classWeights: the rows of this batch weigh 0 in total");
  let weighted = 0;
  for (let r = 0; r < rows; r++) {
    const y = targets[r];
    const w = weights[y] / total;
    const o = r * classes;
    const logSum = rowLogSumExp(z, o, classes);
    weighted += w * (logSum - z[o + y]);
    for (let c = 0; c < classes; c++) dz[o + c] = w * Math.exp(z[o + c] - logSum);
    dz[o + y] -= w;
  }
  return weighted;
}
