import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LstmModel } from "./model.js";
import { getBackend, listBackends } from "../backend/index.js";
import { Objective } from "./objective.js";
import { ConfigError, LstmError, NonFiniteError, ShapeError } from "../tensor/errors.js";
import { Rng } from "../tensor/rng.js";

function randn(rng: Rng, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => rng.normal());
}

describe("LstmModel", () => {
  it("lays out parameters in PyTorch order and shapes", () => {
    const m = new LstmModel({
      inputSize: 3,
      hiddenSize: 4,
      numLayers: 2,
      bidirectional: true,
      outputSize: 2,
    });
    assert.deepEqual(m.paramNames(), [
      "lstm.weight_ih_l0",
      "lstm.weight_hh_l0",
      "lstm.bias_ih_l0",
      "lstm.bias_hh_l0",
      "lstm.weight_ih_l0_reverse",
      "lstm.weight_hh_l0_reverse",
      "lstm.bias_ih_l0_reverse",
      "lstm.bias_hh_l0_reverse",
      "lstm.weight_ih_l1",
      "lstm.weight_hh_l1",
      "lstm.bias_ih_l1",
      "lstm.bias_hh_l1",
      "lstm.weight_ih_l1_reverse",
      "lstm.weight_hh_l1_reverse",
      "lstm.bias_ih_l1_reverse",
      "lstm.bias_hh_l1_reverse",
      "head.weight",
      "head.bias",
    ]);
    assert.deepEqual(m.paramShape("lstm.weight_ih_l1"), [16, 8]);
    assert.deepEqual(m.paramShape("head.weight"), [2, 8]);
    assert.equal(m.numParams, m.params.length);
  });

  it("rejects bad configuration with a ConfigError naming the field", () => {
    assert.throws(() => new LstmModel({ inputSize: 0, hiddenSize: 4, outputSize: 1 }), /inputSize/);
    assert.throws(
      () => new LstmModel({ inputSize: 2, hiddenSize: 2.5, outputSize: 1 }),
      ConfigError,
    );
    assert.throws(
      () =>
        new LstmModel(
          { inputSize: 2, hiddenSize: 2, outputSize: 1 },
          { dtype: "float16" as never },
        ),
      /dtype/,
    );
  });

  it("rejects mismatched shapes and non-finite values with typed errors", () => {
    const m = new LstmModel({ inputSize: 3, hiddenSize: 2, outputSize: 1 });
    m.initDefault(new Rng(1));
    const x = new Float32Array(5 * 2 * 3);
    assert.throws(
      () => m.forward(x.subarray(1), { seqLen: 5, batch: 2 }),
      (e: unknown) => e instanceof ShapeError && e.tensor === "x" && /\[T, B, I\]/.test(e.message),
    );
    assert.throws(() => m.forward(x, { seqLen: 0, batch: 2 }), /seqLen/);
    const bad = x.slice();
    bad[7] = NaN;
    assert.throws(
      () => m.forward(bad, { seqLen: 5, batch: 2 }),
      (e: unknown) => e instanceof NonFiniteError && e.tensor === "x" && e.index === 7,
    );
    assert.throws(() => m.forward(x, { seqLen: 5, batch: 2, h0: new Float32Array(3) }), /h0/);
    m.param("lstm.bias_hh_l0")[2] = Infinity;
    assert.throws(
      () => m.forward(x, { seqLen: 5, batch: 2 }),
      /lstm\.bias_hh_l0: element 2 is Infinity/,
    );
    assert.throws(() => m.setParam("lstm.weight_hh_l0", [1, 2]), ShapeError);
    assert.throws(() => m.param("lstm.weight_hh_l9"), /no parameter/);
    const fresh = new LstmModel({ inputSize: 3, hiddenSize: 2, outputSize: 1 });
    assert.throws(
      () => fresh.backward([0]),
      (e: unknown) => e instanceof LstmError && e.code === "E_STATE",
    );
  });

  it("accumulates gradients across backward calls until zeroGrad", () => {
    const rng = new Rng(4);
    const m = new LstmModel({ inputSize: 2, hiddenSize: 3, outputSize: 2 }, { dtype: "float64" });
    m.initDefault(rng);
    const obj = new Objective(m, "sum_sq");
    const batch = { x: randn(rng, 4 * 2 * 2), seqLen: 4, batch: 2, targets: randn(rng, 4 * 2 * 2) };
    m.zeroGrad();
    obj.run(batch);
    const once = Float64Array.from(m.grads);
    obj.run(batch);
    for (let i = 0; i < once.length; i++)
      assert.ok(Math.abs(m.grads[i] - 2 * once[i]) <= 1e-12 * (1 + Math.abs(once[i])));
    m.zeroGrad();
    assert.ok(m.grads.every((g) => g === 0));
  });

  it("inputGrad: false skips dx and leaves every other gradient as it was", () => {
    const rng = new Rng(6);
    for (const backend of listBackends()) {
      const cfg = { inputSize: 5, hiddenSize: 7, outputSize: 3, numLayers: 2, bidirectional: true };
      const m = new LstmModel(cfg, { backend, dtype: "float32" });
      m.initDefault(rng);
      const batch = {
        x: randn(rng, 6 * 9 * 5),
        seqLen: 6,
        batch: 9,
        targets: randn(rng, 6 * 9 * 3),
      };
      const run = (inputGrad: boolean) => {
        m.zeroGrad();
        const r = new Objective(m, "mse", { inputGrad }).run(batch).backward!;
        return { grads: m.grads.slice(), dx: r.dx.slice(), dh0: r.dh0.slice(), dc0: r.dc0.slice() };
      };
      const all = run(true);
      const some = run(false);
      assert.equal(all.dx.length, 6 * 9 * 5);
      assert.ok(
        all.dx.some((v) => v !== 0),
        `${backend}: dx computed`,
      );
      assert.equal(some.dx.length, 0, `${backend}: no dx`);
      assert.deepEqual(some.grads, all.grads, `${backend}: parameter gradients`);
      assert.deepEqual([some.dh0, some.dc0], [all.dh0, all.dc0], `${backend}: state gradients`);
      m.dispose();
    }
  });

  it("batch-first gives the transposed results of time-major", () => {
    const rng = new Rng(8);
    const cfg = { inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true, outputSize: 2 };
    const a = new LstmModel(cfg, { dtype: "float64" });
    a.initDefault(rng);
    const b = new LstmModel(cfg, { dtype: "float64" });
    b.params.set(a.params);
    const T = 4;
    const B = 3;
    const xTB = randn(rng, T * B * 2);
    const xBT = new Float64Array(T * B * 2);
    for (let t = 0; t < T; t++)
      for (let s = 0; s < B; s++)
        for (let i = 0; i < 2; i++) xBT[(s * T + t) * 2 + i] = xTB[(t * B + s) * 2 + i];
    const ya = a.forward(xTB, { seqLen: T, batch: B }).y.slice();
    const yb = b.forward(xBT, { seqLen: T, batch: B, batchFirst: true }).y;
    for (let t = 0; t < T; t++)
      for (let s = 0; s < B; s++)
        for (let j = 0; j < 6; j++) assert.equal(yb[(s * T + t) * 6 + j], ya[(t * B + s) * 6 + j]);
  });

  it("float32 and float64 run the same code and agree to float32 precision", () => {
    const rng = new Rng(12);
    const cfg = { inputSize: 3, hiddenSize: 5, numLayers: 2, outputSize: 4 };
    const m64 = new LstmModel(cfg, { dtype: "float64" });
    m64.initDefault(rng);
    const m32 = new LstmModel(cfg, { dtype: "float32" });
    m32.params.set(m64.params);
    m64.params.set(m32.params); // both hold the same float32-representable values
    const batch = {
      x: randn(rng, 6 * 2 * 3),
      seqLen: 6,
      batch: 2,
      targets: Float64Array.from({ length: 12 }, () => rng.int(4)),
    };
    m32.zeroGrad();
    m64.zeroGrad();
    const l32 = new Objective(m32, "xent").run(batch).loss;
    const l64 = new Objective(m64, "xent").run(batch).loss;
    assert.ok(m32.params instanceof Float32Array && m64.params instanceof Float64Array);
    assert.ok(Math.abs(l32 - l64) < 1e-5 * Math.abs(l64));
    let maxG = 0;
    let maxD = 0;
    for (let i = 0; i < m64.grads.length; i++) {
      maxG = Math.max(maxG, Math.abs(m64.grads[i]));
      maxD = Math.max(maxD, Math.abs(m64.grads[i] - m32.grads[i]));
    }
    assert.ok(maxD <= 1e-4 * maxG, `${maxD} vs ${maxG}`);
  });

  it("h_n of a unidirectional layer is y at the last step; the reverse h_n is y at t = 0", () => {
    const rng = new Rng(21);
    const m = new LstmModel(
      { inputSize: 2, hiddenSize: 3, bidirectional: true, outputSize: 1 },
      { dtype: "float64" },
    );
    m.initDefault(rng);
    const T = 5;
    const B = 2;
    const { y, hN } = m.forward(randn(rng, T * B * 2), { seqLen: T, batch: B });
    for (let b = 0; b < B; b++)
      for (let j = 0; j < 3; j++) {
        assert.equal(hN[b * 3 + j], y[((T - 1) * B + b) * 6 + j]);
        assert.equal(hN[(B + b) * 3 + j], y[(0 * B + b) * 6 + 3 + j]);
      }
  });

  it("reuses its workspace for a repeated shape", () => {
    for (const backend of listBackends().filter((b) => getBackend(b).dtypes.includes("float32"))) {
      const m = new LstmModel({ inputSize: 1, hiddenSize: 2, outputSize: 1 }, { backend });
      const r1 = m.forward(new Float32Array(6), { seqLen: 3, batch: 2 });
      const where = (a: Float32Array | Float64Array): string => `${a.byteOffset}/${a.length}`;
      const first = where(r1.y);
      const r2 = m.forward(new Float32Array(6), { seqLen: 3, batch: 2 });
      assert.equal(where(r2.y), first, backend);
      const r3 = m.forward(new Float32Array(8), { seqLen: 4, batch: 2 });
      assert.notEqual(where(r3.y), first, backend);
      const r4 = m.forward(new Float32Array(6), { seqLen: 3, batch: 2 });
      assert.equal(where(r4.y), first, `${backend}: the earlier shape's workspace is cached`);
    }
  });

  it("keeps backend memory bounded while cycling through many shapes", () => {
    if (!listBackends().includes("wasm")) return;
    const m = new LstmModel({ inputSize: 3, hiddenSize: 16, outputSize: 2 }, { backend: "wasm" });
    const cycle = (): number => {
      for (let T = 1; T <= 60; T++) m.forward(new Float32Array(T * 2 * 3), { seqLen: T, batch: 2 });
      return m.params.buffer.byteLength;
    };
    const after1 = cycle();
    const after3 = (cycle(), cycle());
    assert.equal(
      after3,
      after1,
      "evicted workspaces are reused, so a second pass allocates nothing new",
    );
  });
});

describe("LstmModel with cell: gru", () => {
  it("names its parameters gru.* with 3H gate rows; has no cell state", () => {
    const m = new LstmModel(
      {
        cell: "gru",
        inputSize: 3,
        hiddenSize: 4,
        outputSize: 2,
        numLayers: 2,
        bidirectional: true,
      },
      { dtype: "float64" },
    );
    assert.equal(m.config.cell, "gru");
    assert.deepEqual(m.paramShape("gru.weight_ih_l0"), [12, 3]);
    assert.deepEqual(m.paramShape("gru.weight_ih_l1_reverse"), [12, 8]);
    assert.deepEqual(m.paramShape("gru.bias_hh_l1"), [12]);
    assert.ok(m.paramNames().every((n) => n.startsWith("gru.") || n.startsWith("head.")));
    m.initDefault(new Rng(1));
    const x = randn(new Rng(2), 5 * 2 * 3);
    const r = m.forward(x, { seqLen: 5, batch: 2 });
    assert.equal(r.cN.length, 0);
    assert.equal(r.hN.length, 4 * 2 * 4);
    assert.equal(m.activations(1, 1).gates.length, 5 * 2 * 12);
    assert.equal(m.activations(0).c.length, 0);
    const b = m.backward(new Float64Array(r.output.length).fill(1));
    assert.equal(b.dc0.length, 0);
    assert.equal(b.dh0.length, 4 * 2 * 4);
    assert.throws(
      () => m.forward(x, { seqLen: 5, batch: 2, c0: new Float64Array(32) }),
      ConfigError,
    );
    assert.throws(
      () => new LstmModel({ cell: "rnn" as "gru", inputSize: 1, hiddenSize: 1, outputSize: 1 }),
      /cell: must be "lstm" or "gru"/,
    );
  });

  it("the default cell is the LSTM", () => {
    assert.equal(new LstmModel({ inputSize: 1, hiddenSize: 1, outputSize: 1 }).config.cell, "lstm");
  });
});
