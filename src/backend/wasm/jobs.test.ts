import assert from "node:assert/strict";
import { test } from "node:test";
import { Control, JOBS, MAX_WORKERS, readArgs, takeChunks, writeArgs } from "./jobs.js";

test("each job's kind is its index, its fields are distinct and fit the control block", () => {
  JOBS.forEach((spec, i) => {
    assert.equal(spec.kind, i);
    assert.equal(new Set(spec.fields).size, spec.fields.length, `job ${i}: a field twice`);
    assert.ok(Control.ARGS + spec.fields.length <= Control.GEN, `job ${i}: too many arguments`);
  });
});

test("what the calling thread writes, a worker reads back by the same names", () => {
  const ctrl = new Int32Array(Control.INTS);
  for (const spec of JOBS) {
    const args = Object.fromEntries(spec.fields.map((f, i) => [f, 1000 * spec.kind + i - 7]));
    writeArgs(ctrl, spec, args);
    assert.deepEqual(readArgs(ctrl, spec), args);
  }
});

test("the control block's regions do not overlap", () => {
  const W = MAX_WORKERS + 1; // worker indices 1…MAX_WORKERS (0 unused)
  const regions: [string, number, number][] = [
    ["header", 0, Control.ARGS],
    ["args", Control.ARGS, Control.GEN],
    ["gen", Control.GEN, Control.GEN + W],
    ["ready", Control.READY, Control.READY + W],
    ["awake", Control.AWAKE, Control.AWAKE + W],
    ["ranges", Control.RANGES, Control.RANGES + 4 * W],
    ["next", Control.NEXT, Control.NEXT + 1],
    ["chunk", Control.CHUNK, Control.CHUNK + 1],
  ];
  for (let i = 1; i < regions.length; i++)
    assert.equal(regions[i][1], regions[i - 1][2], `${regions[i][0]} follows ${regions[i - 1][0]}`);
  assert.equal(Control.INTS, regions[regions.length - 1][2]);
  for (const f of ["READY_COUNT", "DONE", "ERROR", "STOP", "FAILED_COUNT", "KIND"] as const)
    assert.ok(Control[f] < Control.ARGS);
});

test("takeChunks hands out every row once, in chunks, from a shared counter", () => {
  const ctrl = new Int32Array(new SharedArrayBuffer(Control.INTS * 4));
  for (const [total, chunk] of [
    [10, 3],
    [8, 8],
    [1, 4],
    [33, 4],
  ]) {
    ctrl[Control.CHUNK] = chunk;
    Atomics.store(ctrl, Control.NEXT, 0);
    const seen: [number, number][] = [];
    // Two "threads" interleaved: the first takes one chunk, then the second takes the rest.
    let first = true;
    takeChunks(ctrl, total, (lo, hi) => {
      seen.push([lo, hi]);
      if (first) {
        first = false;
        takeChunks(ctrl, total, (lo2, hi2) => seen.push([lo2, hi2]));
      }
    });
    const rows = seen.flatMap(([lo, hi]) => Array.from({ length: hi - lo }, (_, i) => lo + i));
    assert.deepEqual(
      rows.sort((a, b) => a - b),
      Array.from({ length: total }, (_, i) => i),
    );
    for (const [lo, hi] of seen) assert.ok(hi - lo <= chunk && lo % chunk === 0);
  }
});
