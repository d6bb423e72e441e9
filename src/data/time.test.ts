import assert from "node:assert/strict";
import { test } from "node:test";
import { findTimeGaps, parseTimes } from "./time.js";
import { DataError } from "../tensor/errors.js";

test("recognises months, dated months, days and numbers", () => {
  assert.equal(parseTimes(["1949-01", "1949-02"])?.kind, "month");
  assert.equal(parseTimes(["1958-03-01", "1958-04-01"])?.kind, "month");
  assert.equal(parseTimes(["19580329", "19580405"])?.kind, "day");
  assert.equal(parseTimes(["1700", "1701"])?.kind, "number");
  assert.equal(parseTimes(["mon", "tue"]), null);
});

test("finds missing steps and names the stamps that should be there", () => {
  const g = findTimeGaps(["1960-10", "1960-11", "1961-02", "1961-03"], "f.csv");
  assert.deepEqual(g, [{ row: 2, missing: 2, stamps: ["1960-12", "1961-01"] }]);
  const w = findTimeGaps(["19580329", "19580405", "19580419"], "w.csv");
  assert.deepEqual(w, [{ row: 2, missing: 1, stamps: ["19580412"] }]);
  assert.deepEqual(findTimeGaps(["1700", "1701", "1703"], "y.csv")[0].stamps, ["1702"]);
  assert.deepEqual(findTimeGaps(["1", "2", "3.5"], "irregular.csv"), []); // not a whole step: left alone
  assert.throws(() => findTimeGaps(["2001", "2000"], "back.csv", [2, 3]), (e: unknown) =>
    e instanceof DataError && /time stamps must increase: 2001 is followed by 2000 \(line 3\)/.test(e.message));
});
