/**
 * The preprocessing of a forecaster's training data, shared by `lstm train-series` and the
 * worker's series job so both train on the same windows and save the same metadata: the log
 * transform, the time-ordered split, the scaler fitted on the training rows only, the windows.
 *
 * Letters: N rows, C columns, T window, K horizon, Ct target columns.
 */
import {
  seriesWindowsForSplit,
  splitSeries,
  StandardScaler,
  type CsvSeries,
  type MissingPolicy,
  type SeriesSplit,
  type SeriesWindows,
} from "../data/series.js";
import type { SeriesMetaJson } from "../io/schemas.js";
import { ConfigError } from "../tensor/errors.js";
import { applyTransform } from "./forecast.js";

/** What `prepareSeries` reads and how (the train-series flags of the same names). */
export interface SeriesSetupOptions {
  /** Names the data in messages (a file name). */
  source: string;
  /** Names of the target columns, each one of `series.columns`. */
  targets: readonly string[];
  validFraction: number;
  testFraction: number;
  transform: "none" | "log";
  /** T and K. */
  seqLen: number;
  horizon: number;
  relative: boolean;
  /** Recorded in the metadata (how `series` was read). */
  missing: MissingPolicy;
  /** A scaler to keep (fine-tuning, resuming) instead of fitting one on the training rows. */
  scaler?: StandardScaler;
}

/** Windows, scaler and split of a series, and the `series` metadata a model file stores. */
export interface PreparedSeries {
  windows: { train: SeriesWindows; valid: SeriesWindows | null; test: SeriesWindows | null };
  scaler: StandardScaler;
  split: SeriesSplit;
  meta: SeriesMetaJson;
}

/**
 * Transforms, splits, scales (fitted on the training rows unless `opts.scaler`) and windows
 * `series`. ConfigError naming `targets` for a target that is not a column; DataError for data
 * too short for the split or window.
 */
export function prepareSeries(
  series: Pick<CsvSeries, "columns" | "values" | "times" | "timeColumn">,
  opts: SeriesSetupOptions,
): PreparedSeries {
  const { columns } = series;
  const C = columns.length;
  const targetColumns = opts.targets.map((t) => {
    const i = columns.indexOf(t);
    if (i < 0)
      throw new ConfigError("targets", `${t} must be one of the columns (${columns.join(", ")})`);
    return i;
  });
  const N = series.values.length / C;
  const split = splitSeries(N, opts.validFraction, opts.testFraction);
  const transformed = applyTransform(
    { transform: opts.transform, columns },
    Float64Array.from(series.values),
    opts.source,
  );
  const scaler = opts.scaler ?? StandardScaler.fit(transformed, C, split.train);
  const windows = seriesWindowsForSplit(scaler.transform(transformed), C, split, {
    seqLen: opts.seqLen,
    horizon: opts.horizon,
    targetColumns,
  });
  const meta: SeriesMetaJson = {
    columns: [...columns],
    targetColumns: [...opts.targets],
    timeColumn: series.timeColumn,
    horizon: opts.horizon,
    seqLen: opts.seqLen,
    scaler: scaler.toJSON(),
    transform: opts.transform,
    relative: opts.relative,
    missing: opts.missing,
    rows: N,
    split,
    lastTime: series.times ? series.times[series.times.length - 1] : null,
  };
  return { windows, scaler, split, meta };
}
