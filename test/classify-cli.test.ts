/** `lstm train-classify`, `lstm eval` on a classifier and `lstm predict`, end to end. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "./helpers.js";

/** Two classes anyone can tell apart: words of a's and b's vs words of x's and y's. */
function toyCsv(): string {
  const rows = ["text,label"];
  let seed = 1;
  const rnd = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < 160; i++) {
    const cls = i % 2;
    const len = 2 + Math.floor(rnd() * 9);
    const chars = cls === 0 ? "ab" : "xy";
    let w = "";
    for (let j = 0; j < len; j++) w += chars[Math.floor(rnd() * 2)];
    rows.push(`${w},${cls === 0 ? "ab" : "xy"}`);
  }
  return rows.join("\n") + "\n";
}

/**
 * Trains a classifier on the toy file in a fresh directory: `lstm train-classify toy.csv` with
 * its text and label columns, `flags`, --out DIR/model --quiet (and --report DIR/report).
 */
function trainToy(files: { model: string; report?: string }, flags: string[]) {
  const dir = mkdtempSync(join(tmpdir(), "lstm-classify-"));
  const csv = join(dir, "toy.csv");
  const model = join(dir, files.model);
  writeFileSync(csv, toyCsv());
  const report = files.report ? ["--report", join(dir, files.report)] : [];
  const train = runCli([
    ...["train-classify", csv, "--text-column", "text", "--label-column", "label"],
    ...[...flags, ...report, "--out", model, "--quiet"],
  ]);
  assert.equal(train.status, 0, train.stderr);
  return { dir, csv, model };
}

test("train-classify, eval --json and predict on a toy two-class file", () => {
  const { dir, csv, model } = trainToy({ model: "toy.safetensors", report: "toy.html" }, [
    ...["--hidden", "8", "--batch", "16", "--steps", "120", "--lr", "0.03"],
    ...["--test-fraction", "0.25"],
  ]);
  const html = readFileSync(join(dir, "toy.html"), "utf8");
  assert.match(html, /<section id="classification">/);
  assert.match(html, /Confusion matrix/);
  assert.match(html, /Test split: the last 40 rows/);
  const before = readFileSync(csv, "utf8");

  const ev = runCli(["eval", model, csv, "--test-fraction", "0.25", "--json"]);
  assert.equal(ev.status, 0, ev.stderr);
  const r = JSON.parse(ev.stdout);
  for (const k of ["accuracy", "macroF1", "perClass", "confusion", "labels", "baseline"])
    assert.ok(k in r, k);
  assert.deepEqual(r.labels, ["ab", "xy"]);
  assert.equal(r.count, 40);
  assert.ok(r.accuracy >= 0.95, `accuracy ${r.accuracy}`);
  assert.ok(Math.abs(r.baseline.accuracy - 0.5) < 0.11, "the majority class is about half");
  assert.equal(
    r.confusion.flat().reduce((a: number, n: number) => a + n, 0),
    40,
  );

  const pr = runCli(["predict", model, "abba", "yxxy", "--json", "--top", "2"]);
  assert.equal(pr.status, 0, pr.stderr);
  const lines = pr.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(lines[0].labels[0].label, "ab");
  assert.equal(lines[1].labels[0].label, "xy");
  const p = lines[0].labels.reduce((a: number, l: { probability: number }) => a + l.probability, 0);
  assert.ok(Math.abs(p - 1) < 1e-9);

  // Unknown characters: an error naming the character, or dropped with --unknown skip.
  const bad = runCli(["predict", model, "abz"]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /U\+007A 'z'.*not in the vocabulary/);
  const skip = runCli(["predict", model, "abz", "--unknown", "skip", "--json"]);
  assert.equal(skip.status, 0, skip.stderr);
  assert.equal(JSON.parse(skip.stdout).labels[0].label, "ab");
  const inputs = join(dir, "inputs.txt");
  writeFileSync(inputs, "ab\n\nxyx\n");
  const file = runCli(["predict", model, "--file", inputs]);
  assert.equal(file.status, 0, file.stderr);
  assert.equal(file.stdout.trim().split("\n").length, 2);
  assert.equal(readFileSync(csv, "utf8"), before, "inputs are never written");
});

test("train-classify --embedding: token input through an embedding table (padding id 0)", () => {
  const { csv, model } = trainToy({ model: "toy.safetensors" }, [
    ...["--hidden", "8", "--embedding", "4", "--batch", "16", "--steps", "120", "--lr", "0.03"],
    ...["--test-fraction", "0.25"],
  ]);
  const ev = runCli(["eval", model, csv, "--test-fraction", "0.25", "--json"]);
  assert.equal(ev.status, 0, ev.stderr);
  assert.ok(JSON.parse(ev.stdout).accuracy >= 0.95, ev.stdout);
  const info = runCli(["info", model, "--json"]);
  assert.match(info.stdout, /embedding/);
});

test("train-classify refuses bad input with one-line errors", () => {
  const dir = mkdtempSync(join(tmpdir(), "lstm-classify-bad-"));
  const run = (content: string, extra: string[] = []) => {
    const csv = join(dir, "bad.csv");
    writeFileSync(csv, content);
    return runCli([
      ...["train-classify", csv, "--text-column", "text", "--label-column", "label"],
      ...["--steps", "1", "--out", join(dir, "m.safetensors"), "--quiet", ...extra],
    ]);
  };
  const cases: [string, RegExp][] = [
    ["", /empty|no rows|header/i],
    ["word,label\nab,x\nba,y\n", /text column 'text'/],
    ["text,label\nab,x\n,y\n", /line 3: empty sequence/],
    ["text,label\nab,x\nba,x\n", /at least 2 classes/],
  ];
  for (const [content, msg] of cases) {
    const r = run(content);
    assert.equal(r.status, 1, content + r.stderr);
    assert.match(r.stderr, msg);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});

test("train-classify with projections and every dropout (rows of different lengths) learns the toy file", () => {
  const { csv, model } = trainToy({ model: "proj.safetensors" }, [
    ...["--embedding", "8", "--hidden", "12", "--proj-size", "6", "--layers", "2"],
    ...["--bidirectional", "--dropout", "0.2", "--input-dropout", "0.1", "--output-dropout", "0.2"],
    ...["--batch", "16", "--steps", "150", "--lr", "0.03", "--test-fraction", "0.25"],
  ]);
  const info = runCli(["info", model]);
  assert.match(info.stdout, /projection P=6/);
  assert.match(
    info.stdout,
    /dropout \(training only\): input 0\.1, between layers 0\.2, output 0\.2/,
  );
  const ev = runCli(["eval", model, csv, "--test-fraction", "0.25", "--json"]);
  assert.equal(ev.status, 0, ev.stderr);
  // Evaluation never drops: two runs agree, and the toy classes are learnt.
  const again = runCli(["eval", model, csv, "--test-fraction", "0.25", "--json"]);
  assert.equal(again.stdout, ev.stdout);
  assert.ok(JSON.parse(ev.stdout).accuracy > 0.9, ev.stdout);
});
