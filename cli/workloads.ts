/**
 * The benchmark workloads, run on this library (`lstm bench`; `npm run bench` compares other
 * libraries on the same workloads). Every training workload is an LSTM with a linear
 * head back to the input size and a mean-squared error against random targets over every step,
 * trained with Adam (lr 1e-3) and full BPTT — the same in every library the benchmark compares.
 *
 *   A: B 32, T 50,  I 32,  H 128 — training step
 *   B: B 64, T 100, I 128, H 256 — training step
 *   C: B 1,  T 100, I 16,  H 64  — training step
 *   D: inference, B 1, one step at a time with the state carried, I 32, H 256 (per step)
 *   E: classification of variable-length rows, B 64, lengths uniform in 3–16, I 32 (an
 *      embedding's width), H 128, 4 classes from the final state (xent_final), training step
 *   E200: as E with lengths uniform in 10–200
 * E pads every batch to the range's longest length (T = 16 or 200) and passes each row's length:
 * packed-sequence semantics, no compute on padding where the library avoids it.
 */
import type { CellKind } from "../src/model/config.js";
import { LstmModel } from "../src/model/model.js";
import { Objective } from "../src/model/objective.js";
import { createOptimizer } from "../src/optim/optimizers.js";
import { Rng } from "../src/tensor/rng.js";

export type WorkloadName = "A" | "B" | "C" | "D" | "E" | "E200";
export const WORKLOAD_NAMES: readonly WorkloadName[] = ["A", "B", "C", "D", "E", "E200"];

export interface Workload {
  name: WorkloadName;
  kind: "train" | "infer";
  batch: number;
  seqLen: number;
  input: number;
  hidden: number;
  /** Timed repetitions (after warm-up). */
  reps: number;
  /** Classification workloads: each row's length is drawn uniformly from [lo, hi] (T = hi). */
  lengths?: readonly [number, number];
  /** Classification workloads: classes of the head (one per row, from the final state). */
  classes?: number;
}

export const WORKLOADS: Record<WorkloadName, Workload> = {
  A: { name: "A", kind: "train", batch: 32, seqLen: 50, input: 32, hidden: 128, reps: 20 },
  B: { name: "B", kind: "train", batch: 64, seqLen: 100, input: 128, hidden: 256, reps: 5 },
  C: { name: "C", kind: "train", batch: 1, seqLen: 100, input: 16, hidden: 64, reps: 30 },
  D: { name: "D", kind: "infer", batch: 1, seqLen: 1, input: 32, hidden: 256, reps: 10000 },
  E: {
    ...{ name: "E", kind: "train", batch: 64, seqLen: 16, input: 32, hidden: 128, reps: 30 },
    ...{ lengths: [3, 16], classes: 4 },
  },
  E200: {
    ...{ name: "E200", kind: "train", batch: 64, seqLen: 200, input: 32, hidden: 128, reps: 5 },
    ...{ lengths: [10, 200], classes: 4 },
  },
};

/** Batches of row lengths drawn for a classification workload (cycled through by the timing). */
export const LENGTH_BATCHES = 8;

/** [LENGTH_BATCHES][B] row lengths uniform in w.lengths, from a fixed seed (every library). */
export function drawLengths(w: Workload, rng: Rng): Int32Array[] {
  const [lo, hi] = w.lengths ?? [w.seqLen, w.seqLen];
  return Array.from({ length: LENGTH_BATCHES }, () =>
    Int32Array.from({ length: w.batch }, () => lo + rng.int(hi - lo + 1)),
  );
}

/**
 * Untimed steps before inference is timed: JIT, caches, and (with threads) the workers woken by
 * the stream of steps. The same in every library.
 */
export const INFER_WARMUP_STEPS = 500;

/**
 * Floating-point operations of one step: the LSTM's four gate products (2·4H·(I+H) per row and
 * step; the GRU's three) and the head (2·H·I), tripled for training (forward + two backward
 * products).
 */
export function workloadFlops(w: Workload, cell: CellKind = "lstm"): number {
  const gates = cell === "gru" ? 3 : 4;
  if (w.lengths) {
    // Classification: the recurrence on the valid steps only (mean length), the head once per row.
    const steps = (w.lengths[0] + w.lengths[1]) / 2;
    const rnn = 2 * gates * w.hidden * (w.input + w.hidden) * steps;
    return (rnn + 2 * w.hidden * (w.classes ?? 1)) * w.batch * 3;
  }
  const perRow = 2 * gates * w.hidden * (w.input + w.hidden) + 2 * w.hidden * w.input;
  return perRow * w.seqLen * w.batch * (w.kind === "train" ? 3 : 1);
}

export interface WorkloadResult {
  workload: WorkloadName;
  library: string;
  /** Median milliseconds per training step (A–C) or per generated step (D). */
  msPerStep: number;
  /** Sequence steps × batch processed per second. */
  stepsTimesBatchPerSecond: number;
  gflops: number;
  reps: number;
  /** Threads lstm-ts computed with (runOurs only). */
  threads?: number;
  /** Each timed unit's milliseconds per step (runOurs only). */
  times?: number[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function summarize(
  w: Workload,
  library: string,
  times: number[],
  cell: CellKind = "lstm",
): WorkloadResult {
  const ms = median(times);
  return {
    workload: w.name,
    library,
    msPerStep: ms,
    stepsTimesBatchPerSecond: (w.seqLen * w.batch) / (ms / 1000),
    gflops: workloadFlops(w, cell) / (ms * 1e6),
    reps: times.length,
  };
}

/**
 * The training step of workload `w` on `model`: MSE against one fixed batch of N(0, 1) inputs and
 * targets drawn from `rng`, then an Adam step (bench/memory.ts measures the same step).
 */
export function trainStep(model: LstmModel, w: Workload, rng: Rng): () => void {
  const x = Float32Array.from({ length: w.seqLen * w.batch * w.input }, () => rng.normal());
  const y = Float32Array.from({ length: w.seqLen * w.batch * w.input }, () => rng.normal());
  // The weights' gradients only, as in every library compared (x is data, not a parameter).
  const objective = new Objective(model, "mse", { inputGrad: false });
  const adam = createOptimizer({ kind: "adam", lr: 1e-3 }, model.numParams, model.dtype);
  const batch = { x, seqLen: w.seqLen, batch: w.batch, targets: y };
  return (): void => {
    model.zeroGrad();
    objective.run(batch);
    adam.step(model.params, model.grads);
  };
}

/**
 * Runs workload `w` on lstm-ts with the given backend (default: the fastest available) and
 * threads (default 1; see ModelOptions.threads).
 */
export function runOurs(
  w: Workload,
  opts: { backend?: string; reps?: number; threads?: number; cell?: CellKind } = {},
): WorkloadResult {
  const rng = new Rng(1);
  const model = new LstmModel(
    {
      cell: opts.cell,
      inputSize: w.input,
      hiddenSize: w.hidden,
      outputSize: w.classes ?? w.input,
    },
    { backend: opts.backend, threads: opts.threads },
  );
  model.initDefault(rng);
  const reps = opts.reps ?? w.reps;
  const times: number[] = [];
  if (w.lengths) {
    // Variable lengths: xent_final on the rows' final states, one class per row.
    const lengths = drawLengths(w, rng);
    const x = Float32Array.from({ length: w.seqLen * w.batch * w.input }, () => rng.normal());
    const targets = Int32Array.from({ length: w.batch }, () => rng.int(w.classes ?? 2));
    const objective = new Objective(model, "xent_final", { inputGrad: false });
    const adam = createOptimizer({ kind: "adam", lr: 1e-3 }, model.numParams, model.dtype);
    let k = 0;
    const step = (): void => {
      const batch = {
        x,
        seqLen: w.seqLen,
        batch: w.batch,
        targets,
        lengths: lengths[k++ % LENGTH_BATCHES],
      };
      model.zeroGrad();
      objective.run(batch);
      adam.step(model.params, model.grads);
    };
    for (let i = 0; i < Math.min(3, reps); i++) step();
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      step();
      times.push(performance.now() - t0);
    }
  } else if (w.kind === "train") {
    const step = trainStep(model, w, rng);
    for (let i = 0; i < Math.min(3, reps); i++) step(); // warm-up: JIT, workspace allocation
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      step();
      times.push(performance.now() - t0);
    }
  } else {
    const S = model.config.numLayers * w.hidden;
    const h = new Float32Array(S);
    const c = new Float32Array(model.cellStateSize(1)); // empty for a GRU
    const x = Float32Array.from({ length: w.input }, () => rng.normal());
    model.checkParams(); // once, as a streaming caller does; then each step skips the O(P) scan
    const step = (): void => {
      const r = model.forward(x, { seqLen: 1, batch: 1, h0: h, c0: c, checkParams: false });
      h.set(r.hN);
      c.set(r.cN);
      x.set(r.output); // the head maps back to the input size: feed the output in
    };
    for (let i = 0; i < INFER_WARMUP_STEPS; i++) step();
    // Time blocks of 100 steps (single steps are below the timer's resolution).
    const block = 100;
    for (let r = 0; r < Math.max(1, Math.floor(reps / block)); r++) {
      const t0 = performance.now();
      for (let i = 0; i < block; i++) step();
      times.push((performance.now() - t0) / block);
    }
  }
  const threads = model.threads;
  model.dispose();
  const cell = model.config.cell;
  const what = `${cell === "gru" ? "GRU, " : ""}${model.kernels.name}`;
  const library = `lstm-ts (${what}${threads > 1 ? `, ${threads} threads` : ""})`;
  return { ...summarize(w, library, times, cell), threads, times };
}
