/**
 * CSV files with a header row, read with precise errors: the shared front end of the numeric
 * series reader (series.ts) and the classification reader (classify.ts). Browser-safe.
 */
import { parse } from "csv-parse/sync";
import { DataError } from "../tensor/errors.js";

/** A cell for an error message: quoted, cut at 40 characters. */
export function quoteCell(cell: string): string {
  const shown = cell.length > 40 ? `${cell.slice(0, 40)}…` : cell;
  return `'${shown}'`;
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < index; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/** Line where the quote left open at the end of the text was opened (RFC 4180 quoting), or 0. */
function unclosedQuoteLine(text: string): number {
  let inQuote = false;
  let line = 1;
  let openLine = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 10) line++;
    else if (ch === 34) {
      inQuote = !inQuote; // "" inside a quoted field flips twice
      if (inQuote) openLine = line;
    }
  }
  return inQuote ? openLine : 0;
}

/** One data row: its fields (trimmed by the parser) and the file line where it ends. */
export interface CsvRow {
  record: string[];
  info: { lines: number };
}

interface CsvParseError {
  code?: string;
  lines?: number;
  message: string;
}

/**
 * Index of the header column named exactly `name`. DataError naming the file when the column is
 * missing (listing the available ones, with a case-insensitive near miss) or appears twice.
 * `role` names it in the message ("column", "label column", …).
 */
export function findColumn(header: string[], name: string, source: string, role: string): number {
  const at: number[] = [];
  header.forEach((h, i) => {
    if (h === name) at.push(i);
  });
  if (at.length === 1) return at[0];
  if (at.length > 1)
    throw new DataError(
      `${role} '${name}' appears ${at.length} times in the header of ${source} ` +
        `(columns ${at.map((i) => i + 1).join(", ")})`,
    );
  const near = header.find((h) => h.toLowerCase() === name.trim().toLowerCase());
  throw new DataError(
    `${role} '${name}' not found in ${source}; available: ${header.join(", ")}` +
      (near !== undefined ? ` (did you mean '${near}'?)` : ""),
  );
}

/** A parsed CSV file: the trimmed header and the data rows, every row as wide as the header. */
export interface CsvTable {
  header: string[];
  rows: CsvRow[];
}

/**
 * Parses CSV text with a header row. DataError, naming `source` and the line, on: an empty file,
 * a header without data rows, binary content (NUL byte, invalid UTF-8), an unclosed quote or other
 * CSV syntax errors, and rows with more or fewer fields than the header. Blank lines are skipped.
 */
export function parseCsvTable(text: string, source: string): CsvTable {
  // trim() also removes a byte-order mark.
  if (text.trim().length === 0)
    throw new DataError(`${source} is empty`);
  const nul = text.indexOf("\0");
  if (nul >= 0)
    throw new DataError(
      `${source}: not a text CSV file (NUL byte on line ${lineOf(text, nul)}; binary?)`,
    );
  const bad = text.indexOf("\uFFFD");
  if (bad >= 0)
    throw new DataError(
      `${source}: not a text CSV file (invalid UTF-8, replacement character on line ` +
        `${lineOf(text, bad)})`,
    );

  let records: CsvRow[];
  try {
    records = parse(text, {
      bom: true,
      info: true,
      trim: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as unknown as CsvRow[];
  } catch (e) {
    const err = e as CsvParseError;
    if (err.code === "CSV_QUOTE_NOT_CLOSED") {
      const open = unclosedQuoteLine(text);
      if (open > 0)
        throw new DataError(`${source} line ${open}: a quoted field opened here is never closed`);
    }
    const line = err.lines !== undefined ? ` line ${err.lines}` : "";
    throw new DataError(`${source}${line}: malformed CSV: ${err.message}`);
  }
  // A line holding only spaces parses as one blank field: treat it as an empty line.
  records = records.filter((r) => !(r.record.length === 1 && r.record[0].trim() === ""));
  if (records.length === 0) throw new DataError(`${source} is empty`);

  const header = records[0].record.map((h) => h.trim());
  const rows = records.slice(1);
  if (rows.length === 0)
    throw new DataError(`${source} has a header (${header.join(", ")}) but no data rows`);
  for (const { record, info } of rows) {
    if (record.length !== header.length)
      throw new DataError(
        `${source} line ${info.lines}: ${record.length} field${record.length === 1 ? "" : "s"}, ` +
          `but the header has ${header.length} (${header.join(", ")})`,
      );
  }

  return { header, rows };
}
