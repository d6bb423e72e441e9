/**
 * Numeric time series from CSV: parsing with precise errors, per-column standardisation fitted
 * on the training rows, time-ordered splits and sliding windows for direct multi-horizon
 * forecasting with a sequence-to-one model. Browser-safe (no file system).
 *
 * Letters: N rows, C value columns, T input steps (seqLen), K horizon, Ct target columns,
 * B windows in a batch.
 */
import { findColumn, parseCsvTable, quoteCell } from "./csv.js";
import { findTimeGaps } from "./time.js";
import type { FloatArray } from "../tensor/dtype.js";
import { ConfigError, DataError, ShapeError } from "../tensor/errors.js";
import type { Rng } from "../tensor/rng.js";
import { parseField, ScalerSchema } from "../io/schemas.js";

/** What to do with a missing value (an empty cell, or NA / N/A / NaN / nan / null). */
export type MissingPolicy = "error" | "interpolate" | "drop";

/** Which CSV columns parseCsvSeries reads and what it does with missing values. */
export interface CsvSeriesOptions {
  /** Value columns, matched exactly (case-sensitive) against the trimmed header names. */
  columns: readonly string[];
  /**
   * Column holding the time stamps, kept as strings. Default: the first header column when it is
   * not one of `columns`, else none. `null`: none.
   */
  timeColumn?: string | null;
  /**
   * "error" (default): DataError naming the first missing cell. "interpolate": linear in the row
   * position between the nearest values above and below (rows are taken as evenly spaced); before
   * the first / after the last value, that value is repeated. "drop": rows with a missing value
   * in any of `columns` are removed.
   */
  missing?: MissingPolicy;
}

/** A parsed CSV series: the value columns as an [N, C] matrix, with time stamps when there are any. */
export interface CsvSeries {
  /** The time column's cells (trimmed) of the kept rows, or null without a time column. */
  times: string[] | null;
  /** The value columns, in the order asked for. */
  columns: string[];
  /** [N, C] row-major. */
  values: Float64Array;
  timeColumn: string | null;
  /** 1-based line number in the file of each kept row. */
  lines: Int32Array;
  /** Missing cells found per column (filled with "interpolate", dropped with "drop"). */
  gaps: number[];
  /** Rows removed by `missing: "drop"`. */
  droppedRows: number;
  /** Rows inserted where the time column skips steps (`missing: "interpolate"`). */
  timeGaps: number;
}

/** Cell texts (after trimming) read as missing values. */
const MISSING_TOKENS: readonly string[] = ["", "NA", "N/A", "NaN", "nan", "null"];
const MISSING = new Set(MISSING_TOKENS);
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Parses a CSV file with a header row into an [N, C] series of the requested columns.
 * DataError, naming the file, line and column, on: empty file, header only, binary content,
 * ragged rows or other CSV syntax errors, unknown columns, non-numeric cells, missing values
 * (unless `missing` says otherwise).
 */
export function parseCsvSeries(text: string, source: string, opts: CsvSeriesOptions): CsvSeries {
  const columns = opts.columns;
  if (!Array.isArray(columns) || columns.length === 0)
    throw new ConfigError("columns", "at least one value column is required");
  columns.forEach((c, i) => {
    if (typeof c !== "string") throw new ConfigError("columns", `entry ${i} is not a string`);
    if (columns.indexOf(c) !== i) throw new ConfigError("columns", `'${c}' is listed twice`);
  });
  const missing = opts.missing ?? "error";
  if (missing !== "error" && missing !== "interpolate" && missing !== "drop")
    throw new ConfigError(
      "missing",
      `expected "error", "interpolate" or "drop", got ${JSON.stringify(missing)}`,
    );

  const { header, rows } = parseCsvTable(text, source);

  const colIdx = columns.map((c) => findColumn(header, c, source, "column"));
  let timeName: string | null;
  if (opts.timeColumn === null) timeName = null;
  else if (opts.timeColumn !== undefined) {
    findColumn(header, opts.timeColumn, source, "time column");
    timeName = opts.timeColumn;
  } else timeName = columns.includes(header[0]) ? null : header[0];
  const timeIdx = timeName === null ? -1 : header.indexOf(timeName);

  const C = columns.length;
  const n = rows.length;
  const values = new Float64Array(n * C);
  const gaps = new Array<number>(C).fill(0);
  let firstGap: { line: number; column: string } | null = null;
  const rowHasGap = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    const { record, info } = rows[r];
    for (let c = 0; c < C; c++) {
      const cell = record[colIdx[c]].trim();
      if (MISSING.has(cell)) {
        values[r * C + c] = NaN;
        gaps[c]++;
        rowHasGap[r] = 1;
        firstGap ??= { line: info.lines, column: columns[c] };
        continue;
      }
      const v = NUMBER.test(cell) ? Number(cell) : NaN;
      if (!Number.isFinite(v))
        throw new DataError(
          `${source} line ${info.lines}, column '${columns[c]}': ${quoteCell(cell)} is ` +
            (NUMBER.test(cell) ? "out of range" : "not a number"),
        );
      values[r * C + c] = v;
    }
  }

  const totalGaps = gaps.reduce((a, b) => a + b, 0);
  let keep: number[] | null = null;
  if (firstGap !== null) {
    if (missing === "error")
      throw new DataError(
        `${source} line ${firstGap.line}, column '${firstGap.column}': missing value ` +
          `(${totalGaps} in all); use --missing interpolate (linear fill) or --missing drop ` +
          `(drop those rows)`,
      );
    if (missing === "drop") {
      keep = [];
      for (let r = 0; r < n; r++) if (!rowHasGap[r]) keep.push(r);
      if (keep.length === 0)
        throw new DataError(`${source}: every row has a missing value; none left after dropping`);
    } else {
      for (let c = 0; c < C; c++)
        if (gaps[c] > 0) interpolateColumn(values, n, C, c, source, columns[c]);
    }
  }

  const kept = keep ?? Array.from({ length: n }, (_, r) => r);
  const out = keep === null ? values : new Float64Array(kept.length * C);
  if (keep !== null)
    kept.forEach((r, i) => out.set(values.subarray(r * C, (r + 1) * C), i * C));
  const parsed: CsvSeries = {
    times: timeIdx < 0 ? null : kept.map((r) => rows[r].record[timeIdx].trim()),
    columns: [...columns],
    values: out,
    timeColumn: timeName,
    lines: Int32Array.from(kept, (r) => rows[r].info.lines),
    gaps,
    droppedRows: n - kept.length,
    timeGaps: 0,
  };
  return fillTimeGaps(parsed, source, missing);
}

/**
 * Rows missing from the time column (a month absent from monthly data): an error by default,
 * naming the gap; "interpolate" inserts the missing rows with values interpolated linearly
 * between their neighbours; "drop" keeps the rows as they are (the gap is ignored).
 */
function fillTimeGaps(s: CsvSeries, source: string, policy: MissingPolicy): CsvSeries {
  if (!s.times || policy === "drop") return s;
  const found = findTimeGaps(s.times, source, s.lines);
  if (found.length === 0) return s;
  const total = found.reduce((a, g) => a + g.missing, 0);
  if (policy === "error") {
    const g = found[0];
    throw new DataError(
      `${source}: ${g.missing} time step${g.missing > 1 ? "s" : ""} missing between ${s.times[g.row - 1]} and ` +
        `${s.times[g.row]} (line ${s.lines[g.row]}): ${g.stamps.slice(0, 3).join(", ")}${g.missing > 3 ? ", …" : ""}` +
        `${found.length > 1 ? ` (${found.length} gaps, ${total} rows in all)` : ""}; ` +
        "use --missing interpolate (fill them) or --missing drop (ignore the gaps)",
    );
  }
  const C = s.columns.length;
  const N = s.times.length + total;
  const values = new Float64Array(N * C);
  const times: string[] = [];
  const lines = new Int32Array(N);
  let r = 0;
  let gi = 0;
  for (let i = 0; i < s.times.length; i++) {
    const g = found[gi];
    if (g && g.row === i) {
      for (let j = 0; j < g.missing; j++) {
        const w = (j + 1) / (g.missing + 1);
        for (let c = 0; c < C; c++)
          values[r * C + c] = (1 - w) * s.values[(i - 1) * C + c] + w * s.values[i * C + c];
        times.push(g.stamps[j]);
        lines[r] = 0; // not in the file
        r++;
      }
      gi++;
    }
    values.set(s.values.subarray(i * C, (i + 1) * C), r * C);
    times.push(s.times[i]);
    lines[r] = s.lines[i];
    r++;
  }
  return { ...s, times, values, lines, timeGaps: total };
}

/** Linear fill of the NaNs of column c, in row position; edges take the nearest value. */
function interpolateColumn(
  values: Float64Array,
  n: number,
  C: number,
  c: number,
  source: string,
  name: string,
): void {
  let prev = -1;
  for (let r = 0; r <= n; r++) {
    if (r < n && Number.isNaN(values[r * C + c])) continue;
    // Rows prev+1 .. r-1 are missing; prev and r (when in range) hold values.
    if (r - prev > 1) {
      if (prev < 0 && r >= n) throw new DataError(`${source}: column '${name}' has no values`);
      for (let g = prev + 1; g < r; g++) {
        let v: number;
        if (prev < 0) v = values[r * C + c];
        else if (r >= n) v = values[prev * C + c];
        else {
          const a = values[prev * C + c];
          const b = values[r * C + c];
          v = a + ((b - a) * (g - prev)) / (r - prev);
        }
        values[g * C + c] = v;
      }
    }
    prev = r;
  }
}

function rowRange(field: string, rows: readonly [number, number], n: number): void {
  const [start, end] = rows;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > n || start >= end)
    throw new ConfigError(field, `row range [${start}, ${end}) is not inside [0, ${n}) or is empty`);
}

function columnMap(C: number, columns: readonly number[] | undefined): readonly number[] {
  if (columns === undefined) return Array.from({ length: C }, (_, i) => i);
  if (columns.length === 0) throw new ConfigError("columns", "empty column list");
  for (const c of columns)
    if (!Number.isInteger(c) || c < 0 || c >= C)
      throw new ConfigError("columns", `column index ${c} outside [0, ${C})`);
  return columns;
}

/**
 * Per-column standardisation z = (v − mean) / std, fitted on the training rows only so no
 * statistic leaks from validation or test. std is the population standard deviation (ddof 0).
 * A constant column (std 0) gets std 1, so it maps to 0 instead of dividing by zero; such
 * columns are listed in `constantColumns`.
 */
export class StandardScaler {
  readonly mean: Float64Array;
  readonly std: Float64Array;
  /** Columns whose training rows were constant (std replaced by 1). */
  readonly constantColumns: readonly number[];

  private constructor(mean: Float64Array, std: Float64Array, constant: number[]) {
    this.mean = mean;
    this.std = std;
    this.constantColumns = Object.freeze(constant);
  }

  /** Fits on rows [start, end) of `values` ([N, C] row-major). */
  static fit(values: ArrayLike<number>, C: number, rows: readonly [number, number]): StandardScaler {
    if (!Number.isInteger(C) || C < 1)
      throw new ConfigError("C", `must be a positive integer, got ${C}`);
    if (values.length % C !== 0)
      throw new ShapeError("values", [values.length / C, C], values.length, " for [N, C]");
    rowRange("rows", rows, values.length / C);
    const [start, end] = rows;
    const m = end - start;
    const mean = new Float64Array(C);
    const std = new Float64Array(C);
    const constant: number[] = [];
    for (let r = start; r < end; r++)
      for (let c = 0; c < C; c++) {
        const v = values[r * C + c];
        if (!Number.isFinite(v))
          throw new DataError(`row ${r}, column ${c} is ${v}; missing values must be filled first`);
        mean[c] += v;
      }
    for (let c = 0; c < C; c++) mean[c] /= m;
    for (let r = start; r < end; r++)
      for (let c = 0; c < C; c++) {
        const d = values[r * C + c] - mean[c];
        std[c] += d * d;
      }
    for (let c = 0; c < C; c++) {
      std[c] = Math.sqrt(std[c] / m);
      if (!(std[c] > 0)) {
        std[c] = 1;
        constant.push(c);
      }
    }
    return new StandardScaler(mean, std, constant);
  }

  /** Restores `toJSON()` output, validated by ScalerSchema (FormatError naming the field). */
  static fromJSON(json: unknown, source = "scaler"): StandardScaler {
    const { mean, std } = parseField(ScalerSchema, json, { source, where: "scaler" });
    return new StandardScaler(Float64Array.from(mean), Float64Array.from(std), []);
  }

  /** C: number of columns. */
  get size(): number {
    return this.mean.length;
  }

  /**
   * (v − mean) / std into `out` (default: in place). `columns[j]` is the scaler column of
   * position j of each row (default 0..C−1); rows are `columns.length` long, e.g. pass the target
   * column indices to scale [B, K·Ct] targets.
   */
  transform<A extends FloatArray>(values: A, out?: undefined, columns?: readonly number[]): A;
  transform<A extends FloatArray>(values: FloatArray, out: A, columns?: readonly number[]): A;
  transform(values: FloatArray, out?: FloatArray, columns?: readonly number[]): FloatArray {
    return this.apply(values, out ?? values, columns, false);
  }

  /** mean + std · z: undoes `transform`, e.g. on model predictions. Same layout rules. */
  inverse<A extends FloatArray>(values: A, out?: undefined, columns?: readonly number[]): A;
  inverse<A extends FloatArray>(values: FloatArray, out: A, columns?: readonly number[]): A;
  inverse(values: FloatArray, out?: FloatArray, columns?: readonly number[]): FloatArray {
    return this.apply(values, out ?? values, columns, true);
  }

  private apply(
    values: FloatArray,
    out: FloatArray,
    columns: readonly number[] | undefined,
    inverse: boolean,
  ): FloatArray {
    const cols = columnMap(this.size, columns);
    const P = cols.length;
    if (values.length % P !== 0)
      throw new ShapeError("values", [values.length / P, P], values.length, " for [rows, columns]");
    if (out.length !== values.length) throw new ShapeError("out", values.length, out.length);
    for (let i = 0; i < values.length; i += P)
      for (let j = 0; j < P; j++) {
        const c = cols[j];
        out[i + j] = inverse
          ? values[i + j] * this.std[c] + this.mean[c]
          : (values[i + j] - this.mean[c]) / this.std[c];
      }
    return out;
  }

  /** The per-column means and standard deviations, as stored in a model file's metadata. */
  toJSON(): { mean: number[]; std: number[] } {
    return { mean: [...this.mean], std: [...this.std] };
  }
}

/** Rows [start, end) of the training, validation and test parts, in time order. */
export interface SeriesSplit {
  train: [number, number];
  valid: [number, number];
  test: [number, number];
}

/**
 * Time-ordered contiguous split of N rows: train, then valid, then test (row ranges
 * [start, end)). Each positive fraction gets round(N·fraction) rows, at least 1; a zero
 * fraction gives an empty range. DataError when no training row is left.
 */
export function splitSeries(N: number, validFraction: number, testFraction: number): SeriesSplit {
  if (!Number.isInteger(N) || N < 1) throw new ConfigError("N", `must be a positive integer, got ${N}`);
  for (const [field, f] of [
    ["validFraction", validFraction],
    ["testFraction", testFraction],
  ] as const)
    if (!(f >= 0 && f < 1)) throw new ConfigError(field, `must be in [0, 1), got ${f}`);
  const nValid = validFraction > 0 ? Math.max(1, Math.round(N * validFraction)) : 0;
  const nTest = testFraction > 0 ? Math.max(1, Math.round(N * testFraction)) : 0;
  const nTrain = N - nValid - nTest;
  if (nTrain < 1)
    throw new DataError(
      `${N} rows leave no training rows after ${nValid} validation and ${nTest} test rows`,
    );
  return {
    train: [0, nTrain],
    valid: [nTrain, nTrain + nValid],
    test: [nTrain + nValid, N],
  };
}

/** How SeriesWindows cuts a series: window length, horizon, target columns and rows. */
export interface SeriesWindowOptions {
  /** T: input steps per window. */
  seqLen: number;
  /** K: future steps predicted per window. Default 1. */
  horizon?: number;
  /** Indices (into the C columns) of the predicted columns. Default all columns. */
  targetColumns?: readonly number[];
  /** Rows [start, end) whose values are the targets. */
  rows: readonly [number, number];
  /** Names the part in messages ("training", "validation", "test"). Default "training". */
  part?: string;
  /**
   * When true (use it for validation and test), a window's inputs may start up to seqLen rows
   * before `rows[0]` (in the earlier, already observed part) as long as its targets lie inside
   * `rows`, so a short split still has windows. When false (training), inputs and targets both
   * lie inside `rows`. Default false.
   */
  context?: boolean;
}

/**
 * Sliding windows over (scaled) [N, C] values for direct multi-horizon forecasting.
 *
 * Window i starts at row s = first + i (stride 1). Its input is rows [s, s+T), every column; its
 * target is rows [s+T, s+T+K) of the target columns, flattened step-major: y[k·Ct + j] is row
 * s+T+k, column targetColumns[j]. Targets always lie inside `rows`; see `context` for inputs.
 * A seq-to-one model with outputSize K·Ct reads the last step's state.
 */
export class SeriesWindows {
  readonly values: ArrayLike<number>;
  /** C */
  readonly columns: number;
  /** T */
  readonly seqLen: number;
  /** K */
  readonly horizon: number;
  readonly targetColumns: readonly number[];
  /** K·Ct: the model's output size. */
  readonly outputSize: number;
  /** Number of windows. */
  readonly count: number;
  /** Row of the first input of window 0. */
  readonly first: number;
  readonly rows: readonly [number, number];

  constructor(values: ArrayLike<number>, C: number, opts: SeriesWindowOptions) {
    if (!Number.isInteger(C) || C < 1)
      throw new ConfigError("C", `must be a positive integer, got ${C}`);
    if (values.length % C !== 0)
      throw new ShapeError("values", [values.length / C, C], values.length, " for [N, C]");
    const N = values.length / C;
    const T = opts.seqLen;
    const K = opts.horizon ?? 1;
    if (!Number.isInteger(T) || T < 1)
      throw new ConfigError("seqLen", `must be a positive integer, got ${T}`);
    if (!Number.isInteger(K) || K < 1)
      throw new ConfigError("horizon", `must be a positive integer, got ${K}`);
    const part = opts.part ?? "training";
    rowRange(`${part} rows`, opts.rows, N);
    const [start, end] = opts.rows;
    this.values = values;
    this.columns = C;
    this.seqLen = T;
    this.horizon = K;
    this.targetColumns = Object.freeze([...columnMap(C, opts.targetColumns)]);
    this.outputSize = K * this.targetColumns.length;
    this.rows = [start, end];
    this.first = opts.context ? Math.max(0, start - T) : start;
    this.count = Math.max(0, end - T - K - this.first + 1);
    if (this.count === 0) {
      const need = T + K - (start - this.first);
      const has = end - start;
      throw new DataError(
        opts.context
          ? `the ${part} part has ${has} row${has === 1 ? "" : "s"}; horizon ${K} needs at least ` +
              `${need} (inputs may use the ${start - this.first} rows before it, seqLen ${T})`
          : `the ${part} part has ${has} row${has === 1 ? "" : "s"}; seqLen ${T} + horizon ${K} ` +
              `needs at least ${need}`,
      );
    }
    for (let i = this.first * C; i < end * C; i++)
      if (!Number.isFinite(values[i]))
        throw new DataError(
          `row ${Math.floor(i / C)}, column ${i % C} is ${values[i]}; fill missing values first`,
        );
  }

  /** Row of the first input step of window i. */
  windowStart(i: number): number {
    return this.first + i;
  }

  /** Row of the first target step of window i (its forecast origin + 1). */
  targetRow(i: number): number {
    return this.first + i + this.seqLen;
  }

  /**
   * Fills a batch of B = indices.length windows without allocating: x is [T, B, C] time-major,
   * y is [B, K·Ct].
   */
  fill(indices: ArrayLike<number>, x: FloatArray, y: FloatArray): void {
    const { seqLen: T, columns: C, outputSize: O, horizon: K, values, targetColumns } = this;
    const B = indices.length;
    const Ct = targetColumns.length;
    if (B === 0) throw new ConfigError("indices", "empty batch");
    if (x.length !== T * B * C) throw new ShapeError("x", [T, B, C], x.length, " for [T, B, C]");
    if (y.length !== B * O) throw new ShapeError("y", [B, O], y.length, " for [B, K·Ct]");
    for (let b = 0; b < B; b++) {
      const i = indices[b];
      if (!Number.isInteger(i) || i < 0 || i >= this.count)
        throw new ConfigError("indices", `window ${i} at position ${b} outside [0, ${this.count})`);
      const s = this.first + i;
      for (let t = 0; t < T; t++) {
        const src = (s + t) * C;
        const dst = (t * B + b) * C;
        for (let c = 0; c < C; c++) x[dst + c] = values[src + c];
      }
      for (let k = 0; k < K; k++) {
        const src = (s + T + k) * C;
        const dst = b * O + k * Ct;
        for (let j = 0; j < Ct; j++) y[dst + j] = values[src + targetColumns[j]];
      }
    }
  }

  /** 0..count−1 in a random order (Fisher–Yates driven by the seeded `rng`: deterministic). */
  shuffledOrder(rng: Rng): Int32Array {
    const order = new Int32Array(this.count);
    for (let i = 0; i < order.length; i++) order[i] = i;
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    return order;
  }
}

/**
 * Windows for a split: training windows inside `split.train`; validation and test windows with
 * targets inside their range and inputs allowed to reach back (context). null for an empty range.
 */
export function seriesWindowsForSplit(
  values: ArrayLike<number>,
  C: number,
  split: SeriesSplit,
  opts: Omit<SeriesWindowOptions, "rows" | "part" | "context">,
): { train: SeriesWindows; valid: SeriesWindows | null; test: SeriesWindows | null } {
  const make = (rows: [number, number], part: string, context: boolean): SeriesWindows | null =>
    rows[1] > rows[0] ? new SeriesWindows(values, C, { ...opts, rows, part, context }) : null;
  const train = make(split.train, "training", false);
  if (train === null) throw new DataError("the training part has 0 rows");
  return {
    train,
    valid: make(split.valid, "validation", true),
    test: make(split.test, "test", true),
  };
}
