/**
 * The child-process side of `npm run bench`: each library runs one workload in its own process
 * and reports on stdout in lines starting with "@@bench " followed by one JSON object (other
 * lines — libraries' banners and warnings — are ignored). Events:
 *
 *   info   {library, version, note?}   after the library loaded
 *   start  {steps}                      before each warm-up or timed unit (steps it runs)
 *   sample {ms}                         after each timed unit: milliseconds per step
 *   done   {times} | {msPerStep, reps}  the timed milliseconds per step
 *   na     {reason}                     the library cannot express this workload
 *   skip   {reason}                     the library failed to load
 *
 * The parent (bench/run.ts) kills a child after its time limit and then reports the samples it
 * has, or a lower bound from the last "start" when no timed unit finished. bench/torch_bench.py
 * speaks the same protocol.
 */
import { INFER_WARMUP_STEPS, type Workload } from "../cli/workloads.js";

export const MARK = "@@bench ";

/** The libraries bench/child.ts runs (bench/torch_bench.py runs PyTorch). */
export const JS_LIBRARIES = [
  "lstm-ts", // default backend, one thread: the baseline of every speed-up
  "lstm-ts-mt", // default backend, one thread per core (where the build has threads)
  "lstm-ts-simd", // the plain SIMD build (no fused multiply-adds), one thread
  "lstm-ts-js", // the reference backend
  "tfjs-cpu",
  "tfjs-wasm",
  "brain.js",
] as const;

export function emit(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(MARK + JSON.stringify({ event, ...fields }) + "\n");
}

/** How a library runs one workload (either function may return a promise). */
export type Runner =
  /** One training step: forward, loss, BPTT, optimizer update over the whole batch. */
  | { kind: "train"; step: () => unknown; note?: string }
  /** `n` inference steps one after another, the state carried from step to step. */
  | { kind: "infer"; steps: (n: number) => unknown; note?: string }
  | { kind: "na"; reason: string };

export interface Library {
  library: string;
  version: string;
  note?: string;
  /** The workload with an LSTM, or with a GRU of the same sizes (`cell`). */
  setup(w: Workload, cell: "lstm" | "gru"): Runner | Promise<Runner>;
}

/** No timed repetition starts after this long (the first always runs). */
const BUDGET_MS = 40_000;

/**
 * Times a runner as runOurs does: training takes up to 3 warm-up steps (one when a step is
 * slower than 2 s), then `w.reps` timed steps; inference warms up with INFER_WARMUP_STEPS and times
 * blocks of 100 (w.reps steps in all). Returns milliseconds per step of each timed unit.
 */
export async function measure(r: Runner, w: Workload): Promise<number[]> {
  const t0 = performance.now();
  const times: number[] = [];
  if (r.kind === "train") {
    for (let i = 0; i < 3; i++) {
      emit("start", { steps: 1 });
      const s = performance.now();
      await r.step();
      if (performance.now() - s > 2000) break;
    }
    for (let i = 0; i < w.reps; i++) {
      if (i > 0 && performance.now() - t0 > BUDGET_MS) break;
      emit("start", { steps: 1 });
      const s = performance.now();
      await r.step();
      times.push(performance.now() - s);
      emit("sample", { ms: times[times.length - 1] });
    }
  } else if (r.kind === "infer") {
    const block = 100;
    emit("start", { steps: INFER_WARMUP_STEPS });
    await r.steps(INFER_WARMUP_STEPS);
    for (let i = 0; i < Math.max(1, Math.floor(w.reps / block)); i++) {
      if (i > 0 && performance.now() - t0 > BUDGET_MS) break;
      emit("start", { steps: block });
      const s = performance.now();
      await r.steps(block);
      times.push((performance.now() - s) / block);
      emit("sample", { ms: times[times.length - 1] });
    }
  }
  return times;
}

/** Standard-normal Float32Array of length n (Box–Muller; the data is random anyway). */
export function randn(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++)
    a[i] = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
  return a;
}

/** The first line of an error's message. */
export function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split("\n")[0];
}
