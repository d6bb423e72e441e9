import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, NonFiniteError, ShapeError } from "../tensor/errors.js";
import {
  argmaxRows,
  classificationMetrics,
  confusionMatrix,
  majorityClass,
  softmaxInto,
  topK,
} from "./metrics.js";

const near = (a: number, b: number, tol = 1e-12): void =>
  assert.ok(Math.abs(a - b) <= tol, `${a} is not ${b}`);

test("scikit-learn's f1_score example: macro-F1 0.2667, per-class precision/recall/F1/support", () => {
  // sklearn.metrics.f1_score docs: y_true = [0, 1, 2, 0, 1, 2], y_pred = [0, 2, 1, 0, 0, 1]
  // → macro 0.26666…, per class [0.8, 0, 0]; accuracy 2/6.
  const m = classificationMetrics({
    truth: [0, 1, 2, 0, 1, 2],
    predicted: [0, 2, 1, 0, 0, 1],
    labels: ["a", "b", "c"],
  });
  near(m.accuracy, 2 / 6);
  near(m.macroF1, 0.8 / 3);
  assert.deepEqual(
    m.perClass.map((s) => s.label),
    ["a", "b", "c"],
  );
  near(m.perClass[0].precision, 2 / 3);
  near(m.perClass[0].recall, 1);
  near(m.perClass[0].f1, 0.8);
  assert.deepEqual(
    m.perClass.map((s) => s.support),
    [2, 2, 2],
  );
  assert.equal(m.perClass[1].f1, 0);
  assert.deepEqual(m.confusion, [
    [2, 0, 0],
    [1, 0, 1],
    [0, 2, 0],
  ]);
  assert.equal(m.count, 6);
  // JSON shape of `lstm eval --json`.
  const json = JSON.parse(JSON.stringify(m)) as Record<string, unknown>;
  for (const key of ["accuracy", "macroF1", "perClass", "confusion", "labels"])
    assert.ok(key in json, key);
});

test("macro-F1 skips classes absent from both truth and predictions; never-predicted class has precision 0", () => {
  const m = classificationMetrics({
    truth: [0, 0, 1, 1],
    predicted: [0, 0, 0, 1],
    labels: ["x", "y", "unused"],
  });
  // x: p 2/3 r 1 f1 0.8; y: p 1 r 0.5 f1 2/3; "unused" has no row and no prediction.
  near(m.macroF1, (0.8 + 2 / 3) / 2);
  assert.deepEqual(m.perClass[2], {
    label: "unused",
    precision: 0,
    recall: 0,
    f1: 0,
    support: 0,
  });
  const never = classificationMetrics({ truth: [0, 1], predicted: [0, 0], labels: ["x", "y"] });
  assert.equal(never.perClass[1].precision, 0);
  near(never.macroF1, (2 / 3 + 0) / 2);
});

test("majority-class baseline: from the reference (training) labels, or from the evaluated rows", () => {
  const truth = [0, 1, 1, 1, 2];
  const own = classificationMetrics({ truth, predicted: truth, labels: ["a", "b", "c"] });
  assert.equal(own.accuracy, 1);
  assert.equal(own.baseline.label, "b");
  near(own.baseline.accuracy, 3 / 5);
  near(own.baseline.macroF1, (0 + 0.75 + 0) / 3);
  const fromTrain = classificationMetrics({
    truth,
    predicted: truth,
    labels: ["a", "b", "c"],
    reference: [2, 2, 0],
  });
  assert.equal(fromTrain.baseline.label, "c");
  near(fromTrain.baseline.accuracy, 1 / 5);
  assert.equal(majorityClass([1, 0, 0, 1], 2), 0, "a tie goes to the lower id");
});

test("confusion matrix and metrics reject bad ids and lengths", () => {
  assert.throws(() => confusionMatrix([0, 1], [0], 2), ShapeError);
  assert.throws(() => confusionMatrix([0, 2], [0, 1], 2), ConfigError);
  assert.throws(() => confusionMatrix([0, 0.5], [0, 1], 2), ConfigError);
  assert.throws(
    () => classificationMetrics({ truth: [], predicted: [], labels: ["a", "b"] }),
    ConfigError,
  );
});

test("softmax is stable: huge logits give exact probabilities; NaN is an error", () => {
  const p = softmaxInto([1000, 1000 + Math.log(3)], 0, new Float64Array(2));
  near(p[0], 0.25);
  near(p[1], 0.75);
  const q = softmaxInto([0, -1e4, 5, 5], 2, new Float64Array(2));
  near(q[0], 0.5);
  assert.throws(() => softmaxInto([0, NaN], 0, new Float64Array(2)), NonFiniteError);
  assert.throws(() => softmaxInto([0, 1], 1, new Float64Array(2)), ShapeError);
});

test("topK: most probable first, ties to the lower id, K capped at C, probabilities sum to 1", () => {
  const labels = ["en", "es", "nl", "pl"];
  const rows = topK([0, 2, 2, -1, 5, 0, 0, 0], labels, 2);
  assert.equal(rows.length, 2);
  assert.deepEqual(
    rows[0].map((r) => r.label),
    ["es", "nl"],
  );
  const z = 1 + 2 * Math.exp(2) + Math.exp(-1);
  near(rows[0][0].probability, Math.exp(2) / z);
  assert.equal(rows[1][0].index, 0);
  near(rows[1][0].probability, Math.exp(5) / (Math.exp(5) + 3));
  const all = topK([3, 1, 2, 0], labels, 10)[0];
  assert.equal(all.length, 4);
  near(
    all.reduce((a, r) => a + r.probability, 0),
    1,
    1e-15,
  );
  assert.throws(() => topK([1, 2, 3], labels, 1), ShapeError);
  assert.throws(() => topK([1, 2, 3, 4], labels, 0), ConfigError);
});

test("argmaxRows: one class id per row, ties to the lower id", () => {
  assert.deepEqual([...argmaxRows([0, 3, 3, 9, 1, 2], 3)], [1, 0]);
  assert.throws(() => argmaxRows([0, Infinity], 2), NonFiniteError);
});
