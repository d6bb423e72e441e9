/**
 * The "wasm" and "wasm-relaxed" backends: the kernels of assembly/kernels.ts compiled to
 * WebAssembly SIMD (float32), and their adapters from the Kernels interface to byte pointers.
 *
 * Operands live in WebAssembly linear memory. `createMemory()` instantiates the module with its
 * own memory (memory.ts) and returns an allocator over it (allocator.ts); every Float32Array
 * passed to a kernel must be a view of such a memory (`memory.view()` or a subarray of it). A
 * kernel finds the instance from the operand's ArrayBuffer, checks that every operand lies inside
 * that memory, and calls its export with byte pointers. Operands from elsewhere (a plain
 * Float32Array, another instance, a view made before the memory grew) throw.
 *
 * Loading and feature probes: loader.ts (browsers' main threads need `await initWasm()` first).
 *
 * Threads: `createMemory({ threads: n })` with n > 1 instantiates the threaded build of the same
 * kernels over a shared memory (maximum `wasmThreadsMaximumPages` pages, 1 GiB) and starts n − 1
 * workers (threads.ts, worker.ts), each with its own instance and gemm scratch in that memory.
 * split.ts decides how a call splits: matrix products of at least
 * `wasmThreadSettings.minFlopsPerThread` floating-point operations per thread by rows of C
 * (M ≥ N) or by columns in multiples of 8; the LSTM cell kernels (by batch rows), column sums
 * (by strips of 16 columns) and bias rows (by rows) from `minElementsPerThread` elements per
 * thread; smaller jobs run on the calling thread. The recurrence (lstmForwardSteps /
 * lstmBackwardSteps) splits by batch rows in chunks that the threads take as they come free, each
 * carrying its rows through every step. Each output element is computed by one thread with the
 * same operations and summation order, so results are bit-identical to one thread. Where threads
 * are unavailable (no SharedArrayBuffer, e.g. a browser page that is not cross-origin isolated;
 * no Worker; a shared memory the engine refuses) the memory silently uses one thread
 * (`memory.threads` says which). In browsers `await initWasm({ threads: n })` first.
 */
import type { FloatArray } from "../../tensor/dtype.js";
import type { Kernels, MemoryOptions } from "../kernels.js";
import { backwardSteps, forwardSteps, stepsWorkSize } from "../steps.js";
import {
  relaxedBuild,
  simdBuild,
  wasmRelaxedSimdSupported,
  wasmSimdSupported,
  type Build,
} from "./loader.js";
import { createMemory, ownerOf, type Instance } from "./memory.js";

export { initWasm, wasmRelaxedSimdSupported, wasmSimdSupported } from "./loader.js";

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
      inst.gemm({
        c: pc,
        ldc,
        a: pa,
        lda,
        transA: transA ? 1 : 0,
        b: pb,
        ldb,
        transB: transB ? 1 : 0,
        m,
        n,
        k,
        beta: beta ? 1 : 0,
      });
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
      inst.fillBias({ out: po, ldOut, b1: p1, b2: p2, hasB2: b2 ? 1 : 0, rows, cols });
    },

    addColumnSums(out, outOff, x, xOff, ldx, rows, cols) {
      sizes(rows, cols, ldx);
      const inst = owner(out, "out");
      same(inst, out, x, "x");
      const po = ptr(inst, out, outOff, 0, 1, cols, "out");
      const px = ptr(inst, x, xOff, ldx, rows, cols, "x");
      inst.columnSums({ out: po, x: px, ldx, rows, cols });
    },

    lstmCellForward(gates, gOff, c, cOff, tanhC, tcOff, h, hOff, ldh, cPrev, cpOff, batch, hidden) {
      sizes(batch, hidden, ldh);
      const inst = owner(gates, "gates");
      same(inst, gates, c, "c");
      same(inst, gates, tanhC, "tanhC");
      same(inst, gates, h, "h");
      same(inst, gates, cPrev, "cPrev");
      const H = hidden;
      inst.cellForward({
        gates: ptr(inst, gates, gOff, 4 * H, batch, 4 * H, "gates"),
        c: ptr(inst, c, cOff, H, batch, H, "c"),
        tanhC: ptr(inst, tanhC, tcOff, H, batch, H, "tanhC"),
        h: ptr(inst, h, hOff, ldh, batch, H, "h"),
        ldh,
        cPrev: ptr(inst, cPrev, cpOff, H, batch, H, "cPrev"),
        batch,
        hidden,
      });
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
      inst.cellBackward({
        dPre: ptr(inst, dPre, dpOff, 4 * H, batch, 4 * H, "dPre"),
        dc: ptr(inst, dc, dcOff, H, batch, H, "dc"),
        dy: ptr(inst, dy, dyOff, ldy, batch, H, "dy"),
        ldy,
        dhNext: ptr(inst, dhNext, dhOff, H, batch, H, "dhNext"),
        gates: ptr(inst, gates, gOff, 4 * H, batch, 4 * H, "gates"),
        cPrev: ptr(inst, cPrev, cpOff, H, batch, H, "cPrev"),
        tanhC: ptr(inst, tanhC, tcOff, H, batch, H, "tanhC"),
        batch,
        hidden,
      });
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
      const args = {
        gates: ptr(inst, act, gOff, G, T * B, G, "gates"),
        c: ptr(inst, act, cOff, H, T * B, H, "c"),
        tanhC: ptr(inst, act, tcOff, H, T * B, H, "tanhC"),
        y: ptr(inst, y, yOff, ldy, T * B, H, "y"),
        ldy,
        h0: ptr(inst, h0, h0Off, H, B, H, "h0"),
        c0: ptr(inst, c0, c0Off, H, B, H, "c0"),
        w: ptr(inst, w, wOff, H, G, H, "W_hh"),
        steps: T,
        batch: B,
        hidden: H,
        reverse: reverse ? 1 : 0,
      };
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
      const args = {
        dPre: ptr(inst, scratch, dpOff, G, T * B, G, "dPre"),
        dh: ptr(inst, scratch, dhOff, H, B, H, "dh"),
        dc: ptr(inst, scratch, dcOff, H, B, H, "dc"),
        dy: ptr(inst, dy, dyOff, ldy, T * B, H, "dy"),
        ldy,
        gates: ptr(inst, act, gOff, G, T * B, G, "gates"),
        c: ptr(inst, act, cOff, H, T * B, H, "c"),
        tanhC: ptr(inst, act, tcOff, H, T * B, H, "tanhC"),
        c0: ptr(inst, c0, c0Off, H, B, H, "c0"),
        w: ptr(inst, w, wOff, H, G, H, "W_hh"),
        steps: T,
        batch: B,
        hidden: H,
        reverse: reverse ? 1 : 0,
      };
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
