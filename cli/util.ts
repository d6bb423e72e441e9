/** Shared CLI plumbing: option parsing helpers and the one place errors become messages. */
import { InvalidArgumentError } from "commander";
import { FormatError, LstmError } from "../src/tensor/errors.js";
import { readRegularFile } from "../src/io/paths.js";

export function intOption(name: string, min = 1, max = 2 ** 31 - 1) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^[+-]?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(
        `${name} must be an integer from ${min} to ${max}, got "${v}"`,
      );
    return n;
  };
}

export function floatOption(name: string, min = -Infinity, max = Infinity) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got "${v}"`);
    return n;
  };
}

export function choiceOption<T extends string>(name: string, choices: readonly T[]) {
  return (v: string): T => {
    if (!(choices as readonly string[]).includes(v))
      throw new InvalidArgumentError(`${name} must be one of ${choices.join(", ")}, got "${v}"`);
    return v as T;
  };
}

/** Error raised by a command for a user-facing problem (bad file, bad value). */
export class CliError extends Error {}

/**
 * Reads a regular file (never a FIFO, a device or a directory; stat before reading), turning
 * file-system errors into a one-line message.
 */
export function readBytes(path: string, maxBytes?: number): Uint8Array {
  try {
    return readRegularFile(path, maxBytes);
  } catch (e) {
    if (e instanceof FormatError) throw new CliError(`cannot read ${e.message}`);
    throw e;
  }
}

/** The longest string V8 can make (0x1fffffe8 characters): a larger text cannot be decoded. */
const MAX_TEXT_BYTES = 0x1fffffe8;

/** Reads a text or CSV data file, refusing one larger than a string can hold. */
export function readDataBytes(path: string): Uint8Array {
  return readBytes(path, MAX_TEXT_BYTES);
}

/** Reads a UTF-8 text file (errors as for readDataBytes). */
export function readTextFile(path: string): string {
  return new TextDecoder().decode(readDataBytes(path));
}

/** Message for an error a user should see without a stack trace, or null for a bug. */
export function userMessage(e: unknown): string | null {
  if (e instanceof LstmError || e instanceof CliError) return e.message;
  return null;
}
