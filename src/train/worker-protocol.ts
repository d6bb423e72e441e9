/**
 * Training in a worker: the job (plain data, so it crosses to a Web Worker or a Node worker
 * thread by structured clone) and the messages between the caller (worker-host.ts) and the
 * worker (train-worker.ts), which runs the job with the ordinary Trainer.
 */
import type { SequenceKind } from "../data/classify.js";
import type { MissingPolicy } from "../data/series.js";
import type { ModelMeta } from "../io/model-file.js";
import type { ModelConfig, ModelConfigInput } from "../model/config.js";
import type { InitOptions } from "../model/init.js";
import type { TrainEvent } from "./events.js";
import type { TrainOptions, TrainSummary } from "./trainer.js";

/** What every job kind shares: the kernels, the initialisation and the trainer's options. */
export interface WorkerJobCommon {
  /** Kernel backend (default: the fastest available) and threads inside the worker (default 1). */
  backend?: string;
  threads?: number;
  /** Weight initialisation, drawn from `new Rng(initSeed)` (default: train.seed). */
  init?: InitOptions;
  initSeed?: number;
  /** Optimizer, budget, clipping, schedule, evaluation and seed, as for `new Trainer`. */
  train: TrainOptions;
}

/**
 * A character language model trained on `text` (the vocabulary is every code point of it), as
 * `lstm train-text` and the browser demo train: B contiguous streams, windows of `seqLen`
 * characters, the state carried from one window to the next.
 */
export interface TextTrainJob extends WorkerJobCommon {
  task: "text";
  text: string;
  /** The end of the text held out for validation (default 0: none). */
  validFraction?: number;
  batch: number;
  seqLen: number;
  /** The LSTM: hiddenSize, numLayers, …; inputSize and outputSize are the vocabulary size. */
  model: Omit<ModelConfigInput, "inputSize" | "outputSize">;
}

/**
 * A forecaster trained on numeric columns, as `lstm train-series` trains one (the same split,
 * log transform, scaler fitted on the training rows, windows and metadata): windows of `seqLen`
 * rows of every column predict the next `horizon` rows of the target columns.
 */
export interface SeriesTrainJob extends WorkerJobCommon {
  task: "series";
  /**
   * The data: CSV text with a header row, read as `lstm train-series` reads its file (`source`
   * names it in messages, default "data"), or the columns as arrays of finite numbers, all of
   * one length (`times`: optional time stamps, one a row).
   */
  data:
    | { csv: string; source?: string; timeColumn?: string | null; missing?: MissingPolicy }
    | { values: Record<string, number[]>; times?: string[] };
  /** The input columns, in order (names in the CSV header or keys of `values`). */
  columns: string[];
  /** The columns to forecast (default: all of `columns`). */
  targets?: string[];
  /** K: rows ahead (default 1). */
  horizon?: number;
  /** T: input rows per window. */
  seqLen: number;
  /** Windows per batch. */
  batch: number;
  /** Rows at the end kept for validation and, after them, for testing (defaults 0.15, 0.15). */
  validFraction?: number;
  testFraction?: number;
  /** "log" for positive series that grow multiplicatively (default "none"). */
  transform?: "none" | "log";
  /** Predict changes from the window's last value instead of levels (default false). */
  relative?: boolean;
  /** The LSTM: cell, hiddenSize, numLayers, projSize, dropout; the sizes come from the data. */
  model: Omit<ModelConfigInput, "inputSize" | "outputSize" | "embedding" | "tiedHead">;
}

/**
 * A sequence classifier trained on labelled rows, as `lstm train-classify` trains one (the same
 * classes, vocabulary or scaler, stratified validation split, test rows, packed lengths and
 * readout of the last layer's final states, and the same metadata).
 */
export interface ClassifyTrainJob extends WorkerJobCommon {
  task: "classify";
  /**
   * The rows: CSV text with a header row, read as `lstm train-classify` reads its file (the
   * columns named by `textColumn` and `labelColumn`, `source` names it in messages), or the
   * sequences and their labels as arrays. A sequence is a string (`kind` "chars"), or numbers
   * (`kind` "numbers"): one feature per step, or an array of F features per step.
   */
  data:
    | { csv: string; source?: string; textColumn: string; labelColumn: string }
    | { sequences: (string | number[] | number[][])[]; labels: string[] };
  /** "chars" (default) or "numbers". */
  kind?: SequenceKind;
  /** Rows per batch. */
  batch: number;
  /** Each class's rows held out for validation (default 0.1); the last rows for testing (default 0). */
  validFraction?: number;
  testFraction?: number;
  /** Weight the loss by inverse class frequency of the training rows (default false). */
  classWeights?: boolean;
  /**
   * The LSTM: cell, hiddenSize, numLayers, bidirectional, projSize, dropout, and `embedding`:
   * for "chars", E, an embedding table of width E (padding id 0) instead of one-hot input.
   */
  model: Omit<ModelConfigInput, "inputSize" | "outputSize" | "embedding" | "tiedHead"> & {
    embedding?: number;
  };
}

/** A job for `trainInWorker`: a character model, a forecaster or a sequence classifier. */
export type TrainJob = TextTrainJob | SeriesTrainJob | ClassifyTrainJob;

/** What a worker sends back when training ends. */
export interface WorkerTrainResult {
  /** The trained model's configuration and parameters (PyTorch order, float32). */
  config: ModelConfig;
  params: Float32Array;
  /**
   * What the CLI saves beside the weights of a model of this task (vocabulary, series columns
   * and scaler, or classes; the training summary): `encodeModel(modelFromResult(r), r.meta)`
   * is a model file that `decodeModel` and every `lstm` command read as they read the CLI's.
   */
  meta: ModelMeta;
  /** Text jobs: the vocabulary, index = the model's input and output index; else empty. */
  vocab: string[];
  summary: TrainSummary;
  /** The kernel backend and the number of threads the worker trained with. */
  backend: string;
  threads: number;
}

/** Caller → worker. */
export type HostMessage = { type: "start"; job: TrainJob } | { type: "stop" };

/** Worker → caller; "ready" first, once the worker listens (then the caller sends "start"). */
export type WorkerMessage =
  | { type: "ready" }
  | { type: "event"; event: TrainEvent }
  | { type: "done"; result: WorkerTrainResult }
  | { type: "error"; name: string; message: string };
