/**
 * A wasm KernelMemory: one instance of the module with its own linear memory, the allocator over
 * it, and, for the threaded build, the pool of workers sharing it. The instance runs the kernels
 * on byte pointers, splitting a job across threads where the planner (split.ts) says it repays
 * the synchronisation; each thread, this one included, computes its slice with the job's `run`
 * from the job table (jobs.ts).
 */
import type { FloatArray } from "../../tensor/dtype.js";
import type { KernelMemory, MemoryOptions } from "../kernels.js";
import { BlockAllocator } from "./allocator.js";
import { wasmThreadsMaximumPages } from "./binary.generated.js";
import {
  BackwardStepsJob,
  CellBackwardJob,
  CellForwardJob,
  ColumnSumsJob,
  FillBiasJob,
  ForwardStepsJob,
  GemmJob,
  GruBackwardStepsJob,
  GruForwardStepsJob,
  MAX_WORKERS,
  type ArgsOf,
  type JobArgs,
  type JobSpec,
} from "./jobs.js";
import {
  ownInstance,
  threadedInstance,
  type Build,
  type KernelExports,
  type WasmInstance,
} from "./loader.js";
import {
  gemmAxis,
  slices,
  stepChunk,
  ThreadPlanner,
  wasmThreadSettings,
  type SplitAxis,
} from "./split.js";
import { ThreadPool } from "./threads.js";

const PAGE = 65536;

/** The arguments every recurrence job has. */
interface RecurrenceArgs {
  steps: number;
  batch: number;
  hidden: number;
  w: number;
  packed: number;
}

/** Split along batch rows (the cell kernels, bias rows); the kernels ignore the columns. */
const byRows = (rows: number): SplitAxis => ({ byRows: true, unit: 1, total: rows, across: 0 });

/**
 * A GRU recurrence's operands in the order of assembly/gru.ts's GruSteps record (byte pointers,
 * element counts); `packed` is set by the instance when it packs W_hh.
 */
export interface GruStepsRecord {
  gates: number;
  hg: number;
  y: number;
  ldy: number;
  h0: number;
  w: number;
  bhh: number;
  packed: number;
  steps: number;
  batch: number;
  hidden: number;
  reverse: number;
  dy: number;
  lddy: number;
  dh: number;
  dXg: number;
  dHg: number;
  /** 0, or the per-step active-row counts (f32 [T]) of a variable-length plan. */
  sizes: number;
}

/** A GRU cell step's operands in the order of assembly/gru.ts's GruCell record. */
export interface GruCellRecord {
  gates: number;
  hg: number;
  bhh: number;
  h: number;
  ldh: number;
  hPrev: number;
  ldhPrev: number;
  batch: number;
  hidden: number;
  dy: number;
  ldy: number;
  dh: number;
  dXg: number;
  dHg: number;
}

const GRU_STEPS_WORDS: readonly (keyof GruStepsRecord)[] = [
  "gates",
  "hg",
  "y",
  "ldy",
  "h0",
  "w",
  "bhh",
  "packed",
  "steps",
  "batch",
  "hidden",
  "reverse",
  "dy",
  "lddy",
  "dh",
  "dXg",
  "dHg",
  "sizes",
];
const GRU_CELL_WORDS: readonly (keyof GruCellRecord)[] = [
  "gates",
  "hg",
  "bhh",
  "h",
  "ldh",
  "hPrev",
  "ldhPrev",
  "batch",
  "hidden",
  "dy",
  "ldy",
  "dh",
  "dXg",
  "dHg",
];

/** One instance: its memory, its exports, its allocator and its threads. */
export class Instance {
  readonly ex: KernelExports;
  /** The buffer of the memory as of the last growth; older buffers are detached. */
  buffer: ArrayBuffer;
  view: Float32Array;
  /** First byte the allocator hands out; below it lie static data and the kernels' scratch. */
  readonly base: number;
  readonly allocator: BlockAllocator;
  /** This thread's gemm scratch (static, below `base`). */
  readonly scratch: number;
  /** Workers sharing the memory (threaded build only). */
  pool: ThreadPool | null = null;
  readonly planner = new ThreadPlanner();
  /** Byte address of the GRU kernels' descriptor records (a GruSteps at 0, a GruCell at 80). */
  private readonly gruRecords: number;

  constructor(
    raw: WasmInstance,
    /** The backend whose build this instance runs. */
    readonly backend: Build["name"],
  ) {
    this.ex = raw.exports as unknown as KernelExports;
    this.base = this.ex.scratchEnd();
    this.scratch = this.ex.gemmScratch();
    this.buffer = this.ex.memory.buffer;
    this.view = new Float32Array(this.buffer);
    this.allocator = new BlockAllocator(this.base, (end) => this.reserve(end));
    this.reserve(this.base);
    this.gruRecords = this.allocator.alloc(40);
  }

  /** Writes a record's fields as int32 words at byte address `at` (the calling thread only). */
  private writeRecord<R extends object>(at: number, words: readonly (keyof R)[], r: R): number {
    const w = new Int32Array(this.buffer, at, words.length);
    for (let i = 0; i < words.length; i++) w[i] = r[words[i]] as number;
    return at;
  }

  gruCellForward(r: GruCellRecord): void {
    this.ex.gruCellForward(this.writeRecord(this.gruRecords + 80, GRU_CELL_WORDS, r));
  }

  gruCellBackward(r: GruCellRecord): void {
    this.ex.gruCellBackward(this.writeRecord(this.gruRecords + 80, GRU_CELL_WORDS, r));
  }

  /**
   * The GRU recurrence in one call (forward or backward), split and packed as the LSTM's (see
   * `recurrence`); the record is written after packing, so it names the packed W_hh.
   */
  gruSteps(backward: boolean, r: GruStepsRecord, work: number, stepByStep: () => void): void {
    const parts = this.recurrence(r, 3, backward, work, stepByStep);
    if (parts === 0) return;
    const desc = this.writeRecord(this.gruRecords, GRU_STEPS_WORDS, r);
    this.runSteps(
      backward ? GruBackwardStepsJob : GruForwardStepsJob,
      { desc, batch: r.batch },
      parts,
    );
  }

  /** Sets (or, with null, stops using) the workers. */
  setPool(pool: ThreadPool | null): void {
    this.pool = pool;
    this.planner.pool = pool;
  }

  /** Grows the memory to at least `bytes` bytes, renewing the buffer and the view. */
  reserve(bytes: number): void {
    const have = this.ex.memory.buffer.byteLength;
    if (bytes > have) {
      // Grow by at least half (up to 1 GiB at a time), so many small allocations stay cheap;
      // near the limit, by exactly what is needed.
      const need = Math.ceil((bytes - have) / PAGE);
      const pages = Math.max(need, Math.min(Math.ceil(have / PAGE / 2), 16384));
      try {
        this.ex.memory.grow(pages);
      } catch {
        try {
          this.ex.memory.grow(need);
        } catch (e) {
          const limit = this.pool
            ? ` (a threaded memory holds at most ${wasmThreadsMaximumPages / 16} MiB)`
            : "";
          const why = (e as Error).message;
          throw new RangeError(
            `wasm backend: cannot grow the memory to ${bytes} bytes${limit} (${why})`,
          );
        }
      }
    }
    if (this.ex.memory.buffer !== this.buffer) {
      this.buffer = this.ex.memory.buffer;
      this.view = new Float32Array(this.buffer);
      owners.set(this.buffer, this);
    }
  }

  /**
   * Runs a job on `parts` > 1 threads split along `axis`. (One thread: the callers run the whole
   * slice themselves, without building the axis, on the path every small call takes.)
   */
  private split<F extends readonly string[]>(
    spec: JobSpec<F>,
    args: JobArgs<F>,
    axis: SplitAxis,
    parts: number,
  ): void {
    this.pool!.run(spec, args, slices(axis, parts), (s) =>
      spec.run(this.ex, args, s, this.scratch),
    );
  }

  /** The full product, split across the pool's threads when it is large enough. */
  gemm(a: ArgsOf<typeof GemmJob>): void {
    const parts = this.planner.gemmParts(a.m, a.n, a.k);
    if (parts > 1) this.split(GemmJob, a, gemmAxis(a.m, a.n), parts);
    else GemmJob.run(this.ex, a, [0, a.m, 0, a.n], this.scratch);
  }

  cellForward(a: ArgsOf<typeof CellForwardJob>): void {
    const parts = this.planner.parts(8 * a.batch * a.hidden, a.batch, "elements");
    if (parts > 1) this.split(CellForwardJob, a, byRows(a.batch), parts);
    else CellForwardJob.run(this.ex, a, [0, a.batch, 0, 0], this.scratch);
  }

  cellBackward(a: ArgsOf<typeof CellBackwardJob>): void {
    const parts = this.planner.parts(a.batch * a.hidden, a.batch, "elements");
    if (parts > 1) this.split(CellBackwardJob, a, byRows(a.batch), parts);
    else CellBackwardJob.run(this.ex, a, [0, a.batch, 0, 0], this.scratch);
  }

  columnSums(a: ArgsOf<typeof ColumnSumsJob>): void {
    // Strips of 16 columns (the kernel's widest), so each thread reads whole cache lines.
    const parts = this.planner.parts(a.rows * a.cols, Math.ceil(a.cols / 16), "elements");
    const axis: SplitAxis = { byRows: false, unit: 16, total: a.cols, across: 0 };
    if (parts > 1) this.split(ColumnSumsJob, a, axis, parts);
    else ColumnSumsJob.run(this.ex, a, [0, 0, 0, a.cols], this.scratch);
  }

  fillBias(a: ArgsOf<typeof FillBiasJob>): void {
    const parts = this.planner.parts((a.rows * a.cols) >> 2, a.rows, "elements");
    if (parts > 1) this.split(FillBiasJob, a, byRows(a.rows), parts);
    else FillBiasJob.run(this.ex, a, [0, a.rows, 0, 0], this.scratch);
  }

  /**
   * The forward recurrence in one call, its batch rows split across threads in chunks, each
   * thread carrying its rows through every step. `work`: room to pack W_hhᵀ once for all steps
   * (see `recurrence`).
   */
  forwardSteps(a: ArgsOf<typeof ForwardStepsJob>, work: number, stepByStep: () => void): void {
    const parts = this.recurrence(a, 4, false, work, stepByStep);
    if (parts > 0) this.runSteps(ForwardStepsJob, a, parts);
  }

  /** The backward recurrence in one call, split like forwardSteps (W_hh packed for B > 4). */
  backwardSteps(a: ArgsOf<typeof BackwardStepsJob>, work: number, stepByStep: () => void): void {
    const parts = this.recurrence(a, 4, true, work, stepByStep);
    if (parts > 0) this.runSteps(BackwardStepsJob, a, parts);
  }

  /**
   * Prepares a recurrence of a cell with `gates` gate blocks (LSTM 4, GRU 3) for one call: how
   * many threads it is worth; W_hh packed into `work` where the steps' products take the panel
   * path (`a.packed` says where, 0 if not: forward packs W_hhᵀ for B > 1 (one sequence takes dot
   * products, a hidden size of 1 too), backward W_hh for B > 4). A single sequence (B = 1) on
   * several threads with steps large enough to split runs `stepByStep` instead, so each step's
   * product splits by columns: then it returns 0, else the threads to run the rows on.
   */
  private recurrence(
    a: RecurrenceArgs,
    gates: number,
    backward: boolean,
    work: number,
    stepByStep: () => void,
  ): number {
    const { steps: T, batch: B, hidden: H } = a;
    const parts = this.planner.parts(2 * gates * T * B * H * H, B, "flops");
    if (parts <= 1 && this.planner.splitsEachStep(B, H)) {
      stepByStep();
      return 0;
    }
    const G = gates * H;
    const pack = backward ? B > 4 && T > 1 : B > 1 && H > 1 && T > 1;
    // Forward multiplies by W_hhᵀ (op(B) [H, G]), backward by W_hh (op(B) [G, H]).
    if (pack)
      this.ex.packPanels(work, a.w, H, backward ? 0 : 1, backward ? G : H, backward ? H : G);
    a.packed = pack ? work : 0;
    return parts;
  }

  /** A recurrence job over its batch rows, in chunks on `parts` threads. */
  private runSteps<F extends readonly string[]>(
    spec: JobSpec<F>,
    args: JobArgs<F> & { batch: number },
    parts: number,
  ): void {
    const B = args.batch;
    const own = (lo: number, hi: number): void =>
      spec.run(this.ex, args, [lo, hi, 0, 0], this.scratch);
    if (parts > 1)
      this.pool!.runChunks(spec, args, { parts, total: B, chunk: stepChunk(B, parts) }, own);
    else own(0, B);
  }
}

const owners = new WeakMap<ArrayBuffer, Instance>();

/** Terminates the workers of memories that were dropped without `dispose()`. */
const finalizer = new FinalizationRegistry<ThreadPool>((pool) => pool.dispose());

/**
 * A fresh instance with its own memory: the KernelMemory every operand must come from. With
 * `threads` > 1, a shared memory and threads − 1 workers where the environment allows.
 */
export function createMemory(build: Build, options: MemoryOptions = {}): KernelMemory {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WORKERS + 1)
    throw new RangeError(
      `${build.name} backend: threads must be an integer in [1, ${MAX_WORKERS + 1}]`,
    );
  const shared = threads > 1 ? threadedInstance(build) : null;
  const inst = new Instance(shared ?? ownInstance(build), build.name);
  owners.set(inst.buffer, inst);
  const memory: KernelMemory & { threads: number } = {
    alloc: (n: number): number => inst.allocator.alloc(n) / 4,
    free: (offset: number, n: number): void => inst.allocator.release(offset * 4, n),
    view: (): Float32Array => inst.view,
    threads: 1,
    dispose(): void {
      if (inst.pool) {
        inst.pool.dispose();
        finalizer.unregister(inst.pool);
        inst.setPool(null);
        memory.threads = 1;
      }
    },
  };
  if (shared) {
    // Each worker packs into a scratch of its own, allocated like any operand.
    const bytes = inst.ex.gemmScratchBytes();
    const scratches: number[] = [];
    for (let t = 1; t < threads; t++) scratches.push(memory.alloc(bytes / 4) * 4);
    try {
      const spin = wasmThreadSettings.spinMs;
      const pool = new ThreadPool(build.compiledThreads, inst.ex.memory, scratches, spin);
      if (pool.threads() > 1) {
        inst.setPool(pool);
        memory.threads = pool.threads();
        finalizer.register(memory, pool, pool);
      } else pool.dispose();
    } catch {
      // no workers after all: one thread over the shared memory
    }
  }
  return memory;
}

/** The instance `a` belongs to; throws unless `a` is a Float32Array over an instance's memory. */
export function ownerOf(a: FloatArray, what: string): Instance {
  const inst = a instanceof Float32Array ? owners.get(a.buffer as ArrayBuffer) : undefined;
  if (inst === undefined)
    throw new Error(
      `wasm backend: operand ${what} is not a Float32Array view of a wasm KernelMemory ` +
        "(allocate it with createMemory().alloc and pass createMemory().view())",
    );
  if (inst.buffer !== a.buffer)
    throw new Error(
      `wasm backend: operand ${what} views a memory buffer that has since grown; ` +
        "call memory.view() again after alloc",
    );
  return inst;
}
