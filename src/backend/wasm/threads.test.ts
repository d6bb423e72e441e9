/**
 * The wasm backend on several threads: split products against the definition and bit for bit
 * against one thread (uneven splits, both split directions, the dot-product path, beta, K = 0),
 * models built with threads: 2 against threads: 1 and the PyTorch fixtures, dispose, and a
 * process with live workers exiting promptly.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { GemmOp, KernelMemory, Kernels } from "../kernels.js";
import { Rng } from "../../tensor/rng.js";
import { stepsWorkSize } from "../steps.js";
import { parseFixture } from "../../check/fixture.js";
import { fixtureBatch } from "../../check/fixture-model.js";
import { verifyFixture } from "../../check/verify.js";
import { LstmModel } from "../../model/model.js";
import { Objective } from "../../model/objective.js";
import { initWasm, wasmKernels, wasmRelaxedKernels } from "./index.js";
import { wasmThreadSettings } from "./split.js";
import { wasmThreadJobsForTest } from "./testing.js";

/** Both builds where the engine has them (the test runner turns relaxed SIMD on). */
const BUILDS = [wasmKernels!, wasmRelaxedKernels].filter((k): k is Kernels => k !== null);
const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

/** [M, N, K]: splits by rows (M ≥ N) and by columns, into uneven parts, past the block sizes. */
const SIZES: [number, number, number][] = [
  [2, 2, 3], // too small to split: one thread
  [13, 5, 7], // rows 0–8 and 8–13
  [5, 13, 9], // columns 0–8 and 8–13
  [9, 3, 300], // few columns: dot products when op(B) = Bᵀ; K past a depth block
  [1, 37, 33], // one row: dot products when op(B) = Bᵀ, split by columns
  [3, 530, 5], // N past one column block
  [131, 70, 261], // M past one row block, K past one depth block
  [64, 1024, 256], // a per-step product of benchmark workload B
  [6, 4, 0], // K = 0: beta 0 clears C
  // The conformance suite's sizes.
  [1, 1, 1],
  [3, 5, 7],
  [4, 8, 4],
  [9, 13, 6],
  [17, 3, 33],
  [33, 24, 17],
  [67, 129, 37],
  [130, 9, 3],
  [6, 11, 300],
  [2, 4, 300],
  [1, 600, 37],
];

/** A product's operands: arrays and leading dimensions. */
interface Product {
  a: Float32Array;
  b: Float32Array;
  c: Float32Array;
  lda: number;
  ldb: number;
  ldc: number;
}

/** C after gemm on copies of (a, b, c) in `mem`. */
function product(wasm: Kernels, mem: KernelMemory, p: Product, op: GemmOp): Float32Array {
  const { a, b, c } = p;
  const [oa, ob, oc] = [a, b, c].map((x) => mem.alloc(x.length));
  const v = mem.view();
  v.set(a, oa);
  v.set(b, ob);
  v.set(c, oc);
  wasm.gemm(
    { buf: v, off: oc, ld: p.ldc },
    { buf: v, off: oa, ld: p.lda },
    { buf: v, off: ob, ld: p.ldb },
    op,
  );
  const out = mem.view().slice(oc, oc + c.length);
  for (const [o, x] of [
    [oa, a],
    [ob, b],
    [oc, c],
  ] as const)
    mem.free!(o, x.length);
  return out;
}

for (const wasm of BUILDS)
  describe(`${wasm.name} backend on 2 threads`, () => {
    const saved = { ...wasmThreadSettings };
    before(() => {
      // Split every product that has two slices, whether the worker is awake or not.
      wasmThreadSettings.minFlopsPerThread = 1;
      wasmThreadSettings.minFlopsPerThreadAsleep = 1;
      wasmThreadSettings.minElementsPerThread = 1;
      wasmThreadSettings.minElementsPerThreadAsleep = 1;
    });
    after(() => {
      Object.assign(wasmThreadSettings, saved);
    });

    it("gemm matches the definition and one thread bit for bit, split by rows and by columns", () => {
      const one = wasm.createMemory!();
      const two = wasm.createMemory!({ threads: 2 });
      assert.equal(one.threads, 1);
      assert.equal(two.threads, 2, "Node 20 has worker_threads and SharedArrayBuffer");
      const rng = new Rng(3);
      for (const [m, n, k] of SIZES)
        for (const transA of [false, true])
          for (const transB of [false, true])
            for (const beta of [0, 1] as const) {
              const what = `m=${m} n=${n} k=${k} tA=${transA} tB=${transB} beta=${beta}`;
              const lda = (transA ? m : k) + 1;
              const ldb = (transB ? k : n) + 2;
              const ldc = n + 3;
              const rand = (len: number) =>
                Float32Array.from({ length: len }, () => rng.range(-1, 1));
              const a = rand((transA ? k : m) * lda);
              const b = rand((transB ? n : k) * ldb);
              const c = rand(m * ldc);
              const want = Float64Array.from(c);
              for (let i = 0; i < m; i++)
                for (let j = 0; j < n; j++) {
                  let s = 0;
                  for (let p = 0; p < k; p++)
                    s +=
                      (transA ? a[p * lda + i] : a[i * lda + p]) *
                      (transB ? b[j * ldb + p] : b[p * ldb + j]);
                  want[i * ldc + j] = (beta ? c[i * ldc + j] : 0) + s;
                }
              const run = (mem: KernelMemory) =>
                product(wasm, mem, { a, b, c, lda, ldb, ldc }, { m, n, k, transA, transB, beta });
              const jobs = wasmThreadJobsForTest(two);
              const got1 = run(one);
              const got2 = run(two);
              const split = wasmThreadJobsForTest(two) > jobs;
              const units = m >= n ? Math.ceil(m / 4) : Math.ceil(n / 8); // rows by 4, columns by 8
              assert.equal(split, k > 0 && units >= 2, `${what}: split`);
              for (let i = 0; i < want.length; i++) {
                const tol = 1e-5 * Math.max(1, k) * Math.max(1, Math.abs(want[i]));
                assert.ok(
                  Math.abs(got2[i] - want[i]) <= tol,
                  `${what}: C[${i}] ${got2[i]} vs ${want[i]}`,
                );
              }
              assert.deepEqual(
                new Uint32Array(got2.buffer),
                new Uint32Array(got1.buffer),
                `${what}: bit-identical to one thread`,
              );
            }
      two.dispose!();
      assert.equal(two.threads, 1);
      // After dispose the memory still computes, on one thread.
      const a = Float32Array.from({ length: 64 * 64 }, (_, i) => (i % 7) - 3);
      const square = { a, b: a, c: new Float32Array(64 * 64), lda: 64, ldb: 64, ldc: 64 };
      const op = { m: 64, n: 64, k: 64, transA: false, transB: true, beta: 0 } as const;
      const c = product(wasm, two, square, op);
      const c1 = product(wasm, one, square, op);
      assert.deepEqual(c, c1);
    });

    it("cell forward and backward, column sums and bias rows split bit-identical to one thread", () => {
      const one = wasm.createMemory!();
      const two = wasm.createMemory!({ threads: 2 });
      const rng = new Rng(5);
      const rand = (len: number, s = 3) =>
        Float32Array.from({ length: len }, () => rng.range(-s, s));
      /** Runs `f` in `mem` on copies of `inputs`; returns the arrays afterwards, as bits. */
      const inMem = (
        mem: KernelMemory,
        inputs: Float32Array[],
        f: (v: Float32Array, offs: number[]) => void,
      ): Uint32Array[] => {
        const offs = inputs.map((x) => mem.alloc(x.length));
        let v = mem.view();
        inputs.forEach((x, i) => v.set(x, offs[i]));
        f(v, offs);
        v = mem.view();
        const out = inputs.map(
          (x, i) => new Uint32Array(v.slice(offs[i], offs[i] + x.length).buffer),
        );
        inputs.forEach((x, i) => mem.free!(offs[i], x.length));
        return out;
      };
      /** Runs `f` in one and two threads; checks it split when `splits` and gave the same bits. */
      const both = (
        what: string,
        inputs: Float32Array[],
        f: (v: Float32Array, o: number[]) => void,
        splits: boolean,
      ) => {
        const jobs = wasmThreadJobsForTest(two);
        const r1 = inMem(one, inputs, f);
        const r2 = inMem(two, inputs, f);
        assert.equal(wasmThreadJobsForTest(two) > jobs, splits, `${what}: split`);
        r1.forEach((x, i) => assert.deepEqual(r2[i], x, `${what}: array ${i} bit-identical`));
      };
      for (const [B, H] of [
        [1, 5], // one row: no split
        [3, 5], // odd rows, hidden with a tail
        [7, 13],
        [5, 64],
        [64, 256], // benchmark workload B's step
      ]) {
        const ldh = H + 3;
        const what = `B=${B} H=${H}`;
        // gates, c, tanhC, h, cPrev
        const fwd = [rand(4 * B * H), rand(B * H), rand(B * H), rand(B * ldh), rand(B * H)];
        const cellForward = (v: Float32Array, [g, c, tc, h, cp]: number[]) => {
          const at = (off: number) => ({ buf: v, off });
          const io = {
            gates: at(g),
            c: at(c),
            tanhC: at(tc),
            h: { ...at(h), ld: ldh },
            cPrev: at(cp),
          };
          wasm.lstmCellForward(io, { B, H });
        };
        both(`forward ${what}`, fwd, cellForward, B > 1);
        // dPre, dc, dy, dhNext, gates (in (0, 1) like activations), cPrev, tanhC
        const bwd = [
          rand(4 * B * H),
          rand(B * H),
          rand(B * ldh),
          rand(B * H),
          rand(4 * B * H, 1),
          rand(B * H),
          rand(B * H, 1),
        ];
        const cellBackward = (v: Float32Array, [dp, dc, dy, dhn, g, cp, tc]: number[]) => {
          const at = (off: number) => ({ buf: v, off });
          const io = {
            dPre: at(dp),
            dc: at(dc),
            dy: { ...at(dy), ld: ldh },
            dhNext: at(dhn),
            gates: at(g),
            cPrev: at(cp),
            tanhC: at(tc),
          };
          wasm.lstmCellBackward(io, { B, H });
        };
        both(`backward ${what}`, bwd, cellBackward, B > 1);
      }
      for (const [rows, cols] of [
        [3, 15], // one strip of 16: no split
        [7, 33],
        [301, 17],
        [101, 1024], // workload B's gates bias
      ]) {
        const ldx = cols + 1;
        const what = `rows=${rows} cols=${cols}`;
        const sums = (v: Float32Array, [o, x]: number[]) =>
          wasm.addColumnSums({ buf: v, off: o }, { buf: v, off: x, ld: ldx }, rows, cols);
        both(`column sums ${what}`, [rand(cols), rand(rows * ldx)], sums, cols > 16);
        for (const two2 of [false, true]) {
          const bias = (v: Float32Array, [o, b1, b2]: number[]) => {
            const second = two2 ? { buf: v, off: b2 } : null;
            wasm.fillBias({ buf: v, off: o, ld: ldx }, { buf: v, off: b1 }, second, rows, cols);
          };
          const inputs = [rand(rows * ldx), rand(cols), rand(cols)];
          both(`fill bias ${what} b2=${two2}`, inputs, bias, rows > 1);
        }
      }
      two.dispose!();
    });

    it("the recurrence splits by batch rows for all steps, bit-identical to one thread", () => {
      const rng = new Rng(9);
      for (const [T, B, H, reverse] of [
        [3, 2, 5, false], // one row each
        [4, 7, 13, true], // uneven rows, hidden with a tail
        [5, 1, 16, false], // one sequence: step by step, each product split by columns
        [20, 32, 128, true], // workload A's shape, fewer steps
      ] as [number, number, number, boolean][]) {
        const G = 4 * H;
        const ldy = H + 1;
        const rand = (len: number) => Float32Array.from({ length: len }, () => rng.range(-1, 1));
        const inputs = {
          act: rand(T * B * (G + 2 * H)),
          y: rand(T * B * ldy),
          h0: rand(B * H),
          c0: rand(B * H),
          w: rand(G * H),
          dy: rand(T * B * ldy),
          scratch: rand(T * B * G + 2 * B * H),
          work: rand(stepsWorkSize(H)),
        };
        const run = (mem: KernelMemory): Float32Array[] => {
          const names = Object.keys(inputs) as (keyof typeof inputs)[];
          const offs = Object.fromEntries(names.map((n) => [n, mem.alloc(inputs[n].length)]));
          let v = mem.view();
          for (const n of names) v.set(inputs[n], offs[n]);
          const [cOff, tcOff] = [offs.act + T * B * G, offs.act + T * B * (G + H)];
          const [dhOff, dcOff] = [offs.scratch + T * B * G, offs.scratch + T * B * G + B * H];
          const at = (off: number) => ({ buf: v, off });
          const act = { buf: v, gates: offs.act, c: cOff, tanhC: tcOff };
          const plan = { T, B, H, reverse };
          const [h0, c0, w, work] = [at(offs.h0), at(offs.c0), at(offs.w), at(offs.work)];
          wasm.lstmForwardSteps({ act, y: { ...at(offs.y), ld: ldy }, h0, c0, w, work }, plan);
          const scratch = { buf: v, dPre: offs.scratch, dh: dhOff, dc: dcOff };
          const dy = { ...at(offs.dy), ld: ldy };
          wasm.lstmBackwardSteps({ scratch, dy, act, c0, w, work }, plan);
          v = mem.view();
          return names.map((n) => v.slice(offs[n], offs[n] + inputs[n].length));
        };
        const one = wasm.createMemory!();
        const two = wasm.createMemory!({ threads: 2 });
        const jobs = wasmThreadJobsForTest(two);
        const r1 = run(one);
        const r2 = run(two);
        // B ≥ 2: two jobs (forward, backward); B = 1: every step's products split instead.
        const splits = wasmThreadJobsForTest(two) - jobs;
        assert.ok(B > 1 ? splits === 2 : splits >= 2 * T, `T=${T} B=${B}: ${splits} split jobs`);
        r1.forEach((x, i) =>
          assert.deepEqual(
            new Uint32Array(r2[i].buffer),
            new Uint32Array(x.buffer),
            `T=${T} B=${B} H=${H}: array ${i}`,
          ),
        );
        two.dispose!();
      }
    });

    it("a model with threads: 2 gives the outputs and gradients of threads: 1, bit for bit", () => {
      for (const file of [
        "stacked_bidir_xent.json",
        "long_sum_sq.json",
        "batch_first_mse_last.json",
      ]) {
        const f = parseFixture(readFileSync(join(ROOT, "test/fixtures", file), "utf8"), file);
        const run = (threads: number) => {
          const model = new LstmModel(f.config, { backend: wasm.name, threads });
          assert.equal(model.threads, threads);
          const memory = (model as unknown as { memory: KernelMemory }).memory;
          for (const name of f.paramOrder) model.setParam(name, f.params[name].data);
          model.zeroGrad();
          const r = new Objective(model, f.loss).run(fixtureBatch(f));
          const out = {
            loss: r.loss,
            y: r.forward.y.slice(),
            hN: r.forward.hN.slice(),
            output: r.forward.output.slice(),
            dx: r.backward!.dx.slice(),
            dh0: r.backward!.dh0.slice(),
            grads: model.grads.slice(),
          };
          assert.equal(wasmThreadJobsForTest(memory) > 0, threads > 1, "products were split");
          model.dispose();
          return out;
        };
        const one = run(1);
        assert.deepEqual(run(2), one, file);
        assert.deepEqual(run(3), one, `${file}, 3 threads`); // more threads than cores: chunks still add up
        // The PyTorch reference, as `lstm verify --backend wasm` checks it.
        const v = verifyFixture(f, "float32", file, { backend: wasm.name, threads: 2 });
        assert.ok(v.ok, `${file}: scaled error ${v.maxScaledError}`);
      }
    });

    it("a GRU model with threads: 2 or 3 gives the outputs and gradients of threads: 1, bit for bit", () => {
      // The GRU recurrence jobs (GruForwardStepsJob, GruBackwardStepsJob) on fixtures, and on
      // workload A's shape and one long sequence (B = 1: each step's products split instead).
      const rng = new Rng(21);
      // With lengths (the steps' active rows; sorted, with ties): a fixture, B not a multiple of
      // the chunk, and every row full.
      const cases: { file?: string; T: number; B: number; I: number; H: number; D: number; lengths?: number[] }[] = [
        { file: "gru_stacked_bidir_xent.json", T: 0, B: 0, I: 0, H: 0, D: 0 },
        { file: "gru_long_sum_sq.json", T: 0, B: 0, I: 0, H: 0, D: 0 },
        { file: "gru_batch_first_mse_last.json", T: 0, B: 0, I: 0, H: 0, D: 0 },
        { file: "len_gru_bidir_xent.json", T: 0, B: 0, I: 0, H: 0, D: 0 },
        { T: 12, B: 32, I: 8, H: 128, D: 1 },
        { T: 6, B: 1, I: 5, H: 192, D: 2 },
        { T: 9, B: 13, I: 5, H: 70, D: 2, lengths: [3, 9, 1, 9, 4, 4, 7, 2, 9, 1, 6, 4, 8] },
        { T: 5, B: 6, I: 3, H: 40, D: 1, lengths: [5, 5, 5, 5, 5, 5] },
      ];
      for (const c of cases) {
        const f = c.file
          ? parseFixture(readFileSync(join(ROOT, "test/fixtures/v2", c.file), "utf8"), c.file)
          : null;
        const config = f?.config ?? {
          cell: "gru" as const,
          inputSize: c.I,
          hiddenSize: c.H,
          numLayers: 2,
          bidirectional: c.D === 2,
          outputSize: 3,
        };
        const T = f?.seqLen ?? c.T;
        const B = f?.batch ?? c.B;
        const D = config.bidirectional ? 2 : 1;
        const x = f?.inputs.x.data ?? Float32Array.from({ length: T * B * c.I }, () => rng.range(-1, 1));
        const h0 = f?.inputs.h0.data ?? Float32Array.from({ length: 2 * D * B * c.H }, () => rng.range(-1, 1));
        const init = new LstmModel(config, { backend: "js" });
        init.initDefault(new Rng(5));
        const run = (threads: number) => {
          const model = new LstmModel(config, { backend: wasm.name, threads });
          assert.equal(model.config.cell, "gru");
          const memory = (model as unknown as { memory: KernelMemory }).memory;
          if (f) for (const name of f.paramOrder) model.setParam(name, f.params[name].data);
          else model.params.set(init.params);
          model.zeroGrad();
          const lengths = f?.inputs.lengths?.data ?? c.lengths;
          const fwd = model.forward(x, { seqLen: T, batch: B, batchFirst: f?.batchFirst, h0, lengths });
          const dOut = Float32Array.from(fwd.output, (v, i) => Math.sin(i + v));
          const out = { y: fwd.y.slice(), hN: fwd.hN.slice(), output: fwd.output.slice() };
          const back = model.backward(dOut);
          const grads = { dx: back.dx.slice(), dh0: back.dh0.slice(), grads: model.grads.slice() };
          assert.equal(wasmThreadJobsForTest(memory) > 0, threads > 1, "products were split");
          model.dispose();
          return { ...out, ...grads };
        };
        const one = run(1);
        const what = c.file ?? `T=${T} B=${B} H=${config.hiddenSize}`;
        assert.deepEqual(run(2), one, what);
        assert.deepEqual(run(3), one, `${what}, 3 threads`);
        if (f) {
          const v = verifyFixture(f, "float32", c.file, { backend: wasm.name, threads: 2 });
          assert.ok(v.ok, `${c.file}: scaled error ${v.maxScaledError}`);
        }
      }
    }); // prettier-ignore

    it("initWasm prepares the threaded build", async () => {
      assert.equal(await initWasm({ threads: 2, backend: wasm.name as "wasm" }), true);
      const mem = wasm.createMemory!({ threads: 3 });
      assert.equal(mem.threads, 3);
      mem.dispose!();
    });

    it("rejects bad thread counts", () => {
      assert.throws(() => wasm.createMemory!({ threads: 0 }), RangeError);
      assert.throws(() => wasm.createMemory!({ threads: 1.5 }), RangeError);
      assert.throws(
        () => new LstmModel({ inputSize: 1, hiddenSize: 1, outputSize: 1 }, { threads: 65 }),
        /threads/,
      );
    });

    it("workers do not keep the process alive: lstm bench --threads 2 exits promptly", () => {
      const t0 = performance.now();
      const r = spawnSync(
        process.execPath,
        [
          join(ROOT, "dist/cli/main.js"),
          "bench",
          "--workload",
          "C",
          "--threads",
          "2",
          "--reps",
          "2",
          "--json",
        ],
        { encoding: "utf8", timeout: 60_000 },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).threads, 2);
      assert.ok(performance.now() - t0 < 30_000);
      // A model that is never disposed.
      const code =
        `import { LstmModel } from ${JSON.stringify(join(ROOT, "dist/src/index.js"))};` +
        "const m = new LstmModel({ inputSize: 8, hiddenSize: 64, outputSize: 8 }, { threads: 2 });" +
        "m.forward(new Float32Array(8 * 4 * 20), { seqLen: 20, batch: 4 });" +
        "console.log(m.threads);";
      const r2 = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
        encoding: "utf8",
        timeout: 30_000,
      });
      assert.equal(r2.status, 0, r2.stderr);
      assert.equal(r2.stdout.trim(), "2");
    });
  });

describe("sleeping workers and a stream of small products", () => {
  const saved = { ...wasmThreadSettings };
  after(() => {
    Object.assign(wasmThreadSettings, saved);
  });

  it("products too small to repay a wake-up each run on one thread until their sum does", async () => {
    wasmThreadSettings.minFlopsPerThread = 1 << 16;
    wasmThreadSettings.minFlopsPerThreadAsleep = 1 << 24;
    const wasm = BUILDS[BUILDS.length - 1];
    const mem = wasm.createMemory!({ threads: 2 });
    assert.equal(mem.threads, 2);
    // One step of a batch-1 generation loop: 1×1024×256, 2¹⁹ flops (2⁸ of a wake-up's 2²⁴ per thread).
    const [n, k] = [1024, 256];
    const [ow, ox, oy] = [n * k, k, n].map((len) => mem.alloc(len));
    const v = mem.view();
    for (let i = 0; i < n * k; i++) v[ow + i] = Math.sin(i);
    for (let i = 0; i < k; i++) v[ox + i] = Math.cos(i);
    const op = { m: 1, n, k, transA: false, transB: true, beta: 0 } as const;
    const step = () =>
      wasm.gemm(
        { buf: v, off: oy, ld: n },
        { buf: v, off: ox, ld: k },
        { buf: v, off: ow, ld: k },
        op,
      );
    await new Promise((r) => setTimeout(r, 50)); // the workers have stopped spinning and sleep
    step();
    const first = mem.view().slice(oy, oy + n);
    assert.equal(wasmThreadJobsForTest(mem), 0, "a lone small product stays on this thread");
    let steps = 1;
    for (; steps < 20_000 && wasmThreadJobsForTest(mem) === 0; steps++) step();
    // 2²⁴ / 2¹⁹ = 32 products' worth wakes the worker; it needs a moment to start spinning.
    assert.ok(steps >= 32, `split after ${steps} products`);
    assert.ok(wasmThreadJobsForTest(mem) > 0, "the stream woke the worker and then split");
    assert.deepEqual(mem.view().slice(oy, oy + n), first, "split or not, the same bits");
    mem.dispose!();
  });
});
