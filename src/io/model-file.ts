/**
 * The model file: safetensors with PyTorch parameter names (`lstm.weight_ih_l0`, …,
 * `head.weight`, `head.bias`), float32 little-endian, and the configuration, vocabulary or
 * scaler and training summary as JSON strings in `__metadata__` (docs/model-format.md).
 *
 * Checkpoints use the same container: the model plus optimizer moments, best weights, the
 * carried data state and the trainer state, stored in the model's own dtype so a resumed run
 * continues bit for bit.
 */
import { makeConfig, paramLayout, type ModelConfig } from "../model/config.js";
import { LstmModel, type ModelOptions } from "../model/model.js";
import type { Checkpoint } from "../train/trainer.js";
import type { DType, FloatArray } from "../tensor/dtype.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import { checkFinite } from "../tensor/shape.js";
import { isOptimizerKind } from "../optim/optimizers.js";
import { decodeSafetensors, encodeSafetensors, type DecodedTensor } from "./safetensors.js";

export const MODEL_FORMAT = "lstm-ts-model";
export const CHECKPOINT_FORMAT = "lstm-ts-checkpoint";
export const FORMAT_VERSION = 1;

/** How inputs enter the LSTM: one-hot characters (I = V) or dense features (series). */
export type InputEncoding = { kind: "one-hot" } | { kind: "dense" };

/** Everything beside the weights that a user of the model needs. */
export interface ModelMeta {
  task: "text" | "series" | "generic";
  input: InputEncoding;
  /** Text models: the characters in index order. */
  vocab?: string[];
  /** Series models: columns, horizon, window, scaler, time column. */
  series?: Record<string, unknown>;
  /** Training summary (steps, losses, options). */
  training?: Record<string, unknown>;
}

/** A model read from a model file, with its metadata. */
export interface LoadedModel {
  model: LstmModel;
  meta: ModelMeta;
}

function configJson(c: ModelConfig): string {
  return JSON.stringify({
    input_size: c.inputSize,
    hidden_size: c.hiddenSize,
    num_layers: c.numLayers,
    bidirectional: c.bidirectional,
    output_size: c.outputSize,
  });
}

function parseJson(source: string, key: string, text: string | undefined): unknown {
  if (text === undefined) throw new FormatError(source, `__metadata__ has no "${key}"`);
  try {
    return JSON.parse(text);
  } catch {
    throw new FormatError(source, `__metadata__["${key}"] is not valid JSON`);
  }
}

function readConfig(source: string, meta: Record<string, string>): ModelConfig {
  const c = parseJson(source, "config", meta.config) as Record<string, unknown> | null;
  if (!c || typeof c !== "object") throw new FormatError(source, "config must be a JSON object");
  try {
    return makeConfig({
      inputSize: c.input_size as number,
      hiddenSize: c.hidden_size as number,
      numLayers: c.num_layers as number,
      bidirectional: c.bidirectional as boolean,
      outputSize: c.output_size as number,
    });
  } catch (e) {
    if (e instanceof ConfigError) throw new FormatError(source, `config: ${e.message}`);
    throw e;
  }
}

function metaStrings(format: string, model: LstmModel, meta: ModelMeta): Record<string, string> {
  const out: Record<string, string> = {
    format,
    format_version: String(FORMAT_VERSION),
    config: configJson(model.config),
    task: meta.task,
    input: JSON.stringify(meta.input),
  };
  if (meta.vocab) out.vocab = JSON.stringify(meta.vocab);
  if (meta.series) out.series = JSON.stringify(meta.series);
  if (meta.training) out.training = JSON.stringify(meta.training);
  return out;
}

function readMeta(source: string, m: Record<string, string>, config: ModelConfig): ModelMeta {
  const task = m.task ?? "generic";
  if (task !== "text" && task !== "series" && task !== "generic")
    throw new FormatError(source, `unknown task "${task}"`);
  const input = (
    m.input ? parseJson(source, "input", m.input) : { kind: "dense" }
  ) as InputEncoding;
  if (!input || (input.kind !== "one-hot" && input.kind !== "dense"))
    throw new FormatError(source, `input encoding must be one-hot or dense`);
  const meta: ModelMeta = { task, input };
  if (m.vocab !== undefined) {
    const v = parseJson(source, "vocab", m.vocab);
    if (!Array.isArray(v) || !v.every((c) => typeof c === "string" && [...c].length === 1))
      throw new FormatError(source, "vocab must be a JSON array of single characters");
    if (new Set(v).size !== v.length)
      throw new FormatError(source, "vocab has duplicate characters");
    if (input.kind === "one-hot" && v.length !== config.inputSize)
      throw new FormatError(
        source,
        `vocab has ${v.length} characters but input_size is ${config.inputSize}`,
      );
    meta.vocab = v;
  }
  if (m.series !== undefined)
    meta.series = parseJson(source, "series", m.series) as Record<string, unknown>;
  if (m.training !== undefined)
    meta.training = parseJson(source, "training", m.training) as Record<string, unknown>;
  if (task === "text" && !meta.vocab) throw new FormatError(source, "a text model needs a vocab");
  if (task === "series" && !meta.series)
    throw new FormatError(source, "a series model needs series metadata");
  return meta;
}

/** Parameters as float32 tensors in PyTorch order. */
function paramTensors(model: LstmModel, dtype: "F32" | "F64") {
  return model.paramNames().map((name) => ({
    name,
    dtype,
    shape: [...model.paramShape(name)],
    data: model.param(name),
  }));
}

/** A model file's bytes (safetensors, float32, PyTorch names, `meta` in `__metadata__`). */
export function encodeModel(model: LstmModel, meta: ModelMeta): Uint8Array {
  return encodeSafetensors(paramTensors(model, "F32"), metaStrings(MODEL_FORMAT, model, meta));
}

/** A float tensor's data, or a FormatError naming the tensor. */
function floatData(source: string, name: string, t: DecodedTensor): Float32Array | Float64Array {
  if (t.dtype !== "F32" && t.dtype !== "F64")
    throw new FormatError(source, `tensor "${name}" has dtype ${t.dtype}, expected F32 or F64`);
  return t.data as Float32Array | Float64Array;
}

/**
 * Checks every parameter tensor of `config` in the file (present, float, shape, finite) before
 * anything the size of the model is allocated; returns (offset, data) pairs to copy.
 */
function checkParams(
  source: string,
  config: ModelConfig,
  tensors: Map<string, DecodedTensor>,
): [number, Float32Array | Float64Array][] {
  const out: [number, Float32Array | Float64Array][] = [];
  for (const slot of paramLayout(config).list()) {
    const t = tensors.get(slot.name);
    if (!t) throw new FormatError(source, `missing tensor "${slot.name}"`);
    const data = floatData(source, slot.name, t);
    if (t.shape.length !== slot.shape.length || t.shape.some((d, i) => d !== slot.shape[i]))
      throw new FormatError(
        source,
        `tensor "${slot.name}" has shape [${t.shape.join(", ")}], expected [${slot.shape.join(", ")}]`,
      );
    try {
      checkFinite(slot.name, data);
    } catch {
      throw new FormatError(source, `tensor "${slot.name}" holds NaN or Infinity`);
    }
    out.push([slot.offset, data]);
  }
  return out;
}

function copyParams(model: LstmModel, checked: [number, Float32Array | Float64Array][]): void {
  const params = model.params;
  for (const [offset, data] of checked) params.set(data, offset);
}

/** Reads a model file (or a checkpoint, which contains one). */
export function decodeModel(
  bytes: Uint8Array,
  source: string,
  dtype: DType = "float32",
): LoadedModel {
  const { metadata, tensors } = decodeSafetensors(bytes, source);
  if (metadata.format !== MODEL_FORMAT && metadata.format !== CHECKPOINT_FORMAT)
    throw new FormatError(source, `not an lstm-ts model (format "${metadata.format ?? "(none)"}")`);
  const version = Number(metadata.format_version);
  if (version !== FORMAT_VERSION)
    throw new FormatError(
      source,
      `format version ${metadata.format_version} is not supported (this build reads ${FORMAT_VERSION})`,
    );
  const config = readConfig(source, metadata);
  const meta = readMeta(source, metadata, config);
  const checked = checkParams(source, config, tensors); // before the model is allocated
  const model = new LstmModel(config, { dtype });
  copyParams(model, checked);
  return { model, meta };
}

/** Training options and data identity a checkpoint needs to resume the same run. */
export interface RunInfo {
  /** JSON-serialisable options the run was started with (optimizer, schedule, budget, …). */
  options: Record<string, unknown>;
  /** sha256 of the training data, so --resume refuses a different file. */
  dataSha256: string;
}

export function encodeCheckpoint(
  model: LstmModel,
  meta: ModelMeta,
  ckpt: Checkpoint,
  run: RunInfo,
): Uint8Array {
  const dt = model.dtype === "float32" ? "F32" : "F64";
  const layout = paramLayout(model.config);
  // The checkpoint's own copy of the weights (the live model may have moved on since).
  const tensors: { name: string; dtype: "F32" | "F64"; shape: number[]; data: FloatArray }[] =
    layout.list().map((s) => ({
      name: s.name,
      dtype: dt,
      shape: [...s.shape],
      data: ckpt.params.subarray(s.offset, s.offset + s.size),
    }));
  for (const [k, v] of Object.entries(ckpt.optimizer.buffers))
    tensors.push({ name: `optimizer.${k}`, dtype: dt, shape: [v.length], data: v });
  if (ckpt.bestParams)
    tensors.push({
      name: "trainer.best_params",
      dtype: dt,
      shape: [ckpt.bestParams.length],
      data: ckpt.bestParams,
    });
  for (const [k, v] of Object.entries(ckpt.task.tensors))
    tensors.push({ name: `task.${k}`, dtype: dt, shape: [v.length], data: v });
  const m = metaStrings(CHECKPOINT_FORMAT, model, meta);
  m.dtype = model.dtype;
  m.trainer = JSON.stringify(ckpt.trainer);
  m.optimizer = JSON.stringify({ kind: ckpt.optimizer.kind, stepCount: ckpt.optimizer.stepCount });
  m.task_state = JSON.stringify(ckpt.task.json);
  m.run = JSON.stringify(run);
  return encodeSafetensors(tensors, m);
}

/** A checkpoint read from disk: the model, its metadata, the trainer state to resume and the run's settings. */
export interface LoadedCheckpoint extends LoadedModel {
  checkpoint: Checkpoint;
  run: RunInfo;
}

export function decodeCheckpoint(
  bytes: Uint8Array,
  source: string,
  /** Backend choices for the model (threads, backend); the dtype comes from the file. */
  options: Omit<ModelOptions, "dtype"> = {},
): LoadedCheckpoint {
  const { metadata, tensors } = decodeSafetensors(bytes, source);
  if (metadata.format !== CHECKPOINT_FORMAT)
    throw new FormatError(
      source,
      `not an lstm-ts checkpoint (format "${metadata.format ?? "(none)"}")`,
    );
  if (Number(metadata.format_version) !== FORMAT_VERSION)
    throw new FormatError(source, `checkpoint version ${metadata.format_version} is not supported`);
  const dtype = metadata.dtype;
  if (dtype !== "float32" && dtype !== "float64")
    throw new FormatError(source, `unknown dtype "${dtype}"`);
  const config = readConfig(source, metadata);
  const meta = readMeta(source, metadata, config);
  const checked = checkParams(source, config, tensors);
  const trainer = readTrainerState(source, parseJson(source, "trainer", metadata.trainer));
  const opt = parseJson(source, "optimizer", metadata.optimizer) as {
    kind: unknown;
    stepCount: unknown;
  } | null;
  if (!opt || typeof opt !== "object" || !isOptimizerKind(opt.kind) || !isCount(opt.stepCount))
    throw new FormatError(source, "optimizer metadata must be {kind, stepCount}");
  const run = parseJson(source, "run", metadata.run) as RunInfo | null;
  if (
    !run ||
    typeof run !== "object" ||
    !isObject(run.options) ||
    typeof run.dataSha256 !== "string"
  )
    throw new FormatError(source, "run metadata must be {options, dataSha256}");
  const taskJson = parseJson(source, "task_state", metadata.task_state);
  if (!isObject(taskJson)) throw new FormatError(source, "task_state must be a JSON object");
  const model = new LstmModel(config, { ...options, dtype });
  copyParams(model, checked);
  const P = model.numParams;
  /** A 1-D float tensor as the model dtype; `length` checks its size when given. */
  const vec = (name: string, length?: number): FloatArray => {
    const t = tensors.get(name)!;
    const data = floatData(source, name, t);
    if (t.shape.length !== 1 || (length !== undefined && t.shape[0] !== length))
      throw new FormatError(
        source,
        `tensor "${name}" has shape [${t.shape.join(", ")}], expected [${length ?? "n"}]`,
      );
    const out =
      model.dtype === "float32" ? new Float32Array(t.shape[0]) : new Float64Array(t.shape[0]);
    out.set(data);
    return out;
  };
  const buffers: Record<string, FloatArray> = {};
  const taskTensors: Record<string, FloatArray> = {};
  for (const name of tensors.keys()) {
    if (name.startsWith("optimizer.")) buffers[name.slice("optimizer.".length)] = vec(name, P);
    if (name.startsWith("task.")) taskTensors[name.slice("task.".length)] = vec(name);
  }
  const checkpoint: Checkpoint = {
    params: model.params.slice(),
    trainer,
    optimizer: { kind: opt.kind, stepCount: opt.stepCount, buffers },
    bestParams: tensors.has("trainer.best_params") ? vec("trainer.best_params", P) : null,
    task: { json: taskJson, tensors: taskTensors },
  };
  return { model, meta, checkpoint, run };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

/** Validates the trainer state stored in a checkpoint, field by field. */
function readTrainerState(source: string, v: unknown): Checkpoint["trainer"] {
  const fail = (what: string): never => {
    throw new FormatError(source, `trainer state: ${what}`);
  };
  if (!isObject(v)) return fail("must be a JSON object");
  const num = (k: string, ok: (x: number) => boolean): number => {
    const x = v[k];
    if (typeof x !== "number" || !ok(x)) fail(`${k} is ${JSON.stringify(x)}`);
    return x as number;
  };
  const nullable = (k: string, ok: (x: number) => boolean): number | null =>
    v[k] === null ? null : num(k, ok);
  const count = (x: number): boolean => isCount(x);
  const finite = (x: number): boolean => Number.isFinite(x);
  const rng = v.rng;
  if (
    !Array.isArray(rng) ||
    rng.length !== 4 ||
    !rng.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)
  )
    fail("rng must be four uint32 words");
  const history = v.history;
  if (
    !Array.isArray(history) ||
    !history.every(
      (h) =>
        isObject(h) &&
        isCount(h.step) &&
        typeof h.trainLoss === "number" &&
        (h.validLoss === null || typeof h.validLoss === "number"),
    )
  )
    fail("history must be a list of {step, trainLoss, validLoss}");
  return {
    step: num("step", count),
    lrFactor: num("lrFactor", (x) => x > 0 && x <= 1),
    badSteps: num("badSteps", count),
    bestValid: nullable("bestValid", finite),
    bestStep: nullable("bestStep", count),
    evalsSinceBest: num("evalsSinceBest", count),
    lossSum: num("lossSum", finite),
    lossCount: num("lossCount", count),
    rng: rng as [number, number, number, number],
    history: history as Checkpoint["trainer"]["history"],
    elapsedMs: num("elapsedMs", (x) => x >= 0),
    nonFiniteSteps: num("nonFiniteSteps", count),
  };
}
