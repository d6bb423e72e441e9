import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseFixture } from "../check/fixture.js";
import { ConfigError } from "../tensor/errors.js";
import { clipGradNorm, clipGradValue, gradNorm } from "./clip.js";

const FIXTURE = fileURLToPath(
  new URL("../../../test/fixtures/clip_stacked_sum_sq.json", import.meta.url),
);
const f = parseFixture(readFileSync(FIXTURE, "utf8"), "clip_stacked_sum_sq.json");
const clip = f.clipping!;
const flat = (m: Record<string, { data: number[] }>): number[] =>
  f.paramOrder.flatMap((n) => m[n].data);

const rel = (a: number, e: number): number => Math.abs(a - e) / Math.abs(e);

describe("clipGradNorm", () => {
  it("matches torch.nn.utils.clip_grad_norm_ on the clipping fixture (float64)", () => {
    const g = Float64Array.from(flat(clip.gradsBefore));
    assert.ok(rel(gradNorm(g), clip.totalNormBefore) <= 1e-14);
    const { totalNorm, scale } = clipGradNorm(g, clip.maxNorm, clip.eps);
    assert.ok(rel(totalNorm, clip.totalNormBefore) <= 1e-14, `total norm ${totalNorm}`);
    assert.ok(rel(scale, clip.clipCoef) <= 1e-14, `scale ${scale}`);
    assert.ok(rel(scale, clip.scaleApplied) <= 1e-14);
    assert.ok(scale < 1);
    assert.ok(rel(gradNorm(g), clip.totalNormAfter!) <= 1e-14);
    const after = flat(clip.gradsAfter);
    for (let i = 0; i < after.length; i++)
      assert.ok(Math.abs(g[i] - after[i]) <= 1e-15 * Math.abs(after[i]) + 1e-300, `entry ${i}`);
  });

  it("matches the fixture in float32 to float32 accuracy", () => {
    const g = Float32Array.from(flat(clip.gradsBefore));
    const { totalNorm, scale } = clipGradNorm(g, clip.maxNorm);
    assert.ok(rel(totalNorm, clip.totalNormBefore) <= 1e-6);
    assert.ok(rel(scale, clip.clipCoef) <= 1e-6);
    assert.ok(g instanceof Float32Array);
    assert.ok(rel(gradNorm(g), clip.totalNormAfter!) <= 1e-6);
  });

  it("the check can fail: clipping without eps gives a different coefficient", () => {
    const g = Float64Array.from(flat(clip.gradsBefore));
    const { scale } = clipGradNorm(g, clip.maxNorm, 0);
    assert.ok(rel(scale, clip.clipCoef) > 1e-9);
  });

  it("leaves small gradients alone", () => {
    const g = new Float64Array([0.3, -0.4]);
    const r = clipGradNorm(g, 1);
    assert.deepEqual(r, { totalNorm: 0.5, scale: 1 });
    assert.deepEqual(Array.from(g), [0.3, -0.4]);
    // exactly at the limit: clip_coef = 1/(1 + 1e-6) < 1 scales, as torch
    const h = new Float64Array([0.6, 0.8]);
    assert.ok(clipGradNorm(h, 1).scale < 1);
    const z = new Float64Array(3);
    assert.deepEqual(clipGradNorm(z, 1), { totalNorm: 0, scale: 1 });
  });

  it("leaves non-finite gradients untouched and reports the norm", () => {
    const g = new Float64Array([3, NaN, 4]);
    const r = clipGradNorm(g, 1);
    assert.ok(Number.isNaN(r.totalNorm));
    assert.equal(r.scale, 1);
    assert.equal(g[0], 3);
    const h = new Float32Array([3, -Infinity, 4]);
    const s = clipGradNorm(h, 1);
    assert.equal(s.totalNorm, Infinity);
    assert.deepEqual(Array.from(h), [3, -Infinity, 4]);
  });

  it("does not overflow for huge finite float64 gradients", () => {
    const g = new Float64Array([3e200, 4e200]);
    assert.ok(rel(gradNorm(g), 5e200) <= 1e-15);
    const { scale } = clipGradNorm(g, 1);
    assert.ok(rel(scale, 1 / 5e200) <= 1e-15);
    assert.ok(rel(gradNorm(g), 1) <= 1e-15);
  });

  it("rejects a bad maxNorm or eps", () => {
    const g = new Float64Array(2);
    for (const m of [0, -1, NaN, Infinity])
      assert.throws(
        () => clipGradNorm(g, m),
        (e: unknown) => e instanceof ConfigError && e.field === "maxNorm",
      );
    assert.throws(
      () => clipGradNorm(g, 1, -1e-6),
      (e: unknown) => e instanceof ConfigError && e.field === "eps",
    );
  });
});

describe("clipGradValue", () => {
  it("clamps to [-clipValue, clipValue] as clip_grad_value_", () => {
    const g = new Float64Array([-3, -0.5, 0, 0.5, 2, NaN]);
    assert.equal(clipGradValue(g, 1), 2);
    assert.deepEqual(Array.from(g).slice(0, 5), [-1, -0.5, 0, 0.5, 1]);
    assert.ok(Number.isNaN(g[5]));
    const h = new Float32Array([0.25, -7]);
    clipGradValue(h, 0.1);
    assert.deepEqual(Array.from(h), [Math.fround(0.1), Math.fround(-0.1)]);
  });

  it("rejects a bad clipValue", () => {
    for (const v of [0, -1, NaN, Infinity])
      assert.throws(
        () => clipGradValue(new Float64Array(1), v),
        (e: unknown) => e instanceof ConfigError && e.field === "clipValue",
      );
  });
});
