import assert from "node:assert/strict";
import { test } from "node:test";
import {
  meanSquared,
  softmaxCrossEntropy,
  sumSquares,
  weightedSoftmaxCrossEntropy,
} from "./losses.js";
import { DataError } from "../tensor/errors.js";

test("sum of squares: ½Σ(z−y)² and dz = z − y (sign: descending dz lowers the loss)", () => {
  const dz = new Float64Array(2);
  assert.equal(sumSquares(dz, [3, -1], [1, 1]), 0.5 * (4 + 4));
  assert.deepEqual([...dz], [2, -2]);
});

test("mean squared error: mean over all entries, dz = 2(z − y)/n", () => {
  const dz = new Float64Array(4);
  assert.equal(meanSquared(dz, [1, 2, 3, 4], [0, 0, 0, 0]), 30 / 4);
  assert.deepEqual([...dz], [0.5, 1, 1.5, 2]);
});

test("softmax cross-entropy: mean −log p[target], dz = (p − onehot)/R, stable for huge logits", () => {
  const dz = new Float64Array(6);
  const loss = softmaxCrossEntropy(dz, [0, 0, 0, 1000, 0, 0], [1, 0], 2, 3);
  assert.ok(Math.abs(loss - Math.log(3) / 2) < 1e-12);
  assert.ok(Math.abs(dz[1] - (1 / 3 - 1) / 2) < 1e-12 && Math.abs(dz[0] - 1 / 6) < 1e-12);
  assert.ok(Math.abs(dz[3]) < 1e-12 && dz.every(Number.isFinite));
  assert.throws(() => softmaxCrossEntropy(dz, [0, 0, 0], [3], 1, 3), DataError);
  assert.throws(() => softmaxCrossEntropy(dz, [0, 0, 0], [0.5], 1, 3), /class index/);
});

test("class-weighted cross-entropy: the weighted mean of the rows' terms; dz by finite differences", () => {
  const z = [0.3, -1.2, 2, 1.1, 0.4, -0.7, 0, 0, 0.5];
  const targets = [2, 0, 1];
  const weights = [0.5, 2, 1];
  const shape = { rows: 3, classes: 3, weights };
  const dz = new Float64Array(9);
  const loss = weightedSoftmaxCrossEntropy(dz, z, targets, shape);
  const term = (r: number): number => {
    const row = z.slice(r * 3, r * 3 + 3);
    return Math.log(row.reduce((a, v) => a + Math.exp(v), 0)) - row[targets[r]];
  };
  const want = (1 * term(0) + 0.5 * term(1) + 2 * term(2)) / 3.5;
  assert.ok(Math.abs(loss - want) < 1e-14, `${loss} vs ${want}`);
  const eps = 1e-6;
  const scratch = new Float64Array(9);
  for (let i = 0; i < 9; i++) {
    const up = z.slice();
    const down = z.slice();
    up[i] += eps;
    down[i] -= eps;
    const fd =
      (weightedSoftmaxCrossEntropy(scratch, up, targets, shape) -
        weightedSoftmaxCrossEntropy(scratch, down, targets, shape)) /
      (2 * eps);
    assert.ok(Math.abs(fd - dz[i]) < 1e-8, `dz[${i}]`);
  }
  // Equal weights: the plain mean.
  const plain = softmaxCrossEntropy(new Float64Array(9), z, targets, 3, 3);
  const ones = { rows: 3, classes: 3, weights: [1, 1, 1] };
  assert.ok(Math.abs(weightedSoftmaxCrossEntropy(dz, z, targets, ones) - plain) < 1e-15);
  assert.throws(
    () => weightedSoftmaxCrossEntropy(dz, z, targets, { ...shape, weights: [1, -1, 1] }),
    /classWeights/,
  );
});
