/**
 * `npm run bench` end to end on its smallest workload: lstm-ts (default backend), the plain SIMD
 * build and, where it loads, tfjs-wasm, each in its own process; the table and the JSON file.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const RUN = fileURLToPath(new URL("./run.js", import.meta.url));
const LIBS = "lstm-ts,lstm-ts-simd,brain.js";

interface ResultRow {
  library: string;
  status: string;
  msPerStep: number;
  times: number[];
  speedup: number;
}

test("the benchmark times lstm-ts and another library on workload C and writes its JSON", () => {
  const out = join(mkdtempSync(join(tmpdir(), "lstm-bench-")), "results.json");
  const r = spawnSync(
    process.execPath,
    [RUN, "--workload", "C", "--lib", LIBS, "--no-memory", "--timeout", "60", "--out", out],
    { encoding: "utf8", timeout: 180_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Workload C: training step, B 1, T 100, I 16, H 64/);
  assert.match(r.stdout, /lstm-ts \(wasm-relaxed\)\s+[\d.]+/);
  assert.match(r.stdout, /lstm-ts \(wasm\)\s+[\d.]+/);
  assert.match(r.stdout, /lstm-ts speed-up/);
  const json = JSON.parse(readFileSync(out, "utf8"));
  assert.equal(json.machine.cores > 0, true);
  const rows = json.results as ResultRow[];
  assert.equal(rows.length, 3, "one row per library asked for");
  const ours = rows.find((x) => x.library === "lstm-ts (wasm-relaxed)")!;
  assert.equal(ours.status, "ok");
  assert.equal(ours.times.length, 30, "every timed rep is kept");
  assert.ok(ours.msPerStep > 0 && ours.speedup === 1);
  for (const row of rows) {
    assert.equal(typeof row.library, "string");
    assert.ok(["ok", "partial", "timeout", "n/a", "skipped", "failed"].includes(row.status));
  }
  // Every library asked for has a row; the speed-ups are ratios to lstm-ts, whatever they are
  // on this machine (speed claims belong to `npm run bench`, not to a unit test).
  const brain = rows.find((x) => x.library.startsWith("brain.js"))!;
  assert.ok(brain.status === "ok" || brain.status === "partial", brain.status);
  assert.ok(
    Number.isFinite(brain.speedup) && brain.speedup > 0,
    `brain.js speed-up ${brain.speedup}`,
  );
});
