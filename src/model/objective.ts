/**
 * A model with a loss: forward, loss, and (optionally) backward in one call. The head output
 * stays in the caller's layout, so targets are laid out like the output.
 */
import { allocFloat, type FloatArray } from "../tensor/dtype.js";
import type { Rng } from "../tensor/rng.js";
import { ConfigError } from "../tensor/errors.js";
import {
  isLossKind,
  meanSquared,
  softmaxCrossEntropy,
  sumSquares,
  type LossKind,
} from "../loss/losses.js";
import type { BackwardResult, ForwardResult, LstmModel } from "./model.js";

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
   * sum_sq, mse: [T, B, O] (or [B, T, O]); mse_last: [B, O]; xent: class indices [T, B] (or [B, T]).
   */
  targets: ArrayLike<number>;
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

/** Head readout each loss uses: mse_last reads only the last time index. */
export function readoutFor(loss: LossKind): "all" | "last" {
  return loss === "mse_last" ? "last" : "all";
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
        `must be one of sum_sq, mse, mse_last, xent; got ${String(loss)}`,
      );
    this.dz = allocFloat(model.dtype, 0);
  }

  /** Forward and loss; with `backward` also BPTT, accumulating into model.grads. */
  run(b: SequenceBatch, backward = true): LossResult {
    const forward = this.model.forward(b.x, {
      seqLen: b.seqLen,
      batch: b.batch,
      batchFirst: b.batchFirst,
      h0: b.h0,
      c0: b.c0,
      readout: readoutFor(this.loss),
      oneHot: b.oneHot,
      mode: b.mode,
      rng: b.rng,
      dropoutMasks: b.dropoutMasks,
    });
    const z = forward.output;
    if (this.dz.length !== z.length) this.dz = allocFloat(this.model.dtype, z.length);
    const dz = this.dz;
    let loss: number;
    switch (this.loss) {
      case "sum_sq":
        loss = sumSquares(dz, z, b.targets);
        break;
      case "mse":
      case "mse_last":
        loss = meanSquared(dz, z, b.targets);
        break;
      case "xent": {
        const O = this.model.config.outputSize;
        loss = softmaxCrossEntropy(dz, z, b.targets, z.length / O, O);
        break;
      }
    }
    if (!backward) return { loss, forward };
    return { loss, forward, backward: this.backward() };
  }

  /**
   * BPTT from the loss of the last `run` (which may have skipped it, e.g. to check the loss
   * for NaN first); accumulates into model.grads.
   */
  backward(): BackwardResult {
    return this.model.backward(this.dz, { inputGrad: this.inputGrad });
  }
}
