/**
 * Time stamps of a series: recognise monthly, daily and numeric (e.g. yearly) columns, find the
 * regular step, and report or fill the rows missing between two stamps.
 */
import { DataError } from "../tensor/errors.js";

type Kind = "month" | "day" | "number";

interface Parsed {
  kind: Kind;
  /** Months since year 0, UTC days since 1970, or the number itself. */
  values: number[];
}

const MONTH = /^(\d{4})-(\d{2})$/;
const DATE = /^(\d{4})(-?)(\d{2})-?(\d{2})$/;
const NUMBER = /^-?\d+(\.\d+)?$/;

/** Reads the stamps as one kind, or null when they are not all of one recognised kind. */
export function parseTimes(times: readonly string[]): Parsed | null {
  if (times.length < 2) return null;
  if (times.every((t) => MONTH.test(t)))
    return {
      kind: "month",
      values: times.map((t) => {
        const [, y, m] = MONTH.exec(t)!;
        return Number(y) * 12 + Number(m) - 1;
      }),
    };
  if (times.every((t) => DATE.test(t))) {
    const parts = times.map((t) => DATE.exec(t)!);
    const sameDay = parts.every((p) => p[4] === parts[0][4]);
    return {
      // Monthly data stamped with a fixed day (1958-03-01, 1958-04-01, …) counts in months.
      kind: sameDay ? "month" : "day",
      values: parts.map((p) =>
        sameDay
          ? Number(p[1]) * 12 + Number(p[3]) - 1
          : Date.UTC(Number(p[1]), Number(p[3]) - 1, Number(p[4])) / 86_400_000,
      ),
    };
  }
  if (times.every((t) => NUMBER.test(t))) return { kind: "number", values: times.map(Number) };
  return null;
}

/** The most common positive difference between consecutive stamps. */
function typicalStep(values: number[]): number {
  const counts = new Map<number, number>();
  for (let i = 1; i < values.length; i++) {
    const d = +(values[i] - values[i - 1]).toFixed(9);
    if (d > 0) counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  let best = 0;
  let n = 0;
  for (const [d, c] of counts) if (c > n || (c === n && d < best)) [best, n] = [d, c];
  return best;
}

/** Formats stamp value v in the style of `like` (a stamp of the same column). */
function format(kind: Kind, v: number, like: string): string {
  if (kind === "number") {
    const dec = (like.split(".")[1] ?? "").length;
    return v.toFixed(dec);
  }
  const m = DATE.exec(like);
  if (kind === "month") {
    const y = Math.floor(v / 12);
    const mo = String((v % 12) + 1).padStart(2, "0");
    if (!m) return `${y}-${mo}`;
    return m[2] ? `${y}-${mo}-${m[4]}` : `${y}${mo}${m[4]}`;
  }
  const d = new Date(v * 86_400_000);
  const s = [d.getUTCFullYear(), String(d.getUTCMonth() + 1).padStart(2, "0"), String(d.getUTCDate()).padStart(2, "0")];
  return m && !m[2] ? s.join("") : s.join("-");
}

export interface TimeGap {
  /** Row index (0-based, in the parsed rows) of the row after the gap. */
  row: number;
  /** Rows missing before it. */
  missing: number;
  /** The stamps that should have been there. */
  stamps: string[];
}

/**
 * Finds gaps: consecutive stamps k > 1 typical steps apart. Stamps that go backwards or repeat
 * are a DataError; irregular differences that are not whole steps are left alone.
 */
export function findTimeGaps(times: readonly string[], source: string, lines?: ArrayLike<number>): TimeGap[] {
  const p = parseTimes(times);
  if (!p) return [];
  for (let i = 1; i < p.values.length; i++)
    if (!(p.values[i] > p.values[i - 1])) {
      const at = lines ? ` (line ${lines[i]})` : "";
      throw new DataError(
        `${source}: time stamps must increase: ${times[i - 1]} is followed by ${times[i]}${at}`,
      );
    }
  const step = typicalStep(p.values);
  const gaps: TimeGap[] = [];
  for (let i = 1; i < p.values.length; i++) {
    const k = (p.values[i] - p.values[i - 1]) / step;
    if (k > 1.5 && Math.abs(k - Math.round(k)) < 1e-6) {
      const missing = Math.round(k) - 1;
      const stamps = Array.from({ length: missing }, (_, j) =>
        format(p.kind, p.values[i - 1] + step * (j + 1), times[i - 1]),
      );
      gaps.push({ row: i, missing, stamps });
    }
  }
  return gaps;
}
