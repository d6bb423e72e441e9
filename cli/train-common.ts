/**
 * What the train-* commands share: `runTrainCommand` is one training run — flags resolved
 * (train-flags.ts, train-resume.ts), the run's files claimed, the data file read — that each
 * command configures with what it builds from its data (model, task, metadata, messages); then
 * the memory check, the run itself with Ctrl-C, checkpoints, the final save and the report.
 * Progress is a listener (train-progress.ts).
 */
import { resolveSchedule, type ScheduleConfig } from "../src/optim/schedule.js";
import { LstmModel } from "../src/model/model.js";
import { makeConfig } from "../src/model/config.js";
import { initParams } from "../src/model/init.js";
import { Rng } from "../src/tensor/rng.js";
import {
  recordedSummary,
  Trainer,
  type Checkpoint,
  type TrainSummary,
  type TrainTask,
} from "../src/train/trainer.js";
import type { TrainEvent } from "../src/train/events.js";
import type { Command } from "commander";
import {
  loadCheckpoint,
  saveCheckpoint,
  saveModel,
  sha256Hex,
  type ModelMeta,
  type RunInfo,
} from "../src/node.js";
import {
  checkTrainingMemory,
  DEFAULT_MAX_MEMORY_BYTES,
  estimateTrainingMemory,
} from "../src/train/memory-estimate.js";
import { ProgressReporter } from "./train-progress.js";
import { FormatError } from "../src/tensor/errors.js";
import { FileWriteError } from "../src/io/atomic.js";
import {
  checkOutputs,
  claimOutputs,
  prepareOutputDir,
  sameFile,
  type NamedPath,
  type OutputLocks,
} from "../src/io/paths.js";
import { CliError, readDataBytes } from "./util.js";
import type { ModelConfigInput } from "../src/model/config.js";
import { trainOptions, type TrainFlags } from "./train-flags.js";
import { blameCheckpoint, resolveFlags, restoreRun } from "./train-resume.js";
import { resolveFineTune, type FineTune } from "./train-finetune.js";
import { writeReport } from "./report.js";
import { lossChart } from "../src/report/terminal.js";

/**
 * Refuses, before the model or any batch is allocated, a configuration whose estimated memory
 * exceeds --max-memory (or whose one-hot batch T·B·V cannot be one array).
 */
function checkMemory(
  f: TrainFlags,
  sizes: Pick<
    ModelConfigInput,
    "inputSize" | "outputSize" | "embedding" | "projSize" | "tiedHead" | "dropout"
  >,
): void {
  const estimate = estimateTrainingMemory({
    inputSize: sizes.inputSize,
    outputSize: sizes.outputSize,
    embeddingRows: sizes.embedding?.numEmbeddings,
    projSize: sizes.projSize,
    tiedHead: sizes.tiedHead,
    anyDropout: sizes.dropout !== undefined,
    cell: f.cell,
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

/**
 * The run's model: the checkpoint's when resuming; the --fine-tune file's weights in a model of
 * the flags' configuration (the file's architecture, the flags' dropout rates) when fine-tuning;
 * else one of the flags' cell, hidden size and layers with the task's sizes, initialised from
 * the flags (seed, scheme). Its training memory is checked first, before anything is allocated
 * (`f.seqLen`: the longest sequence a batch holds).
 */
export function prepareModel(
  f: TrainFlags,
  start: { resumed: { model: LstmModel } | null; tuned: FineTune | null },
  sizes: Omit<ModelConfigInput, "cell" | "hiddenSize" | "numLayers">,
): LstmModel {
  checkMemory(f, sizes);
  if (start.resumed) return start.resumed.model;
  const config = { cell: f.cell, hiddenSize: f.hidden, numLayers: f.layers, ...sizes };
  if (start.tuned) return fineTunedModel(start.tuned, config, f.threads);
  const model = new LstmModel(config, { threads: f.threads });
  initModel(model, f);
  return model;
}

/**
 * A model of `config` holding the --fine-tune file's weights. The config is the file's
 * architecture with this data's sizes and the run's dropout rates: any other difference means
 * the file does not fit the data (a FormatError naming the file and both configurations).
 */
function fineTunedModel(tuned: FineTune, config: ModelConfigInput, threads: number): LstmModel {
  const noDropout = (c: ModelConfigInput): string =>
    JSON.stringify({ ...makeConfig(c), dropout: undefined });
  if (noDropout(config) !== noDropout(tuned.model.config))
    throw new FormatError(
      tuned.path,
      `does not fit this data: the file's model is ${noDropout(tuned.model.config)}, this data needs ${noDropout(config)}`,
    );
  const model = new LstmModel(config, { threads });
  model.params.set(tuned.model.params);
  return model;
}

function initModel(model: LstmModel, f: TrainFlags): void {
  initParams(model, new Rng(f.seed), {
    scheme: f.init,
    recurrent: f.orthogonal ? "orthogonal" : "scheme",
    forgetBias: f.forgetBias,
  });
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
 * Checks the run's outputs against its inputs (the data file, the checkpoint resumed, the model
 * fine-tuned) and each other, creates their directories and locks them. The checkpoint of a
 * resumed run may be the file it resumed from: that is the run's own state, carried forward.
 */
function claimRunFiles(f: TrainFlags, dataFile: string): RunFiles {
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
      ...(f.fineTune ? [{ role: "--fine-tune", path: f.fineTune }] : []),
    ],
    outputs,
  });
  for (const o of outputs) prepareOutputDir(o);
  const locks = claimOutputs(outputs);
  return { out: f.out, checkpoint, interruptCheckpoint, report: f.report, locks };
}

/** A run resumed from a checkpoint (resolveFlags), or null for a new one. */
type Resumed = ReturnType<typeof loadCheckpoint> | null;

/** What a train-* command builds from its data file: the rest of the run is the same for all. */
export interface TrainingSetup {
  model: LstmModel;
  task: TrainTask;
  meta: ModelMeta;
  /** One line on the data and its split, printed before training (not with --quiet or --json). */
  describe: string;
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

/**
 * What a command's setup gets: its resolved flags, the resumed run or the model fine-tuned (or
 * null) and the data.
 */
export interface TrainingInput<F extends TrainFlags> {
  flags: F;
  resumed: Resumed;
  /** The --fine-tune model file (its flags already filled in), or null. */
  tuned: FineTune | null;
  /** The data file's bytes. */
  bytes: Uint8Array;
}

/**
 * One train-* command's run on the data file `file`: resolves the flags (a checkpoint's when
 * resuming, checked against `task`), claims the output files, reads the data, lets `setup`
 * build the model and task from it, then trains, saves and reports (runTraining). Returns the
 * flags the run used and its summary.
 */
export async function runTrainCommand<F extends TrainFlags>(
  cmd: Command,
  rawFlags: F,
  run: {
    task: "text" | "series" | "classify";
    file: string;
    setup: (input: TrainingInput<F>) => TrainingSetup;
  },
): Promise<{ flags: F; summary: TrainSummary }> {
  // Before resolveFlags: --fine-tune refuses --resume first, and fills the file's flags.
  const tuned = resolveFineTune(cmd, rawFlags, run.task);
  const { flags, resumed } = resolveFlags(cmd, rawFlags, run.task);
  const files = claimRunFiles(flags, run.file);
  const bytes = readDataBytes(run.file);
  const setup = run.setup({ flags, resumed, tuned, bytes });
  if (!flags.quiet && !flags.json) process.stderr.write(setup.describe + "\n");
  const dataSha256 = sha256Hex(bytes);
  const summary = await runTraining({ ...setup, files, flags, resumed, tuned, dataSha256 });
  return { flags, summary };
}

interface RunSpec extends Omit<TrainingSetup, "describe"> {
  files: RunFiles;
  flags: TrainFlags;
  dataSha256: string;
  resumed: Resumed;
  tuned: FineTune | null;
}

/** Trains with progress output, Ctrl-C handling and checkpoints, then saves the model and report. */
async function runTraining(spec: RunSpec): Promise<TrainSummary> {
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
    ...recordedSummary(summary, spec.lossName),
    options: { ...f, json: undefined, quiet: undefined, resume: undefined },
    // What `lstm report` checks before it reads the recorded data file again.
    dataSha256: spec.dataSha256,
    // The model file a --fine-tune run started from.
    ...(spec.tuned ? { fineTunedFrom: spec.tuned.from } : {}),
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
