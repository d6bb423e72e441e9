/**
 * Synthetic sequence tasks that only real backpropagation through time can solve: the signal
 * that decides the target sits many steps before the step the loss reads. Used by the learning
 * tests and the benchmarks. Each batch is drawn from the trainer's seeded Rng; the validation
 * set is drawn once from its own seed.
 *
 * Layout: x [T, B, I] time-major; targets [B, O] (the loss reads the last step only).
 */
import type { LstmModel } from "../model/model.js";
import { Objective, type SequenceBatch } from "../model/objective.js";
import { ConfigError } from "../tensor/errors.js";
import { Rng } from "../tensor/rng.js";
import type { TaskState, TrainTask } from "./trainer.js";

/** Draws sequence b of a batch of B: its T steps in x [T, B, I] (zero-filled before) and y[b, :]. */
type SequenceGenerator = (
  x: Float64Array,
  y: Float64Array,
  b: number,
  T: number,
  B: number,
  rng: Rng,
) => void;

/** Sizes of a synthetic task's batches and validation set. */
export interface SyntheticOptions {
  seqLen: number;
  batch: number;
  /** Validation sequences (drawn once, seed `validSeed`). */
  validSize?: number;
  validSeed?: number;
}

/** A synthetic sequence task (adding, bit recall, noisy sine): fresh random batches every step, a fixed validation set, MSE on the last step. */
class SyntheticTask implements TrainTask {
  readonly loss = "mse_last" as const;
  readonly stepsPerEpoch = 100; // an "epoch" is a reporting unit here: data never repeats
  readonly samplesPerStep: number;
  private readonly x: Float64Array;
  private readonly y: Float64Array;
  private readonly vx: Float64Array;
  private readonly vy: Float64Array;
  readonly T: number;
  readonly B: number;
  private readonly validSize: number;

  constructor(
    readonly name: string,
    readonly inputSize: number,
    readonly outputSize: number,
    private readonly sequence: SequenceGenerator,
    o: SyntheticOptions,
  ) {
    for (const [k, v] of Object.entries({ seqLen: o.seqLen, batch: o.batch }))
      if (!Number.isInteger(v) || v < 1)
        throw new ConfigError(k, `must be a positive integer, got ${v}`);
    this.T = o.seqLen;
    this.B = o.batch;
    this.samplesPerStep = this.B;
    this.validSize = o.validSize ?? 256;
    this.x = new Float64Array(this.T * this.B * inputSize);
    this.y = new Float64Array(this.B * outputSize);
    this.vx = new Float64Array(this.T * this.validSize * inputSize);
    this.vy = new Float64Array(this.validSize * outputSize);
    this.draw(this.vx, this.vy, this.validSize, new Rng(o.validSeed ?? 987654321));
  }

  /** Fills x and y with B sequences, in order. */
  private draw(x: Float64Array, y: Float64Array, B: number, rng: Rng): void {
    x.fill(0);
    for (let b = 0; b < B; b++) this.sequence(x, y, b, this.T, B, rng);
  }

  nextBatch(rng: Rng): SequenceBatch {
    this.draw(this.x, this.y, this.B, rng);
    return { x: this.x, seqLen: this.T, batch: this.B, targets: this.y };
  }

  afterStep(): void {}
  resetState(): void {}

  /** Mean squared error on the validation set. */
  evaluate(model: LstmModel): number {
    return new Objective(model, "mse_last").run(
      { x: this.vx, seqLen: this.T, batch: this.validSize, targets: this.vy },
      false,
    ).loss;
  }

  /** Model outputs on the validation set, with the targets ([validSize, O] each). */
  predictValid(model: LstmModel): { output: Float64Array; targets: Float64Array } {
    const r = model.forward(this.vx, { seqLen: this.T, batch: this.validSize, readout: "last" });
    return { output: Float64Array.from(r.output), targets: this.vy };
  }

  saveState(): TaskState {
    return { json: {}, tensors: {} };
  }
  loadState(): void {}
}

export type { SyntheticTask };

/**
 * Remember a bit: channel 0 is ±1 (the bit) at t = 0 and 0 afterwards; channel 1 is Gaussian
 * noise (σ = 1) at every step, a distractor. The target at the last step is the bit (±1).
 * Solving it needs the gradient to travel T − 1 steps back through c.
 */
export function bitRecallTask(o: SyntheticOptions): SyntheticTask {
  return new SyntheticTask(
    "bit-recall",
    2,
    1,
    (x, y, b, T, B, rng) => {
      const bit = rng.uniform() < 0.5 ? -1 : 1;
      y[b] = bit;
      x[b * 2] = bit;
      for (let t = 0; t < T; t++) x[(t * B + b) * 2 + 1] = rng.normal();
    },
    o,
  );
}

/**
 * The adding problem (Hochreiter & Schmidhuber 1997): channel 0 holds U(0, 1) values, channel 1
 * marks one position in the first half and one in the second; the target is the sum of the two
 * marked values. Predicting the mean (1) gives MSE 1/6.
 */
export function addingTask(o: SyntheticOptions): SyntheticTask {
  return new SyntheticTask(
    "adding",
    2,
    1,
    (x, y, b, T, B, rng) => {
      const half = Math.max(1, Math.floor(T / 2));
      const i = rng.int(half);
      const j = Math.min(T - 1, half + rng.int(Math.max(1, T - half)));
      let sum = 0;
      for (let t = 0; t < T; t++) {
        const v = rng.uniform();
        x[(t * B + b) * 2] = v;
        if (t === i || t === j) {
          x[(t * B + b) * 2 + 1] = 1;
          sum += v;
        }
      }
      y[b] = sum;
    },
    o,
  );
}

/**
 * Next-value prediction of a noisy sine: x_t = sin(ω t + φ) + ε with ε ~ N(0, σ²), random phase
 * per sequence; the target is the noise-free next value sin(ω T + φ). Variance of the target: ½.
 */
export function noisySineTask(
  o: SyntheticOptions & { omega?: number; noise?: number },
): SyntheticTask {
  const omega = o.omega ?? 0.3;
  const noise = o.noise ?? 0.1;
  return new SyntheticTask(
    "noisy-sine",
    1,
    1,
    (x, y, b, T, B, rng) => {
      const phase = rng.range(0, 2 * Math.PI);
      for (let t = 0; t < T; t++) x[t * B + b] = Math.sin(omega * t + phase) + noise * rng.normal();
      y[b] = Math.sin(omega * T + phase);
    },
    o,
  );
}
