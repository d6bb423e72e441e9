import assert from "node:assert/strict";
import { test } from "node:test";
import { LstmModel } from "../model/model.js";
import { ConfigError } from "../tensor/errors.js";
import {
  checkTrainingMemory,
  estimateTrainingMemory,
  type TrainingShape,
} from "./memory-estimate.js";

const shape = (o: Partial<TrainingShape> = {}): TrainingShape => ({
  inputSize: 65,
  hiddenSize: 128,
  numLayers: 2,
  outputSize: 65,
  seqLen: 64,
  batch: 32,
  optimizer: "adam",
  ...o,
});

test("the parameter part matches the model's own count (weights, rollback and best copies)", () => {
  for (const s of [shape(), shape({ bidirectional: true, numLayers: 3 }), shape({ inputSize: 3, outputSize: 1 }), shape({ cell: "gru" }), shape({ cell: "gru", bidirectional: true, numLayers: 3 })]) {
    const model = new LstmModel(s);
    const e = estimateTrainingMemory(s);
    assert.equal(e.parts.parameters, 3 * 4 * model.numParams);
    assert.equal(e.parts.gradients, 4 * model.numParams);
    assert.equal(e.parts.optimizer, 2 * 4 * model.numParams); // adam: two moments
  }
}); // prettier-ignore

test("the one-hot input T·B·V is counted; the estimate grows with T, B and H", () => {
  const e = estimateTrainingMemory(shape());
  assert.equal(e.parts.inputs, 2 * 64 * 32 * 65 * 4);
  assert.ok(estimateTrainingMemory(shape({ batch: 64 })).bytes > e.bytes);
  assert.ok(estimateTrainingMemory(shape({ seqLen: 128 })).bytes > e.bytes);
  assert.ok(estimateTrainingMemory(shape({ hiddenSize: 256 })).bytes > e.bytes);
  assert.equal(estimateTrainingMemory(shape({ optimizer: "sgd" })).parts.optimizer, 0);
});

test("checkTrainingMemory refuses with the estimate and the limit, and arrays past the typed-array limit", () => {
  const e = estimateTrainingMemory(shape({ hiddenSize: 4096, batch: 65536, seqLen: 400 }));
  assert.throws(() => checkTrainingMemory(e, 2 ** 40, "hint"), (err) => err instanceof ConfigError && /would have \d+ elements/.test(err.message)); // prettier-ignore
  const big = estimateTrainingMemory(shape({ batch: 1024, seqLen: 400, hiddenSize: 512 }));
  assert.ok(big.largestArray.elements <= 2 ** 31 - 1);
  assert.throws(() => checkTrainingMemory(big, 2 ** 32, "raise --max-memory"), /needs about [\d.]+ GiB .* more than the limit of 4\.0 GiB; raise --max-memory/); // prettier-ignore
  checkTrainingMemory(estimateTrainingMemory(shape()), 2 ** 32, "hint"); // a normal run passes
});

test("a GRU's estimate counts 3H gate rows: fewer parameters, its gates array 3H wide", () => {
  const lstm = estimateTrainingMemory(shape({ inputSize: 3, seqLen: 512 }));
  const gru = estimateTrainingMemory(shape({ inputSize: 3, seqLen: 512, cell: "gru" }));
  assert.ok(gru.parts.parameters < lstm.parts.parameters);
  assert.match(gru.largestArray.name, /3H=384/);
  assert.equal(gru.largestArray.elements, 512 * 32 * 3 * 128);
});
