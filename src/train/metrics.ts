/**
 * Classification metrics: accuracy, per-class precision / recall / F1 / support, macro-F1, the
 * confusion matrix, the majority-class baseline, and top-k class probabilities from logits.
 * Browser-safe, no allocation beyond the result.
 *
 * Letters: N rows, C classes, B rows of logits, K labels asked for.
 */
import { ConfigError, NonFiniteError, ShapeError } from "../tensor/errors.js";

/** Scores of one class. Precision is 0 when the class was never predicted (as scikit-learn's zero_division=0). */
export interface ClassScores {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  /** Rows whose true class this is. */
  support: number;
}

/**
 * What `lstm eval --json` prints for a classifier (`accuracy`, `macroF1`, `perClass`,
 * `confusion`, `labels`), plus the row count and the majority-class baseline.
 */
export interface ClassificationMetrics {
  /** [C] class names; index c of `confusion` and `perClass` is `labels[c]`. */
  labels: string[];
  /** N: rows evaluated. */
  count: number;
  /** Correct rows ÷ N. */
  accuracy: number;
  /**
   * Unweighted mean of the per-class F1 over the classes that occur in the true or the
   * predicted labels (scikit-learn's `f1_score(average="macro")`).
   */
  macroF1: number;
  /** [C] in label order. */
  perClass: ClassScores[];
  /** [C][C] confusion[t][p]: rows of true class t predicted as p (rows true, columns predicted). */
  confusion: number[][];
  /** Always predicting `label` (the most frequent class of the reference labels, usually the training rows). */
  baseline: { label: string; accuracy: number; macroF1: number };
}

function checkIds(name: string, ids: ArrayLike<number>, C: number): void {
  for (let i = 0; i < ids.length; i++) {
    const c = ids[i];
    if (!Number.isInteger(c) || c < 0 || c >= C)
      throw new ConfigError(name, `entry ${i} is ${c}, expected a class id in [0, ${C})`);
  }
}

/** [C][C] counts, rows true class, columns predicted class. */
export function confusionMatrix(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  C: number,
): number[][] {
  if (!Number.isInteger(C) || C < 1)
    throw new ConfigError("classes", `must be a positive integer, got ${C}`);
  if (predicted.length !== truth.length)
    throw new ShapeError("predicted", truth.length, predicted.length);
  checkIds("truth", truth, C);
  checkIds("predicted", predicted, C);
  const m = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  for (let i = 0; i < truth.length; i++) m[truth[i]][predicted[i]]++;
  return m;
}

/** Accuracy, macro-F1 and per-class scores from a confusion matrix. */
function scoresOf(
  confusion: number[][],
  labels: readonly string[],
): Pick<ClassificationMetrics, "accuracy" | "macroF1" | "perClass"> {
  const C = labels.length;
  let n = 0;
  let correct = 0;
  let f1Sum = 0;
  let present = 0;
  const perClass: ClassScores[] = [];
  for (let c = 0; c < C; c++) {
    let support = 0;
    let predictedAs = 0;
    for (let k = 0; k < C; k++) {
      support += confusion[c][k];
      predictedAs += confusion[k][c];
    }
    const tp = confusion[c][c];
    n += support;
    correct += tp;
    const precision = predictedAs > 0 ? tp / predictedAs : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    perClass.push({ label: labels[c], precision, recall, f1, support });
    if (support > 0 || predictedAs > 0) {
      f1Sum += f1;
      present++;
    }
  }
  return {
    accuracy: n > 0 ? correct / n : 0,
    macroF1: present > 0 ? f1Sum / present : 0,
    perClass,
  };
}

/** The most frequent class id of `ids` (the lowest id on a tie). */
export function majorityClass(ids: ArrayLike<number>, C: number): number {
  if (ids.length === 0) throw new ConfigError("ids", "no labels to take the majority of");
  checkIds("ids", ids, C);
  const counts = new Array<number>(C).fill(0);
  for (let i = 0; i < ids.length; i++) counts[ids[i]]++;
  let best = 0;
  for (let c = 1; c < C; c++) if (counts[c] > counts[best]) best = c;
  return best;
}

/** What `classificationMetrics` scores: true and predicted class ids and the class names. */
export interface ClassificationInput {
  /** [N] true class ids. */
  truth: ArrayLike<number>;
  /** [N] predicted class ids. */
  predicted: ArrayLike<number>;
  /** [C] class names. */
  labels: readonly string[];
  /**
   * Labels the majority-class baseline learns from: the training rows' class ids. Default
   * `truth` (the evaluated rows' own majority: an optimistic baseline).
   */
  reference?: ArrayLike<number>;
}

/** Every metric of a set of predictions, beside the majority-class baseline. */
export function classificationMetrics(input: ClassificationInput): ClassificationMetrics {
  const { truth, predicted, labels } = input;
  const C = labels.length;
  if (truth.length === 0) throw new ConfigError("truth", "no rows to evaluate");
  const confusion = confusionMatrix(truth, predicted, C);
  const major = majorityClass(input.reference ?? truth, C);
  const base = scoresOf(
    confusionMatrix(truth, new Array<number>(truth.length).fill(major), C),
    labels,
  );
  return {
    labels: [...labels],
    count: truth.length,
    ...scoresOf(confusion, labels),
    confusion,
    baseline: { label: labels[major], accuracy: base.accuracy, macroF1: base.macroF1 },
  };
}

/**
 * Softmax of logits[offset … offset+C) into `out` ([C]), stable: the largest logit is subtracted
 * before exp, so logits of ±1000 give exact probabilities, not Infinity / NaN. Returns `out`.
 * NonFiniteError on a NaN or infinite logit.
 */
export function softmaxInto(
  logits: ArrayLike<number>,
  offset: number,
  out: Float64Array,
): Float64Array {
  const C = out.length;
  if (offset < 0 || offset + C > logits.length)
    throw new ShapeError("logits", offset + C, logits.length);
  let max = -Infinity;
  for (let c = 0; c < C; c++) {
    const z = logits[offset + c];
    if (!Number.isFinite(z)) throw new NonFiniteError("logits", offset + c, z);
    if (z > max) max = z;
  }
  let sum = 0;
  for (let c = 0; c < C; c++) {
    const e = Math.exp(logits[offset + c] - max);
    out[c] = e;
    sum += e;
  }
  for (let c = 0; c < C; c++) out[c] /= sum;
  return out;
}

/** One candidate of `topK`. */
export interface LabelProbability {
  label: string;
  /** Class id. */
  index: number;
  probability: number;
}

/**
 * The K most probable classes of each row of logits ([B, C] row-major, B = logits.length / C),
 * most probable first (the lower class id on a tie), probabilities by a stable softmax.
 */
export function topK(
  logits: ArrayLike<number>,
  labels: readonly string[],
  k: number,
): LabelProbability[][] {
  const C = labels.length;
  if (C < 1) throw new ConfigError("labels", "no classes");
  if (!Number.isInteger(k) || k < 1)
    throw new ConfigError("k", `must be a positive integer, got ${k}`);
  if (logits.length % C !== 0)
    throw new ShapeError("logits", [logits.length / C, C], logits.length, " for [B, C]");
  const K = Math.min(k, C);
  const p = new Float64Array(C);
  const order = Array.from({ length: C }, (_, c) => c);
  const rows: LabelProbability[][] = [];
  for (let off = 0; off < logits.length; off += C) {
    softmaxInto(logits, off, p);
    order.sort((a, b) => p[b] - p[a] || a - b);
    rows.push(order.slice(0, K).map((c) => ({ label: labels[c], index: c, probability: p[c] })));
  }
  return rows;
}

/** [B] the class id of the largest logit of each row ([B, C]); the lower id on a tie. */
export function argmaxRows(logits: ArrayLike<number>, C: number): Int32Array {
  if (!Number.isInteger(C) || C < 1)
    throw new ConfigError("classes", `must be a positive integer, got ${C}`);
  if (logits.length % C !== 0)
    throw new ShapeError("logits", [logits.length / C, C], logits.length, " for [B, C]");
  const out = new Int32Array(logits.length / C);
  for (let b = 0; b < out.length; b++) {
    let best = 0;
    for (let c = 0; c < C; c++) {
      const z = logits[b * C + c];
      if (!Number.isFinite(z)) throw new NonFiniteError("logits", b * C + c, z);
      if (z > logits[b * C + best]) best = c;
    }
    out[b] = best;
  }
  return out;
}
