/**
 * trainInWorker's series and classify jobs against the CLI: the same data and options give the
 * same metadata and the same weights, bit for bit, as `lstm train-series` / `lstm train-classify`,
 * and the worker's model file works with `lstm forecast` / `lstm predict`.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadModel, saveModel } from "../src/node.js";
import { modelFromResult, trainInWorker } from "../src/train/worker-host.js";
import type { TrainOptions } from "../src/train/trainer.js";
import { ROOT, runCli } from "./helpers.js";

const AIR = join(ROOT, "data/airpassengers.csv");
const dir = mkdtempSync(join(tmpdir(), "lstm-worker-jobs-"));

/** The trainer options the CLI derives from `--lr LR --clip CLIP --steps 6 --eval-every 3 --seed 7`. */
function cliTrainOptions(lr: number, clip: number): TrainOptions {
  return {
    optimizer: { kind: "adam", lr },
    schedule: { kind: "constant", warmupSteps: 0 },
    clipNorm: clip,
    steps: 6,
    evalEvery: 3,
    patience: 0,
    seed: 7,
  };
}
const CLI_BUDGET = ["--steps", "6", "--eval-every", "3", "--seed", "7", "--quiet"];
/** `--init pytorch` without --orthogonal or --forget-bias, the CLI's default. */
const CLI_INIT = { scheme: "pytorch", recurrent: "scheme" } as const;

/**
 * The worker's result is the CLI's model file: the task's metadata (`key`), input, config and
 * weights are equal; saved, `command` (forecast or predict, `args` after the model) prints the
 * same for both files.
 */
function assertSameAsCli(
  result: Awaited<ReturnType<typeof trainInWorker>["done"]>,
  cliOut: string,
  key: "series" | "classifier",
  [command, ...args]: string[],
): void {
  const fromCli = loadModel(cliOut);
  assert.deepEqual(result.meta[key], fromCli.meta[key]);
  assert.deepEqual(result.meta.input, fromCli.meta.input);
  assert.deepEqual(result.config, fromCli.model.config);
  assert.deepEqual(result.params, Float32Array.from(fromCli.model.params));
  const workerOut = cliOut.replace(/\.safetensors$/, ".worker.safetensors");
  saveModel(workerOut, modelFromResult(result), result.meta);
  const ours = runCli([command, workerOut, ...args]);
  assert.equal(ours.status, 0, ours.stderr);
  assert.equal(ours.stdout, runCli([command, cliOut, ...args]).stdout);
}

test("a series job from CSV text is train-series: same metadata, same weights; lstm forecast reads it", async () => {
  const cliOut = join(dir, "cli-series.safetensors");
  const cli = runCli([
    ...["train-series", AIR, "--column", "passengers_thousands", "--transform", "log"],
    ...["--horizon", "3", "--seq-len", "12", "--hidden", "5", "--cell", "gru", "--layers", "2"],
    ...["--batch", "8", "--lr", "0.01", "--clip", "1", ...CLI_BUDGET, "--out", cliOut],
  ]);
  assert.equal(cli.status, 0, cli.stderr);
  const result = await trainInWorker({
    task: "series",
    data: { csv: readFileSync(AIR, "utf8"), source: AIR },
    columns: ["passengers_thousands"],
    transform: "log",
    horizon: 3,
    seqLen: 12,
    batch: 8,
    model: { cell: "gru", hiddenSize: 5, numLayers: 2 },
    init: CLI_INIT,
    train: cliTrainOptions(0.01, 1),
  }).done;
  assertSameAsCli(result, cliOut, "series", ["forecast", AIR]);
});

test("a classify job from CSV text is train-classify: same metadata, same weights; lstm predict reads it", async () => {
  const rows = ["text,label"];
  for (let i = 0; i < 40; i++) {
    const chars = i % 2 === 0 ? "ab" : "xy";
    rows.push(`${Array.from({ length: 2 + (i % 7) }, (_, j) => chars[(i + j) % 2]).join("")},${chars}`); // prettier-ignore
  }
  const csv = join(dir, "toy.csv");
  writeFileSync(csv, rows.join("\n") + "\n");
  const cliOut = join(dir, "cli-classify.safetensors");
  const cli = runCli([
    ...["train-classify", csv, "--text-column", "text", "--label-column", "label"],
    ...["--hidden", "6", "--embedding", "3", "--bidirectional", "--batch", "8"],
    ...["--lr", "0.03", "--clip", "5", ...CLI_BUDGET, "--out", cliOut],
  ]);
  assert.equal(cli.status, 0, cli.stderr);
  const result = await trainInWorker({
    task: "classify",
    data: { csv: readFileSync(csv, "utf8"), source: csv, textColumn: "text", labelColumn: "label" },
    batch: 8,
    model: { hiddenSize: 6, embedding: 3, bidirectional: true },
    init: CLI_INIT,
    train: cliTrainOptions(0.03, 5),
  }).done;
  assertSameAsCli(result, cliOut, "classifier", ["predict", "abab", "yxxy"]);
});
