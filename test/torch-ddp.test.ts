/**
 * The PyTorch companion (python/lstm_ts.py) under `torchrun --nproc_per_node 2` (gloo, CPU):
 * models it trains on a bundled text, a bundled series and a bundled classification CSV (with an
 * embedding; with projection, dropout and a tied head) are read by `lstm eval`, which agrees
 * with the companion's own evaluation within 1e-5; models trained by `lstm` (text, classifier)
 * and fine-tuned by the companion (--fine-tune) come back, and models trained by the companion
 * are fine-tuned by `lstm train-* --fine-tune` and evaluate the same in both; a companion run
 * resumed from its checkpoint equals the uninterrupted run. Skipped, with a message, without torch.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT, runCli } from "./helpers.js";
import { loadModel } from "../src/node.js";
import { maxDiff } from "./numeric.js";

const COMPANION = join(ROOT, "python", "lstm_ts.py");
const tmp = mkdtempSync(join(tmpdir(), "lstm-ddp-"));

/** The first interpreter that imports torch (pyenv shims may shadow Debian's python3-torch). */
function findTorchPython(): string | null {
  for (const py of ["/usr/bin/python3", "python3"]) {
    const r = spawnSync(py, ["-c", "import torch, torch.distributed"], { encoding: "utf8" });
    if (r.status === 0) return py;
  }
  return null;
}
const PY = findTorchPython();
const skip = PY === null ? "no python3 with torch (apt-get install python3-torch)" : false;

function py(args: string[]): string {
  const r = spawnSync(PY!, args, { cwd: tmp, encoding: "utf8", timeout: 300_000 });
  assert.equal(r.status, 0, `${args.join(" ")}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * torchrun with two processes. `--redirects 2 --tee 2`: Debian's torch 1.13 on Python 3.11 cannot
 * parse the default "0" (its Std enum lookup returns None); stderr goes to log files and the
 * console, which works on every version.
 */
function torchrun(args: string[]): void {
  // A port the kernel says is free now, not torchrun's fixed 29500: another run of this test
  // (a second checkout, a parallel CI job) may hold that one.
  const port = py(["-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"]).trim(); // prettier-ignore
  py(["-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", port, "--redirects", "2", "--tee", "2", COMPANION, ...args]); // prettier-ignore
}

function ok(args: string[]): string {
  const r = runCli(args);
  assert.equal(r.status, 0, `${args.join(" ")}\n${r.stderr}`);
  return r.stdout;
}

function lastJson(out: string): Record<string, unknown> {
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

/** `lstm eval` and the companion's eval of a text model agree: characters, and loss within 1e-5. */
function assertSameTextEval(model: string): void {
  const ours = lastJson(ok(["eval", model, corpus, "--json"]));
  const theirs = lastJson(py([COMPANION, "eval", model, corpus]));
  assert.equal(ours.characters, theirs.characters);
  assert.ok(
    Math.abs((ours.loss as number) - (theirs.loss as number)) < 1e-5,
    `${ours.loss} vs ${theirs.loss}`,
  );
}

const corpus = join(tmp, "austen.txt");
writeFileSync(
  corpus,
  readFileSync(join(ROOT, "data", "austen_pride_and_prejudice.txt")).subarray(0, 6000),
);

test(
  "torchrun (2 processes) trains a character model that lstm evaluates identically",
  { skip },
  () => {
    const model = join(tmp, "ddp-text.safetensors");
    torchrun(["train-text", corpus, "--steps", "4", "--hidden", "16", "--layers", "2", "--seq-len", "16", "--batch", "4", "--out", model]); // prettier-ignore
    assertSameTextEval(model);
    const { model: m, meta } = loadModel(model);
    assert.equal(meta.task, "text");
    assert.equal((meta.training as { worldSize: number }).worldSize, 2);
    // One process with the whole batch takes the same steps as two with half each; batch 3
    // (shards of 1 and 2 rows) checks that uneven shards still average to the global mean.
    const single = join(tmp, "one-text.safetensors");
    const two = join(tmp, "two-text.safetensors");
    py([COMPANION, "train-text", corpus, "--steps", "4", "--hidden", "16", "--layers", "2", "--seq-len", "16", "--batch", "3", "--out", single]); // prettier-ignore
    torchrun(["train-text", corpus, "--steps", "4", "--hidden", "16", "--layers", "2", "--seq-len", "16", "--batch", "3", "--out", two]); // prettier-ignore
    const p1 = loadModel(single).model.params;
    const p2 = loadModel(two).model.params;
    assert.ok(maxDiff(p1, p2) < 1e-5, `1 vs 2 processes: ${maxDiff(p1, p2)}`);
    assert.ok(maxDiff(m.params, p2) > 1e-3, "batch 3 trained other weights than batch 4");
    assert.ok(ok(["sample", model, "--length", "20", "--seed", "1"]).length >= 20);
  },
);

test(
  "torchrun (2 processes) trains a forecaster (log, relative) that lstm evaluates identically",
  { skip },
  () => {
    const csv = join(ROOT, "data", "airpassengers.csv");
    const model = join(tmp, "ddp-air.safetensors");
    torchrun(["train-series", csv, "--column", "passengers_thousands", "--transform", "log", "--relative", "--horizon", "3", "--seq-len", "12", "--hidden", "8", "--batch", "8", "--steps", "4", "--out", model]); // prettier-ignore
    const ours = lastJson(ok(["eval", model, csv, "--json"]));
    const theirs = lastJson(py([COMPANION, "eval", model, csv]));
    assert.equal(ours.rowsUsed, "test");
    assert.equal(ours.windows, theirs.windows);
    for (const k of ["rmse", "mae", "mape"])
      assert.ok(
        Math.abs((ours[k] as number) - (theirs[k] as number)) < 1e-5,
        `${k}: ${ours[k]} vs ${theirs[k]}`,
      );
    ok(["forecast", model, csv, "--out", join(tmp, "air-forecast.csv")]);
    ok(["report", model, "--data", csv, "--out", join(tmp, "air.html")]);
    assert.match(readFileSync(join(tmp, "air.html"), "utf8"), /<html/i);
  },
);

test("a model trained by lstm, fine-tuned by the companion, comes back to lstm", { skip }, () => {
  const base = join(tmp, "lstm-text.safetensors");
  ok(["train-text", corpus, "--steps", "3", "--hidden", "12", "--seq-len", "16", "--batch", "4", "--quiet", "--out", base]); // prettier-ignore
  const tuned = join(tmp, "tuned.safetensors");
  torchrun(["train-text", corpus, "--fine-tune", base, "--steps", "3", "--seq-len", "16", "--batch", "4", "--out", tuned]); // prettier-ignore
  const a = loadModel(base);
  const b = loadModel(tuned);
  assert.deepEqual(b.meta.vocab, a.meta.vocab);
  assert.deepEqual(b.model.config, a.model.config);
  assert.notDeepEqual(
    Array.from(b.model.params),
    Array.from(a.model.params),
    "fine-tuning moved the weights",
  );
  const ours = lastJson(ok(["eval", tuned, corpus, "--json"]));
  const theirs = lastJson(py([COMPANION, "eval", tuned, corpus]));
  assert.ok(Math.abs((ours.loss as number) - (theirs.loss as number)) < 1e-5);
  // The companion reads and rewrites an lstm file byte for byte (names, order, metadata, padding).
  const copy = join(tmp, "copy.safetensors");
  const script = `import sys; sys.path.insert(0, sys.argv[1]); import lstm_ts; lstm_ts.write_model(sys.argv[3], *lstm_ts.read_model(sys.argv[2]))`;
  py(["-c", script, join(ROOT, "python"), base, copy]);
  assert.ok(readFileSync(copy).equals(readFileSync(base)), "byte-identical rewrite");
  // And the untouched lstm model reads the same in PyTorch.
  const before = lastJson(py([COMPANION, "eval", base, corpus]));
  assert.ok(
    Math.abs(
      (lastJson(ok(["eval", base, corpus, "--json"])).loss as number) - (before.loss as number),
    ) < 1e-5,
  );
});

// The first 400 rows of the bundled word → language CSV (4 classes; the last 80 are the test part).
const words = join(tmp, "words.csv");
writeFileSync(
  words,
  readFileSync(join(ROOT, "data", "word_language_4.csv"), "utf8")
    .split("\n")
    .slice(0, 401)
    .join("\n") + "\n",
);
const CLASSIFY = ["--text-column", "word", "--label-column", "language", "--test-fraction", "0.2", "--valid-fraction", "0.2", "--seed", "3"]; // prettier-ignore

/** softmax(logits) of every row of `csv` by the companion (its own reader, encoder and module). */
function companionProbabilities(model: string, csv: string): number[][] {
  const script = `import sys, json, torch; sys.path.insert(0, sys.argv[1]); import lstm_ts
m, info = lstm_ts.read_model(sys.argv[2]); m.eval()
args = type("A", (), {"file": sys.argv[3], "test_fraction": None, "unknown": "skip"})
z = []; lstm_ts.evaluate_classifier(m, info, args, z)
print(json.dumps(torch.softmax(z[0], 1).tolist()))`;
  return JSON.parse(py(["-c", script, join(ROOT, "python"), model, csv])) as number[][];
}

/** `lstm predict --json` probabilities of every row, in class order. */
function lstmProbabilities(model: string, csv: string, classes: string[]): number[][] {
  const inputs = join(tmp, "inputs.txt");
  const rows = readFileSync(csv, "utf8").trim().split("\n").slice(1);
  writeFileSync(inputs, rows.map((r) => r.split(",")[0]).join("\n") + "\n");
  const out = ok(["predict", model, "--file", inputs, "--json", "--unknown", "skip", "--top", String(classes.length)]); // prettier-ignore
  return out
    .trim()
    .split("\n")
    .map((line) => {
      const labels = (JSON.parse(line) as { labels: { label: string; probability: number }[] })
        .labels;
      return classes.map((c) => labels.find((l) => l.label === c)!.probability);
    });
}

function assertSameClassifierEval(model: string): void {
  const ours = lastJson(ok(["eval", model, words, "--json", "--unknown", "skip", "--test-fraction", "0.2"])); // prettier-ignore
  const theirs = lastJson(py([COMPANION, "eval", model, words, "--unknown", "skip", "--test-fraction", "0.2"])); // prettier-ignore
  for (const k of ["rowsUsed", "count", "labels", "confusion", "baseline"])
    assert.deepEqual(theirs[k], ours[k], k);
  for (const k of ["accuracy", "macroF1"])
    assert.ok(Math.abs((ours[k] as number) - (theirs[k] as number)) < 1e-5, k);
  const classes = ours.labels as string[];
  const p = lstmProbabilities(model, words, classes);
  const q = companionProbabilities(model, words);
  assert.equal(p.length, 400);
  assert.ok(maxDiff(p.flat(), q.flat()) < 1e-5, `probabilities: ${maxDiff(p.flat(), q.flat())}`);
}

test(
  "torchrun (2 processes) trains a classifier with an embedding that lstm evaluates identically",
  { skip },
  () => {
    const model = join(tmp, "ddp-words.safetensors");
    // Batch 15: shards of 7 and 8 rows, and a last batch per epoch of 11.
    torchrun(["train-classify", words, ...CLASSIFY, "--embedding", "8", "--hidden", "12", "--batch", "15", "--steps", "4", "--quiet", "--out", model]); // prettier-ignore
    const { model: m, meta } = loadModel(model);
    assert.equal(meta.task, "classify");
    assert.deepEqual(meta.input, { kind: "embedding" });
    const vocab = (meta.classifier as { vocab: string[] }).vocab;
    assert.deepEqual(m.config.embedding, { numEmbeddings: vocab.length + 1, paddingIdx: 0 });
    assert.equal((meta.training as { worldSize: number }).worldSize, 2);
    assertSameClassifierEval(model);
    // The same split, vocabulary and classes as lstm train-classify with these options (the
    // companion draws the validation rows with a port of lstm's generator).
    const ref = join(tmp, "lstm-words-ref.safetensors");
    ok(["train-classify", words, ...CLASSIFY, "--hidden", "4", "--batch", "15", "--steps", "1", "--quiet", "--out", ref]); // prettier-ignore
    assert.deepEqual(meta.classifier, loadModel(ref).meta.classifier);
    // One process with the whole batch takes the same steps as two with 7 and 8 rows.
    const single = join(tmp, "one-words.safetensors");
    py([COMPANION, "train-classify", words, ...CLASSIFY, "--embedding", "8", "--hidden", "12", "--batch", "15", "--steps", "4", "--quiet", "--out", single]); // prettier-ignore
    const d = maxDiff(loadModel(single).model.params, m.params);
    assert.ok(d < 1e-5, `1 vs 2 processes: ${d}`);
  },
);

test(
  "a companion model with projection, dropout and a tied head loads in lstm with the same loss",
  { skip },
  () => {
    const model = join(tmp, "ddp-proj.safetensors");
    torchrun(["train-text", corpus, "--embedding", "8", "--hidden", "16", "--proj-size", "8", "--tie-weights", "--layers", "2", "--dropout", "0.2", "--input-dropout", "0.1", "--output-dropout", "0.1", "--seq-len", "16", "--batch", "4", "--steps", "4", "--optimizer", "adamw", "--schedule", "cosine", "--warmup", "1", "--quiet", "--out", model]); // prettier-ignore
    const { model: m, meta } = loadModel(model);
    assert.deepEqual(meta.input, { kind: "embedding" });
    assert.equal(m.config.projSize, 8);
    assert.equal(m.config.tiedHead, true);
    assert.deepEqual(m.config.dropout, { input: 0.1, betweenLayers: 0.2, output: 0.1 });
    assert.ok(!m.paramNames().includes("head.weight"), "the tied head is stored once");
    assertSameTextEval(model);
    assert.ok(ok(["sample", model, "--length", "20", "--seed", "1"]).length >= 20);
    // lstm's own model with the same features: the companion reads and rewrites it byte for byte.
    const base = join(tmp, "lstm-proj.safetensors");
    ok(["train-text", corpus, "--embedding", "8", "--hidden", "16", "--proj-size", "8", "--tie-weights", "--dropout", "0.2", "--layers", "2", "--seq-len", "16", "--batch", "4", "--steps", "2", "--quiet", "--out", base]); // prettier-ignore
    const copy = join(tmp, "proj-copy.safetensors");
    const script = `import sys; sys.path.insert(0, sys.argv[1]); import lstm_ts; lstm_ts.write_model(sys.argv[3], *lstm_ts.read_model(sys.argv[2]))`;
    py(["-c", script, join(ROOT, "python"), base, copy]);
    assert.ok(readFileSync(copy).equals(readFileSync(base)), "byte-identical rewrite");
  },
);

test(
  "a classifier trained by lstm, fine-tuned by the companion, comes back; a resumed run equals the whole run",
  { skip },
  () => {
    const base = join(tmp, "lstm-words.safetensors");
    ok(["train-classify", words, ...CLASSIFY, "--hidden", "8", "--bidirectional", "--batch", "16", "--steps", "3", "--quiet", "--out", base]); // prettier-ignore
    const tuned = join(tmp, "words-tuned.safetensors");
    torchrun(["train-classify", words, "--fine-tune", base, "--steps", "3", "--batch", "16", "--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.1", "--quiet", "--out", tuned]); // prettier-ignore
    const a = loadModel(base);
    const b = loadModel(tuned);
    assert.deepEqual(b.meta.classifier, a.meta.classifier);
    assert.deepEqual(b.model.config, a.model.config);
    assert.ok(maxDiff(a.model.params, b.model.params) > 1e-4, "fine-tuning moved the weights");
    assertSameClassifierEval(tuned);
    // A companion run of 2 steps with a checkpoint, resumed for 2 more, equals 4 steps at once
    // (optimizer moments, window order and step count come back from the checkpoint).
    const run = ["train-classify", words, ...CLASSIFY, "--hidden", "8", "--batch", "40", "--class-weights", "--quiet"]; // prettier-ignore
    const ckpt = join(tmp, "words.ckpt");
    py([COMPANION, ...run, "--steps", "2", "--checkpoint", ckpt, "--out", join(tmp, "half.safetensors")]); // prettier-ignore
    py([COMPANION, "train-classify", words, "--resume", ckpt, "--steps", "4", "--out", join(tmp, "resumed.safetensors")]); // prettier-ignore
    py([COMPANION, ...run, "--steps", "4", "--out", join(tmp, "whole.safetensors")]);
    const r = loadModel(join(tmp, "resumed.safetensors")).model.params;
    const w = loadModel(join(tmp, "whole.safetensors")).model.params;
    assert.ok(maxDiff(r, w) < 1e-6, `resumed vs whole: ${maxDiff(r, w)}`);
    assert.ok(maxDiff(r, loadModel(join(tmp, "half.safetensors")).model.params) > 1e-4);
    // The checkpoint is refused for other data, and never overwrites an input.
    const other = join(tmp, "other.csv");
    writeFileSync(other, readFileSync(words, "utf8").replace("zgarniaczki", "zgarniaczka"));
    const refused = spawnSync(PY!, [COMPANION, "train-classify", other, "--resume", ckpt, "--steps", "5"], { encoding: "utf8" }); // prettier-ignore
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /other data/);
    const clobber = spawnSync(PY!, [COMPANION, ...run, "--steps", "1", "--out", words], { encoding: "utf8" }); // prettier-ignore
    assert.equal(clobber.status, 2);
    assert.match(clobber.stderr, /refusing to overwrite/);
  },
);

test(
  "models trained by the companion are fine-tuned by lstm train-* --fine-tune and evaluate the same in both",
  { skip },
  () => {
    // Text, two processes, with an embedding, a projection and a tied head.
    const base = join(tmp, "ddp-tune-base.safetensors");
    torchrun(["train-text", corpus, "--embedding", "8", "--hidden", "16", "--proj-size", "8", "--tie-weights", "--seq-len", "16", "--batch", "4", "--steps", "3", "--quiet", "--out", base]); // prettier-ignore
    const tuned = join(tmp, "ddp-tune-lstm.safetensors");
    ok(["train-text", corpus, "--fine-tune", base, "--seq-len", "16", "--batch", "4", "--steps", "3", "--quiet", "--out", tuned]); // prettier-ignore
    const a = loadModel(base);
    const b = loadModel(tuned);
    assert.deepEqual(b.model.config, a.model.config);
    assert.deepEqual(b.meta.vocab, a.meta.vocab);
    assert.ok(maxDiff(a.model.params, b.model.params) > 1e-4, "fine-tuning moved the weights");
    assert.equal((b.meta.training as { fineTunedFrom: { file: string } }).fineTunedFrom.file, "ddp-tune-base.safetensors"); // prettier-ignore
    assertSameTextEval(tuned);
    // A classifier (one process), fine-tuned by lstm with its classes and vocabulary.
    const cbase = join(tmp, "py-words.safetensors");
    py([COMPANION, "train-classify", words, ...CLASSIFY, "--embedding", "6", "--hidden", "8", "--bidirectional", "--batch", "16", "--steps", "3", "--quiet", "--out", cbase]); // prettier-ignore
    const ctuned = join(tmp, "py-words-lstm.safetensors");
    ok(["train-classify", words, "--fine-tune", cbase, ...CLASSIFY, "--batch", "16", "--steps", "3", "--quiet", "--out", ctuned]); // prettier-ignore
    assert.deepEqual(loadModel(ctuned).meta.classifier, loadModel(cbase).meta.classifier);
    assertSameClassifierEval(ctuned);
    // The companion's --init is only the scheme: a model file there is a one-line error.
    const r = spawnSync(PY!, [COMPANION, "train-text", corpus, "--init", base, "--steps", "1"], { encoding: "utf8" }); // prettier-ignore
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /use --fine-tune/);
  },
);
