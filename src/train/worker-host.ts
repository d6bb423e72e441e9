/**
 * Training off the main thread: `trainInWorker(job)` starts train-worker.js in a Web Worker (a
 * module worker) or, in Node, a worker_threads Worker, streams the trainer's events to the
 * caller, and resolves with the trained weights. The page's main thread only receives small
 * messages, so it keeps responding while the model trains.
 */
import { LstmModel, type ModelOptions } from "../model/model.js";
import { LstmError } from "../tensor/errors.js";
import type { TrainListener } from "./events.js";
import type { HostMessage, TrainJob, WorkerMessage, WorkerTrainResult } from "./worker-protocol.js";

/** Raised by a run's `done` when `cancel()` ended it, or when the worker failed. */
export class WorkerTrainingError extends LstmError {
  constructor(
    /** "cancelled", or the name of the error the worker raised (e.g. "ConfigError"). */
    readonly reason: string,
    message: string,
  ) {
    super("E_WORKER", message);
  }
}

/** Options of `trainInWorker`. */
export interface TrainInWorkerOptions {
  /**
   * The worker module (default: train-worker.js beside this module, which is where the package
   * and the browser bundle put it). Browsers start workers only from the page's own origin.
   */
  workerUrl?: string | URL;
}

/** A training run in a worker. */
export interface WorkerTraining {
  /** Resolves when training ends (budget, early stopping or `stop()`), with the weights. */
  readonly done: Promise<WorkerTrainResult>;
  /** Every TrainEvent the trainer emits, in order ("start", "step", "eval", …, "stop"). */
  on(listener: TrainListener): this;
  /** Ends training after the current step; `done` resolves with the weights so far. */
  stop(): void;
  /** Ends the worker at once; `done` rejects with a WorkerTrainingError ("cancelled"). */
  cancel(): void;
}

/** The part of a Web Worker or a Node Worker used here. */
interface WorkerLike {
  postMessage(message: HostMessage): void;
  terminate(): unknown;
}

interface WebWorkerCtor {
  new (
    url: string | URL,
    options: { type: "module" },
  ): WorkerLike & {
    addEventListener(
      type: string,
      handler: (e: { data?: unknown; message?: string }) => void,
    ): void;
  };
}

interface NodeWorkerCtor {
  new (url: URL): WorkerLike & {
    on(event: string, handler: (value: unknown) => void): void;
  };
}

type Handlers = { message(m: WorkerMessage): void; failure(e: unknown): void };

async function startWorker(url: URL, handlers: Handlers): Promise<WorkerLike> {
  const g = globalThis as { process?: { versions?: { node?: string } }; Worker?: WebWorkerCtor };
  if (g.process?.versions?.node !== undefined) {
    const id = "node:worker_threads"; // a variable: bundlers for browsers leave it alone
    const wt = (await import(/* @vite-ignore */ /* webpackIgnore: true */ id)) as {
      Worker: NodeWorkerCtor;
    };
    const w = new wt.Worker(url);
    w.on("message", (m) => handlers.message(m as WorkerMessage));
    w.on("error", handlers.failure);
    w.on("exit", (code) => handlers.failure(new Error(`the worker exited (code ${code})`)));
    return w;
  }
  if (g.Worker === undefined) throw new WorkerTrainingError("unsupported", "no Worker here");
  const w = new g.Worker(url, { type: "module" });
  w.addEventListener("message", (e) => handlers.message(e.data as WorkerMessage));
  w.addEventListener("error", (e) => handlers.failure(new Error(e.message ?? "worker error")));
  return w;
}

/**
 * Trains `job` (a character model, a forecaster or a sequence classifier) in a worker. Events
 * arrive as the trainer emits them; `done` gives the config, parameters, metadata and summary
 * (`modelFromResult` makes an LstmModel of them; `encodeModel(model, result.meta)` a model
 * file). A malformed job rejects `done` with a WorkerTrainingError whose reason is "ConfigError".
 */
export function trainInWorker(job: TrainJob, options: TrainInWorkerOptions = {}): WorkerTraining {
  const listeners: TrainListener[] = [];
  let worker: WorkerLike | null = null;
  let finished = false;
  let stopAsked = false;
  let settle!: { resolve(r: WorkerTrainResult): void; reject(e: unknown): void };
  const done = new Promise<WorkerTrainResult>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const finish = (outcome: { result: WorkerTrainResult } | { error: unknown }): void => {
    if (finished) return;
    finished = true;
    worker?.terminate();
    if ("result" in outcome) settle.resolve(outcome.result);
    else settle.reject(outcome.error);
  };
  const handlers: Handlers = {
    message(m) {
      if (m.type === "ready") {
        try {
          worker?.postMessage({ type: "start", job });
        } catch (e) {
          // A value structured clone cannot copy (a function, a class instance with methods):
          // the job's error, not an exception thrown out of the worker's message handler.
          const why = e instanceof Error ? e.message : String(e);
          const message = `ConfigError: job: cannot be sent to the worker (${why}); a job holds data only: strings, numbers, booleans, arrays and plain objects`;
          finish({ error: new WorkerTrainingError("ConfigError", message) });
          return;
        }
        if (stopAsked) worker?.postMessage({ type: "stop" });
      } else if (m.type === "event") for (const l of listeners) l(m.event);
      else if (m.type === "done") finish({ result: m.result });
      else finish({ error: new WorkerTrainingError(m.name, `${m.name}: ${m.message}`) });
    },
    failure(e) {
      finish({ error: new WorkerTrainingError("failed", `training worker: ${String(e)}`) });
    },
  };
  const url = new URL(options.workerUrl ?? new URL("./train-worker.js", import.meta.url));
  startWorker(url, handlers).then(
    (w) => {
      if (finished) w.terminate();
      else worker = w;
    },
    (e: unknown) => handlers.failure(e),
  );
  const run: WorkerTraining = {
    done,
    on(listener) {
      listeners.push(listener);
      return run;
    },
    stop() {
      stopAsked = true;
      worker?.postMessage({ type: "stop" });
    },
    cancel() {
      finish({ error: new WorkerTrainingError("cancelled", "training cancelled") });
    },
  };
  return run;
}

/** An LstmModel holding a worker's trained weights. */
export function modelFromResult(
  result: WorkerTrainResult,
  options: Omit<ModelOptions, "dtype"> = {},
): LstmModel {
  const model = new LstmModel(result.config, options);
  model.params.set(result.params);
  return model;
}
