/**
 * Forecasting from a numeric series: sliding windows of T steps of all C columns predict the
 * next K values of the target columns (direct multi-horizon; the head reads the last step,
 * outputSize = K·Ct). Windows are shuffled each epoch with the trainer's seeded Rng.
 *
 * Letters: T window, B windows per batch, C input columns, K horizon, Ct target columns.
 */
import type { SeriesWindows } from "../data/series.js";
import type { SequenceBatch } from "../model/objective.js";
import type { LstmModel } from "../model/model.js";
import { allocFloat, type FloatArray } from "../tensor/dtype.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import type { Rng } from "../tensor/rng.js";
import type { TaskState, TrainTask } from "./trainer.js";

export class SeriesTask implements TrainTask {
  readonly loss = "mse_last" as const;
  readonly stepsPerEpoch: number;
  readonly samplesPerStep: number;
  /** Windows per batch: the requested B, or fewer when the training part has fewer windows. */
  readonly batch: number;
  private order: Int32Array;
  private pos = 0;
  private epoch = 0;
  private readonly x: FloatArray; // [T, B, C]
  private readonly y: FloatArray; // [B, K·Ct]

  constructor(
    readonly model: LstmModel,
    readonly train: SeriesWindows,
    readonly valid: SeriesWindows | null,
    batch: number,
    /** Targets are changes from the window's last input value (trend-free), not levels. */
    readonly relative = false,
  ) {
    if (!Number.isInteger(batch) || batch < 1)
      throw new ConfigError("batch", `must be a positive integer, got ${batch}`);
    if (model.config.inputSize !== train.columns || model.config.outputSize !== train.outputSize)
      throw new ConfigError(
        "model",
        `needs inputSize ${train.columns} and outputSize ${train.outputSize}, has ${model.config.inputSize} and ${model.config.outputSize}`,
      );
    this.batch = Math.min(batch, train.count);
    this.stepsPerEpoch = Math.floor(train.count / this.batch);
    this.samplesPerStep = this.batch;
    this.order = new Int32Array(train.count);
    this.x = allocFloat(model.dtype, train.seqLen * this.batch * train.columns);
    this.y = allocFloat(model.dtype, this.batch * train.outputSize);
  }

  nextBatch(rng: Rng): SequenceBatch {
    if (this.pos === 0) this.order = this.train.shuffledOrder(rng);
    const B = this.batch;
    this.train.fill(this.order.subarray(this.pos * B, (this.pos + 1) * B), this.x, this.y);
    if (this.relative) toRelative(this.y, this.x, this.train, B);
    return { x: this.x, seqLen: this.train.seqLen, batch: B, targets: this.y };
  }

  afterStep(): void {
    this.advance();
  }

  resetState(): void {
    this.advance();
  }

  private advance(): void {
    this.pos++;
    if (this.pos >= this.stepsPerEpoch) {
      this.pos = 0;
      this.epoch++;
    }
  }

  /** Mean squared error (scaled units) over every validation window. */
  evaluate(model: LstmModel): number | null {
    return this.valid ? windowsMse(model, this.valid, this.relative) : null;
  }

  saveState(): TaskState {
    const order = allocFloat(this.model.dtype, this.order.length);
    order.set(this.order);
    return { json: { pos: this.pos, epoch: this.epoch }, tensors: { order } };
  }

  /** Restores the data position from `saveState`. */
  loadState(s: TaskState): void {
    const { pos, epoch } = s.json;
    if (
      !Number.isInteger(pos) ||
      (pos as number) < 0 ||
      (pos as number) >= this.stepsPerEpoch ||
      !Number.isInteger(epoch)
    )
      throw new FormatError(
        "checkpoint",
        `series position ${JSON.stringify(s.json)} does not fit this data`,
      );
    const order = s.tensors.order;
    if (!order || order.length !== this.train.count)
      throw new FormatError("checkpoint", "window order has the wrong size for this data");
    this.pos = pos as number;
    this.epoch = epoch as number;
    this.order = Int32Array.from(order);
  }
}

/**
 * Relative targets: y[b, k·Ct + j] −= x[T−1, b, target j], the change from the last observed
 * value. Forecasts add it back.
 */
function toRelative(y: FloatArray, x: FloatArray, w: SeriesWindows, B: number): void {
  const { seqLen: T, columns: C, outputSize: O, targetColumns } = w;
  const Ct = targetColumns.length;
  for (let b = 0; b < B; b++)
    for (let k = 0; k < O / Ct; k++)
      for (let j = 0; j < Ct; j++)
        y[b * O + k * Ct + j] -= x[((T - 1) * B + b) * C + targetColumns[j]];
}

/**
 * Model outputs for every window of `w` ([count, K·Ct], scaled units, as the model was trained:
 * changes when `relative`), in chunks of ≤ 256.
 */
export function predictWindows(model: LstmModel, w: SeriesWindows): Float64Array {
  const out = new Float64Array(w.count * w.outputSize);
  const chunk = Math.min(256, w.count);
  const x = allocFloat(model.dtype, w.seqLen * chunk * w.columns);
  const y = allocFloat(model.dtype, chunk * w.outputSize);
  for (let s = 0; s < w.count; s += chunk) {
    const B = Math.min(chunk, w.count - s);
    const idx = Int32Array.from({ length: B }, (_, i) => s + i);
    const xs = x.subarray(0, w.seqLen * B * w.columns);
    w.fill(idx, xs, y.subarray(0, B * w.outputSize));
    const r = model.forward(xs, { seqLen: w.seqLen, batch: B, readout: "last" });
    out.set(r.output, s * w.outputSize);
  }
  return out;
}

/** Mean squared error over all windows of `w` (F.mse_loss over [count, K·Ct]). */
export function windowsMse(model: LstmModel, w: SeriesWindows, relative = false): number {
  const pred = predictWindows(model, w);
  const y = allocFloat("float64", w.count * w.outputSize);
  const x = allocFloat("float64", w.seqLen * w.count * w.columns);
  w.fill(
    Int32Array.from({ length: w.count }, (_, i) => i),
    x,
    y,
  );
  if (relative) toRelative(y, x, w, w.count);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += (pred[i] - y[i]) ** 2;
  return s / y.length;
}
