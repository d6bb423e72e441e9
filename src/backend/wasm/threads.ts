/**
 * Worker threads for the wasm backend: a pool of workers, each running its own instance of the
 * threaded module over one shared WebAssembly.Memory, that computes slices of a kernel (a matrix
 * product, the LSTM cell forward or backward, column sums, bias rows) while the calling thread
 * computes its own slice.
 *
 * Node: worker_threads (found synchronously with `process.getBuiltinModule`, Node ≥ 20.16, or
 * loaded once by `initWasm({ threads })` on older versions). Browsers: Web Workers made from a
 * Blob URL; SharedArrayBuffer needs a cross-origin isolated page (COOP/COEP headers). Where
 * neither is available, `threadsSupported()` is false and the backend computes on one thread.
 *
 * Protocol (one job at a time, per pool): a control block of int32 in a SharedArrayBuffer holds
 * the job's kernel and arguments, one [i0, i1, j0, j1] slice per worker, one generation counter per
 * worker and a done counter. The caller writes the job, bumps the generation of each worker it
 * assigns a slice and notifies it, computes slice 0 itself, then waits until `done` counts every
 * assigned worker. Workers that are not ready yet (still starting) are not assigned: on a browser's
 * main thread, where blocking is not allowed, the first products run on fewer threads. After a job
 * a worker spins for `spinMs` before it sleeps in Atomics.wait, and says which through its `awake`
 * flag, so the caller can leave products that would not repay a wake-up on its own thread. A
 * notify without a new generation (`wake()`) sets a sleeping worker spinning again.
 */

/**
 * The module and memory a worker instantiates, its control block, its index, its scratch, and
 * how long it spins for the next job before it sleeps.
 */
export interface WorkerData {
  module: unknown;
  memory: unknown;
  control: SharedArrayBuffer;
  index: number;
  scratch: number;
  spinMs: number;
}

interface WorkerHandle {
  terminate(): unknown;
}

type Spawn = (source: string, data: WorkerData) => WorkerHandle;

/** Most workers per pool (the control block's size); `threads` is at most this plus one. */
export const MAX_WORKERS = 63;

// Control block layout (int32 indices).
const READY_COUNT = 0;
const DONE = 1;
const ERROR = 2;
const STOP = 3;
const FAILED_COUNT = 4; // workers that could not instantiate the module
const KIND = 5; // the job's kernel (JobKind)
const ARGS = 6; // up to 16, the kernel's full-size arguments (see the worker's source)
const MAX_ARGS = 16;
const GEN = ARGS + MAX_ARGS; // one per worker index 1…MAX_WORKERS
const READY = GEN + MAX_WORKERS + 1;
const AWAKE = READY + MAX_WORKERS + 1; // 1 while the worker spins (or computes), 0 asleep
const RANGES = AWAKE + MAX_WORKERS + 1; // four per worker index
const NEXT = RANGES + 4 * (MAX_WORKERS + 1); // chunked jobs: the next chunk to take
const CHUNK = NEXT + 1; // chunked jobs: rows per chunk
const CONTROL_INTS = CHUNK + 1;

/** Atomics.load polls of the caller before it sleeps waiting for the workers. */
const MAIN_SPIN = 1 << 20;

/** The kernels a job can run. */
export const JobKind = {
  Gemm: 0,
  CellForward: 1,
  CellBackward: 2,
  ColumnSums: 3,
  FillBias: 4,
  ForwardSteps: 5,
  BackwardSteps: 6,
} as const;
export type JobKind = (typeof JobKind)[keyof typeof JobKind];

/**
 * The worker's code, a classic script for Node (`eval: true`, CommonJS: `require` exists) and
 * browsers (`onmessage` receives the WorkerData). It computes slices of the kernels in JobKind:
 * gemm by [i0, i1) × [j0, j1); the cell kernels and fillBias by rows [i0, i1), the pointers
 * moved to row i0; addColumnSums by columns [j0, j1).
 */
const WORKER_SOURCE = `"use strict";
function start(d) {
  const ctrl = new Int32Array(d.control);
  let ex;
  try {
    ex = new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports;
  } catch (e) {
    Atomics.add(ctrl, ${FAILED_COUNT}, 1);
    Atomics.notify(ctrl, ${READY_COUNT});
    return;
  }
  ex.setScratch(d.scratch);
  const me = d.index;
  const slot = ${GEN} + me;
  const awake = ${AWAKE} + me;
  const r = ${RANGES} + 4 * me;
  let gen = Atomics.load(ctrl, slot);
  Atomics.store(ctrl, awake, 1);
  Atomics.store(ctrl, ${READY} + me, 1);
  Atomics.add(ctrl, ${READY_COUNT}, 1);
  Atomics.notify(ctrl, ${READY_COUNT});
  for (;;) {
    // Spin for d.spinMs (a sleeping thread takes from tens of microseconds to a fraction of a
    // millisecond to wake), then sleep.
    let g = Atomics.load(ctrl, slot);
    const until = performance.now() + d.spinMs;
    for (let s = 1; g === gen; s++) {
      if ((s & 1023) === 0 && performance.now() > until) break;
      g = Atomics.load(ctrl, slot);
    }
    if (g === gen) {
      Atomics.store(ctrl, awake, 0);
      // Woken by a job or by wake() (a notify with no job): either way, spin again.
      if (Atomics.load(ctrl, slot) === gen) Atomics.wait(ctrl, slot, gen);
      Atomics.store(ctrl, awake, 1);
      continue;
    }
    gen = g;
    if (Atomics.load(ctrl, ${STOP}) !== 0) return;
    const a = ${ARGS};
    try {
      const kind = ctrl[${KIND}];
      const i0 = ctrl[r];
      const rows = ctrl[r + 1] - i0;
      if (kind === ${JobKind.Gemm}) {
        ex.gemm(ctrl[a], ctrl[a + 1], ctrl[a + 2], ctrl[a + 3], ctrl[a + 4], ctrl[a + 5],
          ctrl[a + 6], ctrl[a + 7], ctrl[a + 8], ctrl[a + 9], ctrl[a + 10], ctrl[a + 11],
          i0, ctrl[r + 1], ctrl[r + 2], ctrl[r + 3], d.scratch);
      } else if (kind === ${JobKind.CellForward}) {
        // gates, c, tanhC, h, ldh, cPrev, batch, hidden
        const hB = 4 * ctrl[a + 7];
        ex.lstmCellForward(ctrl[a] + 4 * i0 * hB, ctrl[a + 1] + i0 * hB, ctrl[a + 2] + i0 * hB,
          ctrl[a + 3] + 4 * i0 * ctrl[a + 4], ctrl[a + 4], ctrl[a + 5] + i0 * hB, rows, ctrl[a + 7]);
      } else if (kind === ${JobKind.CellBackward}) {
        // dPre, dc, dy, ldy, dhNext, gates, cPrev, tanhC, batch, hidden
        const hB = 4 * ctrl[a + 9];
        ex.lstmCellBackward(ctrl[a] + 4 * i0 * hB, ctrl[a + 1] + i0 * hB,
          ctrl[a + 2] + 4 * i0 * ctrl[a + 3], ctrl[a + 3], ctrl[a + 4] + i0 * hB,
          ctrl[a + 5] + 4 * i0 * hB, ctrl[a + 6] + i0 * hB, ctrl[a + 7] + i0 * hB, rows,
          ctrl[a + 9]);
      } else if (kind === ${JobKind.ColumnSums}) {
        // out, x, ldx, rows, cols
        const j0 = ctrl[r + 2];
        ex.addColumnSums(ctrl[a] + 4 * j0, ctrl[a + 1] + 4 * j0, ctrl[a + 2], ctrl[a + 3],
          ctrl[r + 3] - j0);
      } else if (kind === ${JobKind.ForwardSteps}) {
        // gates, c, tanhC, y, ldy, h0, c0, w, steps, batch, hidden, reverse, packed
        // Chunked: take chunks of rows until none is left (a thread that runs late takes fewer).
        const chunk = ctrl[${CHUNK}];
        for (let lo = Atomics.add(ctrl, ${NEXT}, 1) * chunk; lo < ctrl[r + 1]; lo = Atomics.add(ctrl, ${NEXT}, 1) * chunk)
          ex.lstmForwardSteps(ctrl[a], ctrl[a + 1], ctrl[a + 2], ctrl[a + 3], ctrl[a + 4],
            ctrl[a + 5], ctrl[a + 6], ctrl[a + 7], ctrl[a + 8], ctrl[a + 9], ctrl[a + 10],
            ctrl[a + 11], ctrl[a + 12], lo, Math.min(lo + chunk, ctrl[r + 1]), d.scratch);
      } else if (kind === ${JobKind.BackwardSteps}) {
        // dPre, dh, dc, dy, ldy, gates, c, tanhC, c0, w, steps, batch, hidden, reverse, packed
        const chunk = ctrl[${CHUNK}];
        for (let lo = Atomics.add(ctrl, ${NEXT}, 1) * chunk; lo < ctrl[r + 1]; lo = Atomics.add(ctrl, ${NEXT}, 1) * chunk)
          ex.lstmBackwardSteps(ctrl[a], ctrl[a + 1], ctrl[a + 2], ctrl[a + 3], ctrl[a + 4],
            ctrl[a + 5], ctrl[a + 6], ctrl[a + 7], ctrl[a + 8], ctrl[a + 9], ctrl[a + 10],
            ctrl[a + 11], ctrl[a + 12], ctrl[a + 13], ctrl[a + 14], lo,
            Math.min(lo + chunk, ctrl[r + 1]), d.scratch);
      } else {
        // fillBias: out, ldOut, b1, b2, hasB2, rows, cols
        ex.fillBias(ctrl[a] + 4 * i0 * ctrl[a + 1], ctrl[a + 1], ctrl[a + 2], ctrl[a + 3],
          ctrl[a + 4], rows, ctrl[a + 6]);
      }
    } catch (e) {
      Atomics.store(ctrl, ${ERROR}, 1);
    }
    Atomics.add(ctrl, ${DONE}, 1);
    Atomics.notify(ctrl, ${DONE});
  }
}
if (typeof require === "function") start(require("node:worker_threads").workerData);
else self.onmessage = (e) => start(e.data);
`;

interface NodeWorkerThreads {
  Worker: new (
    source: string,
    options: { eval: boolean; workerData: WorkerData; execArgv: string[] },
  ) => WorkerHandle & { unref(): void; on(event: string, f: (e: unknown) => void): void };
}

interface NodeProcess {
  versions?: { node?: string };
  getBuiltinModule?: (id: string) => unknown;
}

interface BrowserGlobals {
  Worker?: new (url: string) => WorkerHandle & { postMessage(data: unknown): void };
  Blob?: new (parts: string[], options: { type: string }) => unknown;
  URL?: { createObjectURL(blob: unknown): string };
  crossOriginIsolated?: boolean;
  SharedArrayBuffer?: unknown;
  Atomics?: unknown;
}

const globals = globalThis as unknown as BrowserGlobals & { process?: NodeProcess };
const isNode = typeof globals.process?.versions?.node === "string";

/** worker_threads, once `loadNodeWorkers()` has imported it (Node before 20.16). */
let importedNodeWorkers: NodeWorkerThreads | null = null;

function nodeWorkers(): NodeWorkerThreads | null {
  if (!isNode) return null;
  if (importedNodeWorkers) return importedNodeWorkers;
  try {
    const wt = globals.process?.getBuiltinModule?.("node:worker_threads");
    return (wt as NodeWorkerThreads | undefined) ?? null;
  } catch {
    return null;
  }
}

/** Node without `process.getBuiltinModule`: imports worker_threads for later synchronous use. */
export async function loadNodeWorkers(): Promise<void> {
  if (!isNode || nodeWorkers()) return;
  const id = "node:worker_threads"; // a variable: bundlers for browsers leave it alone
  try {
    importedNodeWorkers = (await import(/* @vite-ignore */ /* webpackIgnore: true */ id)) as NodeWorkerThreads; // prettier-ignore
  } catch {
    // no worker threads: one thread
  }
}

let blobUrl: string | null = null;

function spawner(): Spawn | null {
  const wt = nodeWorkers();
  if (wt)
    return (source, data) => {
      const w = new wt.Worker(source, { eval: true, workerData: data, execArgv: [] });
      w.unref(); // idle workers do not keep the process alive
      w.on("error", () => {}); // a worker that fails to start is simply never ready
      return w;
    };
  if (isNode) return null;
  const { Worker, Blob, URL } = globals;
  if (!Worker || !Blob || !URL) return null;
  return (source, data) => {
    blobUrl ??= URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    const w = new Worker(blobUrl);
    w.postMessage(data);
    return w;
  };
}

/**
 * Whether this environment can run the backend on several threads: SharedArrayBuffer and Atomics
 * (in browsers only on cross-origin isolated pages) and a way to start workers.
 */
export function threadsSupported(): boolean {
  if (typeof SharedArrayBuffer === "undefined" || typeof Atomics === "undefined") return false;
  if (globals.crossOriginIsolated === false) return false;
  return spawner() !== null;
}

/** Whether Atomics.wait may block this thread (not on a browser's main thread). */
let canBlock: boolean | null = null;

function waitChanged(ctrl: Int32Array, index: number, value: number, ms: number): void {
  if (canBlock !== false) {
    try {
      Atomics.wait(ctrl, index, value, ms);
      canBlock = true;
      return;
    } catch {
      canBlock = false;
    }
  }
}

/**
 * The (full-size) arguments of one job, as the threaded module's kernel takes them (pointers in
 * bytes); for gemm, these.
 */
export type GemmArgs = [
  c: number,
  ldc: number,
  a: number,
  lda: number,
  transA: number,
  b: number,
  ldb: number,
  transB: number,
  m: number,
  n: number,
  k: number,
  beta: number,
];

/** A slice of the output: rows [i0, i1), columns [j0, j1). */
export type Slice = [i0: number, i1: number, j0: number, j1: number];

export class ThreadPool {
  private readonly ctrl: Int32Array;
  private workers: WorkerHandle[] = [];
  /** Worker indices (1…) known to be ready; grows until every worker has started. */
  private ready: number[] = [];
  /** Jobs split across threads so far (tests check that the threaded path ran). */
  jobs = 0;

  /**
   * Starts `scratches.length` workers over `memory` (shared) running `module` (the threaded
   * build); worker i (from 1) packs into scratches[i − 1]. In Node, waits until they have started
   * (up to a few seconds); elsewhere they join as they come up.
   */
  constructor(module: unknown, memory: unknown, scratches: number[], spinMs: number) {
    const spawn = spawner();
    if (!spawn) throw new Error("wasm backend: no worker threads in this environment");
    if (scratches.length > MAX_WORKERS) throw new RangeError(`at most ${MAX_WORKERS} workers`);
    const control = new SharedArrayBuffer(CONTROL_INTS * 4);
    this.ctrl = new Int32Array(control);
    scratches.forEach((scratch, i) => {
      try {
        const data = { module, memory, control, index: i + 1, scratch, spinMs };
        this.workers.push(spawn(WORKER_SOURCE, data));
      } catch {
        // never ready: its slices go to the others
      }
    });
    if (isNode) {
      // Node starts workers without the caller's event loop: wait, so that the first products
      // already use them (about 30 ms).
      const deadline = performance.now() + 5000;
      for (;;) {
        const have = Atomics.load(this.ctrl, READY_COUNT);
        const failed = Atomics.load(this.ctrl, FAILED_COUNT);
        if (have + failed >= this.workers.length || performance.now() > deadline) break;
        waitChanged(this.ctrl, READY_COUNT, have, 20);
      }
    }
  }

  /** Workers a job can use now. */
  private readyWorkers(): number[] {
    if (this.ready.length < this.workers.length) {
      this.ready = [];
      for (let w = 1; w <= this.workers.length; w++)
        if (Atomics.load(this.ctrl, READY + w) === 1) this.ready.push(w);
    }
    return this.ready;
  }

  /**
   * Threads (the caller included) this pool computes with: in Node the workers that started,
   * elsewhere also those still starting.
   */
  threads(): number {
    return 1 + (isNode ? this.readyWorkers().length : this.workers.length);
  }

  /** Threads (the caller included) a job could use now. */
  available(): number {
    return this.workers.length === 0 ? 1 : 1 + this.readyWorkers().length;
  }

  /** Whether the first `count` ready workers are awake (spinning), so a job starts at once. */
  awake(count: number): boolean {
    const workers = this.readyWorkers();
    for (let s = 0; s < count && s < workers.length; s++)
      if (Atomics.load(this.ctrl, AWAKE + workers[s]) === 0) return false;
    return true;
  }

  /**
   * Wakes the ready workers that sleep, without a job: they spin for the next `spinMs`, so the
   * products that follow split at once (the caller's way to pay one wake-up for a stream of
   * products too small to repay one each).
   */
  wake(): void {
    for (const w of this.readyWorkers())
      if (Atomics.load(this.ctrl, AWAKE + w) === 0) Atomics.notify(this.ctrl, GEN + w);
  }

  /**
   * Runs one job of `kind` over `args` (at most 16, int32): slices[0] on this thread through
   * `own`, slices[1…] on ready workers. The caller asks `available()` first and passes at most
   * that many slices.
   */
  run(kind: JobKind, args: readonly number[], slices: Slice[], own: (s: Slice) => void): void {
    const ctrl = this.ctrl;
    const workers = this.readyWorkers();
    const n = slices.length - 1;
    if (n > workers.length) throw new Error("wasm backend: more slices than ready threads");
    if (args.length > MAX_ARGS) throw new Error("wasm backend: too many job arguments");
    ctrl[KIND] = kind;
    for (let i = 0; i < args.length; i++) ctrl[ARGS + i] = args[i];
    for (let s = 1; s <= n; s++) {
      const r = RANGES + 4 * workers[s - 1];
      for (let q = 0; q < 4; q++) ctrl[r + q] = slices[s][q];
    }
    Atomics.store(ctrl, DONE, 0);
    Atomics.store(ctrl, ERROR, 0);
    for (let s = 1; s <= n; s++) {
      const slot = GEN + workers[s - 1];
      Atomics.add(ctrl, slot, 1);
      Atomics.notify(ctrl, slot);
    }
    this.jobs++;
    let failed: unknown = null;
    try {
      own(slices[0]);
    } catch (e) {
      failed = e;
    }
    // Wait for the workers even when this thread failed: they use the memory and the block.
    let done = Atomics.load(ctrl, DONE);
    for (let s = 0; done < n && s < MAIN_SPIN; s++) done = Atomics.load(ctrl, DONE);
    while (done < n) {
      waitChanged(ctrl, DONE, done, 100);
      done = Atomics.load(ctrl, DONE);
    }
    if (failed !== null) throw failed;
    if (Atomics.load(ctrl, ERROR) !== 0)
      throw new Error("wasm backend: a worker thread failed in a kernel");
  }

  /**
   * Runs a chunked job of `kind` on `parts` threads: rows [0, total) in chunks of `chunk` rows,
   * each thread (this one through `own(lo, hi)`) taking the next chunk until none is left, so a
   * thread that starts late or is preempted takes fewer. For long jobs on machines whose cores
   * are not all free (the recurrence: milliseconds per job). The worker side knows the kinds
   * that are chunked (ForwardSteps, BackwardSteps).
   */
  runChunks(
    kind: JobKind,
    args: readonly number[],
    parts: number,
    total: number,
    chunk: number,
    own: (lo: number, hi: number) => void,
  ): void {
    const ctrl = this.ctrl;
    ctrl[CHUNK] = chunk;
    Atomics.store(ctrl, NEXT, 0);
    const slices: Slice[] = Array.from({ length: parts }, () => [0, total, 0, 0]);
    this.run(kind, args, slices, () => {
      for (
        let lo = Atomics.add(ctrl, NEXT, 1) * chunk;
        lo < total;
        lo = Atomics.add(ctrl, NEXT, 1) * chunk
      )
        // prettier-ignore
        own(lo, Math.min(lo + chunk, total));
    });
  }

  /** Stops and terminates the workers; later products run on the calling thread only. */
  dispose(): void {
    if (this.workers.length === 0) return;
    Atomics.store(this.ctrl, STOP, 1);
    for (let w = 1; w <= this.workers.length; w++) {
      Atomics.add(this.ctrl, GEN + w, 1);
      Atomics.notify(this.ctrl, GEN + w);
    }
    for (const w of this.workers) void w.terminate();
    this.workers = [];
    this.ready = [];
  }
}
