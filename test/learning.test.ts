/**
 * Learning tests: tasks that only exact BPTT can solve, with fixed seeds and thresholds far
 * from what a model without memory reaches. If backward dropped the carried gradient, the
 * long-range tasks would stay at their baselines.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { LstmModel } from "../src/model/model.js";
import { initParams } from "../src/model/init.js";
import {
  Trainer,
  type TrainOptions,
  type TrainSummary,
  type TrainTask,
} from "../src/train/trainer.js";
import { addingTask, bitRecallTask, noisySineTask } from "../src/train/synthetic.js";
import { Rng } from "../src/tensor/rng.js";
import type { CellKind } from "../src/model/config.js";

/** One layer, one output; an LSTM's forget-gate bias starts at 1 (a GRU's init is the default). */
function model(
  inputSize: number,
  hiddenSize: number,
  seed: number,
  cell: CellKind = "lstm",
): LstmModel {
  const m = new LstmModel({ cell, inputSize, hiddenSize, outputSize: 1 });
  initParams(m, new Rng(seed), cell === "lstm" ? { forgetBias: 1 } : {});
  return m;
}

/** Trains with Adam at this learning rate, evaluating every 100 steps unless told otherwise. */
function trainAdam(
  m: LstmModel,
  task: TrainTask,
  lr: number,
  options: Omit<TrainOptions, "optimizer">,
): Promise<TrainSummary> {
  return new Trainer(m, task, {
    optimizer: { kind: "adam", lr },
    evalEvery: 100,
    ...options,
  }).run();
}

/** The best validation loss (an MSE for the regression tasks) is below limit. */
function assertValidMse(summary: TrainSummary, limit: number): void {
  assert.ok(
    summary.bestValidLoss !== null && summary.bestValidLoss < limit,
    `valid MSE ${summary.bestValidLoss}`,
  );
}

/** The sign of the output is the remembered bit on at least 97 % of the validation set (chance: 50 %). */
function assertRecalls(task: ReturnType<typeof bitRecallTask>, m: LstmModel): void {
  const { output, targets } = task.predictValid(m);
  let correct = 0;
  for (let i = 0; i < targets.length; i++) if (Math.sign(output[i]) === targets[i]) correct++;
  const acc = correct / targets.length;
  assert.ok(acc >= 0.97, `accuracy ${acc}`);
}

test("recalls a bit seen 24 steps earlier (accuracy on fresh sequences)", async () => {
  const task = bitRecallTask({ seqLen: 25, batch: 32, validSize: 400 });
  const m = model(2, 12, 1);
  await trainAdam(m, task, 0.02, { steps: 400, clipNorm: 1, seed: 1 });
  assertRecalls(task, m);
});

for (const [who, cell, seed] of [
  ["", "lstm", 2],
  ["a GRU ", "gru", 3],
] as const)
  test(`${who}solves the adding problem (T = 30) far below the 1/6 baseline`, async () => {
    const task = addingTask({ seqLen: 30, batch: 32, validSize: 400 });
    const m = model(2, 16, seed, cell);
    const summary = await trainAdam(m, task, 0.01, { steps: 800, clipNorm: 1, seed });
    assertValidMse(summary, 0.02);
  });

test("a GRU recalls a bit seen 24 steps earlier", async () => {
  const task = bitRecallTask({ seqLen: 25, batch: 32, validSize: 400 });
  const m = model(2, 12, 4, "gru");
  // The GRU's analogue of a forget-gate bias: z starts near σ(2), so the state is carried.
  for (const name of ["gru.bias_ih_l0", "gru.bias_hh_l0"]) m.param(name).fill(1, 12, 24);
  await trainAdam(m, task, 0.02, { steps: 400, clipNorm: 1, seed: 4 });
  assertRecalls(task, m);
});

test("predicts the next value of a noisy sine close to the noise floor", async () => {
  const task = noisySineTask({ seqLen: 20, batch: 32, validSize: 400, noise: 0.1 });
  const m = model(1, 12, 3);
  const summary = await trainAdam(m, task, 0.01, { steps: 300, seed: 3 });
  // Predicting 0 gives 0.5; a perfect model of the clean sine from noisy inputs gets near 0.
  assertValidMse(summary, 0.02);
});

test("a character model on a bundled novel gets well below the unigram entropy", async () => {
  const { readFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { ROOT } = await import("./helpers.js");
  const { Vocab, splitTrainValid, unigramEntropy } = await import("../src/data/text.js");
  const { TextTask } = await import("../src/train/text-task.js");
  const text = readFileSync(join(ROOT, "data/austen_pride_and_prejudice.txt"), "utf8");
  const vocab = Vocab.fromText(text);
  const { train, valid } = splitTrainValid(vocab.encode(text), 0.05);
  const V = vocab.size;
  const m = new LstmModel({ inputSize: V, hiddenSize: 48, outputSize: V });
  initParams(m, new Rng(4));
  const task = new TextTask(m, train, valid, { batch: 16, seqLen: 32, maxEvalWindows: 40 });
  const summary = await trainAdam(m, task, 0.01, {
    steps: 250,
    evalEvery: 250,
    clipNorm: 5,
    seed: 4,
  });
  const baseline = unigramEntropy(train, V); // ≈ 3.09 nats/char for this novel
  assert.ok(
    summary.bestValidLoss! < 0.8 * baseline,
    `valid ${summary.bestValidLoss} vs unigram ${baseline}`,
  );
});
