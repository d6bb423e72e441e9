/**
 * Converters between lstm-ts models and other frameworks' LSTM weights. Pure functions on bytes and
 * JSON values (browser-safe); `lstm convert` (cli/convert.ts) adds the files. docs/model-format.md
 * describes every format.
 *
 * - PyTorch: an `nn.LSTM` or `nn.GRU` (+ one `nn.Linear` head) `state_dict` saved as safetensors,
 *   with or without a module prefix (`weight_ih_l0`, `lstm.weight_ih_l0`, `gru.weight_ih_l0`, …).
 *   The cell (W_hh [4H, H] or [3H, H]) and the sizes are inferred from the shapes and every shape
 *   is checked.
 * - TensorFlow.js Layers models (model.json + weight shards, also what tensorflowjs_converter makes
 *   from a Keras .h5): src/io/tfjs.ts, re-exported here.
 * - Keras / TensorFlow.js: the "keras-lstm" JSON format defined here. Keras stores W_ihᵀ
 *   (`kernel` [I, 4H]) and W_hhᵀ (`recurrent_kernel` [H, 4H]) with gate columns i, f, c, o (c is
 *   the candidate, PyTorch's g, so the order is PyTorch's) and ONE bias [4H]: importing sets
 *   bias_ih = bias and bias_hh = 0; exporting writes bias_ih + bias_hh.
 *
 * Letters: I input, H hidden, L layers, D directions, O head outputs.
 */
import type * as v from "valibot";
import {
  inferredConfig,
  layerSuffix,
  makeConfig,
  numDirections,
  tokenCount,
  type ModelConfig,
} from "../model/config.js";
import { LstmModel } from "../model/model.js";
import { ConfigError, FormatError, LstmError } from "../tensor/errors.js";
import type { ModelMeta } from "./model-file.js";
import { decodeModel, encodeModel } from "./model-file.js";
import { portableMeta, refuseUnportable, transpose, type ImportedModel } from "./keras-layout.js";
import { decodeSafetensors, type DecodedTensor } from "./safetensors.js";
import {
  checkMetaAgainstConfig,
  KerasLstmInputSchema,
  parseField,
  type KerasLstmFile,
  type KerasLstmLayer,
  type KerasLstmWeights,
  type KerasTensor,
  SeriesMetaSchema,
  type SeriesMetaJson,
} from "./schemas.js";
import { isTfjsModelJson } from "./tfjs.js";

export type { ImportedModel, ImportReport } from "./keras-layout.js";

export {
  exportTfjs,
  importTfjs,
  isTfjsModelJson,
  TFJS_FORMAT,
  TFJS_META_KEY,
  TFJS_WEIGHTS_PATH,
} from "./tfjs.js";
export type {
  TfjsExport,
  TfjsModelJson,
  TfjsShards,
  TfjsWeightSpec,
  TfjsWeightsGroup,
} from "./tfjs.js";

/** What a converted model is for: the `task` of its metadata. */
export type ConvertTask = ModelMeta["task"];

/** The four LSTM tensors of one layer and direction, PyTorch names without prefix or suffix. */
type LstmKind = "weight_ih" | "weight_hh" | "bias_ih" | "bias_hh";

/** `[prefix.]weight_ih_l3[_reverse]`: prefix (may be empty or dotted), kind, layer, reverse. */
const LSTM_KEY = /^(?:(.*)\.)?(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$/;
/** Head module names tried, in this order, when no head prefix is given. */
export const HEAD_PREFIXES = ["head", "fc", "linear", "decoder", "out"] as const;

/** nn.Embedding module names tried, in this order, when no embedding prefix is given. */
const EMBEDDING_PREFIXES = ["embedding", "encoder", "embed", "embeddings", "emb"] as const;

const fmt = (shape: readonly number[]) => `[${shape.join(", ")}]`;

// ------------------------------------------------------------------------------------------------
// PyTorch state_dict (safetensors)

/** How to read a PyTorch state_dict: the module prefixes of the LSTM and the head. */
export interface PytorchImportOptions {
  /** Module prefix of the nn.LSTM keys, e.g. "lstm" or "encoder.rnn"; "" for bare keys. Default: detected. */
  lstmPrefix?: string;
  /** Module prefix of the nn.Linear head; default: the first of HEAD_PREFIXES present. */
  headPrefix?: string;
  /** Module prefix of an nn.Embedding input; default: the first of EMBEDDING_PREFIXES present. */
  embeddingPrefix?: string;
  /** The embedding's padding_idx (a state_dict does not record it); default none. */
  paddingIdx?: number;
}

/** A tensor to import: any float data with its shape and the dtype it had in the file. */
export interface SourceTensor {
  dtype: string;
  shape: readonly number[];
  data?: ArrayLike<number>;
}

/**
 * Reads the header of a safetensors file just far enough to name a half-precision tensor, which
 * `decodeSafetensors` would only call "unsupported". Returns silently on anything else.
 */
function rejectHalfPrecision(bytes: Uint8Array, source: string): void {
  if (bytes.length < 8) return;
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (!(n <= bytes.length - 8)) return;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch {
    return;
  }
  if (!header || typeof header !== "object") return;
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    const dtype = (info as { dtype?: unknown } | null)?.dtype;
    if (name !== "__metadata__" && (dtype === "F16" || dtype === "BF16"))
      throw new FormatError(
        source,
        `tensor "${name}" has dtype ${dtype}: unsupported dtype, convert to float32 in PyTorch ` +
          `first ({k: v.float() for k, v in model.state_dict().items()})`,
      );
  }
}

/** Imports an nn.LSTM (+ head) state_dict saved as safetensors (e.g. `safetensors.torch.save_file`). */
export function importPytorchSafetensors(
  bytes: Uint8Array,
  source: string,
  opts: PytorchImportOptions = {},
): ImportedModel {
  rejectHalfPrecision(bytes, source);
  const { tensors } = decodeSafetensors(bytes, source);
  return importPytorchTensors(tensors, source, opts);
}

const withPrefix = (prefix: string, name: string) => (prefix === "" ? name : `${prefix}.${name}`);

/** Checks a prefix option: dotted module path without a trailing dot. */
function checkPrefixOption(field: string, p: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  if (typeof p !== "string") throw new ConfigError(field, "must be a string");
  const q = p.endsWith(".") ? p.slice(0, -1) : p;
  if (q.startsWith(".") || q.includes(".."))
    throw new ConfigError(field, `"${p}" is not a module path like "lstm" or "encoder.rnn"`);
  return q;
}

/**
 * Imports an nn.LSTM (+ one nn.Linear head) from named tensors. Sizes are inferred — H from
 * weight_hh_l0, I from weight_ih_l0, L from the highest layer index, D from `_reverse` keys, O
 * from the head — and every tensor's dtype, shape and values are checked; errors name the key.
 */
export function importPytorchTensors(
  tensors: ReadonlyMap<string, SourceTensor | DecodedTensor>,
  source: string,
  opts: PytorchImportOptions = {},
): ImportedModel {
  const fail = (msg: string): never => {
    throw new FormatError(source, msg);
  };
  const lstmOpt = checkPrefixOption("lstm prefix", opts.lstmPrefix);
  const headOpt = checkPrefixOption("head prefix", opts.headPrefix);
  const keys = [...tensors.keys()];
  const list = (ks: readonly string[]) =>
    ks.length > 8 ? `${ks.slice(0, 8).join(", ")}, … (${ks.length} in all)` : ks.join(", ");

  // LSTM keys, grouped by prefix.
  const byPrefix = new Map<string, string[]>();
  for (const k of keys) {
    const m = LSTM_KEY.exec(k);
    if (!m) continue;
    const p = m[1] ?? "";
    byPrefix.set(p, [...(byPrefix.get(p) ?? []), k]);
  }
  let lstmPrefix: string;
  if (lstmOpt !== undefined) {
    if (!byPrefix.has(lstmOpt))
      throw new ConfigError(
        "lstm prefix",
        `no nn.LSTM tensors named ${withPrefix(lstmOpt, "weight_ih_l0")}` +
          (byPrefix.size
            ? `; LSTM prefixes in ${source}: ${[...byPrefix.keys()].map((p) => JSON.stringify(p)).join(", ")}`
            : ""),
      );
    lstmPrefix = lstmOpt;
  } else {
    if (byPrefix.size === 0)
      fail(
        `no nn.LSTM or nn.GRU parameters found (expected keys like weight_ih_l0 or lstm.weight_ih_l0); ` +
          `keys: ${list(keys) || "(none)"}`,
      );
    if (byPrefix.size > 1)
      fail(
        `several nn.LSTM modules (prefixes ${[...byPrefix.keys()].map((p) => JSON.stringify(p)).join(", ")}); ` +
          `choose one with --lstm-prefix (lstm-ts imports one LSTM stack)`,
      );
    lstmPrefix = [...byPrefix.keys()][0];
  }

  const lstmKeys = byPrefix.get(lstmPrefix)!;
  const key = (kind: LstmKind, l: number, d: number) =>
    withPrefix(lstmPrefix, `${kind}_${layerSuffix(l, d)}`);
  let maxLayer = -1;
  let reverse = false;
  for (const k of lstmKeys) {
    const m = LSTM_KEY.exec(k)!;
    if (m[3].length > 1 && m[3].startsWith("0")) fail(`tensor "${k}": malformed layer index`);
    maxLayer = Math.max(maxLayer, Number(m[3]));
    if (m[4]) reverse = true;
  }
  const L = maxLayer + 1;
  const D = reverse ? 2 : 1;
  const hasBias = lstmKeys.some((k) => /(^|\.)bias_(ih|hh)_l/.test(k));

  const get = (name: string): SourceTensor => {
    const t = tensors.get(name);
    if (!t) return fail(`missing tensor "${name}"`);
    if (t.dtype !== "F32" && t.dtype !== "F64") {
      if (t.dtype === "F16" || t.dtype === "BF16")
        fail(
          `tensor "${name}" has dtype ${t.dtype}: unsupported dtype, convert to float32 in PyTorch first`,
        );
      fail(`tensor "${name}" has dtype ${t.dtype}, expected F32 or F64`);
    }
    return t as SourceTensor;
  };
  // The cell from W_hh's gate rows: [4H, ·] is an nn.LSTM, [3H, ·] an nn.GRU (the keys are
  // alike). A projection (nn.LSTM proj_size = P): weight_hr [P, H], weight_hh [4H, P].
  const hrKey = withPrefix(lstmPrefix, "weight_hr_l0");
  const hr0 = tensors.has(hrKey) ? get(hrKey) : null;
  if (hr0 && (hr0.shape.length !== 2 || hr0.shape[0] >= hr0.shape[1] || hr0.shape[0] < 1))
    fail(`tensor "${hrKey}" has shape ${fmt(hr0.shape)}, expected [P, H] with P < H`);
  const P = hr0 ? hr0.shape[0] : 0;
  const w0 = get(key("weight_hh", 0, 0));
  const H = hr0 ? hr0.shape[1] : w0.shape.length === 2 ? w0.shape[1] : 0;
  const Hout = P > 0 ? P : H;
  const gateRows = w0.shape.length === 2 && H >= 1 && w0.shape[1] === Hout ? w0.shape[0] / H : 0;
  if (gateRows !== 4 && (gateRows !== 3 || P > 0))
    fail(
      `tensor "${key("weight_hh", 0, 0)}" has shape ${fmt(w0.shape)}, expected ` +
        (P > 0
          ? `[4H, P] = [${4 * H}, ${P}] (P, H from ${hrKey})`
          : "[4H, H] (nn.LSTM) or [3H, H] (nn.GRU)"),
    );
  const cell = gateRows === 3 ? "gru" : "lstm";
  const G = gateRows * H;
  const wi0 = get(key("weight_ih", 0, 0));
  if (wi0.shape.length !== 2 || wi0.shape[0] !== G || wi0.shape[1] < 1)
    fail(
      `tensor "${key("weight_ih", 0, 0)}" has shape ${fmt(wi0.shape)}, expected [${G}, I] (${gateRows}H = ${G} from ${key("weight_hh", 0, 0)})`,
    );
  const I = wi0.shape[1];

  // An embedding table [V, E = I] feeding the LSTM.
  const embOpt = checkPrefixOption("embedding prefix", opts.embeddingPrefix);
  const embCandidates = embOpt !== undefined ? [embOpt] : [...EMBEDDING_PREFIXES];
  const embPresent = embCandidates.filter((p) => tensors.has(withPrefix(p, "weight")));
  if (embOpt !== undefined && embPresent.length === 0)
    throw new ConfigError(
      "embedding prefix",
      `no tensor "${withPrefix(embOpt, "weight")}" in ${source}`,
    );
  if (embPresent.length > 1)
    fail(
      `several possible embeddings (${embPresent.map((p) => `${p}.weight`).join(", ")}); choose one with --embedding-prefix`,
    );
  const embPrefix = embPresent[0] as string | undefined;
  let V = 0;
  if (embPrefix !== undefined) {
    const e = get(withPrefix(embPrefix, "weight"));
    if (e.shape.length !== 2 || e.shape[1] !== I || e.shape[0] < 1)
      fail(
        `tensor "${withPrefix(embPrefix, "weight")}" has shape ${fmt(e.shape)}, expected [V, ${I}] (the LSTM's input size)`,
      );
    V = e.shape[0];
  }
  const pad = opts.paddingIdx;
  if (
    pad !== undefined &&
    (embPrefix === undefined || !Number.isInteger(pad) || pad < 0 || pad >= V)
  )
    throw new ConfigError(
      "padding idx",
      embPrefix === undefined ? "needs an embedding" : `must be in [0, ${V}), got ${pad}`,
    );

  // The head.
  const headCandidates = (headOpt !== undefined ? [headOpt] : [...HEAD_PREFIXES]).filter(
    (p) => p !== embPrefix,
  );
  const present = headCandidates.filter((p) => tensors.has(withPrefix(p, "weight")));
  if (present.length === 0) {
    if (headOpt !== undefined)
      throw new ConfigError(
        "head prefix",
        `no tensor "${withPrefix(headOpt, "weight")}" in ${source}`,
      );
    const others = keys.filter((k) => !lstmKeys.includes(k));
    fail(
      `no head found: expected head.weight/head.bias (or fc.*, linear.*, decoder.*); name another ` +
        `nn.Linear with --head-prefix` +
        (others.length ? ` (other keys: ${list(others)})` : ""),
    );
  }
  if (present.length > 1)
    fail(
      `several possible heads (${present.map((p) => `${p}.weight`).join(", ")}); choose one with --head-prefix`,
    );
  const headPrefix = present[0];
  const hw = get(withPrefix(headPrefix, "weight"));
  if (hw.shape.length !== 2 || hw.shape[1] !== D * Hout || hw.shape[0] < 1)
    fail(
      `tensor "${withPrefix(headPrefix, "weight")}" has shape ${fmt(hw.shape)}, expected [O, ${D * Hout}] ` +
        `(D·${P > 0 ? "P" : "H"} = ${D}·${Hout} from the LSTM tensors)`,
    );
  const O = hw.shape[0];
  // Tied weights (the word-language-model example): the head's weight is the embedding's, value
  // for value; one parameter then, as in the source model.
  const embW = embPrefix !== undefined ? get(withPrefix(embPrefix, "weight")) : null;
  const tied =
    embW !== null &&
    embW.shape[0] === O &&
    embW.shape[1] === D * Hout &&
    embW.data !== undefined &&
    hw.data !== undefined &&
    embW.data.length === hw.data.length &&
    Array.prototype.every.call(embW.data, (x: number, i: number) => x === hw.data![i]);

  const base = inferredConfig({ I, H, L, D, O, cell }, fail);
  let config: ModelConfig;
  try {
    config = makeConfig({
      ...base,
      projSize: P,
      embedding:
        embPrefix !== undefined ? { numEmbeddings: V, paddingIdx: pad ?? null } : undefined,
      tiedHead: tied,
    });
  } catch (e) {
    if (e instanceof ConfigError) return fail(`inferred sizes: ${e.message}`);
    throw e;
  }
  const model = new LstmModel(config);
  const used = new Set<string>();
  const dtypes = new Set<string>();
  const copy = (src: string, dst: string, shape: readonly number[], optional = false) => {
    if (optional && !tensors.has(src)) {
      model.param(dst).fill(0);
      return;
    }
    const t = get(src);
    if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i]))
      fail(`tensor "${src}" has shape ${fmt(t.shape)}, expected ${fmt(shape)}`);
    const data = t.data;
    if (!data || data.length !== model.param(dst).length)
      fail(`tensor "${src}" has ${data?.length ?? 0} values, expected ${model.param(dst).length}`);
    for (let i = 0; i < data!.length; i++)
      if (!Number.isFinite(data![i])) fail(`tensor "${src}" holds ${data![i]} at index ${i}`);
    const dstView = model.param(dst);
    dstView.set(data!);
    const bad = dstView.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) fail(`tensor "${src}": value ${data![bad]} at index ${bad} overflows float32`);
    used.add(src);
    dtypes.add(t.dtype);
  };
  for (let l = 0; l < L; l++)
    for (let d = 0; d < D; d++) {
      const s = layerSuffix(l, d);
      if (!tensors.has(key("weight_ih", l, d)))
        fail(
          `missing tensor "${key("weight_ih", l, d)}"` +
            (d === 1
              ? ` (${key("weight_ih", 0, 1)} or another _reverse key makes the LSTM bidirectional)`
              : ` (layers 0…${L - 1} must all be present)`),
        );
      copy(key("weight_ih", l, d), `${cell}.weight_ih_${s}`, [G, l === 0 ? I : D * Hout]);
      copy(key("weight_hh", l, d), `${cell}.weight_hh_${s}`, [G, Hout]);
      copy(key("bias_ih", l, d), `${cell}.bias_ih_${s}`, [G], !hasBias);
      copy(key("bias_hh", l, d), `${cell}.bias_hh_${s}`, [G], !hasBias);
      if (P > 0) {
        const hr = withPrefix(lstmPrefix, `weight_hr_${s}`);
        if (!tensors.has(hr)) fail(`missing tensor "${hr}" (${hrKey} makes the LSTM projected)`);
        copy(hr, `lstm.weight_hr_${s}`, [P, H]);
      }
    }
  if (embPrefix !== undefined) copy(withPrefix(embPrefix, "weight"), "embedding.weight", [V, I]);
  const hb = withPrefix(headPrefix, "bias");
  if (tied) used.add(withPrefix(headPrefix, "weight"));
  else copy(withPrefix(headPrefix, "weight"), "head.weight", [O, D * Hout]);
  copy(hb, "head.bias", [O], true);

  const unused = keys.filter((k) => !used.has(k));
  if (unused.length)
    fail(
      `tensors not part of an nn.LSTM/nn.GRU + nn.Linear model: ${list(unused)} ` +
        `(lstm-ts imports exactly one recurrent stack and its head; drop other modules from the state_dict first)`,
    );

  const notes: string[] = [];
  if (!hasBias) notes.push(`the ${cell.toUpperCase()} has no biases (bias=False): stored as zeros`);
  if (embPrefix !== undefined)
    notes.push(
      `embedding ${embPrefix}.weight [${V}, ${I}]` +
        (pad !== undefined
          ? `, padding_idx ${pad}`
          : " (padding_idx: none; set it with --padding-idx)"),
    );
  if (tied) notes.push(`${headPrefix}.weight equals ${embPrefix}.weight: imported as a tied head`);
  if (P > 0) notes.push(`projections: proj_size ${P}`);
  if (!tensors.has(hb)) notes.push(`no ${hb} (bias=False): head bias stored as zeros`);
  if (dtypes.has("F64"))
    notes.push("float64 weights rounded to float32 (the model file stores float32)");
  return {
    model,
    report: { from: "pytorch", config, lstmPrefix, headPrefix, dtypes: [...dtypes].sort(), notes },
  };
}

// ------------------------------------------------------------------------------------------------
// Keras / TensorFlow.js JSON

/** The `format` tag of keras-lstm JSON files. */
export const KERAS_FORMAT = "keras-lstm";
/** The keras-lstm JSON format version this library writes and reads. */
export const KERAS_FORMAT_VERSION = 1;

export type { KerasLstmFile, KerasLstmLayer, KerasLstmWeights, KerasTensor } from "./schemas.js";

/** One direction of a layer as the importer reads it. */
type KerasInputWeights = v.InferOutput<typeof KerasLstmInputSchema>["layers"][number];

interface Arr {
  shape: number[];
  data: Float64Array;
}

/** Reads a tensor given as {shape, data} (flat, row-major) or as nested arrays. */
function readTensor(source: string, where: string, v: unknown): Arr {
  const fail = (msg: string): never => {
    throw new FormatError(source, `${where}: ${msg}`);
  };
  let shape: number[];
  let flat: unknown[];
  if (Array.isArray(v)) {
    shape = [];
    let level: unknown = v;
    while (Array.isArray(level)) {
      shape.push(level.length);
      if (shape.length > 8) fail("nested arrays are more than 8 deep");
      if (level.length === 0) break;
      level = level[0];
    }
    flat = [];
    const walk = (a: unknown, depth: number): void => {
      if (depth === shape.length) {
        if (Array.isArray(a))
          fail(`nested arrays are not rectangular (expected shape ${fmt(shape)})`);
        flat.push(a);
        return;
      }
      if (!Array.isArray(a) || a.length !== shape[depth])
        fail(`nested arrays are not rectangular (expected shape ${fmt(shape)})`);
      for (const x of a as unknown[]) walk(x, depth + 1);
    };
    walk(v, 0);
  } else if (v && typeof v === "object") {
    const o = v as { shape?: unknown; data?: unknown; dtype?: unknown };
    if (!Array.isArray(o.shape) || !o.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail("shape must be an array of non-negative integers");
    if (!Array.isArray(o.data)) fail("data must be an array of numbers (flat, row-major)");
    if (o.dtype !== undefined && o.dtype !== "float32" && o.dtype !== "float64")
      fail(`dtype "${String(o.dtype)}" is not supported (float32 or float64)`);
    shape = [...(o.shape as number[])];
    flat = o.data as unknown[];
    const n = shape.reduce((a, b) => a * b, 1);
    if (flat.length !== n)
      fail(`data has ${flat.length} values but shape ${fmt(shape)} needs ${n}`);
  } else {
    return fail("expected {shape, data} or nested arrays of numbers");
  }
  const data = new Float64Array(flat.length);
  for (let i = 0; i < flat.length; i++) {
    const x = flat[i];
    if (typeof x !== "number" || !Number.isFinite(x))
      fail(`element ${i} is ${JSON.stringify(x) ?? String(x)}, expected a finite number`);
    data[i] = x as number;
  }
  return { shape, data };
}

function expectShape(source: string, where: string, a: Arr, shape: number[], hint = ""): void {
  if (a.shape.length !== shape.length || a.shape.some((n, i) => n !== shape[i]))
    throw new FormatError(
      source,
      `${where} has shape ${fmt(a.shape)}, expected ${fmt(shape)}${hint ? ` (${hint})` : ""}`,
    );
}

/** Checks the optional activation fields (snake_case as in Keras, camelCase as in TF.js). */
function checkActivations(source: string, where: string, o: Record<string, unknown>): void {
  const act = o.activation;
  if (act !== undefined && act !== "tanh")
    throw new FormatError(
      source,
      `${where}.activation is ${JSON.stringify(act)}: only "tanh" is supported (as in PyTorch)`,
    );
  for (const rec of [o.recurrent_activation, o.recurrentActivation])
    if (rec !== undefined && rec !== "sigmoid")
      throw new FormatError(
        source,
        `${where}.recurrent_activation is ${JSON.stringify(rec)}: only "sigmoid" is supported (as in ` +
          `PyTorch); TensorFlow.js defaults to hardSigmoid, so build the model with recurrentActivation: "sigmoid"`,
      );
}

/**
 * Imports a keras-lstm JSON value (see docs/model-format.md). Sizes are inferred from the shapes
 * and checked; errors name the offending field, e.g. `layers[1].backward_layer.kernel`.
 */
export function importKeras(json: unknown, source: string): ImportedModel {
  const fail = (msg: string): never => {
    throw new FormatError(source, msg);
  };
  if (!json || typeof json !== "object" || Array.isArray(json)) fail("expected a JSON object");
  const f = json as Record<string, unknown>;
  if (f.format !== KERAS_FORMAT)
    fail(
      `not a keras-lstm file (format ${JSON.stringify(f.format) ?? "missing"}, expected "${KERAS_FORMAT}")`,
    );
  if (f.format_version !== undefined && f.format_version !== KERAS_FORMAT_VERSION)
    fail(
      `keras-lstm format_version ${JSON.stringify(f.format_version)} is not supported (this build reads ${KERAS_FORMAT_VERSION})`,
    );
  const file = parseField(KerasLstmInputSchema, f, { source, where: "" });
  const layers = file.layers;
  const first = layers[0];
  const rk0 = readTensor(source, "layers[0].recurrent_kernel", first.recurrent_kernel);
  if (rk0.shape.length !== 2 || rk0.shape[1] !== 4 * rk0.shape[0] || rk0.shape[0] < 1)
    fail(`layers[0].recurrent_kernel has shape ${fmt(rk0.shape)}, expected [H, 4H]`);
  const H = rk0.shape[0];
  const D = first.backward_layer !== undefined ? 2 : 1;
  const k0 = readTensor(source, "layers[0].kernel", first.kernel);
  if (k0.shape.length !== 2 || k0.shape[1] !== 4 * H || k0.shape[0] < 1)
    fail(
      `layers[0].kernel has shape ${fmt(k0.shape)}, expected [I, ${4 * H}] (4H from layers[0].recurrent_kernel)`,
    );
  const I = k0.shape[0];
  const dense = file.dense;
  const dk = readTensor(source, "dense.kernel", dense.kernel);
  if (dk.shape.length !== 2 || dk.shape[0] !== D * H || dk.shape[1] < 1)
    fail(`dense.kernel has shape ${fmt(dk.shape)}, expected [${D * H}, O] (D·H = ${D}·${H})`);
  const O = dk.shape[1];
  if (dense.activation !== undefined && dense.activation !== "linear" && dense.activation !== null)
    fail(
      `dense.activation is ${JSON.stringify(dense.activation)}: only "linear" is supported (the head has no activation)`,
    );

  let config: ModelConfig;
  try {
    config = makeConfig({
      inputSize: I,
      hiddenSize: H,
      numLayers: layers.length,
      bidirectional: D === 2,
      outputSize: O,
    });
  } catch (e) {
    if (e instanceof ConfigError) return fail(`inferred sizes: ${e.message}`);
    throw e;
  }
  const model = new LstmModel(config);
  let bias8 = false;
  let noBias = false;

  const direction = (where: string, o: KerasInputWeights, l: number, d: number) => {
    const s = layerSuffix(l, d);
    const inW = l === 0 ? I : D * H;
    checkActivations(source, where, o);
    if (o.units !== undefined && o.units !== H)
      fail(`${where}.units is ${JSON.stringify(o.units)}, expected ${H}`);
    const goBack = o.go_backwards ?? o.goBackwards;
    if (d === 0 && goBack === true)
      fail(
        `${where}.go_backwards is true: a lone backwards LSTM (which also returns its outputs reversed) ` +
          `has no PyTorch equivalent; a bidirectional layer keeps its reverse direction in backward_layer`,
      );
    if (d === 1 && goBack === false)
      fail(`${where}.go_backwards is false: a backward_layer reads the sequence backwards`);
    const k = readTensor(source, `${where}.kernel`, o.kernel);
    expectShape(
      source,
      `${where}.kernel`,
      k,
      [inW, 4 * H],
      l === 0 ? "[I, 4H]" : "[D·H, 4H]: the previous layer's output",
    );
    const r = readTensor(source, `${where}.recurrent_kernel`, o.recurrent_kernel);
    expectShape(source, `${where}.recurrent_kernel`, r, [H, 4 * H], "[H, 4H]");
    model.param(`lstm.weight_ih_${s}`).set(transpose(k.data, inW, 4 * H));
    model.param(`lstm.weight_hh_${s}`).set(transpose(r.data, H, 4 * H));
    const bih = model.param(`lstm.bias_ih_${s}`);
    const bhh = model.param(`lstm.bias_hh_${s}`);
    const useBias = o.use_bias ?? o.useBias;
    if (o.bias === undefined || o.bias === null) {
      if (useBias !== false)
        fail(`${where}.bias is missing (set "use_bias": false for an LSTM without bias)`);
      bih.fill(0);
      bhh.fill(0);
      noBias = true;
      return;
    }
    if (useBias === false) fail(`${where} has a bias but use_bias is false`);
    const b = readTensor(source, `${where}.bias`, o.bias);
    if (b.shape.length === 1 && b.shape[0] === 8 * H) {
      bih.set(b.data.subarray(0, 4 * H));
      bhh.set(b.data.subarray(4 * H));
      bias8 = true;
    } else {
      expectShape(source, `${where}.bias`, b, [4 * H], "[4H], or [8H] for CuDNNLSTM");
      bih.set(b.data);
      bhh.fill(0);
    }
  };

  for (let l = 0; l < layers.length; l++) {
    const where = `layers[${l}]`;
    const o = layers[l];
    const mm = o.merge_mode ?? o.mergeMode;
    if (mm !== undefined && mm !== "concat")
      fail(`${where}.merge_mode is ${JSON.stringify(mm)}: only "concat" is supported`);
    if ((o.backward_layer !== undefined ? 2 : 1) !== D)
      fail(
        `${where} ${D === 2 ? "has no" : "has a"} backward_layer but layers[0] ${D === 2 ? "does" : "does not"}: ` +
          `all layers must be bidirectional or none`,
      );
    if (l < layers.length - 1 && o.return_sequences === false)
      fail(`${where}.return_sequences is false: every layer but the last must return sequences`);
    direction(where, o, l, 0);
    if (D === 2) direction(`${where}.backward_layer`, o.backward_layer!, l, 1);
  }

  model.param("head.weight").set(transpose(dk.data, D * H, O));
  const useDenseBias = dense.use_bias ?? dense.useBias;
  if (dense.bias === undefined || dense.bias === null) {
    if (useDenseBias !== false)
      fail(`dense.bias is missing (set "use_bias": false for a Dense without bias)`);
    model.param("head.bias").fill(0);
  } else {
    const db = readTensor(source, "dense.bias", dense.bias);
    expectShape(source, "dense.bias", db, [O], "[O]");
    model.param("head.bias").set(db.data);
  }
  for (const name of model.paramNames())
    if (!model.param(name).every(Number.isFinite))
      fail(`a weight overflows float32 in ${name} (the model file stores float32)`);

  const notes: string[] = [];
  if (!bias8 && !noBias)
    notes.push("Keras has one bias per gate: imported as bias_ih, with bias_hh = 0");
  if (bias8)
    notes.push("[8H] CuDNNLSTM biases split into bias_ih (first 4H) and bias_hh (last 4H)");
  if (noBias) notes.push("use_bias=false: LSTM biases stored as zeros");
  const out: ImportedModel = {
    model,
    report: { from: "keras", config, dtypes: ["JSON"], notes },
  };
  // Validated by the schema; kept as written (the schema's defaults are not added to the file).
  if (file.meta !== undefined) out.meta = f.meta as Partial<ModelMeta>;
  return out;
}

const tensor = (shape: number[], data: ArrayLike<number>): KerasTensor => ({
  shape,
  data: Array.from(data),
});

/**
 * Exports a model as keras-lstm JSON: kernel = W_ihᵀ, recurrent_kernel = W_hhᵀ, bias = bias_ih +
 * bias_hh (Keras has one), dense.kernel = head.weightᵀ. `meta` (task, input, vocab, series) is
 * carried along so that importing gives the same model file back.
 */
export function exportKeras(model: LstmModel, meta?: ModelMeta): KerasLstmFile {
  refuseUnportable(model.config, "keras-lstm JSON");
  if (model.config.cell !== "lstm")
    throw new ConfigError(
      "to",
      "keras-lstm JSON holds LSTM layers only; export a GRU with --to tfjs (a Keras GRU with " +
        "reset_after=True) or use the model file itself (a PyTorch nn.GRU state_dict)",
    );
  const { inputSize: I, hiddenSize: H, numLayers: L, outputSize: O } = model.config;
  const D = numDirections(model.config);
  const weights = (l: number, d: number): KerasLstmWeights => {
    const s = layerSuffix(l, d);
    const inW = l === 0 ? I : D * H;
    const bih = model.param(`lstm.bias_ih_${s}`);
    const bhh = model.param(`lstm.bias_hh_${s}`);
    const bias = new Float64Array(4 * H);
    for (let j = 0; j < 4 * H; j++) bias[j] = Math.fround(bih[j] + bhh[j]); // Keras is float32
    return {
      units: H,
      activation: "tanh",
      recurrent_activation: "sigmoid",
      ...(d === 1 ? { go_backwards: true } : {}),
      kernel: tensor([inW, 4 * H], transpose(model.param(`lstm.weight_ih_${s}`), 4 * H, inW)),
      recurrent_kernel: tensor([H, 4 * H], transpose(model.param(`lstm.weight_hh_${s}`), 4 * H, H)),
      bias: tensor([4 * H], bias),
    };
  };
  const layers: KerasLstmLayer[] = [];
  for (let l = 0; l < L; l++) {
    const layer: KerasLstmLayer = { ...weights(l, 0), return_sequences: true };
    if (D === 2) {
      layer.merge_mode = "concat";
      layer.backward_layer = weights(l, 1);
    }
    layers.push(layer);
  }
  const out: KerasLstmFile = {
    format: KERAS_FORMAT,
    format_version: KERAS_FORMAT_VERSION,
    layers,
    dense: {
      activation: "linear",
      kernel: tensor([D * H, O], transpose(model.param("head.weight"), O, D * H)),
      bias: tensor([O], model.param("head.bias")),
    },
  };
  if (meta) out.meta = portableMeta(meta);
  return out;
}

// ------------------------------------------------------------------------------------------------
// Metadata of an imported model

/** A vocabulary: a JSON array of distinct single characters, or a string (one character each). */
export function parseVocab(json: unknown, source: string): string[] {
  const v = typeof json === "string" ? [...json] : json;
  if (!Array.isArray(v) || v.length === 0)
    throw new FormatError(
      source,
      "a vocabulary must be a non-empty JSON array of single characters (index order)",
    );
  v.forEach((c, i) => {
    if (typeof c !== "string" || [...c].length !== 1)
      throw new FormatError(
        source,
        `vocabulary entry ${i} is ${JSON.stringify(c)}, expected one character`,
      );
  });
  const seen = new Map<string, number>();
  v.forEach((c: string, i) => {
    if (seen.has(c))
      throw new FormatError(
        source,
        `vocabulary entries ${seen.get(c)} and ${i} are both ${JSON.stringify(c)}`,
      );
    seen.set(c, i);
  });
  return v as string[];
}

/** Validates series metadata (SeriesMetaSchema) and checks it against the model's sizes. */
export function checkSeriesMeta(
  series: unknown,
  config: ModelConfig,
  source: string,
): SeriesMetaJson {
  const parsed = parseField(SeriesMetaSchema, series, { source, where: "series" });
  checkMetaAgainstConfig(
    { task: "series", input: { kind: "dense" }, series: parsed },
    config,
    source,
  );
  // As given, with the defaults that decide the model's sizes written out.
  return {
    ...(series as SeriesMetaJson),
    targetColumns: parsed.targetColumns ?? parsed.columns,
    horizon: parsed.horizon,
  };
}

/** Metadata for a converted model: its task, vocabulary and where it came from. */
export interface MetaOptions {
  /** Default: "text" with a vocabulary, the base's task, else "generic". */
  task?: ConvertTask;
  vocab?: string[];
  series?: Record<string, unknown>;
  /** Metadata the source carried (lstm-ts model, keras-lstm `meta`); options override it. */
  base?: Partial<ModelMeta>;
  /** Recorded as `training` (e.g. {convertedFrom: "pytorch", source}). */
  training?: Record<string, unknown>;
}

/**
 * The metadata of a converted model, checked so that the model file loads: a text model has a
 * vocabulary of input_size characters and one-hot input; a series model has series metadata that
 * fits its sizes; a generic model has dense input; a classifier keeps the base's classifier
 * metadata (checked against the sizes when the model file is written).
 */
export function buildMeta(config: ModelConfig, opts: MetaOptions, source: string): ModelMeta {
  const base = opts.base ?? {};
  const vocab = opts.vocab ?? base.vocab;
  const series = opts.series ?? base.series;
  const task: ConvertTask =
    opts.task ??
    (opts.vocab ? "text" : opts.series ? "series" : (base.task ?? (vocab ? "text" : "generic")));
  if (task === "classify") {
    // A classifier converts with its metadata (an lstm-ts model file, or a TF.js export of one).
    if (!base.classifier)
      throw new ConfigError(
        "task",
        "a classifier needs its metadata (classes, vocabulary), which this source does not carry; give --task generic",
      );
    const meta: ModelMeta = {
      task,
      input: base.input ?? { kind: config.embedding ? "embedding" : "dense" },
      classifier: base.classifier,
    };
    if (opts.training) meta.training = opts.training;
    return meta;
  }
  if (task !== "text" && task !== "series" && task !== "generic")
    throw new ConfigError("task", `must be text, series or generic, got ${JSON.stringify(task)}`);
  const kind = config.embedding ? "embedding" : task === "text" ? "one-hot" : "dense";
  const meta: ModelMeta = { task, input: { kind } };
  if (task === "text") {
    if (!vocab)
      throw new ConfigError("task", "a text model needs a vocabulary (--vocab vocab.json)");
    const v = parseVocab(vocab, source);
    const V = tokenCount(config);
    if (v.length !== V)
      throw new ConfigError(
        "vocab",
        config.embedding
          ? `has ${v.length} characters but the embedding table has ${V} rows`
          : `has ${v.length} characters but the model's input_size is ${V} (one-hot input: I = V)`,
      );
    meta.vocab = v;
  } else if (opts.vocab) {
    throw new ConfigError("vocab", `a vocabulary is only for text models (task is ${task})`);
  }
  if (task === "series") {
    if (!series)
      throw new ConfigError("task", "a series model needs series metadata (--series series.json)");
    meta.series = checkSeriesMeta(series, config, source);
  } else if (opts.series) {
    throw new ConfigError("series", `series metadata is only for series models (task is ${task})`);
  }
  if (opts.training) meta.training = opts.training;
  return meta;
}

/**
 * Encodes and decodes a converted model with the loader's own checks, so that a file `loadModel`
 * would reject is never written. Throws FormatError naming `target`.
 */
export function checkConverted(model: LstmModel, meta: ModelMeta, target: string): void {
  try {
    decodeModel(encodeModel(model, meta), target);
  } catch (e) {
    if (e instanceof LstmError)
      throw new FormatError(target, `the converted model would not load: ${e.message}`);
    throw e;
  }
}

/**
 * What a file holds, from its first bytes: "lstm" (an lstm-ts model or checkpoint), "pytorch"
 * (any other safetensors file), "tfjs" (a TensorFlow.js model.json: a JSON object with
 * `modelTopology` or `weightsManifest`), "keras" (any other JSON object) or null.
 */
export function sniffFormat(bytes: Uint8Array): "lstm" | "pytorch" | "keras" | "tfjs" | null {
  if (bytes.length >= 9 && bytes[8] === 0x7b) {
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
    if (n <= bytes.length - 8) {
      try {
        const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as {
          __metadata__?: { format?: unknown };
        };
        const format = header?.__metadata__?.format;
        return typeof format === "string" && format.startsWith("lstm-ts-") ? "lstm" : "pytorch";
      } catch {
        return "pytorch";
      }
    }
  }
  let i = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3; // UTF-8 BOM
  while (
    i < bytes.length &&
    (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)
  )
    i++;
  if (bytes[i] !== 0x7b) return null;
  try {
    if (isTfjsModelJson(JSON.parse(new TextDecoder().decode(bytes.subarray(i))))) return "tfjs";
  } catch {
    // not valid JSON: the keras-lstm reader reports it
  }
  return "keras";
}
