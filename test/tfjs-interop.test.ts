/**
 * TensorFlow.js interop, checked against TensorFlow.js itself (@tensorflow/tfjs, pure-JS "cpu"
 * backend, in this process): tf.sequential LSTM models with random weights are saved with
 * model.save() through a small file handler, imported with `lstm convert --from tfjs`, and our
 * forward pass is compared with model.predict(); our models exported with `lstm convert --to tfjs`
 * are loaded with tf.loadLayersModel() and compared the same way. TensorFlow.js is one of the
 * benchmark's dependencies, not the library's: it is loaded from bench/node_modules
 * (`npm run bench:deps`; CI installs it), and this test is skipped without it.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import type * as TfModule from "@tensorflow/tfjs";
import {
  loadModel,
  LstmModel,
  Rng,
  saveModel,
  type ModelConfigInput,
  type ModelMeta,
} from "../src/node.js";
import { benchRequire } from "../bench/deps.js";
import { runCli } from "./helpers.js";
import { randomModel, randomInput, scaledError } from "./numeric.js";

type Tf = typeof TfModule;
// Types named through the module's values: without bench/node_modules the module's fallback
// declaration (bench/optional-deps.d.ts) makes them all `any` and this file still compiles.
type Sequential = ReturnType<Tf["sequential"]>;
type LayersModel = Awaited<ReturnType<Tf["loadLayersModel"]>>;
type Tensor = ReturnType<Tf["tensor"]>;
/** tf.io.WeightsManifestEntry, the part written here. */
interface WeightSpec {
  name: string;
  shape: number[];
  dtype: "float32" | "int32" | "bool" | "string" | "complex64";
}
/** tf.io.ModelArtifacts, the part read here. */
interface SavedArtifacts {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology?: object | ArrayBuffer;
  weightSpecs?: WeightSpec[];
  weightData?: ArrayBuffer | ArrayBuffer[];
}
let tf: Tf | undefined;
let SKIP: string | false = false;
try {
  tf = benchRequire("@tensorflow/tfjs") as Tf;
  tf.enableProdMode(); // no "install tfjs-node" banner
  await tf.setBackend("cpu");
  await tf.ready();
} catch (e) {
  SKIP = `@tensorflow/tfjs cannot be loaded from bench/node_modules (${(e as Error).message.split("\n")[0]}): TF.js interop not checked`;
}

const tmp = mkdtempSync(join(tmpdir(), "lstm-tfjs-"));
/** Scaled max error allowed between TF.js and lstm-ts (both float32). */
const TOL = 1e-5;

/** [B, T, C] → [T, B, C]. */
/** A character classifier's metadata as train-classify writes it (id 0 padding, then `chars`). */
function charsClassifier(chars: string): NonNullable<ModelMeta["classifier"]> {
  return {
    kind: "chars",
    textColumn: "text",
    labelColumn: "label",
    classes: ["x", "y", "z"],
    vocab: [...chars],
    features: 1,
    scaler: null,
  };
}

function toTimeMajor(x: ArrayLike<number>, B: number, T: number, C: number): Float32Array {
  const out = new Float32Array(B * T * C);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let c = 0; c < C; c++) out[(t * B + b) * C + c] = x[(b * T + t) * C + c];
  return out;
}

interface TfSpec {
  I: number;
  H: number;
  L: number;
  O: number;
  bidi?: boolean;
  /** return_sequences of the last LSTM layer (default true). */
  lastSequences?: boolean;
  /** Wrap the Dense head in TimeDistributed (default true; ignored when lastSequences is false). */
  timeDistributed?: boolean;
  recurrentActivation?: "sigmoid" | "hardSigmoid";
  seed: number;
}

/** A tf.layers.lstm configuration of H units, every initializer zero (randomizeWeights follows). */
function lstmLayerConfig(
  H: number,
  returnSequences: boolean,
  recurrentActivation: "sigmoid" | "hardSigmoid",
) {
  const init = () => tf!.initializers.zeros();
  return {
    units: H,
    returnSequences,
    recurrentActivation,
    kernelInitializer: init(),
    recurrentInitializer: init(),
    biasInitializer: init(),
  };
}

/**
 * Random weights in [−0.6, 0.6) from Rng(seed), set after the model is built: initializer seeds
 * would give a Bidirectional layer's two directions the same values, and then a swap of the
 * directions would go unnoticed.
 */
function randomizeWeights(model: Sequential, seed: number): void {
  const t = tf!;
  const rng = new Rng(seed);
  model.setWeights(
    model.getWeights().map((w: Tensor) =>
      t.tensor(
        Float32Array.from({ length: w.size }, () => rng.range(-0.6, 0.6)),
        w.shape,
      ),
    ),
  );
}

function tfModel(s: TfSpec): Sequential {
  const t = tf!;
  const init = () => t.initializers.zeros();
  const model = t.sequential();
  for (let l = 0; l < s.L; l++) {
    const returnSequences = l < s.L - 1 || s.lastSequences !== false;
    const cfg = lstmLayerConfig(s.H, returnSequences, s.recurrentActivation ?? "sigmoid");
    const input = l === 0 ? { inputShape: [null, s.I] } : {};
    model.add(
      s.bidi
        ? t.layers.bidirectional({ layer: t.layers.lstm(cfg), mergeMode: "concat", ...input })
        : t.layers.lstm({ ...cfg, ...input }),
    );
  }
  const dense = t.layers.dense({ units: s.O, kernelInitializer: init(), biasInitializer: init() });
  model.add(
    s.lastSequences !== false && s.timeDistributed !== false
      ? t.layers.timeDistributed({ layer: dense })
      : dense,
  );
  randomizeWeights(model, s.seed);
  return model;
}

function concatBytes(parts: readonly ArrayBuffer[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.byteLength, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), o);
    o += p.byteLength;
  }
  return out;
}

/**
 * Saves like tf.io's file:// handler (model.json + shards in `dir`). With `groups` > 1 the weights
 * are split into that many manifest groups, and each group into shards of `shardBytes` bytes.
 */
async function saveTfjs(
  model: LayersModel,
  dir: string,
  opts: { groups?: number; shardBytes?: number } = {},
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf!.io.withSaveHandler(async (a: SavedArtifacts) => {
      const data = concatBytes(
        Array.isArray(a.weightData) ? a.weightData : a.weightData ? [a.weightData] : [],
      );
      const specs = a.weightSpecs ?? [];
      const nGroups = opts.groups ?? 1;
      const per = Math.ceil(specs.length / nGroups);
      const manifest = [];
      let offset = 0;
      for (let g = 0; g < nGroups; g++) {
        const weights = specs.slice(g * per, (g + 1) * per);
        const bytes = weights.reduce((n, w) => n + 4 * w.shape.reduce((x, y) => x * y, 1), 0);
        const groupData = data.subarray(offset, offset + bytes);
        offset += bytes;
        const shard = opts.shardBytes ?? Math.max(bytes, 1);
        const count = Math.max(1, Math.ceil(bytes / shard));
        const paths: string[] = [];
        for (let k = 0; k < count; k++) {
          const p = `group${g + 1}-shard${k + 1}of${count}.bin`;
          writeFileSync(join(dir, p), groupData.subarray(k * shard, (k + 1) * shard));
          paths.push(p);
        }
        manifest.push({ paths, weights });
      }
      assert.equal(offset, data.length);
      const json = {
        format: a.format,
        generatedBy: a.generatedBy,
        convertedBy: a.convertedBy ?? null,
        modelTopology: a.modelTopology,
        weightsManifest: manifest,
      };
      writeFileSync(join(dir, "model.json"), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }),
  );
}

/** Loads like tf.io's file:// handler: model.json and its shards from `dir`. */
async function loadTfjs(dir: string): Promise<LayersModel> {
  const json = JSON.parse(readFileSync(join(dir, "model.json"), "utf8")) as {
    modelTopology: object;
    weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
    format?: string;
    generatedBy?: string;
    convertedBy?: string | null;
    userDefinedMetadata?: { [key: string]: object };
  };
  const bytes = concatBytes(
    json.weightsManifest.flatMap((g) =>
      g.paths.map((p) => {
        const b = readFileSync(join(dir, p));
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
      }),
    ),
  );
  const handler = {
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: bytes.buffer as ArrayBuffer,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy ?? undefined,
      userDefinedMetadata: json.userDefinedMetadata,
    }),
  };
  return tf!.loadLayersModel(handler, { strict: true });
}

function predict(model: LayersModel, xBatchFirst: Float32Array, shape: number[]) {
  const t = tf!;
  return t
    .tidy(() => {
      const y = model.predict(t.tensor3d(xBatchFirst, shape as [number, number, number]));
      return (Array.isArray(y) ? y[0] : y).dataSync() as Float32Array;
    })
    .slice();
}

/** Our forward on time-major x ([T, B, I]); readout "all" gives [T, B, O], "last" [B, O]. */
function ours(m: LstmModel, xTimeMajor: Float32Array, T: number, B: number, last = false) {
  return Float32Array.from(
    m.forward(xTimeMajor, { seqLen: T, batch: B, readout: last ? "last" : "all" }).output,
  );
}

function convertFromTfjs(input: string, out: string) {
  const r = runCli(["convert", "--from", "tfjs", input, "--out", out, "--json"]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { from: string; config: Record<string, unknown>; notes: string[] };
}

const errors: string[] = [];

const CASES: { name: string; spec: TfSpec; save?: { groups?: number; shardBytes?: number } }[] = [
  { name: "1 layer, TimeDistributed(Dense)", spec: { I: 3, H: 5, L: 1, O: 4, seed: 11 } },
  {
    name: "2 layers, Dense on the sequence, 2 manifest groups in 96-byte shards",
    spec: { I: 4, H: 6, L: 2, O: 3, timeDistributed: false, seed: 21 },
    save: { groups: 2, shardBytes: 96 },
  },
  { name: "2 Bidirectional layers", spec: { I: 3, H: 4, L: 2, O: 2, bidi: true, seed: 31 } },
  {
    name: "1 layer, return_sequences=false (readout last)",
    spec: { I: 2, H: 7, L: 1, O: 3, lastSequences: false, seed: 41 },
  },
];

for (const c of CASES) {
  test(
    `lstm convert --from tfjs: ${c.name} gives model.predict's outputs`,
    { skip: SKIP },
    async (t: TestContext) => {
      const { I, O, lastSequences } = c.spec;
      const model = tfModel(c.spec);
      const dir = join(tmp, `tf-${c.spec.seed}`);
      await saveTfjs(model, dir, c.save);
      const out = join(tmp, `from-tf-${c.spec.seed}.safetensors`);
      const summary = convertFromTfjs(dir, out);
      assert.equal(summary.from, "tfjs");
      const ourModel = loadModel(out).model;
      const B = 3;
      const T = 6;
      const x = randomInput(B * T * I, c.spec.seed);
      const expected = predict(model, x, [B, T, I]); // [B, T, O] or [B, O]
      const last = lastSequences === false;
      const got = ours(ourModel, toTimeMajor(x, B, T, I), T, B, last);
      const err = scaledError(got, last ? expected : toTimeMajor(expected, B, T, O));
      errors.push(`${c.name}: ${err.toExponential(2)}`);
      t.diagnostic(`scaled max error ${err.toExponential(2)}`);
      assert.ok(err <= TOL, `scaled error ${err} > ${TOL}`);
      model.dispose();
    },
  );
}

test(
  "lstm convert --from tfjs reads tensorflowjs_converter's Keras layout (model_config, InputLayer, Keras 2 names, weights out of order)",
  { skip: SKIP },
  async () => {
    const spec: TfSpec = { I: 3, H: 4, L: 2, O: 2, bidi: true, seed: 51 };
    const model = tfModel(spec);
    const dir = join(tmp, "keras-layout");
    await saveTfjs(model, dir);
    const j = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    const layers = j.modelTopology.config.layers as {
      class_name: string;
      config: Record<string, unknown>;
    }[];
    // Keras 2 names: bidirectional, bidirectional_1, time_distributed; an InputLayer first.
    const rename = new Map<string, string>();
    layers.forEach((l, i) => {
      const name = ["bidirectional", "bidirectional_1", "time_distributed"][i];
      rename.set(l.config.name as string, name);
      l.config.name = name;
      delete l.config.batch_input_shape;
    });
    layers.unshift({
      class_name: "InputLayer",
      config: { batch_input_shape: [null, null, spec.I], dtype: "float32", name: "input_1" },
    });
    // Weights as Keras 2 names them ("bidirectional/forward_lstm/lstm_cell_1/kernel:0" less ":0").
    // The converter lists the layers in h5py's name order, not layer order.
    const specs = j.weightsManifest[0].weights as { name: string; shape: number[] }[];
    const data = readFileSync(join(dir, "group1-shard1of1.bin"));
    let off = 0;
    const items = specs.map((w) => {
      const n = 4 * w.shape.reduce((a, b) => a * b, 1);
      const bytes = data.subarray(off, off + n);
      off += n;
      const segs = w.name.split("/");
      const layer = rename.get(segs[0])!;
      const dir2 =
        segs.length === 3
          ? `${segs[1].startsWith("forward") ? "forward" : "backward"}_lstm/lstm_cell/`
          : "";
      return { name: `${layer}/${dir2}${segs[segs.length - 1]}`, shape: w.shape, bytes, layer };
    });
    assert.equal(off, data.length);
    // Reverse name order: layers, directions and kernel/recurrent_kernel/bias all out of order.
    items.sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
    writeFileSync(join(dir, "group1-shard1of1.bin"), Buffer.concat(items.map((i) => i.bytes)));
    j.weightsManifest[0].weights = items.map((i) => ({
      name: i.name,
      shape: i.shape,
      dtype: "float32",
    }));
    j.modelTopology = {
      keras_version: "2.15.0",
      backend: "tensorflow",
      model_config: { class_name: "Sequential", config: { name: "sequential", layers } },
    };
    j.generatedBy = "keras v2.15.0";
    writeFileSync(join(dir, "model.json"), JSON.stringify(j));

    const out = join(tmp, "keras-layout.safetensors");
    convertFromTfjs(join(dir, "model.json"), out);
    const B = 2;
    const T = 5;
    const x = randomInput(B * T * spec.I, 7);
    const expected = predict(model, x, [B, T, spec.I]);
    const got = ours(loadModel(out).model, toTimeMajor(x, B, T, spec.I), T, B);
    const err = scaledError(got, toTimeMajor(expected, B, T, spec.O));
    errors.push(`Keras converter layout (bidirectional, 2 layers): ${err.toExponential(2)}`);
    assert.ok(err <= TOL, `scaled error ${err} > ${TOL}`);
    model.dispose();
  },
);

for (const [name, cfg] of [
  ["1 layer", { inputSize: 3, hiddenSize: 5, numLayers: 1, outputSize: 4 }],
  ["2 layers", { inputSize: 4, hiddenSize: 3, numLayers: 2, outputSize: 2 }],
  [
    "2 bidirectional layers",
    { inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, outputSize: 3 },
  ],
] as [string, ModelConfigInput][]) {
  test(
    `lstm convert --to tfjs: ${name} loads with tf.loadLayersModel and predicts our outputs`,
    { skip: SKIP },
    async () => {
      const m = randomModel(cfg, 100 + cfg.hiddenSize);
      const meta: ModelMeta = { task: "generic", input: { kind: "dense" } };
      const src = join(tmp, `ours-${name.replace(/ /g, "-")}.safetensors`);
      saveModel(src, m, meta);
      const dir = join(tmp, `to-tf-${name.replace(/ /g, "-")}`);
      const r = runCli(["convert", src, "--to", "tfjs", "--out", dir]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(readdirSync(dir).sort(), ["group1-shard1of1.bin", "model.json"]);
      const model = await loadTfjs(dir);
      const { inputSize: I, outputSize: O } = cfg;
      const B = 2;
      const T = 7;
      const x = randomInput(B * T * I, 5);
      const expected = predict(model, x, [B, T, I]);
      const got = ours(m, toTimeMajor(x, B, T, I), T, B);
      const err = scaledError(toTimeMajor(expected, B, T, O), got);
      errors.push(`--to tfjs, ${name}: ${err.toExponential(2)}`);
      assert.ok(err <= TOL, `scaled error ${err} > ${TOL}`);

      // And back: --from tfjs gives the same outputs (bias_ih + bias_hh now in bias_ih).
      const back = join(tmp, `back-${name.replace(/ /g, "-")}.safetensors`);
      convertFromTfjs(dir, back);
      const again = ours(loadModel(back).model, toTimeMajor(x, B, T, I), T, B);
      assert.ok(scaledError(again, got) <= TOL);
      model.dispose();
    },
  );
}

// ------------------------------------------------------------------------------------------------
// Embedding. Keras's mask_zero skips every step whose token is 0 (state and output carried); lstm-ts
// imports it as padding_idx 0 and runs right-padded rows with per-row lengths: the outputs agree at
// every valid step and on the last output. Rows here are right padded with 0 (tokens 1 … V−1).

/** Right-padded token ids, batch-first [B, T] (for TF.js) and time-major [T, B] (for lstm-ts). */
function paddedTokens(V: number, T: number, lengths: number[], seed: number, zeroFree = true) {
  const B = lengths.length;
  const rng = new Rng(seed);
  const bf = new Float32Array(B * T);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < lengths[b]; t++) {
      const lo = zeroFree ? 1 : 0;
      bf[b * T + t] = lo + Math.min(V - 1 - lo, Math.floor(rng.range(0, 1) * (V - lo)));
    }
  return { bf, tm: toTimeMajor(bf, B, T, 1) };
}

/** The valid steps of a [T, B, O] time-major output: [Σ lengths, O], in (b, t) order. */
function validSteps(y: ArrayLike<number>, lengths: number[], T: number, O: number): Float32Array {
  const B = lengths.length;
  const out: number[] = [];
  for (let b = 0; b < B; b++)
    for (let t = 0; t < lengths[b]; t++)
      for (let o = 0; o < O; o++) out.push(y[(t * B + b) * O + o]);
  return Float32Array.from(out);
}

interface TfEmbSpec {
  V: number;
  E: number;
  H: number;
  L: number;
  O: number;
  maskZero: boolean;
  bidi?: boolean;
  /** Dense on the last layer's last output (classification) instead of TimeDistributed. */
  classify?: boolean;
  dropout?: number;
  seed: number;
}

function tfEmbModel(s: TfEmbSpec): Sequential {
  const t = tf!;
  const init = () => t.initializers.zeros();
  const model = t.sequential();
  model.add(
    t.layers.embedding({
      inputDim: s.V,
      outputDim: s.E,
      maskZero: s.maskZero,
      inputShape: [null],
      embeddingsInitializer: init(),
    }),
  );
  if (s.dropout) model.add(t.layers.dropout({ rate: s.dropout }));
  for (let l = 0; l < s.L; l++) {
    const cfg = lstmLayerConfig(s.H, l < s.L - 1 || !s.classify, "sigmoid");
    model.add(
      s.bidi
        ? t.layers.bidirectional({ layer: t.layers.lstm(cfg), mergeMode: "concat" })
        : t.layers.lstm(cfg),
    );
  }
  const dense = t.layers.dense({ units: s.O, kernelInitializer: init(), biasInitializer: init() });
  model.add(s.classify ? dense : t.layers.timeDistributed({ layer: dense }));
  randomizeWeights(model, s.seed);
  return model;
}

function predictIds(model: LayersModel, ids: Float32Array, B: number, T: number) {
  const t = tf!;
  return t
    .tidy(() => {
      const y = model.predict(t.tensor2d(ids, [B, T]));
      return (Array.isArray(y) ? y[0] : y).dataSync() as Float32Array;
    })
    .slice();
}

const EMB_CASES: { name: string; spec: TfEmbSpec }[] = [
  {
    name: "Embedding(mask_zero) + 2 LSTM + TimeDistributed(Dense)",
    spec: { V: 9, E: 4, H: 5, L: 2, O: 3, maskZero: true, seed: 71 },
  },
  {
    name: "Embedding(mask_zero) + Dropout + LSTM + Dense on the last output (classifier)",
    spec: { V: 7, E: 3, H: 4, L: 1, O: 4, maskZero: true, classify: true, dropout: 0.3, seed: 72 },
  },
  {
    name: "Embedding(mask_zero) + Bidirectional(LSTM) + Dense on the last output (readout final)",
    spec: { V: 8, E: 3, H: 4, L: 2, O: 2, maskZero: true, bidi: true, classify: true, seed: 73 },
  },
  {
    name: "Embedding(mask_zero) + Bidirectional(LSTM) + TimeDistributed(Dense)",
    spec: { V: 8, E: 5, H: 3, L: 1, O: 2, maskZero: true, bidi: true, seed: 74 },
  },
  {
    name: "Embedding without a mask (token 0 is a token) + LSTM + TimeDistributed(Dense)",
    spec: { V: 6, E: 3, H: 4, L: 1, O: 3, maskZero: false, seed: 75 },
  },
];

for (const c of EMB_CASES) {
  test(
    `lstm convert --from tfjs: ${c.name} gives model.predict's outputs`,
    { skip: SKIP },
    async (t: TestContext) => {
      const { V, O, maskZero, classify, bidi } = c.spec;
      const model = tfEmbModel(c.spec);
      const dir = join(tmp, `tf-emb-${c.spec.seed}`);
      await saveTfjs(model, dir);
      const out = join(tmp, `from-tf-emb-${c.spec.seed}.safetensors`);
      const summary = convertFromTfjs(dir, out);
      const notes = summary.notes.join("\n");
      const ourModel = loadModel(out).model;
      assert.deepEqual(ourModel.config.embedding, {
        numEmbeddings: V,
        paddingIdx: maskZero ? 0 : null,
      });
      if (c.spec.dropout) assert.equal(ourModel.config.dropout?.input, c.spec.dropout);
      const T = 7;
      // Without a mask every step is read: full rows, 0 included as a token.
      const lengths = maskZero ? [7, 3, 5, 1] : [7, 7, 7, 7];
      const B = lengths.length;
      const { bf, tm } = paddedTokens(V, T, lengths, c.spec.seed, maskZero);
      const expected = predictIds(model, bf, B, T); // [B, T, O] or [B, O]
      const readout = !classify ? "all" : bidi ? "final" : "last";
      if (classify) assert.match(notes, bidi ? /readout "final"/ : /readout "last"/);
      const got = ourModel.forward(tm, {
        seqLen: T,
        batch: B,
        readout,
        ...(maskZero ? { lengths } : {}),
      }).output;
      const err = classify
        ? scaledError(got, expected)
        : scaledError(
            validSteps(got, lengths, T, O),
            validSteps(toTimeMajor(expected, B, T, O), lengths, T, O),
          );
      errors.push(`${c.name}: ${err.toExponential(2)}`);
      t.diagnostic(`scaled max error ${err.toExponential(2)}`);
      assert.ok(err <= TOL, `scaled error ${err} > ${TOL}`);
      model.dispose();
    },
  );
}

for (const [name, cfg, meta] of [
  [
    "padding_idx 0 in a generic model (no mask_zero: id 0 is a token), 2 layers, TimeDistributed",
    {
      inputSize: 4,
      hiddenSize: 3,
      numLayers: 2,
      outputSize: 3,
      embedding: { numEmbeddings: 7, paddingIdx: 0 },
    },
    { task: "generic", input: { kind: "embedding" } },
  ],
  [
    "tied head, no padding (untied copy)",
    {
      inputSize: 3,
      hiddenSize: 3,
      outputSize: 6,
      embedding: { numEmbeddings: 6, paddingIdx: null },
      tiedHead: true,
    },
    { task: "generic", input: { kind: "embedding" } },
  ],
  [
    "bidirectional classifier with padding_idx 0 (readout final)",
    {
      inputSize: 3,
      hiddenSize: 4,
      bidirectional: true,
      outputSize: 3,
      embedding: { numEmbeddings: 8, paddingIdx: 0 },
    },
    {
      task: "classify",
      input: { kind: "embedding" },
      // As train-classify writes it: id 0 is padding, ids 1 … 7 the characters.
      classifier: charsClassifier("abcdefg"),
    },
  ],
] as [string, ModelConfigInput, ModelMeta][]) {
  test(
    `lstm convert --to tfjs: an embedding model, ${name}, predicts our outputs in TF.js`,
    { skip: SKIP },
    async () => {
      const m = randomModel(cfg, 200 + cfg.inputSize);
      const slug = name.replace(/[^a-z0-9]+/gi, "-");
      const src = join(tmp, `ours-emb-${slug}.safetensors`);
      saveModel(src, m, meta);
      const dir = join(tmp, `to-tf-emb-${slug}`);
      const r = runCli(["convert", src, "--to", "tfjs", "--out", dir, "--json"]);
      assert.equal(r.status, 0, r.stderr);
      const notes = (JSON.parse(r.stdout) as { notes: string[] }).notes.join("\n");
      const classify = meta.task === "classify";
      // mask_zero only for a classifier (right padded, 0 only padding); elsewhere 0 is a token.
      const padded = classify && cfg.embedding!.paddingIdx === 0;
      const j = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
      assert.equal(j.modelTopology.config.layers[0].config.mask_zero, padded);
      if (cfg.embedding!.paddingIdx === 0)
        assert.match(
          notes,
          padded ? /mask_zero=true/ : /padding_idx 0 is not written as mask_zero/,
        );
      const model = await loadTfjs(dir);
      const V = cfg.embedding!.numEmbeddings;
      const O = cfg.outputSize;
      const T = 6;
      const lengths = padded ? [6, 2, 4] : [6, 6, 6];
      const B = lengths.length;
      const { bf, tm } = paddedTokens(V, T, lengths, 9, padded);
      // Unpadded rows hold token 0 too: Keras must read it as a token, as lstm-ts does.
      if (!padded) assert.ok(bf.includes(0), "no token 0 in the rows");
      const expected = predictIds(model, bf, B, T);
      const got = m.forward(tm, {
        seqLen: T,
        batch: B,
        readout: classify ? "final" : "all",
        ...(padded ? { lengths } : {}),
      }).output;
      const err = classify
        ? scaledError(expected, got)
        : scaledError(
            validSteps(toTimeMajor(expected, B, T, O), lengths, T, O),
            validSteps(got, lengths, T, O),
          );
      errors.push(`--to tfjs, embedding ${name}: ${err.toExponential(2)}`);
      assert.ok(err <= TOL, `scaled error ${err} > ${TOL}`);

      // And back: the same outputs, task and classifier metadata; a tied head comes back untied.
      const back = join(tmp, `back-emb-${slug}.safetensors`);
      convertFromTfjs(dir, back);
      const loaded = loadModel(back);
      assert.equal(loaded.meta.task, meta.task);
      assert.deepEqual(loaded.meta.classifier, meta.classifier);
      assert.deepEqual(loaded.model.config.embedding, {
        numEmbeddings: V,
        paddingIdx: padded ? 0 : null,
      });
      const again = loaded.model.forward(tm, {
        seqLen: T,
        batch: B,
        readout: classify ? "final" : "all",
        ...(padded ? { lengths } : {}),
      }).output;
      assert.ok(scaledError(again, got) <= TOL);
      model.dispose();
    },
  );
}

// ------------------------------------------------------------------------------------------------
// Classifiers without an embedding. One-hot characters: a Masking(mask_value=0) layer first, padding
// fed as all-zero rows (a one-hot step never is one), so Keras reads each row at its own length.
// Numbers: no mask (a standardised step can be all zeros), so rows must be fed unpadded.

/** One-hot rows [B, T, V] batch-first and [T, B, V] time-major: ids 1 … V−1, padding all zeros. */
function paddedOneHot(V: number, T: number, lengths: number[], seed: number) {
  const B = lengths.length;
  const { bf: ids } = paddedTokens(V, T, lengths, seed);
  const bf = new Float32Array(B * T * V);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < lengths[b]; t++) bf[(b * T + t) * V + ids[b * T + t]] = 1;
  return { bf, tm: toTimeMajor(bf, B, T, V) };
}

for (const [name, bidirectional] of [
  ["2 layers", false],
  ["bidirectional", true],
] as [string, boolean][]) {
  test(
    `lstm convert --to tfjs: a one-hot character classifier (${name}) starts with Masking(0): padded rows give our outputs at their lengths; --from tfjs takes it back`,
    { skip: SKIP },
    async () => {
      const V = 6;
      const cfg: ModelConfigInput = {
        inputSize: V, hiddenSize: 4, numLayers: bidirectional ? 1 : 2, bidirectional, outputSize: 3,
      }; // prettier-ignore
      const meta: ModelMeta = {
        task: "classify",
        input: { kind: "one-hot" },
        classifier: charsClassifier("abcde"),
      };
      const m = randomModel(cfg, bidirectional ? 301 : 302);
      const slug = `onehot-clf-${bidirectional ? "bidi" : "uni"}`;
      const src = join(tmp, `${slug}.safetensors`);
      saveModel(src, m, meta);
      const dir = join(tmp, `to-tf-${slug}`);
      const r = runCli(["convert", src, "--to", "tfjs", "--out", dir, "--json"]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(
        (JSON.parse(r.stdout) as { notes: string[] }).notes.join("\n"),
        /Masking\(mask_value=0\).*all-zero rows/,
      );
      const layers = JSON.parse(readFileSync(join(dir, "model.json"), "utf8")).modelTopology.config
        .layers as { class_name: string; config: Record<string, unknown> }[];
      assert.equal(layers[0].class_name, "Masking");
      assert.equal(layers[0].config.mask_value, 0);
      const model = await loadTfjs(dir);
      const T = 7;
      const lengths = [7, 2, 5, 1];
      const B = lengths.length;
      const { bf, tm } = paddedOneHot(V, T, lengths, 17);
      const expected = predict(model, bf, [B, T, V]); // [B, C]
      // A copy: the next forward reuses the output buffer.
      const got = Float32Array.from(
        m.forward(tm, { seqLen: T, batch: B, readout: "final", lengths }).output,
      );
      const err = scaledError(expected, got);
      errors.push(`--to tfjs, one-hot classifier ${name}, padded rows: ${err.toExponential(2)}`);
      assert.ok(err <= TOL, `scaled error ${err} > ${TOL}`);
      // Without the mask Keras would read the padded steps: the padding matters in these rows.
      const unmasked = m.forward(tm, { seqLen: T, batch: B, readout: "final" }).output;
      assert.ok(scaledError(expected, unmasked) > 1e-3, "padding does not change the outputs");

      // And back: Masking(0) is accepted (a note says to run with lengths), the same outputs.
      const back = join(tmp, `back-${slug}.safetensors`);
      const summary = convertFromTfjs(dir, back);
      assert.ok(summary.notes.some((n) => /Masking\(mask_value=0\).*per-row lengths/.test(n)));
      const loaded = loadModel(back);
      assert.deepEqual(loaded.meta.classifier, meta.classifier);
      const again = loaded.model.forward(tm, { seqLen: T, batch: B, readout: "final", lengths });
      assert.ok(scaledError(again.output, got) <= TOL);
      model.dispose();
    },
  );
}

test(
  "lstm convert --to tfjs: a numbers classifier gets no Masking (a real step can be all zeros): unpadded rows give our outputs, and the report says to feed rows unpadded",
  { skip: SKIP },
  async () => {
    const F = 2;
    const cfg: ModelConfigInput = { inputSize: F, hiddenSize: 5, bidirectional: true, outputSize: 2 };
    const meta: ModelMeta = {
      task: "classify",
      input: { kind: "dense" },
      classifier: {
        kind: "numbers", textColumn: "x", labelColumn: "label", classes: ["lo", "hi"],
        vocab: null, features: F, scaler: { mean: [0, 0], std: [1, 1] },
      }, // prettier-ignore
    };
    const m = randomModel(cfg, 303);
    const src = join(tmp, "numbers-clf.safetensors");
    saveModel(src, m, meta);
    const dir = join(tmp, "to-tf-numbers-clf");
    const r = runCli(["convert", src, "--to", "tfjs", "--out", dir, "--json"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      (JSON.parse(r.stdout) as { notes: string[] }).notes.join("\n"),
      /no mask: .*all zeros.*feed each row unpadded/,
    );
    const j = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    assert.ok(j.modelTopology.config.layers.every((l: { class_name: string }) => l.class_name !== "Masking"));
    const model = await loadTfjs(dir);
    // Rows of one length (unpadded), one step of them all zeros: Keras reads it, as lstm-ts does.
    const [B, T] = [3, 5];
    const x = randomInput(B * T * F, 304);
    x.fill(0, (1 * T + 2) * F, (1 * T + 3) * F);
    const expected = predict(model, x, [B, T, F]);
    const got = m.forward(toTimeMajor(x, B, T, F), { seqLen: T, batch: B, readout: "final" });
    const err = scaledError(expected, got.output);
    errors.push(`--to tfjs, numbers classifier, unpadded rows: ${err.toExponential(2)}`);
    assert.ok(err <= TOL, `scaled error ${err} > ${TOL}`);
    model.dispose();
  },
); // prettier-ignore

test(
  "lstm convert --from tfjs: a TF.js Masking + Bidirectional(LSTM) + Dense classifier gives model.predict's outputs on padded rows, run with lengths",
  { skip: SKIP },
  async () => {
    const t = tf!;
    const [V, H, O] = [5, 3, 2];
    const model = t.sequential();
    model.add(t.layers.masking({ maskValue: 0, inputShape: [null, V] }));
    model.add(t.layers.bidirectional({ layer: t.layers.lstm(lstmLayerConfig(H, false, "sigmoid")), mergeMode: "concat" }));
    model.add(t.layers.dense({ units: O }));
    randomizeWeights(model, 305);
    const dir = join(tmp, "tf-masking");
    await saveTfjs(model, dir);
    const out = join(tmp, "from-tf-masking.safetensors");
    const summary = convertFromTfjs(dir, out);
    assert.ok(summary.notes.some((n) => /Masking\(mask_value=0\)/.test(n)));
    const T = 6;
    const lengths = [6, 1, 3];
    const B = lengths.length;
    const { bf, tm } = paddedOneHot(V, T, lengths, 306);
    const expected = predict(model, bf, [B, T, V]);
    const got = loadModel(out).model.forward(tm, { seqLen: T, batch: B, readout: "final", lengths });
    const err = scaledError(got.output, expected);
    errors.push(`--from tfjs, Masking + Bidirectional classifier: ${err.toExponential(2)}`);
    assert.ok(err <= TOL, `scaled error ${err} > ${TOL}`);
    model.dispose();
  },
); // prettier-ignore

test(
  "lstm convert --from tfjs rejects tf.layers.lstm's default hardSigmoid with a clear message",
  { skip: SKIP },
  async () => {
    const model = tfModel({ I: 2, H: 3, L: 1, O: 2, recurrentActivation: "hardSigmoid", seed: 61 });
    const dir = join(tmp, "hard");
    await saveTfjs(model, dir);
    const out = join(tmp, "hard.safetensors");
    const r = runCli(["convert", dir, "--out", out]); // format detected from the directory
    assert.equal(r.status, 1);
    assert.match(r.stderr, /recurrent_activation is "hard_sigmoid"/);
    assert.match(r.stderr, /recurrentActivation: 'sigmoid'/);
    assert.throws(() => readFileSync(out));
    model.dispose();
  },
);

test("TF.js interop errors", { skip: SKIP }, (t) => {
  t.diagnostic(errors.join("; "));
});

test("lstm convert --to tfjs / --from tfjs on the command line: metadata, detection and errors", () => {
  const m = randomModel({ inputSize: 3, hiddenSize: 2, outputSize: 3 }, 7);
  const src = join(tmp, "text.safetensors");
  saveModel(src, m, { task: "text", input: { kind: "one-hot" }, vocab: ["a", "b", "\n"] });
  const dir = join(tmp, "text-tfjs", "nested");
  let r = runCli(["convert", src, "--to", "tfjs", "--out", dir, "--json"]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).to, "tfjs");
  const j = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
  assert.equal(j.format, "layers-model");
  assert.deepEqual(j.weightsManifest[0].paths, ["group1-shard1of1.bin"]);
  assert.deepEqual(j.userDefinedMetadata["lstm-ts"].vocab, ["a", "b", "\n"]);

  // Detected from the directory and from model.json; the vocabulary comes back.
  for (const input of [dir, join(dir, "model.json")]) {
    const back = join(tmp, "text-back.safetensors");
    r = runCli(["convert", input, "--out", back]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /TensorFlow\.js Layers model/);
    assert.match(r.stdout, /note: Keras has one bias per gate/);
    const loaded = loadModel(back);
    assert.equal(loaded.meta.task, "text");
    assert.deepEqual(loaded.meta.vocab, ["a", "b", "\n"]);
    assert.equal(loaded.meta.training?.convertedFrom, "tfjs");
  }

  const file = join(tmp, "a-file");
  writeFileSync(file, "x");
  const empty = join(tmp, "empty-dir");
  mkdirSync(empty, { recursive: true });
  const broken = join(tmp, "broken-tfjs");
  mkdirSync(broken, { recursive: true });
  writeFileSync(join(broken, "model.json"), JSON.stringify(j));
  const out = join(tmp, "never.safetensors");
  const cases: [string[], RegExp][] = [
    [
      ["convert", src, "--to", "tfjs", "--out", file],
      /--out .*a-file is a file; --to tfjs writes a directory/,
    ],
    [["convert", dir, "--to", "tfjs", "--out", dir], /--out: .* is the input <input>/],
    [
      ["convert", "--from", "tfjs", empty, "--out", out],
      /empty-dir is a directory without a model\.json/,
    ],
    [
      ["convert", broken, "--out", out],
      /cannot read weight shard .*group1-shard1of1\.bin \(listed in .*model\.json\): no such file/,
    ],
  ];
  for (const [args, re] of cases) {
    r = runCli(args);
    assert.equal(r.status, 1, `${args.join(" ")}: ${r.stdout}`);
    assert.match(r.stderr, re);
  }
  assert.throws(() => readFileSync(out));
});

// ------------------------------------------------------------------------------------------------
// GRU. TensorFlow.js runs only reset_after=false GRUs (tf.layers.gru throws on resetAfter: true),
// a different formula from PyTorch's nn.GRU: such a model is refused, with the reason. A Keras
// GRU with reset_after=True (TensorFlow 2's default, as tensorflowjs_converter writes it) is
// PyTorch's formula: it is imported exactly, checked against the Keras equations written out here.

/** One weight of a hand-made TF.js model: its manifest name and shape, and its values. */
interface HandWeight {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * Writes a hand-made TF.js Layers model into tmp/NAME: model.json (a Sequential of `layers`, and
 * the manifest of `weights`, float32 in one shard) and the shard w.bin. Returns the directory and
 * the shard's values.
 */
function writeTfjsDir(name: string, layers: object[], weights: HandWeight[]) {
  const modelJson = {
    format: "layers-model",
    modelTopology: { class_name: "Sequential", config: { name: "sequential", layers } },
    weightsManifest: [
      {
        paths: ["w.bin"],
        weights: weights.map((w) => ({ name: w.name, shape: w.shape, dtype: "float32" })),
      },
    ],
  };
  const bin = new Float32Array(weights.reduce((n, w) => n + w.data.length, 0));
  let o = 0;
  for (const w of weights) {
    bin.set(w.data, o);
    o += w.data.length;
  }
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "model.json"), JSON.stringify(modelJson));
  writeFileSync(join(dir, "w.bin"), new Uint8Array(bin.buffer));
  return { dir, bin };
}

/** One direction of a Keras GRU layer: kernel [inW, 3H], recurrent_kernel [H, 3H], bias [2, 3H]. */
interface GruWeights {
  kernel: Float32Array;
  rec: Float32Array;
  bias: Float32Array;
  inW: number;
}

/**
 * One direction of a Keras reset_after=True GRU, float64: outputs [T, B, H] in time order.
 * `mask` [T, B] (1 valid, 0 masked) applies Keras's mask semantics: at a masked step the state
 * is held and the output repeats the previous one (zeros before any valid step). `reverse` is
 * go_backwards (the backward half of a Bidirectional): steps T−1 … 0, outputs put back in order.
 */
function kerasGruDirection(
  w: GruWeights,
  input: Float64Array,
  dims: { T: number; B: number; H: number },
  opts: { mask?: ArrayLike<number>; reverse?: boolean } = {},
): Float64Array {
  const { T, B, H } = dims;
  const { kernel, rec, bias, inW } = w;
  const G = 3 * H;
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const out = new Float64Array(T * B * H);
  const h = new Float64Array(B * H);
  for (let k = 0; k < T; k++) {
    const t = opts.reverse ? T - 1 - k : k;
    const next = Float64Array.from(h); // masked rows keep h
    for (let b = 0; b < B; b++) {
      if (opts.mask && !opts.mask[t * B + b]) continue;
      for (let j = 0; j < H; j++) {
        // columns z | r | h of x·kernel + bias[0] and of h·rec + bias[1]
        const xk = (q: number) => {
          let s = bias[q * H + j];
          for (let i = 0; i < inW; i++) s += input[(t * B + b) * inW + i] * kernel[i * G + q * H + j];
          return s;
        };
        const hk = (q: number) => {
          let s = bias[G + q * H + j];
          for (let i = 0; i < H; i++) s += h[b * H + i] * rec[i * G + q * H + j];
          return s;
        };
        const z = sig(xk(0) + hk(0));
        const r = sig(xk(1) + hk(1));
        const hh = Math.tanh(xk(2) + r * hk(2));
        next[b * H + j] = z * h[b * H + j] + (1 - z) * hh;
      }
    }
    h.set(next);
    out.set(next, t * B * H);
  }
  return out;
} // prettier-ignore

/**
 * Keras's reset_after=True GRU stack (each layer one direction, or [forward, backward] of a
 * Bidirectional, concatenated), float64, from Keras weights: the last layer's outputs
 * [T, B, D·H] in time order, with `mask` as in kerasGruDirection (every layer gets it).
 */
function kerasGruStack(
  layers: GruWeights[][],
  x: Float32Array,
  dims: { T: number; B: number; H: number },
  mask?: ArrayLike<number>,
): Float64Array {
  const { T, B, H } = dims;
  let input = Float64Array.from(x); // [T, B, inW]
  for (const dirs of layers) {
    const D = dirs.length;
    const ys = dirs.map((w, d) => kerasGruDirection(w, input, dims, { mask, reverse: d === 1 }));
    input = new Float64Array(T * B * D * H);
    for (let r = 0; r < T * B; r++)
      ys.forEach((y, d) => input.set(y.subarray(r * H, r * H + H), (r * D + d) * H));
  }
  return input;
}

/** A Dense head on rows of width W: [rows, W] · kernel [W, O] + bias. */
function denseRows(
  x: Float64Array,
  dense: { kernel: Float32Array; bias: Float32Array },
  W: number,
  O: number,
): Float64Array {
  const rows = x.length / W;
  const y = new Float64Array(rows * O);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < O; o++) {
      let s = dense.bias[o];
      for (let i = 0; i < W; i++) s += x[r * W + i] * dense.kernel[i * O + o];
      y[r * O + o] = s;
    }
  return y;
}

/** Keras's reset_after=True GRU stack + Dense head on every step, float64: [T, B, O]. */
function kerasGruForward(
  layers: GruWeights[],
  dense: { kernel: Float32Array; bias: Float32Array },
  x: Float32Array,
  dims: { T: number; B: number; H: number; O: number },
): Float64Array {
  return denseRows(
    kerasGruStack(
      layers.map((l) => [l]),
      x,
      dims,
    ),
    dense,
    dims.H,
    dims.O,
  );
}

test("a Keras GRU with reset_after=True imports exactly; --to tfjs writes it back unchanged", () => {
  const [I, H, O, T, B] = [3, 4, 2, 6, 3];
  const G = 3 * H;
  const rng = new Rng(31);
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.range(-0.7, 0.7));
  const layers = [0, 1].map((l) => {
    const inW = l === 0 ? I : H;
    return { kernel: rand(inW * G), rec: rand(H * G), bias: rand(2 * G), inW };
  });
  const dense = { kernel: rand(H * O), bias: rand(O) };
  const gruLayer = (name: string, extra: object) => ({
    class_name: "GRU",
    config: {
      name, units: H, activation: "tanh", recurrent_activation: "sigmoid", use_bias: true,
      reset_after: true, return_sequences: true, go_backwards: false, stateful: false, ...extra,
    },
  }); // prettier-ignore
  const modelLayers = [
    gruLayer("gru", { batch_input_shape: [null, null, I] }),
    gruLayer("gru_1", {}),
    { class_name: "TimeDistributed", config: { name: "td", layer: { class_name: "Dense", config: { name: "dense", units: O, activation: "linear", use_bias: true } } } }, // prettier-ignore
  ];
  const weights = [
    ...layers.flatMap((l, i) => {
      const at = i === 0 ? "gru" : `gru_${i}`;
      return [
        { name: `${at}/kernel`, shape: [l.inW, G], data: l.kernel },
        { name: `${at}/recurrent_kernel`, shape: [H, G], data: l.rec },
        { name: `${at}/bias`, shape: [2, G], data: l.bias },
      ];
    }),
    { name: "td/kernel", shape: [H, O], data: dense.kernel },
    { name: "td/bias", shape: [O], data: dense.bias },
  ];
  const { dir, bin } = writeTfjsDir("keras-gru", modelLayers, weights);
  const out = join(tmp, "keras-gru.safetensors");
  const summary = convertFromTfjs(dir, out);
  assert.equal(summary.config.cell, "gru");
  assert.ok(summary.notes.some((n) => /reordered to PyTorch's r, z, n/.test(n)));
  const { model } = loadModel(out);
  assert.deepEqual(model.paramShape("gru.bias_hh_l1"), [G]);
  const x = randomInput(T * B * I, 32);
  const want = kerasGruForward(layers, dense, x, { T, B, H, O });
  const err = scaledError(ours(model, x, T, B), want);
  assert.ok(err <= TOL, `max scaled error ${err} against the Keras equations`);

  // Back out: the same Keras weights, byte for byte (the gate reordering undone).
  const back = join(tmp, "keras-gru-out");
  const r = runCli(["convert", out, "--to", "tfjs", "--out", back]);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(readFileSync(join(back, "model.json"), "utf8"));
  assert.equal(j.modelTopology.config.layers[0].class_name, "GRU");
  assert.equal(j.modelTopology.config.layers[0].config.reset_after, true);
  const shard = Uint8Array.from(readFileSync(join(back, j.weightsManifest[0].paths[0])));
  const written = new Float32Array(shard.buffer);
  assert.deepEqual(written, bin);
});

test("a TF.js GRU (reset_after=false, the form tf.layers.gru runs) is refused with the reason", { skip: SKIP }, async () => {
  const t = tf!;
  const model = t.sequential();
  model.add(t.layers.gru({ units: 3, inputShape: [null, 2], returnSequences: true, recurrentActivation: "sigmoid" }));
  model.add(t.layers.timeDistributed({ layer: t.layers.dense({ units: 2 }) }));
  const dir = join(tmp, "tfjs-gru");
  await saveTfjs(model, dir);
  const r = runCli(["convert", "--from", "tfjs", dir, "--out", join(tmp, "tfjs-gru.safetensors")]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /reset_after=false .*PyTorch's nn\.GRU.*reset_after=True/s);
  assert.doesNotMatch(r.stderr, /\n\s+at /); // no stack trace
  assert.throws(() => t.layers.gru({ units: 3, resetAfter: true } as never), /reset_after/);
}); // prettier-ignore

/** Keras's mask_zero on token ids [T, B]: 1 where the token is not 0. */
const maskOf = (tm: ArrayLike<number>) => Uint8Array.from(tm, (id) => (id !== 0 ? 1 : 0));
/** lstm-ts's equivalent of mask_zero (the import's note): lengths[b] = tokens before row b's first 0. */
function lengthsOf(tm: ArrayLike<number>, T: number, B: number): number[] {
  return Array.from({ length: B }, (_, b) => {
    let t = 0;
    while (t < T && tm[t * B + b] !== 0) t++;
    return t;
  });
}

for (const bidi of [false, true])
  test(
    `a Keras Embedding(mask_zero) + ${bidi ? "Bidirectional(GRU) classifier" : "GRU + TimeDistributed(Dense)"} (reset_after=True) imports exactly: ` +
      "padded rows run with lengths give Keras's masked outputs",
    () => {
      const [V, E, H, O, T] = [7, 3, 4, 2, 6];
      const G = 3 * H;
      const D = bidi ? 2 : 1;
      const rng = new Rng(bidi ? 43 : 41);
      const rand = (n: number) => Float32Array.from({ length: n }, () => rng.range(-0.7, 0.7));
      const table = rand(V * E);
      const dirs = Array.from({ length: D }, () => ({ kernel: rand(E * G), rec: rand(H * G), bias: rand(2 * G), inW: E })); // prettier-ignore
      const dense = { kernel: rand(D * H * O), bias: rand(O) };
      const gruCfg = { name: "gru", units: H, activation: "tanh", recurrent_activation: "sigmoid", use_bias: true, reset_after: true, return_sequences: !bidi }; // prettier-ignore
      const modelLayers = [
        { class_name: "Embedding", config: { name: "embedding", batch_input_shape: [null, null], input_dim: V, output_dim: E, mask_zero: true } },
        bidi
          ? { class_name: "Bidirectional", config: { name: "bidirectional", merge_mode: "concat", layer: { class_name: "GRU", config: gruCfg } } }
          : { class_name: "GRU", config: gruCfg },
        bidi
          ? { class_name: "Dense", config: { name: "dense", units: O, activation: "linear" } }
          : { class_name: "TimeDistributed", config: { name: "td", layer: { class_name: "Dense", config: { name: "dense", units: O, activation: "linear" } } } },
      ]; // prettier-ignore
      const at = bidi ? ["bidirectional/forward_gru", "bidirectional/backward_gru"] : ["gru"];
      const head = bidi ? "dense" : "td";
      const weights = [
        { name: "embedding/embeddings", shape: [V, E], data: table },
        ...dirs.flatMap((w, d) => [
          { name: `${at[d]}/kernel`, shape: [E, G], data: w.kernel },
          { name: `${at[d]}/recurrent_kernel`, shape: [H, G], data: w.rec },
          { name: `${at[d]}/bias`, shape: [2, G], data: w.bias },
        ]),
        { name: `${head}/kernel`, shape: [D * H, O], data: dense.kernel },
        { name: `${head}/bias`, shape: [O], data: dense.bias },
      ];
      const { dir } = writeTfjsDir(`keras-emb-gru-${D}`, modelLayers, weights);
      const out = join(tmp, `keras-emb-gru-${D}.safetensors`);
      const summary = convertFromTfjs(dir, out);
      assert.ok(summary.notes.some((n) => /mask_zero=true .*padding_idx 0/.test(n)));
      const { model } = loadModel(out);
      assert.deepEqual(model.config.embedding, { numEmbeddings: V, paddingIdx: 0 });

      // Right-padded rows, most with padded steps; lstm-ts runs them at the lengths the note gives.
      const { tm } = paddedTokens(V, T, [6, 3, 1, 4, 2], bidi ? 44 : 42);
      const B = 5;
      const lengths = lengthsOf(tm, T, B);
      assert.deepEqual(lengths, [6, 3, 1, 4, 2]);
      // Keras's equations on the embedded rows under Keras's mask (state held at masked steps).
      const x = new Float32Array(T * B * E);
      for (let i = 0; i < T * B; i++) x.set(table.subarray(tm[i] * E, tm[i] * E + E), i * E);
      const ys = kerasGruStack([dirs], x, { T, B, H }, maskOf(tm)); // [T, B, D·H]
      // Keras's last output (return_sequences=false, or the last step of the masked sequence):
      // the forward direction's output at t = T − 1 (held since the row's last valid step), the
      // backward one's at t = 0 (its last step, which it reached after skipping the padding).
      const final = new Float64Array(B * D * H);
      for (let b = 0; b < B; b++)
        for (let d = 0; d < D; d++) {
          const t = d === 0 ? T - 1 : 0;
          const from = (t * B + b) * D * H + d * H;
          final.set(ys.subarray(from, from + H), (b * D + d) * H);
        }
      const want = denseRows(final, dense, D * H, O); // [B, O]
      const got = model.forward(tm, { seqLen: T, batch: B, lengths, readout: bidi ? "final" : "last" });
      const err = scaledError(got.output, want);
      assert.ok(err <= TOL, `last output: max scaled error ${err} against the masked Keras equations`);
      if (!bidi) {
        const all = model.forward(tm, { seqLen: T, batch: B, lengths }).output;
        const wantAll = denseRows(ys, dense, H, O); // [T, B, O]
        const e = scaledError(validSteps(all, lengths, T, O), validSteps(wantAll, lengths, T, O));
        assert.ok(e <= TOL, `valid steps: max scaled error ${e} against the Keras equations`);
      }
    },
  ); // prettier-ignore
