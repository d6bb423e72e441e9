/** Runs a TextTrainJob with the ordinary Trainer: the part of train-worker.ts that is not I/O. */
import { initWasm } from "../backend/index.js";
import { splitTrainValid, Vocab } from "../data/text.js";
import { initParams } from "../model/init.js";
import { LstmModel } from "../model/model.js";
import { Rng } from "../tensor/rng.js";
import type { TrainListener } from "./events.js";
import { TextTask } from "./text-task.js";
import { Trainer } from "./trainer.js";
import type { TextTrainJob, WorkerTrainResult } from "./worker-protocol.js";

/** A job being run: `stop()` ends it after the current step, with the weights so far. */
export interface RunningJob {
  stop(): void;
  result: Promise<WorkerTrainResult>;
}

export function runTextJob(job: TextTrainJob, listener: TrainListener): RunningJob {
  let trainer: Trainer | null = null;
  let stopEarly = false;
  const result = (async (): Promise<WorkerTrainResult> => {
    // Browsers compile large WebAssembly modules only asynchronously on their main thread and
    // may in workers too; threads > 1 also start here.
    await initWasm({ threads: job.threads ?? 1 });
    const vocab = Vocab.fromText(job.text, "text");
    const { train, valid } = splitTrainValid(vocab.encode(job.text), job.validFraction ?? 0);
    const V = vocab.size;
    const model = new LstmModel(
      { ...job.model, inputSize: V, outputSize: V },
      { backend: job.backend, threads: job.threads },
    );
    initParams(model, new Rng(job.initSeed ?? job.train.seed), job.init);
    const task = new TextTask(model, train, valid, { batch: job.batch, seqLen: job.seqLen });
    trainer = new Trainer(model, task, job.train).on(listener);
    if (stopEarly) trainer.requestStop();
    try {
      const summary = await trainer.run();
      return {
        config: model.config,
        params: Float32Array.from(model.params),
        vocab: [...vocab.chars],
        summary,
        backend: model.kernels.name,
        threads: model.threads,
      };
    } finally {
      model.dispose();
    }
  })();
  return {
    stop() {
      stopEarly = true;
      trainer?.requestStop();
    },
    result,
  };
}
