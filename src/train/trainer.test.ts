import assert from "node:assert/strict";
import { test } from "node:test";
import { LstmModel } from "../model/model.js";
import { initParams } from "../model/init.js";
import { Rng } from "../tensor/rng.js";
import type { SequenceBatch } from "../model/objective.js";
import {
  stepBudget,
  Trainer,
  TrainingDivergedError,
  type TrainOptions,
  type TrainTask,
} from "./trainer.js";
import { addingTask } from "./synthetic.js";
import type { TrainEvent } from "./events.js";

function setup(seed = 7, dropout?: number): { model: LstmModel; task: TrainTask } {
  const drop = dropout
    ? { dropout: { input: dropout, betweenLayers: dropout, output: dropout } }
    : {};
  const model = new LstmModel({
    inputSize: 2,
    hiddenSize: 5,
    outputSize: 1,
    numLayers: dropout ? 2 : 1,
    ...drop,
  });
  initParams(model, new Rng(seed));
  return { model, task: addingTask({ seqLen: 8, batch: 4, validSize: 16 }) };
}

const opts = (o: Partial<TrainOptions> = {}): TrainOptions => ({
  optimizer: { kind: "adam", lr: 0.01 },
  steps: 30,
  evalEvery: 10,
  clipNorm: 1,
  seed: 3,
  ...o,
});

test("the same seed gives bit-identical weights; another seed does not", async () => {
  const a = setup();
  await new Trainer(a.model, a.task, opts()).run();
  const b = setup();
  await new Trainer(b.model, b.task, opts()).run();
  assert.deepEqual(a.model.params, b.model.params);
  const c = setup();
  await new Trainer(c.model, c.task, opts({ seed: 4 })).run();
  assert.notDeepEqual(a.model.params, c.model.params);
});

for (const dropout of [undefined, 0.3])
  test(`N steps, checkpoint, N more after restore equals 2N steps (dropout ${dropout ?? 0})`, async () => {
    const full = setup(7, dropout);
    await new Trainer(full.model, full.task, opts({ steps: 40, restoreBest: false })).run();
    const first = setup(7, dropout);
    const t1 = new Trainer(first.model, first.task, opts({ steps: 20, restoreBest: false }));
    await t1.run();
    const ckpt = t1.resumePoint!;
    // A fresh process: new model and task objects, state only from the checkpoint.
    const second = setup(99, dropout);
    const t2 = new Trainer(second.model, second.task, opts({ steps: 40, restoreBest: false }));
    t2.restore(structuredClone(ckpt));
    const summary = await t2.run();
    assert.equal(summary.steps, 40);
    assert.deepEqual(second.model.params, full.model.params);
  });

test("a non-finite loss skips the update and reports it; weights stay finite", async () => {
  const { model, task } = setup();
  let calls = 0;
  const poisoned: TrainTask = {
    ...task,
    loss: task.loss,
    stepsPerEpoch: task.stepsPerEpoch,
    samplesPerStep: task.samplesPerStep,
    nextBatch(rng: Rng): SequenceBatch {
      const b = task.nextBatch(rng);
      calls++;
      if (calls === 5)
        return { ...b, targets: Float64Array.from(b.targets as ArrayLike<number>, () => 1e200) }; // (z − 1e200)² overflows
      return b;
    },
    afterStep: (r) => task.afterStep(r),
    resetState: () => task.resetState(),
    evaluate: (m) => task.evaluate(m),
    saveState: () => task.saveState(),
    loadState: (s) => task.loadState(s),
  };
  const events: TrainEvent[] = [];
  const before = model.params.slice();
  const t = new Trainer(model, poisoned, opts({ steps: 10 }));
  t.on((e) => events.push(e));
  const s = await t.run();
  const nf = events.filter((e) => e.type === "nonfinite");
  assert.equal(nf.length, 1);
  assert.equal(nf[0].type === "nonfinite" && nf[0].action, "skipped");
  assert.equal(s.nonFiniteSteps, 1);
  assert.ok(model.params.every(Number.isFinite));
  assert.notDeepEqual(model.params, before);
});

test("a learning rate that blows the weights up rolls back, lowers the rate, then stops with a clear error", async () => {
  const { model, task } = setup();
  const events: TrainEvent[] = [];
  const t = new Trainer(model, task, { optimizer: { kind: "sgd", lr: 1e39 }, steps: 100, seed: 1 });
  t.on((e) => events.push(e));
  await assert.rejects(
    () => t.run(),
    (e: unknown) => e instanceof TrainingDivergedError && /learning rate/.test(e.message),
  );
  assert.ok(events.some((e) => e.type === "nonfinite" && e.action === "rolled-back"));
  assert.ok(model.params.every(Number.isFinite)); // never left holding NaN or Infinity
});

test("early stopping stops after `patience` evaluations without improvement and restores the best", async () => {
  const { model, task } = setup();
  // A learning rate far too high for the task: validation stops improving quickly.
  const t = new Trainer(
    model,
    task,
    opts({
      optimizer: { kind: "sgd", lr: 5 },
      steps: 400,
      evalEvery: 5,
      patience: 3,
      clipNorm: undefined,
    }),
  );
  const s = await t.run();
  assert.equal(s.stopReason, "early-stopping");
  assert.ok(s.steps < 400);
  const best = Math.min(...s.history.map((h) => h.validLoss ?? Infinity));
  assert.equal(s.bestValidLoss, best);
  assert.ok(Math.abs(task.evaluate(model)! - best) < 1e-6 * Math.max(1, best));
});

test("budget and option errors are ConfigErrors", () => {
  const { model, task } = setup();
  assert.throws(
    () => new Trainer(model, task, { optimizer: { kind: "adam", lr: 0.1 }, seed: 1 }),
    /budget/,
  );
  assert.throws(() => new Trainer(model, task, opts({ steps: -1 })), /steps/);
  assert.throws(() => new Trainer(model, task, opts({ clipNorm: 0 })), /clip/);
  assert.throws(() => new Trainer(model, task, opts({ seed: 1.5 })), /seed/);
});

test("the step budget: the first of steps and epochs, null for a time budget; the loop stops there", async () => {
  const { model, task } = setup();
  const spe = task.stepsPerEpoch;
  assert.equal(stepBudget({ steps: 30 }, spe), 30);
  assert.equal(stepBudget({ epochs: 0.5 }, 7), 4); // rounded up to whole steps
  assert.equal(stepBudget({ steps: 3, epochs: 2 }, 7), 3);
  assert.equal(stepBudget({}, 7), null);
  const t = new Trainer(model, task, opts({ steps: 12, epochs: 100 }));
  assert.deepEqual(t.budget, { totalSteps: 12, seconds: null });
  const events: TrainEvent[] = [];
  t.on((e) => events.push(e));
  const s = await t.run();
  assert.equal(s.steps, 12);
  assert.equal(
    events.find((e) => e.type === "start")?.type === "start" &&
      (events[0] as { totalSteps: number }).totalSteps,
    12,
  );
  const timed = new Trainer(model, task, opts({ steps: undefined, seconds: 2 }));
  assert.deepEqual(timed.budget, { totalSteps: null, seconds: 2 });
});
