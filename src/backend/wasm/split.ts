/**
 * How the wasm backend splits one kernel call across threads: how many threads a job is worth
 * (its size against the cost of synchronising, and of waking sleeping workers) and which rows or
 * columns each thread computes. Pure arithmetic over a pool's state, so the rules are tested
 * without workers.
 *
 * Every split gives each output element to exactly one thread, which computes it with the same
 * operations in the same order as one thread would: results are bit-identical whatever the split.
 */

/**
 * Tuning of the threaded kernels (exported for tests and measurements, not part of the package
 * API). A product is split only into slices of at least `minFlopsPerThread` floating-point
 * operations (2·M·N·K in all) while the workers are awake, `minFlopsPerThreadAsleep` when they
 * sleep: small products, whose synchronisation would cost more than they save, stay on one
 * thread, and waking a sleeping worker (from tens of microseconds to half a millisecond in a
 * virtual machine) pays only for a large product, or for a stream of small ones (see
 * `ThreadPlanner.parts`). Workers spin `spinMs` after each job before they sleep (read when a
 * memory's workers start).
 */
export const wasmThreadSettings = {
  minFlopsPerThread: 1 << 18,
  minFlopsPerThreadAsleep: 1 << 24,
  /**
   * The same for the element-wise kernels (LSTM cell backward, column sums, bias rows), in
   * elements per thread (about 1–2 ns each on one thread); an element of the cell forward, with
   * its three exponentials, counts as 8, of a bias row as 1/4. The cell kernels and bias rows
   * split by rows, column sums by strips of 16 columns.
   */
  minElementsPerThread: 1 << 13,
  minElementsPerThreadAsleep: 1 << 18,
  spinMs: 2,
};

/** A slice of a job's output: rows [i0, i1), columns [j0, j1). */
export type Slice = [i0: number, i1: number, j0: number, j1: number];

/**
 * [lo, hi) of part p of `parts` over `total` in multiples of `unit` (the last part takes the
 * remainder).
 */
export function bounds(p: number, parts: number, total: number, unit: number): [number, number] {
  const units = Math.ceil(total / unit);
  const lo = Math.min(Math.round((p * units) / parts) * unit, total);
  const hi = Math.min(Math.round(((p + 1) * units) / parts) * unit, total);
  return [lo, hi];
}

/** How a split cuts its output: along rows or columns, in multiples of `unit`. */
export interface SplitAxis {
  readonly byRows: boolean;
  readonly unit: number;
  /** Rows or columns along the cut. */
  readonly total: number;
  /** Extent of the other axis, copied into every slice (0 where the kernel ignores it). */
  readonly across: number;
}

/** The `parts` slices of a split along `axis`, slice 0 first. */
export function slices(axis: SplitAxis, parts: number): Slice[] {
  const out: Slice[] = [];
  for (let p = 0; p < parts; p++) {
    const [lo, hi] = bounds(p, parts, axis.total, axis.unit);
    out.push(axis.byRows ? [lo, hi, 0, axis.across] : [0, axis.across, lo, hi]);
  }
  return out;
}

/** A gemm split's unit: the micro-kernel's height in rows, a panel's width in columns. */
const GEMM_ROWS = 4;
const GEMM_COLUMNS = 8;

/**
 * The axis of a matrix product C[M, N]: rows of C in multiples of 4 (the micro-kernel's height)
 * when M ≥ N, else columns in multiples of 8 (a panel).
 */
export function gemmAxis(m: number, n: number): SplitAxis {
  return m >= n
    ? { byRows: true, unit: GEMM_ROWS, total: m, across: n }
    : { byRows: false, unit: GEMM_COLUMNS, total: n, across: m };
}

/** The units along gemmAxis(m, n) (without building it: every product asks). */
function gemmUnits(m: number, n: number): number {
  return m >= n ? Math.ceil(m / GEMM_ROWS) : Math.ceil(n / GEMM_COLUMNS);
}

/**
 * Rows per chunk of a recurrence split across `parts` threads: two chunks per thread (so one
 * that runs late hands work to the others), in multiples of 4 rows (the GEMM micro-kernel's
 * height) from 8 rows up.
 */
export function stepChunk(batch: number, parts: number): number {
  const rows = Math.ceil(batch / (2 * parts));
  return rows >= 8 ? Math.ceil(rows / 4) * 4 : rows;
}

/** What the planner needs to know of a thread pool. */
export interface PoolState {
  /** Threads (the caller included) a job could use now. */
  available(): number;
  /** Whether the first `count` ready workers are awake (spinning). */
  awake(count: number): boolean;
  /** Wakes the sleeping workers without a job. */
  wake(): void;
}

/** The unit a job's size is counted in: floating-point operations or elements. */
type Cost = "flops" | "elements";

/** Decides the threads of each job on one memory's pool (null: one thread). */
export class ThreadPlanner {
  pool: PoolState | null = null;

  /**
   * Work (as a fraction of the wake-up threshold) that would have split had the workers been
   * awake, since they were last woken.
   */
  private deferred = 0;

  /**
   * How many threads a job of `size` (in `cost` units) over `units` separable units (rows,
   * column strips, panels) runs on: 1 without a pool or when it is too small to repay the
   * synchronisation. While the workers sleep, a job splits only when it repays a wake-up.
   * Smaller jobs run on this thread, but their work adds up: once a stream of them (a generation
   * loop, one small step at a time) has done a wake-up's worth, the workers are woken to spin,
   * and the following jobs of the stream split.
   */
  parts(size: number, units: number, cost: Cost): number {
    const pool = this.pool;
    if (pool === null) return 1;
    const s = wasmThreadSettings;
    const warm = cost === "flops" ? s.minFlopsPerThread : s.minElementsPerThread;
    const asleep = cost === "flops" ? s.minFlopsPerThreadAsleep : s.minElementsPerThreadAsleep;
    const parts = Math.min(pool.available(), units, Math.floor(size / warm));
    if (parts <= 1) return 1;
    if (pool.awake(parts - 1)) return parts;
    const threshold = Math.max(warm, asleep);
    const p = Math.min(parts, Math.floor(size / threshold));
    if (p <= 1) {
      this.deferred += size / threshold;
      if (this.deferred >= 1) {
        this.deferred = 0;
        pool.wake();
      }
    }
    return Math.max(p, 1);
  }

  /** Threads for a matrix product C[M, N] = op(A)[M, K]·op(B)[K, N]. */
  gemmParts(m: number, n: number, k: number): number {
    return this.parts(2 * m * n * k, gemmUnits(m, n), "flops");
  }

  /**
   * Whether a recurrence of one sequence should run step by step so that each step's product
   * (2·4H·H flops) splits by columns: only when that product is large enough to split at all.
   * Otherwise one call runs every step on this thread, without a JS call per step.
   */
  splitsEachStep(batch: number, hidden: number): boolean {
    const pool = this.pool;
    return (
      batch === 1 &&
      pool !== null &&
      pool.available() > 1 &&
      8 * hidden * hidden >= 2 * wasmThreadSettings.minFlopsPerThread
    );
  }
}
