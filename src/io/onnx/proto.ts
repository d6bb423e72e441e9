/**
 * The subset of onnx.proto (ONNX IR) that an exported recurrent model uses: ModelProto,
 * GraphProto (the model's graph and Scan bodies), NodeProto, AttributeProto, TensorProto,
 * ValueInfoProto and TypeProto.Tensor.
 * Field numbers are those of https://github.com/onnx/onnx/blob/main/onnx/onnx.proto.
 */
import { ProtoWriter } from "./protobuf.js";

/** TensorProto.DataType values used here. */
export const FLOAT = 1;
export const INT32 = 6;
export const INT64 = 7;
export const BOOL = 9;
export type ElemType = typeof FLOAT | typeof INT32 | typeof INT64 | typeof BOOL;

/** A constant tensor (graph initializer), stored as little-endian raw_data. */
export interface TensorDef {
  name: string;
  dims: readonly number[];
  data: Float32Array | Int32Array | BigInt64Array;
}

/** An attribute: integers, strings, or a subgraph (the body of a Scan). */
export type AttrDef =
  | { name: string; kind: "int"; value: number }
  | { name: string; kind: "graph"; value: GraphDef }
  | { name: string; kind: "ints"; value: readonly number[] }
  | { name: string; kind: "string"; value: string }
  | { name: string; kind: "strings"; value: readonly string[] };

export interface NodeDef {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name: string;
  attrs: readonly AttrDef[];
}

/** A graph input or output: element type and dims, a string for a symbolic dim ("T", "B"). */
export interface ValueInfoDef {
  name: string;
  elemType: ElemType;
  dims: readonly (number | string)[];
  doc?: string;
}

export interface GraphDef {
  name: string;
  nodes: readonly NodeDef[];
  initializers: readonly TensorDef[];
  inputs: readonly ValueInfoDef[];
  outputs: readonly ValueInfoDef[];
  doc: string;
}

export interface ModelDef {
  graph: GraphDef;
  /** Version of the default ("ai.onnx") operator set. */
  opset: number;
  irVersion: number;
  producer: { name: string; version: string };
  /** ModelProto.metadata_props: strings an application reads with the model. */
  metadata: Record<string, string>;
}

function tensorProto(t: TensorDef): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d); // dims
  const type =
    t.data instanceof Float32Array ? FLOAT : t.data instanceof Int32Array ? INT32 : INT64;
  w.int(2, type); // data_type
  w.string(8, t.name); // name
  // raw_data: little-endian, as TensorProto requires (copy so a view's offset does not matter).
  const bytes = new Uint8Array(t.data.byteLength);
  const view = new DataView(bytes.buffer);
  t.data.forEach((v: number | bigint, i: number) => {
    if (type === FLOAT) view.setFloat32(i * 4, v as number, true);
    else if (type === INT32) view.setInt32(i * 4, v as number, true);
    else view.setBigInt64(i * 8, v as bigint, true);
  });
  w.bytes(9, bytes);
  return w;
}

/** AttributeProto.AttributeType values. */
const ATTR_TYPE = { int: 2, string: 3, graph: 5, ints: 7, strings: 8 } as const;

function attributeProto(a: AttrDef): ProtoWriter {
  const w = new ProtoWriter().string(1, a.name);
  if (a.kind === "int") w.int(3, a.value);
  else if (a.kind === "string") w.string(4, a.value);
  else if (a.kind === "graph") w.message(6, graphProto(a.value));
  else if (a.kind === "ints") for (const x of a.value) w.int(8, x);
  else for (const s of a.value) w.string(9, s);
  w.int(20, ATTR_TYPE[a.kind]); // type
  return w;
}

function nodeProto(n: NodeDef): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.op);
  for (const a of n.attrs) w.message(5, attributeProto(a));
  return w;
}

function valueInfoProto(v: ValueInfoDef): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.dims)
    shape.message(
      1,
      typeof d === "number" ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d),
    );
  const tensorType = new ProtoWriter().int(1, v.elemType).message(2, shape);
  const w = new ProtoWriter()
    .string(1, v.name)
    .message(2, new ProtoWriter().message(1, tensorType));
  if (v.doc) w.string(3, v.doc);
  return w;
}

function graphProto(g: GraphDef): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, nodeProto(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, tensorProto(t));
  if (g.doc) w.string(10, g.doc);
  for (const i of g.inputs) w.message(11, valueInfoProto(i));
  for (const o of g.outputs) w.message(12, valueInfoProto(o));
  return w;
}

/** Serialises a ModelProto: the bytes of an .onnx file. */
export function encodeOnnxModel(m: ModelDef): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, m.irVersion); // ir_version
  w.string(2, m.producer.name); // producer_name
  w.string(3, m.producer.version); // producer_version
  w.message(7, graphProto(m.graph)); // graph
  w.message(8, new ProtoWriter().string(1, "").int(2, m.opset)); // opset_import
  for (const [k, v] of Object.entries(m.metadata))
    w.message(14, new ProtoWriter().string(1, k).string(2, v)); // metadata_props
  return w.finish();
}
