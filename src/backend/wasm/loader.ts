/**
 * Loading the wasm backend: feature probes (SIMD, relaxed SIMD), the embedded binaries
 * (base64, written by scripts/build-wasm.mjs into binary.generated.ts), compilation and
 * instantiation, and `initWasm`.
 *
 * The module compiles once, on the first `createMemory()`, with the synchronous
 * `new WebAssembly.Module`; instances are made with `new WebAssembly.Instance`. Node and workers
 * allow both at any size. Browsers refuse synchronous compilation and instantiation of modules
 * over 4 KB on the main thread: there, `await initWasm()` first (it compiles asynchronously and
 * prepares instances that later `createMemory()` calls take), or run the model in a Worker.
 */
import {
  wasmBase64,
  wasmRelaxedBase64,
  wasmThreadsBase64,
  wasmThreadsRelaxedBase64,
  wasmThreadsInitialPages,
  wasmThreadsMaximumPages,
} from "./binary.generated.js";
import { loadNodeWorkers, threadsSupported } from "./threads.js";

/** The part of the WebAssembly JS API this file uses (the TS config has no DOM lib). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
export interface WasmInstance {
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

/**
 * What both LSTM recurrence exports take after their operands: W_hh, the step plan, the per-step
 * row counts (jobs.ts RECURRENCE_FIELDS), then the slice of batch rows and the thread's scratch.
 */
type RecurrenceTail = [
  w: number,
  steps: number,
  batch: number,
  hidden: number,
  reverse: number,
  packed: number,
  sizes: number,
  i0: number,
  i1: number,
  scratch: number,
];

/** The exports of assembly/kernels.ts; pointers are byte addresses, booleans 0/1. */
export interface KernelExports {
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
    ...args: [
      gates: number,
      c: number,
      tanhC: number,
      y: number,
      ldy: number,
      h0: number,
      c0: number,
      ...RecurrenceTail,
    ]
  ): void;
  lstmBackwardSteps(
    ...args: [
      dPre: number,
      dh: number,
      dc: number,
      dy: number,
      ldy: number,
      gates: number,
      c: number,
      tanhC: number,
      c0: number,
      ...RecurrenceTail,
    ]
  ): void;
  /** The GRU kernels (assembly/gru.ts) take a descriptor record's byte address. */
  gruCellForward(cell: number): void;
  gruCellBackward(cell: number): void;
  gruForwardSteps(desc: number, i0: number, i1: number, scratch: number): void;
  gruBackwardSteps(desc: number, i0: number, i1: number, scratch: number): void;
  packPanels(dst: number, b: number, ldb: number, transB: number, k: number, n: number): void;
  mathTest(out: number, x: number, n: number, kind: number): void;
  fusedMultiplyAdd(): number;
}

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
export interface Build {
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
  return {
    name,
    base64,
    threadsBase64,
    compiled: null,
    prepared: [],
    compiledThreads: null,
    preparedThreads: [],
  };
}

export const simdBuild = makeBuild("wasm", wasmBase64, wasmThreadsBase64);
export const relaxedBuild = makeBuild("wasm-relaxed", wasmRelaxedBase64, wasmThreadsRelaxedBase64);

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
          const instance = await w.instantiate(build.compiledThreads, { env: { memory } });
          build.preparedThreads.push(instance);
        }
        return true;
      } catch {
        // no shared memory here: createMemory falls back to one thread
      }
    }
  }
  if (build.compiled === null) build.compiled = await w.compile(decodeBase64(build.base64));
  while (build.prepared.length < instances)
    build.prepared.push(await w.instantiate(build.compiled));
  return true;
}

/** An instance of the one-thread build with its own memory (one initWasm prepared, or a new one). */
export function ownInstance(build: Build): WasmInstance {
  return build.prepared.pop() ?? new (api().Instance)(moduleSync(build));
}

/**
 * The threaded build's instance over a fresh shared memory, or null where that is unavailable
 * (no SharedArrayBuffer or workers, a refused shared memory, no synchronous compilation).
 */
export function threadedInstance(build: Build): WasmInstance | null {
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
