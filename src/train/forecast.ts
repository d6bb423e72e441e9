/**
 * Forecasting with a trained series model, in the data's own units: the scaler saved with the
 * model standardises the inputs and un-standardises the outputs. Beyond the model's horizon K
 * the forecast continues recursively (its own predictions become inputs), which needs every
 * input column to be a target column.
 *
 * Letters: T window, C input columns, K horizon, Ct target columns, N rows.
 */
import { StandardScaler } from "../data/series.js";
import { checkSeriesColumns, parseField, SeriesMetaSchema } from "../io/schemas.js";
import type { LstmModel } from "../model/model.js";
import { StreamSession } from "../model/stream.js";
import { ConfigError, DataError, FormatError } from "../tensor/errors.js";

/** What a series model file records about its data: columns, horizon, window length, scaler, transform and split. */
export interface SeriesMeta {
  columns: string[];
  targetColumns: string[];
  timeColumn: string | null;
  horizon: number;
  seqLen: number;
  scaler: StandardScaler;
  /** Row ranges of the training data's splits, and its row count. */
  split: { train: [number, number]; valid: [number, number]; test: [number, number] } | null;
  rows: number | null;
  /** "log": the model saw log(values) (all positive). */
  transform: "none" | "log";
  /** The model predicts changes from the window's last value. */
  relative: boolean;
}

/** Applies the model's input transform (log) to raw values, in place. */
export function applyTransform(
  sm: Pick<SeriesMeta, "transform" | "columns">,
  values: Float64Array,
  source = "data",
): Float64Array {
  if (sm.transform !== "log") return values;
  const C = sm.columns.length;
  for (let i = 0; i < values.length; i++) {
    if (!(values[i] > 0))
      throw new DataError(
        `${source}: row ${Math.floor(i / C) + 1}, column '${sm.columns[i % C]}' is ${values[i]}; --transform log needs positive values`,
      );
    values[i] = Math.log(values[i]);
  }
  return values;
}

/**
 * Reads a model's series metadata (SeriesMetaSchema), checks its columns, targets and scaler
 * against each other, and builds the scaler. The loader has also checked it against the weights.
 */
export function readSeriesMeta(raw: unknown, source: string): SeriesMeta {
  if (raw === undefined || raw === null)
    throw new FormatError(source, "not a series model (no series metadata)");
  const s = parseField(SeriesMetaSchema, raw, { source, where: "series" });
  const targetColumns = checkSeriesColumns(s, source);
  return {
    columns: s.columns,
    targetColumns,
    timeColumn: s.timeColumn,
    horizon: s.horizon,
    seqLen: s.seqLen,
    scaler: StandardScaler.fromJSON(s.scaler, `${source}: series`),
    split: checkSplit(s.split, s.rows, source),
    rows: s.rows,
    transform: s.transform,
    relative: s.relative,
  };
}

/** series.split: row ranges [start, end) in order, each inside series.rows (or null when absent). */
function checkSplit(
  split: SeriesMeta["split"],
  rows: number | null,
  source: string,
): SeriesMeta["split"] {
  if (split === null) return null;
  const limit = rows ?? Infinity;
  let prevEnd = 0;
  for (const part of ["train", "valid", "test"] as const) {
    const r = split[part];
    if (r[0] < prevEnd || r[1] < r[0] || r[1] > limit)
      throw new FormatError(
        source,
        `series.split.${part} must be [start, end) rows after the previous part and within series.rows (${limit}), got ${JSON.stringify(r)}`,
      );
    prevEnd = r[1];
  }
  return split;
}

/**
 * Predicts the next `steps` rows of the target columns after row `origin` − 1 (default: after
 * the last row), from the T rows before it. Returns [steps, Ct] in data units.
 */
export function forecastSeries(
  model: LstmModel,
  sm: SeriesMeta,
  values: Float64Array,
  steps: number,
  origin = values.length / sm.columns.length,
): Float64Array {
  const C = sm.columns.length;
  const T = sm.seqLen;
  const K = sm.horizon;
  const Ct = sm.targetColumns.length;
  if (!Number.isInteger(steps) || steps < 1)
    throw new ConfigError("horizon", `must be a positive integer, got ${steps}`);
  if (origin < T)
    throw new DataError(
      `forecasting needs the ${T} rows before the forecast origin; the data has ${origin}`,
    );
  const targetIdx = sm.targetColumns.map((c) => sm.columns.indexOf(c));
  const recursive = steps > K;
  if (recursive && (Ct !== C || targetIdx.some((j, i) => j !== i)))
    throw new ConfigError(
      "horizon",
      `the model forecasts ${K} steps; longer forecasts feed predictions back as inputs, which needs every input column to be a target`,
    );
  // The window, transformed and scaled: [T, 1, C] time-major with B = 1.
  const window = Float64Array.from(values.subarray((origin - T) * C, origin * C));
  applyTransform(sm, window);
  sm.scaler.transform(window);
  const out = new Float64Array(steps * Ct);
  let done = 0;
  // Each window runs from a zero state through a streaming session; the head output of its last
  // step is the forecast (what readout "last" computes; a bidirectional model needs that).
  const session = model.config.bidirectional ? null : new StreamSession(model, { rows: 1 });
  const O = model.config.outputSize;
  while (done < steps) {
    session?.reset();
    const last = session
      ? session.step(window, T).subarray((T - 1) * O, T * O)
      : model.forward(window, { seqLen: T, batch: 1, readout: "last" }).output;
    const take = Math.min(K, steps - done);
    const pred = Float64Array.from(last.subarray(0, take * Ct)); // [take, Ct] scaled
    if (sm.relative)
      for (let h = 0; h < take; h++)
        for (let j = 0; j < Ct; j++) pred[h * Ct + j] += window[(T - 1) * C + targetIdx[j]];
    if (recursive) {
      // Slide the window: drop `take` rows, append the predicted rows (still scaled; here every
      // column is a target, so a predicted row is a full input row). When more rows were
      // predicted than the window holds, it keeps the last T of them.
      if (take >= T) window.set(pred.subarray((take - T) * C, take * C), 0);
      else {
        window.copyWithin(0, take * C);
        window.set(pred, (T - take) * C);
      }
    }
    sm.scaler.inverse(pred, undefined, targetIdx);
    if (sm.transform === "log") for (let i = 0; i < pred.length; i++) pred[i] = Math.exp(pred[i]);
    out.set(pred, done * Ct);
    done += take;
  }
  return out;
}

/** Forecast errors in data units. */
export interface ErrorMetrics {
  rmse: number;
  mae: number;
  /** Mean absolute percentage error, in percent (entries whose actual value is 0 are skipped). */
  mape: number;
}

/** A forecaster's errors on a part of a series, beside the last-value and seasonal-naive baselines. */
export interface ForecastEvaluation extends ErrorMetrics {
  windows: number;
  rows: [number, number];
  baselines: { lastValue: ErrorMetrics; seasonalNaive: (ErrorMetrics & { season: number }) | null };
}

class Accumulator {
  private se = 0;
  private ae = 0;
  private ape = 0;
  private n = 0;
  private nPct = 0;
  add(pred: number, actual: number): void {
    const e = pred - actual;
    this.se += e * e;
    this.ae += Math.abs(e);
    this.n++;
    if (actual !== 0) {
      this.ape += Math.abs(e / actual);
      this.nPct++;
    }
  }
  result(): ErrorMetrics {
    return {
      rmse: Math.sqrt(this.se / this.n),
      mae: this.ae / this.n,
      mape: (100 * this.ape) / Math.max(1, this.nPct),
    };
  }
}

/**
 * Forecast errors over every window whose K targets lie in rows [start, end) (inputs may come
 * from earlier rows), in data units, beside two baselines: the last observed value repeated,
 * and seasonal naive with period `season` (ŷ[t+h] = y[t+h − m·⌈h/m⌉]).
 */
export function evaluateForecasts(
  model: LstmModel,
  sm: SeriesMeta,
  values: Float64Array,
  rows: [number, number],
  season: number | null,
): ForecastEvaluation {
  const C = sm.columns.length;
  const T = sm.seqLen;
  const K = sm.horizon;
  const targetIdx = sm.targetColumns.map((c) => sm.columns.indexOf(c));
  const first = Math.max(rows[0], T); // first forecast origin
  const last = rows[1] - K; // last origin whose targets fit
  if (last < first)
    throw new DataError(
      `no complete forecast window in rows ${rows[0]}–${rows[1] - 1} (window ${T}, horizon ${K})`,
    );
  const model_ = new Accumulator();
  const lastValue = new Accumulator();
  const seasonal = season !== null && season >= 1 && first - season >= 0 ? new Accumulator() : null;
  for (let origin = first; origin <= last; origin++) {
    const pred = forecastSeries(model, sm, values, K, origin);
    for (let h = 0; h < K; h++)
      targetIdx.forEach((c, j) => {
        const actual = values[(origin + h) * C + c];
        model_.add(pred[h * targetIdx.length + j], actual);
        lastValue.add(values[(origin - 1) * C + c], actual);
        if (seasonal) {
          const back = season! * Math.ceil((h + 1) / season!);
          seasonal.add(values[(origin + h - back) * C + c], actual);
        }
      });
  }
  return {
    ...model_.result(),
    windows: last - first + 1,
    rows: [first, rows[1]],
    baselines: {
      lastValue: lastValue.result(),
      seasonalNaive: seasonal ? { ...seasonal.result(), season: season! } : null,
    },
  };
}

/** The time step of a column of time stamps, to label future rows. */
export function nextTimes(times: string[], steps: number): string[] {
  const n = times.length;
  const last = times[n - 1];
  const month = /^(\d{4})-(\d{2})$/;
  const date = /^(\d{4})-?(\d{2})-?(\d{2})$/;
  const label = (i: number): string => `+${i + 1}`;
  if (n >= 2 && times.every((t) => month.test(t))) {
    const m = (t: string): number => {
      const [, y, mo] = month.exec(t)!;
      return Number(y) * 12 + Number(mo) - 1;
    };
    const step = m(last) - m(times[n - 2]) || 1;
    return Array.from({ length: steps }, (_, i) => {
      const v = m(last) + step * (i + 1);
      return `${Math.floor(v / 12)}-${String((v % 12) + 1).padStart(2, "0")}`;
    });
  }
  if (n >= 2 && times.every((t) => date.test(t))) {
    const dash = last.includes("-");
    const parse = (t: string): Date => {
      const [, y, mo, d] = date.exec(t)!;
      return new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
    };
    const fmt = (d: Date): string => {
      const s = [
        d.getUTCFullYear(),
        String(d.getUTCMonth() + 1).padStart(2, "0"),
        String(d.getUTCDate()).padStart(2, "0"),
      ];
      return dash ? s.join("-") : s.join("");
    };
    const a = parse(times[n - 2]);
    const b = parse(last);
    const monthly = a.getUTCDate() === b.getUTCDate() && a.getUTCMonth() !== b.getUTCMonth();
    if (monthly) {
      const step =
        (b.getUTCFullYear() - a.getUTCFullYear()) * 12 + b.getUTCMonth() - a.getUTCMonth();
      return Array.from({ length: steps }, (_, i) =>
        fmt(
          new Date(Date.UTC(b.getUTCFullYear(), b.getUTCMonth() + step * (i + 1), b.getUTCDate())),
        ),
      );
    }
    const days = Math.round((b.getTime() - a.getTime()) / 86400000) || 1;
    return Array.from({ length: steps }, (_, i) =>
      fmt(new Date(b.getTime() + days * (i + 1) * 86400000)),
    );
  }
  if (n >= 2 && times.every((t) => /^-?\d+(\.\d+)?$/.test(t))) {
    const step = Number(last) - Number(times[n - 2]) || 1;
    const dec = Math.max(...[last, times[n - 2]].map((t) => (t.split(".")[1] ?? "").length));
    return Array.from({ length: steps }, (_, i) => (Number(last) + step * (i + 1)).toFixed(dec));
  }
  return Array.from({ length: steps }, (_, i) => label(i));
}

/** A season length guessed from the time stamps: 12 for months, 52 for weeks, 7 for days. */
export function guessSeason(times: string[] | null): number | null {
  if (!times || times.length < 2) return null;
  const next = nextTimes(times.slice(-2), 1)[0];
  if (/^\d{4}-\d{2}$/.test(times[0])) return 12;
  const d = (t: string): number => {
    const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(t);
    return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  };
  const a = d(times[times.length - 1]);
  const b = d(next);
  if (Number.isNaN(a) || Number.isNaN(b)) return null;
  const days = Math.round((b - a) / 86400000);
  if (days >= 28 && days <= 31) return 12;
  if (days === 7) return 52;
  if (days === 1) return 7;
  return null;
}
