/**
 * Character language modelling with truncated BPTT (char-rnn): B contiguous streams cut into
 * windows of T steps; the state after window k is the initial state of window k+1 (carried
 * without backpropagating into window k), and is reset to zero at the start of every epoch.
 *
 * Letters: T window length, B streams, V vocabulary (= I, one-hot input), L·D·B·H carried state.
 */
import { TextBatches } from "../data/text.js";
import type { LossResult, SequenceBatch } from "../model/objective.js";
import { Objective } from "../model/objective.js";
import { hiddenOut, tokenCount } from "../model/config.js";
import type { LstmModel } from "../model/model.js";
import { allocFloat, type FloatArray } from "../tensor/dtype.js";
import { DataError, FormatError } from "../tensor/errors.js";
import type { TaskState, TrainTask } from "./trainer.js";

/** Batch layout of a TextTask: B streams, windows of T characters. */
export interface TextTaskOptions {
  batch: number;
  seqLen: number;
  /** At most this many validation windows per evaluation (default 50). */
  maxEvalWindows?: number;
}

export class TextTask implements TrainTask {
  readonly loss = "xent" as const;
  readonly stepsPerEpoch: number;
  readonly samplesPerStep: number;
  private readonly batches: TextBatches;
  private readonly validIds: Int32Array;
  private readonly xIds: Int32Array; // [T, B]
  private readonly yIds: Int32Array; // [T, B]
  private readonly h: FloatArray; // [L·D, B, H] carried state
  private readonly c: FloatArray;
  private window = 0;
  private epoch = 0;
  private readonly V: number;
  private readonly maxEvalWindows: number;

  constructor(
    readonly model: LstmModel,
    trainIds: Int32Array,
    validIds: Int32Array,
    readonly opts: TextTaskOptions,
  ) {
    const cfg = model.config;
    this.V = tokenCount(cfg);
    if (cfg.outputSize !== this.V)
      throw new DataError(
        `a character model needs outputSize = inputSize = V, got ${cfg.outputSize} and ${this.V}`,
      );
    this.batches = new TextBatches(trainIds, opts.batch, opts.seqLen);
    this.validIds = validIds;
    const { batch: B, seqLen: T } = opts;
    this.stepsPerEpoch = this.batches.windowsPerEpoch;
    this.samplesPerStep = T * B;
    this.xIds = new Int32Array(T * B);
    this.yIds = new Int32Array(T * B);
    const S = cfg.numLayers * (cfg.bidirectional ? 2 : 1) * B;
    this.h = allocFloat(model.dtype, S * hiddenOut(cfg));
    this.c = allocFloat(model.dtype, model.cellStateSize(B)); // empty for a GRU
    this.maxEvalWindows = opts.maxEvalWindows ?? 50;
  }

  nextBatch(): SequenceBatch {
    const { batch: B, seqLen: T } = this.opts;
    this.batches.window(this.window, this.xIds, this.yIds);
    // Token ids either way: an embedding looks them up, one-hot input gathers W_ih columns.
    const oneHot = !this.model.config.embedding;
    return {
      x: this.xIds,
      oneHot,
      seqLen: T,
      batch: B,
      h0: this.h,
      c0: this.c,
      targets: this.yIds,
    };
  }

  afterStep(r: LossResult): void {
    this.h.set(r.forward.hN);
    this.c.set(r.forward.cN);
    this.advance();
  }

  resetState(): void {
    this.h.fill(0);
    this.c.fill(0);
    this.advance();
  }

  private advance(): void {
    this.window++;
    if (this.window >= this.batches.windowsPerEpoch) {
      this.window = 0;
      this.epoch++;
      this.h.fill(0);
      this.c.fill(0);
    }
  }

  /**
   * Mean cross-entropy (nats per character) on the validation text, read as streams from a
   * zero state with the state carried across windows, as in training.
   */
  evaluate(model: LstmModel): number | null {
    return streamCrossEntropy(
      model,
      this.validIds,
      this.opts.batch,
      this.opts.seqLen,
      this.maxEvalWindows,
    );
  }

  saveState(): TaskState {
    return {
      json: { window: this.window, epoch: this.epoch },
      tensors: { h: this.h.slice(), c: this.c.slice() },
    };
  }

  /** Restores the data position and carried state from `saveState`. */
  loadState(s: TaskState): void {
    const w = s.json.window;
    const e = s.json.epoch;
    if (
      !Number.isInteger(w) ||
      (w as number) < 0 ||
      (w as number) >= this.batches.windowsPerEpoch ||
      !Number.isInteger(e)
    )
      throw new FormatError(
        "checkpoint",
        `text position ${JSON.stringify(s.json)} does not fit this data`,
      );
    if (s.tensors.h?.length !== this.h.length || s.tensors.c?.length !== this.c.length)
      throw new FormatError(
        "checkpoint",
        "carried state has the wrong size for this model and batch",
      );
    this.window = w as number;
    this.epoch = e as number;
    this.h.set(s.tensors.h);
    this.c.set(s.tensors.c);
  }
}

/**
 * Mean cross-entropy of predicting each id from the ids before it, with B streams of windows
 * of T and the state carried (fewer streams when the text is short). Without a window limit the
 * shorter last window of each stream is included too, so with B = 1 every id after the first is
 * predicted exactly once from all the ids before it; with B > 1 the last (N − 1) mod B ids are
 * left out. Null for fewer than 2 ids.
 */
export function streamCrossEntropy(
  model: LstmModel,
  ids: Int32Array,
  batch: number,
  seqLen: number,
  maxWindows = Infinity,
  /** Called after each window with the positions predicted so far and in all. */
  onProgress?: (done: number, total: number) => void,
): number | null {
  if (ids.length < 2) return null;
  const B = Math.max(1, Math.min(batch, Math.floor((ids.length - 1) / seqLen)));
  const T = Math.min(seqLen, ids.length - 1);
  const batches = new TextBatches(ids, B, T);
  const cfg = model.config;
  const S = cfg.numLayers * (cfg.bidirectional ? 2 : 1) * B;
  const h = allocFloat(model.dtype, S * hiddenOut(cfg));
  const c = allocFloat(model.dtype, model.cellStateSize(B)); // empty for a GRU
  const xIds = new Int32Array(T * B);
  const yIds = new Int32Array(T * B);
  const objective = new Objective(model, "xent");
  const n = Math.min(batches.windowsPerEpoch, maxWindows);
  const totalPositions = maxWindows === Infinity ? batches.streamLength * B : n * T * B;
  let sum = 0; // Σ loss × positions
  let count = 0;
  const run = (len: number): void => {
    const xs = xIds.subarray(0, len * B);
    const oneHot = !cfg.embedding;
    const r = objective.run(
      { x: xs, oneHot, seqLen: len, batch: B, h0: h, c0: c, targets: yIds.subarray(0, len * B) },
      false,
    );
    sum += r.loss * len * B;
    count += len * B;
    onProgress?.(count, totalPositions);
    h.set(r.forward.hN);
    c.set(r.forward.cN);
  };
  for (let k = 0; k < n; k++) {
    batches.window(k, xIds, yIds);
    run(T);
  }
  const tail = batches.streamLength - n * T; // the rest of each stream, shorter than T
  if (maxWindows === Infinity && tail > 0) {
    const L = batches.streamLength;
    for (let b = 0; b < B; b++)
      for (let t = 0; t < tail; t++) {
        xIds[t * B + b] = ids[b * L + n * T + t];
        yIds[t * B + b] = ids[b * L + n * T + t + 1];
      }
    run(tail);
  }
  return sum / count;
}
