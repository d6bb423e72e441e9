/**
 * What train-text and train-series share: the flags, the progress display, Ctrl-C handling,
 * checkpoints, --resume and the final save.
 */
import { Command, Option } from "commander";
import { OPTIMIZER_KINDS, type OptimizerKind } from "../src/optim/optimizers.js";
import { resolveSchedule, type ScheduleConfig } from "../src/optim/schedule.js";
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
import {
  checkTrainingMemory,
  DEFAULT_MAX_MEMORY_BYTES,
  estimateTrainingMemory,
} from "../src/train/memory-estimate.js";
import { ProgressReporter } from "./train-progress.js";
import { FormatError, LstmError } from "../src/tensor/errors.js";
import { FileWriteError } from "../src/io/atomic.js";
import {
  checkOutputs,
  claimOutputs,
  prepareOutputDir,
  sameFile,
  type NamedPath,
  type OutputLocks,
} from "../src/io/paths.js";
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
  /** GiB the run may use (the estimate is checked before anything is allocated). */
  maxMemory?: number;
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
  "maxMemory",
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
      "--max-memory <GiB>",
      `memory the run may use; a configuration estimated to need more is refused before it starts (default ${DEFAULT_MAX_MEMORY_BYTES / 2 ** 30})`,
      floatOption("--max-memory", 1e-3, 1e6),
    )
    .option(
      "--report <file.html>",
      "after training, write an HTML report (loss curves, forecasts or gate activations)",
    );
}

/** Flags that name files: taken from the command line only, never from a checkpoint. */
const PATH_FLAGS = new Set(["out", "checkpoint", "report", "resume"]);

/**
 * The flags to use: on --resume, the checkpoint's flags with only the resumable ones replaced.
 * File paths come from the command line only (a checkpoint someone sends you must not decide
 * what is written where): without --out, a resumed run writes next to its checkpoint, under a
 * name derived from it. The checkpoint's task and every stored option are checked first.
 */
export function resolveFlags<F extends TrainFlags>(
  cmd: Command,
  flags: F,
  task: "text" | "series",
): { flags: F; resumed: ReturnType<typeof loadCheckpoint> | null } {
  if (!flags.resume) return { flags, resumed: null };
  const resumed = loadCheckpoint(flags.resume, { threads: flags.threads });
  if (resumed.meta.task !== task)
    throw new FormatError(
      flags.resume,
      `is a checkpoint of a ${String(resumed.meta.task)} model; train-${task} --resume needs one from train-${task}`,
    );
  const saved = checkSavedOptions(cmd, resumed.run.options, flags.resume) as Partial<F>;
  const merged = { ...saved } as F;
  for (const key of Object.keys(flags) as (keyof F & string)[]) {
    const source = cmd.getOptionValueSource(key);
    if (PATH_FLAGS.has(key)) {
      merged[key] = (source === "cli" ? flags[key] : undefined) as F[typeof key];
    } else if (saved[key] === undefined || (RESUMABLE.has(key) && source === "cli"))
      merged[key] = flags[key]; // (an option the checkpoint lacks: as given, or its default)
    else if (source === "cli" && JSON.stringify(flags[key]) !== JSON.stringify(saved[key]))
      process.stderr.write(
        `lstm: note: --${kebab(key)} is taken from the checkpoint (${JSON.stringify(saved[key])}) when resuming\n`,
      );
  }
  for (const key of PATH_FLAGS)
    if (cmd.getOptionValueSource(key) !== "cli") delete merged[key as keyof F];
  merged.resume = flags.resume;
  if (merged.out === undefined) {
    merged.out = resumedModelPath(flags.resume);
    // Said even with --quiet: the user did not choose this path.
    process.stderr.write(`lstm: no --out given: the model will be saved as ${merged.out}\n`);
  }
  return { flags: merged, resumed };
}

/** Where a resumed run without --out saves its model: beside the checkpoint, named after it. */
function resumedModelPath(checkpoint: string): string {
  const m = /^(.*[^/\\])\.[^./\\]+$/.exec(checkpoint);
  return `${m ? m[1] : checkpoint}.resumed.safetensors`;
}

/**
 * The options stored in a checkpoint, each checked as if it had been typed on the command line
 * (the option's own parser and choices), so a hand-edited checkpoint is a FormatError naming the
 * field, never a TypeError later. Path options are dropped: they never come from a checkpoint.
 */
function checkSavedOptions(
  cmd: Command,
  options: Record<string, unknown>,
  source: string,
): Record<string, unknown> {
  if (typeof options !== "object" || options === null || Array.isArray(options))
    throw new FormatError(source, "run.options: expected an object");
  const out: Record<string, unknown> = {};
  const known = new Map(cmd.options.map((o) => [o.attributeName(), o]));
  for (const [key, v] of Object.entries(options)) {
    if (PATH_FLAGS.has(key) || v === undefined || v === null) continue;
    const opt = known.get(key);
    if (!opt) {
      out[key] = v; // e.g. resolvedSchedule: checked where it is used
      continue;
    }
    const field = `run.options.${key}`;
    if (opt.isBoolean()) {
      if (typeof v !== "boolean") throw new FormatError(source, `${field}: expected true or false`);
    } else if (typeof v !== "string" && typeof v !== "number")
      throw new FormatError(source, `${field}: expected a string or a number`);
    else if (opt.argChoices && !opt.argChoices.includes(String(v)))
      throw new FormatError(source, `${field}: expected one of ${opt.argChoices.join(", ")}`);
    else if (opt.parseArg) {
      try {
        const parsed: unknown = opt.parseArg(String(v), undefined);
        if (typeof parsed !== typeof v) throw new Error(`expected a ${typeof parsed}`);
      } catch (e) {
        throw new FormatError(source, `${field}: ${(e as Error).message}`);
      }
    } else if (typeof v !== "string") throw new FormatError(source, `${field}: expected a string`);
    out[key] = v;
  }
  return out;
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/**
 * Refuses, before the model or any batch is allocated, a configuration whose estimated memory
 * exceeds --max-memory (or whose one-hot batch T·B·V cannot be one array).
 */
export function checkMemory(f: TrainFlags, sizes: { inputSize: number; outputSize: number }): void {
  const estimate = estimateTrainingMemory({
    ...sizes,
    hiddenSize: f.hidden,
    numLayers: f.layers,
    seqLen: f.seqLen,
    batch: f.batch,
    optimizer: f.optimizer,
    momentum: f.momentum,
  });
  const limit = f.maxMemory !== undefined ? f.maxMemory * 2 ** 30 : DEFAULT_MAX_MEMORY_BYTES;
  checkTrainingMemory(
    estimate,
    limit,
    "lower --batch, --seq-len, --hidden or --layers, or raise --max-memory (GiB)",
  );
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

/** The files a training run reads and writes, checked and locked before any work starts. */
export interface RunFiles {
  out: string;
  /** Written every --checkpoint-every steps and at the end (--checkpoint, else the --resume file). */
  checkpoint?: string;
  /** Where the resume point goes on Ctrl-C: the checkpoint, else OUT.ckpt. */
  interruptCheckpoint: string;
  report?: string;
  locks: OutputLocks;
}

/**
 * Checks the run's outputs against its inputs (the data file, the checkpoint resumed) and each
 * other, creates their directories and locks them. The checkpoint of a resumed run may be the
 * file it resumed from: that is the run's own state, carried forward.
 */
export function claimRunFiles(f: TrainFlags, dataFile: string): RunFiles {
  const checkpoint = f.checkpoint ?? f.resume;
  const interruptCheckpoint = checkpoint ?? `${f.out}.ckpt`;
  const outputs: NamedPath[] = [
    { role: "--out", path: f.out },
    { role: checkpoint && !f.checkpoint ? "--resume" : "--checkpoint", path: interruptCheckpoint },
    ...(f.report ? [{ role: "--report", path: f.report }] : []),
  ];
  const resumesInPlace = f.resume !== undefined && sameFile(interruptCheckpoint, f.resume);
  checkOutputs({
    inputs: [
      { role: "<file>", path: dataFile },
      ...(f.resume && !resumesInPlace ? [{ role: "--resume", path: f.resume }] : []),
    ],
    outputs,
  });
  for (const o of outputs) prepareOutputDir(o);
  const locks = claimOutputs(outputs);
  return { out: f.out, checkpoint, interruptCheckpoint, report: f.report, locks };
}

export interface RunSpec {
  files: RunFiles;
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
  if (savedSchedule !== undefined) {
    options.schedule = savedSchedule;
    blameCheckpoint(f.resume, () => resolveSchedule(savedSchedule));
  }
  const trainer = blameCheckpoint(f.resume, () => new Trainer(model, task, options));
  const run: RunInfo = {
    options: { ...(f as unknown as Record<string, unknown>), resolvedSchedule: options.schedule },
    dataSha256: spec.dataSha256,
  };
  if (spec.resumed) {
    const resumed = spec.resumed;
    const expect = { path: f.resume!, dataSha256: spec.dataSha256 };
    blameCheckpoint(f.resume, () => restoreRun(trainer, resumed, expect));
  }
  const { files } = spec;
  const progress = new ProgressReporter({
    json: f.json,
    quiet: f.quiet,
    lossName: spec.lossName,
    budget: trainer.budget,
    onEval: spec.onEval,
  });
  trainer.on(progress.listener);
  const checkpoints = new CheckpointWriter((path, c) => saveCheckpoint(path, model, meta, c, run));
  if (files.checkpoint) {
    const path = files.checkpoint;
    trainer.onCheckpoint = (c) => {
      if (checkpoints.write(path, c)) return;
      progress.log(`lstm: ${checkpoints.failure!.message}; stopping and saving the model`);
      trainer.requestStop();
    };
  }
  const summary = await runInterruptible(trainer, progress);
  const interrupted = summary.stopReason === "interrupted" && checkpoints.failure === null;
  // Resume point: always saved when a checkpoint path is known, and on Ctrl-C even without one.
  const resumePath = files.checkpoint ?? (interrupted ? files.interruptCheckpoint : undefined);
  if (resumePath && trainer.resumePoint && checkpoints.failure === null)
    if (checkpoints.write(resumePath, trainer.resumePoint))
      progress.log(`checkpoint: ${resumePath} (continue with --resume ${resumePath})`);
  meta.training = trainingSummary(spec, summary);
  saveModel(files.out, model, meta);
  if (checkpoints.failure !== null)
    throw new CliError(
      `the model is saved in ${files.out}, but the checkpoint failed: ${checkpoints.failure.message}`,
    );
  if (files.report) writeTrainingReport(spec, files.report);
  printSummary(spec, summary, progress);
  // An interrupted run exits 130 (128 + SIGINT) once its checkpoint and model are saved, so a
  // script can tell it from a finished one.
  if (interrupted) process.exitCode = 130;
  files.locks.release();
  return summary;
}

/**
 * Writes checkpoints. A write that fails for a reason of the disk (full, no permission) is kept
 * in `failure` instead of ending the process, so the run can stop and still save the model.
 */
class CheckpointWriter {
  failure: Error | null = null;
  constructor(private readonly save: (path: string, c: Checkpoint) => void) {}

  /** Returns false (and keeps the error) when the checkpoint could not be written. */
  write(path: string, c: Checkpoint): boolean {
    try {
      this.save(path, c);
      return true;
    } catch (e) {
      if (!(e instanceof FileWriteError) && !(e instanceof FormatError)) throw e;
      this.failure = e;
      return false;
    }
  }
}

/**
 * Runs `build` (a task, the trainer, the restore) and, on a resumed run, names the checkpoint in
 * a typed error it raises: its stored options or state do not fit this run.
 */
export function blameCheckpoint<T>(resume: string | undefined, build: () => T): T {
  try {
    return build();
  } catch (e) {
    const namesFile = e instanceof FormatError && e.source !== "checkpoint";
    if (resume === undefined || !(e instanceof LstmError) || namesFile) throw e;
    throw new FormatError(resume, `does not fit this run: ${e.message}`);
  }
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
