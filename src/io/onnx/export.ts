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
import { encodeOnnxModel } from "./proto.js";

/** ONNX opset of the exported graph (LSTM-14, GRU-14, Gather-13, Slice-13, Reshape-14). */
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
  readout: "all" | "last";
}

/**
 * The model as a RecurrentNet. Text (one-hot) models take token ids: Gather from the identity
 * [V, V] gives exactly the one-hot rows. Series models read out the last step, as `forecast`
 * does; they take and give standardised values (the scaler is in the metadata, not the graph).
 */
function describeModel(model: LstmModel, meta: ModelMeta, batchFirst: boolean): RecurrentNet {
  const c = model.config;
  const D = numDirections(c);
  if (c.projSize)
    throw new ConfigError(
      "onnx export",
      `the model has LSTM projections (proj_size ${c.projSize}, lstm.weight_hr_*): ONNX's LSTM op has no projection; not exported`,
    );
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
      };
    }),
  );
  // A parameter the graph would not use (a projection's weight_hr, say) must not be dropped
  // silently: ONNX's LSTM op has no projection, so such a model is refused by name.
  const unused = model.paramNames().filter((n) => !used.has(n));
  if (unused.length > 0)
    throw new ConfigError(
      "onnx export",
      `parameters ${unused.join(", ")} have no place in an ONNX ${c.cell.toUpperCase()} graph (ONNX's LSTM has no projection); not exported`,
    );
  const V = c.inputSize;
  let input: RecurrentNet["input"] = { kind: "dense" };
  if (c.embedding) {
    // Token ids index the embedding table [V, E] (Gather), exactly as the model looks them up.
    input = { kind: "ids", table: p("embedding.weight"), vocabSize: c.embedding.numEmbeddings };
  } else if (meta.input.kind === "one-hot") {
    const identity = new Float32Array(V * V);
    for (let i = 0; i < V; i++) identity[i * V + i] = 1;
    input = { kind: "ids", table: identity, vocabSize: V };
  }
  return {
    // The ONNX op of the cell: GRU_CELL reorders r, z, n to z, r, h, linear_before_reset = 1.
    cell: c.cell === "gru" ? GRU_CELL : LSTM_CELL,
    inputSize: c.inputSize,
    hiddenSize: c.hiddenSize,
    numLayers: c.numLayers,
    bidirectional: c.bidirectional,
    weights,
    head: { weight: p(headWeight), bias: p("head.bias"), outputSize: c.outputSize },
    input,
    readout: meta.task === "series" ? "last" : "all",
    batchFirst,
    sequenceLengths: false,
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
  const metadata: Record<string, string> = {
    "lstm-ts.task": meta.task,
    "lstm-ts.config": JSON.stringify({
      ...(c.cell === "gru" ? { cell: c.cell } : {}),
      input_size: c.inputSize,
      hidden_size: c.hiddenSize,
      num_layers: c.numLayers,
      bidirectional: c.bidirectional,
      output_size: c.outputSize,
    }),
    "lstm-ts.layout": net.batchFirst ? "batch-first" : "time-major",
    "lstm-ts.readout": net.readout,
  };
  if (meta.vocab) metadata["lstm-ts.vocab"] = JSON.stringify(meta.vocab);
  if (meta.series) metadata["lstm-ts.series"] = JSON.stringify(meta.series);
  const doc =
    `lstm-ts ${meta.task} model: ${c.numLayers}-layer ${c.bidirectional ? "bidirectional " : ""}${c.cell.toUpperCase()} ` +
    `(H = ${c.hiddenSize}) and a linear head (O = ${c.outputSize}).` +
    (meta.task === "series"
      ? " Inputs and outputs are standardised: see lstm-ts.series scaler."
      : "");
  const bytes = encodeOnnxModel({
    graph: { name: "lstm_ts", doc, ...graph },
    opset: ONNX_OPSET,
    irVersion: ONNX_IR_VERSION,
    producer: { name: "lstm-ts", version: opts.producerVersion ?? "" },
    metadata,
  });
  return {
    bytes,
    inputs: graph.inputs.map((i) => `${i.name} [${i.dims.join(", ")}]`),
    outputs: graph.outputs.map((o) => `${o.name} [${o.dims.join(", ")}]`),
    readout: net.readout,
  };
}
