import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  exportTfjs,
  importTfjs,
  isTfjsModelJson,
  sniffFormat,
  TFJS_WEIGHTS_PATH,
  type TfjsModelJson,
  type TfjsShards,
} from "./convert.js";
import type { ModelMeta } from "./model-file.js";
import { LstmModel } from "../model/model.js";
import type { ModelConfigInput } from "../model/config.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import { BIDI, randomInput, randomModel, scaledError } from "../../test/numeric.js";

const UNI: ModelConfigInput = { inputSize: 5, hiddenSize: 3, numLayers: 2, outputSize: 4 };
const META: ModelMeta = { task: "generic", input: { kind: "dense" } };

function outputs(m: LstmModel, T = 5, B = 2): number[] {
  const x = randomInput(T * B * m.config.inputSize, 9);
  return Array.from(m.forward(x, { seqLen: T, batch: B }).output);
}

function close(a: number[], b: number[], tol = 1e-6) {
  const err = scaledError(a, b);
  assert.ok(err <= tol, `scaled error ${err}`);
}

/** An exported model as JSON (deep copy, safe to edit) and its shard. */
function exported(cfg: ModelConfigInput = BIDI, seed = 1) {
  const m = randomModel(cfg, seed);
  const e = exportTfjs(m, META);
  return {
    m,
    json: JSON.parse(JSON.stringify(e.modelJson)) as TfjsModelJson,
    shards: new Map([[TFJS_WEIGHTS_PATH, e.weights]]),
  };
}

type Layer = { class_name: string; config: Record<string, unknown> };
const layersOf = (j: TfjsModelJson) => (j.modelTopology!.config as { layers: Layer[] }).layers;

function rejects(json: unknown, shards: ReadonlyMap<string, Uint8Array>, re: RegExp) {
  assert.throws(
    () => importTfjs(json, shards, "m/model.json"),
    (e: unknown) => {
      assert.ok(e instanceof FormatError, String(e));
      assert.match(e.message, /^m\/model\.json: /);
      assert.match(e.message, re);
      return true;
    },
  );
}

describe("TensorFlow.js Layers models", () => {
  it("export then import gives the same outputs, unidirectional and bidirectional", () => {
    for (const cfg of [UNI, BIDI]) {
      const { m, json, shards } = exported(cfg, 3);
      const back = importTfjs(json, shards, "model.json");
      assert.deepEqual(back.model.config, m.config);
      close(outputs(back.model), outputs(m));
      assert.deepEqual(back.meta, { task: "generic", input: { kind: "dense" } });
      assert.equal(back.report.from, "tfjs");
      assert.ok(back.report.notes.some((n) => /bias_hh = 0/.test(n)));
      // bias_ih + bias_hh is exported as the one Keras bias.
      const s = "l0";
      const sum = Array.from(m.param(`lstm.bias_ih_${s}`), (v, i) =>
        Math.fround(v + m.param(`lstm.bias_hh_${s}`)[i]),
      );
      assert.deepEqual(Array.from(back.model.param(`lstm.bias_ih_${s}`)), sum);
      assert.ok(back.model.param(`lstm.bias_hh_${s}`).every((v) => v === 0));
    }
  });

  it("writes a Sequential with the names tf.loadLayersModel expects", () => {
    const { json } = exported(BIDI);
    assert.equal(json.format, "layers-model");
    const layers = layersOf(json);
    assert.deepEqual(
      layers.map((l) => l.class_name),
      ["Bidirectional", "Bidirectional", "TimeDistributed"],
    );
    assert.deepEqual(layers[0].config.batch_input_shape, [null, null, 3]);
    assert.deepEqual(
      json.weightsManifest[0].weights.map((w) => `${w.name} ${w.shape.join("x")}`),
      [
        "bidirectional/forward_lstm/kernel 3x16",
        "bidirectional/forward_lstm/recurrent_kernel 4x16",
        "bidirectional/forward_lstm/bias 16",
        "bidirectional/backward_lstm/kernel 3x16",
        "bidirectional/backward_lstm/recurrent_kernel 4x16",
        "bidirectional/backward_lstm/bias 16",
        "bidirectional_1/forward_lstm_1/kernel 8x16",
        "bidirectional_1/forward_lstm_1/recurrent_kernel 4x16",
        "bidirectional_1/forward_lstm_1/bias 16",
        "bidirectional_1/backward_lstm_1/kernel 8x16",
        "bidirectional_1/backward_lstm_1/recurrent_kernel 4x16",
        "bidirectional_1/backward_lstm_1/bias 16",
        "time_distributed/kernel 8x2",
        "time_distributed/bias 2",
      ],
    );
    // float32 bytes of every parameter but bias_hh (Keras has one bias): L·D·4H fewer values.
    const { weights } = exportTfjs(randomModel(BIDI, 1));
    assert.equal(weights.length, 4 * (new LstmModel(BIDI).numParams - 2 * 2 * 16));
  });

  it("matches weights by layer and suffix: Keras names, any order, several groups and shards", () => {
    const { m, json, shards } = exported(UNI, 5);
    const bytes = shards.get(TFJS_WEIGHTS_PATH)!;
    const specs = json.weightsManifest[0].weights;
    let off = 0;
    const items = specs.map((w) => {
      const n = 4 * w.shape.reduce((a, b) => a * b, 1);
      const b = bytes.subarray(off, off + n);
      off += n;
      const [layer, role] = w.name.split("/");
      const cell = layer === "time_distributed" ? "" : `${layer.replace("lstm", "lstm_cell")}/`;
      return { spec: { ...w, name: `${layer}/${cell}${role}` }, b };
    });
    items.reverse();
    // Two groups, the second in three shards.
    const g1 = items.slice(0, 3);
    const g2 = items.slice(3);
    const g2bytes = Buffer.concat(g2.map((i) => i.b));
    const cut = [0, 40, 100, g2bytes.length];
    const map = new Map<string, Uint8Array>([["a.bin", Buffer.concat(g1.map((i) => i.b))]]);
    for (let k = 0; k < 3; k++) map.set(`b/${k}.bin`, g2bytes.subarray(cut[k], cut[k + 1]));
    json.weightsManifest = [
      { paths: ["a.bin"], weights: g1.map((i) => i.spec) },
      { paths: ["b/0.bin", "b/1.bin", "b/2.bin"], weights: g2.map((i) => i.spec) },
    ];
    assert.ok(json.weightsManifest[1].weights.some((w) => w.name === "lstm/lstm_cell/kernel"));
    close(outputs(importTfjs(json, map, "model.json").model), outputs(m));
  });

  it("falls back to layer order when the names do not name the layers", () => {
    const { m, json, shards } = exported(UNI, 6);
    json.weightsManifest[0].weights.forEach(
      (w, i) => (w.name = `w${i}/${w.name.split("/").pop()}`),
    );
    close(outputs(importTfjs(json, shards, "model.json").model), outputs(m));
    // A name without a recognisable suffix is named in the error.
    json.weightsManifest[0].weights[1].name = "w1/weights";
    rejects(
      json,
      shards,
      /weight "w1\/weights" \(manifest entry 1\) belongs to layer 0 .*kernel, recurrent_kernel, bias/,
    );
  });

  it("reads Keras 3 names (vars/N), tensorflowjs_converter's model_config and a functional chain", () => {
    const { m, json, shards } = exported(BIDI, 7);
    for (const w of json.weightsManifest[0].weights) {
      const segs = w.name.split("/");
      const idx = { kernel: 0, recurrent_kernel: 1, bias: segs[0] === "time_distributed" ? 1 : 2 }[
        segs[segs.length - 1] as "kernel"
      ];
      w.name =
        segs.length === 3
          ? `layers/${segs[0]}/${segs[1].split("_")[0]}_layer/cell/vars/${idx}`
          : `layers/${segs[0]}/layer/vars/${idx}`;
    }
    const layers = layersOf(json);
    const names = ["input_layer", ...layers.map((l) => l.config.name as string)];
    const fn = [
      {
        class_name: "InputLayer",
        name: "input_layer",
        config: { batch_shape: [null, 7, 3], name: "input_layer" },
        inbound_nodes: [],
      },
      ...layers.map((l, i) => ({
        ...l,
        name: names[i + 1],
        inbound_nodes: [
          {
            args: [
              {
                class_name: "__keras_tensor__",
                config: { shape: [null, 7, 3], keras_history: [names[i], 0, 0] },
              },
            ],
            kwargs: {},
          },
        ],
      })),
    ];
    json.modelTopology = {
      keras_version: "3.3.3",
      model_config: {
        class_name: "Functional",
        config: { name: "f", layers: fn, output_layers: [names[3], 0, 0] },
      },
    };
    close(outputs(importTfjs(json, shards, "model.json").model), outputs(m));

    // Keras 2 form of inbound_nodes; a branch is rejected.
    const k2 = fn.map((l, i) => ({
      ...l,
      inbound_nodes: i === 0 ? [] : [[[names[i - 1], 0, 0, {}]]],
    }));
    (json.modelTopology.model_config as Record<string, unknown>).config = {
      name: "f",
      layers: k2,
      output_layers: [[names[3], 0, 0]],
    };
    close(outputs(importTfjs(json, shards, "model.json").model), outputs(m));
    k2[3].inbound_nodes = [[[names[1], 0, 0, {}]]];
    rejects(json, shards, /reads \["bidirectional"\], not the layer before it.*single chain/);
  });

  it("accepts Dropout, a Dense without TimeDistributed and a softmax head, with notes", () => {
    const { m, json, shards } = exported(UNI, 8);
    const layers = layersOf(json);
    const td = layers.pop()!;
    const dense = td.config.layer as Layer;
    dense.config.activation = "softmax";
    layers.push({ class_name: "Dropout", config: { name: "dropout", rate: 0.5 } }, dense);
    for (const w of json.weightsManifest[0].weights)
      w.name = w.name.replace("time_distributed", "dense");
    const r = importTfjs(json, shards, "model.json");
    close(outputs(r.model), outputs(m));
    assert.ok(r.report.notes.some((n) => /softmax is not stored/.test(n)));
    assert.ok(r.report.notes.some((n) => /Dropout layers recorded as training settings/.test(n)));
    // The rate before the head is the model's output dropout (training only).
    assert.deepEqual(r.model.config.dropout, { input: 0, betweenLayers: 0, output: 0.5 });
  });

  it("records Dropout rates before, between and after the LSTM layers; notes LSTM-internal dropout", () => {
    const { m, json, shards } = exported({ ...UNI, numLayers: 2 }, 9);
    const layers = layersOf(json);
    const lstms = layers.filter((l) => l.class_name === "LSTM");
    lstms[0].config.recurrent_dropout = 0.2;
    const at = (i: number, rate: number) =>
      layers.splice(i, 0, { class_name: "Dropout", config: { name: `dropout_${i}`, rate } });
    at(layers.indexOf(lstms[1]), 0.3);
    at(layers.indexOf(lstms[0]), 0.1);
    at(layers.length - 1, 0.4);
    const r = importTfjs(json, shards, "model.json");
    close(outputs(r.model), outputs(m));
    assert.deepEqual(r.model.config.dropout, { input: 0.1, betweenLayers: 0.3, output: 0.4 });
    assert.ok(r.report.notes.some((n) => /recurrent_dropout 0\.2/.test(n)));
  });

  it("rejects what lstm-ts cannot represent, naming the layer", () => {
    const cases: [string, (j: TfjsModelJson) => void, RegExp][] = [
      [
        "hard_sigmoid",
        (j) =>
          ((layersOf(j)[0].config.layer as Layer).config.recurrent_activation = "hard_sigmoid"),
        /layer 0 \("bidirectional", Bidirectional\), forward layer: recurrent_activation is "hard_sigmoid".*recurrentActivation: 'sigmoid'/,
      ],
      [
        "missing recurrent_activation",
        (j) => delete (layersOf(j)[0].config.layer as Layer).config.recurrent_activation,
        /recurrent_activation is not stated/,
      ],
      [
        "relu",
        (j) => ((layersOf(j)[1].config.layer as Layer).config.activation = "relu"),
        /activation is "relu": only "tanh"/,
      ],
      [
        "merge_mode sum",
        (j) => (layersOf(j)[0].config.merge_mode = "sum"),
        /merge_mode is "sum": only "concat"/,
      ],
      [
        "a reset_after=false GRU inside (PyTorch computes reset_after=True)",
        (j) => ((layersOf(j)[0].config.layer as Layer).class_name = "GRU"),
        /forward layer: a GRU with reset_after=false .* Rebuild the layer with reset_after=True/,
      ],
      [
        "an Embedding after the recurrent layers",
        (j) =>
          layersOf(j).splice(1, 0, {
            class_name: "Embedding",
            config: { name: "emb", input_dim: 4, output_dim: 8 },
          }),
        /layer 1 \("emb", Embedding\): an Embedding after the recurrent layers/,
      ],
      [
        "a layer class lstm-ts has no counterpart for",
        (j) => layersOf(j).unshift({ class_name: "Conv1D", config: { name: "conv" } }),
        /layer 0 \("conv", Conv1D\): layer class Conv1D is not supported/,
      ],
      ["no Dense", (j) => layersOf(j).pop(), /no Dense head after the LSTM layers/],
      [
        "softplus head",
        (j) => ((layersOf(j)[2].config.layer as Layer).config.activation = "softplus"),
        /activation is "softplus": the head must be linear/,
      ],
      [
        "inner without sequences",
        (j) => ((layersOf(j)[0].config.layer as Layer).config.return_sequences = false),
        /layer 0 .*return_sequences is false but another LSTM layer follows/,
      ],
      [
        "units differ",
        (j) => ((layersOf(j)[1].config.layer as Layer).config.units = 5),
        /units 5 but layer 0 .* has 4: lstm-ts stacks layers of one hidden size/,
      ],
      [
        "mixed directions",
        (j) => (layersOf(j)[1] = layersOf(j)[1].config.layer as Layer),
        /layer 1 \("lstm_1", LSTM\) is a plain LSTM but layer 0 .* is Bidirectional/,
      ],
      ["graph model", (j) => (j.format = "graph-model"), /a TensorFlow.js graph model/],
      [
        "no topology",
        (j) => ((j as unknown as Record<string, unknown>).modelTopology = null),
        /no modelTopology \(a weights-only manifest\)/,
      ],
      [
        "kernel shape",
        (j) => (j.weightsManifest[0].weights[7].shape = [4, 17]),
        /weight "bidirectional_1\/forward_lstm_1\/recurrent_kernel" \(layer 1 \("bidirectional_1", Bidirectional\), forward\) has shape \[4, 17\], expected \[4, 16\]/,
      ],
      [
        "second-layer kernel",
        (j) => (j.weightsManifest[0].weights[6].shape = [4, 16]),
        /weight "bidirectional_1\/forward_lstm_1\/kernel" .* has shape \[4, 16\], expected \[8, 16\] \(kernel \[D·H, 4H\]/,
      ],
      [
        "declared input",
        (j) => (layersOf(j)[0].config.batch_input_shape = [null, null, 9]),
        /declares input size 9 but weight "bidirectional\/forward_lstm\/kernel" has shape \[3, 16\]/,
      ],
      [
        "quantized",
        (j) =>
          Object.assign(j.weightsManifest[0].weights[0], {
            quantization: { dtype: "uint8", scale: 1, min: 0 },
          }),
        /weight "bidirectional\/forward_lstm\/kernel" is quantized \("uint8"\)/,
      ],
      [
        "int32",
        (j) => (j.weightsManifest[0].weights[2].dtype = "int32"),
        /weight "bidirectional\/forward_lstm\/bias" has dtype "int32": only float32/,
      ],
      [
        "a missing weight",
        (j) => j.weightsManifest[0].weights.splice(4, 1),
        /layer 0 \("bidirectional", Bidirectional\) has 5 weights in the manifest .*expected 6/,
      ],
      [
        "an extra weight",
        (j) =>
          j.weightsManifest[0].weights.push({ name: "other/kernel", shape: [1], dtype: "float32" }),
        /weights not used by any layer: "other\/kernel"/,
      ],
      [
        "duplicate role",
        (j) => (j.weightsManifest[0].weights[1].name = "bidirectional/forward_lstm/kernel"),
        /forward has two kernel weights/,
      ],
      [
        "path escape",
        (j) => (j.weightsManifest[0].paths = ["../secret.bin"]),
        /weightsManifest\[0\]\.paths\[0\] is "\.\.\/secret\.bin": shard paths must be relative/,
      ],
      [
        "a shape that is not a list",
        (j) => ((j.weightsManifest[0].weights[1] as { shape: unknown }).shape = "4x16"),
        /: weightsManifest\[0\]\.weights\[1\]\.shape: expected Array, got "4x16"/,
      ],
      [
        "lstm-ts metadata of the wrong type",
        (j) => (j.userDefinedMetadata = { "lstm-ts": { task: "text", vocab: ["a", "a"] } }),
        /: userDefinedMetadata\["lstm-ts"\]\.vocab: has duplicate characters/,
      ],
      [
        "URL",
        (j) => (j.weightsManifest[0].paths = ["https://example.com/w.bin"]),
        /shard paths must be relative/,
      ],
      [
        "lone go_backwards",
        (j) => {
          const l = layersOf(j);
          for (let k = 0; k < 2; k++) l[k] = l[k].config.layer as Layer;
          (l[0].config as Record<string, unknown>).go_backwards = true;
        },
        /go_backwards is true: a lone backwards LSTM/,
      ],
      [
        "return_state",
        (j) => ((layersOf(j)[0].config.layer as Layer).config.return_state = true),
        /return_state is true/,
      ],
      [
        "Sequential config",
        (j) => (j.modelTopology!.class_name = "Graph"),
        /modelTopology is a "Graph"/,
      ],
    ];
    for (const [name, edit, re] of cases) {
      const { json, shards } = exported(BIDI, 2);
      edit(json);
      assert.doesNotThrow(() => JSON.stringify(json), name);
      rejects(json, shards, re);
    }
  });

  it("checks the shard sizes against the manifest before reading", () => {
    const { json, shards } = exported(UNI, 4);
    const full = shards.get(TFJS_WEIGHTS_PATH)!;
    let reads = 0;
    const reader = (n: number): TfjsShards => ({
      size: () => n,
      read: () => {
        reads++;
        return full.subarray(0, n);
      },
    });
    assert.throws(
      () => importTfjs(json, reader(full.length - 4), "model.json"),
      new RegExp(
        `the shards of weightsManifest\\[0\\] \\(group1-shard1of1.bin\\) hold ${full.length - 4} bytes, but its weights \\(lstm/kernel \\[5, 12\\], .*\\) need ${full.length} \\(float32\\)`,
      ),
    );
    assert.throws(() => importTfjs(json, reader(full.length + 4), "model.json"), /hold \d+ bytes/);
    assert.equal(reads, 0);
    assert.throws(
      () => importTfjs(json, new Map(), "model.json"),
      /weight shard "group1-shard1of1.bin" \(weightsManifest\[0\]\) is missing/,
    );
    // Non-finite values name the weight.
    const bad = Uint8Array.from(full);
    new DataView(bad.buffer).setFloat32(4 * 3, NaN, true);
    assert.throws(
      () => importTfjs(json, new Map([[TFJS_WEIGHTS_PATH, bad]]), "model.json"),
      /weight "lstm\/kernel" holds NaN at index 3/,
    );
  });

  it("is detected by sniffFormat and isTfjsModelJson", () => {
    const { json } = exported(UNI);
    const text = new TextEncoder().encode(JSON.stringify(json));
    assert.equal(sniffFormat(text), "tfjs");
    assert.equal(isTfjsModelJson(json), true);
    assert.equal(isTfjsModelJson({ format: "keras-lstm", layers: [] }), false);
    assert.equal(sniffFormat(new TextEncoder().encode('{"format":"keras-lstm"}')), "keras");
    assert.equal(sniffFormat(new TextEncoder().encode('{"weightsManifest": [')), "keras");
  });

  it("carries a text model's vocabulary in userDefinedMetadata", () => {
    const m = randomModel({ inputSize: 3, hiddenSize: 2, outputSize: 3 }, 1);
    const meta: ModelMeta = { task: "text", input: { kind: "one-hot" }, vocab: ["a", "b", "\n"] };
    const e = exportTfjs(m, meta);
    assert.deepEqual(e.modelJson.userDefinedMetadata, {
      "lstm-ts": { task: "text", input: { kind: "one-hot" }, vocab: ["a", "b", "\n"] },
    });
    const back = importTfjs(e.modelJson, new Map([[e.weightsPath, e.weights]]), "model.json");
    assert.deepEqual(back.meta, {
      task: "text",
      input: { kind: "one-hot" },
      vocab: ["a", "b", "\n"],
    });
  });
});

/** Token ids [T, B] in [lo, V) from a seeded generator. */
function tokens(n: number, V: number, seed: number, lo = 0): Float32Array {
  const u = randomInput(n, seed);
  return Float32Array.from(
    u,
    (x) => lo + Math.min(V - lo - 1, Math.floor(((x + 1) / 2) * (V - lo))),
  );
}

const EMB: ModelConfigInput = {
  inputSize: 4,
  hiddenSize: 3,
  numLayers: 2,
  outputSize: 5,
  embedding: { numEmbeddings: 6, paddingIdx: 0 },
};

describe("TensorFlow.js Layers models with an Embedding", () => {
  const run = (m: LstmModel, ids: Float32Array, T: number, B: number, extra = {}) =>
    Array.from(m.forward(ids, { seqLen: T, batch: B, ...extra }).output);

  it("export then import: Embedding layer, same outputs (LSTM, GRU, bidirectional); no mask_zero outside a classifier", () => {
    const cases: ModelConfigInput[] = [
      EMB,
      { ...EMB, cell: "gru", embedding: { numEmbeddings: 6, paddingIdx: null } },
      { ...EMB, bidirectional: true, numLayers: 1 },
    ];
    for (const cfg of cases) {
      const m = randomModel(cfg, 12);
      const e = exportTfjs(m, META);
      const layers = layersOf(e.modelJson);
      assert.equal(layers[0].class_name, "Embedding");
      const ec = layers[0].config;
      // A generic model's id 0 may be a token: padding_idx 0 is not written as mask_zero.
      assert.deepEqual(
        [ec.input_dim, ec.output_dim, ec.mask_zero, ec.batch_input_shape],
        [6, 4, false, [null, null]],
      );
      assert.equal(
        e.notes.some((n) => /padding_idx 0 is not written as mask_zero/.test(n)),
        cfg.embedding!.paddingIdx === 0,
      );
      assert.equal(layers[1].config.batch_input_shape, undefined);
      const w0 = e.modelJson.weightsManifest[0].weights[0];
      assert.deepEqual([w0.name, w0.shape], ["embedding/embeddings", [6, 4]]);
      const back = importTfjs(e.modelJson, new Map([[e.weightsPath, e.weights]]), "model.json");
      const { embedding, ...rest } = m.config;
      const { embedding: embBack, ...restBack } = back.model.config;
      assert.deepEqual(restBack, rest);
      assert.deepEqual(embBack, { numEmbeddings: embedding!.numEmbeddings, paddingIdx: null });
      assert.deepEqual(
        Array.from(back.model.param("embedding.weight")),
        Array.from(m.param("embedding.weight")),
      );
      const [T, B] = [5, 3];
      const ids = tokens(T * B, 6, 3);
      close(run(back.model, ids, T, B), run(m, ids, T, B));
      assert.match(back.report.notes.join("\n"), /Embedding \[6, 4\] imported/);
    }
  });

  it("mask_zero only for a classifier (right padded, id 0 only padding): text and generic models read token 0", () => {
    const m = randomModel(EMB, 13);
    const tasks: [ModelMeta, boolean][] = [
      [{ task: "classify", input: { kind: "embedding" } }, true],
      [{ task: "text", input: { kind: "embedding" } }, false],
      [META, false],
    ];
    for (const [meta, maskZero] of tasks) {
      const e = exportTfjs(m, meta);
      assert.equal(layersOf(e.modelJson)[0].config.mask_zero, maskZero, meta.task);
      assert.match(
        e.notes.join("\n"),
        maskZero
          ? /mask_zero=true: feed token ids right padded with 0/
          : new RegExp(
              `padding_idx 0 is not written as mask_zero: in a ${meta.task} model id 0 may be a real token`,
            ),
      );
      const back = importTfjs(e.modelJson, new Map([[e.weightsPath, e.weights]]), "model.json");
      assert.equal(back.model.config.embedding?.paddingIdx, maskZero ? 0 : null);
      if (maskZero)
        assert.match(
          back.report.notes.join("\n"),
          /mask_zero=true imported as embedding\.weight with padding_idx 0.*lengths/,
        );
    }
    // A classifier whose padding id is not 0 gets no mask, and a note to feed rows unpadded.
    const other = randomModel({ ...EMB, embedding: { numEmbeddings: 6, paddingIdx: null } }, 14);
    const e = exportTfjs(other, { task: "classify", input: { kind: "embedding" } });
    assert.equal(layersOf(e.modelJson)[0].config.mask_zero, false);
    assert.match(e.notes.join("\n"), /no mask: padding_idx is none, not 0.*unpadded/);
  });

  it("writes a tied head as an untied Dense copy of embedding.weightᵀ; refuses projections (Keras has no LSTMP)", () => {
    const tied = randomModel(
      { inputSize: 3, hiddenSize: 3, outputSize: 6, embedding: { numEmbeddings: 6, paddingIdx: null }, tiedHead: true }, // prettier-ignore
      4,
    );
    const e = exportTfjs(tied, META);
    const back = importTfjs(e.modelJson, new Map([[e.weightsPath, e.weights]]), "model.json");
    assert.equal(back.model.config.tiedHead, undefined);
    assert.deepEqual(
      Array.from(back.model.param("head.weight")),
      Array.from(tied.param("embedding.weight")),
    );
    const ids = tokens(8, 6, 5);
    close(run(back.model, ids, 4, 2), run(tied, ids, 4, 2));

    const proj = randomModel(
      { inputSize: 3, hiddenSize: 4, projSize: 2, outputSize: 2, embedding: { numEmbeddings: 5, paddingIdx: 0 } }, // prettier-ignore
      5,
    );
    assert.throws(
      () => exportTfjs(proj, META),
      (err: unknown) =>
        err instanceof ConfigError &&
        /LSTM projections \(proj_size 2; Keras's LSTM has no projection/.test(err.message) &&
        !/embedding table/.test(err.message),
    );
  });

  it("a classifier ends in return_sequences=false and a Dense on the final states (readout final)", () => {
    for (const cfg of [EMB, { ...EMB, bidirectional: true }]) {
      const m = randomModel(cfg, 21);
      const e = exportTfjs(m, { task: "classify", input: { kind: "embedding" } });
      const layers = layersOf(e.modelJson);
      const last = layers[layers.length - 2];
      const inner = cfg.bidirectional ? (last.config.layer as Layer).config : last.config;
      assert.equal(inner.return_sequences, false);
      assert.equal(layers[layers.length - 1].class_name, "Dense");
      assert.equal((layers[1].config.layer as Layer | undefined)?.config.return_sequences ?? layers[1].config.return_sequences, true); // prettier-ignore
      const back = importTfjs(e.modelJson, new Map([[e.weightsPath, e.weights]]), "model.json");
      assert.match(
        back.report.notes.join("\n"),
        cfg.bidirectional ? /readout "final"/ : /readout "last"/,
      );
      const [T, B] = [6, 3];
      const ids = tokens(T * B, 6, 8, 1);
      const lengths = [6, 2, 4];
      const opts = { readout: "final", lengths };
      close(run(back.model, ids, T, B, opts), run(m, ids, T, B, opts));
    }
  });

  it("Dropout after the Embedding is the input dropout; Keras 3 names (vars/0) are read", () => {
    const m = randomModel(EMB, 31);
    const e = exportTfjs(m, META);
    const json = JSON.parse(JSON.stringify(e.modelJson)) as TfjsModelJson;
    const layers = layersOf(json);
    layers.splice(1, 0, { class_name: "Dropout", config: { name: "dropout", rate: 0.25 } });
    layers.splice(3, 0, { class_name: "Dropout", config: { name: "dropout_1", rate: 0.5 } });
    json.weightsManifest[0].weights[0].name = "layers/embedding/vars/0";
    const r = importTfjs(json, new Map([[e.weightsPath, e.weights]]), "model.json");
    assert.deepEqual(r.model.config.dropout, { input: 0.25, betweenLayers: 0.5, output: 0 });
    const ids = tokens(12, 6, 2);
    close(run(r.model, ids, 4, 3), run(m, ids, 4, 3));
  });

  it("rejects bad Embedding layers and weights, naming the field", () => {
    const cases: [string, (j: TfjsModelJson) => void, RegExp][] = [
      [
        "missing embeddings weight",
        (j) => j.weightsManifest[0].weights.shift(),
        /layer 0 \("embedding", Embedding\) has 0 weights in the manifest \(none\), expected 1: embeddings/,
      ],
      [
        "input_dim mismatch",
        (j) => (layersOf(j)[0].config.input_dim = 7),
        /weight "embedding\/embeddings" \(layer 0 \("embedding", Embedding\)\) has shape \[6, 4\], expected \[input_dim, output_dim\] = \[7, 4\] \(input_dim is 7\)/,
      ],
      [
        "output_dim mismatch",
        (j) => (layersOf(j)[0].config.output_dim = 5),
        /has shape \[6, 4\], expected \[input_dim, output_dim\] = \[6, 5\] \(output_dim is 5\)/,
      ],
      [
        "table of the wrong rank",
        (j) => (j.weightsManifest[0].weights[0].shape = [24]),
        /weight "embedding\/embeddings" .* has shape \[24\], expected \[input_dim, output_dim\] = \[6, 4\]/,
      ],
      [
        "output_dim against the LSTM kernel",
        (j) => {
          layersOf(j)[0].config.output_dim = 2;
          j.weightsManifest[0].weights[0].shape = [12, 2];
          layersOf(j)[0].config.input_dim = 12;
        },
        /layer 0 \("embedding", Embedding\) has output_dim 2 but weight "lstm\/kernel" .* has shape \[4, 12\] \(input size 4\)/,
      ],
      [
        "input_dim not an integer",
        (j) => (layersOf(j)[0].config.input_dim = 2.5),
        /layer 0 \("embedding", Embedding\): input_dim is 2\.5, expected a positive integer/,
      ],
      [
        "mask_zero not a boolean",
        (j) => (layersOf(j)[0].config.mask_zero = "yes"),
        /mask_zero is "yes", expected true or false/,
      ],
      [
        "two Embeddings",
        (j) => layersOf(j).unshift({ ...layersOf(j)[0], config: { ...layersOf(j)[0].config, name: "e0" } }), // prettier-ignore
        /layer 1 \("embedding", Embedding\): a second Embedding layer/,
      ],
      [
        "Dropout on the token ids",
        (j) => layersOf(j).unshift({ class_name: "Dropout", config: { name: "d", rate: 0.1 } }),
        /a Dropout before the Embedding would drop token ids/,
      ],
      [
        "a table with an extra row",
        (j) => (j.weightsManifest[0].weights[0].shape = [7, 4]),
        /has shape \[7, 4\], expected \[input_dim, output_dim\] = \[6, 4\] \(input_dim is 6\)/,
      ],
    ];
    for (const [name, edit, re] of cases) {
      const m = randomModel(EMB, 41);
      const e = exportTfjs(m, META);
      const json = JSON.parse(JSON.stringify(e.modelJson)) as TfjsModelJson;
      edit(json);
      assert.doesNotThrow(() => JSON.stringify(json), name);
      rejects(json, new Map([[e.weightsPath, e.weights]]), re);
    }
  });
});

describe("TensorFlow.js Layers classifiers without an embedding (Masking)", () => {
  const CHARS: ModelMeta = {
    task: "classify",
    input: { kind: "one-hot" },
    classifier: {
      kind: "chars", textColumn: "t", labelColumn: "l", classes: ["a", "b"], vocab: [..."wxyz"],
      features: 1, scaler: null,
    }, // prettier-ignore
  };
  const NUMBERS: ModelMeta = {
    task: "classify",
    input: { kind: "dense" },
    classifier: {
      kind: "numbers", textColumn: "t", labelColumn: "l", classes: ["a", "b"], vocab: null,
      features: 5, scaler: { mean: [0, 0, 0, 0, 0], std: [1, 1, 1, 1, 1] },
    }, // prettier-ignore
  };
  const CLF: ModelConfigInput = { inputSize: 5, hiddenSize: 3, bidirectional: true, outputSize: 2 };

  it("a one-hot character classifier starts with Masking(0); a numbers classifier and other tasks get none", () => {
    const m = randomModel(CLF, 51);
    const cases: [ModelMeta, boolean, RegExp | null][] = [
      [CHARS, true, /Masking\(mask_value=0\) layer first: .*all-zero rows/],
      [NUMBERS, false, /no mask: a standardised step of a numbers classifier can be all zeros.*unpadded/],
      [{ task: "text", input: { kind: "one-hot" } }, false, null],
      [META, false, null],
    ]; // prettier-ignore
    for (const [meta, masking, note] of cases) {
      const e = exportTfjs(m, meta);
      const layers = layersOf(e.modelJson);
      assert.equal(layers[0].class_name, masking ? "Masking" : "Bidirectional", meta.task);
      if (masking) {
        assert.deepEqual(layers[0].config.batch_input_shape, [null, null, 5]);
        assert.equal(layers[0].config.mask_value, 0);
        assert.equal(layers[1].config.batch_input_shape, undefined);
      } else assert.deepEqual(layers[0].config.batch_input_shape, [null, null, 5]);
      if (note) assert.match(e.notes.join("\n"), note);
      else assert.deepEqual(e.notes, []);
      // Back: the Masking layer is accepted with a note; the weights and outputs are the same.
      const back = importTfjs(e.modelJson, new Map([[e.weightsPath, e.weights]]), "model.json");
      assert.equal(
        back.report.notes.some((n) => /Masking\(mask_value=0\) makes Keras skip .*per-row lengths/.test(n)),
        masking,
      ); // prettier-ignore
      close(outputs(back.model), outputs(m));
    }
  });

  it("imports Masking before the recurrent layers (any mask value, noted); rejects it elsewhere", () => {
    const m = randomModel(CLF, 52);
    const e = exportTfjs(m, CHARS);
    const shards = new Map([[e.weightsPath, e.weights]]);
    const edited = (edit: (layers: Layer[]) => void) => {
      const json = JSON.parse(JSON.stringify(e.modelJson)) as TfjsModelJson;
      edit(layersOf(json));
      return json;
    };
    const minus1 = importTfjs(
      edited((l) => (l[0].config.mask_value = -1)),
      shards,
      "model.json",
    );
    assert.match(minus1.report.notes.join("\n"), /Masking\(mask_value=-1\).*features all equal -1/);
    const cases: [(l: Layer[]) => void, RegExp][] = [
      [(l) => (l[0].config.mask_value = "0"), /layer 0 \("masking", Masking\): mask_value is "0", expected a finite number/],
      [(l) => l.splice(1, 0, { class_name: "Masking", config: { name: "m2" } }), /layer 1 \("m2", Masking\): a second Masking layer/],
      [(l) => l.splice(2, 0, l.shift()!), /a Masking after the recurrent layers; it must come first/],
      [
        (l) => l.unshift({ class_name: "Embedding", config: { name: "e", input_dim: 3, output_dim: 5 } }),
        /layer 1 \("masking", Masking\): a Masking after an Embedding \(use the Embedding's mask_zero\)/,
      ],
    ]; // prettier-ignore
    for (const [edit, re] of cases) rejects(edited(edit), shards, re);
  });
});
