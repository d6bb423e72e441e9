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
import * as v from "valibot";
import { decodeSafetensors, encodeSafetensors, type DecodedTensor } from "./safetensors.js";
import {
  checkMetaAgainstConfig,
  checkRunOptions,
  DTypeSchema,
  InputEncodingSchema,
  ModelConfigSchema,
  OptimizerStateSchema,
  parseField,
  parseJsonField,
  RunInfoSchema,
  SeriesMetaSchema,
  TaskSchema,
  TaskStateSchema,
  TrainerStateSchema,
  TrainingSummarySchema,
  VocabSchema,
  type CheckedMeta,
  type InputEncoding,
  type SeriesMetaJson,
  type TrainingSummary,
} from "./schemas.js";

const MODEL_FORMAT = "lstm-ts-model";
const CHECKPOINT_FORMAT = "lstm-ts-checkpoint";
const FORMAT_VERSION = 1;

export type { InputEncoding } from "./schemas.js";

/** Everything beside the weights that a user of the model needs (schemas in schemas.ts). */
export interface ModelMeta {
  task: "text" | "series" | "generic";
  input: InputEncoding;
  /** Text models: the characters in index order. */
  vocab?: string[];
  /** Series models: columns, horizon, window, scaler, time column. */
  series?: SeriesMetaJson;
  /** Training summary (steps, losses, options). */
  training?: TrainingSummary;
}

/** A model read from a model file, with its metadata. */
export interface LoadedModel {
  model: LstmModel;
  meta: ModelMeta;
}

function configJson(c: ModelConfig): string {
  const d = c.dropout;
  return JSON.stringify({
    // Written for a GRU only, so LSTM files stay as they were (absent reads as "lstm").
    ...(c.cell === "gru" ? { cell: c.cell } : {}),
    input_size: c.inputSize,
    hidden_size: c.hiddenSize,
    num_layers: c.numLayers,
    bidirectional: c.bidirectional,
    output_size: c.outputSize,
    ...(c.embedding
      ? {
          embedding: {
            num_embeddings: c.embedding.numEmbeddings,
            padding_idx: c.embedding.paddingIdx,
          },
        }
      : {}),
    ...(c.projSize ? { proj_size: c.projSize } : {}),
    ...(c.tiedHead ? { tied_head: true } : {}),
    ...(d
      ? { dropout: { input: d.input, between_layers: d.betweenLayers, output: d.output } }
      : {}),
  });
}

/** `__metadata__[key]`, required, parsed as JSON and validated against `schema`. */
function metaEntry<S extends v.GenericSchema>(
  schema: S,
  source: string,
  meta: Record<string, string>,
  key: string,
): v.InferOutput<S> {
  const text = meta[key];
  if (text === undefined) throw new FormatError(source, `__metadata__ has no "${key}"`);
  return parseJsonField(schema, text, { source, where: key });
}

function readConfig(source: string, meta: Record<string, string>): ModelConfig {
  const c = metaEntry(ModelConfigSchema, source, meta, "config");
  try {
    return makeConfig({
      cell: c.cell,
      inputSize: c.input_size,
      hiddenSize: c.hidden_size,
      numLayers: c.num_layers,
      bidirectional: c.bidirectional,
      outputSize: c.output_size,
      embedding: c.embedding && {
        numEmbeddings: c.embedding.num_embeddings,
        paddingIdx: c.embedding.padding_idx,
      },
      projSize: c.proj_size,
      tiedHead: c.tied_head,
      dropout: c.dropout && {
        input: c.dropout.input,
        betweenLayers: c.dropout.between_layers,
        output: c.dropout.output,
      },
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

/**
 * The metadata entries, each validated by its schema and then against the model's sizes
 * (checkMetaAgainstConfig): a file whose metadata does not fit its weights is refused here, so
 * every command that loads it gets the check.
 */
function readMeta(
  source: string,
  m: Record<string, string>,
  config: ModelConfig,
): { meta: ModelMeta; checked: CheckedMeta } {
  const task =
    m.task === undefined ? "generic" : parseField(TaskSchema, m.task, { source, where: "task" });
  const input: InputEncoding =
    m.input === undefined ? { kind: "dense" } : metaEntry(InputEncodingSchema, source, m, "input");
  const meta: ModelMeta = { task, input };
  const parsed: CheckedMeta = { task, input };
  if (m.vocab !== undefined) meta.vocab = parsed.vocab = metaEntry(VocabSchema, source, m, "vocab");
  if (m.series !== undefined) {
    parsed.series = metaEntry(SeriesMetaSchema, source, m, "series");
    meta.series = JSON.parse(m.series) as SeriesMetaJson; // as written; parsed.series has defaults
  }
  if (m.training !== undefined)
    meta.training = metaEntry(TrainingSummarySchema, source, m, "training");
  checkMetaAgainstConfig(parsed, config, source);
  return { meta, checked: parsed };
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
  const { meta } = readMeta(source, metadata, config);
  const checked = checkParams(source, config, tensors); // before the model is allocated
  const model = new LstmModel(config, { dtype });
  copyParams(model, checked);
  return { model, meta };
}

/** Training options and data identity a checkpoint needs to resume the same run (RunInfoSchema). */
export type RunInfo = v.InferOutput<typeof RunInfoSchema>;

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
  /** The task of the run to resume: a checkpoint of another task is a FormatError. */
  expectTask?: ModelMeta["task"],
): LoadedCheckpoint {
  const { metadata, tensors } = decodeSafetensors(bytes, source);
  if (metadata.format !== CHECKPOINT_FORMAT)
    throw new FormatError(
      source,
      `not an lstm-ts checkpoint (format "${metadata.format ?? "(none)"}")`,
    );
  if (Number(metadata.format_version) !== FORMAT_VERSION)
    throw new FormatError(source, `checkpoint version ${metadata.format_version} is not supported`);
  const dtype = parseField(DTypeSchema, metadata.dtype, { source, where: "dtype" });
  const config = readConfig(source, metadata);
  const { meta, checked: parsedMeta } = readMeta(source, metadata, config);
  const checked = checkParams(source, config, tensors);
  const trainer = metaEntry(TrainerStateSchema, source, metadata, "trainer");
  const opt = metaEntry(OptimizerStateSchema, source, metadata, "optimizer");
  const run = metaEntry(RunInfoSchema, source, metadata, "run");
  if (expectTask !== undefined && meta.task !== expectTask)
    throw new FormatError(
      source,
      `task: a checkpoint of a ${meta.task} model cannot resume a ${expectTask} run (train-${expectTask})`,
    );
  checkRunOptions(run.options, parsedMeta, config, source);
  const taskJson = metaEntry(TaskStateSchema, source, metadata, "task_state");
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
