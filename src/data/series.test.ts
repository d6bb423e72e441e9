import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError, FormatError, ShapeError } from "../tensor/errors.js";
import { Rng } from "../tensor/rng.js";
import {
  parseCsvSeries,
  type CsvSeriesOptions,
  seriesWindowsForSplit,
  SeriesWindows,
  splitSeries,
  StandardScaler,
} from "./series.js";
import { decodeText } from "./text.js";
import { dataError } from "../../test/assertions.js";

// dist/src/data/ → repository root → ../shared/data (absent in CI: those tests are skipped).
const DATA = fileURLToPath(new URL("../../../../shared/data/", import.meta.url));
const skipNoData = existsSync(DATA) ? false : `shared data folder ${DATA} is absent`;
const readData = (name: string): string => readFileSync(DATA + name, "utf8");

/** A CSV text, its file name, the options and the DataError message expected. */
type BadCsv = [string, string, CsvSeriesOptions, string | RegExp];

const close = (a: number, b: number, tol = 1e-9): boolean => Math.abs(a - b) <= tol;

test("parse: columns, default time column, trimmed and quoted headers, BOM, CRLF", () => {
  const csv = '\uFEFF"month" , value ,other\r\n2000-01,1.5,9\r\n2000-02, -2e1 ,8\r\n\r\n2000-03,.5,7\r\n';
  const s = parseCsvSeries(csv, "m.csv", { columns: ["value"] });
  assert.equal(s.timeColumn, "month");
  assert.deepEqual(s.times, ["2000-01", "2000-02", "2000-03"]);
  assert.deepEqual([...s.values], [1.5, -20, 0.5]);
  assert.deepEqual([...s.lines], [2, 3, 5]);
  assert.deepEqual(s.columns, ["value"]);
  const two = parseCsvSeries(csv, "m.csv", { columns: ["other", "value"], timeColumn: null });
  assert.equal(two.times, null);
  assert.deepEqual([...two.values], [9, 1.5, 8, -20, 7, 0.5]);
  // The first header column is a value column → no default time column.
  const first = parseCsvSeries("a,b\n1,2\n", "f.csv", { columns: ["a", "b"] });
  assert.equal(first.timeColumn, null);
  assert.equal(first.times, null);
  const explicit = parseCsvSeries("a,b,t\n1,2,x\n", "f.csv", { columns: ["a"], timeColumn: "t" });
  assert.deepEqual(explicit.times, ["x"]);
});

test("parse: unknown column lists the available ones (case-sensitive match)", () => {
  for (const [csv, file, opts, message] of [
    ["month,passengers_thousands\n1949-01,112\n", "data.csv", { columns: ["x"] }, "column 'x' not found in data.csv; available: month, passengers_thousands"],
    ["Date,CO2\n1958-03-01,315.7\n", "co2.csv", { columns: ["co2"] }, "column 'co2' not found in co2.csv; available: Date, CO2 (did you mean 'CO2'?)"],
    ["a,b\n1,2\n", "f.csv", { columns: ["a"], timeColumn: "when" }, "time column 'when' not found in f.csv; available: a, b"],
    ["a,b,a\n1,2,3\n", "f.csv", { columns: ["a"] }, "column 'a' appears 2 times in the header of f.csv (columns 1, 3)"],
  ] as BadCsv[])
    dataError(() => parseCsvSeries(csv, file, opts), message);
});

test("parse: non-numeric cells name the 1-based line and the column", () => {
  const csv = "t,co2\n1,3.5\n\n2,abc\n";
  dataError(
    () => parseCsvSeries(csv, "data.csv", { columns: ["co2"] }),
    "data.csv line 4, column 'co2': 'abc' is not a number",
  );
  for (const bad of ["0x10", "1,5", "Infinity", "1e", "--1", "12abc"]) {
    const text = `t,v\n1,"${bad}"\n`;
    dataError(() => parseCsvSeries(text, "d.csv", { columns: ["v"] }), /d\.csv line 2, column 'v': '.*' is not a number/);
  }
  dataError(
    () => parseCsvSeries("t,v\n1,1e999\n", "d.csv", { columns: ["v"] }),
    "d.csv line 2, column 'v': '1e999' is out of range",
  );
});

test("parse: missing values: error by default, interpolate, drop", () => {
  const csv = "t,a,b\n1,,10\n2,2,\n3,,\n4,,40\n5,8,50\n6,,60\n";
  dataError(
    () => parseCsvSeries(csv, "g.csv", { columns: ["a", "b"] }),
    "g.csv line 2, column 'a': missing value (6 in all); use --missing interpolate (linear fill) or --missing drop (drop those rows)",
  );
  // Line numbers count blank lines and the lines inside quoted fields.
  dataError(
    () => parseCsvSeries('t,v\n"a\nb",1\n\n2,\n', "l.csv", { columns: ["v"] }),
    /^l\.csv line 5, column 'v': missing value \(1 in all\)/,
  );
  const filled = parseCsvSeries(csv, "g.csv", { columns: ["a", "b"], missing: "interpolate" });
  // a: edge before the first value takes it; 2 → 8 over three steps; edge after takes 8.
  assert.deepEqual([...filled.values], [2, 10, 2, 20, 4, 30, 6, 40, 8, 50, 8, 60]);
  assert.deepEqual(filled.gaps, [4, 2]);
  assert.equal(filled.droppedRows, 0);
  const dropped = parseCsvSeries(csv, "g.csv", { columns: ["a", "b"], missing: "drop" });
  assert.deepEqual([...dropped.values], [8, 50]);
  assert.deepEqual(dropped.times, ["5"]);
  assert.deepEqual([...dropped.lines], [6]);
  assert.equal(dropped.droppedRows, 5);
  // Only the requested columns count: b alone has 2 gaps.
  assert.equal(parseCsvSeries(csv, "g.csv", { columns: ["b"], missing: "drop" }).values.length, 4);
  // NA-style markers are missing values too, the time column may have gaps.
  const na = parseCsvSeries("t,v\n,1\n2,NA\n3,5\n", "n.csv", { columns: ["v"], missing: "interpolate" });
  assert.deepEqual([...na.values], [1, 3, 5]);
  assert.deepEqual(na.times, ["", "2", "3"]);
  dataError(
    () => parseCsvSeries("t,v\n1,\n2,\n", "e.csv", { columns: ["v"], missing: "interpolate" }),
    "e.csv: column 'v' has no values",
  );
  dataError(
    () => parseCsvSeries("t,v\n1,\n2,\n", "e.csv", { columns: ["v"], missing: "drop" }),
    "e.csv: every row has a missing value; none left after dropping",
  );
});

test("parse: empty, header-only, binary and ragged input", () => {
  // Bytes that are not UTF-8, read with readFileSync(…, "utf8"), become U+FFFD.
  const latin1 = new TextDecoder().decode(Uint8Array.from([0x74, 0x2c, 0x76, 0x0a, 0x61, 0xf1, 0x2c, 0x31]));
  for (const [csv, file, message] of [
    ["", "e.csv", "e.csv is empty"],
    [" \n\n", "e.csv", "e.csv is empty"],
    ["\uFEFF", "e.csv", "e.csv is empty"],
    ["t,v\n", "h.csv", "h.csv has a header (t, v) but no data rows"],
    ["t,v\n\n  \n", "h.csv", "h.csv has a header (t, v) but no data rows"],
    ["t,v\n1,2\n\u0000\u0001\u0002", "b.bin", "b.bin: not a text CSV file (NUL byte on line 3; binary?)"],
    [latin1, "l.csv", "l.csv: not a text CSV file (invalid UTF-8, replacement character on line 2)"],
    ["t,v\n\n1,2\n3\n4,5\n", "r.csv", "r.csv line 4: 1 field, but the header has 2 (t, v)"],
    ["t,v\n1,2\n3,4,5\n", "r.csv", "r.csv line 3: 3 fields, but the header has 2 (t, v)"],
    ['t,v\n1,2\n3,"4\n5,6\n', "q.csv", "q.csv line 3: a quoted field opened here is never closed"],
  ])
    dataError(() => parseCsvSeries(csv, file, { columns: ["v"] }), message);
  assert.throws(() => parseCsvSeries("t,v\n1,2\n", "x.csv", { columns: [] }), ConfigError);
  assert.throws(() => parseCsvSeries("t,v\n1,2\n", "x.csv", { columns: ["v", "v"] }), ConfigError);
  assert.throws(
    () => parseCsvSeries("t,v\n1,2\n", "x.csv", { columns: ["v"], missing: "zero" as "drop" }),
    ConfigError,
  );
});

test("StandardScaler: fitted on the training rows only; constant column → std 1", () => {
  // [N=4, C=2]; train rows [0, 2).
  const values = Float64Array.from([1, 5, 3, 5, 100, 7, -100, 9]);
  const sc = StandardScaler.fit(values, 2, [0, 2]);
  assert.deepEqual([...sc.mean], [2, 5]);
  assert.deepEqual([...sc.std], [1, 1]);
  assert.deepEqual(sc.constantColumns, [1]);
  const z = sc.transform(values, new Float64Array(8));
  assert.deepEqual([...z], [-1, 0, 1, 0, 98, 2, -102, 4]);
  const back = sc.inverse(z, new Float64Array(8));
  assert.deepEqual([...back], [...values]);
  // In place, float32, and a subset of columns (e.g. [B, K·Ct] targets of column 1).
  const f = Float32Array.from([5, 6, 7]);
  assert.equal(sc.transform(f, f, [1]), f);
  assert.deepEqual([...f], [0, 1, 2]);
  const wide = StandardScaler.fit([0, 10, 2, 30], 2, [0, 2]);
  assert.deepEqual([...wide.std], [1, 10]);
  assert.deepEqual([...wide.inverse(Float64Array.from([1, 1, -1, -1]), undefined, [1, 0])], [30, 2, 10, 0]);
  assert.throws(() => sc.transform(new Float64Array(3)), ShapeError);
  assert.throws(() => sc.transform(new Float64Array(2), undefined, [2]), ConfigError);
  assert.throws(() => StandardScaler.fit(values, 2, [2, 5]), ConfigError);
  assert.throws(() => StandardScaler.fit([1, NaN], 1, [0, 2]), /row 1, column 0 is NaN/);
});

test("StandardScaler JSON round-trip and validation", () => {
  const sc = StandardScaler.fit([1, 2, 3, 4, 5, 9], 2, [0, 3]);
  const back = StandardScaler.fromJSON(JSON.parse(JSON.stringify(sc)));
  assert.deepEqual([...back.mean], [...sc.mean]);
  assert.deepEqual([...back.std], [...sc.std]);
  const bad = (json: unknown, re: RegExp): void =>
    assert.throws(() => StandardScaler.fromJSON(json, "model.json"), (e) => e instanceof FormatError && re.test(e.message));
  bad(null, /^model\.json: scaler: expected Object, got null/);
  bad([1], /scaler: expected Object, got \[1\]/);
  bad({ mean: [0] }, /scaler\.std: missing/);
  bad({ mean: [], std: [] }, /scaler\.mean: expected one number per column/);
  bad({ mean: [0, "1"], std: [1, 1] }, /scaler\.mean\[1\]: expected number, got "1"/);
  bad({ mean: [0], std: [0] }, /scaler\.std\[0\]: expected a number > 0, got 0/);
  bad({ mean: [0], std: [1, 2] }, /scaler: mean has 1 entries but std has 2/);
});

test("splitSeries: time-ordered contiguous ranges", () => {
  assert.deepEqual(splitSeries(144, 0.1, 0.1), { train: [0, 116], valid: [116, 130], test: [130, 144] });
  assert.deepEqual(splitSeries(10, 0, 0.2), { train: [0, 8], valid: [8, 8], test: [8, 10] });
  assert.deepEqual(splitSeries(10, 0.01, 0), { train: [0, 9], valid: [9, 10], test: [10, 10] });
  assert.throws(() => splitSeries(10, 1, 0), ConfigError);
  assert.throws(() => splitSeries(10, 0.2, -1), ConfigError);
  assert.throws(() => splitSeries(0, 0.2, 0.2), ConfigError);
  dataError(() => splitSeries(2, 0.5, 0.5), "2 rows leave no training rows after 1 validation and 1 test rows");
});

test("SeriesWindows: x [T, B, C] time-major, y [B, K·Ct] step-major, targets inside the part", () => {
  // N = 10 rows, C = 2: row r = (r, 100 + r).
  const N = 10;
  const values = Float64Array.from({ length: N * 2 }, (_, i) => (i % 2 === 0 ? i / 2 : 100 + (i - 1) / 2));
  const w = new SeriesWindows(values, 2, { seqLen: 3, horizon: 2, targetColumns: [1], rows: [0, 7] });
  // Training: inputs and targets inside [0, 7): s + 3 + 2 ≤ 7 → s ∈ {0, 1, 2}.
  assert.equal(w.count, 3);
  assert.equal(w.outputSize, 2);
  const x = new Float32Array(3 * 2 * 2);
  const y = new Float32Array(2 * 2);
  w.fill([2, 0], x, y);
  // x[(t·B + b)·C + c]: b=0 is window 2 (rows 2..4), b=1 window 0 (rows 0..2).
  assert.deepEqual([...x], [2, 102, 0, 100, 3, 103, 1, 101, 4, 104, 2, 102]);
  // y[b·K·Ct + k·Ct + j]: window 2 → rows 5, 6 of column 1; window 0 → rows 3, 4.
  assert.deepEqual([...y], [105, 106, 103, 104]);
  assert.equal(w.windowStart(2), 2);
  assert.equal(w.targetRow(2), 5);

  // Validation [7, 10) with context: inputs reach back, targets stay inside.
  const v = new SeriesWindows(values, 2, { seqLen: 3, horizon: 2, rows: [7, 10], part: "validation", context: true });
  assert.equal(v.first, 4);
  assert.equal(v.count, 2); // targets rows 7..8 and 8..9
  assert.equal(v.targetRow(0), 7);
  assert.equal(v.outputSize, 4);
  const vx = new Float64Array(3 * 2);
  const vy = new Float64Array(4);
  v.fill([1], vx, vy);
  assert.deepEqual([...vx], [5, 105, 6, 106, 7, 107]);
  assert.deepEqual([...vy], [8, 108, 9, 109]);

  assert.throws(() => w.fill([3], new Float32Array(6), new Float32Array(2)), ConfigError);
  assert.throws(() => w.fill([0], new Float32Array(5), new Float32Array(2)), ShapeError);
  assert.throws(() => w.fill([0], new Float32Array(6), new Float32Array(3)), ShapeError);
});

test("SeriesWindows: a part too short for any window is a DataError", () => {
  const values = new Float64Array(60);
  dataError(
    () => new SeriesWindows(values, 1, { seqLen: 24, horizon: 12, rows: [0, 20] }),
    "the training part has 20 rows; seqLen 24 + horizon 12 needs at least 36",
  );
  dataError(
    () => new SeriesWindows(values, 1, { seqLen: 24, horizon: 12, rows: [30, 40], part: "test", context: true }),
    "the test part has 10 rows; horizon 12 needs at least 12 (inputs may use the 24 rows before it, seqLen 24)",
  );
  assert.equal(new SeriesWindows(values, 1, { seqLen: 24, horizon: 12, rows: [30, 42], context: true }).count, 1);
  dataError(
    () => new SeriesWindows(Float64Array.from([1, NaN, 3, 4]), 1, { seqLen: 1, rows: [0, 4] }),
    "row 1, column 0 is NaN; fill missing values first",
  );
  assert.throws(() => new SeriesWindows(values, 1, { seqLen: 0, rows: [0, 20] }), ConfigError);
  assert.throws(() => new SeriesWindows(values, 1, { seqLen: 2, rows: [0, 61] }), ConfigError);
  assert.throws(() => new SeriesWindows(values, 1, { seqLen: 2, targetColumns: [1], rows: [0, 6] }), ConfigError);
});

test("shuffledOrder: a deterministic permutation from the seeded Rng", () => {
  const w = new SeriesWindows(new Float64Array(50), 1, { seqLen: 3, rows: [0, 50] });
  const a = w.shuffledOrder(new Rng(7));
  const b = w.shuffledOrder(new Rng(7));
  const c = w.shuffledOrder(new Rng(8));
  assert.equal(a.length, 47);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.deepEqual([...a].sort((p, q) => p - q), Array.from({ length: 47 }, (_, i) => i));
  assert.notDeepEqual([...a], Array.from({ length: 47 }, (_, i) => i));
  // Uniform: each window lands first with probability 1/count (Sattolo's variant never
  // leaves window 0 in place; an off-by-one in the swap range shows here).
  const small = new SeriesWindows(new Float64Array(6), 1, { seqLen: 1, rows: [0, 6] });
  const firsts = new Array<number>(5).fill(0);
  for (let seed = 0; seed < 5000; seed++) firsts[small.shuffledOrder(new Rng(seed))[0]]++;
  for (const f of firsts) assert.ok(Math.abs(f / 5000 - 0.2) < 0.03, `${firsts}`);
  // Resuming from a saved Rng state gives the same order.
  const r = new Rng(7);
  r.uniform();
  const saved = r.getState();
  const first = w.shuffledOrder(r);
  const r2 = new Rng(0);
  r2.setState(saved);
  assert.deepEqual(w.shuffledOrder(r2), first);
});

test("airpassengers.csv: 144 months, scaled on train, windows for every split", { skip: skipNoData }, () => {
  const s = parseCsvSeries(readData("airpassengers.csv"), "airpassengers.csv", { columns: ["passengers_thousands"] });
  assert.equal(s.timeColumn, "month");
  assert.equal(s.values.length, 144);
  assert.equal(s.times?.[0], "1949-01");
  assert.equal(s.times?.[143], "1960-12");
  assert.equal(s.values[0], 112);
  assert.equal(s.values[143], 432);
  assert.equal(s.lines[143], 145);
  dataError(
    () => parseCsvSeries(readData("airpassengers.csv"), "airpassengers.csv", { columns: ["passengers"] }),
    "column 'passengers' not found in airpassengers.csv; available: month, passengers_thousands",
  );
  const split = splitSeries(144, 0.15, 0.15);
  const sc = StandardScaler.fit(s.values, 1, split.train);
  const z = sc.transform(s.values, new Float64Array(144));
  // Train rows have mean 0 and std 1; later rows (growing traffic) are above.
  const tr = z.subarray(...split.train);
  assert.ok(close(tr.reduce((a, b) => a + b, 0) / tr.length, 0));
  assert.ok(close(Math.sqrt(tr.reduce((a, b) => a + b * b, 0) / tr.length), 1));
  assert.ok(z.subarray(...split.test).every((v) => v > 0));
  const ws = seriesWindowsForSplit(z, 1, split, { seqLen: 24, horizon: 12 });
  assert.equal(ws.train.count, split.train[1] - 36 + 1);
  assert.equal(ws.valid?.count, split.valid[1] - split.valid[0] - 12 + 1);
  assert.equal(ws.test?.count, 22 - 12 + 1);
  const x = new Float32Array(24);
  const y = new Float32Array(12);
  ws.test?.fill([0], x, y);
  const yBack = sc.inverse(y, new Float64Array(12));
  assert.deepEqual([...yBack].map(Math.round), [...s.values.subarray(122, 134)]);
  assert.deepEqual(ws.valid?.targetRow(0), split.valid[0]);
  dataError(
    () => seriesWindowsForSplit(z, 1, split, { seqLen: 24, horizon: 24 }),
    "the validation part has 22 rows; horizon 24 needs at least 24 (inputs may use the 24 rows before it, seqLen 24)",
  );
});

test("co2_monthly_mauna_loa.csv: a column name with a space, two columns", { skip: skipNoData }, () => {
  // Five months are absent from the file (1958-06, 1958-10, 1964-02 to 1964-04): by default
  // that is an error naming the first gap; "drop" keeps the 741 rows as they are.
  dataError(
    () => parseCsvSeries(readData("co2_monthly_mauna_loa.csv"), "co2_monthly_mauna_loa.csv", { columns: ["CO2"] }),
    "co2_monthly_mauna_loa.csv: 1 time step missing between 1958-05-01 and 1958-07-01 (line 5): 1958-06-01 " +
      "(3 gaps, 5 rows in all); use --missing interpolate (fill them) or --missing drop (ignore the gaps)",
  );
  const filled = parseCsvSeries(readData("co2_monthly_mauna_loa.csv"), "co2_monthly_mauna_loa.csv", {
    columns: ["CO2"],
    missing: "interpolate",
  });
  assert.equal(filled.times!.length, 746);
  assert.equal(filled.timeGaps, 5);
  const at = filled.times!.indexOf("1958-06-01");
  assert.equal(filled.times![at + 1], "1958-07-01");
  assert.ok(Math.abs(filled.values[at] - (filled.values[at - 1] + filled.values[at + 1]) / 2) < 1e-9);
  assert.deepEqual(filled.times!.slice(filled.times!.indexOf("1964-01-01"), filled.times!.indexOf("1964-01-01") + 5), [
    "1964-01-01", "1964-02-01", "1964-03-01", "1964-04-01", "1964-05-01",
  ]); // prettier-ignore
  const s = parseCsvSeries(readData("co2_monthly_mauna_loa.csv"), "co2_monthly_mauna_loa.csv", {
    columns: ["CO2", "adjusted CO2"],
    missing: "drop",
  });
  assert.equal(s.timeColumn, "Date");
  assert.equal(s.values.length, 741 * 2);
  assert.deepEqual([...s.values.subarray(0, 2)], [315.7, 314.44]);
  assert.deepEqual([...s.values.subarray(-2)], [416.18, 413.35]);
  assert.equal(s.times?.[740], "2020-04-01");
  dataError(
    () => parseCsvSeries(readData("co2_monthly_mauna_loa.csv"), "co2_monthly_mauna_loa.csv", { columns: ["adjusted_CO2"] }),
    "column 'adjusted_CO2' not found in co2_monthly_mauna_loa.csv; available: Date, CO2, adjusted CO2",
  );
  const w = new SeriesWindows(s.values, 2, { seqLen: 12, horizon: 3, targetColumns: [0], rows: [0, 741] });
  assert.equal(w.count, 741 - 15 + 1);
});

test("co2_weekly_mauna_loa.csv: 59 gaps; error names the line, interpolate fills, drop removes", { skip: skipNoData }, () => {
  const text = readData("co2_weekly_mauna_loa.csv");
  dataError(
    () => parseCsvSeries(text, "co2_weekly_mauna_loa.csv", { columns: ["co2"] }),
    "co2_weekly_mauna_loa.csv line 8, column 'co2': missing value (59 in all); use --missing interpolate (linear fill) or --missing drop (drop those rows)",
  );
  const s = parseCsvSeries(text, "co2_weekly_mauna_loa.csv", { columns: ["co2"], missing: "interpolate" });
  assert.equal(s.values.length, 2284);
  assert.deepEqual(s.gaps, [59]);
  assert.ok(s.values.every(Number.isFinite));
  // Line 8 sits between 316.9 (line 7) and 317.5 (line 9); row = line − 2.
  assert.ok(close(s.values[6], (316.9 + 317.5) / 2));
  // Lines 11..15 are missing between 317.9 (line 10) and 315.8 (line 16).
  for (let g = 1; g <= 5; g++) assert.ok(close(s.values[8 + g], 317.9 + ((315.8 - 317.9) * g) / 6));
  assert.equal(s.times?.[0], "19580329");
  const d = parseCsvSeries(text, "co2_weekly_mauna_loa.csv", { columns: ["co2"], missing: "drop" });
  assert.equal(d.values.length, 2284 - 59);
  assert.equal(d.droppedRows, 59);
  assert.equal(d.times?.[6], "19580517");
  assert.equal(d.lines[6], 9);
});

test("sunspots_yearly.csv: quoted headers", { skip: skipNoData }, () => {
  const s = parseCsvSeries(readData("sunspots_yearly.csv"), "sunspots_yearly.csv", { columns: ["SUNACTIVITY"] });
  assert.equal(s.timeColumn, "YEAR");
  assert.equal(s.values.length, 309);
  assert.deepEqual([...s.values.subarray(0, 2)], [5, 11]);
  assert.equal(s.values[308], 2.9);
  assert.equal(s.times?.[308], "2008");
  const bytes = readFileSync(DATA + "sunspots_yearly.csv");
  assert.deepEqual(parseCsvSeries(decodeText(bytes, "s"), "s", { columns: ["SUNACTIVITY"] }).values, s.values);
});

test("a binary file read as text is rejected", { skip: skipNoData }, () => {
  // Any real file with bytes outside UTF-8 would do; build one from a real CSV by Latin-1 encoding a name.
  const bytes = Buffer.concat([readFileSync(DATA + "airpassengers.csv"), Buffer.from([0x31, 0x39, 0x36, 0x31, 0xff, 0x0a])]);
  dataError(
    () => parseCsvSeries(bytes.toString("utf8"), "air.csv", { columns: ["passengers_thousands"] }),
    "air.csv: not a text CSV file (invalid UTF-8, replacement character on line 146)",
  );
  dataError(() => decodeText(bytes, "air.csv"), "air.csv: not a text file (invalid UTF-8 at byte offset 1759, line 146)");
});
