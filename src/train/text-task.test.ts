import assert from "node:assert/strict";
import { test } from "node:test";
import { LstmModel } from "../model/model.js";
import { Rng } from "../tensor/rng.js";
import { Vocab } from "../data/text.js";
import { streamCrossEntropy } from "./text-task.js";

test("streamed cross-entropy: windows with the state carried (and the short last one) equal one long window", () => {
  const text =
    "It is a truth universally acknowledged, that a single man in possession of a good fortune.";
  const vocab = Vocab.fromText(text);
  const ids = vocab.encode(text);
  const m = new LstmModel(
    { inputSize: vocab.size, hiddenSize: 6, outputSize: vocab.size },
    { dtype: "float64" },
  );
  m.initDefault(new Rng(3));
  const whole = streamCrossEntropy(m, ids, 1, ids.length - 1)!;
  for (const T of [1, 7, 16, 50]) {
    const windows = streamCrossEntropy(m, ids, 1, T)!;
    assert.ok(Math.abs(windows - whole) < 1e-12, `T=${T}: ${windows} vs ${whole}`);
  }
  assert.equal(streamCrossEntropy(m, ids.subarray(0, 1), 1, 8), null);
});
