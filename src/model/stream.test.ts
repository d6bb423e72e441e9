import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LstmModel } from "./model.js";
import { StreamSession } from "./stream.js";
import { listBackends } from "../backend/index.js";
import { ConfigError } from "../tensor/errors.js";
import { Rng } from "../tensor/rng.js";

const I = 3;
const T = 13;
const R = 5;
const cfg = { inputSize: I, hiddenSize: 9, numLayers: 2, outputSize: 4 };

function inputs(seed: number, n: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => rng.normal());
}

describe("StreamSession", () => {
  for (const backend of listBackends())
    for (const threads of backend.startsWith("wasm") ? [1, 2] : [1])
      it(`${backend}, ${threads} thread(s): steps of 1, 2 and 4 equal the whole sequence bit for bit`, () => {
        const model = new LstmModel(cfg, { backend, threads });
        model.initDefault(new Rng(3));
        const x = inputs(1, T * R * I);
        const whole = model.forward(x, { seqLen: T, batch: R }).output.slice();
        for (const chunk of [1, 2, 4]) {
          const s = new StreamSession(model, { rows: R });
          for (let t = 0; t < T; t += chunk) {
            const n = Math.min(chunk, T - t);
            const out = s.step(x.subarray(t * R * I, (t + n) * R * I), n);
            assert.deepEqual(
              out,
              whole.subarray(t * R * 4, (t + n) * R * 4),
              `chunk ${chunk} t ${t}`,
            );
          }
        }
        model.dispose();
      });

  it("reset(rows) starts those streams over; getState/setState round-trip", () => {
    const model = new LstmModel(cfg, { dtype: "float64", backend: "js" });
    model.initDefault(new Rng(4));
    const x = inputs(2, 2 * R * I);
    const s = new StreamSession(model, { rows: R });
    s.step(x.subarray(0, R * I));
    const saved = s.getState();
    s.reset([1, 3]);
    const after = s.step(x.subarray(R * I)).slice();
    // Rows 1 and 3 now equal a fresh session's first step on the same input.
    const fresh = new StreamSession(model, { rows: R }).step(x.subarray(R * I)).slice();
    for (const b of [1, 3])
      assert.deepEqual(after.subarray(b * 4, b * 4 + 4), fresh.subarray(b * 4, b * 4 + 4));
    assert.notDeepEqual(after.subarray(0, 4), fresh.subarray(0, 4));
    s.setState(saved);
    s.reset([1, 3]);
    assert.deepEqual(s.step(x.subarray(R * I)), after);
    assert.throws(() => s.reset([R]), ConfigError);
    assert.throws(() => s.setState({ h: [1], c: [1] }), /h/);
    assert.throws(() => s.step(new Float64Array(I)), /x/);
  });

  it("a GRU streams too (no cell state), bit for bit", () => {
    const model = new LstmModel({ ...cfg, cell: "gru" });
    model.initDefault(new Rng(5));
    const x = inputs(3, T * R * I);
    const whole = model.forward(x, { seqLen: T, batch: R }).output.slice();
    const s = new StreamSession(model, { rows: R });
    for (let t = 0; t < T; t++)
      assert.deepEqual(
        s.step(x.subarray(t * R * I, (t + 1) * R * I)),
        whole.subarray(t * R * 4, (t + 1) * R * 4),
      );
    assert.equal(s.getState().c.length, 0);
  });

  it("refuses a bidirectional model", () => {
    const model = new LstmModel({ ...cfg, bidirectional: true });
    assert.throws(() => new StreamSession(model, { rows: 1 }), ConfigError);
  });
});
