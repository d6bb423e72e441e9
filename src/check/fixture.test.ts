import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { parseFixture, readAnyFixture, readFixture } from "./fixture.js";
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
  rejects(
    (f) => (f.format_version = 3),
    /format_version: version 3 is not supported \(this reader knows 1 and 2\)/,
  );
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

/** Format 2 (../shared/fixtures/v2), as small as the README's examples: a GRU, 1 layer. */
function gruV2(): Json {
  const f = fresh();
  f.format_version = 2;
  const H = 4;
  Object.assign(f.config, {
    cell: "gru", proj_size: 0, input: { kind: "dense" }, tied_head: false, dropout: null, lengths: false,
  });
  const rename = (m: Json) => {
    for (const k of Object.keys(m))
      if (k.startsWith("lstm.")) {
        const a = m[k];
        const rows = 3 * H;
        const cols = a.shape.length === 2 ? a.shape[1] : 1;
        m["gru." + k.slice(5)] = { shape: a.shape.length === 2 ? [rows, cols] : [rows], data: a.data.slice(0, rows * cols) };
        delete m[k];
      }
  };
  f.param_order = f.param_order.map((n: string) => n.replace(/^lstm\./, "gru."));
  rename(f.params);
  rename(f.grads);
  delete f.inputs.c0;
  delete f.outputs.c_n;
  delete f.grads.c0;
  delete f.intermediates;
  return f;
} // prettier-ignore

test("format 2 is read completely; what the engine cannot run is named, per feature (a GRU runs)", () => {
  const g = readAnyFixture(gruV2(), "g.json");
  assert.equal(g.spec.cell, "gru");
  assert.deepEqual(g.unsupported, []);
  const runnable = readFixture(gruV2(), "g.json");
  assert.equal(runnable.config.cell, "gru");
  assert.equal(runnable.inputs.c0, undefined);
  const bad = (mutate: (f: Json) => void, re: RegExp) => {
    const f = gruV2();
    mutate(f);
    assert.throws(() => readAnyFixture(f, "g.json"), (e: unknown) => e instanceof FormatError && re.test(e.message), String(re));
  };
  bad((f) => (f.params["gru.weight_hh_l0"].shape = [16, 4]), /params\["gru\.weight_hh_l0"\]\.shape: expected \[12, 4\]/);
  bad((f) => (f.inputs.c0 = f.inputs.h0), /inputs\.c0: must be absent \(a GRU has no cell state\)/);
  bad((f) => (f.config.cell = "rnn"), /config\.cell: expected one of "lstm", "gru", got "rnn"/);
  bad((f) => (f.config.dropout = { input: 1, between_layers: 0, output: 0 }), /config\.dropout\.input: expected a probability in \[0, 1\)/);
  bad((f) => (f.config.proj_size = 2), /config\.proj_size: only an LSTM has a projection/);
  bad((f) => (f.config.lengths = true), /inputs\.lengths: expected an object/);
  bad((f) => (f.config.tied_head = true), /config\.tied_head: a tied head uses embedding\.weight/);
  const len = gruV2();
  len.config.lengths = true;
  len.inputs.lengths = { shape: [2], dtype: "int64", data: [5, 9] };
  assert.throws(() => readAnyFixture(len, "g.json"), /inputs\.lengths\.data\[1\]: 9 is outside \[1, 5\]/);
  len.inputs.lengths.data[1] = 3;
  assert.deepEqual(readAnyFixture(len, "g.json").unsupported, []);
}); // prettier-ignore

const V2 = fileURLToPath(new URL("../../../../shared/fixtures/v2/", import.meta.url));
test(
  "every shared format-2 fixture parses; each names what it needs",
  { skip: !existsSync(V2) },
  () => {
    const files = readdirSync(V2).filter((n) => n.endsWith(".json"));
    assert.ok(files.length >= 50, `${files.length} files`);
    for (const n of files) {
      const f = readAnyFixture(JSON.parse(readFileSync(V2 + n, "utf8")), n);
      assert.equal(f.version, 2, n);
      // The GRU, variable lengths, xent_final, projections, embeddings, tied heads and dropout
      // all run (verify-v2.test.ts and test/verify-cli.test.ts check them).
      assert.deepEqual(f.unsupported, [], n);
    }
  },
);
