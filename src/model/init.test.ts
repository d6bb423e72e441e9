import assert from "node:assert/strict";
import { test } from "node:test";
import { initParams } from "./init.js";
import { LstmModel } from "./model.js";
import { Rng } from "../tensor/rng.js";

const cfg = { inputSize: 5, hiddenSize: 6, numLayers: 2, outputSize: 3 };

test("same seed, same weights; pytorch bounds are 1/sqrt(H)", () => {
  const a = new LstmModel(cfg);
  const b = new LstmModel(cfg);
  initParams(a, new Rng(3));
  initParams(b, new Rng(3));
  assert.deepEqual(a.params, b.params);
  const k = 1 / Math.sqrt(6);
  assert.ok(a.param("lstm.weight_hh_l1").every((v) => Math.abs(v) <= k));
  assert.ok(a.param("lstm.weight_hh_l1").some((v) => Math.abs(v) > 0.8 * k));
});

test("orthogonal recurrent blocks satisfy QᵀQ = I; forget bias lands in rows H:2H of bias_ih", () => {
  const m = new LstmModel(cfg, { dtype: "float64" });
  initParams(m, new Rng(5), { scheme: "xavier", recurrent: "orthogonal", forgetBias: 1 });
  const H = 6;
  const w = m.param("lstm.weight_hh_l0");
  for (let g = 0; g < 4; g++)
    for (let i = 0; i < H; i++)
      for (let j = 0; j < H; j++) {
        let dot = 0;
        for (let r = 0; r < H; r++) dot += w[g * H * H + r * H + i] * w[g * H * H + r * H + j];
        assert.ok(Math.abs(dot - (i === j ? 1 : 0)) < 1e-12);
      }
  const bih = m.param("lstm.bias_ih_l1");
  const bhh = m.param("lstm.bias_hh_l1");
  for (let j = 0; j < 4 * H; j++) {
    assert.equal(bih[j], j >= H && j < 2 * H ? 1 : 0);
    assert.equal(bhh[j], 0);
  }
  const bound = Math.sqrt(6 / (4 * H + 5));
  assert.ok(m.param("lstm.weight_ih_l0").every((v) => Math.abs(v) <= bound));
});

test("bad options are ConfigErrors", () => {
  const m = new LstmModel(cfg);
  assert.throws(() => initParams(m, new Rng(1), { scheme: "he" as never }), /init/);
  assert.throws(() => initParams(m, new Rng(1), { forgetBias: NaN }), /forgetBias/);
});
