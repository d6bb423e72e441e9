/**
 * The product as a new user meets it, on the bundled real data: character models on an English
 * novel and a Spanish (non-ASCII) text, forecasts of AirPassengers and Mauna Loa CO2, and bad
 * input that must give one clear message and overwrite nothing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT, runCli } from "./helpers.js";
import { loadModel } from "../src/node.js";

const tmp = mkdtempSync(join(tmpdir(), "lstm-use-"));
const data = (f: string): string => join(ROOT, "data", f);

function ok(args: string[]): string {
  const r = runCli(args, { timeoutMs: 300_000 });
  assert.equal(r.status, 0, `${args.join(" ")}\n${r.stderr}`);
  return r.stdout;
}

test("AirPassengers: the 24-month forecast beats seasonal naive on MAPE", () => {
  const model = join(tmp, "air.safetensors");
  ok([
    "train-series", data("airpassengers.csv"), "--column", "passengers_thousands", "--horizon", "24",
    "--seq-len", "24", "--transform", "log", "--relative", "--valid-fraction", "0.17",
    "--test-fraction", "0.17", "--steps", "300", "--eval-every", "50", "--seed", "1", "--quiet", "--out", model,
  ]); // prettier-ignore
  const r = JSON.parse(ok(["eval", model, data("airpassengers.csv"), "--json"]));
  assert.equal(r.rowsUsed, "test");
  assert.ok(r.baselines.seasonalNaive, "monthly data: season 12 inferred");
  assert.equal(r.baselines.seasonalNaive.season, 12);
  assert.ok(
    r.mape < r.baselines.seasonalNaive.mape,
    `model MAPE ${r.mape} vs seasonal naive ${r.baselines.seasonalNaive.mape}`,
  );
  // The forecast continues the time stamps: 24 months after 1960-12.
  const out = join(tmp, "air-forecast.csv");
  ok(["forecast", model, data("airpassengers.csv"), "--out", out]);
  const lines = readFileSync(out, "utf8").trim().split("\n");
  assert.equal(lines[0], "month,passengers_thousands");
  assert.equal(lines.length, 25);
  assert.match(lines[1], /^1961-01,\d+(\.\d+)?$/);
  assert.match(lines[24], /^1962-12,\d+(\.\d+)?$/);
});

test("Mauna Loa CO2: two columns in, forecasts in ppm with dated rows", () => {
  const model = join(tmp, "co2.safetensors");
  ok([
    "train-series", data("co2_monthly_mauna_loa.csv"), "--column", "CO2,adjusted CO2", "--target", "CO2",
    "--horizon", "12", "--seq-len", "24", "--relative", "--missing", "interpolate", "--steps", "150",
    "--quiet", "--out", model,
  ]); // prettier-ignore
  // Five months are absent from the file: without --missing the gap is named, not ignored.
  const gap = runCli(["eval", model, data("co2_monthly_mauna_loa.csv")]);
  assert.equal(gap.status, 1);
  assert.match(gap.stderr, /1 time step missing between 1958-05-01 and 1958-07-01/);
  const r = JSON.parse(
    ok(["eval", model, data("co2_monthly_mauna_loa.csv"), "--json", "--missing", "interpolate"]),
  );
  assert.ok(
    r.mape < r.baselines.lastValue.mape,
    `model ${r.mape} vs last value ${r.baselines.lastValue.mape}`,
  );
  const csv = ok(["forecast", model, data("co2_monthly_mauna_loa.csv"), "--missing", "interpolate"])
    .trim()
    .split("\n");
  assert.equal(csv[0], "Date,CO2");
  assert.match(csv[1], /^2020-05-01,4\d\d(\.\d+)?$/); // the series ends at 2020-04-01 near 416 ppm
});

test("character models on English and Spanish text: learning, sampling, evaluation", () => {
  for (const [file, prime] of [
    ["austen_pride_and_prejudice.txt", "Elizabeth"],
    ["spanish_bible_rv1909.txt", "Y dijo Dios: "],
  ]) {
    const model = join(tmp, `${file}.safetensors`);
    ok(["train-text", data(file), "--hidden", "48", "--seq-len", "32", "--batch", "16", "--steps", "150",
      "--lr", "0.01", "--eval-every", "150", "--sample-every", "0", "--quiet", "--out", model]); // prettier-ignore
    const info = JSON.parse(ok(["info", model, "--json"]));
    assert.equal(info.task, "text");
    if (file.startsWith("spanish")) {
      // Code points, not UTF-16 units or bytes: each accented letter is one vocabulary entry.
      const vocab = loadModel(model).meta.vocab!;
      for (const ch of ["ñ", "á", "¿", "¡", "ü"]) assert.ok(vocab.includes(ch), ch);
      assert.equal(info.vocabSize, vocab.length);
      const sample = ok(["sample", model, "--prime", "¿Quién", "--length", "40", "--seed", "3"]);
      assert.ok(sample.startsWith("¿Quién"));
      assert.equal([...sample.trim()].length, 6 + 40);
    }
    const s = ok(["sample", model, "--prime", prime, "--length", "60", "--seed", "1"]);
    assert.ok(s.startsWith(prime));
    const e = JSON.parse(ok(["eval", model, data(file), "--json", "--max-chars", "3000"]));
    assert.ok(
      e.loss < e.baselines.unigram.loss,
      `${file}: ${e.loss} vs unigram ${e.baselines.unigram.loss}`,
    );
    assert.ok(Math.abs(e.bitsPerChar - e.loss / Math.LN2) < 1e-12);
  }
});

test("bad input: a clear message each, exit 1, no stack trace, nothing overwritten", () => {
  const keep = join(tmp, "keep.csv");
  writeFileSync(keep, "old forecast\n");
  const air = join(tmp, "air.safetensors");
  const gaps = join(tmp, "gaps.csv");
  writeFileSync(gaps, "t,v\n1,1\n2,\n3,3\n");
  const words = join(tmp, "words.csv");
  writeFileSync(words, "t,v\n1,1\n2,two\n");
  const empty = join(tmp, "empty.csv");
  writeFileSync(empty, "");
  const cases: [string[], RegExp][] = [
    [
      ["forecast", join(tmp, "nope.safetensors"), data("airpassengers.csv")],
      /nope\.safetensors: no such file/,
    ],
    [["forecast", air, join(tmp, "nope.csv")], /cannot read .*nope\.csv: no such file/],
    [
      ["forecast", air, data("co2_monthly_mauna_loa.csv"), "--out", keep],
      /column 'passengers_thousands' not found/,
    ],
    [["forecast", air, gaps], /column 'passengers_thousands' not found/],
    [["eval", air, empty], /empty/],
    [
      ["eval", data("airpassengers.csv"), data("airpassengers.csv")],
      /airpassengers\.csv: .*(header|safetensors)/,
    ],
    [["sample", air], /series model; sample needs a character model/],
    [
      ["train-series", gaps, "--column", "v", "--steps", "1", "--out", join(tmp, "g.safetensors")],
      /line 3, column 'v'.*missing.*--missing interpolate/,
    ],
    [
      ["train-series", words, "--column", "v", "--steps", "1", "--out", join(tmp, "w.safetensors")],
      /line 3, column 'v': 'two' is not a number/,
    ],
    [
      ["train-text", data("airpassengers.csv").replace(".csv", ".png"), "--steps", "1"],
      /no such file/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = runCli(args);
    assert.equal(r.status, 1, `${args.join(" ")}: status ${r.status}\n${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
    assert.doesNotMatch(
      r.stderr,
      /\n\s+at |Error: /,
      `stack trace for ${args.join(" ")}:\n${r.stderr}`,
    );
  }
  assert.equal(readFileSync(keep, "utf8"), "old forecast\n");
});
