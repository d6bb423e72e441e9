import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeConfig } from "../model/config.js";
import { LstmModel } from "../model/model.js";
import { FormatError } from "../tensor/errors.js";
import type { Checkpoint } from "../train/trainer.js";
import {
  decodeCheckpoint,
  decodeModel,
  encodeCheckpoint,
  encodeModel,
  type ModelMeta,
  type RunInfo,
} from "./model-file.js";
import { decodeSafetensors, encodeSafetensors } from "./safetensors.js";

/** A series model: 1 column, 1 target, horizon 3 (O = 3). */
const seriesModel = () =>
  new LstmModel(makeConfig({ inputSize: 1, hiddenSize: 2, outputSize: 3 }), { dtype: "float32" });
const seriesMeta = (over: Record<string, unknown> = {}): ModelMeta => ({
  task: "series",
  input: { kind: "dense" },
  series: {
    columns: ["y"],
    targetColumns: ["y"],
    horizon: 3,
    seqLen: 4,
    scaler: { mean: [1], std: [2] },
    ...over,
  },
});

/** Replaces one `__metadata__` entry of an encoded file, keeping the tensors. */
function withMetadata(bytes: Uint8Array, key: string, value: string): Uint8Array {
  const { metadata, tensors } = decodeSafetensors(bytes, "x");
  const list = [...tensors].map(([name, t]) => ({
    name,
    dtype: t.dtype,
    shape: t.shape,
    data: t.data,
  }));
  return encodeSafetensors(list as Parameters<typeof encodeSafetensors>[0], {
    ...metadata,
    [key]: value,
  });
}

const rejects = (f: () => unknown, re: RegExp) =>
  assert.throws(f, (e) => e instanceof FormatError && re.test(e.message), String(re));

describe("model file metadata is checked against the weights", () => {
  it("loads a series model whose metadata fits", () => {
    const { meta } = decodeModel(encodeModel(seriesModel(), seriesMeta()), "m.safetensors");
    assert.equal(meta.series?.horizon, 3);
  });

  it("refuses a stored horizon of 5 with a head of 3 outputs (it would forecast zeros)", () => {
    const bytes = encodeModel(seriesModel(), seriesMeta({ horizon: 5 }));
    rejects(
      () => decodeModel(bytes, "m.safetensors"),
      /^m\.safetensors: series\.horizon: horizon 5 × 1 target column = 5, but the model's output_size is 3/,
    );
  });

  it("refuses a scaler, columns or targets that do not fit", () => {
    const m = seriesModel();
    rejects(
      () => decodeModel(encodeModel(m, seriesMeta({ scaler: { mean: [1, 2], std: [1, 1] } })), "m"),
      /m: series\.scaler: has 2 entries but there are 1 columns/,
    );
    rejects(
      () => decodeModel(encodeModel(m, seriesMeta({ columns: ["a", "b"] })), "m"),
      /m: series\.columns: 2 columns but the model's input_size is 1/,
    );
    rejects(
      () => decodeModel(encodeModel(m, seriesMeta({ targetColumns: ["z"] })), "m"),
      /m: series\.targetColumns: "z" is not one of the columns/,
    );
    rejects(
      () => decodeModel(encodeModel(m, seriesMeta({ scaler: { mean: [1], std: [-1] } })), "m"),
      /m: series\.scaler\.std\[0\]: expected a number > 0, got -1/,
    );
  });

  it("refuses a text model whose vocabulary is not its input and output size", () => {
    const m = new LstmModel(makeConfig({ inputSize: 3, hiddenSize: 2, outputSize: 4 }));
    const meta: ModelMeta = { task: "text", input: { kind: "one-hot" }, vocab: ["a", "b", "c"] };
    rejects(
      () => decodeModel(encodeModel(m, meta), "t"),
      /t: vocab: has 3 characters but output_size is 4/,
    );
    const ok = new LstmModel(makeConfig({ inputSize: 3, hiddenSize: 2, outputSize: 3 }));
    assert.deepEqual(decodeModel(encodeModel(ok, meta), "t").meta.vocab, ["a", "b", "c"]);
    rejects(
      () => decodeModel(encodeModel(ok, { ...meta, vocab: ["a", "b", "b"] }), "t"),
      /t: vocab: has duplicate characters/,
    );
  });

  it("names the field of a config or training summary of the wrong type", () => {
    const bytes = encodeModel(seriesModel(), seriesMeta());
    rejects(
      () =>
        decodeModel(
          withMetadata(
            bytes,
            "config",
            JSON.stringify({
              input_size: 1,
              hidden_size: "2",
              num_layers: 1,
              bidirectional: false,
              output_size: 3,
            }),
          ),
          "m",
        ),
      /^m: config\.hidden_size: expected number, got "2"/,
    );
    rejects(
      () => decodeModel(withMetadata(bytes, "training", '{"history": [{"step": "1"}]}'), "m"),
      /^m: training\.history\[0\]\.step: expected number, got "1"/,
    );
    rejects(
      () => decodeModel(withMetadata(bytes, "series", "{"), "m"),
      /^m: series is not valid JSON/,
    );
  });
});

describe("checkpoint metadata", () => {
  const model = seriesModel();
  const P = model.numParams;
  const ckpt = (): Checkpoint => ({
    params: model.params.slice(),
    trainer: {
      step: 3,
      lrFactor: 1,
      badSteps: 0,
      bestValid: null,
      bestStep: null,
      evalsSinceBest: 0,
      lossSum: 0.5,
      lossCount: 1,
      rng: [1, 2, 3, 4],
      history: [],
      elapsedMs: 10,
      nonFiniteSteps: 0,
    },
    optimizer: { kind: "sgd", stepCount: 3, buffers: {} },
    bestParams: null,
    task: { json: { pos: 0, epoch: 0 }, tensors: { order: new Float32Array([0, 1]) } },
  });
  const options = {
    hidden: 2, layers: 1, seqLen: 4, batch: 2, lr: 0.01, optimizer: "sgd", gamma: 0.1, clip: 1,
    seed: 1, out: "m.safetensors", checkpointEvery: 0, validFraction: 0.1, patience: 0,
    schedule: "constant", warmup: 0, init: "pytorch", threads: 1,
    column: "y", horizon: 3, missing: "error", testFraction: 0.1, transform: "none",
  }; // prettier-ignore
  const run = (over: Record<string, unknown> = {}): RunInfo => ({
    options: { ...options, ...over },
    dataSha256: "0".repeat(64),
  });

  it("round-trips and checks the task it resumes", () => {
    const bytes = encodeCheckpoint(model, seriesMeta(), ckpt(), run());
    const back = decodeCheckpoint(bytes, "c.ckpt", {}, "series");
    assert.equal(back.checkpoint.trainer.step, 3);
    assert.equal(back.checkpoint.params.length, P);
    rejects(
      () => decodeCheckpoint(bytes, "c.ckpt", {}, "text"),
      /^c\.ckpt: task: a checkpoint of a series model cannot resume a text run/,
    );
  });

  it("refuses a stored option of the wrong type, naming it", () => {
    const bytes = encodeCheckpoint(model, seriesMeta(), ckpt(), run({ column: 5 }));
    rejects(
      () => decodeCheckpoint(bytes, "c.ckpt", {}, "series"),
      /^c\.ckpt: run\.options\.column: expected string, got 5/,
    );
    const lr = encodeCheckpoint(model, seriesMeta(), ckpt(), run({ lr: "fast" }));
    rejects(() => decodeCheckpoint(lr, "c.ckpt"), /^c\.ckpt: run\.options\.lr: expected number/);
  });

  it("refuses stored options that contradict the weights or the series metadata", () => {
    const at = (over: Record<string, unknown>) =>
      encodeCheckpoint(model, seriesMeta(), ckpt(), run(over));
    rejects(
      () => decodeCheckpoint(at({ hidden: 8 }), "c"),
      /^c: run\.options\.hidden: 8 but the model's hidden_size is 2/,
    );
    rejects(
      () => decodeCheckpoint(at({ horizon: 5 }), "c"),
      /^c: run\.options\.horizon: 5 but the series metadata says 3/,
    );
    rejects(
      () => decodeCheckpoint(at({ seqLen: 9 }), "c"),
      /^c: run\.options\.seqLen: 9 but the series metadata says 4/,
    );
  });

  it("refuses a trainer state or optimizer entry of the wrong type, naming the field", () => {
    const bad = { ...ckpt(), trainer: { ...ckpt().trainer, rng: [1, 2, 3, -4] } } as Checkpoint;
    rejects(
      () => decodeCheckpoint(encodeCheckpoint(model, seriesMeta(), bad, run()), "c"),
      /^c: trainer\.rng\[3\]: expected ≥ 0, got -4/,
    );
    const bytes = encodeCheckpoint(model, seriesMeta(), ckpt(), run());
    rejects(
      () =>
        decodeCheckpoint(withMetadata(bytes, "optimizer", '{"kind":"lion","stepCount":1}'), "c"),
      /^c: optimizer\.kind: expected one of "sgd", "adam", "adamw", "rmsprop", "adagrad", got "lion"/,
    );
  });
});
