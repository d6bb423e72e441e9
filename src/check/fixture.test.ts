import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { parseFixture, readFixture } from "./fixture.js";
import { verifyFixture } from "./verify.js";
import { FormatError } from "../tensor/errors.js";

const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/", import.meta.url));
const smallText = readFileSync(FIXTURES + "small_sum_sq.json", "utf8");
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- fixtures are mutated freely here
type Json = Record<string, any>;
const fresh = (): Json => JSON.parse(smallText);

function rejects(mutate: (f: Json) => void, field: RegExp): void {
  const f = fresh();
  mutate(f);
  assert.throws(
    () => readFixture(f, "bad.json"),
    (e: unknown) =>
      e instanceof FormatError && field.test(e.message) && e.message.startsWith("bad.json: "),
  );
}

test("a malformed fixture is rejected with a FormatError that names the field", () => {
  assert.throws(() => parseFixture("{ not json", "x.json"), /x\.json: not valid JSON/);
  assert.throws(() => parseFixture("[]", "x.json"), /\(root\): expected an object/);
  rejects((f) => (f.format = "something-else"), /format: expected "lstm-golden-fixture"/);
  rejects((f) => (f.format_version = 2), /format_version: version 2 is not supported/);
  rejects((f) => delete f.config.hidden_size, /config\.hidden_size/);
  rejects((f) => (f.config.seq_len = 0), /config\.seq_len/);
  rejects((f) => (f.config.loss = "l1"), /config\.loss/);
  rejects((f) => (f.config.num_directions = 2), /config\.num_directions/);
  rejects((f) => f.param_order.reverse(), /param_order: expected \[lstm\.weight_ih_l0/);
  rejects(
    (f) => (f.params["lstm.weight_hh_l0"].shape = [16, 5]),
    /params\["lstm\.weight_hh_l0"\]\.shape: expected \[16, 4\]/,
  );
  rejects(
    (f) => f.params["lstm.bias_ih_l0"].data.pop(),
    /params\["lstm\.bias_ih_l0"\]\.data: expected 16 numbers/,
  );
  rejects((f) => (f.inputs.x.data[3] = "NaN"), /inputs\.x\.data\[3\]: expected a finite number/);
  rejects((f) => (f.inputs.h0.shape = [2, 1, 4]), /inputs\.h0\.shape/);
  rejects((f) => delete f.grads.c0, /grads\.c0: expected an object/);
  rejects((f) => (f.outputs.loss = null), /outputs\.loss/);
});

test("xent targets must be integer classes inside [0, C)", () => {
  const f = JSON.parse(readFileSync(FIXTURES + "small_xent.json", "utf8"));
  f.inputs.targets.data[0] = 99;
  assert.throws(
    () => readFixture(f, "t.json"),
    /inputs\.targets\.data\[0\]: class 99 is outside \[0, 5\)/,
  );
  f.inputs.targets.data[0] = 1.5;
  assert.throws(() => readFixture(f, "t.json"), /expected a finite integer/);
});

test("verify fails when the reference differs (the check can fail)", () => {
  const f = fresh();
  f.grads["lstm.weight_hh_l0"].data[5] += 1e-6;
  const r64 = verifyFixture(readFixture(f, "t.json"), "float64");
  assert.equal(r64.ok, false);
  assert.ok(r64.tensors["grads.lstm.weight_hh_l0"] > 1e-9);
  const g = fresh();
  g.outputs.loss *= 1.001;
  const r32 = verifyFixture(readFixture(g, "t.json"), "float32");
  assert.equal(r32.ok, false);
  assert.ok(r32.tensors.loss > 1e-4);
});
