import assert from "node:assert/strict";
import { test } from "node:test";
import { rowLengths } from "../backend/kernels.js";
import { stepPlan } from "./cell.js";

test("stepPlan carries the layer's sizes, lengths and the direction", () => {
  const rows = rowLengths(Int32Array.from([3, 1]), 3);
  const dims = { T: 3, B: 2, I: 5, H: 4, rows };
  const d = { reverse: true, wIh: 0, wHh: 0, bIh: 0, bHh: 0 };
  assert.deepEqual(stepPlan(dims, d), { T: 3, B: 2, H: 4, reverse: true, rows });
  assert.deepEqual(stepPlan({ ...dims, rows: null }, { ...d, reverse: false }), {
    ...{ T: 3, B: 2, H: 4 },
    ...{ reverse: false, rows: null },
  });
});
