import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  createOptimizer,
  defaultOptimizerConfig,
  OPTIMIZER_KINDS,
  type OptimizerConfig,
  type OptimizerState,
} from "./optimizers.js";
import type { DType, FloatArray } from "../tensor/dtype.js";
import { ConfigError, FormatError, ShapeError } from "../tensor/errors.js";

/** test/optim-reference/optimizers.json, written by scripts/make_optim_reference.py (torch). */
interface RefStep {
  lr: number;
  grads: number[];
  params_after: number[];
  step: number | null;
  buffers: Record<string, number[]>;
}
interface RefCase {
  name: string;
  config: OptimizerConfig;
  params_before: number[];
  steps: RefStep[];
}
const REF_FILE = fileURLToPath(
  new URL("../../../test/optim-reference/optimizers.json", import.meta.url),
);
const REF = JSON.parse(readFileSync(REF_FILE, "utf8")) as { cases: RefCase[] };
const refCase = (name: string): RefCase => {
  const c = REF.cases.find((k) => k.name === name);
  assert.ok(c, `reference case ${name}`);
  return c;
};

/** Worst element-wise relative error, with a floor of 1e-6·max|expected| for tiny entries. */
function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let m = 0;
  for (let i = 0; i < expected.length; i++) m = Math.max(m, Math.abs(expected[i]));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    const scale = Math.max(Math.abs(expected[i]), 1e-6 * m);
    const e = scale > 0 ? d / scale : d;
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}

function alloc(dtype: DType, data: ArrayLike<number>): FloatArray {
  return dtype === "float32" ? Float32Array.from(data) : Float64Array.from(data);
}

/** Runs a reference case; calls `check` after every step. */
function replay(
  c: RefCase,
  dtype: DType,
  check: (step: number, p: FloatArray, state: OptimizerState) => void,
): void {
  const opt = createOptimizer(c.config, c.params_before.length, dtype);
  const p = alloc(dtype, c.params_before);
  c.steps.forEach((s, i) => {
    opt.lr = s.lr;
    opt.step(p, alloc(dtype, s.grads));
    check(i, p, opt.state());
  });
}

function sameBits(a: FloatArray, b: FloatArray, what: string): void {
  assert.equal(a.constructor, b.constructor, what);
  assert.ok(
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ),
    `${what}: not bit-identical`,
  );
}

describe("optimizers against torch.optim (float64)", () => {
  it("the reference covers every kind", () => {
    for (const kind of OPTIMIZER_KINDS)
      assert.ok(
        REF.cases.some((c) => c.config.kind === kind),
        `no reference case for ${kind}`,
      );
    assert.ok(REF.cases.length >= 12);
  });

  for (const c of REF.cases)
    it(`${c.name}: params and every state buffer after every step, to 1e-12`, () => {
      replay(c, "float64", (i, p, state) => {
        const ref = c.steps[i];
        const e = relError(p, ref.params_after);
        assert.ok(e <= 1e-12, `step ${i + 1} params: relative error ${e}`);
        assert.deepEqual(Object.keys(state.buffers).sort(), Object.keys(ref.buffers).sort());
        for (const [name, want] of Object.entries(ref.buffers)) {
          const eb = relError(state.buffers[name], want);
          assert.ok(eb <= 1e-12, `step ${i + 1} ${name}: relative error ${eb}`);
        }
        if (ref.step !== null) assert.equal(state.stepCount, ref.step);
        else assert.equal(state.stepCount, i + 1);
      });
    });

  it("the check can fail: eps before the bias correction misses torch's Adam", () => {
    // The textbook variant denom = (sqrt(v) + eps) / sqrt(1 - b2^t) instead of torch's
    // sqrt(v) / sqrt(1 - b2^t) + eps. With eps = 1e-3 and gradients ~1e-4 it is far off.
    const c = refCase("adam_large_eps_small_grads");
    const { lr } = c.config;
    const eps = c.config.eps!;
    const [b1, b2] = [0.9, 0.999];
    const n = c.params_before.length;
    const p = Float64Array.from(c.params_before);
    const m = new Float64Array(n);
    const v = new Float64Array(n);
    c.steps.forEach((s, k) => {
      const t = k + 1;
      for (let i = 0; i < n; i++) {
        const g = s.grads[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        const denom = (Math.sqrt(v[i]) + eps) / Math.sqrt(1 - b2 ** t);
        p[i] -= (lr / (1 - b1 ** t)) * (m[i] / denom);
      }
    });
    const e = relError(p, c.steps[c.steps.length - 1].params_after);
    assert.ok(e > 1e-6, `wrong eps placement should be detected, error ${e}`);
  });

  it("the check can fail: a reference perturbed by 1e-10 relative is rejected", () => {
    const c = refCase("rmsprop_centered_momentum_wd");
    const last = c.steps[c.steps.length - 1];
    const tampered = last.params_after.map((x, i) => (i === 3 ? x * (1 + 1e-10) : x));
    const opt = createOptimizer(c.config, c.params_before.length, "float64");
    const p = Float64Array.from(c.params_before);
    for (const s of c.steps) {
      opt.lr = s.lr;
      opt.step(p, Float64Array.from(s.grads));
    }
    assert.ok(relError(p, last.params_after) <= 1e-12);
    assert.ok(relError(p, tampered) > 1e-12);
  });
});

describe("optimizers in float32", () => {
  for (const c of REF.cases)
    it(`${c.name}: follows the float64 torch trajectory to float32 accuracy`, () => {
      replay(c, "float32", (i, p, state) => {
        assert.ok(p instanceof Float32Array);
        for (const b of Object.values(state.buffers)) assert.ok(b instanceof Float32Array);
        const ref = c.steps[i].params_after;
        let m = 0;
        let d = 0;
        for (let j = 0; j < ref.length; j++) {
          m = Math.max(m, Math.abs(ref[j]));
          d = Math.max(d, Math.abs(p[j] - ref[j]));
        }
        assert.ok(d <= 1e-5 * m, `step ${i + 1}: scaled error ${d / m}`);
      });
    });
});

describe("optimizer state", () => {
  for (const dtype of ["float64", "float32"] as const)
    for (const c of REF.cases)
      it(`${c.name} (${dtype}): state()/loadState() continues bit-identically`, () => {
        const n = c.params_before.length;
        const a = createOptimizer(c.config, n, dtype);
        const pa = alloc(dtype, c.params_before);
        const grads = c.steps.map((s) => alloc(dtype, s.grads));
        for (let k = 0; k < 2; k++) {
          a.lr = c.steps[k].lr;
          a.step(pa, grads[k]);
        }
        const snap = a.state();
        // A JSON round trip, as a checkpoint would do it.
        const json = JSON.parse(
          JSON.stringify({
            ...snap,
            buffers: Object.fromEntries(
              Object.entries(snap.buffers).map(([k, v]) => [k, Array.from(v)]),
            ),
          }),
        ) as { kind: OptimizerState["kind"]; stepCount: number; buffers: Record<string, number[]> };
        const b = createOptimizer(c.config, n, dtype);
        b.loadState({
          kind: json.kind,
          stepCount: json.stepCount,
          buffers: Object.fromEntries(
            Object.entries(json.buffers).map(([k, v]) => [k, alloc(dtype, v)]),
          ),
        });
        assert.equal(b.stepCount, 2);
        const pb = pa.slice();
        for (let k = 2; k < c.steps.length; k++) {
          a.lr = b.lr = c.steps[k].lr;
          a.step(pa, grads[k]);
          b.step(pb, grads[k]);
        }
        sameBits(pa, pb, "params");
        const sa = a.state();
        const sb = b.state();
        assert.equal(sa.stepCount, sb.stepCount);
        for (const name of Object.keys(sa.buffers))
          sameBits(sa.buffers[name], sb.buffers[name], name);
        // state() returned copies: the snapshot did not move with later steps.
        if (Object.keys(snap.buffers).length > 0) {
          const name = Object.keys(snap.buffers)[0];
          assert.notDeepEqual(Array.from(snap.buffers[name]), Array.from(sa.buffers[name]));
        }
        assert.equal(snap.stepCount, 2);
      });

  it("loadState rejects a wrong kind, missing/extra/short/non-finite/negative buffers", () => {
    const opt = createOptimizer({ kind: "adam", lr: 0.01, amsgrad: true }, 3, "float64");
    opt.step(new Float64Array([1, 2, 3]), new Float64Array([0.1, -0.2, 0.3]));
    const good = opt.state();
    const bad = (mutate: (s: OptimizerState) => void, err: RegExp, type: unknown = FormatError) => {
      const s = opt.state();
      mutate(s);
      assert.throws(
        () => opt.loadState(s),
        (e: unknown) => e instanceof (type as typeof Error) && err.test((e as Error).message),
      );
    };
    bad((s) => (s.kind = "sgd"), /kind: optimizer state is for "sgd"/, ConfigError);
    bad((s) => delete s.buffers.exp_avg_sq, /buffers\.exp_avg_sq: missing/);
    bad((s) => (s.buffers.sum = new Float64Array(3)), /buffers\.sum: not a buffer/);
    bad((s) => (s.buffers.exp_avg = new Float64Array(2)), /buffers\.exp_avg: expected 3/);
    bad((s) => (s.buffers.exp_avg[1] = NaN), /buffers\.exp_avg\[1\]: expected a finite/);
    bad((s) => (s.buffers.max_exp_avg_sq[2] = -1), /buffers\.max_exp_avg_sq\[2\]: must be ≥ 0/);
    bad((s) => (s.stepCount = 1.5), /stepCount/);
    bad((s) => (s.stepCount = -1), /stepCount/);
    // Nothing was changed by the failed loads.
    const now = opt.state();
    assert.equal(now.stepCount, good.stepCount);
    for (const k of Object.keys(good.buffers))
      assert.deepEqual(Array.from(now.buffers[k]), Array.from(good.buffers[k]));
  });

  it("SGD without momentum has no buffers; with momentum a zero-step state is valid", () => {
    assert.deepEqual(createOptimizer({ kind: "sgd", lr: 1 }, 4, "float64").state().buffers, {});
    const s = createOptimizer({ kind: "sgd", lr: 1, momentum: 0.9 }, 2, "float32").state();
    assert.deepEqual(Object.keys(s.buffers), ["momentum_buffer"]);
    assert.equal(s.stepCount, 0);
    const a = createOptimizer(
      { kind: "adagrad", lr: 1, initialAccumulatorValue: 0.5 },
      2,
      "float64",
    );
    assert.deepEqual(Array.from(a.state().buffers.sum), [0.5, 0.5]);
  });
});

describe("optimizer configuration", () => {
  it("fills torch's defaults", () => {
    const adamw = createOptimizer({ kind: "adamw", lr: 0.1 }, 1, "float64");
    assert.deepEqual(
      { ...adamw.config, betas: [...adamw.config.betas!] },
      {
        kind: "adamw",
        lr: 0.1,
        betas: [0.9, 0.999],
        eps: 1e-8,
        weightDecay: 1e-2,
        amsgrad: false,
      },
    );
    assert.ok(Object.isFrozen(adamw.config));
    assert.equal(adamw.lr, 0.1);
    assert.equal(defaultOptimizerConfig("adam").weightDecay, 0);
    assert.equal(defaultOptimizerConfig("rmsprop").alpha, 0.99);
    assert.equal(defaultOptimizerConfig("adagrad").eps, 1e-10);
    assert.equal(defaultOptimizerConfig("sgd").momentum, 0);
    for (const kind of OPTIMIZER_KINDS) {
      const d = defaultOptimizerConfig(kind);
      assert.equal(d.kind, kind);
      createOptimizer(d, 3, "float32"); // the defaults are valid
    }
    // a fresh object each time
    defaultOptimizerConfig("adam").betas = [0, 0];
    assert.deepEqual(defaultOptimizerConfig("adam").betas, [0.9, 0.999]);
  });

  it("rejects bad hyper-parameters with a ConfigError naming the field", () => {
    const bad = (c: Record<string, unknown>, field: string): void =>
      assert.throws(
        () => createOptimizer(c as unknown as OptimizerConfig, 3, "float64"),
        (e: unknown) => e instanceof ConfigError && e.field === field,
        `${JSON.stringify(c)} should fail on ${field}`,
      );
    bad({ kind: "adamax", lr: 1 }, "kind");
    bad({ kind: "sgd" }, "lr");
    bad({ kind: "sgd", lr: -0.1 }, "lr");
    bad({ kind: "sgd", lr: NaN }, "lr");
    bad({ kind: "adam", lr: Infinity }, "lr");
    bad({ kind: "sgd", lr: 0.1, momentum: -0.5 }, "momentum");
    bad({ kind: "sgd", lr: 0.1, dampening: 2 }, "dampening");
    bad({ kind: "sgd", lr: 0.1, nesterov: true }, "nesterov");
    bad({ kind: "sgd", lr: 0.1, nesterov: true, momentum: 0.9, dampening: 0.1 }, "nesterov");
    bad({ kind: "sgd", lr: 0.1, weightDecay: -1 }, "weightDecay");
    bad({ kind: "sgd", lr: 0.1, eps: 1e-8 }, "eps");
    bad({ kind: "adam", lr: 0.1, momentum: 0.9 }, "momentum");
    bad({ kind: "adam", lr: 0.1, weight_decay: 0.1 }, "weight_decay");
    bad({ kind: "adam", lr: 0.1, betas: [1, 0.999] }, "betas[0]");
    bad({ kind: "adam", lr: 0.1, betas: [0.9, 1] }, "betas[1]");
    bad({ kind: "adamw", lr: 0.1, betas: [0.9, -0.1] }, "betas[1]");
    bad({ kind: "adam", lr: 0.1, betas: [0.9] }, "betas");
    bad({ kind: "adam", lr: 0.1, eps: 0 }, "eps");
    bad({ kind: "adam", lr: 0.1, amsgrad: 1 }, "amsgrad");
    bad({ kind: "rmsprop", lr: 0.1, alpha: 1.5 }, "alpha");
    bad({ kind: "rmsprop", lr: 0.1, centered: "yes" }, "centered");
    bad({ kind: "adagrad", lr: 0.1, lrDecay: -1 }, "lrDecay");
    bad({ kind: "adagrad", lr: 0.1, initialAccumulatorValue: -1 }, "initialAccumulatorValue");
    assert.throws(() => createOptimizer({ kind: "sgd", lr: 1 }, -1, "float64"), ConfigError);
    assert.throws(() => createOptimizer({ kind: "sgd", lr: 1 }, 2, "float16" as DType), /dtype/);
    // torch accepts these
    createOptimizer({ kind: "sgd", lr: 0, momentum: 0.9, nesterov: true }, 1, "float64");
    createOptimizer({ kind: "adam", lr: 0.1, betas: [0, 0] }, 1, "float64");
  });

  it("lr can be changed between steps and is validated", () => {
    const opt = createOptimizer({ kind: "sgd", lr: 0.5 }, 1, "float64");
    const p = new Float64Array([1]);
    opt.step(p, new Float64Array([1]));
    assert.equal(p[0], 0.5);
    opt.lr = 0.25;
    opt.step(p, new Float64Array([1]));
    assert.equal(p[0], 0.25);
    assert.equal(opt.config.lr, 0.5);
    assert.throws(() => (opt.lr = -1), ConfigError);
    assert.throws(() => (opt.lr = NaN), ConfigError);
    assert.equal(opt.lr, 0.25);
    assert.equal(opt.stepCount, 2);
  });

  it("step checks the buffer lengths", () => {
    const opt = createOptimizer({ kind: "adam", lr: 0.5 }, 3, "float64");
    assert.throws(() => opt.step(new Float64Array(2), new Float64Array(3)), ShapeError);
    assert.throws(() => opt.step(new Float64Array(3), new Float64Array(4)), ShapeError);
    assert.equal(opt.stepCount, 0);
  });
});
