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
import type { Block, Kernels, LstmSaved, MemoryOptions, StepPlan } from "../kernels.js";
import {
  backwardSteps,
  forwardSteps,
  gruBackwardSteps,
  gruForwardSteps,
  stepsWorkSize,
} from "../steps.js";
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
 * Byte pointer of operand v after checking that it shares `inst`'s memory and that its elements
 * off … off + (rows−1)·ld + cols − 1 lie in its array and above the module's scratch area, so a
 * bad offset throws instead of reading or writing other data in the memory. A Block has row
 * stride `cols`.
 */
function ptr(
  inst: Instance,
  v: Block & { readonly ld?: number },
  rows: number,
  cols: number,
  what: string,
): number {
  const a = v.buf;
  if (a !== inst.view) same(inst, inst.view, a, what);
  const off = v.off;
  const ld = v.ld ?? cols;
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

/**
 * Byte pointer of the per-step row counts of a variable-length plan (RowLengths.stored, checked
 * against the in-memory copy), or 0: all rows every step, or no copy in memory.
 */
function stepSizes(inst: Instance, plan: StepPlan): number {
  const rows = plan.rows;
  if (!rows?.stored) return 0;
  const p = ptr(inst, rows.stored, 1, plan.T, "rows.stored");
  const v = rows.stored;
  for (let t = 0; t < plan.T; t++)
    if (v.buf[v.off + t] !== rows.batchSizes[t])
      throw new Error("wasm backend: rows.stored differs from rows.batchSizes");
  return p;
}

function sizes(a: number, b: number, c: number, d = 0, e = 0, f = 0): void {
  if (!(isSize(a) && isSize(b) && isSize(c) && isSize(d) && isSize(e) && isSize(f)))
    throw new RangeError(`wasm backend: bad size or leading dimension in ${[a, b, c, d, e, f]}`);
}

/** The arguments both LSTM recurrence jobs share. */
interface LstmStepsArgs {
  gates: number;
  c: number;
  tanhC: number;
  w: number;
  steps: number;
  batch: number;
  hidden: number;
  reverse: number;
  packed: number;
  sizes: number;
}

/**
 * `a` (a job's own operands) with the arguments both LSTM recurrence jobs share added: pointers
 * to what the forward saves (gates [T·B, 4H], c and tanhC [T·B, H]), W_hh [4H, H] and the plan.
 * Added by assignment, not spread: an object spread in these per-call adapters is a generic copy
 * that cost workload D (one step at a time) a quarter of its step time.
 */
function withLstmSteps<A extends object>(
  a: A,
  inst: Instance,
  act: LstmSaved,
  w: Block,
  plan: StepPlan,
): A & LstmStepsArgs {
  const r = a as A & LstmStepsArgs;
  const { buf } = act;
  const rows = plan.T * plan.B;
  r.gates = ptr(inst, { buf, off: act.gates }, rows, 4 * plan.H, "gates");
  r.c = ptr(inst, { buf, off: act.c }, rows, plan.H, "c");
  r.tanhC = ptr(inst, { buf, off: act.tanhC }, rows, plan.H, "tanhC");
  r.w = ptr(inst, w, 4 * plan.H, plan.H, "W_hh");
  r.steps = plan.T;
  r.batch = plan.B;
  r.hidden = plan.H;
  r.reverse = plan.reverse ? 1 : 0;
  r.packed = 0; // set by the instance when it packs W_hh
  r.sizes = stepSizes(inst, plan);
  return r;
}

/**
 * `a` with the gradient words of a GRU record, unused by its forward kernels, set to 0 (added,
 * not spread: see withLstmSteps). `ldy` is the output's stride, which a forward record sets.
 */
function withoutGruGrads<A extends { ldy: number }>(a: A) {
  return Object.assign(a, { dy: 0, lddy: 0, dh: 0, dXg: 0, dHg: 0 });
}

/** The kernels over the instances of `build`. */
function makeKernels(build: Build): Kernels {
  /** The instance `a` belongs to, which must run this build. */
  const owner = (a: FloatArray, what: string): Instance => {
    const inst = ownerOf(a, what);
    if (inst.backend !== build.name)
      throw new Error(`${build.name} backend: operand ${what} belongs to a ${inst.backend} memory`);
    return inst;
  };
  const kernels: Kernels = {
    name: build.name,
    dtypes: ["float32"],
    createMemory: (options?: MemoryOptions) => createMemory(build, options),

    gemm(c, a, b, op) {
      const { m, n, k, transA, transB } = op;
      sizes(m, n, k, c.ld, a.ld, b.ld);
      const inst = owner(c.buf, "C");
      const pc = ptr(inst, c, m, n, "C");
      const pa = transA ? ptr(inst, a, k, m, "A") : ptr(inst, a, m, k, "A");
      const pb = transB ? ptr(inst, b, n, k, "B") : ptr(inst, b, k, n, "B");
      if (m === 0 || n === 0) return;
      inst.gemm({
        c: pc,
        ldc: c.ld,
        a: pa,
        lda: a.ld,
        transA: transA ? 1 : 0,
        b: pb,
        ldb: b.ld,
        transB: transB ? 1 : 0,
        m,
        n,
        k,
        beta: op.beta ? 1 : 0,
      });
    },

    fillBias(out, b1, b2, rows, cols) {
      sizes(rows, cols, out.ld);
      const inst = owner(out.buf, "out");
      const p1 = ptr(inst, b1, 1, cols, "b1");
      const p2 = b2 ? ptr(inst, b2, 1, cols, "b2") : 0;
      const po = ptr(inst, out, rows, cols, "out");
      inst.fillBias({ out: po, ldOut: out.ld, b1: p1, b2: p2, hasB2: b2 ? 1 : 0, rows, cols });
    },

    addColumnSums(out, x, rows, cols) {
      sizes(rows, cols, x.ld);
      const inst = owner(out.buf, "out");
      const po = ptr(inst, out, 1, cols, "out");
      const px = ptr(inst, x, rows, cols, "x");
      inst.columnSums({ out: po, x: px, ldx: x.ld, rows, cols });
    },

    lstmCellForward(io, { B, H }) {
      sizes(B, H, io.h.ld);
      const inst = owner(io.gates.buf, "gates");
      inst.cellForward({
        gates: ptr(inst, io.gates, B, 4 * H, "gates"),
        c: ptr(inst, io.c, B, H, "c"),
        tanhC: ptr(inst, io.tanhC, B, H, "tanhC"),
        h: ptr(inst, io.h, B, H, "h"),
        ldh: io.h.ld,
        cPrev: ptr(inst, io.cPrev, B, H, "cPrev"),
        batch: B,
        hidden: H,
      });
    },

    lstmCellBackward(io, { B, H }) {
      sizes(B, H, io.dy.ld);
      const inst = owner(io.dPre.buf, "dPre");
      inst.cellBackward({
        dPre: ptr(inst, io.dPre, B, 4 * H, "dPre"),
        dc: ptr(inst, io.dc, B, H, "dc"),
        dy: ptr(inst, io.dy, B, H, "dy"),
        ldy: io.dy.ld,
        dhNext: ptr(inst, io.dhNext, B, H, "dhNext"),
        gates: ptr(inst, io.gates, B, 4 * H, "gates"),
        cPrev: ptr(inst, io.cPrev, B, H, "cPrev"),
        tanhC: ptr(inst, io.tanhC, B, H, "tanhC"),
        batch: B,
        hidden: H,
      });
    },

    lstmForwardSteps(io, plan) {
      const { T, B, H } = plan;
      const { act, y } = io;
      sizes(T, B, H, y.ld);
      const inst = owner(act.buf, "act");
      const pWork = ptr(inst, io.work, 1, stepsWorkSize(H), "work");
      const own = {
        y: ptr(inst, y, T * B, H, "y"),
        ldy: y.ld,
        h0: ptr(inst, io.h0, B, H, "h0"),
        c0: ptr(inst, io.c0, B, H, "c0"),
      };
      const args = withLstmSteps(own, inst, act, io.w, plan);
      if (T === 0 || B === 0 || H === 0) return;
      // Variable lengths without the sizes in memory: the per-step composition.
      if (plan.rows && !args.sizes) forwardSteps(kernels, io, plan);
      else inst.forwardSteps(args, pWork, () => forwardSteps(kernels, io, plan));
    },

    lstmBackwardSteps(io, plan) {
      const { T, B, H } = plan;
      const { scratch, act, dy } = io;
      sizes(T, B, H, dy.ld);
      const inst = owner(scratch.buf, "scratch");
      const sb = scratch.buf;
      const pWork = ptr(inst, io.work, 1, stepsWorkSize(H), "work");
      const own = {
        dPre: ptr(inst, { buf: sb, off: scratch.dPre }, T * B, 4 * H, "dPre"),
        dh: ptr(inst, { buf: sb, off: scratch.dh }, B, H, "dh"),
        dc: ptr(inst, { buf: sb, off: scratch.dc }, B, H, "dc"),
        dy: ptr(inst, dy, T * B, H, "dy"),
        ldy: dy.ld,
        c0: ptr(inst, io.c0, B, H, "c0"),
      };
      const args = withLstmSteps(own, inst, act, io.w, plan);
      if (T === 0 || B === 0 || H === 0) return;
      if (plan.rows && !args.sizes) backwardSteps(kernels, io, plan);
      else inst.backwardSteps(args, pWork, () => backwardSteps(kernels, io, plan));
    },

    gruCellForward(io, { B, H }) {
      sizes(B, H, io.h.ld, io.hPrev.ld);
      const inst = owner(io.gates.buf, "gates");
      inst.gruCellForward(
        withoutGruGrads({
          gates: ptr(inst, io.gates, B, 3 * H, "gates"),
          hg: ptr(inst, io.hg, B, 3 * H, "hg"),
          bhh: ptr(inst, io.bhh, 1, 3 * H, "bhh"),
          h: ptr(inst, io.h, B, H, "h"),
          ldh: io.h.ld,
          hPrev: ptr(inst, io.hPrev, B, H, "hPrev"),
          ldhPrev: io.hPrev.ld,
          ldy: 0, // a cell step has no y
          batch: B,
          hidden: H,
        }),
      );
    },

    gruCellBackward(io, { B, H }) {
      sizes(B, H, io.dy.ld, io.hPrev.ld);
      const inst = owner(io.dXg.buf, "dXg");
      const hPrev = ptr(inst, io.hPrev, B, H, "hPrev");
      inst.gruCellBackward({
        gates: ptr(inst, io.gates, B, 3 * H, "gates"),
        hg: ptr(inst, io.hg, B, 3 * H, "hg"),
        bhh: 0, // not read by backward
        h: hPrev, // not read by backward
        ldh: io.hPrev.ld,
        hPrev,
        ldhPrev: io.hPrev.ld,
        batch: B,
        hidden: H,
        dy: ptr(inst, io.dy, B, H, "dy"),
        ldy: io.dy.ld,
        dh: ptr(inst, io.dh, B, H, "dh"),
        dXg: ptr(inst, io.dXg, B, 3 * H, "dXg"),
        dHg: ptr(inst, io.dHg, B, 3 * H, "dHg"),
      });
    },

    gruForwardSteps(io, plan) {
      const { T, B, H } = plan;
      const { act, y } = io;
      sizes(T, B, H, y.ld);
      const inst = owner(act.buf, "act");
      const G = 3 * H;
      const pWork = ptr(inst, io.work, 1, stepsWorkSize(H), "work");
      const record = withoutGruGrads({
        gates: ptr(inst, { buf: act.buf, off: act.gates }, T * B, G, "gates"),
        hg: ptr(inst, { buf: act.buf, off: act.hg }, T * B, G, "hg"),
        y: ptr(inst, y, T * B, H, "y"),
        ldy: y.ld,
        h0: ptr(inst, io.h0, B, H, "h0"),
        w: ptr(inst, io.w, G, H, "W_hh"),
        bhh: ptr(inst, io.bhh, 1, G, "b_hh"),
        packed: 0,
        steps: T,
        batch: B,
        hidden: H,
        reverse: plan.reverse ? 1 : 0,
        sizes: stepSizes(inst, plan),
      });
      if (T === 0 || B === 0 || H === 0) return;
      // Variable lengths without the sizes in memory: the per-step composition.
      if (plan.rows && !record.sizes) gruForwardSteps(kernels, io, plan);
      else inst.gruSteps(false, record, pWork, () => gruForwardSteps(kernels, io, plan));
    },

    gruBackwardSteps(io, plan) {
      const { T, B, H } = plan;
      const { scratch, act, dy, y } = io;
      sizes(T, B, H, dy.ld, y.ld);
      const inst = owner(scratch.buf, "scratch");
      const G = 3 * H;
      const sb = scratch.buf;
      const pWork = ptr(inst, io.work, 1, stepsWorkSize(H), "work");
      const record = {
        gates: ptr(inst, { buf: act.buf, off: act.gates }, T * B, G, "gates"),
        hg: ptr(inst, { buf: act.buf, off: act.hg }, T * B, G, "hg"),
        y: ptr(inst, y, T * B, H, "y"),
        ldy: y.ld,
        h0: ptr(inst, io.h0, B, H, "h0"),
        w: ptr(inst, io.w, G, H, "W_hh"),
        bhh: 0, // not read by backward
        packed: 0,
        steps: T,
        batch: B,
        hidden: H,
        reverse: plan.reverse ? 1 : 0,
        dy: ptr(inst, dy, T * B, H, "dy"),
        lddy: dy.ld,
        dh: ptr(inst, { buf: sb, off: scratch.dh }, B, H, "dh"),
        dXg: ptr(inst, { buf: sb, off: scratch.dXg }, T * B, G, "dXg"),
        dHg: ptr(inst, { buf: sb, off: scratch.dHg }, T * B, G, "dHg"),
        sizes: stepSizes(inst, plan),
      };
      if (T === 0 || B === 0 || H === 0) return;
      if (plan.rows && !record.sizes) gruBackwardSteps(kernels, io, plan);
      else inst.gruSteps(true, record, pWork, () => gruBackwardSteps(kernels, io, plan));
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
