/**
 * What train-text and train-series share: the flags, the progress display, Ctrl-C handling,
 * checkpoints, --resume and the final save.
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Command, Option } from "commander";
import { OPTIMIZER_KINDS, type OptimizerKind } from "../src/optim/optimizers.js";
import type { ScheduleConfig } from "../src/optim/schedule.js";
import type { LstmModel } from "../src/model/model.js";
import { initParams, INIT_SCHEMES } from "../src/model/init.js";
import { Rng } from "../src/tensor/rng.js";
import {
  stepBudget,
  Trainer,
  type Checkpoint,
  type TrainOptions,
  type TrainSummary,
  type TrainTask,
} from "../src/train/trainer.js";
import type { TrainEvent } from "../src/train/events.js";
import {
  loadCheckpoint,
  saveCheckpoint,
  saveModel,
  type ModelMeta,
  type RunInfo,
} from "../src/node.js";
import { ProgressReporter } from "./train-progress.js";
import { CliError, choiceOption, floatOption, intOption } from "./util.js";
import { writeReport } from "./report.js";
import { lossChart } from "../src/report/terminal.js";

/** Every training flag, resolved (defaults filled). Stored in checkpoints to resume the same run. */
export interface TrainFlags {
  hidden: number;
  layers: number;
  seqLen: number;
  batch: number;
  lr: number;
  optimizer: OptimizerKind;
  momentum?: number;
  stepSize?: number;
  gamma: number;
  weightDecay?: number;
  clip: number;
  clipValue?: number;
  steps?: number;
  epochs?: number;
  time?: number;
  seed: number;
  out: string;
  checkpoint?: string;
  checkpointEvery: number;
  resume?: string;
  validFraction: number;
  evalEvery?: number;
  patience: number;
  schedule: ScheduleConfig["kind"];
  warmup: number;
  init: (typeof INIT_SCHEMES)[number];
  orthogonal?: boolean;
  forgetBias?: number;
  json?: boolean;
  quiet?: boolean;
  threads: number;
  report?: string;
}

/** Flags that may change when resuming; the rest come from the checkpoint. */
const RESUMABLE = new Set([
  "steps",
  "epochs",
  "time",
  "out",
  "checkpoint",
  "checkpointEvery",
  "resume",
  "json",
  "quiet",
  "threads",
  "report",
  "sampleEvery",
]);

export function addTrainOptions(
  cmd: Command,
  d: {
    hidden: number;
    layers: number;
    seqLen: number;
    batch: number;
    lr: number;
    clip: number;
    validFraction: number;
    out: string;
  },
): Command {
  return cmd
    .option("--hidden <n>", "hidden units per layer (H)", intOption("--hidden", 1, 4096), d.hidden)
    .option("--layers <n>", "stacked LSTM layers (L)", intOption("--layers", 1, 16), d.layers)
    .option(
      "--seq-len <n>",
      "time steps per window (T); gradients flow back this far",
      intOption("--seq-len", 1, 100000),
      d.seqLen,
    )
    .option("--batch <n>", "sequences per step (B)", intOption("--batch", 1, 65536), d.batch)
    .option("--lr <x>", "learning rate", floatOption("--lr", 0, 10), d.lr)
    .addOption(
      new Option("--optimizer <name>", "sgd, adam, adamw, rmsprop or adagrad")
        .choices(OPTIMIZER_KINDS)
        .default("adam"),
    )
    .option(
      "--momentum <x>",
      "momentum for sgd and rmsprop (default 0)",
      floatOption("--momentum", 0, 1),
    )
    .option(
      "--step-size <n>",
      "--schedule step: decay every n steps (default: a third of the budget)",
      intOption("--step-size", 1),
    )
    .option("--gamma <x>", "--schedule step: decay factor", floatOption("--gamma", 1e-6, 1), 0.3)
    .option(
      "--weight-decay <x>",
      "weight decay (L2; decoupled for adamw)",
      floatOption("--weight-decay", 0, 1),
    )
    .option(
      "--clip <x>",
      "clip the global gradient norm to this (0 = off)",
      floatOption("--clip", 0),
      d.clip,
    )
    .option(
      "--clip-value <x>",
      "clip each gradient entry to ±x",
      floatOption("--clip-value", 1e-12),
    )
    .option("--steps <n>", "stop after this many training steps", intOption("--steps", 1))
    .option(
      "--epochs <x>",
      "stop after this many passes over the training data",
      floatOption("--epochs", 1e-9),
    )
    .option("--time <seconds>", "stop after this many seconds", floatOption("--time", 1e-3))
    .option(
      "--seed <n>",
      "random seed: the same seed and data give identical weights",
      intOption("--seed", 0),
      1,
    )
    .option("--out <file>", "where to save the trained model (safetensors)", d.out)
    .option(
      "--checkpoint <file>",
      "checkpoint file (model, optimizer, RNG and data position); also written on Ctrl-C",
    )
    .option(
      "--checkpoint-every <n>",
      "write the checkpoint every n steps (0 = only at the end)",
      intOption("--checkpoint-every", 0),
      0,
    )
    .option("--resume <file>", "continue the run saved in this checkpoint (same data file)")
    .option(
      "--valid-fraction <x>",
      "fraction of the data held out for validation (the end of it)",
      floatOption("--valid-fraction", 0, 0.9),
      d.validFraction,
    )
    .option(
      "--eval-every <n>",
      "evaluate every n steps (default: each epoch, at most every 200 steps)",
      intOption("--eval-every", 1),
    )
    .option(
      "--patience <n>",
      "early stopping: stop after n evaluations without improvement (0 = off)",
      intOption("--patience", 0),
      0,
    )
    .option(
      "--schedule <kind>",
      "learning-rate schedule: constant, step or cosine",
      choiceOption("--schedule", ["constant", "step", "cosine"] as const),
      "constant",
    )
    .option("--warmup <n>", "linear learning-rate warm-up steps", intOption("--warmup", 0), 0)
    .option(
      "--init <scheme>",
      "weight initialisation: pytorch or xavier",
      choiceOption("--init", INIT_SCHEMES),
      "pytorch",
    )
    .option("--orthogonal", "orthogonal recurrent weights")
    .option(
      "--forget-bias <x>",
      "initial forget-gate bias (e.g. 1)",
      floatOption("--forget-bias", -10, 10),
    )
    .option(
      "--json",
      "print machine-readable events (one JSON object per line) instead of a progress bar",
    )
    .option("--quiet", "no progress output")
    .option(
      "--threads <n>",
      "threads (wasm backends: the recurrence splits by batch rows, large products by rows or columns; the results are identical; 2 trains batches of 32 about 1.8× faster on 2 cores)",
      intOption("--threads", 1, 64),
      1,
    )
    .option(
      "--report <file.html>",
      "after training, write an HTML report (loss curves, forecasts or gate activations)",
    );
}

/** The flags to use: on --resume, the checkpoint's flags with only the resumable ones replaced. */
export function resolveFlags<F extends TrainFlags>(
  cmd: Command,
  flags: F,
): { flags: F; resumed: ReturnType<typeof loadCheckpoint> | null } {
  if (!flags.resume) return { flags, resumed: null };
  const resumed = loadCheckpoint(flags.resume, { threads: flags.threads });
  const saved = resumed.run.options as unknown as F;
  const merged = { ...saved } as F;
  for (const key of Object.keys(flags) as (keyof F & string)[]) {
    const source = cmd.getOptionValueSource(key);
    if (RESUMABLE.has(key) && (source === "cli" || saved[key] === undefined))
      merged[key] = flags[key];
    else if (source === "cli" && JSON.stringify(flags[key]) !== JSON.stringify(saved[key]))
      process.stderr.write(
        `lstm: note: --${kebab(key)} is taken from the checkpoint (${JSON.stringify(saved[key])}) when resuming\n`,
      );
  }
  return { flags: merged, resumed };
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

export function initModel(model: LstmModel, f: TrainFlags): void {
  initParams(model, new Rng(f.seed), {
    scheme: f.init,
    recurrent: f.orthogonal ? "orthogonal" : "scheme",
    forgetBias: f.forgetBias,
  });
}

export function trainOptions(f: TrainFlags, stepsPerEpoch: number): TrainOptions {
  if (f.steps === undefined && f.epochs === undefined && f.time === undefined)
    throw new CliError("give a budget: --steps N, --epochs N or --time SECONDS");
  const budgetSteps = stepBudget(f, stepsPerEpoch) ?? Infinity;
  let schedule: ScheduleConfig = { kind: "constant", warmupSteps: f.warmup };
  if (f.schedule === "cosine") {
    if (!Number.isFinite(budgetSteps))
      throw new CliError(
        "--schedule cosine needs --steps or --epochs (it decays to the last step)",
      );
    schedule = {
      kind: "cosine",
      warmupSteps: f.warmup,
      totalSteps: Math.max(budgetSteps, f.warmup + 1),
      minLrFactor: 0.01,
    };
  } else if (f.schedule === "step") {
    const size =
      f.stepSize ??
      (Number.isFinite(budgetSteps)
        ? Math.max(1, Math.floor((budgetSteps - f.warmup) / 3))
        : stepsPerEpoch);
    schedule = { kind: "step", warmupSteps: f.warmup, stepSize: size, gamma: f.gamma };
  }
  if (f.momentum !== undefined && f.optimizer !== "sgd" && f.optimizer !== "rmsprop")
    throw new CliError(`--momentum applies to sgd and rmsprop, not ${f.optimizer}`);
  return {
    optimizer: {
      kind: f.optimizer,
      lr: f.lr,
      ...(f.momentum !== undefined ? { momentum: f.momentum } : {}),
      ...(f.weightDecay !== undefined ? { weightDecay: f.weightDecay } : {}),
    },
    schedule,
    clipNorm: f.clip > 0 ? f.clip : undefined,
    clipValue: f.clipValue,
    steps: f.steps,
    epochs: f.epochs,
    seconds: f.time,
    evalEvery: f.evalEvery,
    patience: f.patience,
    checkpointEvery: f.checkpointEvery,
    seed: f.seed,
  };
}

export interface RunSpec {
  model: LstmModel;
  task: TrainTask;
  flags: TrainFlags;
  meta: ModelMeta;
  dataSha256: string;
  resumed: ReturnType<typeof loadCheckpoint> | null;
  /** Extra output after each evaluation (e.g. a text sample). */
  onEval?: (e: Extract<TrainEvent, { type: "eval" }>) => void;
  /** Unit of the loss for messages. */
  lossName: string;
  /** Adds fields to the training summary saved with the model. */
  summarize?: (s: TrainSummary) => Record<string, unknown>;
  /** Commands to suggest once the model is saved. */
  next?: (out: string) => string[];
  /** The data trained on (text or CSV) and its name, for --report. */
  reportData?: () => { data: string; dataName: string };
}

/** Trains with progress output, Ctrl-C handling and checkpoints, then saves the model and report. */
export async function runTraining(spec: RunSpec): Promise<TrainSummary> {
  const { model, task, flags: f, meta } = spec;
  const options = trainOptions(f, task.stepsPerEpoch);
  // A resumed run keeps the learning-rate schedule it started with (a cosine or step schedule
  // is laid out over the original budget), so resuming never changes the curve.
  const savedSchedule = spec.resumed?.run.options.resolvedSchedule as ScheduleConfig | undefined;
  if (savedSchedule) options.schedule = savedSchedule;
  const trainer = new Trainer(model, task, options);
  const run: RunInfo = {
    options: { ...(f as unknown as Record<string, unknown>), resolvedSchedule: options.schedule },
    dataSha256: spec.dataSha256,
  };
  if (spec.resumed)
    restoreRun(trainer, spec.resumed, { path: f.resume!, dataSha256: spec.dataSha256 });
  const checkpointPath = f.checkpoint ?? (f.resume ? f.resume : undefined);
  if (f.report && [f.out, checkpointPath].some((p) => p && resolve(p) === resolve(f.report!)))
    throw new CliError(`--report ${f.report} would replace the model or checkpoint file`);
  for (const p of [f.out, checkpointPath]) if (p) mkdirSync(dirname(p), { recursive: true });
  const saveAt = (path: string, c: Checkpoint): void => saveCheckpoint(path, model, meta, c, run);
  if (checkpointPath) trainer.onCheckpoint = (c) => saveAt(checkpointPath, c);

  const progress = new ProgressReporter({
    json: f.json,
    quiet: f.quiet,
    lossName: spec.lossName,
    budget: trainer.budget,
    onEval: spec.onEval,
  });
  trainer.on(progress.listener);
  const summary = await runInterruptible(trainer, progress);
  // Resume point: always saved when a checkpoint path is known, and on Ctrl-C even without one.
  const resumePath =
    checkpointPath ?? (summary.stopReason === "interrupted" ? `${f.out}.ckpt` : undefined);
  if (resumePath && trainer.resumePoint) {
    saveAt(resumePath, trainer.resumePoint);
    progress.log(`checkpoint: ${resumePath} (continue with --resume ${resumePath})`);
  }
  meta.training = trainingSummary(spec, summary);
  saveModel(f.out, model, meta);
  if (f.report) writeTrainingReport(spec, f.report);
  printSummary(spec, summary, progress);
  return summary;
}

/** Continues the run of a checkpoint: the same data, then the saved trainer state. */
function restoreRun(
  trainer: Trainer,
  resumed: ReturnType<typeof loadCheckpoint>,
  expect: { path: string; dataSha256: string },
): void {
  if (resumed.run.dataSha256 !== expect.dataSha256)
    throw new CliError(
      `${expect.path} was trained on different data (sha256 differs); resume with the same file`,
    );
  trainer.restore(resumed.checkpoint);
}

/** Runs the trainer; the first Ctrl-C stops after the current step, the second quits at once. */
async function runInterruptible(
  trainer: Trainer,
  progress: ProgressReporter,
): Promise<TrainSummary> {
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    trainer.requestStop();
    process.stderr.write(
      "\nlstm: stopping after this step and saving a checkpoint (Ctrl-C again to quit now)\n",
    );
  };
  process.on("SIGINT", onSigint);
  try {
    return await trainer.run();
  } finally {
    process.off("SIGINT", onSigint);
    progress.close();
  }
}

/** The training summary stored in the model's metadata. */
function trainingSummary(spec: RunSpec, summary: TrainSummary): Record<string, unknown> {
  const f = spec.flags;
  return {
    steps: summary.steps,
    epochs: Number(summary.epochs.toFixed(4)),
    stopReason: summary.stopReason,
    finalTrainLoss: summary.finalTrainLoss,
    bestValidLoss: summary.bestValidLoss,
    bestStep: summary.bestStep,
    restoredBest: summary.restoredBest,
    seconds: Number((summary.elapsedMs / 1000).toFixed(2)),
    nonFiniteSteps: summary.nonFiniteSteps,
    loss: spec.lossName,
    history: summary.history,
    options: { ...f, json: undefined, quiet: undefined, resume: undefined },
    ...(spec.summarize ? spec.summarize(summary) : {}),
  };
}

/** Writes --report once the model is saved; a failure says the model is safe. */
function writeTrainingReport(spec: RunSpec, path: string): void {
  try {
    writeReport(path, spec.model, spec.meta, {
      modelName: spec.flags.out,
      ...spec.reportData?.(),
    });
  } catch (e) {
    throw new CliError(
      `the model is saved in ${spec.flags.out}, but the report failed: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

function printSummary(spec: RunSpec, summary: TrainSummary, progress: ProgressReporter): void {
  if (!progress.verbose) return;
  const f = spec.flags;
  const out = process.stderr;
  if (summary.history.length > 0)
    out.write(lossChart(summary.history, { width: 72, height: 10 }) + "\n");
  out.write(
    `stopped (${summary.stopReason}) after ${summary.steps} steps in ${(summary.elapsedMs / 1000).toFixed(1)}s; ` +
      `best valid ${spec.lossName} ${summary.bestValidLoss?.toFixed(4) ?? "-"}${summary.restoredBest ? " (best weights restored)" : ""}\n` +
      `model: ${f.out}\n` +
      (f.report ? `report: ${f.report}\n` : "") +
      (spec.next
        ? `next:\n${spec
            .next(f.out)
            .map((c) => `  ${c}\n`)
            .join("")}`
        : ""),
  );
}

export { Command };
