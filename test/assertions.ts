/** Test assertions shared by several test files. */
import assert from "node:assert/strict";
import { DataError } from "../src/tensor/errors.js";

/** Asserts that fn throws a DataError whose message equals (string) or matches (RegExp) message. */
export function dataError(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected DataError, got ${String(e)}`);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}
