/**
 * Builds the ONNX graph of a recurrent network: an input (dense features, or token ids looked up
 * with Gather), a stack of recurrent layers (one ONNX LSTM or GRU op per layer, both directions
 * in one op), and a linear head on every step or on the last one.
 *
 * The description (`RecurrentNet`) is independent of how a model stores itself, so other cells
 * and options plug in here: a cell is a `RecurrentCellExport` (op name, gate order, carried
 * states, attributes), an embedding is the `ids` input's table, and sequence lengths are the
 * op's `sequence_lens` input.
 */
import { ConfigError } from "../../tensor/errors.js";
import {
  FLOAT,
  INT32,
  INT64,
  type AttrDef,
  type NodeDef,
  type TensorDef,
  type ValueInfoDef,
} from "./proto.js";

/** A recurrent state an ONNX op carries: `h` (initial_h / Y_h) and, for LSTM, `c`. */
type StateName = "h" | "c";

/** How one PyTorch recurrent cell maps onto an ONNX recurrent operator. */
export interface RecurrentCellExport {
  op: "LSTM" | "GRU";
  /** G: gate blocks of H rows in the weight matrices. */
  gates: number;
  /** PyTorch's gate blocks, listed in the order ONNX wants them. */
  gateOrder: readonly number[];
  states: readonly StateName[];
  attrs: readonly AttrDef[];
}

/** nn.LSTM: PyTorch rows i, f, g, o; ONNX LSTM wants i, o, f, c (c = PyTorch's g). */
export const LSTM_CELL: RecurrentCellExport = {
  op: "LSTM",
  gates: 4,
  gateOrder: [0, 3, 1, 2],
  states: ["h", "c"],
  attrs: [],
};

/**
 * nn.GRU: PyTorch rows r, z, n; ONNX GRU wants z, r, h. PyTorch applies the reset gate after the
 * recurrent product (r ⊙ (W_hn h + b_hn)), which is ONNX's linear_before_reset = 1.
 */
export const GRU_CELL: RecurrentCellExport = {
  op: "GRU",
  gates: 3,
  gateOrder: [1, 0, 2],
  states: ["h"],
  attrs: [{ name: "linear_before_reset", kind: "int", value: 1 }],
};

/** One layer-direction's PyTorch weights: W_ih [G·H, in], W_hh [G·H, H], b_ih, b_hh [G·H]. */
interface DirectionWeights {
  wIh: ArrayLike<number>;
  wHh: ArrayLike<number>;
  bIh: ArrayLike<number>;
  bHh: ArrayLike<number>;
}

export interface RecurrentNet {
  cell: RecurrentCellExport;
  /** I: features entering layer 0 (the embedding width for an `ids` input). */
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  /** weights[layer][direction]. */
  weights: readonly (readonly DirectionWeights[])[];
  /** Head: weight [O, D·H], bias [O]. */
  head: { weight: ArrayLike<number>; bias: ArrayLike<number>; outputSize: number };
  /**
   * Dense features, or integer ids whose rows of `table` [V, I] feed layer 0 (an embedding, or
   * the identity for one-hot character models).
   */
  input: { kind: "dense" } | { kind: "ids"; table: ArrayLike<number>; vocabSize: number };
  /** Head on every step ([T, B, O]) or on the last one ([B, O]). */
  readout: "all" | "last";
  /** x / tokens and the output are [B, T, ·] instead of [T, B, ·]. */
  batchFirst: boolean;
  /** Adds an int32 [B] graph input `seq_lens` wired to every layer's sequence_lens. */
  sequenceLengths: boolean;
}

interface BuiltGraph {
  nodes: NodeDef[];
  initializers: TensorDef[];
  inputs: ValueInfoDef[];
  outputs: ValueInfoDef[];
}

/** Accumulates nodes and constants with unique names. */
class GraphBuilder {
  readonly nodes: NodeDef[] = [];
  readonly initializers: TensorDef[] = [];
  private count = 0;

  /** Adds a node with one output and returns that output's name. */
  op(op: string, inputs: readonly string[], attrs: readonly AttrDef[] = []): string {
    return this.opN(op, inputs, 1, attrs)[0];
  }

  opN(op: string, inputs: readonly string[], outputs: number, attrs: readonly AttrDef[] = []) {
    const name = `${op.toLowerCase()}_${this.count++}`;
    const outs = Array.from({ length: outputs }, (_, i) => `${name}_out${i}`);
    this.nodes.push({ op, inputs, outputs: outs, name, attrs });
    return outs;
  }

  /** Renames the last node's first output (for graph outputs with fixed names). */
  nameLastOutput(name: string): void {
    const n = this.nodes[this.nodes.length - 1];
    this.nodes[this.nodes.length - 1] = { ...n, outputs: [name, ...n.outputs.slice(1)] };
  }

  floats(name: string, dims: readonly number[], data: ArrayLike<number>): string {
    this.initializers.push({ name, dims, data: Float32Array.from(data) });
    return name;
  }

  int64s(dims: readonly number[], values: readonly number[]): string {
    const name = `const_${this.initializers.length}`;
    this.initializers.push({ name, dims, data: BigInt64Array.from(values, (v) => BigInt(v)) });
    return name;
  }
}

/** Copies G blocks of `rows` rows each from `src` into `dst` at `offset`, in ONNX gate order. */
function reorderGates(
  cell: RecurrentCellExport,
  src: ArrayLike<number>,
  dst: Float32Array,
  at: { offset: number; blockLen: number },
): void {
  const { offset, blockLen } = at;
  if (src.length !== cell.gates * blockLen)
    throw new ConfigError(
      "onnx export",
      `weight of ${src.length} values, expected ${cell.gates * blockLen}`,
    );
  cell.gateOrder.forEach((from, k) => {
    for (let j = 0; j < blockLen; j++) dst[offset + k * blockLen + j] = src[from * blockLen + j];
  });
}

/** One ONNX recurrent op's W [D, G·H, in], R [D, G·H, H], B [D, 2·G·H] from PyTorch weights. */
function layerTensors(net: RecurrentNet, layer: number, inW: number) {
  const { cell, hiddenSize: H } = net;
  const G = cell.gates;
  const dirs = net.weights[layer];
  const D = dirs.length;
  const W = new Float32Array(D * G * H * inW);
  const R = new Float32Array(D * G * H * H);
  const B = new Float32Array(D * 2 * G * H);
  dirs.forEach((w, d) => {
    reorderGates(cell, w.wIh, W, { offset: d * G * H * inW, blockLen: H * inW });
    reorderGates(cell, w.wHh, R, { offset: d * G * H * H, blockLen: H * H });
    // ONNX B is [Wb | Rb]: the input bias, then the recurrent bias (kept apart: GRU needs Rb).
    reorderGates(cell, w.bIh, B, { offset: d * 2 * G * H, blockLen: H });
    reorderGates(cell, w.bHh, B, { offset: d * 2 * G * H + G * H, blockLen: H });
  });
  return { W, R, B, dims: { W: [D, G * H, inW], R: [D, G * H, H], B: [D, 2 * G * H] } };
}

/** The graph of `net`; graph inputs x|tokens, h0 (c0), seq_lens; outputs output, hN (cN). */
export function buildRecurrentGraph(net: RecurrentNet): BuiltGraph {
  const { cell, hiddenSize: H, numLayers: L } = net;
  const D = net.bidirectional ? 2 : 1;
  const O = net.head.outputSize;
  if (net.weights.length !== L || net.weights.some((w) => w.length !== D))
    throw new ConfigError("onnx export", `weights for ${L} layers × ${D} directions expected`);
  const g = new GraphBuilder();
  const inputs: ValueInfoDef[] = [];
  const seq: (number | string)[] = net.batchFirst ? ["B", "T"] : ["T", "B"];

  // Input → x [T, B, I], time-major as the ONNX recurrent ops read it.
  let x: string;
  if (net.input.kind === "ids") {
    const V = net.input.vocabSize;
    inputs.push({ name: "tokens", elemType: INT64, dims: seq, doc: `token ids in [0, ${V})` });
    const ids = net.batchFirst ? g.op("Transpose", ["tokens"], [perm([1, 0])]) : "tokens";
    const table = g.floats("input_table", [V, net.inputSize], net.input.table);
    x = g.op("Gather", [table, ids], [{ name: "axis", kind: "int", value: 0 }]);
  } else {
    inputs.push({ name: "x", elemType: FLOAT, dims: [...seq, net.inputSize] });
    x = net.batchFirst ? g.op("Transpose", ["x"], [perm([1, 0, 2])]) : "x";
  }
  for (const s of cell.states)
    inputs.push({ name: `${s}0`, elemType: FLOAT, dims: [L * D, "B", H], doc: "[L·D, B, H]" });
  if (net.sequenceLengths)
    inputs.push({
      name: "seq_lens",
      elemType: INT32,
      dims: ["B"],
      doc: "valid steps per sequence",
    });

  // The stack: layer l's op reads layer l−1's Y reshaped from [T, D, B, H] to [T, B, D·H].
  const finals: Record<StateName, string[]> = { h: [], c: [] };
  for (let l = 0; l < L; l++) {
    const inW = l === 0 ? net.inputSize : D * H;
    const t = layerTensors(net, l, inW);
    const opInputs = [
      x,
      g.floats(`${cell.op}_l${l}_W`, t.dims.W, t.W),
      g.floats(`${cell.op}_l${l}_R`, t.dims.R, t.R),
      g.floats(`${cell.op}_l${l}_B`, t.dims.B, t.B),
      net.sequenceLengths ? "seq_lens" : "",
    ];
    // initial_h (initial_c): this layer's rows l·D … l·D+D−1 of h0 (c0).
    const rows = [g.int64s([1], [l * D]), g.int64s([1], [(l + 1) * D]), g.int64s([1], [0])];
    for (const s of cell.states) opInputs.push(g.op("Slice", [`${s}0`, ...rows]));
    const [Y, ...finalStates] = g.opN(cell.op, opInputs, 1 + cell.states.length, [
      { name: "hidden_size", kind: "int", value: H },
      { name: "direction", kind: "string", value: D === 2 ? "bidirectional" : "forward" },
      ...cell.attrs,
    ]);
    cell.states.forEach((s, i) => finals[s].push(finalStates[i]));
    const tbdh = g.op("Transpose", [Y], [perm([0, 2, 1, 3])]);
    x = g.op("Reshape", [tbdh, g.int64s([3], [0, 0, -1])]); // [T, B, D·H]
  }

  // Head: z = y · Wᵀ + b on every step, or on the last time index only.
  const y = net.readout === "last" ? lastStep(g, x, net.sequenceLengths) : x;
  const wT = transpose2d(net.head.weight, O, D * H);
  const z = g.op("MatMul", [y, g.floats("head_weight_T", [D * H, O], wT)]);
  g.op("Add", [z, g.floats("head_bias", [O], net.head.bias)]);
  const outDims = net.readout === "last" ? ["B", O] : [...seq, O];
  if (net.readout === "all" && net.batchFirst)
    g.op("Transpose", [g.nodes[g.nodes.length - 1].outputs[0]], [perm([1, 0, 2])]);
  g.nameLastOutput("output");

  const outputs: ValueInfoDef[] = [{ name: "output", elemType: FLOAT, dims: outDims }];
  for (const s of cell.states) {
    g.op("Concat", finals[s], [axis0]);
    g.nameLastOutput(`${s}N`);
    outputs.push({ name: `${s}N`, elemType: FLOAT, dims: [L * D, "B", H], doc: "[L·D, B, H]" });
  }
  return { nodes: g.nodes, initializers: g.initializers, inputs, outputs };
}

const axis0: AttrDef = { name: "axis", kind: "int", value: 0 };

/**
 * y [T, B, D·H] → [B, D·H] at each sequence's last step: T − 1, or seq_lens[b] − 1 with lengths
 * (a GatherElements along time with the index broadcast to [1, B, D·H]). For D = 2 that is
 * [forward h | reverse h] at that step, as our forward's last-step readout.
 */
function lastStep(g: GraphBuilder, y: string, lengths: boolean): string {
  if (!lengths) return g.op("Gather", [y, g.int64s([], [-1])], [axis0]);
  const lens = g.op("Cast", ["seq_lens"], [{ name: "to", kind: "int", value: INT64 }]);
  const last = g.op("Reshape", [g.op("Sub", [lens, g.int64s([], [1])]), g.int64s([3], [1, -1, 1])]);
  const bdh = g.op("Slice", [g.op("Shape", [y]), g.int64s([1], [1]), g.int64s([1], [3])]);
  const index = g.op("Expand", [last, g.op("Concat", [g.int64s([1], [1]), bdh], [axis0])]);
  const picked = g.op("GatherElements", [y, index], [axis0]); // [1, B, D·H]
  return g.op("Squeeze", [picked, g.int64s([1], [0])]);
}

function perm(p: number[]): AttrDef {
  return { name: "perm", kind: "ints", value: p };
}

/** [rows, cols] → [cols, rows]. */
function transpose2d(a: ArrayLike<number>, rows: number, cols: number): Float32Array {
  if (a.length !== rows * cols)
    throw new ConfigError(
      "onnx export",
      `head weight of ${a.length} values, expected ${rows * cols}`,
    );
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}
