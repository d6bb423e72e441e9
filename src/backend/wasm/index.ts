/**
 * The "wasm" backend: the kernels of assembly/kernels.ts compiled to WebAssembly SIMD (float32).
 *
 * Operands live in WebAssembly linear memory. `createMemory()` instantiates the module with its own
 * memory and returns a bump allocator over it; every Float32Array passed to a kernel must be a
 * view of such a memory (`memory.view()` or a subarray of it). A kernel finds the instance from
 * the operand's ArrayBuffer and calls its export with byte pointers. Operands from elsewhere (a
 * plain Float32Array, another instance, a view made before the memory grew) throw.
 *
 * Loading: the binary is embedded as base64 (binary.generated.ts, written by
 * scripts/build-wasm.mjs). The module compiles once, on the first `createMemory()`, with the
 * synchronous `new WebAssembly.Module`; instances are made with `new WebAssembly.Instance`. Node
 * and workers allow both at any size. Browsers refuse synchronous compilation and instantiation of
 * modules over 4 KB on the main thread: there, `await initWasm()` first (it compiles
 * asynchronously and prepares instances that later `createMemory()` calls take), or run the model
 * in a Worker.
 *
 * Threads: `createMemory({ threads: n })` with n > 1 instantiates the threaded build of the same
 * kernels over a shared memory (maximum `wasmThreadsMaximumPages` pages, 1 GiB) and starts n − 1
 * workers (threads.ts), each with its own instance and gemm scratch in that memory. Matrix
 * products of at least `wasmThreadSettings.minFlopsPerThread` floating-point operations per
 * thread are split by rows of C (M ≥ N) or by columns in multiples of 8, one slice per thread.
 * The LSTM cell kernels (by batch rows), column sums (by strips of 16 columns) and bias rows (by
 * rows) split likewise from `minElementsPerThread` elements per thread; smaller jobs run on the
 * calling thread. The recurrence (lstmForwardSteps / lstmBackwardSteps) splits by batch rows in
 * chunks that the threads take as they come free, each carrying its rows through every step.
 * Each output element is computed by one thread with the same operations and summation order,
 * so results are bit-identical to one thread. Where threads are unavailable (no
 * SharedArrayBuffer, e.g. a browser page that is not cross-origin isolated; no Worker; a shared
 * memory the engine refuses) the memory silently uses
 * one thread (`memory.threads` says which). In browsers `await initWasm({ threads: n })` first.
 */
import type { FloatArray } from "../../tensor/dtype.js";
import type { KernelMemory, Kernels, MemoryOptions } from "../kernels.js";
import { backwardSteps, forwardSteps, stepsWorkSize } from "../steps.js";
import {
  wasmBase64,
  wasmRelaxedBase64,
  wasmThreadsBase64,
  wasmThreadsRelaxedBase64,
  wasmThreadsInitialPages,
  wasmThreadsMaximumPages,
} from "./binary.generated.js";
import {
  loadNodeWorkers,
  MAX_WORKERS,
  JobKind,
  ThreadPool,
  threadsSupported,
  type Slice,
} from "./threads.js";

/** The part of the WebAssembly JS API this file uses (the TS config has no DOM lib). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
type WasmImports = Record<string, Record<string, unknown>>;
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  compile(bytes: Uint8Array): Promise<unknown>;
  instantiate(module: unknown, imports?: WasmImports): Promise<WasmInstance>;
  Module: new (bytes: Uint8Array) => unknown;
  Instance: new (module: unknown, imports?: WasmImports) => WasmInstance;
  Memory: new (limits: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}

/** The exports of assembly/kernels.ts; pointers are byte addresses, booleans 0/1. */
interface KernelExports {
  memory: WasmMemory;
  scratchEnd(): number;
  gemmScratch(): number;
  gemmScratchBytes(): number;
  setScratch(scratch: number): void;
  gemm(
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
    i0: number,
    i1: number,
    j0: number,
    j1: number,
    scratch: number,
  ): void;
  fillBias(
    out: number,
    ldOut: number,
    b1: number,
    b2: number,
    hasB2: number,
    rows: number,
    cols: number,
  ): void;
  addColumnSums(out: number, x: number, ldx: number, rows: number, cols: number): void;
  lstmCellForward(
    gates: number,
    c: number,
    tanhC: number,
    h: number,
    ldh: number,
    cPrev: number,
    batch: number,
    hidden: number,
  ): void;
  lstmCellBackward(
    dPre: number,
    dc: number,
    dy: number,
    ldy: number,
    dhNext: number,
    gates: number,
    cPrev: number,
    tanhC: number,
    batch: number,
    hidden: number,
  ): void;
  lstmForwardSteps(
    gates: number,
    c: number,
    tanhC: number,
    y: number,
    ldy: number,
    h0: number,
    c0: number,
    w: number,
    steps: number,
    batch: number,
    hidden: number,
    reverse: number,
    packed: number,
    i0: number,
    i1: number,
    scratch: number,
  ): void;
  lstmBackwardSteps(
    dPre: number,
    dh: number,
    dc: number,
    dy: number,
    ldy: number,
    gates: number,
    c: number,
    tanhC: number,
    c0: number,
    w: number,
    steps: number,
    batch: number,
    hidden: number,
    reverse: number,
    packed: number,
    i0: number,
    i1: number,
    scratch: number,
  ): void;
  packPanels(dst: number, b: number, ldb: number, transB: number, k: number, n: number): void;
  mathTest(out: number, x: number, n: number, kind: number): void;
  fusedMultiplyAdd(): number;
}

const PAGE = 65536;

const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/**
 * A minimal module whose one function uses v128 (i32.const 0; i8x16.splat; i8x16.popcnt): it
 * validates exactly when the engine supports fixed-width SIMD.
 */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15,
  253, 98, 11,
]);

/**
 * A minimal module whose one function computes f32x4.relaxed_madd of three splats: it validates
 * exactly when the engine supports relaxed SIMD.
 */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 15,
  65, 0, 253, 15, 65, 0, 253, 15, 253, 133, 2, 11,
]);

function validates(probe: Uint8Array): boolean {
  try {
    return wasmApi !== undefined && wasmApi.validate(probe);
  } catch {
    return false;
  }
}

/** Whether this engine runs WebAssembly with SIMD (the feature probe; no compilation). */
export const wasmSimdSupported: boolean = validates(SIMD_PROBE);

/**
 * Whether it also runs relaxed SIMD (the "wasm-relaxed" backend: fused multiply-adds). Chrome 114
 * and Node 22 ship it; Node 18–21 have it behind --experimental-wasm-relaxed-simd (which the
 * `lstm` CLI turns on for its own process).
 */
export const wasmRelaxedSimdSupported: boolean = wasmSimdSupported && validates(RELAXED_SIMD_PROBE);

function decodeBase64(s: string): Uint8Array {
  const table = new Uint8Array(128);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < 64; i++) table[alphabet.charCodeAt(i)] = i;
  let n = s.length;
  while (n > 0 && s[n - 1] === "=") n--;
  const out = new Uint8Array((n * 3) >> 2);
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < n; i++) {
    acc = (acc << 6) | table[s.charCodeAt(i)];
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** One build pair of the kernels (own memory, shared memory) and what was compiled from it. */
interface Build {
  readonly name: "wasm" | "wasm-relaxed";
  readonly base64: string;
  readonly threadsBase64: string;
  compiled: unknown;
  /** Instances made by initWasm for the next createMemory calls. */
  readonly prepared: WasmInstance[];
  compiledThreads: unknown;
  /** Threaded instances made by initWasm, each over its own shared memory. */
  readonly preparedThreads: WasmInstance[];
}

function makeBuild(name: Build["name"], base64: string, threadsBase64: string): Build {
  return { name, base64, threadsBase64, compiled: null, prepared: [], compiledThreads: null, preparedThreads: [] }; // prettier-ignore
}

const simdBuild = makeBuild("wasm", wasmBase64, wasmThreadsBase64);
const relaxedBuild = makeBuild("wasm-relaxed", wasmRelaxedBase64, wasmThreadsRelaxedBase64);

function api(): WasmApi {
  if (!wasmApi || !wasmSimdSupported)
    throw new Error("the wasm backend needs WebAssembly with SIMD, which this engine lacks");
  return wasmApi;
}

function moduleSync(build: Build): unknown {
  if (build.compiled === null) build.compiled = new (api().Module)(decodeBase64(build.base64));
  return build.compiled;
}

/** A fresh shared memory for the threaded build (throws where the engine refuses one). */
function sharedMemory(): WasmMemory {
  return new (api().Memory)({
    initial: wasmThreadsInitialPages,
    maximum: wasmThreadsMaximumPages,
    shared: true,
  });
}

/**
 * Compiles the module asynchronously and prepares `instances` instances for the next
 * `createMemory()` calls. Needed on a browser's main thread, where synchronous compilation of a
 * module this size is refused; harmless elsewhere. With `threads` > 1 it prepares the threaded
 * build for `createMemory({ threads })` instead (and, on Node before 20.16, loads
 * worker_threads). `backend` picks the build: the default backend's ("wasm-relaxed" where the
 * engine has relaxed SIMD, else "wasm"). Resolves to false when SIMD is unavailable.
 */
export async function initWasm(
  options: number | { instances?: number; threads?: number; backend?: "wasm" | "wasm-relaxed" } = 1,
): Promise<boolean> {
  if (!wasmSimdSupported) return false;
  const {
    instances = 1,
    threads = 1,
    backend = wasmRelaxedSimdSupported ? "wasm-relaxed" : "wasm",
  } = typeof options === "number" ? { instances: options } : options;
  if (backend === "wasm-relaxed" && !wasmRelaxedSimdSupported) return false;
  const build = backend === "wasm-relaxed" ? relaxedBuild : simdBuild;
  const w = api();
  if (threads > 1) {
    await loadNodeWorkers();
    if (threadsSupported()) {
      try {
        if (build.compiledThreads === null)
          build.compiledThreads = await w.compile(decodeBase64(build.threadsBase64));
        while (build.preparedThreads.length < instances) {
          const memory = sharedMemory();
          build.preparedThreads.push(await w.instantiate(build.compiledThreads, { env: { memory } })); // prettier-ignore
        }
        return true;
      } catch {
        // no shared memory here: createMemory falls back to one thread
      }
    }
  }
  if (build.compiled === null) build.compiled = await w.compile(decodeBase64(build.base64));
  while (build.prepared.length < instances) build.prepared.push(await w.instantiate(build.compiled)); // prettier-ignore
  return true;
}

/**
 * Tuning of the threaded gemm (exported for tests and measurements, not part of the package
 * API). A product is split only into slices of at least `minFlopsPerThread` floating-point
 * operations (2·M·N·K in all) while the workers are awake, `minFlopsPerThreadAsleep` when they
 * sleep: small products, whose synchronisation would cost more than they save, stay on one
 * thread, and waking a sleeping worker (from tens of microseconds to half a millisecond in a
 * virtual machine) pays only for a large product, or for a stream of small ones (see
 * `deferWhileAsleep`). Workers spin `spinMs` after each job before they sleep (read when a
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

/**
 * [lo, hi) of part p of `parts` over `total` in multiples of `unit` (the last part takes the
 * remainder).
 */
function bounds(p: number, parts: number, total: number, unit: number): [number, number] {
  const units = Math.ceil(total / unit);
  const lo = Math.min(Math.round((p * units) / parts) * unit, total);
  const hi = Math.min(Math.round(((p + 1) * units) / parts) * unit, total);
  return [lo, hi];
}

/**
 * Rows per chunk of a recurrence split across `parts` threads: two chunks per thread (so one
 * that runs late hands work to the others), in multiples of 4 rows (the GEMM micro-kernel's
 * height) from 8 rows up.
 */
function stepChunk(batch: number, parts: number): number {
  const rows = Math.ceil(batch / (2 * parts));
  return rows >= 8 ? Math.ceil(rows / 4) * 4 : rows;
}

/** One instance: its memory, its exports, and the bump allocator's next free byte. */
class Instance {
  readonly ex: KernelExports;
  /** The buffer of the memory as of the last growth; older buffers are detached. */
  buffer: ArrayBuffer;
  view: Float32Array;
  /** First byte the allocator hands out; below it lie static data and the kernels' scratch. */
  readonly base: number;
  next: number;
  /** This thread's gemm scratch (static, below `base`). */
  readonly scratch: number;
  /** Workers sharing the memory (threaded build only). */
  pool: ThreadPool | null = null;

  constructor(
    raw: WasmInstance,
    /** The backend whose build this instance runs. */
    readonly backend: Build["name"],
  ) {
    this.ex = raw.exports as unknown as KernelExports;
    this.base = this.ex.scratchEnd();
    this.scratch = this.ex.gemmScratch();
    this.next = this.base;
    this.buffer = this.ex.memory.buffer;
    this.view = new Float32Array(this.buffer);
    this.reserve(this.next);
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
          throw new RangeError(
            `wasm backend: cannot grow the memory to ${bytes} bytes${limit} (${(e as Error).message})`,
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

  /** The full product, split across the pool's threads when it is large enough. */
  gemm(
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
  ): void {
    const pool = this.pool;
    if (pool !== null) {
      const flops = 2 * m * n * k;
      const { minFlopsPerThread: warm, minFlopsPerThreadAsleep: asleep } = wasmThreadSettings;
      // Rows in multiples of 4 (the micro-kernel's height) or columns in multiples of 8 (a panel).
      const byRows = m >= n;
      const unit = byRows ? 4 : 8;
      const units = Math.ceil((byRows ? m : n) / unit);
      let parts = Math.min(pool.available(), units, Math.floor(flops / warm));
      if (parts > 1 && !pool.awake(parts - 1))
        parts = this.deferWhileAsleep(parts, flops, warm, asleep);
      if (parts > 1) {
        const slices: Slice[] = [];
        for (let p = 0; p < parts; p++) {
          const lo = Math.min(Math.round((p * units) / parts) * unit, byRows ? m : n);
          const hi = Math.min(Math.round(((p + 1) * units) / parts) * unit, byRows ? m : n);
          slices.push(byRows ? [lo, hi, 0, n] : [0, m, lo, hi]);
        }
        const args = [c, ldc, a, lda, transA, b, ldb, transB, m, n, k, beta] as const;
        pool.run(JobKind.Gemm, args, slices, (s) => this.ex.gemm(...args, ...s, this.scratch));
        return;
      }
    }
    this.ex.gemm(c, ldc, a, lda, transA, b, ldb, transB, m, n, k, beta, 0, m, 0, n, this.scratch);
  }

  /**
   * How many threads an element-wise job of `elements` elements over `units` separate units
   * (rows or column strips) runs on: 1 without a pool or when it is too small to repay the
   * synchronisation.
   */
  private parts(elements: number, units: number): number {
    const pool = this.pool;
    if (pool === null) return 1;
    const { minElementsPerThread: warm, minElementsPerThreadAsleep: asleep } = wasmThreadSettings;
    let parts = Math.min(pool.available(), units, Math.floor(elements / warm));
    if (parts > 1 && !pool.awake(parts - 1))
      parts = this.deferWhileAsleep(parts, elements, warm, asleep);
    return parts;
  }

  /**
   * Work (in the unit of `size`: flops or elements, as a fraction of `asleep`) that would have
   * split had the workers been awake, since they were last woken.
   */
  private deferred = 0;

  /**
   * The parts for a job of `size` while the workers sleep: split only when the job repays a
   * wake-up (`asleep` per thread). Smaller jobs run on this thread, but their work adds up: once
   * a stream of them (a generation loop, one small step at a time) has done `asleep` worth, the
   * workers are woken to spin, and the following jobs of the stream split.
   */
  private deferWhileAsleep(parts: number, size: number, warm: number, asleep: number): number {
    const p = Math.min(parts, Math.floor(size / Math.max(warm, asleep)));
    if (p <= 1) {
      this.deferred += size / Math.max(warm, asleep);
      if (this.deferred >= 1) {
        this.deferred = 0;
        this.pool?.wake();
      }
    }
    return p;
  }

  /** Runs `own(lo, hi)` over `total` rows (or columns in multiples of `unit`) on `parts` threads. */
  private split(
    kind: JobKind,
    args: number[],
    parts: number,
    total: number,
    unit: number,
    byRows: boolean,
    own: (lo: number, hi: number) => void,
  ): void {
    const slices: Slice[] = [];
    for (let p = 0; p < parts; p++) {
      const [lo, hi] = bounds(p, parts, total, unit);
      slices.push(byRows ? [lo, hi, 0, 0] : [0, 0, lo, hi]);
    }
    this.pool!.run(kind, args, slices, (s) => (byRows ? own(s[0], s[1]) : own(s[2], s[3])));
  }

  cellForward(
    g: number,
    c: number,
    tc: number,
    h: number,
    ldh: number,
    cp: number,
    batch: number,
    H: number,
  ): void {
    const own = (i0: number, i1: number) => {
      const hB = 4 * H * i0;
      this.ex.lstmCellForward(g + 4 * hB, c + hB, tc + hB, h + 4 * ldh * i0, ldh, cp + hB, i1 - i0, H); // prettier-ignore
    };
    const parts = this.parts(8 * batch * H, batch);
    if (parts > 1) {
      const args = [g, c, tc, h, ldh, cp, batch, H];
      this.split(JobKind.CellForward, args, parts, batch, 1, true, own);
    } else own(0, batch);
  }

  cellBackward(
    dp: number,
    dc: number,
    dy: number,
    ldy: number,
    dhn: number,
    g: number,
    cp: number,
    tc: number,
    batch: number,
    H: number,
  ): void {
    const own = (i0: number, i1: number) => {
      const hB = 4 * H * i0;
      this.ex.lstmCellBackward(dp + 4 * hB, dc + hB, dy + 4 * ldy * i0, ldy, dhn + hB, g + 4 * hB, cp + hB, tc + hB, i1 - i0, H); // prettier-ignore
    };
    const parts = this.parts(batch * H, batch);
    if (parts > 1) {
      const args = [dp, dc, dy, ldy, dhn, g, cp, tc, batch, H];
      this.split(JobKind.CellBackward, args, parts, batch, 1, true, own);
    } else own(0, batch);
  }

  /**
   * How many threads a recurrence over `batch` rows of `flops` runs on: by rows of the batch,
   * each thread takes its rows through every step with no synchronisation in between.
   */
  private stepParts(flops: number, batch: number): number {
    const pool = this.pool;
    if (pool === null) return 1;
    const { minFlopsPerThread: warm, minFlopsPerThreadAsleep: asleep } = wasmThreadSettings;
    let parts = Math.min(pool.available(), batch, Math.floor(flops / warm));
    if (parts > 1 && !pool.awake(parts - 1))
      parts = this.deferWhileAsleep(parts, flops, warm, asleep);
    return parts;
  }

  /**
   * Whether a recurrence of one sequence should run step by step so that each step's product
   * (2·4H·H flops) splits by columns: only when that product is large enough to split at all.
   * Otherwise one call runs every step on this thread, without a JS call per step.
   */
  private splitsEachStep(batch: number, hidden: number): boolean {
    const pool = this.pool;
    return (
      batch === 1 &&
      pool !== null &&
      pool.available() > 1 &&
      8 * hidden * hidden >= 2 * wasmThreadSettings.minFlopsPerThread
    );
  }

  /**
   * The forward recurrence in one call, its batch rows split across threads. A single sequence
   * (B = 1) on several threads with steps large enough to split runs `stepByStep` instead, so
   * each step's product splits by columns.
   */
  forwardSteps(
    args: readonly [number, number, number, number, number, number, number, number, number, number, number, number], // prettier-ignore
    work: number,
    stepByStep: () => void,
  ): void {
    const [, , , , , , , w, T, B, H] = args;
    const parts = this.stepParts(8 * T * B * H * H, B);
    if (parts <= 1 && this.splitsEachStep(B, H)) {
      stepByStep();
      return;
    }
    // W_hhᵀ packed once for all steps, where the steps' products take the panel path (one
    // sequence takes dot products, a hidden size of 1 too: nothing to pack).
    let packed = 0;
    if (B > 1 && H > 1 && T > 1) {
      this.ex.packPanels(work, w, H, 1, H, 4 * H);
      packed = work;
    }
    const own = (i0: number, i1: number) => this.ex.lstmForwardSteps(...args, packed, i0, i1, this.scratch); // prettier-ignore
    if (parts > 1)
      this.pool!.runChunks(JobKind.ForwardSteps, [...args, packed], parts, B, stepChunk(B, parts), own); // prettier-ignore
    else own(0, B);
  }

  /** The backward recurrence in one call, split like forwardSteps. */
  backwardSteps(
    args: readonly [number, number, number, number, number, number, number, number, number, number, number, number, number, number], // prettier-ignore
    work: number,
    stepByStep: () => void,
  ): void {
    const [, , , , , , , , , w, T, B, H] = args;
    const parts = this.stepParts(8 * T * B * H * H, B);
    if (parts <= 1 && this.splitsEachStep(B, H)) {
      stepByStep();
      return;
    }
    // W_hh packed once (a batch of at most 4 rows reads it in place instead).
    let packed = 0;
    if (B > 4 && T > 1) {
      this.ex.packPanels(work, w, H, 0, 4 * H, H);
      packed = work;
    }
    const own = (i0: number, i1: number) => this.ex.lstmBackwardSteps(...args, packed, i0, i1, this.scratch); // prettier-ignore
    if (parts > 1)
      this.pool!.runChunks(JobKind.BackwardSteps, [...args, packed], parts, B, stepChunk(B, parts), own); // prettier-ignore
    else own(0, B);
  }

  columnSums(out: number, x: number, ldx: number, rows: number, cols: number): void {
    // Strips of 16 columns (the kernel's widest), so each thread reads whole cache lines.
    const own = (j0: number, j1: number) =>
      this.ex.addColumnSums(out + 4 * j0, x + 4 * j0, ldx, rows, j1 - j0);
    const parts = this.parts(rows * cols, Math.ceil(cols / 16));
    if (parts > 1) {
      const args = [out, x, ldx, rows, cols];
      this.split(JobKind.ColumnSums, args, parts, cols, 16, false, own);
    } else own(0, cols);
  }

  fillBias(
    out: number,
    ldOut: number,
    b1: number,
    b2: number,
    hasB2: number,
    rows: number,
    cols: number,
  ): void {
    const own = (i0: number, i1: number) =>
      this.ex.fillBias(out + 4 * ldOut * i0, ldOut, b1, b2, hasB2, i1 - i0, cols);
    const parts = this.parts((rows * cols) >> 2, rows);
    if (parts > 1) {
      const args = [out, ldOut, b1, b2, hasB2, rows, cols];
      this.split(JobKind.FillBias, args, parts, rows, 1, true, own);
    } else own(0, rows);
  }
}

const owners = new WeakMap<ArrayBuffer, Instance>();

/** Terminates the workers of memories that were dropped without `dispose()`. */
const finalizer = new FinalizationRegistry<ThreadPool>((pool) => pool.dispose());

/**
 * The threaded build's instance over a fresh shared memory, or null where that is unavailable
 * (no SharedArrayBuffer or workers, a refused shared memory, no synchronous compilation).
 */
function threadedInstance(build: Build): WasmInstance | null {
  const ready = build.preparedThreads.pop();
  if (ready) return ready;
  if (!threadsSupported()) return null;
  try {
    const w = api();
    build.compiledThreads ??= new w.Module(decodeBase64(build.threadsBase64));
    return new w.Instance(build.compiledThreads, { env: { memory: sharedMemory() } });
  } catch {
    return null;
  }
}

/**
 * A fresh instance with its own memory: the KernelMemory every operand must come from. With
 * `threads` > 1, a shared memory and threads − 1 workers where the environment allows.
 */
function createMemory(build: Build, options: MemoryOptions = {}): KernelMemory {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WORKERS + 1)
    throw new RangeError(`${build.name} backend: threads must be an integer in [1, ${MAX_WORKERS + 1}]`); // prettier-ignore
  const shared = threads > 1 ? threadedInstance(build) : null;
  const raw = shared ?? build.prepared.pop() ?? new (api().Instance)(moduleSync(build));
  const inst = new Instance(raw, build.name);
  owners.set(inst.buffer, inst);
  // Freed blocks [byte start, byte end), sorted and coalesced; reused first-fit before the
  // memory grows, so a model that cycles through many shapes does not grow without bound.
  const free: [number, number][] = [];
  const memory: KernelMemory & { threads: number } = {
    alloc(n: number): number {
      if (!Number.isInteger(n) || n < 0) throw new RangeError(`alloc: bad size ${n}`);
      const bytes = Math.ceil(n / 4) * 16;
      const hit = free.findIndex(([s, e]) => e - s >= bytes);
      if (hit >= 0) {
        const start = free[hit][0];
        if (free[hit][1] - start === bytes) free.splice(hit, 1);
        else free[hit][0] = start + bytes;
        return start / 4;
      }
      const start = inst.next;
      const end = start + bytes;
      if (end > 2 ** 32) throw new RangeError(`alloc: ${n} floats exceed the 4 GiB address space`);
      inst.reserve(end);
      inst.next = end;
      return start / 4;
    },
    free(offset: number, n: number): void {
      let s = offset * 4;
      let e = s + Math.ceil(n / 4) * 16;
      let i = free.findIndex(([fs]) => fs > s);
      if (i < 0) i = free.length;
      // Merge with the free neighbours on either side.
      if (i > 0 && free[i - 1][1] === s) {
        i--;
        s = free[i][0];
        free.splice(i, 1);
      }
      if (i < free.length && free[i][0] === e) {
        e = free[i][1];
        free.splice(i, 1);
      }
      if (e === inst.next)
        inst.next = s; // the top block returns to the bump pointer
      else free.splice(i, 0, [s, e]);
    },
    view(): Float32Array {
      return inst.view;
    },
    threads: 1,
    dispose(): void {
      if (inst.pool) {
        inst.pool.dispose();
        finalizer.unregister(inst.pool);
        inst.pool = null;
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
        inst.pool = pool;
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
function ownerOf(a: FloatArray, what: string): Instance {
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

/**
 * Checks that `a` lives in the same memory as `first`, which resolved to `inst` (models pass one
 * view for every operand, so this is usually one comparison).
 */
function same(inst: Instance, first: FloatArray, a: FloatArray, what: string): void {
  if (a !== first && ownerOf(a, what) !== inst)
    throw new Error(`wasm backend: operand ${what} belongs to another KernelMemory`);
}

/**
 * Byte pointer of a[off] after checking that elements off … off + (rows−1)·ld + cols − 1 lie in `a`
 * and above the module's scratch area, so a bad offset throws instead of reading or writing other
 * data in the memory.
 */
function ptr(
  inst: Instance,
  a: FloatArray,
  off: number,
  ld: number,
  rows: number,
  cols: number,
  what: string,
): number {
  const p = a.byteOffset + off * 4;
  if (rows > 0 && cols > 0) {
    const last = off + (rows - 1) * ld + cols - 1;
    if (!(Number.isInteger(off) && off >= 0 && last < a.length && p >= inst.base))
      throw new RangeError(
        `wasm backend: ${what} (offset ${off}, ld ${ld}, ${rows}×${cols}) is outside its array ` +
          `of ${a.length} or below the allocator's start`,
      );
  }
  return p;
}

/** A non-negative int32 (the exports take i32): NaN, fractions and 2³¹+ fail. */
const isSize = (n: number): boolean => n === (n | 0) && n >= 0;

function sizes(a: number, b: number, c: number, d = 0, e = 0, f = 0): void {
  if (!(isSize(a) && isSize(b) && isSize(c) && isSize(d) && isSize(e) && isSize(f)))
    throw new RangeError(`wasm backend: bad size or leading dimension in ${[a, b, c, d, e, f]}`);
}

/** The kernels over the instances of `build`. */
function makeKernels(build: Build): Kernels {
  /** The instance `a` belongs to, which must run this build. */
  const owner = (a: FloatArray, what: string): Instance => {
    const inst = ownerOf(a, what);
    if (inst.backend !== build.name)
      throw new Error(`${build.name} backend: operand ${what} belongs to a ${inst.backend} memory`); // prettier-ignore
    return inst;
  };
  const kernels: Kernels = {
    name: build.name,
    dtypes: ["float32"],
    createMemory: (options?: MemoryOptions) => createMemory(build, options),

    gemm(c, cOff, ldc, a, aOff, lda, transA, b, bOff, ldb, transB, m, n, k, beta) {
      sizes(m, n, k, ldc, lda, ldb);
      const inst = owner(c, "C");
      same(inst, c, a, "A");
      same(inst, c, b, "B");
      const pc = ptr(inst, c, cOff, ldc, m, n, "C");
      const pa = transA ? ptr(inst, a, aOff, lda, k, m, "A") : ptr(inst, a, aOff, lda, m, k, "A");
      const pb = transB ? ptr(inst, b, bOff, ldb, n, k, "B") : ptr(inst, b, bOff, ldb, k, n, "B");
      if (m === 0 || n === 0) return;
      inst.gemm(pc, ldc, pa, lda, transA ? 1 : 0, pb, ldb, transB ? 1 : 0, m, n, k, beta ? 1 : 0);
    },

    fillBias(out, outOff, ldOut, b1, b1Off, b2, b2Off, rows, cols) {
      sizes(rows, cols, ldOut);
      const inst = owner(out, "out");
      same(inst, out, b1, "b1");
      const p1 = ptr(inst, b1, b1Off, 0, 1, cols, "b1");
      let p2 = 0;
      if (b2) {
        same(inst, out, b2, "b2");
        p2 = ptr(inst, b2, b2Off, 0, 1, cols, "b2");
      }
      const po = ptr(inst, out, outOff, ldOut, rows, cols, "out");
      inst.fillBias(po, ldOut, p1, p2, b2 ? 1 : 0, rows, cols);
    },

    addColumnSums(out, outOff, x, xOff, ldx, rows, cols) {
      sizes(rows, cols, ldx);
      const inst = owner(out, "out");
      same(inst, out, x, "x");
      const po = ptr(inst, out, outOff, 0, 1, cols, "out");
      const px = ptr(inst, x, xOff, ldx, rows, cols, "x");
      inst.columnSums(po, px, ldx, rows, cols);
    },

    lstmCellForward(gates, gOff, c, cOff, tanhC, tcOff, h, hOff, ldh, cPrev, cpOff, batch, hidden) {
      sizes(batch, hidden, ldh);
      const inst = owner(gates, "gates");
      same(inst, gates, c, "c");
      same(inst, gates, tanhC, "tanhC");
      same(inst, gates, h, "h");
      same(inst, gates, cPrev, "cPrev");
      const H = hidden;
      inst.cellForward(
        ptr(inst, gates, gOff, 4 * H, batch, 4 * H, "gates"),
        ptr(inst, c, cOff, H, batch, H, "c"),
        ptr(inst, tanhC, tcOff, H, batch, H, "tanhC"),
        ptr(inst, h, hOff, ldh, batch, H, "h"),
        ldh,
        ptr(inst, cPrev, cpOff, H, batch, H, "cPrev"),
        batch,
        hidden,
      );
    },

    lstmCellBackward(
      dPre,
      dpOff,
      dc,
      dcOff,
      dy,
      dyOff,
      ldy,
      dhNext,
      dhOff,
      gates,
      gOff,
      cPrev,
      cpOff,
      tanhC,
      tcOff,
      batch,
      hidden,
    ) {
      sizes(batch, hidden, ldy);
      const inst = owner(dPre, "dPre");
      same(inst, dPre, dc, "dc");
      same(inst, dPre, dy, "dy");
      same(inst, dPre, dhNext, "dhNext");
      same(inst, dPre, gates, "gates");
      same(inst, dPre, cPrev, "cPrev");
      same(inst, dPre, tanhC, "tanhC");
      const H = hidden;
      inst.cellBackward(
        ptr(inst, dPre, dpOff, 4 * H, batch, 4 * H, "dPre"),
        ptr(inst, dc, dcOff, H, batch, H, "dc"),
        ptr(inst, dy, dyOff, ldy, batch, H, "dy"),
        ldy,
        ptr(inst, dhNext, dhOff, H, batch, H, "dhNext"),
        ptr(inst, gates, gOff, 4 * H, batch, 4 * H, "gates"),
        ptr(inst, cPrev, cpOff, H, batch, H, "cPrev"),
        ptr(inst, tanhC, tcOff, H, batch, H, "tanhC"),
        batch,
        hidden,
      );
    },

    lstmForwardSteps(
      act,
      gOff,
      cOff,
      tcOff,
      y,
      yOff,
      ldy,
      h0,
      h0Off,
      c0,
      c0Off,
      w,
      wOff,
      work,
      workOff,
      T,
      B,
      H,
      reverse,
    ) {
      sizes(T, B, H, ldy);
      const inst = owner(act, "act");
      same(inst, act, y, "y");
      same(inst, act, h0, "h0");
      same(inst, act, c0, "c0");
      same(inst, act, w, "W_hh");
      same(inst, act, work, "work");
      const G = 4 * H;
      const pWork = ptr(inst, work, workOff, 0, 1, stepsWorkSize(H), "work");
      const args = [
        ptr(inst, act, gOff, G, T * B, G, "gates"),
        ptr(inst, act, cOff, H, T * B, H, "c"),
        ptr(inst, act, tcOff, H, T * B, H, "tanhC"),
        ptr(inst, y, yOff, ldy, T * B, H, "y"),
        ldy,
        ptr(inst, h0, h0Off, H, B, H, "h0"),
        ptr(inst, c0, c0Off, H, B, H, "c0"),
        ptr(inst, w, wOff, H, G, H, "W_hh"),
        T,
        B,
        H,
        reverse ? 1 : 0,
      ] as const;
      if (T === 0 || B === 0 || H === 0) return;
      const stepByStep = () =>
        forwardSteps(kernels, act, gOff, cOff, tcOff, y, yOff, ldy, h0, h0Off, c0, c0Off, w, wOff, work, workOff, T, B, H, reverse); // prettier-ignore
      inst.forwardSteps(args, pWork, stepByStep);
    },

    lstmBackwardSteps(
      scratch,
      dpOff,
      dhOff,
      dcOff,
      dy,
      dyOff,
      ldy,
      act,
      gOff,
      cOff,
      tcOff,
      c0,
      c0Off,
      w,
      wOff,
      work,
      workOff,
      T,
      B,
      H,
      reverse,
    ) {
      sizes(T, B, H, ldy);
      const inst = owner(scratch, "scratch");
      same(inst, scratch, dy, "dy");
      same(inst, scratch, act, "act");
      same(inst, scratch, c0, "c0");
      same(inst, scratch, w, "W_hh");
      same(inst, scratch, work, "work");
      const G = 4 * H;
      const pWork = ptr(inst, work, workOff, 0, 1, stepsWorkSize(H), "work");
      const args = [
        ptr(inst, scratch, dpOff, G, T * B, G, "dPre"),
        ptr(inst, scratch, dhOff, H, B, H, "dh"),
        ptr(inst, scratch, dcOff, H, B, H, "dc"),
        ptr(inst, dy, dyOff, ldy, T * B, H, "dy"),
        ldy,
        ptr(inst, act, gOff, G, T * B, G, "gates"),
        ptr(inst, act, cOff, H, T * B, H, "c"),
        ptr(inst, act, tcOff, H, T * B, H, "tanhC"),
        ptr(inst, c0, c0Off, H, B, H, "c0"),
        ptr(inst, w, wOff, H, G, H, "W_hh"),
        T,
        B,
        H,
        reverse ? 1 : 0,
      ] as const;
      if (T === 0 || B === 0 || H === 0) return;
      const stepByStep = () =>
        backwardSteps(kernels, scratch, dpOff, dhOff, dcOff, dy, dyOff, ldy, act, gOff, cOff, tcOff, c0, c0Off, w, wOff, work, workOff, T, B, H, reverse); // prettier-ignore
      inst.backwardSteps(args, pWork, stepByStep);
    },
  };
  return kernels;
}

/** The wasm backend, or null where WebAssembly SIMD is unavailable. */
export const wasmKernels: Kernels | null = wasmSimdSupported ? makeKernels(simdBuild) : null;

/**
 * The wasm-relaxed backend (the same kernels, the gemm's multiply-adds fused), or null where
 * relaxed SIMD is unavailable.
 */
export const wasmRelaxedKernels: Kernels | null = wasmRelaxedSimdSupported
  ? makeKernels(relaxedBuild)
  : null;

/**
 * For tests: the module's vector sigmoid (kind 0), tanh (1) and exp (2) applied to `x` (length a
 * multiple of 4) inside `memory`, which must come from `wasmKernels.createMemory()`.
 */
export function wasmMathForTest(
  memory: KernelMemory,
  kind: 0 | 1 | 2,
  x: ArrayLike<number>,
): Float32Array {
  const n = x.length;
  const xo = memory.alloc(n);
  const oo = memory.alloc(n);
  const v = memory.view();
  v.set(x, xo);
  ownerOf(v, "x").ex.mathTest(oo * 4, xo * 4, n, kind);
  return memory.view().slice(oo, oo + n);
}

/** For tests: how many products a memory from `createMemory({ threads })` split across threads. */
export function wasmThreadJobsForTest(memory: KernelMemory): number {
  return ownerOf(memory.view(), "memory").pool?.jobs ?? 0;
}
