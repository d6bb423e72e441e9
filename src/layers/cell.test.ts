import assert from "node:assert/strict";
import { test } from "node:test";
import { rowLengths, stepRows } from "../backend/kernels.js";
import { rowGroups, stepPlan } from "./cell.js";

test("rowGroups: rows continuing from the previous step, then rows starting from the initial state", () => {
  assert.deepEqual(rowGroups(0, 3), [{ r0: 0, r1: 3, fromInit: true }]);
  assert.deepEqual(rowGroups(3, 3), [{ r0: 0, r1: 3, fromInit: false }]);
  assert.deepEqual(rowGroups(1, 3), [
    { r0: 0, r1: 1, fromInit: false },
    { r0: 1, r1: 3, fromInit: true },
  ]);
});

test("stepPlan carries the layer's sizes, lengths and the direction", () => {
  const rows = rowLengths(Int32Array.from([3, 1]), 3);
  const dims = { T: 3, B: 2, I: 5, H: 4, rows };
  const d = { reverse: true, wIh: 0, wHh: 0, bIh: 0, bHh: 0 };
  const plan = stepPlan(dims, d);
  assert.deepEqual(plan, { T: 3, B: 2, H: 4, reverse: true, rows });
  // Reversed with lengths [3, 1]: step 2 (t = 0) continues row 0 and starts row 1 from h0.
  const { n, cont } = stepRows(plan, 2);
  assert.deepEqual(rowGroups(cont, n), [
    { r0: 0, r1: 1, fromInit: false },
    { r0: 1, r1: 2, fromInit: true },
  ]);
});
