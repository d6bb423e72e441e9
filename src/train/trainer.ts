/**
 * The training loop: batches from a task, forward + BPTT, non-finite detection, clipping, the
 * optimizer, learning-rate schedule, evaluation, early stopping, checkpoint hooks and events.
 *
 * Determinism: every random draw comes from one seeded Rng (the task's shuffles included) and
 * the loop has no other source of variation, so the same seed and data give bit-identical
 * weights. Everything the loop carries from one step to the next is in `TrainerState`, so a run
 * resumed from a checkpoint continues exactly as if it had never stopped.
 */
import type { LossKind } from "../loss/losses.js";
import type { LstmModel } from "../model/model.js";
import { Objective, type LossResult, type SequenceBatch } from "../model/objective.js";
import { clipGradNorm, clipGradValue } from "../optim/clip.js";
import {
  createOptimizer,
  type Optimizer,
  type OptimizerConfig,
  type OptimizerState,
} from "../optim/optimizers.js";
import { lrAt, type ScheduleConfig } from "../optim/schedule.js";
import type { FloatArray } from "../tensor/dtype.js";
import { ConfigError, LstmError, NonFiniteError } from "../tensor/errors.js";
import { Rng } from "../tensor/rng.js";
import type { StopReason, TrainEvent, TrainListener } from "./events.js";

/** A source of batches: text windows, series windows, a synthetic task. */
export interface TrainTask {
  readonly loss: LossKind;
  /** Training steps in one pass over the data. */
  readonly stepsPerEpoch: number;
  /** Samples one step consumes, for throughput (T·B for text, B windows for series). */
  readonly samplesPerStep: number;
  /** The next training batch; advances the data position (shuffles draw from `rng`). */
  nextBatch(rng: Rng): SequenceBatch;
  /** Called after a good step, e.g. to carry h_n, c_n into the next window. */
  afterStep(result: LossResult): void;
  /** Forget any carried state (after a non-finite step). */
  resetState(): void;
  /** Mean validation loss, or null without validation data. Must not disturb training state. */
  evaluate(model: LstmModel): number | null;
  /** The data position and carried state, for checkpoints. */
  saveState(): TaskState;
  /** Restores the data position and carried state from `saveState`. */
  loadState(s: TaskState): void;
}

/** A task's data position and carried state: JSON fields and tensors. */
export interface TaskState {
  json: Record<string, unknown>;
  tensors: Record<string, FloatArray>;
}

/** How a Trainer trains: optimizer, schedule, clipping, budget, evaluation, early stopping, checkpoints and seed. */
export interface TrainOptions {
  optimizer: OptimizerConfig;
  schedule?: ScheduleConfig;
  /** Clip the global gradient norm to this (clip_grad_norm_); none when undefined. */
  clipNorm?: number;
  /** Clip each gradient entry to ±this (clip_grad_value_). */
  clipValue?: number;
  /** Budget: stop at the first of these that is reached (at least one is required). */
  steps?: number;
  epochs?: number;
  seconds?: number;
  /** Evaluate every this many steps (default: once per epoch, at most every 200 steps). */
  evalEvery?: number;
  /** Stop after this many evaluations without improvement (early stopping); 0 = never. */
  patience?: number;
  /** At the end, restore the weights of the best evaluation (default true). */
  restoreBest?: boolean;
  /** Call `onCheckpoint` every this many steps (0 = never). */
  checkpointEvery?: number;
  /** Consecutive non-finite steps before rolling back with half the learning rate. */
  maxBadSteps?: number;
  seed: number;
}

/** Everything the loop carries between steps; with params and task state, a full checkpoint. */
export interface TrainerState {
  step: number;
  lrFactor: number;
  badSteps: number;
  bestValid: number | null;
  bestStep: number | null;
  evalsSinceBest: number;
  /** Sum and count of training losses since the last evaluation. */
  lossSum: number;
  lossCount: number;
  rng: [number, number, number, number];
  history: { step: number; trainLoss: number; validLoss: number | null }[];
  elapsedMs: number;
  nonFiniteSteps: number;
}

/** Everything needed to resume training exactly: parameters, trainer, optimizer and task state. */
export interface Checkpoint {
  /** The model's parameters at the checkpoint. */
  params: FloatArray;
  trainer: TrainerState;
  optimizer: OptimizerState;
  /** The best weights so far (early stopping), when there was an evaluation. */
  bestParams: FloatArray | null;
  task: TaskState;
}

/** How a training run ended and went. */
export interface TrainSummary {
  steps: number;
  epochs: number;
  stopReason: StopReason;
  finalTrainLoss: number | null;
  bestValidLoss: number | null;
  bestStep: number | null;
  restoredBest: boolean;
  elapsedMs: number;
  history: TrainerState["history"];
  nonFiniteSteps: number;
}

/**
 * A run's summary as a model file's `training` metadata records it (the CLI's and the worker's
 * runs alike): rounded epochs and seconds, the loss's name and the evaluation history.
 */
export function recordedSummary(summary: TrainSummary, lossName: string) {
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
    loss: lossName,
    history: summary.history,
  };
}

/** Raised when training cannot continue: non-finite values even at a tiny learning rate. */
export class TrainingDivergedError extends LstmError {
  constructor(message: string) {
    super("E_DIVERGED", message);
  }
}

const MIN_LR_FACTOR = 1 / 1024;

/**
 * The number of steps a budget allows: the first of `steps` and `epochs` (rounded up to whole
 * steps), or null when only a time budget bounds the run. The one place this is computed: the
 * trainer's loop, the CLI's learning-rate schedule and its progress bar all use it.
 */
export function stepBudget(
  budget: Pick<TrainOptions, "steps" | "epochs">,
  stepsPerEpoch: number,
): number | null {
  const fromEpochs =
    budget.epochs !== undefined ? Math.ceil(budget.epochs * stepsPerEpoch) : Infinity;
  const t = Math.min(budget.steps ?? Infinity, fromEpochs);
  return Number.isFinite(t) ? t : null;
}

/** Trains a model on a task: forward, full BPTT, clipping and the optimizer step, with schedules, evaluation, early stopping, checkpoints, NaN recovery and events. */
export class Trainer {
  readonly optimizer: Optimizer;
  readonly rng: Rng;
  private readonly objective: Objective;
  private readonly listeners: TrainListener[] = [];
  private readonly opts: Required<
    Omit<TrainOptions, "steps" | "epochs" | "seconds" | "clipNorm" | "clipValue" | "schedule">
  > &
    Pick<TrainOptions, "steps" | "epochs" | "seconds" | "clipNorm" | "clipValue" | "schedule">;
  private st: TrainerState;
  private bestParams: FloatArray | null = null;
  private readonly prevParams: FloatArray;
  private stopRequested = false;
  /** Training with a clock other than performance.now (tests). */
  now: () => number = () => performance.now();

  /** Called with a checkpoint every `checkpointEvery` steps and at the end (when set). */
  onCheckpoint: ((c: Checkpoint) => void) | null = null;

  constructor(
    readonly model: LstmModel,
    readonly task: TrainTask,
    options: TrainOptions,
  ) {
    const budget = [options.steps, options.epochs, options.seconds].filter((v) => v !== undefined);
    if (budget.length === 0)
      throw new ConfigError("budget", "give at least one of steps, epochs, seconds");
    for (const [field, v] of Object.entries({
      steps: options.steps,
      epochs: options.epochs,
      seconds: options.seconds,
    }))
      if (v !== undefined && !(Number.isFinite(v) && v > 0))
        throw new ConfigError(field, `must be positive, got ${v}`);
    if (options.clipNorm !== undefined && !(options.clipNorm > 0))
      throw new ConfigError("clip", `must be positive, got ${options.clipNorm}`);
    if (options.clipValue !== undefined && !(options.clipValue > 0))
      throw new ConfigError("clipValue", `must be positive, got ${options.clipValue}`);
    if (!Number.isInteger(options.seed) || options.seed < 0)
      throw new ConfigError("seed", `must be a non-negative integer, got ${options.seed}`);
    if (task.stepsPerEpoch < 1) throw new ConfigError("data", "the task has no training batches");
    const evalDefault = Math.max(1, Math.min(task.stepsPerEpoch, 200));
    this.opts = {
      ...options,
      evalEvery: options.evalEvery ?? evalDefault,
      patience: options.patience ?? 0,
      restoreBest: options.restoreBest ?? true,
      checkpointEvery: options.checkpointEvery ?? 0,
      maxBadSteps: options.maxBadSteps ?? 3,
    };
    for (const f of ["evalEvery", "patience", "checkpointEvery", "maxBadSteps"] as const) {
      const v = this.opts[f];
      if (!Number.isInteger(v) || v < (f === "evalEvery" || f === "maxBadSteps" ? 1 : 0))
        throw new ConfigError(
          f,
          `must be a ${f === "evalEvery" ? "positive" : "non-negative"} integer, got ${v}`,
        );
    }
    this.optimizer = createOptimizer(options.optimizer, model.numParams, model.dtype);
    // Training updates the weights only: no gradient for the inputs.
    this.objective = new Objective(model, task.loss, { inputGrad: false });
    this.rng = new Rng(options.seed);
    this.prevParams = model.params.slice();
    this.st = {
      step: 0,
      lrFactor: 1,
      badSteps: 0,
      bestValid: null,
      bestStep: null,
      evalsSinceBest: 0,
      lossSum: 0,
      lossCount: 0,
      rng: this.rng.getState(),
      history: [],
      elapsedMs: 0,
      nonFiniteSteps: 0,
    };
  }

  /** Adds a listener for every TrainEvent; returns the trainer. */
  on(listener: TrainListener): this {
    this.listeners.push(listener);
    return this;
  }

  /** Ask the loop to stop after the current step (e.g. on Ctrl-C). */
  requestStop(): void {
    this.stopRequested = true;
  }

  get step(): number {
    return this.st.step;
  }

  private emit(e: TrainEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** A snapshot of everything needed to resume; buffers are copies. */
  checkpoint(): Checkpoint {
    const opt = this.optimizer.state();
    const buffers: Record<string, FloatArray> = {};
    for (const [k, v] of Object.entries(opt.buffers)) buffers[k] = v.slice();
    return {
      params: this.model.params.slice(),
      trainer: structuredClone({ ...this.st, rng: this.rng.getState() }),
      optimizer: { ...opt, buffers },
      bestParams: this.bestParams ? this.bestParams.slice() : null,
      task: this.task.saveState(),
    };
  }

  /** Restores a checkpoint taken by `checkpoint()`, the model's parameters included. */
  restore(c: Checkpoint): void {
    if (c.params.length !== this.model.numParams)
      throw new ConfigError(
        "checkpoint",
        `has ${c.params.length} parameters, the model ${this.model.numParams}`,
      );
    this.model.params.set(c.params);
    this.optimizer.loadState(c.optimizer);
    this.rng.setState(c.trainer.rng);
    this.st = structuredClone(c.trainer);
    if (c.bestParams && c.bestParams.length !== this.model.numParams)
      throw new ConfigError("checkpoint", "best params have the wrong length");
    this.bestParams = c.bestParams ? c.bestParams.slice() : null;
    this.task.loadState(c.task);
  }

  /** The run's budget: total steps (null when only time bounds it) and seconds (or null). */
  get budget(): { totalSteps: number | null; seconds: number | null } {
    return {
      totalSteps: stepBudget(this.opts, this.task.stepsPerEpoch),
      seconds: this.opts.seconds ?? null,
    };
  }

  private evaluate(): void {
    const trainLoss = this.st.lossCount > 0 ? this.st.lossSum / this.st.lossCount : NaN;
    const validLoss = this.task.evaluate(this.model);
    let best = false;
    if (validLoss !== null && Number.isFinite(validLoss)) {
      if (this.st.bestValid === null || validLoss < this.st.bestValid) {
        this.st.bestValid = validLoss;
        this.st.bestStep = this.st.step;
        this.st.evalsSinceBest = 0;
        this.bestParams = this.model.params.slice();
        best = true;
      } else this.st.evalsSinceBest++;
    }
    this.st.history.push({ step: this.st.step, trainLoss, validLoss });
    this.st.lossSum = 0;
    this.st.lossCount = 0;
    this.emit({
      type: "eval",
      step: this.st.step,
      epoch: this.st.step / this.task.stepsPerEpoch,
      trainLoss,
      validLoss,
      best,
    });
  }

  /** One training step; returns false when it was skipped (non-finite). */
  private trainStep(): boolean {
    const model = this.model;
    const o = this.opts;
    const lr =
      lrAt(o.optimizer.lr, this.st.step, o.schedule ?? { kind: "constant" }) * this.st.lrFactor;
    this.optimizer.lr = lr;
    const batch = this.task.nextBatch(this.rng);
    model.zeroGrad();
    // Forward first: a non-finite loss must not reach backward (whose inputs must be finite).
    let result: LossResult;
    try {
      // Train mode: dropout masks come from the trainer's rng (saved in checkpoints).
      result = this.objective.run({ ...batch, mode: "train", rng: this.rng }, false);
    } catch (e) {
      // The head output overflowed (weights too large): the same as a non-finite loss.
      if (!(e instanceof NonFiniteError) || e.tensor !== "output") throw e;
      result = { loss: NaN, forward: null as unknown as LossResult["forward"] };
    }
    let bad: "loss" | "gradient" | "params" | null = Number.isFinite(result.loss) ? null : "loss";
    let gradNorm = NaN;
    if (!bad) {
      result.backward = this.objective.backward();
      if (o.clipValue !== undefined) clipGradValue(model.grads, o.clipValue);
      gradNorm =
        o.clipNorm !== undefined
          ? clipGradNorm(model.grads, o.clipNorm).totalNorm
          : gradNormOf(model.grads);
      if (!Number.isFinite(gradNorm)) bad = "gradient";
    }
    if (!bad) {
      // Keep the weights (into a buffer allocated once) to undo an update that overflows them.
      // The optimizer's moments keep this step's gradient: it was finite, only the step was
      // too large, and the rate is cut if it happens again.
      this.prevParams.set(model.params);
      this.optimizer.step(model.params, model.grads);
      if (!allFinite(model.params)) {
        bad = "params";
        model.params.set(this.prevParams);
      }
    }
    if (bad) {
      this.task.resetState();
      this.st.badSteps++;
      let action: "skipped" | "rolled-back" = "skipped";
      if (this.st.badSteps >= o.maxBadSteps) {
        this.st.lrFactor /= 2;
        this.st.badSteps = 0;
        action = "rolled-back";
        if (this.bestParams) model.params.set(this.bestParams);
        if (this.st.lrFactor < MIN_LR_FACTOR)
          throw new TrainingDivergedError(
            `training diverged: non-finite ${bad} at step ${this.st.step + 1} even with the learning rate cut to ` +
              `${this.st.lrFactor} of its value; lower --lr or set --clip`,
          );
      }
      this.st.step++; // a skipped step still consumes its batch, so the data order stays fixed
      this.emit({
        type: "nonfinite",
        step: this.st.step,
        what: bad,
        action,
        lrFactor: this.st.lrFactor,
        message:
          action === "skipped"
            ? `non-finite ${bad} at step ${this.st.step}: update skipped, weights unchanged`
            : `non-finite ${bad} ${o.maxBadSteps} times: rolled back to the best weights, learning rate ×${this.st.lrFactor}`,
      });
      return false;
    }
    this.st.badSteps = 0;
    this.task.afterStep(result);
    this.st.step++;
    this.st.lossSum += result.loss;
    this.st.lossCount++;
    this.lastLoss = result.loss;
    this.lastGradNorm = gradNorm;
    return true;
  }

  /** Set when run() returns: the checkpoint to resume this run from. */
  resumePoint: Checkpoint | null = null;
  private lastLoss = NaN;
  private lastGradNorm = NaN;

  /** Runs until the budget is spent, early stopping triggers, or stop is requested. */
  async run(): Promise<TrainSummary> {
    const o = this.opts;
    const total = this.budget.totalSteps;
    const start = this.now() - this.st.elapsedMs;
    const spe = this.task.stepsPerEpoch;
    this.emit({
      type: "start",
      step: this.st.step,
      totalSteps: total,
      stepsPerEpoch: spe,
      numParams: this.model.numParams,
    });
    let reason: StopReason | null = null;
    let lastYield = this.now();
    while (reason === null) {
      if (total !== null && this.st.step >= total)
        reason = o.steps !== undefined && this.st.step >= o.steps ? "steps" : "epochs";
      else if (o.seconds !== undefined && this.now() - start >= o.seconds * 1000) reason = "time";
      else if (this.stopRequested) reason = "interrupted";
      if (reason !== null) break;

      const t0 = this.now();
      const ok = this.trainStep();
      if (!ok) this.st.nonFiniteSteps++;
      const t1 = this.now();
      this.st.elapsedMs = t1 - start;
      if (ok)
        this.emit({
          type: "step",
          step: this.st.step,
          epoch: this.st.step / spe,
          loss: this.lastLoss,
          lr: this.optimizer.lr,
          gradNorm: this.lastGradNorm,
          elapsedMs: this.st.elapsedMs,
          throughput: this.task.samplesPerStep / Math.max((t1 - t0) / 1000, 1e-9),
        });
      if (this.st.step % spe === 0)
        this.emit({ type: "epoch", epoch: this.st.step / spe, step: this.st.step });
      if (this.st.step % o.evalEvery === 0) {
        this.evaluate();
        if (o.patience > 0 && this.st.evalsSinceBest >= o.patience) reason = "early-stopping";
      }
      if (o.checkpointEvery > 0 && this.st.step % o.checkpointEvery === 0 && this.onCheckpoint) {
        this.onCheckpoint(this.checkpoint());
        this.emit({ type: "checkpoint", step: this.st.step });
      }
      // Let timers and signal handlers run (Ctrl-C, progress redraws) without slowing the loop.
      if (this.now() - lastYield > 50) {
        await new Promise((r) => setTimeout(r, 0));
        lastYield = this.now();
      }
    }
    // Where a later --resume continues from: the state before the end-of-run evaluation and
    // best-weight restore, so N steps + resume N steps equals 2N steps exactly.
    this.resumePoint = this.checkpoint();
    // A last evaluation unless the final step just had one.
    const last = this.st.history[this.st.history.length - 1];
    if (this.st.step > 0 && (!last || last.step !== this.st.step)) this.evaluate();
    let restoredBest = false;
    const finalValid = this.st.history[this.st.history.length - 1]?.validLoss ?? null;
    if (
      o.restoreBest &&
      this.bestParams &&
      this.st.bestValid !== null &&
      finalValid !== null &&
      finalValid > this.st.bestValid
    ) {
      this.model.params.set(this.bestParams);
      restoredBest = true;
    }
    this.emit({
      type: "stop",
      reason,
      step: this.st.step,
      bestValidLoss: this.st.bestValid,
      bestStep: this.st.bestStep,
      restoredBest,
    });
    const trainLosses = this.st.history.map((h) => h.trainLoss).filter(Number.isFinite);
    return {
      steps: this.st.step,
      epochs: this.st.step / spe,
      stopReason: reason,
      finalTrainLoss: trainLosses.length ? trainLosses[trainLosses.length - 1] : null,
      bestValidLoss: this.st.bestValid,
      bestStep: this.st.bestStep,
      restoredBest,
      elapsedMs: this.st.elapsedMs,
      history: this.st.history,
      nonFiniteSteps: this.st.nonFiniteSteps,
    };
  }
}

function gradNormOf(g: FloatArray): number {
  let s = 0;
  for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

function allFinite(a: FloatArray): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) return false;
  return true;
}
