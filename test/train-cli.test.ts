/** Training from the command line as a user runs it: determinism, exact resume, bad input. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT, runCli } from "./helpers.js";

const AIR = join(ROOT, "data/airpassengers.csv");
const TEXT = join(ROOT, "data/austen_pride_and_prejudice.txt");
const tmp = mkdtempSync(join(tmpdir(), "lstm-train-"));

function sha(model: string): string {
  const r = runCli(["info", "--json", model]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).paramsSha256;
}

const series = (out: string, ...extra: string[]): string[] => [
  "train-series", AIR, "--column", "passengers_thousands", "--horizon", "6", "--seq-len", "12",
  "--hidden", "8", "--batch", "8", "--eval-every", "10", "--quiet", "--out", out, ...extra,
]; // prettier-ignore

/** The training arguments writing to `out`, with more flags. */
type TrainArgs = (out: string, ...extra: string[]) => string[];

/**
 * Trains `total` steps in one run, and in two: `cut` steps with a checkpoint, then --resume with
 * the arguments `resume` builds; asserts both give the same parameters. Returns the one-run model.
 */
function resumesExactly(
  name: string,
  [cut, total]: [number, number],
  run: TrainArgs,
  resume: TrainArgs = run,
): string {
  const full = join(tmp, `${name}-full.safetensors`);
  const half = join(tmp, `${name}-half.safetensors`);
  const ck = join(tmp, `${name}.ckpt`);
  const ok = (args: string[]): void => {
    const r = runCli(args);
    assert.equal(r.status, 0, `${args.join(" ")}\n${r.stderr}`);
  };
  ok(run(full, "--steps", String(total)));
  ok(run(half, "--steps", String(cut), "--checkpoint", ck));
  assert.ok(existsSync(ck));
  ok(resume(half, "--steps", String(total), "--resume", ck));
  assert.equal(sha(half), sha(full));
  return full;
}

test("the same seed twice gives the same paramsSha256; another seed differs", () => {
  const a = join(tmp, "a.safetensors");
  const b = join(tmp, "b.safetensors");
  const c = join(tmp, "c.safetensors");
  for (const [out, seed] of [
    [a, "5"],
    [b, "5"],
    [c, "6"],
  ]) {
    const r = runCli(series(out, "--steps", "30", "--seed", seed));
    assert.equal(r.status, 0, r.stderr);
  }
  assert.equal(sha(a), sha(b));
  assert.notEqual(sha(a), sha(c));
  const info = JSON.parse(runCli(["info", "--json", a]).stdout);
  assert.equal(info.task, "series");
  assert.equal(info.numParams, 4 * 8 * (1 + 8) + 8 * 8 + 6 * 8 + 6);
  assert.equal(info.training.steps, 30);
  assert.match(info.paramsSha256, /^[0-9a-f]{64}$/);
});

test("2N steps equal N steps, a checkpoint, and N more after --resume (series and text)", () => {
  const seeded = (out: string, ...extra: string[]) => series(out, "--seed", "9", ...extra);
  resumesExactly("series", [20, 40], seeded, series);

  // Text: the carried LSTM state and the window position travel in the checkpoint.
  const text = (out: string, ...extra: string[]): string[] => [
    "train-text", TEXT, "--hidden", "8", "--seq-len", "8", "--batch", "4", "--eval-every", "5",
    "--sample-every", "0", "--valid-fraction", "0.001", "--quiet", "--out", out, ...extra,
  ]; // prettier-ignore
  resumesExactly("text", [7, 12], text);
});

test("--cell gru: series and text runs resume exactly; the files say GRU; forecast, sample, eval run", () => {
  const gru = (out: string, ...extra: string[]) =>
    series(out, "--cell", "gru", "--seed", "4", ...extra);
  const full = resumesExactly("gru-series", [15, 30], gru, series); // the cell comes from the checkpoint
  const info = JSON.parse(runCli(["info", "--json", full]).stdout);
  assert.equal(info.config.cell, "gru");
  assert.equal(info.numParams, 3 * 8 * (1 + 8) + 6 * 8 + 6 * 8 + 6);
  assert.ok(info.paramOrder.includes("gru.weight_hh_l0"));
  const fc = runCli(["forecast", full, AIR]);
  assert.equal(fc.status, 0, fc.stderr);

  const text = (out: string, ...extra: string[]): string[] => [
    "train-text", TEXT, "--cell", "gru", "--hidden", "8", "--seq-len", "8", "--batch", "4",
    "--eval-every", "5", "--sample-every", "0", "--valid-fraction", "0.001", "--quiet", "--out", out, ...extra,
  ]; // prettier-ignore
  const tFull = resumesExactly("gru-text", [7, 12], text);
  const sample = runCli(["sample", tFull, "--length", "20", "--seed", "1"]);
  assert.equal(sample.status, 0, sample.stderr);
  assert.ok(sample.stdout.length >= 20);
  const ev = runCli(["eval", tFull, TEXT]);
  assert.equal(ev.status, 0, ev.stderr);
  const report = join(tmp, "gru.html");
  const rep = runCli(["report", tFull, "--out", report]);
  assert.equal(rep.status, 0, rep.stderr);
  assert.match(readFileSync(report, "utf8"), /reset gate r/);
});

test("resume refuses a different data file", () => {
  const ck = join(tmp, "other.ckpt");
  assert.equal(
    runCli(series(join(tmp, "o.safetensors"), "--steps", "5", "--checkpoint", ck)).status,
    0,
  );
  const co2 = join(ROOT, "data/co2_monthly_mauna_loa.csv");
  const r = runCli([
    "train-series",
    co2,
    "--column",
    "passengers_thousands",
    "--resume",
    ck,
    "--steps",
    "10",
  ]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /different data|not found/);
});

test("bad input gives one clear message, exit 1, no stack trace, and leaves an existing model alone", () => {
  const out = join(tmp, "keep.safetensors");
  writeFileSync(out, "precious");
  const csv = join(tmp, "bad.csv");
  const cases: [string[], RegExp][] = [
    [
      ["train-text", join(tmp, "missing.txt"), "--steps", "1"],
      /cannot read .*missing\.txt: no such file/,
    ],
    [["train-text", join(tmp, "empty.txt"), "--steps", "1"], /empty corpus/],
    [["train-text", join(tmp, "binary.bin"), "--steps", "1"], /not a text file/],
    [
      ["train-series", AIR, "--column", "passengers", "--steps", "1"],
      /column 'passengers' not found.*available: month, passengers_thousands/,
    ],
    [
      ["train-series", csv, "--column", "v", "--steps", "1"],
      /line 3, column 'v': 'abc' is not a number/,
    ],
    [
      ["train-series", AIR, "--column", "passengers_thousands", "--seq-len", "200", "--steps", "1"],
      /training part has 100 rows/,
    ],
    [
      ["train-series", AIR, "--column", "passengers_thousands", "--lr", "abc", "--steps", "1"],
      /--lr must be a number/,
    ],
    [["train-text", TEXT], /give a budget/],
  ];
  writeFileSync(join(tmp, "empty.txt"), "");
  writeFileSync(
    join(tmp, "binary.bin"),
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13, 0xff, 0xfe]),
  );
  writeFileSync(csv, "t,v\n1,2.5\n2,abc\n3,4\n");
  for (const [args, message] of cases) {
    const r = runCli([...args, "--out", out, "--quiet"]);
    assert.notEqual(r.status, 0, args.join(" "));
    assert.match(r.stderr, message, args.join(" "));
    assert.doesNotMatch(
      r.stderr,
      /at .*\.js:\d+|Error: /,
      `stack trace for ${args.join(" ")}:\n${r.stderr}`,
    );
  }
  assert.equal(readFileSync(out, "utf8"), "precious");
});

test("info rejects a corrupt model file", () => {
  const bad = join(tmp, "corrupt.safetensors");
  writeFileSync(bad, Uint8Array.from([255, 255, 255, 255, 255, 255, 255, 0, 1, 2]));
  const r = runCli(["info", bad]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /corrupt\.safetensors: .*header/);
});

test("a checkpoint with corrupt metadata is rejected with a clear message", async () => {
  const { decodeSafetensors, encodeSafetensors } = await import("../src/io/safetensors.js");
  const ck = join(tmp, "good.ckpt");
  assert.equal(
    runCli(series(join(tmp, "g.safetensors"), "--steps", "3", "--checkpoint", ck)).status,
    0,
  );
  const { metadata, tensors } = decodeSafetensors(readFileSync(ck), ck);
  const list = [...tensors].map(([name, t]) => ({
    name,
    dtype: t.dtype,
    shape: t.shape,
    data: t.data,
  }));
  for (const [key, value, message] of [
    ["trainer", "{}", /bad-trainer\.ckpt: trainer\.step: missing/],
    ["trainer", "[1, 2]", /trainer: expected Object, got \[1,2\]/],
    ["run", "null", /run: expected Object, got null/],
    [
      "optimizer",
      '{"kind": "lion", "stepCount": 3}',
      /optimizer\.kind: expected one of "sgd", .*got "lion"/,
    ],
  ] as const) {
    const bad = join(tmp, `bad-${key}.ckpt`);
    writeFileSync(bad, encodeSafetensors(list as never, { ...metadata, [key]: value }));
    const r = runCli(series(join(tmp, "r.safetensors"), "--resume", bad, "--steps", "6"));
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  // A stored option of the wrong type (a hostile or damaged checkpoint) is named, not a TypeError.
  const run = JSON.parse(metadata.run);
  const badColumn = join(tmp, "bad-column.ckpt");
  const hostile = JSON.stringify({ ...run, options: { ...run.options, column: 5 } });
  writeFileSync(badColumn, encodeSafetensors(list as never, { ...metadata, run: hostile }));
  const col = runCli(series(join(tmp, "r.safetensors"), "--resume", badColumn, "--steps", "6"));
  assert.equal(col.status, 1, col.stderr);
  assert.match(col.stderr, /bad-column\.ckpt: run\.options\.column: expected string, got 5/);
  // A checkpoint of another task: one line naming the file, not a stack trace.
  const other = runCli(["train-text", TEXT, "--resume", ck, "--steps", "6", "--quiet", "--out", join(tmp, "t.safetensors")]); // prettier-ignore
  assert.equal(other.status, 1, other.stderr);
  assert.match(
    other.stderr,
    /good\.ckpt: task: a checkpoint of a series model cannot resume a text run/,
  );
  assert.doesNotMatch(other.stderr, /\n\s+at /);
});
