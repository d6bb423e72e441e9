import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readFixture } from "./fixture.js";
import { optimizerConfigFromFixture, replayOptimizers } from "./replay.js";
import { TOLERANCE, verifyFixture } from "./verify.js";
import { FormatError } from "../tensor/errors.js";

const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/", import.meta.url));
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- fixtures are mutated freely here
type Json = Record<string, any>;
const load = (name: string): Json => JSON.parse(readFileSync(FIXTURES + name, "utf8"));
const optimJson = load("optim_small_sum_sq.json");
const clipJson = load("clip_stacked_sum_sq.json");
const fresh = (j: Json): Json => structuredClone(j);

describe("replayOptimizers", () => {
  for (const dtype of ["float64", "float32"] as const)
    it(`replays the SGD and Adam steps of optim_small_sum_sq (${dtype})`, () => {
      const r = replayOptimizers(readFixture(optimJson, "optim.json"), dtype);
      for (const opt of ["sgd", "adam"]) {
        for (let k = 1; k <= 3; k++)
          for (const what of ["loss_before", "grads", "params_after"])
            assert.ok(`optimizers.${opt}.step${k}.${what}` in r, `${opt} step${k} ${what}`);
        assert.ok(`optimizers.${opt}.loss_after_last_step` in r);
      }
      for (let k = 1; k <= 3; k++) {
        assert.ok(`optimizers.adam.step${k}.exp_avg` in r);
        assert.ok(`optimizers.adam.step${k}.exp_avg_sq` in r);
      }
      assert.ok(!("optimizers.sgd.step1.exp_avg" in r));
      for (const [k, e] of Object.entries(r)) assert.ok(e <= TOLERANCE[dtype], `${k}: ${e}`);
      if (dtype === "float64")
        for (const [k, e] of Object.entries(r)) assert.ok(e <= 1e-14, `${k}: ${e}`);
    });

  for (const dtype of ["float64", "float32"] as const)
    it(`replays the clipping of clip_stacked_sum_sq (${dtype})`, () => {
      const r = replayOptimizers(readFixture(clipJson, "clip.json"), dtype);
      assert.deepEqual(Object.keys(r).sort(), [
        "clipping.clip_coef",
        "clipping.grads_after",
        "clipping.scale_applied",
        "clipping.total_norm_after",
        "clipping.total_norm_before",
      ]);
      for (const [k, e] of Object.entries(r)) assert.ok(e <= TOLERANCE[dtype], `${k}: ${e}`);
    });

  it("is empty for a fixture without optimizers or clipping", () => {
    assert.deepEqual(
      replayOptimizers(readFixture(load("tiny_sum_sq.json"), "t.json"), "float64"),
      {},
    );
  });

  it("verifyFixture includes the replay and fails when a reference is off", () => {
    const ok = verifyFixture(readFixture(optimJson, "optim.json"), "float64");
    assert.ok(ok.ok);
    assert.ok("optimizers.adam.step3.params_after" in ok.tensors);
    const f = fresh(optimJson);
    f.optimizers.adam.steps[1].params_after["lstm.weight_hh_l0"].data[3] += 1e-6;
    const bad = verifyFixture(readFixture(f, "bad.json"), "float64");
    assert.equal(bad.ok, false);
    assert.ok(bad.tensors["optimizers.adam.step2.params_after"] > 1e-9);
    assert.ok(bad.tensors["optimizers.adam.step3.params_after"] <= 1e-9);
    const g = fresh(clipJson);
    g.clipping.total_norm_after *= 1.001;
    const bad32 = verifyFixture(readFixture(g, "bad.json"), "float32");
    assert.equal(bad32.ok, false);
    assert.ok(bad32.tensors["clipping.total_norm_after"] > 1e-4);
  });

  it("the check can fail: eps inside the square root's bias correction is caught", () => {
    // Scale the Adam reference's eps up: the recorded trajectory no longer matches.
    const f = fresh(optimJson);
    f.optimizers.adam.hyperparameters.eps = 1e-3;
    const r = replayOptimizers(readFixture(f, "eps.json"), "float64");
    assert.ok(r["optimizers.adam.step1.params_after"] > 1e-9);
  });

  it("rejects an unknown optimizer or a bad hyper-parameter with a FormatError", () => {
    const reject = (mutate: (f: Json) => void, msg: RegExp): void => {
      const f = fresh(optimJson);
      mutate(f);
      assert.throws(
        () => replayOptimizers(readFixture(f, "bad.json"), "float64", { file: "bad.json" }),
        (e: unknown) => e instanceof FormatError && msg.test(e.message),
      );
    };
    reject((f) => {
      f.optimizers.lbfgs = f.optimizers.sgd;
    }, /bad\.json: optimizers\.lbfgs: unknown optimizer "lbfgs"/);
    reject(
      (f) => (f.optimizers.adam.hyperparameters.betas = [1.5, 0.999]),
      /optimizers\.adam\.hyperparameters: betas\[0\]: must be in/,
    );
    reject(
      (f) => (f.optimizers.sgd.hyperparameters.nesterov = true),
      /optimizers\.sgd\.hyperparameters: nesterov/,
    );
    reject(
      (f) => (f.optimizers.sgd.hyperparameters.maximize = true),
      /optimizers\.sgd\.hyperparameters\.maximize: only false is supported/,
    );
    reject(
      (f) => (f.optimizers.sgd.hyperparameters.rho = 0.9),
      /optimizers\.sgd\.hyperparameters\.rho: unknown hyper-parameter/,
    );
    reject(
      (f) => (f.optimizers.sgd.steps[1].step = 5),
      /optimizers\.sgd\.steps\[1\]\.step: expected 2/,
    );
    const c = fresh(clipJson);
    c.clipping.norm_type = 1;
    assert.throws(
      () => replayOptimizers(readFixture(c, "c.json"), "float64"),
      /FormatError: clip_stacked_sum_sq: clipping\.norm_type: only 2 is supported/,
    );
  });

  it("maps torch hyper-parameter names to the library's options", () => {
    assert.deepEqual(
      optimizerConfigFromFixture(
        "rmsprop",
        {
          lr: 0.01,
          alpha: 0.9,
          eps: 1e-6,
          weight_decay: 0.1,
          momentum: 0.5,
          centered: true,
          foreach: null,
        },
        "x.json",
      ),
      {
        kind: "rmsprop",
        lr: 0.01,
        alpha: 0.9,
        eps: 1e-6,
        weightDecay: 0.1,
        momentum: 0.5,
        centered: true,
      },
    );
    assert.deepEqual(
      optimizerConfigFromFixture(
        "adagrad",
        { lr: 0.1, lr_decay: 0.01, initial_accumulator_value: 0.2 },
        "x.json",
      ),
      { kind: "adagrad", lr: 0.1, lrDecay: 0.01, initialAccumulatorValue: 0.2 },
    );
  });
});
