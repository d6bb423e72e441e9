/**
 * A model with a loss: forward, loss, and (optionally) backward in one call. The head output
 * stays in the caller's layout, so targets are laid out like the output.
 */
import { allocFloat, type FloatArray } from "../tensor/dtype.js";
import type { Rng } from "../tensor/rng.js";
import { ConfigError } from "../tensor/errors.js";
import { checkLength } from "../tensor/shape.js";
import {
  isLossKind,
  meanSquared,
  softmaxCrossEntropy,
  sumSquares,
  weightedSoftmaxCrossEntropy,
  type LossKind,
} from "../loss/losses.js";
import type { BackwardResult, ForwardResult, LstmModel, Readout } from "./model.js";

/** A batch of sequences with its targets and optional initial state. */
export interface SequenceBatch {
  /** [T, B, I], or [B, T, I] when batchFirst. */
  x: ArrayLike<number>;
  seqLen: number;
  batch: number;
  batchFirst?: boolean;
  h0?: ArrayLike<number>;
  c0?: ArrayLike<number>;
  /**
   * sum_sq, mse: [T, B, O] (or [B, T, O]); mse_last: [B, O]; xent: class indices [T, B] (or
   * [B, T]); xent_final: class indices [B]. Entries at padded positions are ignored.
   */
  targets: ArrayLike<number>;
  /** Each row's length [B] in [1, T] (ForwardOptions.lengths); absent: every row has T steps. */
  lengths?: ArrayLike<number>;
  /** xent, xent_final: a weight per class [C] (F.cross_entropy's `weight`, weighted mean). */
  classWeights?: ArrayLike<number>;
  /** x holds token ids standing for one-hot rows (ForwardOptions.oneHot). */
  oneHot?: boolean;
  /** "train" applies the model's dropout (masks from `rng` or `dropoutMasks`); default "eval". */
  mode?: "train" | "eval";
  rng?: Rng;
  dropoutMasks?: Readonly<Record<string, ArrayLike<number>>>;
}

/** One run of an objective: the loss and the forward (and backward) results. */
export interface LossResult {
  loss: number;
  forward: ForwardResult;
  /** Present when backward ran. */
  backward?: BackwardResult;
}

/**
 * Head readout each loss uses: mse_last reads only the last step, xent_final the final states.
 */
export function readoutFor(loss: LossKind): Readout {
  return loss === "mse_last" ? "last" : loss === "xent_final" ? "final" : "all";
}

/** Options of an Objective. */
export interface ObjectiveOptions {
  /**
   * Whether backward computes ∂loss/∂x (default true). Training only the weights does not need
   * it; false saves the first layer's input-gradient product (BackwardResult.dx is then empty).
   */
  inputGrad?: boolean;
}

/** A model with a loss: forward, the loss and its gradient, and backward in one call (`run`). */
export class Objective {
  private dz: FloatArray;
  private readonly inputGrad: boolean;

  constructor(
    readonly model: LstmModel,
    readonly loss: LossKind,
    options: ObjectiveOptions = {},
  ) {
    this.inputGrad = options.inputGrad ?? true;
    if (!isLossKind(loss))
      throw new ConfigError(
        "loss",
        `must be one of sum_sq, mse, mse_last, xent, xent_final; got ${String(loss)}`,
      );
    this.dz = allocFloat(model.dtype, 0);
  }

  /** Forward and loss; with `backward` also BPTT, accumulating into model.grads. */
  run(b: SequenceBatch, backward = true): LossResult {
    const readout = readoutFor(this.loss);
    const forward = this.model.forward(b.x, {
      seqLen: b.seqLen,
      batch: b.batch,
      batchFirst: b.batchFirst,
      h0: b.h0,
      c0: b.c0,
      readout,
      lengths: b.lengths,
      oneHot: b.oneHot,
      mode: b.mode,
      rng: b.rng,
      dropoutMasks: b.dropoutMasks,
    });
    const z = forward.output;
    if (this.dz.length !== z.length) this.dz = allocFloat(this.model.dtype, z.length);
    const O = this.model.config.outputSize;
    // Per-step losses with lengths: over the valid positions only (padded ones get dz = 0).
    const valid =
      readout === "all" && b.lengths !== undefined
        ? validPositions({ T: b.seqLen, B: b.batch, batchFirst: b.batchFirst ?? false }, b.lengths)
        : null;
    const weights = b.classWeights;
    const loss = valid
      ? this.maskedLoss(z, b, valid)
      : lossInto(this.loss, { dz: this.dz, z, targets: b.targets, O, weights });
    if (!backward) return { loss, forward };
    return { loss, forward, backward: this.backward() };
  }

  /** The loss on the rows listed in `valid` (compacted, then dz scattered back, zero elsewhere). */
  private maskedLoss(z: FloatArray, b: SequenceBatch, valid: Int32Array): number {
    const targets = b.targets;
    const O = this.model.config.outputSize;
    const perRow = this.loss === "xent" ? 1 : O;
    checkLength("targets", targets, [(z.length / O) * perRow]);
    const n = valid.length;
    const zc = allocFloat(this.model.dtype, n * O);
    const dzc = allocFloat(this.model.dtype, n * O);
    const tc = new Float64Array(n * perRow);
    for (let i = 0; i < n; i++) {
      const r = valid[i];
      zc.set(z.subarray(r * O, r * O + O), i * O);
      for (let j = 0; j < perRow; j++) tc[i * perRow + j] = targets[r * perRow + j];
    }
    const loss = lossInto(this.loss, { dz: dzc, z: zc, targets: tc, O, weights: b.classWeights });
    this.dz.fill(0);
    for (let i = 0; i < n; i++) this.dz.set(dzc.subarray(i * O, i * O + O), valid[i] * O);
    return loss;
  }

  /**
   * BPTT from the loss of the last `run` (which may have skipped it, e.g. to check the loss
   * for NaN first); accumulates into model.grads.
   */
  backward(): BackwardResult {
    return this.model.backward(this.dz, { inputGrad: this.inputGrad });
  }
}

/** The loss `kind` of head output z (rows of O) against targets, writing ∂loss/∂z into dz. */
function lossInto(
  kind: LossKind,
  a: {
    dz: FloatArray;
    z: FloatArray;
    targets: ArrayLike<number>;
    O: number;
    weights?: ArrayLike<number>;
  },
): number {
  const { dz, z, targets, O, weights } = a;
  switch (kind) {
    case "sum_sq":
      return sumSquares(dz, z, targets);
    case "mse":
    case "mse_last":
      return meanSquared(dz, z, targets);
    case "xent":
    case "xent_final":
      if (weights)
        return weightedSoftmaxCrossEntropy(dz, z, targets, {
          rows: z.length / O,
          classes: O,
          weights,
        });
      return softmaxCrossEntropy(dz, z, targets, z.length / O, O);
  }
}

/** Output rows (in the output's layout) at valid positions t < len_b, in layout order. */
function validPositions(
  shape: { T: number; B: number; batchFirst: boolean },
  lengths: ArrayLike<number>,
): Int32Array {
  const { T, B, batchFirst } = shape;
  const out: number[] = [];
  for (let r = 0; r < T * B; r++) {
    const t = batchFirst ? r % T : Math.floor(r / B);
    const b = batchFirst ? Math.floor(r / T) : r % B;
    if (t < lengths[b]) out.push(r);
  }
  return Int32Array.from(out);
}
