import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { splitTrainValid, Vocab } from "../data/text.js";
import { initParams } from "../model/init.js";
import { LstmModel } from "../model/model.js";
import { Rng } from "../tensor/rng.js";
import type { TrainEvent } from "./events.js";
import { TextTask } from "./text-task.js";
import { Trainer } from "./trainer.js";
import { modelFromResult, trainInWorker, WorkerTrainingError } from "./worker-host.js";
import type { TextTrainJob } from "./worker-protocol.js";

const TEXT = "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. ".repeat(8); // prettier-ignore

function job(steps: number): TextTrainJob {
  return {
    task: "text",
    text: TEXT,
    validFraction: 0.1,
    batch: 4,
    seqLen: 16,
    model: { hiddenSize: 16 },
    init: { forgetBias: 1 },
    train: { optimizer: { kind: "adam", lr: 0.01 }, steps, evalEvery: 10, clipNorm: 5, seed: 3 },
  };
}

/** The same job on this thread, with the ordinary Trainer. */
async function trainHere(j: TextTrainJob): Promise<LstmModel> {
  const vocab = Vocab.fromText(j.text);
  const { train, valid } = splitTrainValid(vocab.encode(j.text), j.validFraction ?? 0);
  const model = new LstmModel({ ...j.model, inputSize: vocab.size, outputSize: vocab.size });
  initParams(model, new Rng(j.train.seed), j.init);
  const task = new TextTask(model, train, valid, { batch: j.batch, seqLen: j.seqLen });
  await new Trainer(model, task, j.train).run();
  return model;
}

describe("trainInWorker (Node worker_threads)", () => {
  it("streams every event and returns weights bit-identical to training on this thread", async () => {
    const events: TrainEvent[] = [];
    const run = trainInWorker(job(20)).on((e) => events.push(e));
    const result = await run.done;
    assert.equal(events[0].type, "start");
    assert.equal(events.at(-1)!.type, "stop");
    assert.deepEqual(
      events.filter((e) => e.type === "step").map((e) => e.step),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.equal(events.filter((e) => e.type === "eval").length, 2);
    assert.equal(result.summary.steps, 20);
    assert.equal(result.summary.stopReason, "steps");
    assert.deepEqual(result.vocab, [...Vocab.fromText(TEXT).chars]);
    const here = await trainHere(job(20));
    assert.deepEqual(result.params, Float32Array.from(here.params));
    const model = modelFromResult(result);
    assert.deepEqual(Float32Array.from(model.params), result.params);
    assert.equal(model.config.hiddenSize, 16);
  });

  it("stop() ends after the current step and still returns the weights", async () => {
    const run = trainInWorker(job(1_000_000));
    let stopped = false;
    run.on((e) => {
      if (e.type === "step" && e.step >= 3 && !stopped) {
        stopped = true;
        run.stop();
      }
    });
    const result = await run.done;
    assert.equal(result.summary.stopReason, "interrupted");
    assert.ok(result.summary.steps >= 3 && result.summary.steps < 1000, `${result.summary.steps}`);
    assert.ok(result.params.every(Number.isFinite));
  });

  it("cancel() ends the worker at once: done rejects", async () => {
    const run = trainInWorker(job(1_000_000));
    let steps = 0;
    run.on((e) => {
      if (e.type === "step" && ++steps === 2) run.cancel();
    });
    await assert.rejects(run.done, (e: unknown) => {
      assert.ok(e instanceof WorkerTrainingError);
      assert.equal(e.reason, "cancelled");
      return true;
    });
  });

  it("a bad job rejects with the worker's typed error, named", async () => {
    const bad = job(5);
    bad.train = { ...bad.train, seed: -1 };
    await assert.rejects(trainInWorker(bad).done, (e: unknown) => {
      assert.ok(e instanceof WorkerTrainingError);
      assert.equal(e.reason, "ConfigError");
      assert.match(e.message, /seed/);
      return true;
    });
  });
});
