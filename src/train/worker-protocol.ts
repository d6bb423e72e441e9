/**
 * Training in a worker: the job (plain data, so it crosses to a Web Worker or a Node worker
 * thread by structured clone) and the messages between the caller (worker-host.ts) and the
 * worker (train-worker.ts), which runs the job with the ordinary Trainer.
 */
import type { ModelConfig, ModelConfigInput } from "../model/config.js";
import type { InitOptions } from "../model/init.js";
import type { TrainEvent } from "./events.js";
import type { TrainOptions, TrainSummary } from "./trainer.js";

/**
 * A character language model trained on `text` (the vocabulary is every code point of it), as
 * `lstm train-text` and the browser demo train: B contiguous streams, windows of `seqLen`
 * characters, the state carried from one window to the next.
 */
export interface TextTrainJob {
  task: "text";
  text: string;
  /** The end of the text held out for validation (default 0: none). */
  validFraction?: number;
  batch: number;
  seqLen: number;
  /** The LSTM: hiddenSize, numLayers, …; inputSize and outputSize are the vocabulary size. */
  model: Omit<ModelConfigInput, "inputSize" | "outputSize">;
  /** Kernel backend (default: the fastest available) and threads inside the worker (default 1). */
  backend?: string;
  threads?: number;
  /** Weight initialisation, drawn from `new Rng(initSeed)` (default: train.seed). */
  init?: InitOptions;
  initSeed?: number;
  /** Optimizer, budget, clipping, schedule, evaluation and seed, as for `new Trainer`. */
  train: TrainOptions;
}

/** What a worker sends back when training ends. */
export interface WorkerTrainResult {
  /** The trained model's configuration and parameters (PyTorch order, float32). */
  config: ModelConfig;
  params: Float32Array;
  /** The vocabulary, index = the model's input and output index. */
  vocab: string[];
  summary: TrainSummary;
  /** The kernel backend and the number of threads the worker trained with. */
  backend: string;
  threads: number;
}

/** Caller → worker. */
export type HostMessage = { type: "start"; job: TextTrainJob } | { type: "stop" };

/** Worker → caller; "ready" first, once the worker listens (then the caller sends "start"). */
export type WorkerMessage =
  | { type: "ready" }
  | { type: "event"; event: TrainEvent }
  | { type: "done"; result: WorkerTrainResult }
  | { type: "error"; name: string; message: string };
