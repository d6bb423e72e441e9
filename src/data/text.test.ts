import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError, DataError, FormatError, ShapeError } from "../tensor/errors.js";
import {
  decodeText,
  describeChar,
  oneHot,
  splitTrainValid,
  TextBatches,
  unigramEntropy,
  Vocab,
} from "./text.js";

// dist/src/data/ → repository root → ../shared/data (absent in CI: those tests are skipped).
const DATA = fileURLToPath(new URL("../../../../shared/data/", import.meta.url));
const HAVE_DATA = existsSync(DATA);
const skipNoData = HAVE_DATA ? false : `shared data folder ${DATA} is absent`;
const readData = (name: string): string => readFileSync(DATA + name, "utf8");

test("vocab: code points, sorted by code point, ids round-trip", () => {
  const text = "baña £😀a\n";
  const v = Vocab.fromText(text);
  // Sorted by code point: "\n" < " " < "a" < "b" < "£" < "ñ" < "😀".
  assert.deepEqual(v.chars, ["\n", " ", "a", "b", "£", "ñ", "😀"]);
  assert.equal(v.size, 7);
  assert.equal(v.index("😀"), 6);
  assert.equal(v.index("z"), -1);
  assert.equal(v.has("ñ"), true);
  const ids = v.encode(text);
  assert.equal(ids.length, 9); // 9 code points, 10 UTF-16 units
  assert.deepEqual([...ids], [3, 2, 5, 2, 1, 4, 6, 2, 0]);
  assert.equal(v.decode(ids), text);
  assert.throws(() => v.index("ab"), ConfigError);
  assert.throws(() => v.decode([7]), /id 7 at position 0 is outside the vocabulary \(size 7\)/);
});

test("vocab: sorting is by code point, not UTF-16 code unit", () => {
  // U+FF01 (fullwidth !) is one unit 0xFF01; 😀 (U+1F600) starts with unit 0xD83D < 0xFF01.
  const v = Vocab.fromText("😀！");
  assert.deepEqual(v.chars, ["！", "😀"]);
});

test("vocab: empty corpus is a DataError", () => {
  assert.throws(() => Vocab.fromText(""), (e) => e instanceof DataError && /empty corpus/.test(e.message));
  assert.throws(() => Vocab.fromText("", "a.txt"), { message: "a.txt: empty corpus" });
});

test("encode 'error' names the first unseen character, its position and the distinct count", () => {
  const v = Vocab.fromText("hola mundo\n");
  assert.throws(
    () => v.encode("hola\nnuño ñandú", { source: "prompt" }),
    (e: unknown) => {
      assert.ok(e instanceof DataError);
      assert.match(e.message, /^prompt: character U\+00F1 'ñ' at position 7 \(line 2, column 3\)/);
      assert.match(e.message, /2 distinct unseen characters \(3 occurrences\): U\+00F1 'ñ', U\+00FA 'ú'/);
      return true;
    },
  );
  // Default policy is "error".
  assert.throws(() => v.encode("x"), /U\+0078 'x' at position 0 .*1 distinct unseen character \(1 occurrence\)/);
  // Positions count code points, not UTF-16 units.
  assert.throws(
    () => Vocab.fromText("😀a\n").encode("😀😀\n😀b"),
    /U\+0062 'b' at position 4 \(line 2, column 2\)/,
  );
  // Unseen control characters are shown as escapes, not raw.
  assert.throws(() => v.encode("\t"), /U\+0009 '\\t'/);
  assert.throws(() => v.encode("a", { unknown: "ignore" as "skip" }), ConfigError);
});

test("encode 'skip' drops unseen characters; encodeWithReport counts them", () => {
  const v = Vocab.fromText("abc");
  assert.deepEqual([...v.encode("a😀bñcñ", { unknown: "skip" })], [0, 1, 2]);
  const r = v.encodeWithReport("a😀bñcñ");
  assert.deepEqual([...r.ids], [0, 1, 2]);
  assert.deepEqual([...r.skipped], [
    ["😀", 1],
    ["ñ", 2],
  ]);
  assert.equal(r.skippedTotal, 3);
});

test("describeChar: printable characters quoted, controls escaped or bare", () => {
  assert.equal(describeChar("ñ"), "U+00F1 'ñ'");
  assert.equal(describeChar("\n"), "U+000A '\\n'");
  assert.equal(describeChar("\u0000"), "U+0000");
  assert.equal(describeChar("\u0301"), "U+0301");
  assert.equal(describeChar("😀"), "U+1F600 '😀'");
});

test("vocab JSON round-trip keeps order; fromJSON validates", () => {
  const v = Vocab.fromText("zyx😀");
  const back = Vocab.fromJSON(JSON.parse(JSON.stringify(v)));
  assert.deepEqual(back.chars, v.chars);
  const custom = Vocab.fromJSON(["b", "a"]);
  assert.equal(custom.index("b"), 0);
  assert.throws(() => Vocab.fromJSON("abc", "m.json"), (e) => e instanceof FormatError && /m\.json: vocabulary must be an array/.test(e.message));
  assert.throws(() => Vocab.fromJSON([]), /vocabulary is empty/);
  assert.throws(() => Vocab.fromJSON(["a", "bc"]), /entry 1 is "bc", expected one character/);
  assert.throws(() => Vocab.fromJSON(["a", 3]), /entry 1 is 3/);
  assert.throws(() => Vocab.fromJSON(["a", ""]), /entry 1 is ""/);
  assert.throws(() => Vocab.fromJSON(["a", "b", "a"]), /entries 0 and 2 are both U\+0061 'a'/);
});

test("decodeText: UTF-8 in, BOM dropped; NUL and invalid UTF-8 rejected with offsets", () => {
  const enc = new TextEncoder();
  assert.equal(decodeText(enc.encode("\uFEFFaño"), "t.txt"), "año");
  assert.throws(
    () => decodeText(Uint8Array.from([0x61, 0x0a, 0x62, 0x00, 0x63]), "x.bin"),
    (e) => e instanceof DataError && /^x\.bin: not a text file \(NUL byte at byte offset 3/.test(e.message),
  );
  const latin1 = Uint8Array.from([...enc.encode("ok\nñ\n"), 0x61, 0xf1, 0x6f]); // "año" in Latin-1
  assert.throws(
    () => decodeText(latin1, "l1.txt"),
    /l1\.txt: not a text file \(invalid UTF-8 at byte offset 7, line 3\)/,
  );
});

test("splitTrainValid: time-ordered, last fraction is validation", () => {
  const ids = Int32Array.from({ length: 10 }, (_, i) => i);
  const { train, valid } = splitTrainValid(ids, 0.2);
  assert.deepEqual([...train], [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual([...valid], [8, 9]);
  const none = splitTrainValid(ids, 0);
  assert.equal(none.train.length, 10);
  assert.equal(none.valid.length, 0);
  assert.equal(splitTrainValid(ids, 0.01).valid.length, 1); // positive fraction: at least one
  assert.throws(() => splitTrainValid(ids, 1), ConfigError);
  assert.throws(() => splitTrainValid(ids, -0.1), ConfigError);
  assert.throws(() => splitTrainValid(ids, NaN), ConfigError);
  assert.throws(
    () => splitTrainValid(Int32Array.from([1, 2]), 0.5),
    (e) => e instanceof DataError && /training part has 1 character \(2 in all, validFraction 0.5\); at least 2/.test(e.message),
  );
});

test("TextBatches: streams, windows and targets follow the definition", () => {
  // N = 23, B = 3 → S = floor(22/3) = 7; T = 3 → 2 windows per epoch.
  const ids = Int32Array.from({ length: 23 }, (_, i) => 100 + i);
  const tb = new TextBatches(ids, 3, 3);
  assert.equal(tb.streamLength, 7);
  assert.equal(tb.windowsPerEpoch, 2);
  const x = new Int32Array(9);
  const y = new Int32Array(9);
  tb.window(1, x, y);
  // x[t·B + b] = ids[b·S + k·T + t]
  for (let t = 0; t < 3; t++)
    for (let b = 0; b < 3; b++) {
      assert.equal(x[t * 3 + b], 100 + b * 7 + 3 + t);
      assert.equal(y[t * 3 + b], 100 + b * 7 + 3 + t + 1);
    }
  assert.deepEqual([...x.slice(0, 3)], [103, 110, 117]);
  assert.throws(() => tb.window(2, x, y), ConfigError);
  assert.throws(() => tb.window(0, new Int32Array(8), y), ShapeError);
});

test("TextBatches: too-short text names N, B and T", () => {
  assert.throws(
    () => new TextBatches(new Int32Array(12), 3, 4),
    (e) =>
      e instanceof DataError &&
      e.message ===
        "text too short: 12 characters cannot fill batch 3 × seqLen 4 (+1); at least 13 are needed",
  );
  assert.doesNotThrow(() => new TextBatches(new Int32Array(13), 3, 4));
  assert.throws(() => new TextBatches(new Int32Array(13), 0, 4), ConfigError);
  assert.throws(() => new TextBatches(new Int32Array(13), 3, 1.5), ConfigError);
});

test("oneHot zeroes then sets; rejects bad ids and sizes", () => {
  const out = new Float32Array(6).fill(7);
  oneHot(out, Int32Array.from([2, 0]), 3);
  assert.deepEqual([...out], [0, 0, 1, 1, 0, 0]);
  assert.throws(() => oneHot(out, [3, 0], 3), /id 3 at position 0 is outside the vocabulary \(size 3\)/);
  assert.throws(() => oneHot(new Float64Array(5), [0, 0], 3), ShapeError);
});

test("unigramEntropy in nats", () => {
  assert.equal(unigramEntropy([1, 1, 1], 4), 0);
  assert.ok(Math.abs(unigramEntropy([0, 1, 2, 3], 4) - Math.log(4)) < 1e-12);
  const h = unigramEntropy([0, 0, 0, 1], 2);
  assert.ok(Math.abs(h - -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25))) < 1e-12);
  assert.throws(() => unigramEntropy([], 2), DataError);
  assert.throws(() => unigramEntropy([2], 2), DataError);
});

test("Spanish Bible: ñ, á, ¿ are single vocabulary entries; full round trip", { skip: skipNoData }, () => {
  const text = readData("spanish_bible_rv1909.txt");
  const v = Vocab.fromText(text, "spanish_bible_rv1909.txt");
  for (const ch of ["ñ", "á", "é", "í", "ó", "ú", "ü", "¿", "¡"]) assert.ok(v.index(ch) >= 0, ch);
  assert.equal(v.size, new Set(text).size); // a Set of a string holds its code points
  assert.ok(v.chars.every((ch) => [...ch].length === 1));
  assert.ok(!v.chars.some((ch) => /\d/.test(ch)), "the README says: no digits");
  const cps = v.chars.map((ch) => ch.codePointAt(0) ?? 0);
  assert.deepEqual(cps, [...cps].sort((a, b) => a - b));
  const ids = v.encode(text);
  assert.equal(ids.length, [...text].length);
  assert.equal(v.decode(ids), text);
  const { train, valid } = splitTrainValid(ids, 0.1);
  assert.equal(train.length + valid.length, ids.length);
  assert.equal(v.decode(valid).split("\n").at(-2), "La gracia de nuestro Señor Jesucristo sea con todos vosotros. Amén.");
});

test("Austen: windows continue each stream (truncated BPTT) and reproduce the text", { skip: skipNoData }, () => {
  const text = readData("austen_pride_and_prejudice.txt");
  const v = Vocab.fromText(text);
  const ids = v.encode(text);
  const B = 16;
  const T = 64;
  const tb = new TextBatches(ids, B, T);
  assert.equal(tb.streamLength, Math.floor((ids.length - 1) / B));
  assert.equal(tb.windowsPerEpoch, Math.floor(tb.streamLength / T));
  const x = new Int32Array(T * B);
  const y = new Int32Array(T * B);
  const prevLastTarget = new Int32Array(B);
  const streams: string[][] = Array.from({ length: B }, () => []);
  for (let k = 0; k < tb.windowsPerEpoch; k++) {
    tb.window(k, x, y);
    for (let b = 0; b < B; b++) {
      // The next window starts with the character the previous one was predicting last.
      if (k > 0) assert.equal(x[b], prevLastTarget[b]);
      prevLastTarget[b] = y[(T - 1) * B + b];
      for (let t = 0; t < T; t++) {
        if (t > 0) assert.equal(x[t * B + b], y[(t - 1) * B + b]);
        streams[b].push(v.chars[x[t * B + b]]);
      }
    }
  }
  const S = tb.streamLength;
  const used = tb.windowsPerEpoch * T;
  const chars = [...text];
  for (const b of [0, 7, B - 1]) assert.equal(streams[b].join(""), chars.slice(b * S, b * S + used).join(""));
  assert.equal(v.decode(ids.subarray(0, 19)), "PRIDE AND PREJUDICE");
  // A character model must beat the unigram entropy; for English text it is a bit over 3 nats.
  const h = unigramEntropy(ids, v.size);
  assert.ok(h > 2.5 && h < Math.log(v.size), `${h}`);
});

test("Austen: the £ of Mansfield Park is unseen in Pride and Prejudice", { skip: skipNoData }, () => {
  const v = Vocab.fromText(readData("austen_pride_and_prejudice.txt"));
  const mp = readData("austen_mansfield_park.txt");
  assert.equal(v.has("£"), false);
  const r = v.encodeWithReport(mp);
  assert.equal(r.skipped.get("£"), 1);
  assert.equal(r.ids.length, [...mp].length - r.skippedTotal);
  assert.throws(
    () => v.encode(mp, { source: "austen_mansfield_park.txt" }),
    (e: unknown) =>
      e instanceof DataError &&
      /^austen_mansfield_park\.txt: character U\+\w+ '.' at position \d+ \(line \d+, column \d+\) is not in the vocabulary of \d+; \d+ distinct unseen characters \(\d+ occurrences\): .*U\+00A3 '£'/.test(
        e.message,
      ),
  );
});
