/**
 * Character-level text pipeline (char-rnn style, truncated BPTT).
 *
 * A "character" is a Unicode code point: "ñ", "£" and "😀" are one character each (never a
 * UTF-16 code unit). Browser-safe: no file system here; `decodeText` turns bytes into text.
 *
 * Letters: N ids in the corpus, V vocabulary size, B streams (batch), T steps per window.
 */
import type { FloatArray } from "../tensor/dtype.js";
import { ConfigError, DataError, FormatError, ShapeError } from "../tensor/errors.js";

/** What `encode` does with a character that is not in the vocabulary. */
export type UnknownPolicy = "error" | "skip";

/** How Vocab.encode treats characters outside the vocabulary. */
export interface EncodeOptions {
  /** "error" (default): DataError naming the first unseen character. "skip": drop it. */
  unknown?: UnknownPolicy;
  /** Names the text in error messages, e.g. a file name or "prompt". */
  source?: string;
}

/** Vocab.encodeWithReport's result: the ids and the characters it dropped. */
export interface EncodeReport {
  ids: Int32Array;
  /** Each dropped character (one code point) and how many times it was dropped. */
  skipped: Map<string, number>;
  /** Sum of the counts in `skipped`. */
  skippedTotal: number;
}

/**
 * `U+00F1 'ñ'` for a printable character, `U+000A '\n'` for tab/newline/CR, and the bare code
 * for other controls, format characters, separators and combining marks.
 */
export function describeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  const code = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  const escapes: Record<string, string> = { "\n": "\\n", "\t": "\\t", "\r": "\\r" };
  if (ch in escapes) return `${code} '${escapes[ch]}'`;
  if (ch === " " || /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(ch)) return `${code} '${ch}'`;
  return code;
}

/** 1-based line and column (in code points) of code-point position `pos` in `text`. */
function lineColumn(text: string, pos: number): { line: number; column: number } {
  let line = 1;
  let column = 1;
  let p = 0;
  for (let i = 0; i < text.length && p < pos; p++) {
    const cp = text.codePointAt(i) ?? 0;
    i += cp > 0xffff ? 2 : 1;
    if (cp === 10) {
      line++;
      column = 1;
    } else column++;
  }
  return { line, column };
}

function isSingleCodePoint(ch: unknown): ch is string {
  if (typeof ch !== "string" || ch.length === 0 || ch.length > 2) return false;
  const cp = ch.codePointAt(0) ?? 0;
  return ch.length === (cp > 0xffff ? 2 : 1);
}

/** Character vocabulary: id i ↔ `chars[i]`. */
export class Vocab {
  /** Characters in id order. */
  readonly chars: readonly string[];
  private readonly ids: Map<number, number>;

  private constructor(chars: string[]) {
    this.chars = Object.freeze(chars);
    this.ids = new Map(chars.map((ch, i) => [ch.codePointAt(0) ?? 0, i]));
  }

  /** Every distinct character of `text`, sorted by code point (deterministic ids). */
  static fromText(text: string, source?: string): Vocab {
    if (text.length === 0) throw new DataError(`${source ? `${source}: ` : ""}empty corpus`);
    const seen = new Set<number>();
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i) ?? 0;
      seen.add(cp);
      i += cp > 0xffff ? 2 : 1;
    }
    const cps = [...seen].sort((a, b) => a - b);
    return new Vocab(cps.map((cp) => String.fromCodePoint(cp)));
  }

  /**
   * Restores a vocabulary saved by `toJSON`, keeping its order (ids are model output indices).
   * FormatError unless `chars` is a non-empty array of distinct single code points.
   */
  static fromJSON(chars: unknown, source = "vocab"): Vocab {
    if (!Array.isArray(chars)) throw new FormatError(source, "vocabulary must be an array");
    if (chars.length === 0) throw new FormatError(source, "vocabulary is empty");
    const seen = new Map<string, number>();
    chars.forEach((ch: unknown, i) => {
      if (!isSingleCodePoint(ch))
        throw new FormatError(
          source,
          `vocabulary entry ${i} is ${JSON.stringify(ch) ?? String(ch)}, expected one character (code point)`,
        );
      const first = seen.get(ch);
      if (first !== undefined)
        throw new FormatError(
          source,
          `vocabulary entries ${first} and ${i} are both ${describeChar(ch)}`,
        );
      seen.set(ch, i);
    });
    return new Vocab([...(chars as string[])]);
  }

  /** V: number of characters. */
  get size(): number {
    return this.chars.length;
  }

  /** Id of `ch` (one code point), or -1 when it is not in the vocabulary. */
  index(ch: string): number {
    if (!isSingleCodePoint(ch))
      throw new ConfigError("ch", `expected one character, got ${JSON.stringify(ch)}`);
    return this.ids.get(ch.codePointAt(0) ?? 0) ?? -1;
  }

  /** Whether `ch` (one code point) is in the vocabulary. */
  has(ch: string): boolean {
    return this.index(ch) >= 0;
  }

  /**
   * Ids of the characters of `text`. With `unknown: "error"` (default) an unseen character is a
   * DataError naming it, its position and how many distinct unseen characters there are; with
   * "skip" unseen characters are dropped (use `encodeWithReport` to learn which).
   */
  encode(text: string, options: EncodeOptions = {}): Int32Array {
    const unknown = options.unknown ?? "error";
    if (unknown !== "error" && unknown !== "skip")
      throw new ConfigError("unknown", `expected "error" or "skip", got ${JSON.stringify(unknown)}`);
    const report = this.encodeInternal(text);
    if (unknown === "error" && report.skippedTotal > 0) {
      const first = report.firstUnknown;
      const { line, column } = lineColumn(text, first);
      const ch = String.fromCodePoint(text.codePointAt(report.firstUnknownUnit) ?? 0);
      const distinct = [...report.skipped.keys()];
      const list = distinct.slice(0, 10).map(describeChar).join(", ");
      throw new DataError(
        `${options.source ? `${options.source}: ` : ""}character ${describeChar(ch)} at position ` +
          `${first} (line ${line}, column ${column}) is not in the vocabulary of ${this.size}; ` +
          `${distinct.length} distinct unseen character${distinct.length === 1 ? "" : "s"} ` +
          `(${report.skippedTotal} occurrence${report.skippedTotal === 1 ? "" : "s"}): ${list}` +
          `${distinct.length > 10 ? ", …" : ""}`,
      );
    }
    return report.ids;
  }

  /** Encodes with the "skip" policy and reports what was dropped. */
  encodeWithReport(text: string): EncodeReport {
    const { ids, skipped, skippedTotal } = this.encodeInternal(text);
    return { ids, skipped, skippedTotal };
  }

  private encodeInternal(
    text: string,
  ): EncodeReport & { firstUnknown: number; firstUnknownUnit: number } {
    const out = new Int32Array(text.length);
    const skipped = new Map<string, number>();
    let n = 0;
    let pos = 0;
    let skippedTotal = 0;
    let firstUnknown = -1;
    let firstUnknownUnit = -1;
    for (let i = 0; i < text.length; pos++) {
      const cp = text.codePointAt(i) ?? 0;
      const id = this.ids.get(cp);
      if (id === undefined) {
        if (firstUnknown < 0) {
          firstUnknown = pos;
          firstUnknownUnit = i;
        }
        const ch = String.fromCodePoint(cp);
        skipped.set(ch, (skipped.get(ch) ?? 0) + 1);
        skippedTotal++;
      } else out[n++] = id;
      i += cp > 0xffff ? 2 : 1;
    }
    const ids = n === out.length ? out : out.slice(0, n);
    return { ids, skipped, skippedTotal, firstUnknown, firstUnknownUnit };
  }

  /** The text of `ids`; DataError on an id outside [0, V). */
  decode(ids: ArrayLike<number>): string {
    const parts: string[] = new Array<string>(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.chars.length)
        throw new DataError(
          `id ${id} at position ${i} is outside the vocabulary (size ${this.chars.length})`,
        );
      parts[i] = this.chars[id];
    }
    return parts.join("");
  }

  /** The characters in id order; `Vocab.fromJSON` restores them. */
  toJSON(): string[] {
    return [...this.chars];
  }
}

/**
 * Decodes UTF-8 bytes to text for a corpus or a CSV file. A leading byte-order mark is dropped.
 * DataError "not a text file" on a NUL byte or invalid UTF-8, naming the byte offset.
 */
export function decodeText(bytes: Uint8Array, source: string): string {
  const nul = bytes.indexOf(0);
  if (nul >= 0)
    throw new DataError(`${source}: not a text file (NUL byte at byte offset ${nul}; binary?)`);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const lossy = new TextDecoder("utf-8").decode(bytes);
    const bad = lossy.indexOf("\uFFFD");
    const prefix = lossy.slice(0, Math.max(bad, 0));
    const offset = new TextEncoder().encode(prefix).length;
    const line = prefix.split("\n").length;
    throw new DataError(
      `${source}: not a text file (invalid UTF-8 at byte offset ${offset}, line ${line})`,
    );
  }
}

/**
 * Time-ordered split: the last `validFraction` of the ids (rounded, at least one id when the
 * fraction is positive) is validation; 0 gives an empty `valid`. Returns views (subarrays), not
 * copies. DataError when fewer than 2 ids (one input → target pair) remain for training.
 */
export function splitTrainValid(
  ids: Int32Array,
  validFraction: number,
): { train: Int32Array; valid: Int32Array } {
  if (!(validFraction >= 0 && validFraction < 1))
    throw new ConfigError("validFraction", `must be in [0, 1), got ${validFraction}`);
  const n = ids.length;
  const nValid = validFraction > 0 ? Math.max(1, Math.round(n * validFraction)) : 0;
  const nTrain = n - nValid;
  if (nTrain < 2)
    throw new DataError(
      `the training part has ${Math.max(nTrain, 0)} character${nTrain === 1 ? "" : "s"} ` +
        `(${n} in all, validFraction ${validFraction}); at least 2 are needed`,
    );
  return { train: ids.subarray(0, nTrain), valid: ids.subarray(nTrain) };
}

function positiveInt(field: string, v: number): void {
  if (!Number.isInteger(v) || v < 1)
    throw new ConfigError(field, `must be a positive integer, got ${v}`);
}

/**
 * B contiguous streams over the id sequence, cut into windows of T steps (char-rnn batching).
 *
 * Stream length S = floor((N − 1) / B); stream b covers positions [b·S, (b+1)·S], so input
 * `ids[b·S + k]` predicts target `ids[b·S + k + 1]`. Window k holds stream steps [k·T, (k+1)·T);
 * window k+1 continues every stream exactly where window k stopped, so a trainer can carry h/c
 * from window k to k+1 (truncated BPTT) and reset them at the start of an epoch. The last
 * S − windowsPerEpoch·T steps of each stream are not used.
 */
export class TextBatches {
  readonly ids: Int32Array;
  /** B */
  readonly batch: number;
  /** T */
  readonly seqLen: number;
  /** S: steps per stream. */
  readonly streamLength: number;
  /** floor(S / T) windows per pass over the text. */
  readonly windowsPerEpoch: number;

  constructor(ids: Int32Array, batch: number, seqLen: number) {
    positiveInt("batch", batch);
    positiveInt("seqLen", seqLen);
    const n = ids.length;
    this.ids = ids;
    this.batch = batch;
    this.seqLen = seqLen;
    this.streamLength = n > 0 ? Math.floor((n - 1) / batch) : 0;
    this.windowsPerEpoch = Math.floor(this.streamLength / seqLen);
    if (this.windowsPerEpoch === 0)
      throw new DataError(
        `text too short: ${n} characters cannot fill batch ${batch} × seqLen ${seqLen} (+1); ` +
          `at least ${batch * seqLen + 1} are needed`,
      );
  }

  /**
   * Fills window k: `xIds[t·B + b]` (time-major [T, B]) is the input id of stream b at step t and
   * `yIds[t·B + b]` the id that follows it. No allocation.
   */
  window(k: number, xIds: Int32Array, yIds: Int32Array): void {
    const { batch: B, seqLen: T, streamLength: S, ids } = this;
    if (!Number.isInteger(k) || k < 0 || k >= this.windowsPerEpoch)
      throw new ConfigError("window", `index ${k} outside [0, ${this.windowsPerEpoch})`);
    if (xIds.length !== T * B) throw new ShapeError("xIds", [T, B], xIds.length, " for [T, B]");
    if (yIds.length !== T * B) throw new ShapeError("yIds", [T, B], yIds.length, " for [T, B]");
    for (let b = 0; b < B; b++) {
      const start = b * S + k * T;
      for (let t = 0; t < T; t++) {
        xIds[t * B + b] = ids[start + t];
        yIds[t * B + b] = ids[start + t + 1];
      }
    }
  }
}

/**
 * One-hot encoding: zeroes `out` ([len(ids), V], e.g. [T, B, V]) then sets
 * `out[i·V + ids[i]] = 1`. DataError on an id outside [0, V).
 */
export function oneHot(out: FloatArray, ids: ArrayLike<number>, V: number): void {
  positiveInt("V", V);
  if (out.length !== ids.length * V)
    throw new ShapeError("oneHot out", [ids.length, V], out.length, " for [ids, V]");
  out.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= V)
      throw new DataError(`id ${id} at position ${i} is outside the vocabulary (size ${V})`);
    out[i * V + id] = 1;
  }
}

/**
 * Entropy of the id frequencies, in nats: the cross-entropy of the best model that ignores
 * context (predicts every character with its overall frequency). A model must beat this.
 */
export function unigramEntropy(ids: ArrayLike<number>, V: number): number {
  positiveInt("V", V);
  if (ids.length === 0) throw new DataError("unigram entropy of an empty id sequence");
  const counts = new Float64Array(V);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= V)
      throw new DataError(`id ${id} at position ${i} is outside the vocabulary (size ${V})`);
    counts[id]++;
  }
  let h = 0;
  for (const c of counts) {
    if (c > 0) {
      const p = c / ids.length;
      h -= p * Math.log(p);
    }
  }
  return h;
}
