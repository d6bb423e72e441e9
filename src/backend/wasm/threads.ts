/**
 * Worker threads for the wasm backend: a pool of workers, each running its own instance of the
 * threaded module over one shared WebAssembly.Memory, that computes slices of a kernel (a matrix
 * product, the LSTM cell forward or backward, column sums, bias rows) while the calling thread
 * computes its own slice.
 *
 * Node: worker_threads (found synchronously with `process.getBuiltinModule`, Node ≥ 20.16, or
 * loaded once by `initWasm({ threads })` on older versions). Browsers: module Web Workers. Both
 * load worker.ts (dist/src/backend/wasm/worker.js, next to this file). SharedArrayBuffer needs a
 * cross-origin isolated page in browsers (COOP/COEP headers). Where neither is available,
 * `threadsSupported()` is false and the backend computes on one thread.
 *
 * Protocol (one job at a time, per pool): a control block of int32 in a SharedArrayBuffer (its
 * layout and the jobs' argument layouts: jobs.ts) holds the job's kind and arguments, one
 * [i0, i1, j0, j1] slice per worker, one generation counter per worker and a done counter. The caller writes the job, bumps the generation of each worker it
 * assigns a slice and notifies it, computes slice 0 itself, then waits until `done` counts every
 * assigned worker. Workers that are not ready yet (still starting) are not assigned: on a browser's
 * main thread, where blocking is not allowed, the first products run on fewer threads. After a job
 * a worker spins for `spinMs` before it sleeps in Atomics.wait, and says which through its `awake`
 * flag, so the caller can leave products that would not repay a wake-up on its own thread. A
 * notify without a new generation (`wake()`) sets a sleeping worker spinning again.
 */
import { Control, MAX_WORKERS, takeChunks, writeArgs, type JobArgs, type JobSpec } from "./jobs.js";
import type { Slice } from "./split.js";

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

type Spawn = (data: WorkerData) => WorkerHandle;

/** Atomics.load polls of the caller before it sleeps waiting for the workers. */
const MAIN_SPIN = 1 << 20;

interface NodeWorkerThreads {
  Worker: new (
    url: URL,
    options: { workerData: WorkerData; execArgv: string[] },
  ) => WorkerHandle & { unref(): void; on(event: string, f: (e: unknown) => void): void };
}

interface NodeProcess {
  versions?: { node?: string };
  getBuiltinModule?: (id: string) => unknown;
}

interface BrowserGlobals {
  Worker?: new (
    url: URL,
    options: { type: "module" },
  ) => WorkerHandle & {
    postMessage(data: unknown): void;
  };
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
    const wt: unknown = await import(/* @vite-ignore */ /* webpackIgnore: true */ id);
    importedNodeWorkers = wt as NodeWorkerThreads;
  } catch {
    // no worker threads: one thread
  }
}

function spawner(): Spawn | null {
  const wt = nodeWorkers();
  if (wt)
    return (data) => {
      // The worker module next to this one (worker.ts), written inline in the form bundlers
      // recognise; a spawn that throws leaves that worker never ready.
      const url = new URL("./worker.js", import.meta.url);
      const w = new wt.Worker(url, { workerData: data, execArgv: [] });
      w.unref(); // idle workers do not keep the process alive
      w.on("error", () => {}); // a worker that fails to start is simply never ready
      return w;
    };
  if (isNode) return null;
  const { Worker } = globals;
  if (!Worker) return null;
  return (data) => {
    const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
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
    const control = new SharedArrayBuffer(Control.INTS * 4);
    this.ctrl = new Int32Array(control);
    scratches.forEach((scratch, i) => {
      try {
        const data = { module, memory, control, index: i + 1, scratch, spinMs };
        this.workers.push(spawn(data));
      } catch {
        // never ready: its slices go to the others
      }
    });
    if (isNode) {
      // Node starts workers without the caller's event loop: wait, so that the first products
      // already use them (about 30 ms).
      const deadline = performance.now() + 5000;
      for (;;) {
        const have = Atomics.load(this.ctrl, Control.READY_COUNT);
        const failed = Atomics.load(this.ctrl, Control.FAILED_COUNT);
        if (have + failed >= this.workers.length || performance.now() > deadline) break;
        waitChanged(this.ctrl, Control.READY_COUNT, have, 20);
      }
    }
  }

  /** Workers a job can use now. */
  private readyWorkers(): number[] {
    if (this.ready.length < this.workers.length) {
      this.ready = [];
      for (let w = 1; w <= this.workers.length; w++)
        if (Atomics.load(this.ctrl, Control.READY + w) === 1) this.ready.push(w);
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
      if (Atomics.load(this.ctrl, Control.AWAKE + workers[s]) === 0) return false;
    return true;
  }

  /**
   * Wakes the ready workers that sleep, without a job: they spin for the next `spinMs`, so the
   * products that follow split at once (the caller's way to pay one wake-up for a stream of
   * products too small to repay one each).
   */
  wake(): void {
    for (const w of this.readyWorkers())
      if (Atomics.load(this.ctrl, Control.AWAKE + w) === 0)
        Atomics.notify(this.ctrl, Control.GEN + w);
  }

  /**
   * Runs one job of `spec` over `args`: slices[0] on this thread through `own`, slices[1…] on
   * ready workers. The caller asks `available()` first and passes at most that many slices.
   */
  run<F extends readonly string[]>(
    spec: JobSpec<F>,
    args: JobArgs<F>,
    slices: Slice[],
    own: (s: Slice) => void,
  ): void {
    const ctrl = this.ctrl;
    const workers = this.readyWorkers();
    const n = slices.length - 1;
    if (n > workers.length) throw new Error("wasm backend: more slices than ready threads");
    ctrl[Control.KIND] = spec.kind;
    writeArgs(ctrl, spec, args);
    for (let s = 1; s <= n; s++) {
      const r = Control.RANGES + 4 * workers[s - 1];
      for (let q = 0; q < 4; q++) ctrl[r + q] = slices[s][q];
    }
    Atomics.store(ctrl, Control.DONE, 0);
    Atomics.store(ctrl, Control.ERROR, 0);
    for (let s = 1; s <= n; s++) {
      const slot = Control.GEN + workers[s - 1];
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
    let done = Atomics.load(ctrl, Control.DONE);
    for (let s = 0; done < n && s < MAIN_SPIN; s++) done = Atomics.load(ctrl, Control.DONE);
    while (done < n) {
      waitChanged(ctrl, Control.DONE, done, 100);
      done = Atomics.load(ctrl, Control.DONE);
    }
    if (failed !== null) throw failed;
    if (Atomics.load(ctrl, Control.ERROR) !== 0)
      throw new Error("wasm backend: a worker thread failed in a kernel");
  }

  /**
   * Runs a chunked job (`spec.chunked`) on `parts` threads: rows [0, total) in chunks of `chunk`
   * rows, each thread (this one through `own(lo, hi)`) taking the next chunk until none is left,
   * so a thread that starts late or is preempted takes fewer. For long jobs on machines whose
   * cores are not all free (the recurrence: milliseconds per job).
   */
  runChunks<F extends readonly string[]>(
    spec: JobSpec<F>,
    args: JobArgs<F>,
    split: { parts: number; total: number; chunk: number },
    own: (lo: number, hi: number) => void,
  ): void {
    const { parts, total, chunk } = split;
    const ctrl = this.ctrl;
    ctrl[Control.CHUNK] = chunk;
    Atomics.store(ctrl, Control.NEXT, 0);
    const slices: Slice[] = Array.from({ length: parts }, () => [0, total, 0, 0]);
    this.run(spec, args, slices, () => takeChunks(ctrl, total, own));
  }

  /** Stops and terminates the workers; later products run on the calling thread only. */
  dispose(): void {
    if (this.workers.length === 0) return;
    Atomics.store(this.ctrl, Control.STOP, 1);
    for (let w = 1; w <= this.workers.length; w++) {
      Atomics.add(this.ctrl, Control.GEN + w, 1);
      Atomics.notify(this.ctrl, Control.GEN + w);
    }
    for (const w of this.workers) void w.terminate();
    this.workers = [];
    this.ready = [];
  }
}
