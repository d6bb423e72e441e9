/**
 * TensorFlow.js Layers models: the `model.json` + binary weight shards that `model.save()` writes,
 * `tf.loadLayersModel()` reads, and `tensorflowjs_converter --input_format keras` makes from a
 * Keras .h5 file. Pure functions on JSON values and bytes (browser-safe); `lstm convert --from
 * tfjs` / `--to tfjs` (cli/convert.ts) adds the files. docs/model-format.md describes the mapping.
 *
 * model.json = { format: "layers-model", modelTopology: a Keras model config (Sequential or a
 * single-chain functional Model), weightsManifest: [{ paths: [shard files], weights: [{ name,
 * shape, dtype }] }] }. A group's shards, concatenated, hold its weights in order as
 * little-endian float32.
 *
 * Keras stores W_ihᵀ (`kernel` [in, 4H]) and W_hhᵀ (`recurrent_kernel` [H, 4H]) with gate columns
 * i, f, c, o (PyTorch's i, f, g, o) and one bias [4H]: importing sets bias_ih = bias and
 * bias_hh = 0; exporting writes bias_ih + bias_hh. Dense kernel [D·H, O] = head.weightᵀ. An
 * Embedding's `embeddings` [V, E] is embedding.weight as it is; its mask_zero is padding_idx 0
 * run with per-row lengths on right-padded rows (docs/model-format.md, "Embedding and mask_zero").
 *
 * Letters: I input, H hidden, L layers, D directions, O head outputs.
 */
import { inferredConfig, layerSuffix, makeConfig, numDirections } from "../model/config.js";
import { LstmModel } from "../model/model.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import { portableMeta, refuseUnportable, transpose, type ImportedModel } from "./keras-layout.js";
import {
  ClassifierMetaSchema,
  parseField,
  PortableMetaSchema,
  TfjsModelJsonSchema,
  type TfjsModelJson,
  type TfjsWeightSpec,
  type TfjsWeightsGroup,
} from "./schemas.js";
import type { ModelMeta } from "./model-file.js";

/** `format` of a Layers model.json. */
export const TFJS_FORMAT = "layers-model";
/** The one weight shard `exportTfjs` writes, next to model.json. */
export const TFJS_WEIGHTS_PATH = "group1-shard1of1.bin";
/** Key of the lstm-ts metadata (task, input, vocab, series) in model.json `userDefinedMetadata`. */
export const TFJS_META_KEY = "lstm-ts";

export type { TfjsModelJson, TfjsWeightSpec, TfjsWeightsGroup } from "./schemas.js";

/**
 * Where the importer gets the weight shards, by their manifest path (relative to model.json).
 * `size` is asked for every shard first and checked against the manifest; only then is `read`
 * called, so a truncated or oversized shard is reported before anything is read or allocated.
 */
export interface TfjsShards {
  /** Size in bytes of the shard file `path` (as named in model.json). */
  size(path: string): number;
  /** The bytes of the shard file `path`. */
  read(path: string): Uint8Array;
}

/**
 * What `exportTfjs` produces: model.json, the bytes of its one shard, `weightsPath`, and notes on
 * how a Keras user must feed the model (for the CLI's export report).
 */
export interface TfjsExport {
  modelJson: TfjsModelJson;
  weightsPath: string;
  weights: Uint8Array;
  notes: string[];
}

const fmt = (shape: readonly number[]) => `[${shape.join(", ")}]`;
const isObj = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === "object" && !Array.isArray(v);
const str = (v: unknown) => JSON.stringify(v) ?? String(v);

/** True if a parsed JSON value looks like a TF.js model.json (has a topology or a weights manifest). */
export function isTfjsModelJson(json: unknown): boolean {
  return isObj(json) && ("weightsManifest" in json || "modelTopology" in json);
}

// ------------------------------------------------------------------------------------------------
// Topology

/** A layer as stored in a Keras config: class name, config, and the entry (for inbound_nodes). */
interface RawLayer {
  cls: string;
  cfg: Record<string, unknown>;
  entry: Record<string, unknown>;
  name: string;
  where: string;
}

/** One direction of an LSTM or GRU layer's config, checked. */
interface LstmSpec {
  /** LSTM, or a GRU with reset_after=true (the only GRU lstm-ts computes). */
  cell: "lstm" | "gru";
  units: number;
  useBias: boolean;
  returnSequences: boolean;
  stateful: boolean;
}

interface LstmLayerPlan {
  kind: "lstm";
  raw: RawLayer;
  bidi: boolean;
  fwd: LstmSpec;
  /** Names its weights may start with besides raw.name (a wrapped layer's own name). */
  aliases: string[];
}

interface DensePlan {
  kind: "dense";
  raw: RawLayer;
  units: number;
  useBias: boolean;
  softmax: boolean;
  aliases: string[];
}

/** A Keras Embedding layer in front of the recurrent stack: `embeddings` [input_dim, output_dim]. */
interface EmbeddingPlan {
  kind: "embedding";
  raw: RawLayer;
  /** V: input_dim, the rows of the table (token ids 0 … V−1). */
  inputDim: number;
  /** E: output_dim, the width of a row (the first recurrent layer's input size). */
  outputDim: number;
  /** mask_zero: Keras skips every step whose token is 0 (imported as padding_idx 0, see importTfjs). */
  maskZero: boolean;
  aliases: string[];
}

type WeightLayer = EmbeddingPlan | LstmLayerPlan | DensePlan;

/** An activation as Keras serialises it: "tanh", or {class_name: "function", config: "tanh"}. */
function activationName(v: unknown): string | null | undefined {
  if (v === undefined || v === null || typeof v === "string") return v;
  if (isObj(v)) {
    if (typeof v.config === "string") return v.config;
    if (typeof v.class_name === "string") return v.class_name;
  }
  return str(v);
}
const normAct = (a: string) => a.toLowerCase().replace(/_/g, "");

function classAndConfig(
  v: unknown,
  where: string,
  fail: (msg: string) => never,
): { cls: string; cfg: Record<string, unknown> } {
  if (!isObj(v)) return fail(`${where} must be an object {class_name, config}`);
  if (typeof v.class_name !== "string") return fail(`${where}.class_name must be a string`);
  if (!isObj(v.config)) return fail(`${where}.config must be an object`);
  return { cls: v.class_name, cfg: v.config };
}

/** The layer names of a layer entry's inbound nodes (Keras 2 / TF.js and Keras 3 forms). */
function inboundNames(entry: Record<string, unknown>): string[][] | null {
  const nodes = entry.inbound_nodes;
  if (nodes === undefined) return null;
  if (!Array.isArray(nodes)) return null;
  const out: string[][] = [];
  for (const node of nodes) {
    const names: string[] = [];
    if (Array.isArray(node)) {
      // Keras 2 / TF.js: [[name, nodeIndex, tensorIndex, kwargs], ...]
      for (const t of node) {
        if (!Array.isArray(t) || typeof t[0] !== "string") return null;
        names.push(t[0]);
      }
    } else if (isObj(node)) {
      // Keras 3: {args: [{class_name: "__keras_tensor__", config: {keras_history: [name, 0, 0]}}]}
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (isObj(v)) {
          const h = isObj(v.config) ? v.config.keras_history : undefined;
          if (v.class_name === "__keras_tensor__" && Array.isArray(h) && typeof h[0] === "string")
            names.push(h[0]);
          else for (const x of Object.values(v)) walk(x);
        }
      };
      walk(node.args);
    } else return null;
    out.push(names);
  }
  return out;
}

/** The first string in a Keras `output_layers` / `input_layers` value ([[name, 0, 0]] or [name, 0, 0]). */
function firstName(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) for (const x of v) return firstName(x);
  return undefined;
}

const LAYER_HELP =
  "lstm-ts converts an optional Embedding or Masking, then LSTM, GRU or Bidirectional layers, " +
  "then one Dense head (optionally in TimeDistributed; InputLayer and Dropout are allowed)";

/** Reads modelTopology into the list of layers of a Sequential or single-chain functional model. */
function topologyLayers(topology: unknown, fail: (msg: string) => never): RawLayer[] {
  if (!isObj(topology))
    return fail(
      "model.json has no modelTopology (a weights-only manifest): lstm-ts needs the topology to map the weights",
    );
  // tensorflowjs_converter --input_format keras: {keras_version, backend, model_config, training_config}
  const top = isObj(topology.model_config) ? topology.model_config : topology;
  const { cls, cfg: rawCfg } = (() => {
    if (!isObj(top) || typeof top.class_name !== "string")
      return fail("modelTopology.class_name must be a string (Sequential, Model or Functional)");
    if (top.class_name === "Sequential" && Array.isArray(top.config))
      return { cls: top.class_name, cfg: { layers: top.config } as Record<string, unknown> }; // Keras < 2.2.3
    if (!isObj(top.config)) return fail("modelTopology.config must be an object");
    return { cls: top.class_name, cfg: top.config };
  })();
  const functional = cls === "Model" || cls === "Functional";
  if (cls !== "Sequential" && !functional)
    fail(
      `modelTopology is a ${str(cls)}: expected a Sequential model or a functional Model (a single chain of layers)`,
    );
  if (!Array.isArray(rawCfg.layers) || rawCfg.layers.length === 0)
    fail("modelTopology.config.layers must be a non-empty array");
  const list = rawCfg.layers as unknown[];
  if (list.length > 1000) fail(`modelTopology has ${list.length} layers (at most 1000)`);
  const layers = list.map((v, i) => {
    const where = `layer ${i}`;
    const { cls: c, cfg } = classAndConfig(v, `modelTopology layers[${i}]`, fail);
    const entry = v as Record<string, unknown>;
    const name =
      typeof cfg.name === "string"
        ? cfg.name
        : typeof entry.name === "string"
          ? entry.name
          : `${c.toLowerCase()}_${i}`;
    return { cls: c, cfg, entry, name, where: `${where} (${str(name)}, ${c})` };
  });
  if (functional) {
    // Only a straight chain input -> layer 1 -> ... -> output maps onto lstm-ts.
    const chain = `the functional model is not a single chain of layers (${LAYER_HELP})`;
    layers.forEach((l, i) => {
      const nodes = inboundNames(l.entry);
      if (l.cls === "InputLayer") {
        if (i !== 0) fail(`${l.where}: a second input; ${chain}`);
        return;
      }
      if (!nodes)
        fail(`${l.where}: cannot read its inbound_nodes (expected Keras 2 or Keras 3 form)`);
      if (nodes!.length !== 1) fail(`${l.where} is called ${nodes!.length} times; ${chain}`);
      if (i === 0 || nodes![0].length !== 1 || nodes![0][0] !== layers[i - 1].name)
        fail(
          `${l.where} reads ${str(nodes![0])}, not the layer before it (${str(layers[i - 1]?.name)}); ${chain}`,
        );
    });
    const out = firstName(rawCfg.output_layers);
    if (out !== undefined && out !== layers[layers.length - 1].name)
      fail(`the model's output is layer ${str(out)}, not the last layer; ${chain}`);
  }
  return layers;
}

/** The last dimension of an input shape in a layer config, if it states one. */
function inputDim(cfg: Record<string, unknown>): number | undefined {
  const s = cfg.batch_input_shape ?? cfg.batch_shape ?? cfg.batchInputShape;
  if (!Array.isArray(s) || s.length === 0) return undefined;
  const last = s[s.length - 1];
  return Number.isSafeInteger(last) && (last as number) > 0 ? (last as number) : undefined;
}

/** Checks one LSTM config (a plain layer, or the forward/backward layer of a Bidirectional). */
function checkLstmConfig(
  where: string,
  cls: string,
  cfg: Record<string, unknown>,
  backward: boolean,
  fail: (msg: string) => never,
): LstmSpec {
  if (cls === "CuDNNLSTM")
    fail(
      `${where}: CuDNNLSTM is not a TensorFlow.js layer (its bias is [8H]); rebuild it as keras.layers.LSTM ` +
        `with the same weights, or export it as keras-lstm JSON, which takes the [8H] bias`,
    );
  if (cls !== "LSTM" && cls !== "GRU")
    fail(
      `${where}: ${cls} is not supported inside Bidirectional (only LSTM or GRU; ${LAYER_HELP})`,
    );
  if (cls === "GRU" && (cfg.reset_after ?? cfg.resetAfter ?? false) !== true)
    fail(
      `${where}: a GRU with reset_after=false (the TensorFlow.js and Keras 1 form, also when ` +
        `reset_after is not stated) applies the reset gate before the recurrent product, ` +
        `tanh(W x + U (r ⊙ h)): lstm-ts computes PyTorch's nn.GRU, tanh(W x + b + r ⊙ (U h + b_h)), ` +
        `which is Keras's reset_after=True (the TensorFlow 2 default). Rebuild the layer with ` +
        `reset_after=True and train or fine-tune it`,
    );
  const units = cfg.units;
  if (!Number.isSafeInteger(units) || (units as number) < 1)
    fail(`${where}: units is ${str(units)}, expected a positive integer`);
  const act = activationName(cfg.activation);
  if (act !== undefined && act !== null && normAct(act) !== "tanh")
    fail(`${where}: activation is ${str(act)}: only "tanh" is supported (as in PyTorch's LSTM)`);
  if (act === null) fail(`${where}: activation is null (linear): only "tanh" is supported`);
  const rec = activationName(cfg.recurrent_activation ?? cfg.recurrentActivation);
  if (rec === undefined)
    fail(
      `${where}: recurrent_activation is not stated (TensorFlow.js would default to hard_sigmoid, ` +
        `Keras to sigmoid); only "sigmoid" is supported`,
    );
  if (rec === null || normAct(rec) !== "sigmoid") {
    if (rec !== null && normAct(rec) === "hardsigmoid")
      fail(
        `${where}: recurrent_activation is ${str(rec)}, a piecewise-linear approximation of the sigmoid: ` +
          `lstm-ts (like PyTorch) uses the logistic sigmoid, so the outputs would differ. ` +
          `tf.layers.lstm defaults to hardSigmoid (and old Keras to hard_sigmoid): build the model with ` +
          `recurrentActivation: 'sigmoid' (Keras: recurrent_activation="sigmoid") and train or fine-tune it`,
      );
    fail(`${where}: recurrent_activation is ${str(rec)}: only "sigmoid" is supported`);
  }
  const useBias = cfg.use_bias ?? cfg.useBias ?? true;
  if (typeof useBias !== "boolean")
    fail(`${where}: use_bias is ${str(useBias)}, expected true or false`);
  const goBack = cfg.go_backwards ?? cfg.goBackwards ?? false;
  if (!backward && goBack === true)
    fail(
      `${where}: go_backwards is true: a lone backwards LSTM returns its outputs in reversed time ` +
        `order and has no PyTorch equivalent (a Bidirectional layer is supported)`,
    );
  if (backward && goBack !== true)
    fail(`${where}: the backward_layer of a Bidirectional must have go_backwards true`);
  if ((cfg.return_state ?? cfg.returnState) === true)
    fail(`${where}: return_state is true: lstm-ts maps a model whose LSTM layers return sequences`);
  const rs = cfg.return_sequences ?? cfg.returnSequences ?? false;
  if (typeof rs !== "boolean")
    fail(`${where}: return_sequences is ${str(rs)}, expected true or false`);
  return {
    cell: cls === "GRU" ? "gru" : "lstm",
    units: units as number,
    useBias: useBias as boolean,
    returnSequences: rs as boolean,
    stateful: (cfg.stateful ?? false) === true,
  };
}

/** Checks a Keras Embedding config: input_dim, output_dim, mask_zero (TF.js or Keras names). */
function checkEmbeddingConfig(raw: RawLayer, fail: (msg: string) => never): EmbeddingPlan {
  const { cfg, where } = raw;
  const size = (snake: string, camel: string, what: string): number => {
    const n = cfg[snake] ?? cfg[camel];
    if (!Number.isSafeInteger(n) || (n as number) < 1)
      fail(`${where}: ${snake} is ${str(n)}, expected a positive integer (${what})`);
    return n as number;
  };
  const inputDim = size("input_dim", "inputDim", "the vocabulary size V, rows of embeddings");
  const outputDim = size("output_dim", "outputDim", "the embedding width E");
  const mz = cfg.mask_zero ?? cfg.maskZero ?? false;
  if (typeof mz !== "boolean") fail(`${where}: mask_zero is ${str(mz)}, expected true or false`);
  return { kind: "embedding", raw, inputDim, outputDim, maskZero: mz as boolean, aliases: [] };
}

interface Plan {
  weightLayers: WeightLayer[];
  embedding?: EmbeddingPlan;
  lstm: LstmLayerPlan[];
  dense: DensePlan;
  inputHint?: { dim: number; where: string };
  notes: string[];
  /** Dropout layers' rates by position (training-only settings the model file records). */
  dropout: { input: number; betweenLayers: number; output: number };
}

function planTopology(topology: unknown, fail: (msg: string) => never): Plan {
  const layers = topologyLayers(topology, fail);
  const lstm: LstmLayerPlan[] = [];
  let dense: DensePlan | undefined;
  let embedding: EmbeddingPlan | undefined;
  let masking: { value: number; where: string } | undefined;
  let inputHint: Plan["inputHint"];
  let dropout = false;
  let stateful = false;
  // Dropout layers: before the first LSTM (input), between LSTMs (PyTorch's one `dropout`), or
  // between the last LSTM and the head (output). `pending` is the rate seen since the last layer.
  const rates = { input: 0, betweenLayers: 0, output: 0 };
  let pending = 0;
  const recurrentDropout: string[] = [];
  for (const raw of layers) {
    const { cls, cfg, where } = raw;
    const dim = inputDim(cfg);
    if (dim !== undefined && !inputHint) inputHint = { dim, where };
    if (cls === "InputLayer") continue;
    if (cls === "Embedding") {
      if (embedding) fail(`${where}: a second Embedding layer; ${LAYER_HELP}`);
      if (lstm.length > 0 || dense)
        fail(
          `${where}: an Embedding after the recurrent layers; it must come first (${LAYER_HELP})`,
        );
      if (pending > 0)
        fail(`${where}: a Dropout before the Embedding would drop token ids; ${LAYER_HELP}`);
      embedding = checkEmbeddingConfig(raw, fail);
      continue;
    }
    if (cls === "Masking") {
      if (masking) fail(`${where}: a second Masking layer; ${LAYER_HELP}`);
      if (embedding)
        fail(
          `${where}: a Masking after an Embedding (use the Embedding's mask_zero); ${LAYER_HELP}`,
        );
      if (lstm.length > 0 || dense)
        fail(`${where}: a Masking after the recurrent layers; it must come first (${LAYER_HELP})`);
      const value = cfg.mask_value ?? cfg.maskValue ?? 0;
      if (typeof value !== "number" || !Number.isFinite(value))
        fail(`${where}: mask_value is ${str(value)}, expected a finite number`);
      masking = { value: value as number, where };
      continue;
    }
    if (cls === "Dropout") {
      dropout = true;
      const rate = cfg.rate;
      if (typeof rate !== "number" || !(rate >= 0 && rate < 1))
        fail(`${where}: rate is ${str(rate)}, expected a number in [0, 1)`);
      // Consecutive Dropouts compose: kept with probability (1 − p1)(1 − p2).
      pending = pending === 0 ? (rate as number) : 1 - (1 - pending) * (1 - (rate as number));
      continue;
    }
    if (cls === "LSTM" || cls === "GRU" || cls === "Bidirectional" || cls === "CuDNNLSTM") {
      const inner = cls === "Bidirectional" && isObj(cfg.layer) ? cfg.layer.config : cfg;
      const c = isObj(inner) ? inner : {};
      const d = Number(c.dropout ?? 0) || 0;
      const rd = Number(c.recurrent_dropout ?? c.recurrentDropout ?? 0) || 0;
      if (d > 0 || rd > 0) recurrentDropout.push(`${where}: dropout ${d}, recurrent_dropout ${rd}`);
      if (lstm.length === 0) rates.input = pending;
      else if (pending > 0) {
        if (rates.betweenLayers > 0 && rates.betweenLayers !== pending)
          fail(
            `${where}: Dropout rates ${rates.betweenLayers} and ${pending} between LSTM layers: ` +
              `lstm-ts (like PyTorch's nn.LSTM) has one rate between layers`,
          );
        rates.betweenLayers = pending;
      }
      pending = 0;
    } else if (cls === "Dense" || cls === "TimeDistributed") {
      rates.output = pending;
      pending = 0;
    }
    if (dense) fail(`${where} comes after the Dense head ${str(dense.raw.name)}; ${LAYER_HELP}`);
    if (cls === "LSTM" || cls === "CuDNNLSTM" || cls === "GRU") {
      const fwd = checkLstmConfig(where, cls, cfg, false, fail);
      stateful ||= fwd.stateful;
      lstm.push({ kind: "lstm", raw, bidi: false, fwd, aliases: [] });
    } else if (cls === "Bidirectional") {
      const inner = classAndConfig(cfg.layer, `${where}: config.layer`, fail);
      const fwd = checkLstmConfig(`${where}, forward layer`, inner.cls, inner.cfg, false, fail);
      stateful ||= fwd.stateful;
      const mm = cfg.merge_mode ?? cfg.mergeMode ?? "concat";
      if (mm !== "concat")
        fail(
          `${where}: merge_mode is ${str(mm)}: only "concat" is supported ([forward | backward] at each step, as PyTorch's bidirectional LSTM)`,
        );
      const bl = cfg.backward_layer ?? cfg.backwardLayer;
      if (bl !== undefined && bl !== null) {
        const b = classAndConfig(bl, `${where}: config.backward_layer`, fail);
        const bwd = checkLstmConfig(`${where}, backward layer`, b.cls, b.cfg, true, fail);
        if (bwd.units !== fwd.units || bwd.useBias !== fwd.useBias)
          fail(
            `${where}: the backward layer has units ${bwd.units}, use_bias ${bwd.useBias} but the forward layer has units ${fwd.units}, use_bias ${fwd.useBias}`,
          );
      }
      const aliases = typeof inner.cfg.name === "string" ? [inner.cfg.name] : [];
      lstm.push({ kind: "lstm", raw, bidi: true, fwd, aliases });
    } else if (cls === "Dense" || cls === "TimeDistributed") {
      let dcfg = cfg;
      const aliases: string[] = [];
      if (cls === "TimeDistributed") {
        const inner = classAndConfig(cfg.layer, `${where}: config.layer`, fail);
        if (inner.cls !== "Dense")
          fail(`${where} wraps a ${inner.cls}: only TimeDistributed(Dense) is supported`);
        dcfg = inner.cfg;
        if (typeof dcfg.name === "string") aliases.push(dcfg.name);
      }
      if (lstm.length === 0) fail(`${where}: a Dense layer before any LSTM layer; ${LAYER_HELP}`);
      const units = dcfg.units;
      if (!Number.isSafeInteger(units) || (units as number) < 1)
        fail(`${where}: units is ${str(units)}, expected a positive integer`);
      const act = activationName(dcfg.activation);
      const softmax = act !== undefined && act !== null && normAct(act) === "softmax";
      if (act !== undefined && act !== null && normAct(act) !== "linear" && !softmax)
        fail(
          `${where}: activation is ${str(act)}: the head must be linear (or softmax, whose logits lstm-ts stores)`,
        );
      const useBias = dcfg.use_bias ?? dcfg.useBias ?? true;
      if (typeof useBias !== "boolean")
        fail(`${where}: use_bias is ${str(useBias)}, expected true or false`);
      dense = {
        kind: "dense",
        raw,
        units: units as number,
        useBias: useBias as boolean,
        softmax,
        aliases,
      };
    } else {
      fail(`${where}: layer class ${cls} is not supported; ${LAYER_HELP}`);
    }
  }
  if (lstm.length === 0) fail(`no LSTM layer in modelTopology; ${LAYER_HELP}`);
  if (!dense)
    fail(
      `no Dense head after the LSTM layers: lstm-ts models end in a linear layer (${LAYER_HELP})`,
    );
  const first = lstm[0];
  lstm.forEach((l, k) => {
    if (l.fwd.cell !== first.fwd.cell)
      fail(
        `${l.raw.where} is a ${l.fwd.cell.toUpperCase()} but ${first.raw.where} is a ` +
          `${first.fwd.cell.toUpperCase()}: lstm-ts stacks layers of one cell`,
      );
    if (l.bidi !== first.bidi)
      fail(
        `${l.raw.where} is ${l.bidi ? "Bidirectional" : "a plain LSTM"} but ${first.raw.where} is ` +
          `${first.bidi ? "Bidirectional" : "a plain LSTM"}: lstm-ts stacks layers that are all bidirectional or all not`,
      );
    if (l.fwd.units !== first.fwd.units)
      fail(
        `${l.raw.where} has units ${l.fwd.units} but ${first.raw.where} has ${first.fwd.units}: ` +
          `lstm-ts stacks layers of one hidden size`,
      );
    if (l.fwd.useBias !== first.fwd.useBias)
      fail(
        `${l.raw.where} has use_bias ${l.fwd.useBias} but ${first.raw.where} has ${first.fwd.useBias}`,
      );
    if (k < lstm.length - 1 && !l.fwd.returnSequences)
      fail(
        `${l.raw.where}: return_sequences is false but another LSTM layer follows (it would read one step)`,
      );
  });
  const last = lstm[lstm.length - 1];
  const notes: string[] = [];
  if (!last.fwd.returnSequences) {
    if (last.bidi)
      notes.push(
        `the last layer is Bidirectional with return_sequences=false: Keras's Dense head reads ` +
          `[forward state after the last step | backward state after the first step], which is ` +
          `lstm-ts's readout "final" (h_n of both directions; a classifier's xent_final)`,
      );
    else
      notes.push(
        `the last LSTM layer has return_sequences=false: the Dense head reads the last step only, ` +
          `which is lstm-ts's readout "last" (and "final"; series models and classifiers use them)`,
      );
  }
  if (first.fwd.cell === "gru")
    notes.push(
      "GRU (reset_after=true): gate blocks z, r, h reordered to PyTorch's r, z, n; " +
        (first.fwd.useBias
          ? "bias [2, 3H] = bias_ih, bias_hh"
          : "use_bias=false: biases stored as zeros"),
    );
  else if (first.fwd.useBias)
    notes.push("Keras has one bias per gate: imported as bias_ih, with bias_hh = 0");
  else notes.push("use_bias=false: LSTM biases stored as zeros");
  if (!dense!.useBias) notes.push("the Dense head has use_bias=false: head bias stored as zeros");
  if (dense!.softmax)
    notes.push(
      "the Dense head's softmax is not stored: lstm-ts outputs its logits (a text model's sampler applies softmax)",
    );
  if (dropout)
    notes.push(
      `Dropout layers recorded as training settings (input ${rates.input}, between layers ` +
        `${rates.betweenLayers}, output ${rates.output}); they do nothing at inference`,
    );
  if (recurrentDropout.length > 0)
    notes.push(
      `LSTM-internal dropout not recorded (Keras drops each gate's inputs and the recurrent state ` +
        `with one mask per sequence, which PyTorch's nn.LSTM has no setting for; it does nothing at ` +
        `inference): ${recurrentDropout.join("; ")}`,
    );
  if (stateful)
    notes.push(
      "stateful=true: lstm-ts starts each forward pass from a zero state unless h0/c0 are given",
    );
  if (masking)
    notes.push(
      `${masking.where}: Masking(mask_value=${masking.value}) makes Keras skip every step whose ` +
        `features all equal ${masking.value} (state and output carried over). lstm-ts's exact ` +
        `equivalent is right padding with per-row lengths: lengths[b] = the number of steps ` +
        `before row b's first such step. The outputs then equal Keras's at every valid step, and ` +
        `readout "last" / "final" equals Keras's last output. Such a step followed by other steps ` +
        `is not skipped by lstm-ts: remove it from the row first (Keras's result is that of the ` +
        `row without it)`,
    );
  if (embedding) {
    // The Embedding's (or an InputLayer's) batch_input_shape is [batch, time]: no feature size.
    inputHint = undefined;
    notes.push(...embeddingNotes(embedding));
  }
  const weightLayers: WeightLayer[] = [...(embedding ? [embedding] : []), ...lstm, dense!];
  const plan = { weightLayers, embedding, lstm, dense: dense!, inputHint, notes };
  return { ...plan, dropout: rates };
}

/** What the user should know about an imported Embedding, mask_zero above all. */
function embeddingNotes(e: EmbeddingPlan): string[] {
  const V = e.inputDim;
  const E = e.outputDim;
  if (!e.maskZero)
    return [`Embedding [${V}, ${E}] imported as embedding.weight (input: token ids 0 … ${V - 1})`];
  return [
    `Embedding [${V}, ${E}] with mask_zero=true imported as embedding.weight with padding_idx 0. ` +
      `Keras skips every step whose token is 0 (state and output carried over); lstm-ts's exact ` +
      `equivalent is right padding with per-row lengths: lengths[b] = the number of tokens before ` +
      `row b's first 0. The outputs then equal Keras's at every valid step, and readout "last" / ` +
      `"final" equals Keras's last output. A 0 followed by other tokens is not skipped by lstm-ts: ` +
      `remove such zeros from a row first (Keras's result is that of the row without them)`,
  ];
}

// ------------------------------------------------------------------------------------------------
// Weights manifest

interface Entry {
  name: string;
  shape: number[];
  group: number;
  /** Byte offset in the group's concatenated shards. */
  offset: number;
  bytes: number;
  /** Position in the manifest, over all groups. */
  index: number;
}

interface Group {
  paths: string[];
  bytes: number;
}

/** A shard path must stay inside model.json's directory: relative, no "..", no scheme. */
function checkShardPath(p: unknown, where: string, fail: (msg: string) => never): string {
  if (typeof p !== "string" || p === "") return fail(`${where} must be a non-empty string`);
  if (
    /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(p) ||
    p.startsWith("/") ||
    p.startsWith("\\") ||
    p.split(/[/\\]/).some((s) => s === "..") ||
    p.includes("\0")
  )
    fail(
      `${where} is ${str(p)}: shard paths must be relative to model.json's directory, without ".." or a URL scheme`,
    );
  return p;
}

function readManifest(
  manifest: TfjsWeightsGroup[],
  fail: (msg: string) => never,
): { entries: Entry[]; groups: Group[] } {
  const entries: Entry[] = [];
  const groups: Group[] = [];
  manifest.forEach((grp, gi) => {
    const gw = `weightsManifest[${gi}]`;
    const paths = grp.paths.map((p, i) => checkShardPath(p, `${gw}.paths[${i}]`, fail));
    let offset = 0;
    for (const w of grp.weights) {
      const name = w.name;
      const shape = [...w.shape];
      if (w.quantization !== undefined && w.quantization !== null)
        fail(
          `weight ${str(name)} is quantized (${str(isObj(w.quantization) ? w.quantization.dtype : w.quantization)}): ` +
            `lstm-ts reads float32 weights; convert without --quantize_uint8/--quantize_uint16/--quantize_float16`,
        );
      if (w.dtype !== "float32")
        fail(`weight ${str(name)} has dtype ${str(w.dtype)}: only float32 is supported`);
      let n = 1;
      for (const d of shape) n *= d;
      if (n > 2 ** 30) fail(`weight ${str(name)} has shape ${fmt(shape)}: too large`);
      entries.push({ name, shape, group: gi, offset, bytes: 4 * n, index: entries.length });
      offset += 4 * n;
      if (offset > 2 ** 40) fail(`${gw}: weights too large`);
    }
    groups.push({ paths, bytes: offset });
  });
  return { entries, groups };
}

type Role = "kernel" | "recurrent_kernel" | "bias" | "embeddings";

/** Which weight of a layer an entry is, from its name's last segment (or Keras 3 `vars/N`). */
function roleOf(name: string, kind: WeightLayer["kind"]): Role | null {
  const segs = name.replace(/:\d+$/, "").split("/");
  const last = segs[segs.length - 1];
  if (kind === "embedding") {
    if (last === "embeddings") return last;
    return /^0$/.test(last) && segs[segs.length - 2] === "vars" ? "embeddings" : null;
  }
  if (last === "kernel" || last === "recurrent_kernel" || last === "bias") return last;
  if (/^\d+$/.test(last) && segs[segs.length - 2] === "vars") {
    const order: Role[] =
      kind === "lstm" ? ["kernel", "recurrent_kernel", "bias"] : ["kernel", "bias"];
    return order[Number(last)] ?? null;
  }
  return null;
}

/** 0 forward, 1 backward, null if the name does not say (a segment `forward_…` / `backward_…`). */
function directionOf(name: string): 0 | 1 | null {
  const segs = name.split("/");
  if (segs.some((s) => s.startsWith("forward"))) return 0;
  if (segs.some((s) => s.startsWith("backward"))) return 1;
  return null;
}

/** The manifest entries of each layer and direction, by role. */
type Assigned = Map<WeightLayer, Array<Map<Role, Entry>>>;

function assignWeights(plan: Plan, entries: Entry[], fail: (msg: string) => never): Assigned {
  const layers = plan.weightLayers;
  const roles = (l: WeightLayer): Role[] => {
    if (l.kind === "embedding") return ["embeddings"];
    if (l.kind === "dense") return l.useBias ? ["kernel", "bias"] : ["kernel"];
    return l.fwd.useBias ? ["kernel", "recurrent_kernel", "bias"] : ["kernel", "recurrent_kernel"];
  };
  const dirs = (l: WeightLayer) => (l.kind === "lstm" && l.bidi ? 2 : 1);
  const count = (l: WeightLayer) => roles(l).length * dirs(l);
  const names = (es: Entry[]) => es.map((e) => str(e.name)).join(", ") || "none";

  // Which layer owns an entry: the first segment of its name that is a layer's name (or the name
  // of the layer a wrapper holds). tfjs: "lstm_1/kernel", "bidirectional/forward_lstm/kernel";
  // Keras 2: "lstm/lstm_cell/kernel"; Keras 3: "layers/lstm/cell/vars/0".
  const byName = new Map<string, WeightLayer>();
  for (const l of layers) byName.set(l.raw.name, l);
  for (const l of layers) for (const a of l.aliases) if (!byName.has(a)) byName.set(a, l);
  const owner = (e: Entry) => {
    for (const s of e.name.split("/")) {
      const l = byName.get(s.replace(/:\d+$/, ""));
      if (l) return l;
    }
    return undefined;
  };
  const chunks = new Map<WeightLayer, Entry[]>();
  for (const l of layers) chunks.set(l, []);
  const owners = entries.map(owner);
  if (owners.every((o) => o !== undefined)) {
    entries.forEach((e, i) => chunks.get(owners[i]!)!.push(e));
  } else {
    // Names do not tell: the manifest holds the layers' weights in layer order.
    let next = 0;
    for (const l of layers) {
      const n = count(l);
      if (next + n > entries.length)
        fail(
          `the weights manifest ends before the weights of ${l.raw.where} (${n} expected; ` +
            `the manifest has ${entries.length} weights: ${names(entries)})`,
        );
      chunks.set(l, entries.slice(next, next + n));
      next += n;
    }
    if (next < entries.length)
      fail(`weights not used by any layer: ${names(entries.slice(next))} (${LAYER_HELP})`);
  }

  const out: Assigned = new Map();
  for (const l of layers) {
    const chunk = chunks.get(l)!;
    const want = roles(l);
    if (chunk.length !== count(l))
      fail(
        `${l.raw.where} has ${chunk.length} weights in the manifest (${names(chunk)}), expected ${count(l)}: ` +
          want.join(", ") +
          (dirs(l) === 2 ? " for each direction" : "") +
          (l.kind === "lstm" && !l.fwd.useBias ? " (use_bias is false)" : ""),
      );
    let parts: Entry[][] = [chunk];
    if (dirs(l) === 2) {
      const tags = chunk.map((e) => directionOf(e.name));
      parts = tags.every((t) => t !== null)
        ? [chunk.filter((_, i) => tags[i] === 0), chunk.filter((_, i) => tags[i] === 1)]
        : [chunk.slice(0, want.length), chunk.slice(want.length)];
    }
    out.set(
      l,
      parts.map((part, d) => {
        const where = `${l.raw.where}${dirs(l) === 2 ? (d === 0 ? ", forward" : ", backward") : ""}`;
        const m = new Map<Role, Entry>();
        for (const e of part) {
          const r = roleOf(e.name, l.kind);
          if (r === null || !want.includes(r))
            fail(
              `weight ${str(e.name)} (manifest entry ${e.index}) belongs to ${where}, but its name does not end in ` +
                `${want.join(", ")}`,
            );
          if (m.has(r!))
            fail(`${where} has two ${r} weights: ${str(m.get(r!)!.name)} and ${str(e.name)}`);
          m.set(r!, e);
        }
        for (const r of want)
          if (!m.has(r)) fail(`${where}: no ${r} weight (its weights: ${names(part)})`);
        return m;
      }),
    );
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Import

function shardReader(shards: TfjsShards | ReadonlyMap<string, Uint8Array>): TfjsShards {
  if (typeof (shards as TfjsShards).size === "function") return shards as TfjsShards;
  const map = shards as ReadonlyMap<string, Uint8Array>;
  return {
    size: (p) => map.get(p)?.length ?? -1,
    read: (p) => map.get(p) ?? new Uint8Array(0),
  };
}

/**
 * Imports a TensorFlow.js Layers model: `json` is the parsed model.json and `shards` gives the
 * weight files by their manifest paths (a Map for in-memory use). The topology and every weight
 * name and shape are checked, and the shard sizes against the manifest, before any shard is read;
 * errors are FormatErrors naming the layer or the weight.
 */
export function importTfjs(
  json: unknown,
  shards: TfjsShards | ReadonlyMap<string, Uint8Array>,
  source: string,
): ImportedModel {
  const fail = (msg: string): never => {
    throw new FormatError(source, msg);
  };
  if (!isObj(json)) fail("expected a JSON object (a TensorFlow.js model.json)");
  const raw = json as Record<string, unknown>;
  if (raw.format === "graph-model")
    fail(
      `a TensorFlow.js graph model (format "graph-model"): lstm-ts reads Layers models; convert the ` +
        `Keras model with tensorflowjs_converter --input_format keras --output_format tfjs_layers_model`,
    );
  if (raw.format !== undefined && raw.format !== null && raw.format !== TFJS_FORMAT)
    fail(`model.json format is ${str(raw.format)}, expected "${TFJS_FORMAT}"`);
  const f = parseField(TfjsModelJsonSchema, raw, { source, where: "" });
  const plan = planTopology(f.modelTopology, fail);
  const { entries, groups } = readManifest(f.weightsManifest, fail);
  const assigned = assignWeights(plan, entries, fail);

  // Sizes: H from units, D from Bidirectional, I from the first kernel, O from the Dense units.
  const H = plan.lstm[0].fwd.units;
  const D = plan.lstm[0].bidi ? 2 : 1;
  const L = plan.lstm.length;
  const O = plan.dense.units;
  const cell = plan.lstm[0].fwd.cell;
  const nG = cell === "gru" ? 3 : 4;
  const G = nG * H;
  const emb = plan.embedding;
  const embEntry = emb ? assigned.get(emb)![0].get("embeddings")! : undefined;
  if (emb && embEntry) {
    const [V, E] = [emb.inputDim, emb.outputDim];
    const s = embEntry.shape;
    if (s.length !== 2 || s[0] !== V || s[1] !== E)
      fail(
        `weight ${str(embEntry.name)} (${emb.raw.where}) has shape ${fmt(s)}, expected ` +
          `[input_dim, output_dim] = [${V}, ${E}]` +
          (s.length !== 2 ? "" : s[0] !== V ? ` (input_dim is ${V})` : ` (output_dim is ${E})`),
      );
  }
  const k0 = assigned.get(plan.lstm[0])![0].get("kernel")!;
  if (k0.shape.length !== 2 || k0.shape[1] !== G || k0.shape[0] < 1)
    fail(
      `weight ${str(k0.name)} (${plan.lstm[0].raw.where}) has shape ${fmt(k0.shape)}, expected [I, ${G}] (${nG}H from units ${H})`,
    );
  const I = k0.shape[0];
  if (plan.inputHint && plan.inputHint.dim !== I)
    fail(
      `${plan.inputHint.where} declares input size ${plan.inputHint.dim} but weight ${str(k0.name)} has shape ${fmt(k0.shape)} (input size ${I})`,
    );
  if (emb && emb.outputDim !== I)
    fail(
      `${emb.raw.where} has output_dim ${emb.outputDim} but weight ${str(k0.name)} (${plan.lstm[0].raw.where}) ` +
        `has shape ${fmt(k0.shape)} (input size ${I}): the first recurrent layer reads the embedding`,
    );
  const sizes = inferredConfig({ I, H, L, D, O, cell }, fail);
  const config = (() => {
    try {
      return makeConfig({
        ...sizes,
        dropout: plan.dropout,
        // mask_zero: token 0 is padding (no gradient to its row, as under Keras's mask).
        ...(emb ? { embedding: { numEmbeddings: emb.inputDim, paddingIdx: emb.maskZero ? 0 : null } } : {}), // prettier-ignore
      });
    } catch (e) {
      if (e instanceof ConfigError)
        return fail(`${emb ? emb.raw.where : "the model"}: ${e.message}`);
      throw e;
    }
  })();

  // Every shape, before reading anything.
  const expect = (e: Entry, shape: number[], where: string, hint: string) => {
    if (e.shape.length !== shape.length || e.shape.some((n, i) => n !== shape[i]))
      fail(
        `weight ${str(e.name)} (${where}) has shape ${fmt(e.shape)}, expected ${fmt(shape)} (${hint})`,
      );
  };
  plan.lstm.forEach((l, k) => {
    const inW = k === 0 ? I : D * H;
    assigned.get(l)!.forEach((m, d) => {
      const where = `${l.raw.where}${D === 2 ? (d === 0 ? ", forward" : ", backward") : ""}`;
      const g = `${nG}H`;
      expect(
        m.get("kernel")!,
        [inW, G],
        where,
        k === 0 ? `kernel [I, ${g}]` : `kernel [D·H, ${g}]: the previous layer's output`,
      );
      expect(m.get("recurrent_kernel")!, [H, G], where, `recurrent_kernel [H, ${g}]`);
      const b = m.get("bias");
      // A reset_after GRU keeps the input and recurrent biases apart: [2, 3H].
      if (b) expect(b, cell === "gru" ? [2, G] : [G], where, cell === "gru" ? "bias [2, 3H]" : "bias [4H]"); // prettier-ignore
    });
  });
  const dm = assigned.get(plan.dense)![0];
  expect(
    dm.get("kernel")!,
    [D * H, O],
    plan.dense.raw.where,
    `kernel [D·H, O] = [${D}·${H}, units]`,
  );
  const db = dm.get("bias");
  if (db) expect(db, [O], plan.dense.raw.where, "bias [O]");

  // Shard sizes against the manifest, then the bytes.
  const reader = shardReader(shards);
  groups.forEach((g, gi) => {
    let total = 0;
    for (const p of g.paths) {
      const n = reader.size(p);
      if (!(n >= 0)) fail(`weight shard ${str(p)} (weightsManifest[${gi}]) is missing`);
      total += n;
    }
    if (total !== g.bytes)
      fail(
        `the shards of weightsManifest[${gi}] (${g.paths.join(", ")}) hold ${total} bytes, but its weights ` +
          `(${entries
            .filter((e) => e.group === gi)
            .map((e) => `${e.name} ${fmt(e.shape)}`)
            .join(", ")}) ` +
          `need ${g.bytes} (float32)`,
      );
  });
  const groupBytes = new Map<number, Uint8Array>();
  const bytesOf = (gi: number): Uint8Array => {
    let b = groupBytes.get(gi);
    if (b) return b;
    const g = groups[gi];
    const parts = g.paths.map((p) => {
      const data = reader.read(p);
      if (data.length !== reader.size(p))
        fail(`weight shard ${str(p)} changed size while it was read`);
      return data;
    });
    if (parts.length === 1) b = parts[0];
    else {
      b = new Uint8Array(g.bytes);
      let o = 0;
      for (const part of parts) {
        b.set(part, o);
        o += part.length;
      }
    }
    groupBytes.set(gi, b);
    return b;
  };
  const values = (e: Entry): Float32Array => {
    const b = bytesOf(e.group);
    const view = new DataView(b.buffer, b.byteOffset + e.offset, e.bytes);
    const out = new Float32Array(e.bytes / 4);
    for (let i = 0; i < out.length; i++) {
      const x = view.getFloat32(4 * i, true);
      if (!Number.isFinite(x)) fail(`weight ${str(e.name)} holds ${x} at index ${i}`);
      out[i] = x;
    }
    return out;
  };

  const model = new LstmModel(config);
  // Keras's embeddings [input_dim, output_dim] is PyTorch's embedding.weight [V, E] as it is.
  if (embEntry) model.param("embedding.weight").set(values(embEntry));
  plan.lstm.forEach((l, k) => {
    const inW = k === 0 ? I : D * H;
    assigned.get(l)!.forEach((m, d) => {
      const s = layerSuffix(k, d);
      const kernel = values(m.get("kernel")!);
      const rec = values(m.get("recurrent_kernel")!);
      const b = m.get("bias");
      if (cell === "gru") {
        // Keras gate columns z, r, h; PyTorch rows r, z, n.
        model.param(`gru.weight_ih_${s}`).set(swapZR(transpose(kernel, inW, G), inW, H));
        model.param(`gru.weight_hh_${s}`).set(swapZR(transpose(rec, H, G), H, H));
        const bias = b ? values(b) : new Float32Array(2 * G);
        model.param(`gru.bias_ih_${s}`).set(swapZR(bias.subarray(0, G), 1, H));
        model.param(`gru.bias_hh_${s}`).set(swapZR(bias.subarray(G), 1, H));
        return;
      }
      model.param(`lstm.weight_ih_${s}`).set(transpose(kernel, inW, 4 * H));
      model.param(`lstm.weight_hh_${s}`).set(transpose(rec, H, 4 * H));
      if (b) model.param(`lstm.bias_ih_${s}`).set(values(b));
      else model.param(`lstm.bias_ih_${s}`).fill(0);
      model.param(`lstm.bias_hh_${s}`).fill(0);
    });
  });
  model.param("head.weight").set(transpose(values(dm.get("kernel")!), D * H, O));
  if (db) model.param("head.bias").set(values(db));
  else model.param("head.bias").fill(0);

  const out: ImportedModel = {
    model,
    report: { from: "tfjs", config, dtypes: ["F32"], notes: plan.notes },
  };
  const udm = f.userDefinedMetadata;
  if (isObj(udm) && udm[TFJS_META_KEY] !== undefined) {
    // Validated by the schema; kept as written (the schema's defaults are not added to the file).
    const where = `userDefinedMetadata["${TFJS_META_KEY}"]`;
    const m = udm[TFJS_META_KEY];
    parseField(PortableMetaSchema, m, { source, where });
    // A classifier's classes and vocabulary (exportTfjs writes them; the model file checks sizes).
    if (isObj(m) && m.classifier !== undefined)
      parseField(ClassifierMetaSchema, m.classifier, { source, where: `${where}.classifier` });
    out.meta = m as Partial<ModelMeta>;
  }
  return out;
}

/**
 * A copy of `a` ([3H, cols] row-major) with its first two blocks of H rows swapped: Keras's GRU
 * gate order z, r, h ↔ PyTorch's r, z, n (the same swap both ways).
 */
function swapZR(a: ArrayLike<number>, cols: number, H: number): Float32Array {
  const out = Float32Array.from(a);
  const n = H * cols;
  out.set(Array.prototype.slice.call(a, n, 2 * n) as number[], 0);
  out.set(Array.prototype.slice.call(a, 0, n) as number[], n);
  return out;
}

// ------------------------------------------------------------------------------------------------
// Export

const ZEROS = { class_name: "Zeros", config: {} };

/**
 * Exports a model as a TensorFlow.js Layers model: a Sequential of L LSTM layers (Bidirectional
 * with merge_mode "concat" when D = 2), all with return_sequences true, then
 * TimeDistributed(Dense(O)). Input [batch, time, I]; output [batch, time, O], the head on every
 * step (readout "all"; a series model's forecast is the last step). A classifier (task
 * "classify", readout "final") ends instead in an LSTM with return_sequences false and a Dense on
 * its output: [batch, O], the final states [forward | backward], as lstm-ts reads them.
 *
 * Keras has no per-row lengths: it reads every step it is given unless a mask skips it. A
 * classifier's rows are right padded (lstm-ts reads each at its own length), so a classifier gets
 * a mask where one is exact: with an embedding, mask_zero (its padding_idx is 0, and id 0 is only
 * padding); with one-hot characters, a Masking(mask_value=0) layer first (a real step is the
 * one-hot of an id ≥ 1, never all zeros; padding is fed as all-zero rows). Keras then skips the
 * padded steps, so its last output is each row's last valid step. A numbers classifier gets no
 * mask: a standardised step can be all zeros (every feature at its training mean) and Masking
 * would skip it; its rows must be fed unpadded (`notes` says so). Other tasks get no mask either:
 * their padding_idx 0 may be a real token (a model converted with --padding-idx 0), which
 * mask_zero would skip wherever it occurs.
 *
 * A tied head is written as an untied Dense whose kernel is a copy of embedding.weightᵀ (the same
 * outputs; a Keras user who trains it further unties the two). Projections are refused: Keras
 * has no LSTMP.
 *
 * Weight names are those tf.loadLayersModel expects; initializers are Zeros so loading does not
 * spend time on random (orthogonal) initial values. `meta` travels in
 * userDefinedMetadata["lstm-ts"].
 */
export function exportTfjs(model: LstmModel, meta?: ModelMeta): TfjsExport {
  refuseUnportable(model.config, "TensorFlow.js Layers JSON", { embedding: true, tiedHead: true });
  const { inputSize: I, hiddenSize: H, numLayers: L, outputSize: O } = model.config;
  const emb = model.config.embedding;
  // A classifier reads the final states (readout "final"): the last layer returns no sequence.
  const finalOnly = meta?.task === "classify";
  // Keras's equivalent of a classifier's lengths (see above); no mask for anything else.
  const maskZero = finalOnly && emb?.paddingIdx === 0;
  const masking = finalOnly && !emb && meta?.input.kind === "one-hot";
  const notes: string[] = [];
  if (maskZero)
    notes.push(
      "Embedding with mask_zero=true: feed token ids right padded with 0; Keras skips the " +
        "padded steps, so its output is lstm-ts's with per-row lengths",
    );
  else if (masking)
    notes.push(
      "a Masking(mask_value=0) layer first: feed one-hot rows (id k ≥ 1 → a 1 at index k) right " +
        "padded with all-zero rows, which Keras skips (a one-hot step is never all zeros), so its " +
        "output is lstm-ts's with per-row lengths; a padding step written as the one-hot of id 0 " +
        "is not masked",
    );
  else if (finalOnly)
    notes.push(
      `no mask: ${emb ? `padding_idx is ${emb.paddingIdx ?? "none"}, not 0` : "a standardised step of a numbers classifier can be all zeros (every feature at its training mean), which Masking(0) would skip"}; ` +
        "Keras reads every step it is given, so feed each row unpadded (one row at a time, or a " +
        "batch of rows of one length): padded steps would be read as input",
    );
  else if (emb?.paddingIdx === 0)
    notes.push(
      `padding_idx 0 is not written as mask_zero: in a ${meta?.task ?? "generic"} model id 0 may ` +
        "be a real token, which mask_zero would make Keras skip wherever it occurs; Keras reads " +
        "every step, token 0 included (set mask_zero yourself if 0 is only right padding)",
    );
  const gru = model.config.cell === "gru";
  const D = numDirections(model.config);
  const specs: TfjsWeightSpec[] = [];
  const arrays: ArrayLike<number>[] = [];
  const add = (name: string, shape: number[], data: ArrayLike<number>) => {
    specs.push({ name, shape, dtype: "float32" });
    arrays.push(data);
  };
  const lstmConfig = (
    name: string,
    last: boolean,
    extra: Record<string, unknown>,
  ): Record<string, unknown> => ({
    name,
    trainable: true,
    ...extra,
    units: H,
    activation: "tanh",
    recurrent_activation: "sigmoid",
    use_bias: true,
    kernel_initializer: ZEROS,
    recurrent_initializer: ZEROS,
    bias_initializer: ZEROS,
    // A GRU as PyTorch computes it (Keras reset_after=True); an LSTM's forget bias is in the weights.
    ...(gru ? { reset_after: true } : { unit_forget_bias: false }),
    kernel_regularizer: null,
    recurrent_regularizer: null,
    bias_regularizer: null,
    activity_regularizer: null,
    kernel_constraint: null,
    recurrent_constraint: null,
    bias_constraint: null,
    dropout: 0,
    recurrent_dropout: 0,
    return_sequences: !(last && finalOnly),
    return_state: false,
    go_backwards: false,
    stateful: false,
    unroll: false,
  });
  const direction = (prefix: string, l: number, d: number) => {
    const s = layerSuffix(l, d);
    const inW = l === 0 ? I : D * H;
    if (gru) {
      const G = 3 * H;
      const kernel = swapZR(model.param(`gru.weight_ih_${s}`), inW, H);
      add(`${prefix}/kernel`, [inW, G], transpose(kernel, G, inW));
      const rec = swapZR(model.param(`gru.weight_hh_${s}`), H, H);
      add(`${prefix}/recurrent_kernel`, [H, G], transpose(rec, G, H));
      const bias = new Float32Array(2 * G);
      bias.set(swapZR(model.param(`gru.bias_ih_${s}`), 1, H), 0);
      bias.set(swapZR(model.param(`gru.bias_hh_${s}`), 1, H), G);
      add(`${prefix}/bias`, [2, G], bias);
      return;
    }
    const bih = model.param(`lstm.bias_ih_${s}`);
    const bhh = model.param(`lstm.bias_hh_${s}`);
    const bias = new Float32Array(4 * H);
    for (let j = 0; j < 4 * H; j++) bias[j] = bih[j] + bhh[j]; // Keras has one bias
    add(
      `${prefix}/kernel`,
      [inW, 4 * H],
      transpose(model.param(`lstm.weight_ih_${s}`), 4 * H, inW),
    );
    add(
      `${prefix}/recurrent_kernel`,
      [H, 4 * H],
      transpose(model.param(`lstm.weight_hh_${s}`), 4 * H, H),
    );
    add(`${prefix}/bias`, [4 * H], bias);
  };
  const layers: Record<string, unknown>[] = [];
  // The first layer states the input: token ids [batch, time] or features [batch, time, I].
  let input: Record<string, unknown> = { batch_input_shape: [null, null, I], dtype: "float32" };
  if (emb) {
    const V = emb.numEmbeddings;
    layers.push({
      class_name: "Embedding",
      config: {
        name: "embedding",
        trainable: true,
        batch_input_shape: [null, null],
        dtype: "float32",
        input_dim: V,
        output_dim: I,
        embeddings_initializer: ZEROS,
        embeddings_regularizer: null,
        activity_regularizer: null,
        embeddings_constraint: null,
        mask_zero: maskZero,
        input_length: null,
      },
    });
    add("embedding/embeddings", [V, I], model.param("embedding.weight"));
    input = {};
  } else if (masking) {
    layers.push({
      class_name: "Masking",
      config: { name: "masking", trainable: true, ...input, mask_value: 0 },
    });
    input = {};
  }
  const cls = gru ? "GRU" : "LSTM";
  for (let l = 0; l < L; l++) {
    const base = gru ? "gru" : "lstm";
    const lstmName = l === 0 ? base : `${base}_${l}`;
    const last = l === L - 1;
    if (D === 1) {
      layers.push({
        class_name: cls,
        config: lstmConfig(lstmName, last, l === 0 ? input : {}),
      });
      direction(lstmName, l, 0);
    } else {
      const name = l === 0 ? "bidirectional" : `bidirectional_${l}`;
      layers.push({
        class_name: "Bidirectional",
        config: {
          name,
          trainable: true,
          ...(l === 0 ? input : {}),
          layer: { class_name: cls, config: lstmConfig(lstmName, last, {}) },
          merge_mode: "concat",
        },
      });
      direction(`${name}/forward_${lstmName}`, l, 0);
      direction(`${name}/backward_${lstmName}`, l, 1);
    }
  }
  const dense = {
    class_name: "Dense",
    config: {
      name: "dense",
      trainable: true,
      units: O,
      activation: "linear",
      use_bias: true,
      kernel_initializer: ZEROS,
      bias_initializer: ZEROS,
      kernel_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
    },
  };
  const head = finalOnly ? "dense" : "time_distributed";
  layers.push(
    finalOnly
      ? dense
      : { class_name: "TimeDistributed", config: { name: head, trainable: true, layer: dense } },
  );
  // A tied head's weight is embedding.weight [V = O, E = D·H]: written as an untied copy.
  const headWeight = model.param(model.config.tiedHead ? "embedding.weight" : "head.weight");
  add(`${head}/kernel`, [D * H, O], transpose(headWeight, O, D * H));
  add(`${head}/bias`, [O], model.param("head.bias"));

  let n = 0;
  for (const a of arrays) n += a.length;
  const weights = new Uint8Array(4 * n);
  const view = new DataView(weights.buffer);
  let o = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++, o += 4) view.setFloat32(o, a[i], true);

  const modelJson: TfjsModelJson = {
    format: TFJS_FORMAT,
    generatedBy: "lstm-ts",
    convertedBy: null,
    modelTopology: {
      class_name: "Sequential",
      config: { name: "sequential", layers },
      backend: "tensor_flow.js",
    },
    weightsManifest: [{ paths: [TFJS_WEIGHTS_PATH], weights: specs }],
  };
  if (meta) modelJson.userDefinedMetadata = { [TFJS_META_KEY]: portableMeta(meta) };
  return { modelJson, weightsPath: TFJS_WEIGHTS_PATH, weights, notes };
}
