import assert from "node:assert/strict";
import { test } from "node:test";
import { runFuzz } from "./fuzz.js";

test("a seeded fuzz run: every mutated model, checkpoint, import, fixture, CSV and text is accepted and runs, or is rejected with a typed error", async () => {
  const report = await runFuzz({ seed: 20261130, cases: 4000, caseMs: 20_000 });
  assert.deepEqual(report.failures, []);
  const names = Object.keys(report.targets).sort();
  assert.deepEqual(names, ["checkpoint", "csv", "fixture", "keras", "series-model", "text", "text-model", "tfjs"]); // prettier-ignore
  for (const [name, s] of Object.entries(report.targets)) {
    assert.equal(s.accepted + s.rejected, 500, name);
    // Both sides are reached: some mutations still load and run, some are refused.
    assert.ok(s.accepted > 10 && s.rejected > 10, `${name}: ${JSON.stringify(s)}`);
  }
});

test("the driver reports untyped exceptions, hangs and memory past the bound, and carries on", async () => {
  const report = await runFuzz({
    seed: 1,
    cases: 5,
    caseMs: 1000,
    maxRssMb: 200 + Math.round(process.memoryUsage().rss / 2 ** 20),
    targetsModule: new URL("../test/fuzz-broken-targets.js", import.meta.url).href,
  });
  const kinds = report.failures.map((f) => `${f.target}:${f.kind}`);
  assert.ok(kinds.includes("untyped:exception"), kinds.join());
  assert.ok(kinds.includes("hang:hang"), kinds.join());
  assert.ok(kinds.includes("memory:memory"), kinds.join());
  assert.deepEqual(report.targets.typed, { accepted: 0, rejected: 1 });
  assert.deepEqual(report.targets.fine, { accepted: 1, rejected: 0 });
});
