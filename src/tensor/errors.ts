/**
 * Typed errors. Every error the library raises on bad input is an `LstmError` with a stable
 * `code`, so a CLI or an application can tell the user what is wrong without a stack trace.
 */
export class LstmError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A tensor has the wrong number of elements or the wrong shape. */
export class ShapeError extends LstmError {
  readonly tensor: string;
  readonly expected: readonly number[] | number;
  readonly actual: readonly number[] | number;
  constructor(
    tensor: string,
    expected: readonly number[] | number,
    actual: readonly number[] | number,
    /** Appended after the expected shape, e.g. " for [T, B, I]". */
    detail = "",
  ) {
    super("E_SHAPE", `${tensor}: expected ${describe(expected)}${detail}, got ${describe(actual)}`);
    this.tensor = tensor;
    this.expected = expected;
    this.actual = actual;
  }
}

/** A tensor holds NaN or ±Infinity where a finite number is required. */
export class NonFiniteError extends LstmError {
  readonly tensor: string;
  readonly index: number;
  readonly value: number;
  constructor(tensor: string, index: number, value: number, detail = "") {
    super(
      "E_NONFINITE",
      `${tensor}: element ${index} is ${value}, expected a finite number${detail ? ` (${detail})` : ""}`,
    );
    this.tensor = tensor;
    this.index = index;
    this.value = value;
  }
}

/** A configuration value (a size, a flag, an option) is invalid. */
export class ConfigError extends LstmError {
  readonly field: string;
  constructor(field: string, message: string) {
    super("E_CONFIG", `${field}: ${message}`);
    this.field = field;
  }
}

/** A file (fixture, model, checkpoint, data) is malformed or of an unsupported version. */
export class FormatError extends LstmError {
  readonly source: string;
  constructor(source: string, message: string) {
    super("E_FORMAT", `${source}: ${message}`);
    this.source = source;
  }
}

/** A data set cannot be used (empty corpus, missing column, too short for the window). */
export class DataError extends LstmError {
  constructor(message: string) {
    super("E_DATA", message);
  }
}

function describe(v: readonly number[] | number): string {
  if (typeof v === "number") return `${v} elements`;
  let n = 1;
  for (const d of v) n *= d;
  return `shape [${v.join(", ")}] (${n} elements)`;
}
