/**
 * The GRU reference kernels end to end against PyTorch: the test-local driver of
 * test/gru-driver.ts runs stacked, bidirectional, batch-first GRUs forward and backward with
 * gruForwardSteps / gruBackwardSteps over the format-2 fixtures (`gru_*.json` in
 * test/fixtures/v2 and test/fixtures-extra/v2) and compares y, h_n, the loss and every gradient
 * (parameters, x, h0) at the fixtures' README tolerances: float64 element-wise
 * |a − e| ≤ 1e-9·max(|e|, 1e-6·max|e|), float32 max|a − e| ≤ 1e-4·max|e| per array.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { scaledError } from "../../check/compare.js";
import {
  gruBackwardSteps,
  gruChecks,
  gruForwardSteps,
  gruFixtureFiles,
  readGruFixture,
  runGru,
  worstElementwise,
  type GruStepKernels,
} from "../../../test/gru-driver.js";

const reference = (dtype: "float32" | "float64"): GruStepKernels => ({
  dtype,
  forward: gruForwardSteps,
  backward: gruBackwardSteps,
});

describe("GRU reference kernels against PyTorch nn.GRU (format-2 fixtures)", () => {
  const files = gruFixtureFiles();

  it("finds the 23 public GRU fixtures", () => {
    assert.equal(files.filter((f) => f.startsWith("test/fixtures/v2/")).length, 23);
  });

  for (const file of files)
    it(`${file}: y, h_n, loss and every gradient within 1e-9 (float64) and 1e-4 (float32)`, () => {
      const f = readGruFixture(file);
      assert.equal(f.config.cell, "gru");
      const r64 = runGru(f, reference("float64"));
      // Every gradient the fixture holds, and nothing the driver made goes unchecked.
      assert.deepEqual(Object.keys(r64.grads).sort(), Object.keys(f.grads).sort());
      for (const [name, got, want] of gruChecks(f, r64)) {
        const e = worstElementwise(got, want);
        assert.ok(e <= 1e-9, `${file} ${name}: float64 scaled error ${e}`);
      }
      for (const [name, got, want] of gruChecks(f, runGru(f, reference("float32")))) {
        const e = scaledError(got, want);
        assert.ok(e <= 1e-4, `${file} ${name}: float32 scaled error ${e}`);
      }
    });

  it("a GRU with b_hn outside the reset product (a common slip) fails the fixture check", () => {
    // The check can fail: moving b_hn to the input side changes n, so y leaves the tolerance.
    const f = readGruFixture("test/fixtures/v2/gru_small_sum_sq.json");
    const H = f.config.hidden_size;
    const bih = f.params["gru.bias_ih_l0"].data;
    const bhh = f.params["gru.bias_hh_l0"].data;
    for (let j = 2 * H; j < 3 * H; j++) {
      bih[j] += bhh[j];
      bhh[j] = 0;
    }
    assert.ok(worstElementwise(runGru(f, reference("float64")).y, f.outputs.y.data) > 1e-6);
  });
});
