/**
 * `lstm train-* --fine-tune MODEL`: a run starts from a model file's weights and preprocessing,
 * with fresh optimizer state; the file's architecture and preprocessing win over the defaults,
 * a typed flag that disagrees is refused, and the file is never an output.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { test } from "node:test";
import { ROOT, runCli } from "./helpers.js";
import { loadModel } from "../src/node.js";

const tmp = mkdtempSync(join(tmpdir(), "lstm-finetune-"));
const AIR = join(ROOT, "data/airpassengers.csv");

function ok(args: string[]): string {
  const r = runCli(args);
  assert.equal(r.status, 0, `${args.join(" ")}\n${r.stderr}`);
  return r.stdout;
}

/** Runs a command that must fail with exit 1 and a one-line message matching `re`. */
function refused(args: string[], re: RegExp): void {
  const r = runCli(args);
  assert.equal(r.status, 1, `${args.join(" ")}\n${r.stderr}`);
  assert.match(r.stderr, re);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
}

function paramsSha(model: string): string {
  return (JSON.parse(ok(["info", "--json", model])) as { paramsSha256: string }).paramsSha256;
}

function fileSha(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** The loss of every step event of a --json run. */
function stepLosses(out: string): number[] {
  return out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { type: string; loss?: number })
    .filter((e) => e.type === "step")
    .map((e) => e.loss!);
}

// 401 characters: the last 41 (valid fraction 0.1) are held out, the first 360 are trained on.
const chars = Array.from(readFileSync(join(ROOT, "data/austen_pride_and_prejudice.txt"), "utf8"));
const TEXT = join(tmp, "austen.txt");
writeFileSync(TEXT, chars.slice(0, 401).join(""));
const TRAIN_PART = join(tmp, "austen-train.txt");
writeFileSync(TRAIN_PART, chars.slice(0, 360).join(""));

test("train-text --fine-tune: the first step's loss is the model's eval loss on that batch (LSTM with embedding and projection)", () => {
  const base = join(tmp, "text-base.safetensors");
  ok(["train-text", TEXT, "--embedding", "8", "--hidden", "12", "--proj-size", "6", "--seq-len", "16", "--batch", "4", "--steps", "3", "--valid-fraction", "0.1", "--quiet", "--out", base]); // prettier-ignore
  // One batch row and a window of all 359 training steps: the first step reads the training
  // part as one stream from a zero state, which is what `lstm eval` does on that part.
  const tuned = join(tmp, "text-tuned.safetensors");
  const out = ok(["train-text", TEXT, "--fine-tune", base, "--batch", "1", "--seq-len", "359", "--valid-fraction", "0.1", "--steps", "2", "--sample-every", "0", "--json", "--out", tuned]); // prettier-ignore
  const [first, second] = stepLosses(out);
  const evalLoss = (JSON.parse(ok(["eval", base, TRAIN_PART, "--json"])) as { loss: number }).loss;
  assert.ok(Math.abs(first - evalLoss) < 1e-5, `first step ${first} vs eval ${evalLoss}`);
  assert.ok(second < first, `the fine-tune trains: ${second} < ${first}`);
  // A new model of the same shape starts elsewhere (so the check above can fail).
  const fresh = ok(["train-text", TEXT, "--embedding", "8", "--hidden", "12", "--proj-size", "6", "--batch", "1", "--seq-len", "359", "--valid-fraction", "0.1", "--steps", "1", "--sample-every", "0", "--json", "--out", join(tmp, "fresh.safetensors")]); // prettier-ignore
  assert.ok(Math.abs(stepLosses(fresh)[0] - evalLoss) > 1e-3);

  const a = loadModel(base);
  const b = loadModel(tuned);
  assert.deepEqual(b.model.config, a.model.config);
  assert.deepEqual(b.meta.vocab, a.meta.vocab);
  const training = b.meta.training as Record<string, unknown>;
  assert.deepEqual(training.fineTunedFrom, { file: basename(base), sha256: fileSha(base) });
  assert.equal(typeof training.finalTrainLoss, "number", "next to the training summary");
});

test("train-text --fine-tune refuses a disagreeing flag, --out = the model, --resume, --init and unknown characters; a default output is never the model", () => {
  const base = join(tmp, "gru-text.safetensors");
  ok(["train-text", TEXT, "--cell", "gru", "--embedding", "8", "--hidden", "8", "--tie-weights", "--layers", "2", "--dropout", "0.2", "--seq-len", "16", "--batch", "4", "--steps", "2", "--quiet", "--out", base]); // prettier-ignore
  const run = ["train-text", TEXT, "--fine-tune", base, "--seq-len", "16", "--batch", "4", "--steps", "1", "--quiet"]; // prettier-ignore
  refused(
    [...run, "--hidden", "16"],
    /--hidden: .*gru-text\.safetensors has 8; the command line says 16/,
  );
  refused([...run, "--cell", "lstm"], /--cell: .* has "gru"; the command line says "lstm"/);
  refused([...run, "--layers", "1"], /--layers: .* has 2; the command line says 1/);
  refused([...run, "--embedding", "4"], /--embedding: .* has 8; the command line says 4/);
  refused([...run, "--out", base], /--out: .*is the input --fine-tune/);
  refused(
    [...run, "--resume", join(tmp, "x.ckpt")],
    /--fine-tune: cannot be combined with --resume/,
  );
  refused([...run, "--init", "xavier"], /--init: initialises new weights/);
  const other = join(tmp, "other.txt");
  writeFileSync(other, "abc Zebra ✓ xyz");
  refused(["train-text", other, "--fine-tune", base, "--steps", "1", "--quiet", "--out", join(tmp, "o.safetensors")], /other\.txt: character .*'✓'|other\.txt: character .*'Z'/); // prettier-ignore
  // The same value typed again is fine; no --out: beside the model, never the model.
  const before = fileSha(base);
  const r = runCli([...run, "--hidden", "8", "--cell", "gru"]);
  assert.equal(r.status, 0, r.stderr);
  const derived = join(tmp, "gru-text.fine-tuned.safetensors");
  assert.match(
    r.stderr,
    /no --out given: the model will be saved as .*gru-text\.fine-tuned\.safetensors/,
  );
  assert.ok(existsSync(derived));
  assert.equal(fileSha(base), before, "the model file is untouched");
  // Dropout rates are training settings: the file's unless given.
  const m = loadModel(derived).model.config;
  assert.equal(m.tiedHead, true);
  assert.deepEqual(m.dropout, { input: 0, betweenLayers: 0.2, output: 0 });
  const drop = join(tmp, "gru-drop.safetensors");
  ok([...run, "--dropout", "0.5", "--output-dropout", "0.1", "--out", drop]);
  assert.deepEqual(loadModel(drop).model.config.dropout, {
    input: 0,
    betweenLayers: 0.5,
    output: 0.1,
  });
});

const seriesBase = join(tmp, "air.safetensors");
const seriesArgs = ["--column", "passengers_thousands", "--transform", "log", "--relative", "--horizon", "3", "--seq-len", "12"]; // prettier-ignore

test("train-series --fine-tune (GRU): starts from the file's weights and scaler, keeps its window; resumes exactly", () => {
  ok(["train-series", AIR, ...seriesArgs, "--cell", "gru", "--hidden", "8", "--batch", "8", "--steps", "5", "--quiet", "--out", seriesBase]); // prettier-ignore
  // A learning rate of 0: the weights come back unchanged, so they came from the file.
  const still = join(tmp, "air-lr0.safetensors");
  ok(["train-series", AIR, "--fine-tune", seriesBase, "--lr", "0", "--steps", "2", "--quiet", "--out", still]); // prettier-ignore
  assert.equal(paramsSha(still), paramsSha(seriesBase));
  const a = loadModel(seriesBase).meta.series!;
  const b = loadModel(still).meta.series!;
  for (const k of [
    "columns",
    "targetColumns",
    "horizon",
    "seqLen",
    "scaler",
    "transform",
    "relative",
  ] as const)
    // prettier-ignore
    assert.deepEqual(b[k], a[k], k);
  // The scaler is the file's even on other rows (a fresh run fits it to the data it reads).
  const head = join(tmp, "air-head.csv");
  writeFileSync(head, readFileSync(AIR, "utf8").split("\n").slice(0, 80).join("\n") + "\n");
  const part = join(tmp, "air-part.safetensors");
  ok(["train-series", head, "--fine-tune", seriesBase, "--steps", "2", "--quiet", "--out", part]);
  assert.deepEqual(loadModel(part).meta.series!.scaler, a.scaler);
  assert.notEqual(paramsSha(part), paramsSha(seriesBase));
  // 2 + 2 steps with a checkpoint and --resume equal 4 steps at once.
  const run = ["train-series", head, "--fine-tune", seriesBase, "--quiet"];
  const whole = join(tmp, "air-whole.safetensors");
  const half = join(tmp, "air-half.safetensors");
  const ck = join(tmp, "air-ft.ckpt");
  ok([...run, "--steps", "4", "--out", whole]);
  ok([...run, "--steps", "2", "--checkpoint", ck, "--out", half]);
  ok(["train-series", head, "--resume", ck, "--steps", "4", "--quiet", "--out", half]);
  assert.equal(paramsSha(half), paramsSha(whole));
});

test("train-series --fine-tune refuses a disagreeing window or horizon, a CSV without the columns, --out = the model", () => {
  const run = ["train-series", AIR, "--fine-tune", seriesBase, "--steps", "1", "--quiet"];
  refused(
    [...run, "--horizon", "6"],
    /--horizon: .*air\.safetensors has 3; the command line says 6/,
  );
  refused([...run, "--seq-len", "24"], /--seq-len: .* has 12; the command line says 24/);
  refused([...run, "--column", "month"], /--column: .* has "passengers_thousands"; the command line says "month"/); // prettier-ignore
  refused(
    [...run, "--transform", "none"],
    /--transform: .* has "log"; the command line says "none"/,
  );
  refused([...run, "--out", seriesBase], /--out: .*is the input --fine-tune/);
  refused(["train-text", TEXT, "--fine-tune", seriesBase, "--steps", "1"], /air\.safetensors: is a series model, not a text model/); // prettier-ignore
  const renamed = join(tmp, "renamed.csv");
  writeFileSync(renamed, readFileSync(AIR, "utf8").replace("passengers_thousands", "pax"));
  refused(["train-series", renamed, "--fine-tune", seriesBase, "--steps", "1", "--out", join(tmp, "r.safetensors")], /column 'passengers_thousands' not found in .*renamed\.csv/); // prettier-ignore
});

// The first 300 rows of the bundled word → language CSV.
const WORDS = join(tmp, "words.csv");
writeFileSync(
  WORDS,
  readFileSync(join(ROOT, "data/word_language_4.csv"), "utf8")
    .split("\n")
    .slice(0, 301)
    .join("\n") + "\n",
);

test("train-classify --fine-tune: the file's weights, classes and vocabulary; unknown labels and characters refused", () => {
  const base = join(tmp, "words.safetensors");
  ok(["train-classify", WORDS, "--text-column", "word", "--label-column", "language", "--bidirectional", "--embedding", "6", "--hidden", "8", "--batch", "16", "--steps", "3", "--quiet", "--out", base]); // prettier-ignore
  const still = join(tmp, "words-lr0.safetensors");
  ok(["train-classify", WORDS, "--fine-tune", base, "--lr", "0", "--steps", "2", "--quiet", "--out", still]); // prettier-ignore
  assert.equal(paramsSha(still), paramsSha(base));
  // Fewer rows: the vocabulary and classes stay the file's (a fresh run would build smaller ones).
  const few = join(tmp, "few.csv");
  writeFileSync(few, readFileSync(WORDS, "utf8").split("\n").slice(0, 61).join("\n") + "\n");
  const tuned = join(tmp, "words-tuned.safetensors");
  ok(["train-classify", few, "--fine-tune", base, "--steps", "3", "--quiet", "--out", tuned]);
  const a = loadModel(base);
  const b = loadModel(tuned);
  assert.deepEqual(b.meta.classifier, a.meta.classifier);
  assert.deepEqual(b.model.config, a.model.config);
  assert.notEqual(paramsSha(tuned), paramsSha(base));
  ok(["eval", tuned, WORDS, "--json", "--unknown", "skip"]);

  const run = ["train-classify", WORDS, "--fine-tune", base, "--steps", "1", "--quiet"];
  refused([...run, "--label-column", "word"], /--label-column: .* has "language"; the command line says "word"/); // prettier-ignore
  refused([...run, "--embedding", "4"], /--embedding: .* has 6; the command line says 4/);
  refused([...run, "--out", base], /--out: .*is the input --fine-tune/);
  const header = readFileSync(WORDS, "utf8").split("\n")[0];
  const rest = readFileSync(WORDS, "utf8").split("\n").slice(1).join("\n");
  const klingon = join(tmp, "klingon.csv");
  writeFileSync(klingon, `${header}\nqapla,klingon\n${rest}`);
  refused(["train-classify", klingon, "--fine-tune", base, "--steps", "1", "--out", join(tmp, "k.safetensors")], /klingon\.csv line 2: label 'klingon' is not one of the classes of .*words\.safetensors/); // prettier-ignore
  const unseen = join(tmp, "unseen.csv");
  writeFileSync(unseen, `${header}\nŋaŋ,english\n${rest}`);
  refused(["train-classify", unseen, "--fine-tune", base, "--steps", "1", "--valid-fraction", "0", "--out", join(tmp, "u.safetensors")], /unseen\.csv line 2: character .*'ŋ' at position 0 .*not in the vocabulary of .*words\.safetensors/); // prettier-ignore
});
