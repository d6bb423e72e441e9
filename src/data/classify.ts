/**
 * Sequence classification data: a CSV with one sequence and one class label per row, read into
 * character sequences (one step per Unicode code point) or numeric sequences, a label vocabulary,
 * a seeded stratified validation split and a "last rows" test split, class weights, and padded
 * batches with per-row lengths, bucketed by length so padding costs little. Browser-safe.
 *
 * Numeric cells: `1.5;2;-3` (one feature per step, `;`-separated), or a JSON array: `[1.5, 2, -3]`
 * (one feature per step) or `[[1, 0.5], [2, 0.25]]` (F features per step). docs/classification.md
 * has the details.
 *
 * Letters: N rows, C classes, V vocabulary size including the padding id 0, T steps (the longest
 * row of a batch), B rows in a batch, F features per step.
 */
import { findColumn, parseCsvTable, quoteCell } from "./csv.js";
import { StandardScaler } from "./series.js";
import { describeChar, Vocab, type UnknownPolicy } from "./text.js";
import { allocFloat, type DType, type FloatArray } from "../tensor/dtype.js";
import { ConfigError, DataError, FormatError } from "../tensor/errors.js";
import { Rng } from "../tensor/rng.js";

/** "chars": each cell is text, one step per code point. "numbers": each cell is numbers. */
export type SequenceKind = "chars" | "numbers";

/** Which columns of a classification CSV hold the sequence and the label, and how cells are read. */
export interface ClassifyCsvOptions {
  /** Column holding the sequences (header name, exact). */
  textColumn: string;
  /** Column holding the class labels (header name, exact). */
  labelColumn: string;
  /** Default "chars". */
  kind?: SequenceKind;
}

/** The rows of a classification CSV as read: labels as text, no vocabulary yet. */
export interface ClassifyTable {
  source: string;
  kind: SequenceKind;
  textColumn: string;
  labelColumn: string;
  /** [N] the sequence cells (trimmed). */
  texts: string[];
  /** [N] for "numbers": row i's values, [len_i · F] step-major; null for "chars". */
  numbers: Float64Array[] | null;
  /** F: features per step (1 for characters). */
  features: number;
  /** [N] label cells (trimmed). */
  labels: string[];
  /** [N] 1-based file line of each row (for messages). */
  lines: Int32Array;
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * The numbers of one cell, [len · F] step-major, and F: `1;2.5;-3`, `[1, 2.5, -3]` or
 * `[[1, 0], [2.5, 1]]`. DataError prefixed by `at` (e.g. "data.csv line 4, column 'x'") on an
 * empty sequence, a malformed array, a ragged step or a value that is not a finite number.
 */
export function parseNumberSequence(cell: string, at: string): { values: Float64Array; features: number } {
  try {
    return parseNumberCell(cell.trim());
  } catch (e) {
    throw new DataError(`${at}: ${(e as Error).message}`);
  }
}

function parseNumberCell(cell: string): { values: Float64Array; features: number } {
  if (cell.startsWith("[")) {
    let json: unknown;
    try {
      json = JSON.parse(cell);
    } catch {
      throw new Error(`${quoteCell(cell)} is not a JSON array`);
    }
    if (!Array.isArray(json)) throw new Error(`${quoteCell(cell)} is not a JSON array`);
    if (json.length === 0) throw new Error("empty sequence");
    const nested = Array.isArray(json[0]);
    const F = nested ? (json[0] as unknown[]).length : 1;
    if (F === 0) throw new Error("step 0 has no features");
    const values = new Float64Array(json.length * F);
    json.forEach((step: unknown, t) => {
      const row = nested ? step : [step];
      if (!Array.isArray(row) || row.length !== F)
        throw new Error(
          `step ${t} is ${JSON.stringify(step)}, expected ${nested ? `an array of ${F} numbers` : "a number"}`,
        );
      row.forEach((v: unknown, f) => {
        if (typeof v !== "number" || !Number.isFinite(v))
          throw new Error(`step ${t}${nested ? `, feature ${f}` : ""} is ${JSON.stringify(v)}, expected a finite number`);
        values[t * F + f] = v;
      });
    });
    return { values, features: F };
  }
  const parts = cell.split(";").map((p) => p.trim());
  if (parts.length === 1 && parts[0] === "") throw new Error("empty sequence");
  const values = new Float64Array(parts.length);
  parts.forEach((p, t) => {
    const v = NUMBER.test(p) ? Number(p) : NaN;
    if (!Number.isFinite(v))
      throw new Error(`step ${t} ${quoteCell(p)} is ${NUMBER.test(p) ? "out of range" : "not a number"}`);
    values[t] = v;
  });
  return { values, features: 1 };
}

/**
 * Reads a classification CSV. DataError naming the file (and line, column) on: an empty file or
 * one without data rows, a missing or repeated column, an empty sequence or label, a numeric cell
 * that does not parse, rows with different feature counts, fewer than 2 distinct labels.
 */
export function parseClassifyCsv(text: string, source: string, opts: ClassifyCsvOptions): ClassifyTable {
  const kind = opts.kind ?? "chars";
  if (kind !== "chars" && kind !== "numbers")
    throw new ConfigError("kind", `expected "chars" or "numbers", got ${JSON.stringify(kind)}`);
  if (opts.textColumn === opts.labelColumn)
    throw new ConfigError("labelColumn", `'${opts.labelColumn}' is also the text column`);
  const { header, rows } = parseCsvTable(text, source);
  const ti = findColumn(header, opts.textColumn, source, "text column");
  const li = findColumn(header, opts.labelColumn, source, "label column");
  const N = rows.length;
  const texts: string[] = new Array<string>(N);
  const labels: string[] = new Array<string>(N);
  const lines = new Int32Array(N);
  const numbers: Float64Array[] | null = kind === "numbers" ? [] : null;
  let features = kind === "chars" ? 1 : 0;
  let featuresLine = 0;
  for (let r = 0; r < N; r++) {
    const { record, info } = rows[r];
    const at = `${source} line ${info.lines}`;
    texts[r] = record[ti].trim();
    labels[r] = record[li].trim();
    lines[r] = info.lines;
    if (texts[r] === "") throw new DataError(`${at}: empty sequence in text column '${opts.textColumn}'`);
    if (labels[r] === "") throw new DataError(`${at}: empty label in label column '${opts.labelColumn}'`);
    if (numbers) {
      const cell = parseNumberSequence(texts[r], `${at}, column '${opts.textColumn}'`);
      if (features === 0) {
        features = cell.features;
        featuresLine = info.lines;
      } else if (cell.features !== features)
        throw new DataError(
          `${at}, column '${opts.textColumn}': ${cell.features} feature${cell.features === 1 ? "" : "s"} per step, ` +
            `but line ${featuresLine} has ${features}`,
        );
      numbers.push(cell.values);
    }
  }
  const table: ClassifyTable = {
    source,
    kind,
    textColumn: opts.textColumn,
    labelColumn: opts.labelColumn,
    texts,
    numbers,
    features,
    labels,
    lines,
  };
  classNames(table); // fails early on a single class
  return table;
}

/**
 * The label vocabulary: the distinct labels sorted by UTF-16 code units (deterministic class ids,
 * independent of row order). DataError when there are fewer than 2.
 */
export function classNames(table: Pick<ClassifyTable, "labels" | "source" | "labelColumn">): string[] {
  const names = [...new Set(table.labels)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (names.length < 2)
    throw new DataError(
      `${table.source}: every row has the label ${quoteCell(names[0] ?? "")} in column ` +
        `'${table.labelColumn}'; classification needs at least 2 classes`,
    );
  return names;
}

/** Class id of every label (index into `classes`); DataError naming the first unknown label. */
export function classIdsOf(labels: readonly string[], classes: readonly string[], source = "labels"): Int32Array {
  const id = new Map(classes.map((c, i) => [c, i]));
  return Int32Array.from(labels, (l, r) => {
    const c = id.get(l);
    if (c === undefined)
      throw new DataError(`${source}: row ${r} has the label ${quoteCell(l)}, not one of ${classes.join(", ")}`);
    return c;
  });
}

// ---------------------------------------------------------------------------------------------
// Splits and class weights

/** How rows are split into training, validation and test sets (seeded, stratified). */
export interface ClassifySplitOptions {
  /**
   * Fraction of each class's non-test rows held out for validation, drawn at random with `seed`
   * (stratified: every class keeps its share, rounded per class; a class always keeps at least one
   * training row). Default 0.
   */
  validFraction?: number;
  /**
   * The last round(N · testFraction) rows of the file are the test split (file order, not
   * stratified: use it when the rows are already shuffled). Default 0.
   */
  testFraction?: number;
  /** Seed of the validation draw. Default 0. */
  seed?: number;
}

/** Row indices of each part, ascending. */
export interface ClassifySplit {
  train: Int32Array;
  valid: Int32Array;
  test: Int32Array;
}

/**
 * Splits N rows with class ids `classIds` ([N], values in [0, C)). DataError when a class has no
 * training row (e.g. all its rows fall in the test part).
 */
export function splitClassification(
  classIds: Int32Array,
  classes: readonly string[],
  opts: ClassifySplitOptions = {},
): ClassifySplit {
  const validFraction = opts.validFraction ?? 0;
  const testFraction = opts.testFraction ?? 0;
  for (const [field, f] of [
    ["validFraction", validFraction],
    ["testFraction", testFraction],
  ] as const)
    if (!(f >= 0 && f < 1)) throw new ConfigError(field, `must be in [0, 1), got ${f}`);
  const N = classIds.length;
  const C = classes.length;
  checkClassIds(classIds, C);
  const nTest = Math.round(N * testFraction);
  const rest = N - nTest;
  const byClass: number[][] = Array.from({ length: C }, () => []);
  for (let r = 0; r < rest; r++) byClass[classIds[r]].push(r);
  const rng = new Rng(opts.seed ?? 0);
  const isValid = new Uint8Array(N);
  byClass.forEach((rows, c) => {
    if (rows.length === 0)
      throw new DataError(
        `class '${classes[c]}' has no training rows` +
          (nTest > 0 ? ` (all its rows are in the last ${nTest} rows, the test part)` : ""),
      );
    const nValid = Math.min(rows.length - 1, Math.round(rows.length * validFraction));
    // Partial Fisher–Yates: the first nValid positions become a uniform random subset.
    for (let i = 0; i < nValid; i++) {
      const j = i + rng.int(rows.length - i);
      [rows[i], rows[j]] = [rows[j], rows[i]];
      isValid[rows[i]] = 1;
    }
  });
  const train: number[] = [];
  const valid: number[] = [];
  for (let r = 0; r < rest; r++) (isValid[r] ? valid : train).push(r);
  return {
    train: Int32Array.from(train),
    valid: Int32Array.from(valid),
    test: Int32Array.from({ length: nTest }, (_, i) => rest + i),
  };
}

function checkClassIds(classIds: Int32Array, C: number): void {
  for (let r = 0; r < classIds.length; r++)
    if (classIds[r] < 0 || classIds[r] >= C)
      throw new ConfigError("classIds", `row ${r} has class id ${classIds[r]}, outside [0, ${C})`);
}

/** [C] rows of each class among `rows` (all rows when omitted). */
export function classCounts(classIds: Int32Array, C: number, rows?: ArrayLike<number>): Float64Array {
  checkClassIds(classIds, C);
  const counts = new Float64Array(C);
  const n = rows ? rows.length : classIds.length;
  for (let i = 0; i < n; i++) counts[classIds[rows ? rows[i] : i]]++;
  return counts;
}

/**
 * Inverse-frequency class weights over `rows` (the training rows): w_c = n / (C · n_c), so the
 * weighted mean over the rows is 1 and every class carries the same total weight (scikit-learn's
 * "balanced"). DataError when a class has no row.
 */
export function inverseFrequencyWeights(
  classIds: Int32Array,
  classes: readonly string[],
  rows?: ArrayLike<number>,
): Float64Array {
  const C = classes.length;
  const counts = classCounts(classIds, C, rows);
  const n = rows ? rows.length : classIds.length;
  return counts.map((k, c) => {
    if (k === 0) throw new DataError(`class '${classes[c]}' has no rows; its weight would be infinite`);
    return n / (C * k);
  });
}

// ---------------------------------------------------------------------------------------------
// Character vocabulary with a padding id

/** How a sequence vocabulary encodes text (unknown characters: error or skip). */
export interface SequenceEncodeOptions {
  /** "error" (default): DataError naming the first unseen character. "skip": drop it. */
  unknown?: UnknownPolicy;
  /** Names the text in messages: "data.csv line 12", "input 3". */
  source?: string;
}

/**
 * Code-point vocabulary for embedding input: id 0 is padding (use `padding_idx` 0), characters
 * have ids 1 … V−1 in code-point order. Built from the training rows only. Texts are taken in
 * Unicode NFC, so a decomposed "é" typed at prediction time matches the composed one.
 */
export class SequenceVocab {
  /** The padding id. */
  static readonly PAD = 0;
  /** The characters: `chars.chars[i]` has id i + 1. */
  private readonly chars: Vocab;

  private constructor(chars: Vocab) {
    this.chars = chars;
  }

  /** Every distinct character of `texts[r]` for r in `rows` (all rows when omitted). */
  static fromTexts(texts: readonly string[], rows?: ArrayLike<number>, source?: string): SequenceVocab {
    const picked = rows ? Array.from(rows, (r) => texts[r]) : texts;
    return new SequenceVocab(Vocab.fromText(picked.join("").normalize("NFC"), source));
  }

  /** Restores `toJSON()` output (the characters of ids 1 … V−1, in order). */
  static fromJSON(json: unknown, source = "vocab"): SequenceVocab {
    return new SequenceVocab(Vocab.fromJSON(json, source));
  }

  /** V: embedding rows, the padding row included. */
  get size(): number {
    return this.chars.size + 1;
  }

  /** Whether the character `ch` (one code point, NFC) has an id. */
  has(ch: string): boolean {
    return this.chars.has(ch);
  }

  /** The character of id (1 … V−1); "" for the padding id. */
  charOf(id: number): string {
    if (id === SequenceVocab.PAD) return "";
    return this.chars.decode([id - 1]);
  }

  /**
   * Ids (≥ 1) of the characters of `text`. Unseen characters: a DataError naming them and the
   * position (default), or dropped with `unknown: "skip"`. A text with no known character left
   * is a DataError either way (an empty sequence cannot be classified).
   */
  encode(text: string, opts: SequenceEncodeOptions = {}): Int32Array {
    return this.encodeWithReport(text, opts).ids;
  }

  /** As `encode`, also returning the dropped characters and their counts. */
  encodeWithReport(
    text: string,
    opts: SequenceEncodeOptions = {},
  ): { ids: Int32Array; skipped: Map<string, number>; skippedTotal: number } {
    const unknown = opts.unknown ?? "error";
    if (unknown !== "error" && unknown !== "skip")
      throw new ConfigError("unknown", `expected "error" or "skip", got ${JSON.stringify(unknown)}`);
    const at = opts.source ? `${opts.source}: ` : "";
    text = text.normalize("NFC");
    const report = this.chars.encodeWithReport(text);
    if (unknown === "error" && report.skippedTotal > 0) {
      const cps = Array.from(text);
      const pos = cps.findIndex((ch) => !this.chars.has(ch));
      const distinct = [...report.skipped.keys()];
      throw new DataError(
        `${at}character ${describeChar(cps[pos])} at position ${pos} of ${quoteCell(text)} is not in ` +
          `the vocabulary (${distinct.length} unseen: ${distinct.slice(0, 10).map(describeChar).join(", ")}` +
          `${distinct.length > 10 ? ", …" : ""}); use unknown "skip" (--unknown skip) to drop unseen characters`,
      );
    }
    if (report.ids.length === 0)
      throw new DataError(
        `${at}${text === "" ? "empty sequence" : `no character of ${quoteCell(text)} is in the vocabulary`}`,
      );
    const ids = report.ids;
    for (let i = 0; i < ids.length; i++) ids[i] += 1;
    return { ids, skipped: report.skipped, skippedTotal: report.skippedTotal };
  }

  /** The characters of ids 1 … V−1 (padding is implicit); `SequenceVocab.fromJSON` restores them. */
  toJSON(): string[] {
    return this.chars.toJSON();
  }
}

// ---------------------------------------------------------------------------------------------
// A prepared data set

/** Options of `prepareClassification`: the split, and whether to weight classes. */
export interface PrepareOptions extends ClassifySplitOptions {
  /** Compute inverse-frequency class weights on the training rows. Default false. */
  classWeights?: boolean;
  /**
   * A model's preprocessing to keep (fine-tuning, resuming): its classes, and its vocabulary or
   * scaler instead of those of the training rows. A label outside its classes, or a training row
   * with a character outside its vocabulary, is a DataError naming the line; `source` names the
   * model in those messages.
   */
  keep?: { classifier: RestoredClassifier; source: string };
}

/** The class ids of `table`'s rows in `classes` (a model's): DataError naming the first unknown label's line. */
function keptClassIds(table: ClassifyTable, classes: readonly string[], model: string): Int32Array {
  const id = new Map(classes.map((c, i) => [c, i]));
  return Int32Array.from(table.labels, (label, r) => {
    const c = id.get(label);
    if (c === undefined)
      throw new DataError(
        `${table.source} line ${table.lines[r]}: label ${quoteCell(label)} is not one of the classes of ${model} ` +
          `(${classes.join(", ")})`,
      );
    return c;
  });
}

/** A training row's ids in a kept vocabulary: DataError naming the first unknown character. */
function encodeKept(vocab: SequenceVocab, text: string, at: string, model: string): Int32Array {
  const cps = Array.from(text.normalize("NFC"));
  const pos = cps.findIndex((ch) => !vocab.has(ch));
  if (pos >= 0)
    throw new DataError(
      `${at}: character ${describeChar(cps[pos])} at position ${pos} of ${quoteCell(text)} is not in the ` +
        `vocabulary of ${model} (a fine-tuned classifier keeps its vocabulary)`,
    );
  return vocab.encode(text, { source: at });
}

/** A classification data set ready for training: encoded sequences, labels, splits and vocabularies. */
export interface ClassificationData {
  table: ClassifyTable;
  /** [C] label vocabulary. */
  classes: string[];
  /** [N] class id of each row. */
  classIds: Int32Array;
  split: ClassifySplit;
  /** Character vocabulary of the training rows ("chars"), else null. */
  vocab: SequenceVocab | null;
  /** Per-feature standardisation fitted on the training rows' steps ("numbers"), else null. */
  scaler: StandardScaler | null;
  /**
   * [N] row i's sequence: ids ≥ 1 ("chars", [len_i]) or standardised values ("numbers",
   * [len_i · F] step-major).
   */
  sequences: (Int32Array | Float64Array)[];
  /** [N] steps per row. */
  lengths: Int32Array;
  /** F: features per step (1 for characters). */
  features: number;
  /** [C] inverse-frequency weights (training rows), or null. */
  weights: Float64Array | null;
  /** Unseen characters dropped from validation and test rows, with their counts. */
  heldOutSkipped: Map<string, number>;
  /** Validation and test rows that lost at least one character that way. */
  heldOutRowsAffected: number;
}

/**
 * Splits the rows, builds the vocabulary (or the scaler) from the training rows only, and encodes
 * every row. Validation and test rows may hold characters the training rows lack: those are
 * dropped and counted in `heldOutSkipped` (a row left empty is a DataError naming its line).
 */
export function prepareClassification(table: ClassifyTable, opts: PrepareOptions = {}): ClassificationData {
  const keep = opts.keep;
  if (keep && keep.classifier.meta.kind !== table.kind)
    throw new ConfigError("kind", `${keep.source} reads ${keep.classifier.meta.kind}, not ${table.kind}`);
  const classes = keep ? [...keep.classifier.meta.classes] : classNames(table);
  const classIds = keep
    ? keptClassIds(table, classes, keep.source)
    : classIdsOf(table.labels, classes, table.source);
  const split = splitClassification(classIds, classes, opts);
  const N = table.texts.length;
  const sequences: (Int32Array | Float64Array)[] = new Array(N);
  const lengths = new Int32Array(N);
  const heldOutSkipped = new Map<string, number>();
  let heldOutRowsAffected = 0;
  let vocab: SequenceVocab | null = null;
  let scaler: StandardScaler | null = null;
  if (table.numbers) {
    const F = table.features;
    const steps = Array.from(split.train, (r) => table.numbers![r].length / F).reduce((a, b) => a + b, 0);
    const flat = new Float64Array(steps * F);
    let at = 0;
    for (const r of split.train) {
      flat.set(table.numbers[r], at);
      at += table.numbers[r].length;
    }
    if (keep && keep.classifier.meta.features !== F)
      throw new DataError(
        `${table.source}: ${F} features per step, but ${keep.source} reads ${keep.classifier.meta.features}`,
      );
    scaler = keep ? keep.classifier.scaler! : StandardScaler.fit(flat, F, [0, steps]);
    table.numbers.forEach((v, r) => {
      sequences[r] = scaler!.transform(v, new Float64Array(v.length));
      lengths[r] = v.length / F;
    });
  } else {
    vocab = keep ? keep.classifier.vocab! : SequenceVocab.fromTexts(table.texts, split.train, table.source);
    const trainRow = new Uint8Array(N);
    for (const r of split.train) trainRow[r] = 1;
    for (let r = 0; r < N; r++) {
      const source = `${table.source} line ${table.lines[r]}`;
      if (trainRow[r] && keep) sequences[r] = encodeKept(vocab, table.texts[r], source, keep.source);
      else if (trainRow[r]) sequences[r] = vocab.encode(table.texts[r], { source });
      else {
        const rep = vocab.encodeWithReport(table.texts[r], { unknown: "skip", source });
        sequences[r] = rep.ids;
        if (rep.skippedTotal > 0) heldOutRowsAffected++;
        for (const [ch, k] of rep.skipped) heldOutSkipped.set(ch, (heldOutSkipped.get(ch) ?? 0) + k);
      }
      lengths[r] = sequences[r].length;
    }
  }
  return {
    table,
    classes,
    classIds,
    split,
    vocab,
    scaler,
    sequences,
    lengths,
    features: table.features,
    weights: opts.classWeights ? inverseFrequencyWeights(classIds, classes, split.train) : null,
    heldOutSkipped,
    heldOutRowsAffected,
  };
}

// ---------------------------------------------------------------------------------------------
// Batches

/** How `planBatches` groups rows into batches (size, length bucketing, shuffling). */
export interface BatchPlanOptions {
  /** B: rows per batch (the last batch may be smaller). */
  batchSize: number;
  /**
   * Training order: rows shuffled with `rng`, sorted by length within pools of `poolBatches`
   * batches, cut into batches, then the batch order shuffled. Without it (evaluation): rows
   * sorted by length, longest first, in order. Either way a batch's rows have similar lengths.
   */
  rng?: Rng;
  /** Batches per sorting pool when shuffling. Default 50. */
  poolBatches?: number;
}

function byLengthDesc(lengths: ArrayLike<number>): (a: number, b: number) => number {
  return (a, b) => lengths[b] - lengths[a] || a - b;
}

/**
 * Groups `rows` into batches of similar length so padding costs little. Each batch lists its
 * rows longest first (ties by row index), the order packed sequences use.
 */
export function planBatches(
  lengths: ArrayLike<number>,
  rows: ArrayLike<number>,
  opts: BatchPlanOptions,
): Int32Array[] {
  const B = opts.batchSize;
  if (!Number.isInteger(B) || B < 1) throw new ConfigError("batchSize", `must be a positive integer, got ${B}`);
  const pool = opts.poolBatches ?? 50;
  if (!Number.isInteger(pool) || pool < 1)
    throw new ConfigError("poolBatches", `must be a positive integer, got ${pool}`);
  const order = Array.from(rows);
  for (const r of order)
    if (!Number.isInteger(r) || r < 0 || r >= lengths.length)
      throw new ConfigError("rows", `row ${r} outside [0, ${lengths.length})`);
  const cmp = byLengthDesc(lengths);
  const batches: Int32Array[] = [];
  const cut = (sorted: number[]): void => {
    for (let i = 0; i < sorted.length; i += B) batches.push(Int32Array.from(sorted.slice(i, i + B)));
  };
  const rng = opts.rng;
  if (!rng) {
    cut(order.sort(cmp));
    return batches;
  }
  shuffle(order, rng);
  for (let i = 0; i < order.length; i += pool * B) cut(order.slice(i, i + pool * B).sort(cmp));
  shuffle(batches, rng);
  return batches;
}

function shuffle<X>(a: X[], rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
}

/** Padded cells ÷ all cells over the batches: the share of the compute spent on padding. */
export function paddingFraction(lengths: ArrayLike<number>, batches: readonly Int32Array[]): number {
  let cells = 0;
  let used = 0;
  for (const b of batches) {
    let T = 0;
    for (const r of b) {
      T = Math.max(T, lengths[r]);
      used += lengths[r];
    }
    cells += T * b.length;
  }
  return cells === 0 ? 0 : 1 - used / cells;
}

/**
 * Encoded sequences to batch: a prepared data set (`ClassificationData`) or inputs encoded for
 * prediction (`encodeInputs`).
 */
export interface SequenceSet {
  /** [N] ids ≥ 1 ([len_i], characters) or values ([len_i · F], numbers). */
  sequences: readonly (Int32Array | Float64Array)[];
  /** [N] steps per row. */
  lengths: Int32Array;
  /** F: features per step (1 for characters). */
  features: number;
  /** [N] class ids; absent for prediction inputs. */
  classIds?: Int32Array;
}

/** A padded batch; the field names follow `SequenceBatch` (model/objective.ts). */
export interface PaddedBatch<X> {
  /** [T, B] ids (tokens) or [T, B, F] values, time-major; [B, T] / [B, T, F] when batchFirst. Padding is 0. */
  x: X;
  /** [B] valid steps of each row (≥ 1). */
  lengths: Int32Array;
  /** [B] class ids, or null when the set has none (prediction). */
  targets: Int32Array | null;
  /** [B] the set's row of each batch row. */
  rows: Int32Array;
  /** T: the longest row. */
  seqLen: number;
  /** B */
  batch: number;
  batchFirst: boolean;
}

/** Layout of a padded batch: time-major or batch-first. */
export interface PadOptions {
  /** Row-major [B, T(, F)] instead of time-major. Default false. */
  batchFirst?: boolean;
  /** Element type of numeric batches. Default "float32". */
  dtype?: DType;
}

function batchShape(set: SequenceSet, rows: Int32Array, opts: PadOptions) {
  if (rows.length === 0) throw new ConfigError("rows", "empty batch");
  let T = 0;
  for (const r of rows) {
    if (!Number.isInteger(r) || r < 0 || r >= set.lengths.length)
      throw new ConfigError("rows", `row ${r} outside [0, ${set.lengths.length})`);
    T = Math.max(T, set.lengths[r]);
  }
  const B = rows.length;
  const batchFirst = opts.batchFirst ?? false;
  const classIds = set.classIds;
  return {
    T,
    B,
    batchFirst,
    lengths: Int32Array.from(rows, (r) => set.lengths[r]),
    targets: classIds ? Int32Array.from(rows, (r) => classIds[r]) : null,
    /** Offset of step t of batch row b, in steps. */
    at: (t: number, b: number) => (batchFirst ? b * T + t : t * B + b),
  };
}

/** The character ids of `rows`, padded with 0: x is [T, B] (or [B, T] when batchFirst). */
export function padTokenBatch(
  set: SequenceSet,
  rows: Int32Array,
  opts: PadOptions = {},
): PaddedBatch<Int32Array> {
  const { T, B, batchFirst, lengths, targets, at } = batchShape(set, rows, opts);
  const x = new Int32Array(T * B);
  for (let b = 0; b < B; b++) {
    const seq = set.sequences[rows[b]];
    if (!(seq instanceof Int32Array))
      throw new ConfigError("set", "padTokenBatch needs character sequences (ids)");
    for (let t = 0; t < seq.length; t++) x[at(t, b)] = seq[t];
  }
  return { x, lengths, targets, rows: Int32Array.from(rows), seqLen: T, batch: B, batchFirst };
}

/** The values of `rows`, padded with 0: x is [T, B, F] (or [B, T, F] when batchFirst). */
export function padNumberBatch(
  set: SequenceSet,
  rows: Int32Array,
  opts: PadOptions = {},
): PaddedBatch<FloatArray> {
  const F = set.features;
  const { T, B, batchFirst, lengths, targets, at } = batchShape(set, rows, opts);
  const x = allocFloat(opts.dtype ?? "float32", T * B * F);
  for (let b = 0; b < B; b++) {
    const seq = set.sequences[rows[b]];
    if (!(seq instanceof Float64Array))
      throw new ConfigError("set", "padNumberBatch needs numeric sequences");
    for (let t = 0; t < seq.length / F; t++) x.set(seq.subarray(t * F, (t + 1) * F), at(t, b) * F);
  }
  return { x, lengths, targets, rows: Int32Array.from(rows), seqLen: T, batch: B, batchFirst };
}

// ---------------------------------------------------------------------------------------------
// What a trained classifier keeps, and encoding new inputs with it

/**
 * The preprocessing a classifier model file must carry (JSON-ready): with it, `encodeInputs`
 * turns new cells into exactly the ids or values the model was trained on.
 */
export interface ClassifierMeta {
  kind: SequenceKind;
  textColumn: string;
  labelColumn: string;
  /** [C] the label vocabulary: output c of the model is `classes[c]`. */
  classes: string[];
  /** "chars": the characters of ids 1 … V−1 (id 0 is padding); null for "numbers". */
  vocab: string[] | null;
  /** F: features per step. */
  features: number;
  /** "numbers": the per-feature standardisation of the training steps; null for "chars". */
  scaler: { mean: number[]; std: number[] } | null;
}

/** The classification metadata a model file stores: classes, vocabulary, sequence kind and scaler. */
export function classifierMeta(data: ClassificationData): ClassifierMeta {
  return {
    kind: data.table.kind,
    textColumn: data.table.textColumn,
    labelColumn: data.table.labelColumn,
    classes: [...data.classes],
    vocab: data.vocab ? data.vocab.toJSON() : null,
    features: data.features,
    scaler: data.scaler ? data.scaler.toJSON() : null,
  };
}

/** A classifier's preprocessing restored from a model file's metadata. */
export interface RestoredClassifier {
  meta: ClassifierMeta;
  vocab: SequenceVocab | null;
  scaler: StandardScaler | null;
}

/** Validates and restores `classifierMeta` output; FormatError naming `source` and the field. */
export function readClassifierMeta(json: unknown, source: string): RestoredClassifier {
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw new FormatError(source, "classifier metadata must be an object");
  const o = json as Record<string, unknown>;
  const kind = o.kind;
  if (kind !== "chars" && kind !== "numbers")
    throw new FormatError(source, `classifier kind is ${JSON.stringify(kind)}, expected "chars" or "numbers"`);
  for (const k of ["textColumn", "labelColumn"])
    if (typeof o[k] !== "string") throw new FormatError(source, `classifier ${k} must be a string`);
  const classes = o.classes;
  if (!Array.isArray(classes) || classes.length < 2 || classes.some((c) => typeof c !== "string" || c === ""))
    throw new FormatError(source, "classifier classes must be an array of at least 2 non-empty strings");
  if (new Set(classes).size !== classes.length) throw new FormatError(source, "classifier classes repeat a label");
  const F = o.features;
  if (!Number.isInteger(F) || (F as number) < 1 || (kind === "chars" && F !== 1))
    throw new FormatError(source, `classifier features is ${JSON.stringify(F)}, expected ${kind === "chars" ? "1" : "a positive integer"}`);
  let vocab: SequenceVocab | null = null;
  let scaler: StandardScaler | null = null;
  if (kind === "chars") vocab = SequenceVocab.fromJSON(o.vocab, source);
  else {
    scaler = StandardScaler.fromJSON(o.scaler, source);
    if (scaler.size !== F)
      throw new FormatError(source, `classifier scaler has ${scaler.size} columns for ${F as number} features`);
  }
  const meta: ClassifierMeta = {
    kind,
    textColumn: o.textColumn as string,
    labelColumn: o.labelColumn as string,
    classes: [...(classes as string[])],
    vocab: vocab ? vocab.toJSON() : null,
    features: F as number,
    scaler: scaler ? scaler.toJSON() : null,
  };
  return { meta, vocab, scaler };
}

/** How `encodeInputs` encodes prediction inputs (e.g. what to do with unknown characters). */
export interface EncodeInputsOptions {
  /** Characters the vocabulary lacks: "error" (default) or "skip". */
  unknown?: UnknownPolicy;
  /** Names input i in messages. Default `input ${i + 1}`. */
  sourceOf?: (i: number) => string;
}

/**
 * New inputs (prediction, evaluation of another file) encoded with a trained classifier's
 * preprocessing: character ids or standardised numbers. DataError naming the input on an unseen
 * character (unless skipped), an empty sequence, or a numeric cell with the wrong feature count.
 */
export function encodeInputs(
  clf: RestoredClassifier,
  cells: readonly string[],
  opts: EncodeInputsOptions = {},
): SequenceSet {
  const sourceOf = opts.sourceOf ?? ((i: number) => `input ${i + 1}`);
  const F = clf.meta.features;
  const sequences = cells.map((cell, i): Int32Array | Float64Array => {
    if (clf.vocab) return clf.vocab.encode(cell, { unknown: opts.unknown, source: sourceOf(i) });
    const { values, features } = parseNumberSequence(cell, sourceOf(i));
    if (features !== F)
      throw new DataError(`${sourceOf(i)}: ${features} feature${features === 1 ? "" : "s"} per step, the model takes ${F}`);
    return clf.scaler!.transform(values);
  });
  return {
    sequences,
    lengths: Int32Array.from(sequences, (s) => s.length / F),
    features: F,
  };
}
