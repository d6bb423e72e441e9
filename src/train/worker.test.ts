import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { splitTrainValid, Vocab } from "../data/text.js";
import { decodeModel, encodeModel } from "../io/model-file.js";
import { initParams } from "../model/init.js";
import { LstmModel } from "../model/model.js";
import { Rng } from "../tensor/rng.js";
import type { TrainEvent } from "./events.js";
import { TextTask } from "./text-task.js";
import { Trainer } from "./trainer.js";
import { modelFromResult, trainInWorker, WorkerTrainingError } from "./worker-host.js";
import type { ClassifyTrainJob, SeriesTrainJob, TextTrainJob } from "./worker-protocol.js";
import { SeriesTask } from "./series-task.js";
import { prepareSeries } from "./series-setup.js";

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

/** Asks `run` to stop once it reports step `step`; its result. */
function stopAfterStep(run: ReturnType<typeof trainInWorker>, step: number) {
  let stopped = false;
  run.on((e) => {
    if (e.type === "step" && e.step >= step && !stopped) {
      stopped = true;
      run.stop();
    }
  });
  return run.done;
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
    const result = await stopAfterStep(trainInWorker(job(1_000_000)), 3);
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

  it("a job holding a function rejects with a ConfigError instead of throwing", async () => {
    const bad = job(5);
    (bad.train as unknown as Record<string, unknown>).seed = () => 1;
    await assert.rejects(trainInWorker(bad).done, (e: unknown) => {
      assert.ok(e instanceof WorkerTrainingError);
      assert.equal(e.reason, "ConfigError");
      assert.match(e.message, /cannot be sent to the worker/);
      return true;
    });
  });
});

/** Two columns: a sine and a noisy copy shifted by one step. */
function seriesJob(steps: number): SeriesTrainJob {
  const N = 80;
  const a = Array.from({ length: N }, (_, i) => Math.sin(i / 3));
  const b = a.map((x, i) => 0.5 * (a[i - 1] ?? 0) + 0.1 * Math.cos(7 * i));
  return {
    task: "series",
    data: { values: { a, b } },
    columns: ["a", "b"],
    targets: ["a"],
    horizon: 2,
    seqLen: 8,
    batch: 8,
    model: { cell: "gru", hiddenSize: 6, numLayers: 2 },
    train: { optimizer: { kind: "adam", lr: 0.01 }, steps, evalEvery: 5, seed: 4 },
  };
}

/** Words of a's and b's (class "ab") and of x's and y's ("xy"). */
function classifyJob(steps: number): ClassifyTrainJob {
  const sequences: string[] = [];
  const labels: string[] = [];
  for (let i = 0; i < 40; i++) {
    const chars = i % 2 === 0 ? "ab" : "xy";
    sequences.push(Array.from({ length: 2 + (i % 5) }, (_, j) => chars[(i + j) % 2]).join(""));
    labels.push(chars);
  }
  return {
    task: "classify",
    data: { sequences, labels },
    batch: 8,
    model: { hiddenSize: 6, bidirectional: true, embedding: 4, projSize: 3 },
    train: { optimizer: { kind: "adam", lr: 0.02 }, steps, evalEvery: 5, seed: 2 },
  };
}

describe("trainInWorker: series and classify jobs", () => {
  it("a series job trains on the CLI's windows: weights bit-identical to training here", async () => {
    const events: TrainEvent[] = [];
    const result = await trainInWorker(seriesJob(10)).on((e) => events.push(e)).done;
    assert.equal(events[0].type, "start");
    assert.equal(events.at(-1)!.type, "stop");
    assert.equal(events.filter((e) => e.type === "eval").length, 2);
    assert.equal(result.summary.steps, 10);
    // The same job on this thread, through the code train-series runs.
    const j = seriesJob(10);
    const values = j.data as { values: Record<string, number[]> };
    const { windows } = prepareSeries(
      {
        columns: ["a", "b"],
        values: Float64Array.from(values.values.a.flatMap((x, i) => [x, values.values.b[i]])),
        times: null,
        timeColumn: null,
      },
      {
        ...{ source: "data", targets: ["a"], validFraction: 0.15, testFraction: 0.15 },
        ...{ transform: "none", seqLen: 8, horizon: 2, relative: false, missing: "error" },
      },
    );
    const model = new LstmModel({ ...j.model, inputSize: 2, outputSize: windows.train.outputSize });
    initParams(model, new Rng(j.train.seed));
    await new Trainer(
      model,
      new SeriesTask(model, windows.train, windows.valid, j.batch),
      j.train,
    ).run();
    assert.deepEqual(result.params, Float32Array.from(model.params));
    // The result is a model file as train-series writes one.
    const loaded = decodeModel(encodeModel(modelFromResult(result), result.meta), "worker");
    assert.equal(loaded.meta.task, "series");
    assert.deepEqual(loaded.meta.series!.targetColumns, ["a"]);
    assert.equal(loaded.meta.series!.horizon, 2);
    assert.equal(loaded.meta.training!.steps, 10);
    assert.equal(loaded.model.config.cell, "gru");
  });

  it("a classify job (embedding, bidirectional, projection) returns a classifier's model file", async () => {
    const events: TrainEvent[] = [];
    const result = await trainInWorker(classifyJob(6)).on((e) => events.push(e)).done;
    assert.equal(events.filter((e) => e.type === "step").length, 6);
    assert.ok(events.some((e) => e.type === "eval"));
    assert.deepEqual(result.meta.classifier!.classes, ["ab", "xy"]);
    assert.deepEqual(result.meta.classifier!.vocab, ["a", "b", "x", "y"]);
    assert.deepEqual(result.meta.input, { kind: "embedding" });
    assert.deepEqual(result.config.embedding, { numEmbeddings: 5, paddingIdx: 0 });
    assert.equal(result.config.inputSize, 4);
    assert.equal(result.config.outputSize, 2);
    assert.equal(result.config.projSize, 3);
    const loaded = decodeModel(encodeModel(modelFromResult(result), result.meta), "worker");
    assert.equal(loaded.meta.task, "classify");
    assert.deepEqual(Float32Array.from(loaded.model.params), result.params);
  });

  it("a numeric classify job from CSV text; stop() returns the weights so far", async () => {
    const rows = ["seq,label"];
    for (let i = 0; i < 30; i++)
      rows.push(`"[${i % 2 ? "1, 2, 3" : "-1, -2"}]",${i % 2 ? "up" : "down"}`);
    const run = trainInWorker({
      ...classifyJob(1_000_000),
      data: { csv: rows.join("\n"), textColumn: "seq", labelColumn: "label" },
      kind: "numbers",
      model: { hiddenSize: 4 },
    });
    const result = await stopAfterStep(run, 2);
    assert.equal(result.summary.stopReason, "interrupted");
    assert.deepEqual(result.meta.input, { kind: "dense" });
    assert.equal(result.meta.classifier!.kind, "numbers");
    assert.equal(result.meta.classifier!.textColumn, "seq");
    assert.ok(result.params.every(Number.isFinite));
  });

  for (const [name, bad, reason, message] of [
    [
      "a misspelt model key",
      { ...seriesJob(2), model: { hidden: 4 } },
      "ConfigError",
      /job: model\.(hidden|hiddenSize)/,
    ],
    [
      "a NaN in the columns",
      { ...seriesJob(2), data: { values: { a: [1, NaN], b: [1, 2] } } },
      "ConfigError",
      /data\.values\.a\[1\]/,
    ],
    [
      "both csv and values",
      { ...seriesJob(2), data: { csv: "a\n1\n", values: {} } },
      "ConfigError",
      /exactly one/,
    ],
    [
      "a column that is not given",
      { ...seriesJob(2), columns: ["a", "c"] },
      "ConfigError",
      /c is not a key/,
    ],
    ["an unknown task", { ...seriesJob(2), task: "regress" }, "ConfigError", /task/],
    [
      "labels that do not match",
      { ...classifyJob(2), data: { sequences: ["ab", "xy"], labels: ["ab"] } },
      "ConfigError",
      /one label per sequence/,
    ],
    [
      "one class only",
      { ...classifyJob(2), data: { sequences: ["ab", "ba"], labels: ["ab", "ab"] } },
      "DataError",
      /label/,
    ],
    [
      "an embedding of numbers",
      { ...classifyJob(2), kind: "numbers" },
      "ConfigError",
      /numbers needs arrays/,
    ],
  ] as const)
    // prettier-ignore
    it(`a bad job rejects with a typed error, not a crash: ${name}`, async () => {
      await assert.rejects(trainInWorker(bad as unknown as SeriesTrainJob).done, (e: unknown) => {
        assert.ok(e instanceof WorkerTrainingError);
        assert.equal(e.reason, reason);
        assert.match(e.message, message);
        return true;
      });
    });
});
