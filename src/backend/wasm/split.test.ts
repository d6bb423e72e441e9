import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import {
  bounds,
  gemmAxis,
  slices,
  stepChunk,
  ThreadPlanner,
  wasmThreadSettings,
  type PoolState,
} from "./split.js";

/** Every [lo, hi) of a split, in order: they must tile [0, total) without gaps or overlaps. */
function tiles(parts: number, total: number, unit: number): [number, number][] {
  return Array.from({ length: parts }, (_, p) => bounds(p, parts, total, unit));
}

describe("bounds", () => {
  test("parts tile the range in multiples of the unit, the last taking the remainder", () => {
    for (const total of [1, 7, 8, 9, 33, 100, 1000])
      for (const unit of [1, 4, 8, 16])
        for (let parts = 1; parts <= Math.min(8, Math.ceil(total / unit)); parts++) {
          const t = tiles(parts, total, unit);
          assert.equal(t[0][0], 0);
          assert.equal(t[parts - 1][1], total);
          for (let p = 0; p < parts; p++) {
            if (p > 0) assert.equal(t[p][0], t[p - 1][1], "contiguous");
            assert.ok(t[p][1] > t[p][0], `part ${p} of ${parts} over ${total}/${unit} is empty`);
            if (p < parts - 1) assert.equal(t[p][1] % unit, 0, "cut on a unit boundary");
          }
        }
  });

  test("an even split", () => {
    assert.deepEqual(tiles(4, 16, 4), [
      [0, 4],
      [4, 8],
      [8, 12],
      [12, 16],
    ]);
    assert.deepEqual(tiles(2, 10, 4), [
      [0, 8],
      [8, 10],
    ]);
  });
});

describe("gemm split", () => {
  test("rows of C in multiples of 4 when M ≥ N, columns in multiples of 8 otherwise", () => {
    assert.deepEqual(gemmAxis(100, 50), { byRows: true, unit: 4, total: 100, across: 50 });
    assert.deepEqual(gemmAxis(64, 64), { byRows: true, unit: 4, total: 64, across: 64 });
    assert.deepEqual(gemmAxis(3, 50), { byRows: false, unit: 8, total: 50, across: 3 });
  });

  test("slices carry the whole other axis", () => {
    assert.deepEqual(slices(gemmAxis(10, 3), 2), [
      [0, 8, 0, 3],
      [8, 10, 0, 3],
    ]);
    assert.deepEqual(slices(gemmAxis(2, 20), 2), [
      [0, 2, 0, 16],
      [0, 2, 16, 20],
    ]);
    assert.deepEqual(slices(gemmAxis(5, 3), 1), [[0, 5, 0, 3]], "one part: all of C");
  });
});

test("stepChunk: two chunks per thread, multiples of 4 rows from 8 up", () => {
  assert.equal(stepChunk(64, 2), 16);
  assert.equal(stepChunk(100, 3), 20); // 17 → 20
  assert.equal(stepChunk(10, 2), 3); // below 8 rows: as is
  assert.equal(stepChunk(1, 4), 1);
  for (const B of [1, 5, 31, 64, 257])
    for (let parts = 1; parts <= 8; parts++) {
      const c = stepChunk(B, parts);
      assert.ok(c >= 1 && Math.ceil(B / c) >= Math.min(B, parts), `${B} rows on ${parts}`);
    }
});

/** A pool of `threads` threads whose workers are awake or asleep; counts wake() calls. */
function fakePool(threads: number, awake: boolean): PoolState & { wakes: number } {
  const pool = {
    wakes: 0,
    available: () => threads,
    awake: () => awake,
    wake: () => void pool.wakes++,
  };
  return pool;
}

describe("ThreadPlanner", () => {
  const saved = { ...wasmThreadSettings };
  afterEach(() => Object.assign(wasmThreadSettings, saved));

  test("one thread without a pool", () => {
    const p = new ThreadPlanner();
    assert.equal(p.parts(1e12, 100, "flops"), 1);
    assert.equal(p.gemmParts(1000, 1000, 1000), 1);
    assert.equal(p.splitsEachStep(1, 1024), false);
  });

  test("awake workers: parts limited by threads, units and the size per thread", () => {
    const p = new ThreadPlanner();
    p.pool = fakePool(4, true);
    const warm = wasmThreadSettings.minFlopsPerThread;
    assert.equal(p.parts(100 * warm, 100, "flops"), 4, "threads");
    assert.equal(p.parts(100 * warm, 3, "flops"), 3, "units");
    assert.equal(p.parts(2.5 * warm, 100, "flops"), 2, "size");
    assert.equal(p.parts(warm - 1, 100, "flops"), 1, "too small to split");
    const el = wasmThreadSettings.minElementsPerThread;
    assert.equal(p.parts(3 * el, 100, "elements"), 3);
    // gemm: 2·M·N·K flops over units of 4 rows or 8 columns.
    assert.equal(p.gemmParts(8, 4096, 4096), 4);
    assert.equal(p.gemmParts(8, 8, 8), 1);
    assert.equal(p.gemmParts(4, 1, 1 << 20), 1, "one unit of 4 rows");
  });

  test("sleeping workers: only a job that repays a wake-up splits; a stream of small ones wakes them", () => {
    const p = new ThreadPlanner();
    const pool = fakePool(2, false);
    p.pool = pool;
    const { minFlopsPerThread: warm, minFlopsPerThreadAsleep: asleep } = wasmThreadSettings;
    assert.equal(p.parts(2 * asleep, 100, "flops"), 2, "large enough to wake a worker");
    assert.equal(pool.wakes, 0);
    // A job worth 1/4 of a wake-up that would have split had the workers been awake.
    const job = asleep / 4;
    assert.ok(job >= 2 * warm);
    for (let i = 0; i < 3; i++) assert.equal(p.parts(job, 100, "flops"), 1);
    assert.equal(pool.wakes, 0);
    assert.equal(p.parts(job, 100, "flops"), 1);
    assert.equal(pool.wakes, 1, "the fourth woke the workers");
    for (let i = 0; i < 4; i++) p.parts(job, 100, "flops");
    assert.equal(pool.wakes, 2, "and the count starts again");
    assert.equal(p.parts(warm, 100, "flops"), 1);
  });

  test("a single sequence runs step by step only where each step's product splits", () => {
    const p = new ThreadPlanner();
    p.pool = fakePool(2, true);
    const H = Math.ceil(Math.sqrt(wasmThreadSettings.minFlopsPerThread / 4));
    assert.equal(p.splitsEachStep(1, H), true);
    assert.equal(p.splitsEachStep(2, H), false, "a batch splits by rows instead");
    assert.equal(p.splitsEachStep(1, 8), false, "too small");
    p.pool = fakePool(1, true);
    assert.equal(p.splitsEachStep(1, H), false, "no worker ready");
  });
});
