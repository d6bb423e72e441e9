/**
 * The wasm GRU kernels (assembly/gru.ts) against the TypeScript reference
 * (src/backend/js/gru-reference.ts) in float64, on all four builds of the module: SIMD and
 * relaxed SIMD, each with its own memory and with a shared memory (two instances, as two
 * threads would use it). Shapes include hidden sizes that are not multiples of 4 or 8, row
 * strides wider than H and both directions; the row-split recurrence must equal the whole one
 * bit for bit, with W_hh packed once or not. End to end, the driver of test/gru-driver.ts runs
 * every format-2 GRU fixture through the wasm recurrence in float32 (within 1e-4 of PyTorch).
 *
 * The modules are instantiated here directly from the embedded binaries, and the descriptors
 * written word by word as assembly/gru.ts lays them out (GruCell, GruSteps).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Rng } from "../../tensor/rng.js";
import {
  wasmBase64,
  wasmRelaxedBase64,
  wasmThreadsBase64,
  wasmThreadsInitialPages,
  wasmThreadsMaximumPages,
  wasmThreadsRelaxedBase64,
} from "./binary.generated.js";
import { gruCellBackward, gruCellForward, type Operand } from "../js/gru-reference.js";
import { scaledError } from "../../check/compare.js";
import type { FloatArray } from "../../tensor/dtype.js";
import { RECURRENCE_SHAPES } from "../testing.js";
import {
  gruBackwardSteps,
  gruChecks,
  gruFixtureFiles,
  gruForwardSteps,
  readGruFixture,
  runGru,
  type GruStepKernels,
  type GruStepsDims,
  type GruStepsGrads,
  type GruStepsOperands,
} from "../../../test/gru-driver.js";

interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
interface GruExports {
  memory?: WasmMemory;
  scratchEnd(): number;
  gemmScratchBytes(): number;
  setScratch(scratch: number): void;
  gemmScratch(): number;
  packPanels(dst: number, b: number, ldb: number, transB: boolean, k: number, n: number): void;
  gruCellForward(cell: number): void;
  gruCellBackward(cell: number): void;
  gruForwardSteps(desc: number, i0: number, i1: number, scratch: number): void;
  gruBackwardSteps(desc: number, i0: number, i1: number, scratch: number): void;
  gruStepsWorkFloats(hidden: number): number;
}
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports?: object) => { exports: unknown };
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
}
const W = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

/** One memory and the instances computing in it (two for the shared builds), with a bump allocator. */
class Arena {
  readonly memory: WasmMemory;
  readonly instances: { ex: GruExports; scratch: number }[] = [];
  private next: number;

  constructor(base64: string, shared: boolean) {
    const module = new W.Module(Buffer.from(base64, "base64"));
    if (!shared) {
      const ex = new W.Instance(module).exports as GruExports;
      this.memory = ex.memory!;
      this.instances.push({ ex, scratch: ex.gemmScratch() });
    } else {
      this.memory = new W.Memory({
        initial: wasmThreadsInitialPages,
        maximum: wasmThreadsMaximumPages,
        shared: true,
      });
      for (let i = 0; i < 2; i++) {
        const ex = new W.Instance(module, { env: { memory: this.memory } }).exports as GruExports;
        this.instances.push({ ex, scratch: ex.gemmScratch() });
      }
    }
    const ex = this.instances[0].ex;
    this.next = ex.scratchEnd();
    if (shared) {
      // The second "thread" gets its own scratch (gemm panels and tail vectors).
      const second = this.instances[1];
      second.scratch = this.alloc(ex.gemmScratchBytes() / 4);
      second.ex.setScratch(second.scratch);
    }
  }

  /** n floats (or descriptor words), 16-byte aligned: the byte address. */
  alloc(n: number): number {
    const at = (this.next + 15) & ~15;
    this.next = at + 4 * Math.max(n, 1);
    const have = this.memory.buffer.byteLength;
    if (this.next > have) this.memory.grow(Math.ceil((this.next - have) / 65536));
    return at;
  }

  f32(at: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, at, n);
  }

  words(at: number, values: number[]): void {
    new Int32Array(this.memory.buffer, at, values.length).set(values);
  }
}

interface Build {
  name: string;
  base64: string;
  shared: boolean;
}
const builds: Build[] = [
  { name: "wasm", base64: wasmBase64, shared: false },
  { name: "wasm-relaxed", base64: wasmRelaxedBase64, shared: false },
  { name: "wasm (shared memory)", base64: wasmThreadsBase64, shared: true },
  { name: "wasm-relaxed (shared memory)", base64: wasmThreadsRelaxedBase64, shared: true },
];

/** A buffer in the arena filled from rng, with its float64 copy for the reference. */
interface Buf {
  at: number;
  n: number;
  f64: Float64Array;
}
function filled(a: Arena, n: number, rng: Rng, lo: number, hi: number): Buf {
  const at = a.alloc(n);
  const v = a.f32(at, n);
  for (let i = 0; i < n; i++) v[i] = rng.range(lo, hi);
  return { at, n, f64: Float64Array.from(v) };
}
const get = (a: Arena, b: Buf): Float32Array => a.f32(b.at, b.n).slice();
const op = (b: Buf, off = 0, ld = 0): Operand => ({ buf: b.f64, off, ld });

/** max|got − want| / max(1, max|want|) over the array. */
function scaled(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let d = 0;
  let m = 1;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= d)) d = e;
    m = Math.max(m, Math.abs(want[i]));
  }
  return d / m;
}

function close(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: number): void {
  const e = scaled(got, want);
  assert.ok(e <= tol, `${what}: scaled error ${e} > ${tol}`);
}

function sameBits(what: string, a: Float32Array, b: Float32Array): void {
  assert.deepEqual(new Uint32Array(a.buffer.slice(0)), new Uint32Array(b.buffer.slice(0)), what);
}

/**
 * A forward-only cell of B dense rows of H on the arena's first instance, from `gates` [B, 3H] and
 * hg [B, 3H], b_hh [3H], hPrev [B, H] drawn from rng (h [B, H] zeroed): runs the wasm cell and
 * returns the buffers with the reference's operands over their float64 copies.
 */
function wasmCellForward(a: Arena, gates: Buf, rng: Rng, { B, H }: { B: number; H: number }) {
  const G = 3 * H;
  const hg = filled(a, B * G, rng, -1, 1);
  const bhh = filled(a, G, rng, -1, 1);
  const h = filled(a, B * H, rng, 0, 0);
  const hPrev = filled(a, B * H, rng, -1, 1);
  const cell = a.alloc(14);
  a.words(cell, [gates.at, hg.at, bhh.at, h.at, H, hPrev.at, H, B, H, 0, H, 0, 0, 0]);
  a.instances[0].ex.gruCellForward(cell);
  const ops = { gates: op(gates, 0, G), hg: op(hg, 0, G), bhh: op(bhh), h: op(h, 0, H), hPrev: op(hPrev, 0, H) }; // prettier-ignore
  return { h, bhh, ops };
}

// [B, H] shapes of the cell tests: H of every residue mod 4 and 8, B from 1.
const cellShapes: [number, number][] = [
  [1, 1],
  [2, 3],
  [3, 4],
  [2, 5],
  [4, 7],
  [1, 8],
  [3, 13],
  [2, 33],
];
// [T, B, H, reverse] of the recurrence tests: the conformance tests' shapes and a few more.
const stepShapes = [
  ...RECURRENCE_SHAPES,
  [5, 3, 5, true],
  [7, 4, 9, false],
  [4, 6, 12, true],
  [3, 5, 33, false],
  [6, 2, 3, true],
] as const;

for (const build of builds)
  describe(`GRU kernels, ${build.name}`, () => {
    const available = W.validate(Buffer.from(build.base64, "base64"));

    it("cell forward and backward match the reference, strided rows untouched past H", (t) => {
      if (!available) return t.skip("the engine does not validate this build");
      const rng = new Rng(11);
      for (const [B, H] of cellShapes) {
        const a = new Arena(build.base64, build.shared);
        const G = 3 * H;
        const [ldh, ldp, ldy] = [H + 2, H + 1, H + 3];
        const gates = filled(a, B * G, rng, -3, 3);
        const hg = filled(a, B * G, rng, -3, 3);
        const bhh = filled(a, G, rng, -1, 1);
        const h = filled(a, B * ldh, rng, 7, 7); // a sentinel in the gaps
        const hPrev = filled(a, B * ldp, rng, -1, 1);
        const dy = filled(a, B * ldy, rng, -1, 1);
        const dh = filled(a, B * H, rng, -1, 1);
        const dXg = filled(a, B * G, rng, 0, 0);
        const dHg = filled(a, B * G, rng, 0, 0);
        const cell = a.alloc(14);
        // prettier-ignore
        a.words(cell, [gates.at, hg.at, bhh.at, h.at, ldh, hPrev.at, ldp, B, H, dy.at, ldy, dh.at, dXg.at, dHg.at]);
        const { ex } = a.instances[a.instances.length - 1];
        ex.gruCellForward(cell);
        ex.gruCellBackward(cell);

        const ops = {
          gates: op(gates, 0, G),
          hg: op(hg, 0, G),
          bhh: op(bhh),
          h: op(h, 0, ldh),
          hPrev: op(hPrev, 0, ldp),
        };
        const grads = { dy: op(dy, 0, ldy), dh: op(dh, 0, H), dXg: op(dXg, 0, G), dHg: op(dHg, 0, G) }; // prettier-ignore
        gruCellForward(ops, { batch: B, hidden: H });
        gruCellBackward(ops, grads, { batch: B, hidden: H });
        const shape = `B=${B} H=${H}`;
        for (const [name, buf] of [
          ["gates", gates],
          ["hg", hg],
          ["h", h],
          ["dh", dh],
          ["dXg", dXg],
          ["dHg", dHg],
        ] as const)
          // prettier-ignore
          close(`${shape} ${name}`, get(a, buf), buf.f64, 2e-6);
        const hv = get(a, h);
        for (let b = 0; b < B; b++)
          for (let j = H; j < ldh; j++) assert.equal(hv[b * ldh + j], 7, `${shape} h gap`);
      }
    });

    it("the cell saturates like the reference and carries NaN into n and h", (t) => {
      if (!available) return t.skip("the engine does not validate this build");
      const [B, H] = [2, 5];
      const G = 3 * H;
      const a = new Arena(build.base64, build.shared);
      const rng = new Rng(5);
      const gates = filled(a, B * G, rng, 0, 0);
      const pre = [1e4, -1e4, 95, -95, 0.3];
      const g = a.f32(gates.at, B * G);
      for (let i = 0; i < B * G; i++) g[i] = pre[i % 5];
      g[2 * H + 3] = NaN; // row 0, n block, unit 3
      gates.f64.set(g);
      const { h, ops } = wasmCellForward(a, gates, rng, { B, H });
      gruCellForward(ops, { batch: B, hidden: H });
      for (const buf of [gates, h]) {
        const got = get(a, buf);
        for (let i = 0; i < buf.n; i++) {
          if (Number.isNaN(buf.f64[i])) assert.ok(Number.isNaN(got[i]), `NaN at ${i}`);
          else assert.ok(Math.abs(got[i] - buf.f64[i]) <= 1e-6, `${i}: ${got[i]} vs ${buf.f64[i]}`);
        }
      }
      assert.ok(Number.isNaN(get(a, h)[3]));
    });

    it("the recurrence matches the reference; split rows and packed W_hh give the same bits", (t) => {
      if (!available) return t.skip("the engine does not validate this build");
      const rng = new Rng(12);
      for (const [T, B, H, reverse] of stepShapes) {
        const a = new Arena(build.base64, build.shared);
        const G = 3 * H;
        // y and dy as one direction of a bidirectional layer: rows 2H apart, at column H.
        const ld = 2 * H;
        const col = reverse ? H : 0;
        const xg = filled(a, T * B * G, rng, -2, 2);
        const h0 = filled(a, B * H, rng, -1, 1);
        const w = filled(a, G * H, rng, -0.6, 0.6);
        const bhh = filled(a, G, rng, -0.5, 0.5);
        const dy = filled(a, T * B * ld, rng, -1, 1);
        const dhIn = filled(a, B * H, rng, -1, 1);
        const packed = a.alloc(a.instances[0].ex.gruStepsWorkFloats(H));

        // Per-row lengths (sorted, ties, the first T): step t computes rows [0, sizes[t]).
        const lengths = Array.from({ length: B }, (_, b) => (b === 0 ? T : 1 + rng.int(T))).sort((p, q) => q - p); // prettier-ignore
        const stepSizes = Array.from({ length: T }, (_, t) => lengths.filter((l) => l > t).length);
        const sizesAt = a.alloc(T);
        a.f32(sizesAt, T).set(stepSizes);

        /**
         * One run: forward then backward, rows split at `split` (B: no split), packed or not,
         * with the step sizes at `sizes` (0: every row every step).
         */
        const run = (split: number, pack: boolean, sizes = 0): Record<string, Float32Array> => {
          const gates = a.alloc(T * B * G);
          a.f32(gates, T * B * G).set(a.f32(xg.at, T * B * G));
          const [hg, dXg, dHg] = [0, 0, 0].map(() => a.alloc(T * B * G));
          const y = a.alloc(T * B * ld);
          const dh = a.alloc(B * H);
          a.f32(dh, B * H).set(a.f32(dhIn.at, B * H));
          const desc = a.alloc(18);
          const words = (p: number): number[] => [gates, hg, y + 4 * col, ld, h0.at, w.at, bhh.at, p, T, B, H, reverse ? 1 : 0, dy.at + 4 * col, ld, dh, dXg, dHg, sizes]; // prettier-ignore
          const halves =
            split < B
              ? [
                  [0, split],
                  [split, B],
                ]
              : [[0, B]];
          const { ex } = a.instances[0];
          if (pack) ex.packPanels(packed, w.at, H, true, H, G); // W_hhᵀ
          a.words(desc, words(pack ? packed : 0));
          halves.forEach(([i0, i1], i) => {
            const inst = a.instances[i % a.instances.length];
            inst.ex.gruForwardSteps(desc, i0, i1, inst.scratch);
          });
          if (pack) ex.packPanels(packed, w.at, H, false, G, H); // W_hh
          halves.forEach(([i0, i1], i) => {
            const inst = a.instances[i % a.instances.length];
            inst.ex.gruBackwardSteps(desc, i0, i1, inst.scratch);
          });
          const out = (at: number, n: number): Float32Array => a.f32(at, n).slice();
          return {
            gates: out(gates, T * B * G),
            hg: out(hg, T * B * G),
            y: out(y, T * B * ld),
            dh: out(dh, B * H),
            dXg: out(dXg, T * B * G),
            dHg: out(dHg, T * B * G),
          };
        };

        /** Every split of the rows (whole and packed, halves, single rows) gives `whole`'s bits. */
        const splitsAgree = (label: string, whole: Record<string, Float32Array>, sizes = 0) => {
          for (const [split, pack] of [
            [B, true],
            [Math.ceil(B / 2), false],
            [1, true],
          ] as const) {
            if (split === 1 && B === 1) continue;
            const other = run(split, pack, sizes);
            for (const name of Object.keys(whole))
              sameBits(`${label} split ${split} packed ${pack}: ${name}`, other[name], whole[name]);
          }
        };
        const shape = `T=${T} B=${B} H=${H}${reverse ? " reverse" : ""}`;
        const whole = run(B, false);
        splitsAgree(shape, whole);

        // With lengths: the same bits however the rows split (the comparison with the per-step
        // composition is in conformance.test.ts), and a row's outputs past its length stay 0.
        const wholeLen = run(B, false, sizesAt);
        const what = `${shape} lengths ${lengths.join(",")}`;
        splitsAgree(what, wholeLen, sizesAt);
        for (let t = 0; t < T; t++)
          for (let b = stepSizes[t]; b < B; b++)
            for (let j = 0; j < H; j++) {
              const at = (t * B + b) * ld + col + j;
              assert.equal(wholeLen.y[at], 0, `${what}: y[t=${t}, b=${b}] past the row's length`);
            }

        // The float64 reference from the same float32 inputs; y's other half stays 0 in both.
        const f64 = (n: number): Float64Array => new Float64Array(n);
        const ref = { gates: Float64Array.from(xg.f64), hg: f64(T * B * G), y: f64(T * B * ld), dh: Float64Array.from(dhIn.f64), dXg: f64(T * B * G), dHg: f64(T * B * G) }; // prettier-ignore
        const o = (buf: Float64Array, off = 0, l = 0): Operand => ({ buf, off, ld: l });
        const ops = {
          gates: o(ref.gates, 0, G),
          hg: o(ref.hg, 0, G),
          y: o(ref.y, col, ld),
          h0: op(h0, 0, H),
          w: op(w, 0, H),
          bhh: op(bhh),
        };
        const dims = { steps: T, batch: B, hidden: H, reverse };
        gruForwardSteps(ops, dims);
        const grads = { dy: op(dy, col, ld), dh: o(ref.dh, 0, H), dXg: o(ref.dXg, 0, G), dHg: o(ref.dHg, 0, G) }; // prettier-ignore
        gruBackwardSteps(ops, grads, dims);
        for (const name of Object.keys(ref) as (keyof typeof ref)[])
          close(`${shape} ${name}`, whole[name], ref[name], 2e-5);
      }
    });
  });

/**
 * The wasm recurrence kernels behind the driver's interface: every distinct buffer of the
 * operands is copied into a fresh instance's memory, the kernel runs (on the shared builds, rows
 * split between the two instances), and every buffer is copied back.
 */
function wasmSteps(build: Build): GruStepKernels {
  const call = (ops: GruStepsOperands, grads: GruStepsGrads | null, dims: GruStepsDims): void => {
    const a = new Arena(build.base64, build.shared);
    const { steps: T, batch: B, hidden: H } = dims;
    const where = new Map<FloatArray, number>();
    const all = [...Object.values(ops), ...(grads ? Object.values(grads) : [])] as Operand[];
    for (const { buf } of all)
      if (!where.has(buf)) {
        const at = a.alloc(buf.length);
        a.f32(at, buf.length).set(buf);
        where.set(buf, at);
      }
    const ptr = (o: Operand | undefined): number => (o ? where.get(o.buf)! + 4 * o.off : 0);
    for (const o of [ops.gates, ops.hg, grads?.dXg, grads?.dHg]) if (o) assert.equal(o.ld, 3 * H);
    assert.equal(ops.h0.ld, H);
    const desc = a.alloc(18);
    // prettier-ignore
    a.words(desc, [ptr(ops.gates), ptr(ops.hg), ptr(ops.y), ops.y.ld, ptr(ops.h0), ptr(ops.w), ptr(ops.bhh), 0, T, B, H, dims.reverse ? 1 : 0, ptr(grads?.dy), grads?.dy.ld ?? 0, ptr(grads?.dh), ptr(grads?.dXg), ptr(grads?.dHg), 0]);
    const split = a.instances.length === 2 ? Math.ceil(B / 2) : B;
    [
      [0, split],
      [split, B],
    ].forEach(([i0, i1], i) => {
      const inst = a.instances[i % a.instances.length];
      if (grads) inst.ex.gruBackwardSteps(desc, i0, i1, inst.scratch);
      else inst.ex.gruForwardSteps(desc, i0, i1, inst.scratch);
    });
    for (const [buf, at] of where) buf.set(a.f32(at, buf.length));
  };
  return {
    dtype: "float32",
    forward: (ops, dims) => call(ops, null, dims),
    backward: (ops, grads, dims) => call(ops, grads, dims),
  };
}

for (const build of builds)
  describe(`GRU kernels end to end, ${build.name}, float32`, () => {
    const available = W.validate(Buffer.from(build.base64, "base64"));
    for (const file of gruFixtureFiles())
      it(`${file}: y, h_n, loss and every gradient within 1e-4 of PyTorch`, (t) => {
        if (!available) return t.skip("the engine does not validate this build");
        const f = readGruFixture(file);
        for (const [name, got, want] of gruChecks(f, runGru(f, wasmSteps(build)))) {
          const e = scaledError(got, want);
          assert.ok(e <= 1e-4, `${file} ${name}: scaled error ${e}`);
        }
      });
  });

describe("GRU kernels: the test can fail", () => {
  it("a wrong b_hh (one float off) moves h past the tolerance", () => {
    const a = new Arena(wasmBase64, false);
    const rng = new Rng(3);
    const [B, H] = [2, 5];
    const G = 3 * H;
    const gates = filled(a, B * G, rng, -1, 1);
    const { h, bhh, ops } = wasmCellForward(a, gates, rng, { B, H });
    bhh.f64[2 * H + 1] += 0.1; // b_hn of unit 1
    gruCellForward(ops, { batch: B, hidden: H });
    assert.ok(scaled(get(a, h), h.f64) > 1e-3);
  });
});
