/**
 * `npm run bench` end to end on its smallest workload: lstm-ts (default backend), the plain SIMD
 * build and brain.js, each in its own process; the table and the JSON file. brain.js is one of
 * the benchmark's own dependencies (bench/package.json): its checks are skipped when
 * bench/node_modules lacks it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { benchDependencyMissing } from "./deps.js";

const RUN = fileURLToPath(new URL("./run.js", import.meta.url));
const BRAIN_MISSING = benchDependencyMissing("brain.js");
const LIBS = `lstm-ts,lstm-ts-simd${BRAIN_MISSING ? "" : ",brain.js"}`;

type Row = { library: string; status: string; msPerStep: number; times: number[]; speedup: number }; // prettier-ignore
let rows: Row[] = [];

test("--help prints the usage; an unknown flag is one line and exit 2, as the lstm CLI", () => {
  const help = spawnSync(process.execPath, [RUN, "--help"], { encoding: "utf8", timeout: 60_000 });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: node dist\/bench\/run\.js \[options\]/);
  assert.match(help.stdout, /--workload <A,B,…>/);
  for (const args of [["--bogus"], ["--workload", "Q"]]) {
    const r = spawnSync(process.execPath, [RUN, ...args], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, "", "nothing runs");
    assert.match(r.stderr, /^error: .+\n\(run with --help for usage\)\n$/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});

test("the benchmark times lstm-ts (and brain.js) on workload C and writes its JSON", () => {
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
  rows = json.results as Row[];
  assert.equal(rows.length, LIBS.split(",").length, "one row per library asked for");
  const ours = rows.find((x) => x.library === "lstm-ts (wasm-relaxed)")!;
  assert.equal(ours.status, "ok");
  assert.equal(ours.times.length, 30, "every timed rep is kept");
  assert.ok(ours.msPerStep > 0 && ours.speedup === 1);
  for (const row of rows) {
    assert.equal(typeof row.library, "string");
    assert.ok(["ok", "partial", "timeout", "n/a", "skipped", "failed"].includes(row.status));
  }
});

// The speed-ups are ratios to lstm-ts, whatever they are on this machine (speed claims belong to
// `npm run bench`, not to a unit test): only that brain.js ran and has a finite ratio.
test("--gru C adds a GRU table for workload C, its own lstm-ts row the baseline", () => {
  const out = join(mkdtempSync(join(tmpdir(), "lstm-bench-")), "results.json");
  const args = ["--workload", "C", "--gru", "C", "--lib", "lstm-ts", "--no-memory", "--out", out];
  const r = spawnSync(process.execPath, [RUN, ...args], { encoding: "utf8", timeout: 180_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Workload C \(GRU\): training step/);
  assert.match(r.stdout, /lstm-ts \(GRU, wasm-relaxed\)\s+[\d.]+/);
  const gru = (JSON.parse(readFileSync(out, "utf8")).results as (Row & { cell: string })[]).filter(
    (x) => x.cell === "gru",
  );
  assert.equal(gru.length, 1);
  assert.equal(gru[0].status, "ok");
  assert.equal(gru[0].speedup, 1);
});

test("brain.js is timed on the same workload", { skip: BRAIN_MISSING }, () => {
  const brain = rows.find((x) => x.library.startsWith("brain.js"))!;
  assert.ok(brain.status === "ok" || brain.status === "partial", brain.status);
  assert.ok(
    Number.isFinite(brain.speedup) && brain.speedup > 0,
    `brain.js speed-up ${brain.speedup}`,
  );
});
