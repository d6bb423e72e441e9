/**
 * Sequence classification: batches of variable-length rows (grouped by length, longest first,
 * `planBatches`), one class per row from the last layer's final states (`xent_final`, readout
 * "final", per-row lengths so padding costs no recurrent compute). Character rows enter through
 * an embedding (padding_idx 0) or one-hot (I = V, id 0 = padding never read); numeric rows as
 * their F standardised values.
 *
 * Letters: T longest row of a batch, B rows, V vocabulary (with padding), F features, C classes.
 */
import {
  padNumberBatch,
  padTokenBatch,
  planBatches,
  type PaddedBatch,
  type SequenceSet,
} from "../data/classify.js";
import type { LstmModel } from "../model/model.js";
import { Objective, type SequenceBatch } from "../model/objective.js";
import type { FloatArray } from "../tensor/dtype.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import type { Rng } from "../tensor/rng.js";
import type { TaskState, TrainTask } from "./trainer.js";

/** Rows of a set and how to batch them. */
export interface ClassifyTaskOptions {
  /** Rows per batch (B). */
  batch: number;
  /** The training rows of `set`. */
  train: Int32Array;
  /** Validation rows (mean loss per evaluation), possibly empty. */
  valid: Int32Array;
  /** [C] class weights of the training loss (validation stays unweighted); default none. */
  classWeights?: ArrayLike<number> | null;
}

/**
 * A padded batch as the model takes it: character ids (an embedding's tokens, or ids standing
 * for one-hot rows: the first layer gathers W_ih columns, no [T, B, V] array) or numeric values,
 * with each row's length.
 */
function modelBatch(model: LstmModel, set: SequenceSet, rows: Int32Array): SequenceBatch {
  const tokens = set.sequences[rows[0]] instanceof Int32Array;
  const p: PaddedBatch<Int32Array | FloatArray> = tokens
    ? padTokenBatch(set, rows)
    : padNumberBatch(set, rows, { dtype: model.dtype });
  const x = tokens ? Float64Array.from(p.x as Int32Array) : (p.x as FloatArray);
  return {
    x,
    seqLen: p.seqLen,
    batch: p.batch,
    lengths: p.lengths,
    targets: p.targets ?? new Int32Array(p.batch),
    // Without an embedding, character ids stand for one-hot rows (id 0, padding, is never read).
    oneHot: tokens && !model.config.embedding,
  };
}

/**
 * [N, C] head logits of every row of `rows` (default: all of `set`), in that order, batched
 * longest first. Inference only (no gradient).
 */
export function classifyLogits(
  model: LstmModel,
  set: SequenceSet,
  opts: { rows?: Int32Array; batch?: number } = {},
): Float64Array {
  const rows = opts.rows ?? Int32Array.from(set.lengths, (_, i) => i);
  const C = model.config.outputSize;
  const out = new Float64Array(rows.length * C);
  const where = new Map<number, number>();
  rows.forEach((r, i) => where.set(r, i));
  for (const b of planBatches(set.lengths, rows, { batchSize: opts.batch ?? 256 })) {
    const mb = modelBatch(model, set, b);
    const r = model.forward(mb.x, { ...mb, readout: "final", checkParams: false });
    for (let i = 0; i < b.length; i++)
      out.set(r.output.subarray(i * C, (i + 1) * C), where.get(b[i])! * C);
  }
  return out;
}

export class ClassifyTask implements TrainTask {
  readonly loss = "xent_final" as const;
  readonly stepsPerEpoch: number;
  readonly samplesPerStep: number;
  private batches: Int32Array[] = [];
  private pos = 0;

  constructor(
    readonly model: LstmModel,
    readonly set: SequenceSet,
    readonly opts: ClassifyTaskOptions,
  ) {
    const B = opts.batch;
    if (!Number.isInteger(B) || B < 1)
      throw new ConfigError("batch", `must be a positive integer, got ${B}`);
    if (opts.train.length === 0) throw new ConfigError("train", "no training rows");
    this.stepsPerEpoch = Math.ceil(opts.train.length / B);
    this.samplesPerStep = Math.min(B, opts.train.length);
  }

  nextBatch(rng: Rng): SequenceBatch {
    if (this.pos >= this.batches.length) {
      this.batches = planBatches(this.set.lengths, this.opts.train, {
        batchSize: this.opts.batch,
        rng,
      });
      this.pos = 0;
    }
    const batch = modelBatch(this.model, this.set, this.batches[this.pos]);
    if (this.opts.classWeights) batch.classWeights = this.opts.classWeights;
    return batch;
  }

  afterStep(): void {
    this.pos++;
  }

  resetState(): void {
    this.pos++;
  }

  /** Mean cross-entropy (nats) over the validation rows, or null without any. */
  evaluate(model: LstmModel): number | null {
    const rows = this.opts.valid;
    if (rows.length === 0) return null;
    const objective = new Objective(model, "xent_final");
    let sum = 0;
    for (const b of planBatches(this.set.lengths, rows, { batchSize: 256 })) {
      const r = objective.run(modelBatch(model, this.set, b), false);
      sum += r.loss * b.length;
    }
    return sum / rows.length;
  }

  saveState(): TaskState {
    const sizes = Float64Array.from(this.batches, (b) => b.length);
    const rows = new Float64Array(sizes.reduce((a, n) => a + n, 0));
    let at = 0;
    for (const b of this.batches) {
      rows.set(b, at);
      at += b.length;
    }
    return { json: { pos: this.pos }, tensors: { batchSizes: sizes, batchRows: rows } };
  }

  loadState(s: TaskState): void {
    const pos = s.json.pos;
    const sizes = s.tensors.batchSizes;
    const rows = s.tensors.batchRows;
    if (typeof pos !== "number" || !sizes || !rows)
      throw new FormatError("checkpoint", "task state: expected pos, batchSizes and batchRows");
    const batches: Int32Array[] = [];
    let at = 0;
    for (const n of sizes) {
      batches.push(Int32Array.from(rows.subarray(at, at + n)));
      at += n;
    }
    const N = this.set.lengths.length;
    if (at !== rows.length || batches.some((b) => b.some((r) => r < 0 || r >= N)))
      throw new FormatError("checkpoint", "task state: batch rows do not fit this data");
    this.batches = batches;
    this.pos = pos;
  }
}
