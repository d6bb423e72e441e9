import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../tensor/errors.js";
import { Rng } from "../tensor/rng.js";
import {
  classCounts,
  classifierMeta,
  encodeInputs,
  inverseFrequencyWeights,
  padNumberBatch,
  padTokenBatch,
  paddingFraction,
  parseClassifyCsv,
  parseNumberSequence,
  planBatches,
  prepareClassification,
  readClassifierMeta,
  SequenceVocab,
  splitClassification,
  type ClassifyCsvOptions,
} from "./classify.js";
import { dataError } from "../../test/assertions.js";

// dist/src/data/ → the repository's bundled data/.
const DATA = fileURLToPath(new URL("../../../data/", import.meta.url));
const WORDS: ClassifyCsvOptions = { textColumn: "word", labelColumn: "language" };

const SMALL = "id,text,label\n1,abc,x\n2,ba,y\n3,  cab ,x\n4,\"a,b\",y\n";

test("parse: text and label columns, trimmed cells, file lines, sorted label vocabulary", () => {
  const t = parseClassifyCsv(SMALL, "s.csv", { textColumn: "text", labelColumn: "label" });
  assert.deepEqual(t.texts, ["abc", "ba", "cab", "a,b"]);
  assert.deepEqual(t.labels, ["x", "y", "x", "y"]);
  assert.deepEqual([...t.lines], [2, 3, 4, 5]);
  assert.equal(t.kind, "chars");
  assert.equal(t.numbers, null);
  const d = prepareClassification(t);
  assert.deepEqual(d.classes, ["x", "y"]);
  assert.deepEqual([...d.classIds], [0, 1, 0, 1]);
  // Vocabulary: ",", "a", "b", "c" in code-point order with ids 1..4; 0 is padding.
  assert.deepEqual(d.vocab!.toJSON(), [",", "a", "b", "c"]);
  assert.equal(d.vocab!.size, 5);
  assert.deepEqual([...d.sequences[0]], [2, 3, 4]);
  assert.deepEqual([...d.sequences[3]], [2, 1, 3]);
  assert.deepEqual([...d.lengths], [3, 2, 3, 3]);
  assert.equal(d.vocab!.charOf(SequenceVocab.PAD), "");
  assert.equal(d.vocab!.charOf(4), "c");
});

test("bad input: empty file, missing column (named with the file), empty sequence and label, one class", () => {
  const opts = { textColumn: "text", labelColumn: "label" };
  for (const [csv, file, columns, message] of [
    ["", "e.csv", opts, "e.csv is empty"],
    ["text,label\n", "h.csv", opts, /h\.csv has a header .* but no data rows/],
    [SMALL, "s.csv", { textColumn: "txt", labelColumn: "label" }, "text column 'txt' not found in s.csv; available: id, text, label"],
    [SMALL, "s.csv", { textColumn: "text", labelColumn: "Label" }, "label column 'Label' not found in s.csv; available: id, text, label (did you mean 'label'?)"],
    ["text,label\nab,x\n ,y\n", "g.csv", opts, "g.csv line 3: empty sequence in text column 'text'"],
    ["text,label\nab,x\ncd,\n", "g.csv", opts, "g.csv line 3: empty label in label column 'label'"],
    ["text,label\nab,x\ncd,x\n", "one.csv", opts, "one.csv: every row has the label 'x' in column 'label'; classification needs at least 2 classes"],
  ] as [string, string, ClassifyCsvOptions, string | RegExp][])
    dataError(() => parseClassifyCsv(csv, file, columns), message);
  assert.throws(
    () => parseClassifyCsv(SMALL, "s.csv", { textColumn: "text", labelColumn: "text" }),
    ConfigError,
  );
});

test("numeric cells: ';'-separated, JSON arrays, JSON arrays of steps; precise errors", () => {
  assert.deepEqual([...parseNumberSequence("1; 2.5 ;-3e1", "c").values], [1, 2.5, -30]);
  assert.deepEqual(parseNumberSequence("[1, 2.5]", "c").features, 1);
  const multi = parseNumberSequence("[[1, 0], [2.5, 1], [3, 2]]", "c");
  assert.equal(multi.features, 2);
  assert.deepEqual([...multi.values], [1, 0, 2.5, 1, 3, 2]);
  dataError(() => parseNumberSequence("1;x;3", "f.csv line 2"), "f.csv line 2: step 1 'x' is not a number");
  dataError(() => parseNumberSequence("1;;3", "c"), "c: step 1 '' is not a number");
  dataError(() => parseNumberSequence("[]", "c"), "c: empty sequence");
  dataError(() => parseNumberSequence("[1, 2", "c"), "c: '[1, 2' is not a JSON array");
  dataError(() => parseNumberSequence("[[1, 2], [3]]", "c"), "c: step 1 is [3], expected an array of 2 numbers");
  dataError(() => parseNumberSequence('[1, "2"]', "c"), 'c: step 1 is "2", expected a finite number');
  dataError(() => parseNumberSequence("1e999", "c"), "c: step 0 '1e999' is out of range");

  const csv = 'seq,cls\n"[[1,2],[3,4]]",a\n"[[5,6]]",b\n"[[7,8],[9,10],[11,12]]",a\n';
  const t = parseClassifyCsv(csv, "n.csv", { textColumn: "seq", labelColumn: "cls", kind: "numbers" });
  assert.equal(t.features, 2);
  const d = prepareClassification(t);
  assert.equal(d.vocab, null);
  assert.deepEqual([...d.lengths], [2, 1, 3]);
  // Standardised per feature over every training step: feature 0 is 1,3,5,7,9,11.
  const mean0 = 6;
  const std0 = Math.sqrt([1, 3, 5, 7, 9, 11].reduce((a, v) => a + (v - mean0) ** 2, 0) / 6);
  assert.ok(Math.abs(d.sequences[0][0] - (1 - mean0) / std0) < 1e-12);
  const b = padNumberBatch(d, Int32Array.from([2, 1]), { dtype: "float64" });
  assert.equal(b.seqLen, 3);
  assert.ok(b.x instanceof Float64Array);
  // [T, B, F]: step 1 of batch row 1 (data row 1 has one step) is padding.
  assert.deepEqual([b.x[(1 * 2 + 1) * 2], b.x[(1 * 2 + 1) * 2 + 1]], [0, 0]);
  assert.equal(b.x[(0 * 2 + 1) * 2], d.sequences[1][0]);
  dataError(
    () => parseClassifyCsv('seq,cls\n"[[1,2]]",a\n"[3]",b\n', "n.csv", { textColumn: "seq", labelColumn: "cls", kind: "numbers" }),
    "n.csv line 3, column 'seq': 1 feature per step, but line 2 has 2",
  );
  assert.throws(() => padTokenBatch(d, Int32Array.from([0])), ConfigError);
});

test("stratified validation split: seeded, per-class shares, disjoint, every class keeps training rows", () => {
  // 60 rows of class 0, 30 of class 1, 10 of class 2, interleaved.
  const ids = Int32Array.from({ length: 100 }, (_, r) => (r % 10 < 6 ? 0 : r % 10 < 9 ? 1 : 2));
  const classes = ["a", "b", "c"];
  const s = splitClassification(ids, classes, { validFraction: 0.2, testFraction: 0.1, seed: 7 });
  assert.deepEqual([...s.test], [90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
  const restCounts = classCounts(ids, 3, Int32Array.from({ length: 90 }, (_, i) => i));
  const validCounts = classCounts(ids, 3, s.valid);
  for (let c = 0; c < 3; c++) assert.equal(validCounts[c], Math.round(restCounts[c] * 0.2));
  const all = [...s.train, ...s.valid, ...s.test].sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual(splitClassification(ids, classes, { validFraction: 0.2, testFraction: 0.1, seed: 7 }), s);
  const other = splitClassification(ids, classes, { validFraction: 0.2, testFraction: 0.1, seed: 8 });
  assert.notDeepEqual([...other.valid], [...s.valid]);
  // A class with one row keeps it for training.
  const rare = Int32Array.from([0, 0, 0, 0, 1]);
  assert.deepEqual([...splitClassification(rare, ["a", "b"], { validFraction: 0.5 }).valid].length, 2);
  // A class whose rows all fall in the test part is an error naming it.
  dataError(
    () => splitClassification(Int32Array.from([0, 0, 0, 1]), ["a", "b"], { testFraction: 0.25 }),
    "class 'b' has no training rows (all its rows are in the last 1 rows, the test part)",
  );
  assert.throws(() => splitClassification(ids, classes, { validFraction: 1 }), ConfigError);
  assert.throws(() => splitClassification(Int32Array.from([0, 3]), ["a", "b"]), ConfigError);
  assert.throws(() => classCounts(Int32Array.from([0, -1]), 2), ConfigError);
});

test("class weights: inverse frequency over the training rows, weighted mean 1", () => {
  const ids = Int32Array.from([0, 0, 0, 1, 1, 2]);
  const w = inverseFrequencyWeights(ids, ["a", "b", "c"]);
  assert.deepEqual([...w], [6 / 9, 6 / 6, 6 / 3]);
  let mean = 0;
  for (const c of ids) mean += w[c] / ids.length;
  assert.ok(Math.abs(mean - 1) < 1e-12);
  dataError(() => inverseFrequencyWeights(ids, ["a", "b", "c"], [0, 1, 3]), /class 'c' has no rows/);
  const d = prepareClassification(
    parseClassifyCsv(SMALL, "s.csv", { textColumn: "text", labelColumn: "label" }),
    { classWeights: true },
  );
  assert.deepEqual([...d.weights!], [1, 1]);
});

test("unknown characters: clear error naming the character and position, or skipped", () => {
  const v = SequenceVocab.fromTexts(["abc", "cab"]);
  dataError(
    () => v.encode("abz", { source: "input 2" }),
    /^input 2: character U\+007A 'z' at position 2 of 'abz' is not in the vocabulary \(1 unseen: U\+007A 'z'\); use unknown "skip"/,
  );
  const r = v.encodeWithReport("zaz b", { unknown: "skip" });
  assert.deepEqual([...r.ids], [1, 2]);
  assert.equal(r.skippedTotal, 3);
  assert.deepEqual([...r.skipped], [
    ["z", 2],
    [" ", 1],
  ]);
  dataError(() => v.encode("zz", { unknown: "skip", source: "input 1" }), "input 1: no character of 'zz' is in the vocabulary");
  // NFC: a decomposed é matches the composed one of the vocabulary.
  const accents = SequenceVocab.fromTexts(["caf\u00e9"]);
  assert.deepEqual([...accents.encode("cafe\u0301")], [...accents.encode("caf\u00e9")]);
  assert.deepEqual(SequenceVocab.fromJSON(v.toJSON()).toJSON(), v.toJSON());
  assert.throws(() => v.encode("a", { unknown: "drop" as "skip" }), ConfigError);
});

test("held-out rows: vocabulary from training rows only; unseen characters dropped and counted", () => {
  const csv = "t,l\nab,x\nba,y\naab,x\nbba,y\naq,x\nbq,y\n";
  const d = prepareClassification(parseClassifyCsv(csv, "h.csv", { textColumn: "t", labelColumn: "l" }), {
    testFraction: 2 / 6,
  });
  assert.deepEqual(d.vocab!.toJSON(), ["a", "b"]);
  assert.deepEqual([...d.split.test], [4, 5]);
  assert.deepEqual([...d.sequences[4]], [1]);
  assert.deepEqual([...d.heldOutSkipped], [["q", 2]]);
  assert.equal(d.heldOutRowsAffected, 2);
  dataError(
    () =>
      prepareClassification(parseClassifyCsv("t,l\nab,x\nba,y\nqq,x\n", "h.csv", { textColumn: "t", labelColumn: "l" }), {
        testFraction: 0.34,
      }),
    "h.csv line 4: no character of 'qq' is in the vocabulary",
  );
});

test("batches: every row once, longest first inside a batch, seeded, bucketing cuts padding", () => {
  const rng = new Rng(3);
  const lengths = Int32Array.from({ length: 1000 }, () => 3 + rng.int(14));
  const rows = Int32Array.from({ length: 900 }, (_, i) => i + 50);
  const plan = planBatches(lengths, rows, { batchSize: 64, rng: new Rng(1) });
  assert.equal(plan.length, Math.ceil(900 / 64));
  assert.deepEqual(
    plan.flatMap((b) => [...b]).sort((a, b) => a - b),
    [...rows],
  );
  for (const b of plan)
    for (let i = 1; i < b.length; i++) assert.ok(lengths[b[i - 1]] >= lengths[b[i]]);
  assert.deepEqual(planBatches(lengths, rows, { batchSize: 64, rng: new Rng(1) }), plan);
  assert.notDeepEqual(planBatches(lengths, rows, { batchSize: 64, rng: new Rng(2) }), plan);
  // Random batches of lengths 3..16 waste about a third of the cells on padding; buckets far less.
  const random = [...rows];
  const shuffleRng = new Rng(1);
  for (let i = random.length - 1; i > 0; i--) {
    const j = shuffleRng.int(i + 1);
    [random[i], random[j]] = [random[j], random[i]];
  }
  const unbucketed: Int32Array[] = [];
  for (let i = 0; i < random.length; i += 64) unbucketed.push(Int32Array.from(random.slice(i, i + 64)));
  const wasteRandom = paddingFraction(lengths, unbucketed);
  const wasteBucketed = paddingFraction(lengths, plan);
  assert.ok(wasteRandom > 0.25, `random batches waste ${wasteRandom}`);
  assert.ok(wasteBucketed < 0.1, `bucketed batches waste ${wasteBucketed}`);
  // Evaluation order: sorted by length, longest first, no rng.
  const evalPlan = planBatches(lengths, rows, { batchSize: 100 });
  const flat = evalPlan.flatMap((b) => [...b]);
  for (let i = 1; i < flat.length; i++) assert.ok(lengths[flat[i - 1]] >= lengths[flat[i]]);
  assert.throws(() => planBatches(lengths, [1000], { batchSize: 4 }), ConfigError);
  assert.throws(() => planBatches(lengths, rows, { batchSize: 0 }), ConfigError);
});

test("padded token batches: time-major and batch-first, zeros past each row's length", () => {
  const d = prepareClassification(parseClassifyCsv(SMALL, "s.csv", { textColumn: "text", labelColumn: "label" }));
  const rows = Int32Array.from([0, 1]); // "abc" (x), "ba" (y)
  const tm = padTokenBatch(d, rows);
  assert.equal(tm.seqLen, 3);
  assert.equal(tm.batch, 2);
  assert.deepEqual([...tm.x], [2, 3, 3, 2, 4, 0]);
  assert.deepEqual([...tm.lengths], [3, 2]);
  assert.deepEqual([...tm.targets!], [0, 1]);
  const bf = padTokenBatch(d, rows, { batchFirst: true });
  assert.deepEqual([...bf.x], [2, 3, 4, 3, 2, 0]);
  assert.equal(bf.batchFirst, true);
  assert.throws(() => padTokenBatch(d, new Int32Array(0)), ConfigError);
});

test("word_language_4.csv: 12,000 rows, 4 balanced classes, last 20 % as test", () => {
  const text = readFileSync(DATA + "word_language_4.csv", "utf8");
  const d = prepareClassification(parseClassifyCsv(text, "word_language_4.csv", WORDS), {
    testFraction: 0.2,
    validFraction: 0.1,
    seed: 1,
  });
  assert.deepEqual(d.classes, ["dutch", "english", "polish", "spanish"]);
  assert.equal(d.split.test.length, 2400);
  assert.equal(d.split.test[0], 9600);
  assert.equal(d.split.train.length + d.split.valid.length, 9600);
  const lens = [...d.lengths];
  assert.equal(Math.min(...lens), 3);
  assert.equal(Math.max(...lens), 16);
  // Training, validation and test rows alike are encoded with ids in [1, V).
  for (const s of d.sequences) for (const id of s) assert.ok(id >= 1 && id < d.vocab!.size);
  const counts = classCounts(d.classIds, 4);
  assert.deepEqual([...counts], [3000, 3000, 3000, 3000]);
});

test("classifier metadata: JSON round trip, then new inputs encoded exactly as the training rows", () => {
  const d = prepareClassification(
    parseClassifyCsv(SMALL, "s.csv", { textColumn: "text", labelColumn: "label" }),
  );
  const meta = JSON.parse(JSON.stringify(classifierMeta(d)));
  assert.deepEqual(meta, {
    kind: "chars",
    textColumn: "text",
    labelColumn: "label",
    classes: ["x", "y"],
    vocab: [",", "a", "b", "c"],
    features: 1,
    scaler: null,
  });
  const clf = readClassifierMeta(meta, "m.safetensors");
  const set = encodeInputs(clf, ["abc", "a,b"]);
  assert.deepEqual([...set.sequences[0]], [...d.sequences[0]]);
  assert.deepEqual([...set.sequences[1]], [...d.sequences[3]]);
  const batch = padTokenBatch(set, Int32Array.from([1, 0]), { batchFirst: true });
  assert.equal(batch.targets, null);
  assert.deepEqual([...batch.x], [2, 1, 3, 2, 3, 4]);
  dataError(
    () => encodeInputs(clf, ["ab", "abd"]),
    /^input 2: character U\+0064 'd' at position 2 of 'abd' is not in the vocabulary/,
  );
  assert.deepEqual([...encodeInputs(clf, ["abd"], { unknown: "skip" }).sequences[0]], [2, 3]);
  for (const [bad, field] of [
    [{ ...meta, kind: "words" }, /kind/],
    [{ ...meta, classes: ["x"] }, /classes/],
    [{ ...meta, classes: ["x", "x"] }, /repeat/],
    [{ ...meta, vocab: ["a", "a"] }, /vocabulary entries 0 and 1/],
    [{ ...meta, features: 2 }, /features/],
    [null, /object/],
  ] as const)
    assert.throws(() => readClassifierMeta(bad, "m.safetensors"), field);

  const csv = 'seq,cls\n"1;2;3",a\n"4;5",b\n';
  const nd = prepareClassification(
    parseClassifyCsv(csv, "n.csv", { textColumn: "seq", labelColumn: "cls", kind: "numbers" }),
  );
  const nclf = readClassifierMeta(JSON.parse(JSON.stringify(classifierMeta(nd))), "n.safetensors");
  const nset = encodeInputs(nclf, ["[1, 2, 3]"]);
  assert.deepEqual([...nset.sequences[0]], [...nd.sequences[0]]);
  dataError(() => encodeInputs(nclf, ["[[1, 2]]"]), "input 1: 2 features per step, the model takes 1");
  assert.throws(() => padTokenBatch(nset, Int32Array.from([0])), ConfigError);
});
