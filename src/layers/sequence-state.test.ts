import assert from "node:assert/strict";
import { test } from "node:test";
import { addCarryToInitial, startCarry, takeLastSteps } from "./sequence-state.js";

// A [T=3, B=2, W=2] sequence with row stride 3 whose entry (t, b, j) is 100t + 10b + j.
const T = 3;
const B = 2;
const seq = new Float64Array(T * B * 3);
for (let t = 0; t < T; t++)
  for (let b = 0; b < B; b++)
    for (let j = 0; j < 2; j++) seq[(t * B + b) * 3 + j] = 100 * t + 10 * b + j;

test("takeLastSteps copies each row's last consumed step: T−1 forward, each length − 1, 0 reversed", () => {
  const out = new Float64Array(1 + B * 2);
  const at = { buf: seq, off: 0, ld: 3 };
  takeLastSteps({ buf: out, off: 1 }, at, { T, B, W: 2, reverse: false });
  assert.deepEqual([...out], [0, 200, 201, 210, 211]);
  takeLastSteps({ buf: out, off: 1 }, at, { T, B, W: 2, reverse: false, lengths: [3, 1] });
  assert.deepEqual([...out], [0, 200, 201, 10, 11]);
  takeLastSteps({ buf: out, off: 1 }, at, { T, B, W: 2, reverse: true, lengths: [3, 1] });
  assert.deepEqual([...out], [0, 0, 1, 10, 11]);
});

test("startCarry takes the loss's gradient on the final state, or zeros without one", () => {
  const carry = new Float64Array([9, 9, 9, 9]);
  startCarry({ buf: carry, off: 1 }, { buf: new Float64Array([5, 1, 2]), off: 1 }, 2);
  assert.deepEqual([...carry], [9, 1, 2, 9]);
  startCarry({ buf: carry, off: 1 }, null, 2);
  assert.deepEqual([...carry], [9, 0, 0, 9]);
});

test("addCarryToInitial accumulates into the initial state's gradient", () => {
  const dInit = new Float64Array([1, 2, 3]);
  addCarryToInitial({ buf: dInit, off: 1 }, { buf: new Float64Array([0, 0.5, 0.25]), off: 1 }, 2);
  assert.deepEqual([...dInit], [1, 2.5, 3.25]);
});
