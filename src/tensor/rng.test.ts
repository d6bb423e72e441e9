import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "./rng.js";

test("same seed, same stream; different seeds differ", () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const xs = Array.from({ length: 100 }, () => a.uniform());
  assert.deepEqual(
    xs,
    Array.from({ length: 100 }, () => b.uniform()),
  );
  assert.notDeepEqual(
    xs,
    Array.from({ length: 100 }, () => c.uniform()),
  );
});

test("state round-trips exactly", () => {
  const a = new Rng(5);
  for (let i = 0; i < 17; i++) a.normal();
  const saved = a.getState();
  const next = [a.uniform(), a.normal(), a.int(10)];
  const b = new Rng(0);
  b.setState(saved);
  assert.deepEqual([b.uniform(), b.normal(), b.int(10)], next);
  assert.throws(() => b.setState([1, 2, 3]), RangeError);
});

test("uniform lies in [0, 1) with mean near 1/2; normal has mean 0 and variance 1", () => {
  const r = new Rng(9);
  let s = 0;
  let s2 = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1);
    s += u;
    const z = r.normal();
    s2 += z * z;
  }
  assert.ok(Math.abs(s / n - 0.5) < 0.01);
  assert.ok(Math.abs(s2 / n - 1) < 0.05);
});
