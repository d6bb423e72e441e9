/**
 * What the conformance suite does not cover for the wasm backend: the accuracy of its vector
 * exp/sigmoid/tanh over their whole range, special values, shapes past every block size at once,
 * the allocator and asynchronous initialisation. (Node 20 always has WebAssembly SIMD.)
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { referenceKernels } from "../js/reference.js";
import { Rng } from "../../tensor/rng.js";
import {
  initWasm,
  wasmKernels,
  wasmRelaxedKernels,
  wasmRelaxedSimdSupported,
  wasmSimdSupported,
} from "./index.js";
import { wasmMathForTest } from "./testing.js";
import { getBackend, listBackends } from "../index.js";

const wasm = wasmKernels!;
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Largest error relative to |want| (absolute below the smallest normal float). */
function worstRelative(got: Float32Array, xs: Float32Array, f: (x: number) => number) {
  let worst = 0;
  let at = NaN;
  for (let i = 0; i < xs.length; i++) {
    const want = f(xs[i]);
    const e = Math.abs(got[i] - want) / Math.max(Math.abs(want), 2 ** -126);
    if (!(e <= worst)) {
      worst = e;
      at = xs[i];
    }
  }
  return { worst, at };
}

function grid(lo: number, hi: number, n: number): Float32Array {
  const xs = new Float32Array(n);
  for (let i = 0; i < n; i++) xs[i] = lo + ((hi - lo) * i) / (n - 1);
  return xs;
}

describe("wasm backend", () => {
  it("is available in Node 20 and registered as float32-only", () => {
    assert.equal(wasmSimdSupported, true);
    assert.ok(wasmKernels);
    assert.equal(wasm.name, "wasm");
    assert.deepEqual(wasm.dtypes, ["float32"]);
  });

  it("wasm-relaxed is registered and is the default where relaxed SIMD validates", () => {
    // The test runner imports lstm-ts/relaxed-simd first, which turns it on in Node 20–21.
    assert.equal(wasmRelaxedSimdSupported, true);
    assert.ok(wasmRelaxedKernels);
    assert.equal(wasmRelaxedKernels.name, "wasm-relaxed");
    assert.deepEqual(wasmRelaxedKernels.dtypes, ["float32"]);
    assert.deepEqual(listBackends(), ["js", "wasm", "wasm-relaxed"]);
    assert.equal(getBackend().name, "wasm-relaxed");
    // A memory of one build is not an operand of the other.
    const mem = wasm.createMemory!();
    const o = mem.alloc(16);
    const v = mem.view();
    assert.throws(() => {
      const x = { buf: v, off: o, ld: 2 };
      const op = { m: 2, n: 2, k: 2, transA: false, transB: false, beta: 0 } as const;
      wasmRelaxedKernels!.gemm(x, x, x, op);
    }, /wasm-relaxed backend: operand C belongs to a wasm memory/);
  });

  for (const build of [wasm, wasmRelaxedKernels!])
    it(`${build.name}: vector sigmoid, tanh and exp are within 1e-6 relative of Math over their range`, () => {
      const mem = build.createMemory!();
      const cases: [0 | 1 | 2, string, (x: number) => number, number, number][] = [
        [0, "sigmoid", sigmoid, -87, 88],
        [0, "sigmoid", sigmoid, -2, 2],
        [1, "tanh", Math.tanh, -12, 12],
        [1, "tanh", Math.tanh, -0.7, 0.7], // across the polynomial/exp switch at 0.625
        [1, "tanh", Math.tanh, -1e-6, 1e-6],
        [2, "exp", Math.exp, -87, 88.7],
        [2, "exp", Math.exp, -103, -87], // subnormal results
      ];
      for (const [kind, name, f, lo, hi] of cases) {
        const xs = grid(lo, hi, 100_003); // odd length: the tails run too
        const { worst, at } = worstRelative(wasmMathForTest(mem, kind, xs), xs, f);
        assert.ok(worst < 1e-6, `${name} on [${lo}, ${hi}]: relative error ${worst} at ${at}`);
      }
    });

  for (const build of [wasm, wasmRelaxedKernels!])
    it(`${build.name}: special values: NaN propagates, infinities and huge inputs saturate, −0 keeps its sign`, () => {
      const mem = build.createMemory!();
      const xs = [NaN, Infinity, -Infinity, -0, 0, 100, -100, 1e30, -1e30];
      const sig = wasmMathForTest(mem, 0, xs);
      assert.deepEqual(Array.from(sig), [NaN, 1, 0, 0.5, 0.5, 1, sig[6], 1, 0]);
      assert.ok(sig[6] >= 0 && sig[6] < 1e-40);
      const th = wasmMathForTest(mem, 1, xs);
      assert.deepEqual(Array.from(th), [NaN, 1, -1, -0, 0, 1, -1, 1, -1]);
      assert.ok(Object.is(th[3], -0));
      const ex = wasmMathForTest(mem, 2, xs);
      assert.deepEqual(Array.from(ex), [NaN, Infinity, 0, 1, 1, Infinity, ex[6], Infinity, 0]);
      assert.ok(Math.abs(ex[6] - Math.exp(-100)) < 2 ** -149);
    });

  it("the cell saturates like the reference and carries NaN into c and h", () => {
    const B = 2;
    const H = 5;
    const mem = wasm.createMemory!();
    const offs = [4 * B * H, B * H, B * H, B * H, B * H].map((n) => mem.alloc(n));
    const [g, c, tc, h, cp] = offs;
    const v = mem.view();
    const pre = Float32Array.from(
      { length: 4 * B * H },
      (_, i) => [1e4, -1e4, 95, -95, 0.3][i % 5],
    );
    pre[3] = NaN; // row 0, i-gate of unit 3
    v.set(pre, g);
    v.fill(0.5, cp, cp + B * H);
    const at = (buf: Float32Array, off: number) => ({ buf, off });
    wasm.lstmCellForward(
      {
        gates: at(v, g),
        c: at(v, c),
        tanhC: at(v, tc),
        h: { ...at(v, h), ld: H },
        cPrev: at(v, cp),
      },
      { B, H },
    );
    const ref = {
      g: Float32Array.from(pre),
      c: new Float32Array(B * H),
      tc: new Float32Array(B * H),
      h: new Float32Array(B * H),
      cp: new Float32Array(B * H).fill(0.5),
    };
    referenceKernels.lstmCellForward(
      {
        gates: at(ref.g, 0),
        c: at(ref.c, 0),
        tanhC: at(ref.tc, 0),
        h: { ...at(ref.h, 0), ld: H },
        cPrev: at(ref.cp, 0),
      },
      { B, H },
    );
    const pairs: [Float32Array, Float32Array][] = [
      [v.slice(g, g + 4 * B * H), ref.g],
      [v.slice(c, c + B * H), ref.c],
      [v.slice(tc, tc + B * H), ref.tc],
      [v.slice(h, h + B * H), ref.h],
    ];
    for (const [got, want] of pairs)
      for (let i = 0; i < want.length; i++) {
        if (Number.isNaN(want[i])) assert.ok(Number.isNaN(got[i]), `NaN at ${i}`);
        else assert.ok(Math.abs(got[i] - want[i]) <= 1e-6 * Math.max(1, Math.abs(want[i])));
      }
    assert.ok(Number.isNaN(v[c + 3]) && Number.isNaN(v[h + 3]));
  });

  it("gemm past every block size at once matches the reference", () => {
    const rng = new Rng(1);
    const [m, n, k] = [131, 533, 261]; // M > 128, N > 512, K > 256, none a multiple of 4
    for (const [transA, transB] of [
      [false, true],
      [true, false],
    ]) {
      const mem = wasm.createMemory!();
      const [oc, oa, ob] = [m * n, m * k, k * n].map((len) => mem.alloc(len));
      const v = mem.view();
      for (let i = 0; i < m * k; i++) v[oa + i] = rng.range(-1, 1);
      for (let i = 0; i < k * n; i++) v[ob + i] = rng.range(-1, 1);
      for (let i = 0; i < m * n; i++) v[oc + i] = rng.range(-1, 1);
      const a = Float64Array.from(v.subarray(oa, oa + m * k));
      const b = Float64Array.from(v.subarray(ob, ob + k * n));
      const want = Float64Array.from(v.subarray(oc, oc + m * n));
      const lda = transA ? m : k;
      const ldb = transB ? k : n;
      const op = { m, n, k, transA, transB, beta: 1 } as const;
      const ref = [
        { buf: want, off: 0, ld: n },
        { buf: a, off: 0, ld: lda },
        { buf: b, off: 0, ld: ldb },
      ] as const;
      referenceKernels.gemm(...ref, op);
      wasm.gemm(
        { buf: v, off: oc, ld: n },
        { buf: v, off: oa, ld: lda },
        { buf: v, off: ob, ld: ldb },
        op,
      );
      for (let i = 0; i < m * n; i++)
        assert.ok(Math.abs(v[oc + i] - want[i]) < 1e-4, `C[${i}] ${v[oc + i]} vs ${want[i]}`);
    }
  });

  it("rejects Float64Array operands, bad sizes and bad allocations", () => {
    const mem = wasm.createMemory!();
    const o = mem.alloc(16);
    const v = mem.view();
    const x = { buf: v, off: o, ld: 4 };
    const f64 = { buf: new Float64Array(16), off: 0 };
    assert.throws(() => wasm.addColumnSums(f64, x, 2, 4), /Float32Array/);
    assert.throws(() => wasm.addColumnSums(x, x, -1, 4), /bad size/);
    assert.throws(() => wasm.addColumnSums(x, x, 1.5, 4), /bad size/);
    // Offsets into the module's static data and scratch (below the first allocation) throw.
    assert.throws(() => wasm.addColumnSums({ buf: v, off: 0 }, x, 1, 4), /allocator's start/);
    assert.throws(() => mem.alloc(-1), RangeError);
    assert.throws(() => mem.alloc(0.5), RangeError);
  });

  it("initWasm compiles asynchronously and prepares instances for createMemory", async () => {
    assert.equal(await initWasm(2), true);
    const a = wasm.createMemory!();
    const b = wasm.createMemory!();
    const c = wasm.createMemory!(); // past the prepared ones: synchronous, still fine in Node
    for (const mem of [a, b, c]) {
      const x = mem.alloc(4);
      const s = mem.alloc(4);
      const v = mem.view();
      v.set([1, 2, 3, 4], x);
      wasm.addColumnSums({ buf: v, off: s }, { buf: v, off: x, ld: 4 }, 1, 4);
      assert.deepEqual(Array.from(v.subarray(s, s + 4)), [1, 2, 3, 4]);
    }
    assert.notEqual(a.view().buffer, b.view().buffer);
  });
});
