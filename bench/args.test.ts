import assert from "node:assert/strict";
import { test } from "node:test";
import { WORKLOAD_NAMES } from "../cli/workloads.js";
import { parseBenchArgs, UsageError } from "./args.js";

test("the bench's defaults: every workload, GRU tables for A and B, lstm-ts the baseline", () => {
  const a = parseBenchArgs([]);
  assert.deepEqual(a.workloads, [...WORKLOAD_NAMES]);
  assert.ok(a.workloads.includes("A") && a.workloads.includes("D"));
  assert.deepEqual(a.gru, ["A", "B"]);
  assert.equal(a.libs[0], "lstm-ts");
  assert.ok(!a.libs.includes("lstm-ts-js"), "the reference backend only on request");
  assert.deepEqual([a.timeoutS, a.memory, a.help, a.out], [60, true, false, undefined]);
});

test("flags as given: lowercase workloads, lstm-ts put first, --gru '' for none", () => {
  const a = parseBenchArgs([
    "--workload",
    "c, a",
    "--lib",
    "brain.js",
    "--gru",
    "",
    "--timeout",
    "5",
    "--no-memory",
  ]);
  assert.deepEqual(a.workloads, ["C", "A"]);
  assert.deepEqual(a.libs, ["lstm-ts", "brain.js"]);
  assert.deepEqual([a.gru, a.timeoutS, a.memory], [[], 5, false]);
  assert.equal(parseBenchArgs(["-h"]).help, true);
});

test("a wrong flag or value is a one-line UsageError naming it", () => {
  for (const [argv, msg] of [
    [["--help-me"], /Unknown option '--help-me'/],
    [["--workload"], /--workload/],
    [["--workload", "Q"], /--workload: unknown workload Q/],
    [["--workload", ","], /--workload: name at least one/],
    [["--gru", "Z"], /--gru: unknown workload Z/],
    [["--lib", "torch"], /--lib: torch is not one of/],
    [["--timeout", "soon"], /--timeout: expected seconds > 0, got soon/],
  ] as const) {
    assert.throws(
      () => parseBenchArgs([...argv]),
      (e: unknown) => {
        assert.ok(e instanceof UsageError, String(e));
        assert.match(e.message, msg);
        assert.doesNotMatch(e.message, /\n/);
        return true;
      },
    );
  }
});
