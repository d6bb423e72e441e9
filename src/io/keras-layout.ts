/**
 * The Keras / TensorFlow.js weight layout, shared by both converters (keras-lstm JSON in
 * convert.ts, TF.js Layers models in tfjs.ts), and what an importer returns.
 *
 * Keras stores W_ihᵀ (`kernel` [in, 4H]) and W_hhᵀ (`recurrent_kernel` [H, 4H]) with gate columns
 * i, f, c, o (c is the candidate, PyTorch's g, so the gate order is PyTorch's and needs no
 * reordering) and ONE bias [4H]: importing sets bias_ih = bias and bias_hh = 0; exporting writes
 * bias_ih + bias_hh. The Dense head's kernel [D·H, O] is head.weightᵀ.
 *
 * Letters: I input, H hidden, D directions, O head outputs.
 */
import type { ModelConfig } from "../model/config.js";
import type { LstmModel } from "../model/model.js";
import { ConfigError } from "../tensor/errors.js";
import type { ModelMeta } from "./model-file.js";

/** What an importer found, for the CLI's summary. */
export interface ImportReport {
  /** "pytorch", "keras" or "tfjs". */
  from: string;
  config: ModelConfig;
  /** PyTorch: the module prefix of the LSTM keys ("" for bare keys) and of the head. */
  lstmPrefix?: string;
  headPrefix?: string;
  /** Source dtypes seen among the imported tensors (F32, F64). */
  dtypes: string[];
  /** Things the user should know (float64 rounded, biases absent, …). */
  notes: string[];
}

/** A model imported from PyTorch, Keras or TF.js, with the report of what was mapped. */
export interface ImportedModel {
  model: LstmModel;
  report: ImportReport;
  /** Metadata the source carried (keras-lstm `meta`, TF.js userDefinedMetadata["lstm-ts"]), if any. */
  meta?: Partial<ModelMeta>;
}

/**
 * [rows, cols] row-major → [cols, rows] into `out` (default: a new Float64Array). Keras kernels
 * are the transposes of PyTorch's weights, in both directions of a conversion.
 */
export function transpose<A extends Float32Array | Float64Array = Float64Array>(
  a: ArrayLike<number>,
  rows: number,
  cols: number,
  out?: A,
): A {
  const t = out ?? (new Float64Array(rows * cols) as A);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

/** The lstm-ts metadata a Keras or TF.js export carries (task, input, vocab, series, classifier). */
export function portableMeta(meta: ModelMeta): Partial<ModelMeta> {
  const m: Partial<ModelMeta> = { task: meta.task, input: meta.input };
  if (meta.vocab) m.vocab = meta.vocab;
  if (meta.series) m.series = meta.series;
  if (meta.classifier) m.classifier = meta.classifier;
  return m;
}

/**
 * The Keras and TF.js writers map an LSTM/GRU stack and a Dense head (TF.js also an Embedding
 * layer in front, and a tied head as an untied copy): what `target` cannot hold is refused by name.
 * Keras has no LSTM projection (LSTMP): its LSTM outputs h = o ⊙ tanh(c), H wide, so a model with
 * proj_size is always refused. `holds` says what `target` can hold: an Embedding layer, a tied
 * head (written untied). Dropout is training-only and is simply not written.
 */
export function refuseUnportable(
  c: ModelConfig,
  target: string,
  holds: { embedding?: boolean; tiedHead?: boolean } = {},
): void {
  const what = [
    c.embedding && !holds.embedding ? "an embedding table (embedding.weight)" : "",
    c.projSize
      ? `LSTM projections (proj_size ${c.projSize}; Keras's LSTM has no projection, its output is h = o ⊙ tanh(c), H wide)`
      : "",
    c.tiedHead && !holds.tiedHead ? "a head tied to the embedding" : "",
  ].filter((w) => w !== "");
  if (what.length > 0)
    throw new ConfigError(
      "to",
      `${target} holds ${holds.embedding ? "an Embedding, " : ""}a recurrent stack and a Dense head only; ` +
        `this model has ${what.join(", ")}: keep the model file (PyTorch loads it)` +
        (c.projSize ? "" : " or export ONNX (embeddings and tied heads)"),
    );
}
