import assert from "node:assert/strict";
import { test } from "node:test";
import { meanSquared, softmaxCrossEntropy, sumSquares } from "./losses.js";
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
