/**
 * The job table of the wasm backend's worker threads: the layout of the shared control block,
 * and for each kind of job (a kernel split across threads) its arguments, declared once by name.
 * The calling thread writes a job's arguments with `writeArgs` and computes its own slice with
 * the job's `run`; a worker (worker.ts) reads them with `readArgs` from the same declaration and
 * runs the same `run` on its slice. Pointers are byte addresses in the shared memory.
 */
import type { KernelExports } from "./loader.js";
import type { Slice } from "./split.js";

/** Most workers per pool (the control block's size); `threads` is at most this plus one. */
export const MAX_WORKERS = 63;

/** The control block: int32 indices into one SharedArrayBuffer per pool. */
export const Control = {
  READY_COUNT: 0,
  DONE: 1,
  ERROR: 2,
  STOP: 3,
  /** Workers that could not instantiate the module. */
  FAILED_COUNT: 4,
  /** The job's kind (its index in JOBS). */
  KIND: 5,
  /** The job's full-size arguments, in the order of its `fields`. */
  ARGS: 6,
  /** One generation counter per worker index 1…MAX_WORKERS. */
  GEN: 6 + 16,
  /** 1 once worker w has started. */
  READY: 6 + 16 + (MAX_WORKERS + 1),
  /** 1 while worker w spins (or computes), 0 asleep. */
  AWAKE: 6 + 16 + 2 * (MAX_WORKERS + 1),
  /** Four per worker index: its slice [i0, i1, j0, j1]. */
  RANGES: 6 + 16 + 3 * (MAX_WORKERS + 1),
  /** Chunked jobs: the next chunk to take. */
  NEXT: 6 + 16 + 7 * (MAX_WORKERS + 1),
  /** Chunked jobs: rows per chunk. */
  CHUNK: 6 + 16 + 7 * (MAX_WORKERS + 1) + 1,
  /** Int32 elements of the block. */
  INTS: 6 + 16 + 7 * (MAX_WORKERS + 1) + 2,
} as const;

/** Most arguments of a job (the room between ARGS and GEN). */
const MAX_ARGS = Control.GEN - Control.ARGS;

/** A job's arguments by name (int32 each). */
export type JobArgs<F extends readonly string[]> = { [K in F[number]]: number };

/** One kind of job: its argument names (the control block order) and how to compute a slice. */
export interface JobSpec<F extends readonly string[] = readonly string[]> {
  /** Index in JOBS, written to Control.KIND. */
  readonly kind: number;
  readonly fields: F;
  /**
   * Chunked jobs take rows [0, total) in chunks of Control.CHUNK rows, each thread taking the
   * next chunk until none is left (`takeChunks`); the slice then holds [0, total, 0, 0].
   */
  readonly chunked: boolean;
  /** Computes slice s of the job (rows [i0, i1) and/or columns [j0, j1)) on this thread. */
  run(ex: KernelExports, a: JobArgs<F>, s: Slice, scratch: number): void;
}

function job<const F extends readonly string[]>(spec: JobSpec<F>): JobSpec<F> {
  if (spec.fields.length > MAX_ARGS) throw new Error(`job ${spec.kind}: too many arguments`);
  return spec;
}

/** C[M, N] by rows [i0, i1) × columns [j0, j1) (assembly/kernels.ts gemm). */
export const GemmJob = job({
  kind: 0,
  fields: ["c", "ldc", "a", "lda", "transA", "b", "ldb", "transB", "m", "n", "k", "beta"],
  chunked: false,
  run(ex, a, s, scratch) {
    ex.gemm(
      a.c,
      a.ldc,
      a.a,
      a.lda,
      a.transA,
      a.b,
      a.ldb,
      a.transB,
      a.m,
      a.n,
      a.k,
      a.beta,
      s[0],
      s[1],
      s[2],
      s[3],
      scratch,
    );
  },
});

/** The LSTM cell forward by batch rows [i0, i1): pointers moved to row i0. */
export const CellForwardJob = job({
  kind: 1,
  fields: ["gates", "c", "tanhC", "h", "ldh", "cPrev", "batch", "hidden"],
  chunked: false,
  run(ex, a, s) {
    const i0 = s[0];
    const hB = 4 * a.hidden * i0; // bytes of i0 rows of H
    ex.lstmCellForward(
      a.gates + 4 * hB,
      a.c + hB,
      a.tanhC + hB,
      a.h + 4 * a.ldh * i0,
      a.ldh,
      a.cPrev + hB,
      s[1] - i0,
      a.hidden,
    );
  },
});

/** The LSTM cell backward by batch rows [i0, i1). */
export const CellBackwardJob = job({
  kind: 2,
  fields: ["dPre", "dc", "dy", "ldy", "dhNext", "gates", "cPrev", "tanhC", "batch", "hidden"],
  chunked: false,
  run(ex, a, s) {
    const i0 = s[0];
    const hB = 4 * a.hidden * i0;
    ex.lstmCellBackward(
      a.dPre + 4 * hB,
      a.dc + hB,
      a.dy + 4 * a.ldy * i0,
      a.ldy,
      a.dhNext + hB,
      a.gates + 4 * hB,
      a.cPrev + hB,
      a.tanhC + hB,
      s[1] - i0,
      a.hidden,
    );
  },
});

/** Column sums by columns [j0, j1) (strips of 16 columns: each thread reads whole cache lines). */
export const ColumnSumsJob = job({
  kind: 3,
  fields: ["out", "x", "ldx", "rows", "cols"],
  chunked: false,
  run(ex, a, s) {
    const j0 = s[2];
    ex.addColumnSums(a.out + 4 * j0, a.x + 4 * j0, a.ldx, a.rows, s[3] - j0);
  },
});

/** Bias rows by rows [i0, i1). */
export const FillBiasJob = job({
  kind: 4,
  fields: ["out", "ldOut", "b1", "b2", "hasB2", "rows", "cols"],
  chunked: false,
  run(ex, a, s) {
    const i0 = s[0];
    ex.fillBias(a.out + 4 * a.ldOut * i0, a.ldOut, a.b1, a.b2, a.hasB2, s[1] - i0, a.cols);
  },
});

/**
 * The arguments both LSTM recurrence jobs end with (before the slice): W_hh, the step plan and
 * the per-step row counts (assembly/kernels.ts lstmForwardSteps, lstmBackwardSteps).
 */
const RECURRENCE_FIELDS = ["w", "steps", "batch", "hidden", "reverse", "packed", "sizes"] as const;

/** The forward recurrence of batch rows [i0, i1) through every step (chunked). */
export const ForwardStepsJob = job({
  kind: 5,
  fields: ["gates", "c", "tanhC", "y", "ldy", "h0", "c0", ...RECURRENCE_FIELDS],
  chunked: true,
  // Named arguments, not a loop over `fields`: a generic call (map and spread) allocates and
  // looks every word up by key on each call, which a model run one step at a time feels.
  run(ex, a, s, scratch) {
    ex.lstmForwardSteps(
      a.gates,
      a.c,
      a.tanhC,
      a.y,
      a.ldy,
      a.h0,
      a.c0,
      a.w,
      a.steps,
      a.batch,
      a.hidden,
      a.reverse,
      a.packed,
      a.sizes,
      s[0],
      s[1],
      scratch,
    );
  },
});

/** The backward recurrence of batch rows [i0, i1) through every step (chunked). */
export const BackwardStepsJob = job({
  kind: 6,
  fields: ["dPre", "dh", "dc", "dy", "ldy", "gates", "c", "tanhC", "c0", ...RECURRENCE_FIELDS],
  chunked: true,
  run(ex, a, s, scratch) {
    ex.lstmBackwardSteps(
      a.dPre,
      a.dh,
      a.dc,
      a.dy,
      a.ldy,
      a.gates,
      a.c,
      a.tanhC,
      a.c0,
      a.w,
      a.steps,
      a.batch,
      a.hidden,
      a.reverse,
      a.packed,
      a.sizes,
      s[0],
      s[1],
      scratch,
    );
  },
});

/**
 * A GRU recurrence job of batch rows [i0, i1) (chunked): its operands are a GruSteps record in
 * the shared memory (assembly/gru.ts) at byte address `desc`, written by the caller; `batch`
 * sizes the chunks.
 */
function gruStepsJob(kind: number, kernel: "gruForwardSteps" | "gruBackwardSteps") {
  return job({
    kind,
    fields: ["desc", "batch"],
    chunked: true,
    run(ex, a, s, scratch) {
      ex[kernel](a.desc, s[0], s[1], scratch);
    },
  });
}

export const GruForwardStepsJob = gruStepsJob(7, "gruForwardSteps");
export const GruBackwardStepsJob = gruStepsJob(8, "gruBackwardSteps");

/** Every job kind, indexed by its `kind`. */
export const JOBS: readonly JobSpec[] = [
  GemmJob,
  CellForwardJob,
  CellBackwardJob,
  ColumnSumsJob,
  FillBiasJob,
  ForwardStepsJob,
  BackwardStepsJob,
  GruForwardStepsJob,
  GruBackwardStepsJob,
] as readonly JobSpec[];

/** Writes a job's arguments into the control block (the calling thread). */
export function writeArgs<F extends readonly string[]>(
  ctrl: Int32Array,
  spec: JobSpec<F>,
  a: JobArgs<F>,
): void {
  const fields = spec.fields as readonly F[number][];
  for (let i = 0; i < fields.length; i++) ctrl[Control.ARGS + i] = a[fields[i]];
}

/** Reads the arguments of the job in the control block (a worker). */
export function readArgs(ctrl: Int32Array, spec: JobSpec): JobArgs<readonly string[]> {
  const a: Record<string, number> = {};
  for (let i = 0; i < spec.fields.length; i++) a[spec.fields[i]] = ctrl[Control.ARGS + i];
  return a;
}

/**
 * Takes chunks of a chunked job's rows [0, total) until none is left, calling `each(lo, hi)`
 * for every chunk taken: the calling thread and the workers race through the same counter, so
 * a thread that starts late or is preempted takes fewer.
 */
export function takeChunks(
  ctrl: Int32Array,
  total: number,
  each: (lo: number, hi: number) => void,
): void {
  const chunk = ctrl[Control.CHUNK];
  for (
    let lo = Atomics.add(ctrl, Control.NEXT, 1) * chunk;
    lo < total;
    lo = Atomics.add(ctrl, Control.NEXT, 1) * chunk
  )
    each(lo, Math.min(lo + chunk, total));
}

/** The arguments of a job kind's spec. */
export type ArgsOf<S> = S extends JobSpec<infer F> ? JobArgs<F> : never;
