/**
 * `lstm convert MODEL --to onnx`: an lstm-ts model as an ONNX model (opset 14) that ONNX Runtime
 * runs with the same outputs. docs/model-format.md ("ONNX") describes the graph's inputs and
 * outputs; graph.ts builds it, proto.ts and protobuf.ts write the bytes.
 */
import { layerSuffix, numDirections } from "../../model/config.js";
import type { LstmModel } from "../../model/model.js";
import { ConfigError } from "../../tensor/errors.js";
import type { ModelMeta } from "../model-file.js";
import { buildRecurrentGraph, GRU_CELL, LSTM_CELL, type RecurrentNet } from "./graph.js";
import { encodeOnnxModel, type ValueInfoDef } from "./proto.js";

/**
 * ONNX opset of the exported graph (LSTM-14, GRU-14, Scan-11, Gather-13, Slice-13, Reshape-14,
 * Split-13, Softmax-13, Where-9).
 */
export const ONNX_OPSET = 14;
/** IR version 7 is what opset 14 models declare. */
export const ONNX_IR_VERSION = 7;

export interface OnnxExportOptions {
  /** Graph input and output as [B, T, ·] instead of [T, B, ·]. */
  batchFirst?: boolean;
  /** producer_version in the file. */
  producerVersion?: string;
}

export interface OnnxExport {
  bytes: Uint8Array;
  /** What the graph takes and gives, for the CLI's summary. */
  inputs: string[];
  outputs: string[];
  readout: RecurrentNet["readout"];
}

/** Refuses the export with the reason. */
function refuse(reason: string): never {
  throw new ConfigError("onnx export", reason);
}

/**
 * How the model's inputs enter the graph: token ids through its embedding table, token ids
 * through the identity [V, V] (one-hot characters: Gather gives exactly the one-hot rows), or
 * dense features.
 */
function inputOf(model: LstmModel, meta: ModelMeta, p: (name: string) => ArrayLike<number>) {
  const c = model.config;
  const V = c.inputSize;
  if (c.embedding) {
    if (meta.input.kind !== "embedding")
      refuse(`the model has an embedding table but its metadata says input "${meta.input.kind}"`);
    return {
      kind: "ids",
      table: p("embedding.weight"),
      vocabSize: c.embedding.numEmbeddings,
    } as const;
  }
  if (meta.input.kind === "embedding")
    refuse('the metadata says input "embedding" but the model has no embedding table');
  if (meta.input.kind === "dense") return { kind: "dense" } as const;
  const identity = new Float32Array(V * V);
  for (let i = 0; i < V; i++) identity[i * V + i] = 1;
  return { kind: "ids", table: identity, vocabSize: V } as const;
}

/** A classifier's metadata, checked against the model: C classes, V tokens or F features. */
function checkClassifier(model: LstmModel, meta: ModelMeta): void {
  const c = model.config;
  const clf = meta.classifier;
  if (!clf) refuse("a classification model (task classify) without classifier metadata");
  if (clf.classes.length !== c.outputSize)
    refuse(
      `classifier.classes has ${clf.classes.length} labels but the head has ${c.outputSize} outputs`,
    );
  if (clf.kind === "chars") {
    // Ids 1 … V−1 are the vocabulary's characters, 0 the padding.
    const V = c.embedding?.numEmbeddings ?? c.inputSize;
    const n = clf.vocab?.length ?? -1;
    if (n + 1 !== V || meta.input.kind === "dense")
      refuse(
        `classifier.vocab has ${n} characters (+ padding id 0) but the model reads ${V} token ids`,
      );
  } else if (clf.features !== c.inputSize || meta.input.kind !== "dense")
    refuse(
      `classifier.features is ${clf.features} but the model reads ${c.inputSize} ${meta.input.kind} features`,
    );
}

/**
 * The model as a RecurrentNet. Text models read every step; series models read out the last
 * step, as `forecast` does, and take and give standardised values (the scaler is in the
 * metadata, not the graph); classifiers read the last layer's final states of each row at its
 * own length (`seq_lens`, from zero initial states) and give logits and probabilities.
 */
function describeModel(model: LstmModel, meta: ModelMeta, batchFirst: boolean): RecurrentNet {
  const c = model.config;
  const D = numDirections(c);
  // A tied head reads the embedding table; dropout is training-only and has no place in the graph.
  const headWeight = c.tiedHead ? "embedding.weight" : "head.weight";
  const used = new Set<string>([headWeight, "head.bias"]);
  const p = (name: string) => {
    used.add(name);
    return model.param(name);
  };
  const weights = Array.from({ length: c.numLayers }, (_, l) =>
    Array.from({ length: D }, (_, d) => {
      const s = layerSuffix(l, d);
      return {
        wIh: p(`${c.cell}.weight_ih_${s}`),
        wHh: p(`${c.cell}.weight_hh_${s}`),
        bIh: p(`${c.cell}.bias_ih_${s}`),
        bHh: p(`${c.cell}.bias_hh_${s}`),
        ...(c.projSize ? { wHr: p(`${c.cell}.weight_hr_${s}`) } : {}),
      };
    }),
  );
  const input = inputOf(model, meta, p);
  // A parameter the graph would not use must not be dropped silently.
  const unused = model.paramNames().filter((n) => !used.has(n));
  if (unused.length > 0)
    refuse(`parameters ${unused.join(", ")} have no place in the exported graph; not exported`);
  const classify = meta.task === "classify";
  if (classify) checkClassifier(model, meta);
  return {
    // The ONNX op of the cell: GRU_CELL reorders r, z, n to z, r, h, linear_before_reset = 1.
    cell: c.cell === "gru" ? GRU_CELL : LSTM_CELL,
    inputSize: c.inputSize,
    hiddenSize: c.hiddenSize,
    projSize: c.projSize ?? 0,
    numLayers: c.numLayers,
    bidirectional: c.bidirectional,
    weights,
    head: { weight: p(headWeight), bias: p("head.bias"), outputSize: c.outputSize },
    input,
    readout: classify ? "final" : meta.task === "series" ? "last" : "all",
    batchFirst,
    sequenceLengths: classify,
    states: !classify,
    probabilities: classify,
  };
}

/**
 * `lstm-ts.config`: everything a consumer needs to feed the graph and read its outputs, every
 * field written (null or false where the model has none): the model file's config (snake_case),
 * then the task, input encoding, layout, readout, graph inputs and outputs, and the vocabulary,
 * classes or scaler where the model has them.
 */
function configMetadata(model: LstmModel, meta: ModelMeta, e: OnnxExport & { layout: string }) {
  const c = model.config;
  const clf = meta.classifier;
  return {
    cell: c.cell,
    input_size: c.inputSize,
    hidden_size: c.hiddenSize,
    proj_size: c.projSize ?? 0,
    num_layers: c.numLayers,
    bidirectional: c.bidirectional,
    output_size: c.outputSize,
    embedding: c.embedding
      ? { num_embeddings: c.embedding.numEmbeddings, padding_idx: c.embedding.paddingIdx }
      : null,
    tied_head: c.tiedHead ?? false,
    // Training-only: the graph runs in eval mode (no dropout).
    dropout: c.dropout
      ? {
          input: c.dropout.input,
          between_layers: c.dropout.betweenLayers,
          output: c.dropout.output,
        }
      : null,
    task: meta.task,
    input: meta.input.kind,
    layout: e.layout,
    readout: e.readout,
    sequence_lens: e.readout === "final",
    inputs: e.inputs,
    outputs: e.outputs,
    vocab: meta.vocab ?? clf?.vocab ?? null,
    classes: clf?.classes ?? null,
    scaler: meta.series?.scaler ?? clf?.scaler ?? null,
  };
}

/** Encodes `model` as an ONNX file; the metadata travels as metadata_props (lstm-ts.*). */
export function exportOnnx(
  model: LstmModel,
  meta: ModelMeta,
  opts: OnnxExportOptions = {},
): OnnxExport {
  model.checkParams();
  const net = describeModel(model, meta, opts.batchFirst ?? false);
  const graph = buildRecurrentGraph(net);
  const c = model.config;
  const shown = (v: ValueInfoDef) => `${v.name} [${v.dims.join(", ")}]`;
  const result: OnnxExport = {
    bytes: new Uint8Array(0),
    inputs: graph.inputs.map(shown),
    outputs: graph.outputs.map(shown),
    readout: net.readout,
  };
  const layout = net.batchFirst ? "batch-first" : "time-major";
  const metadata: Record<string, string> = {
    "lstm-ts.task": meta.task,
    "lstm-ts.config": JSON.stringify(configMetadata(model, meta, { ...result, layout })),
    "lstm-ts.layout": layout,
    "lstm-ts.readout": net.readout,
    "lstm-ts.inputs": JSON.stringify(graph.inputs.map((i) => i.name)),
    "lstm-ts.outputs": JSON.stringify(graph.outputs.map((o) => o.name)),
  };
  if (meta.vocab) metadata["lstm-ts.vocab"] = JSON.stringify(meta.vocab);
  if (meta.series) metadata["lstm-ts.series"] = JSON.stringify(meta.series);
  if (meta.classifier) {
    // logits[b][k] and probabilities[b][k] are class classes[k].
    metadata["lstm-ts.classes"] = JSON.stringify(meta.classifier.classes);
    metadata["lstm-ts.classifier"] = JSON.stringify(meta.classifier);
  }
  const cellName = `${c.cell.toUpperCase()}${c.projSize ? ` with projections (P = ${c.projSize})` : ""}`;
  const doc =
    `lstm-ts ${meta.task} model: ${c.numLayers}-layer ${c.bidirectional ? "bidirectional " : ""}${cellName} ` +
    `(H = ${c.hiddenSize}) and a linear head (O = ${c.outputSize}).` +
    (meta.task === "series"
      ? " Inputs and outputs are standardised: see lstm-ts.series scaler."
      : "") +
    (meta.task === "classify"
      ? " Outputs logits and probabilities [B, C] of the classes in lstm-ts.classes."
      : "");
  result.bytes = encodeOnnxModel({
    graph: { name: "lstm_ts", doc, ...graph },
    opset: ONNX_OPSET,
    irVersion: ONNX_IR_VERSION,
    producer: { name: "lstm-ts", version: opts.producerVersion ?? "" },
    metadata,
  });
  return result;
}
