/** Test helpers for numeric comparisons: random models and inputs, error measures. */
import assert from "node:assert/strict";
import { LstmModel } from "../src/model/model.js";
import type { ModelConfigInput } from "../src/model/config.js";
import { Rng } from "../src/tensor/rng.js";

/** Two bidirectional layers: the smallest config in which a direction or layer mix-up shows. */
export const BIDI: ModelConfigInput = {
  inputSize: 3,
  hiddenSize: 4,
  numLayers: 2,
  bidirectional: true,
  outputSize: 2,
};

/** A model with default-initialised weights and biases wider than the default, so that a bias in
 * the wrong gate, direction or place shows. */
export function randomModel(cfg: ModelConfigInput, seed: number): LstmModel {
  const m = new LstmModel(cfg);
  const rng = new Rng(seed);
  m.initDefault(rng);
  for (const n of m.paramNames())
    if (n.includes("bias")) m.param(n).forEach((_, i, a) => (a[i] = rng.range(-0.5, 0.5)));
  return m;
}

/** n values uniform in [-1, 1) from a seeded generator. */
export function randomInput(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.range(-1, 1));
}

/** max|a − e| / max|e| (the denominator floored at 1e-30); the lengths must agree. */
export function scaledError(a: ArrayLike<number>, e: ArrayLike<number>): number {
  assert.equal(a.length, e.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < e.length; i++) {
    num = Math.max(num, Math.abs(a[i] - e[i]));
    den = Math.max(den, Math.abs(e[i]));
  }
  return num / Math.max(den, 1e-30);
}

/** max|a − b|; the lengths must agree. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
