/**
 * Node-only additions to the browser-safe API: model files and checkpoints on disk (written
 * atomically), and the parameter digest.
 */
import { createHash } from "node:crypto";
import type { LstmModel, ModelOptions } from "./model/model.js";
import type { DType } from "./tensor/dtype.js";
import { FormatError } from "./tensor/errors.js";
import { writeFileAtomic } from "./io/atomic.js";
import { readRegularFile } from "./io/paths.js";
import {
  decodeCheckpoint,
  decodeModel,
  encodeCheckpoint,
  encodeModel,
  type LoadedCheckpoint,
  type LoadedModel,
  type ModelMeta,
  type RunInfo,
} from "./io/model-file.js";
import type { Checkpoint } from "./train/trainer.js";

export * from "./index.js";
export { writeFileAtomic } from "./io/atomic.js";

/** Saves a model file atomically; refuses non-finite weights so a good file is never replaced by NaNs. */
export function saveModel(path: string, model: LstmModel, meta: ModelMeta): void {
  for (let i = 0; i < model.params.length; i++)
    if (!Number.isFinite(model.params[i]))
      throw new FormatError(path, `refusing to save: parameter ${i} is ${model.params[i]}`);
  writeFileAtomic(path, encodeModel(model, meta));
}

/** Reads a model file (safetensors with lstm-ts metadata) from disk; a FormatError names the file and what is wrong. */
export function loadModel(path: string, dtype: DType = "float32"): LoadedModel {
  return decodeModel(readRegularFile(path), path, dtype);
}

/** Saves a checkpoint (model, optimizer moments, RNG and data position) atomically; refuses non-finite weights. */
export function saveCheckpoint(
  path: string,
  model: LstmModel,
  meta: ModelMeta,
  ckpt: Checkpoint,
  run: RunInfo,
): void {
  for (let i = 0; i < ckpt.params.length; i++)
    if (!Number.isFinite(ckpt.params[i]))
      throw new FormatError(
        path,
        `refusing to save a checkpoint: parameter ${i} is ${ckpt.params[i]}`,
      );
  writeFileAtomic(path, encodeCheckpoint(model, meta, ckpt, run));
}

/** Reads a checkpoint to resume training exactly where it stopped. */
export function loadCheckpoint(
  path: string,
  options: Omit<ModelOptions, "dtype"> = {},
  /** The task of the run to resume: a checkpoint of another task is a FormatError. */
  expectTask?: ModelMeta["task"],
): LoadedCheckpoint {
  return decodeCheckpoint(readRegularFile(path), path, options, expectTask);
}

/**
 * sha256 (hex) of the parameters as float32 little-endian bytes in PyTorch `param_order`: two
 * runs with equal digests have bit-identical float32 weights.
 */
export function paramsSha256(model: LstmModel): string {
  const bytes = new Uint8Array(model.params.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < model.params.length; i++) view.setFloat32(i * 4, model.params[i], true);
  return createHash("sha256").update(bytes).digest("hex");
}

/** sha256 (hex) of bytes or a UTF-8 string. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

export type { LoadedCheckpoint, LoadedModel, ModelMeta, RunInfo } from "./io/model-file.js";
// The converters' whole API (PyTorch, Keras and TF.js; src/io/convert.ts).
export * from "./io/convert.js";
