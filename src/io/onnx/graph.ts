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
  BOOL,
  FLOAT,
  INT32,
  INT64,
  type AttrDef,
  type ElemType,
  type GraphDef,
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

/**
 * One layer-direction's PyTorch weights: W_ih [G·H, in], W_hh [G·H, Hout], b_ih, b_hh [G·H], and
 * with a projection W_hr [P, H].
 */
interface DirectionWeights {
  wIh: ArrayLike<number>;
  wHh: ArrayLike<number>;
  bIh: ArrayLike<number>;
  bHh: ArrayLike<number>;
  wHr?: ArrayLike<number>;
}

export interface RecurrentNet {
  cell: RecurrentCellExport;
  /** I: features entering layer 0 (the embedding width for an `ids` input). */
  inputSize: number;
  hiddenSize: number;
  /**
   * P: LSTM projection (PyTorch proj_size, h = W_hr (o ⊙ tanh c)); absent or 0: none. ONNX's
   * LSTM op has none, so each layer-direction is then a Scan over a step built from MatMuls.
   */
  projSize?: number;
  numLayers: number;
  bidirectional: boolean;
  /** weights[layer][direction]. */
  weights: readonly (readonly DirectionWeights[])[];
  /** Head: weight [O, D·Hout], bias [O]. */
  head: { weight: ArrayLike<number>; bias: ArrayLike<number>; outputSize: number };
  /**
   * Dense features, or integer ids whose rows of `table` [V, I] feed layer 0 (an embedding, or
   * the identity for one-hot character models).
   */
  input: { kind: "dense" } | { kind: "ids"; table: ArrayLike<number>; vocabSize: number };
  /**
   * Head on every step ([T, B, O]), on the last one ([B, O]), or on the last layer's final
   * states [forward | reverse] ([B, O], a sequence classifier).
   */
  readout: "all" | "last" | "final";
  /** x / tokens and the output are [B, T, ·] instead of [T, B, ·]. */
  batchFirst: boolean;
  /** Adds an int32 [B] graph input `seq_lens` wired to every layer's sequence_lens. */
  sequenceLengths: boolean;
  /**
   * Graph inputs h0 (c0) and outputs hN (cN) (default true); false: every layer starts from
   * zeros and only the head's output leaves the graph.
   */
  states?: boolean;
  /** The head's output is `logits` and its Softmax over the last axis `probabilities`. */
  probabilities?: boolean;
}

interface BuiltGraph {
  nodes: NodeDef[];
  initializers: TensorDef[];
  inputs: ValueInfoDef[];
  outputs: ValueInfoDef[];
}

/** Accumulates nodes and constants with unique names (`prefix` keeps a subgraph's apart). */
class GraphBuilder {
  readonly nodes: NodeDef[] = [];
  readonly initializers: TensorDef[] = [];
  private count = 0;

  constructor(private readonly prefix = "") {}

  /** Adds a node with one output and returns that output's name. */
  op(op: string, inputs: readonly string[], attrs: readonly AttrDef[] = []): string {
    return this.opN(op, inputs, 1, attrs)[0];
  }

  opN(op: string, inputs: readonly string[], outputs: number, attrs: readonly AttrDef[] = []) {
    const name = `${this.prefix}${op.toLowerCase()}_${this.count++}`;
    const outs = Array.from({ length: outputs }, (_, i) => `${name}_out${i}`);
    // Trailing optional inputs left out ("") are dropped; inner ones stay as "".
    let n = inputs.length;
    while (n > 0 && inputs[n - 1] === "") n--;
    this.nodes.push({ op, inputs: inputs.slice(0, n), outputs: outs, name, attrs });
    return outs;
  }

  /** Renames the last node's first output (for graph outputs with fixed names). */
  nameLastOutput(name: string): void {
    const n = this.nodes[this.nodes.length - 1];
    this.nodes[this.nodes.length - 1] = { ...n, outputs: [name, ...n.outputs.slice(1)] };
  }

  floats(name: string, dims: readonly number[], data: ArrayLike<number>): string {
    this.initializers.push({ name: `${this.prefix}${name}`, dims, data: Float32Array.from(data) });
    return `${this.prefix}${name}`;
  }

  int64s(dims: readonly number[], values: readonly number[]): string {
    const name = `${this.prefix}const_${this.initializers.length}`;
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

/** What one layer gives the next: y [T, B, D·Hout] and its final states [D, B, ·]. */
interface LayerOut {
  y: string;
  h: string;
  c?: string;
}

/** Where a layer reads: its input [T, B, in], its index, and the graph-wide step mask. */
interface LayerIn {
  x: string;
  layer: number;
  inW: number;
  /** [T, B, 1] bool, step t of row b valid (projected layers with lengths), else null. */
  mask: string | null;
}

/** A layer as one ONNX LSTM/GRU op (both directions); lengths go to its sequence_lens. */
function opLayer(g: GraphBuilder, net: RecurrentNet, at: LayerIn): LayerOut {
  const { cell, hiddenSize: H } = net;
  const D = net.weights[at.layer].length;
  const l = at.layer;
  const t = layerTensors(net, l, at.inW);
  const opInputs = [
    at.x,
    g.floats(`${cell.op}_l${l}_W`, t.dims.W, t.W),
    g.floats(`${cell.op}_l${l}_R`, t.dims.R, t.R),
    g.floats(`${cell.op}_l${l}_B`, t.dims.B, t.B),
    net.sequenceLengths ? "seq_lens" : "",
  ];
  // initial_h (initial_c): this layer's rows l·D … l·D+D−1 of h0 (c0); left out: zeros.
  if (net.states !== false) {
    const rows = [g.int64s([1], [l * D]), g.int64s([1], [(l + 1) * D]), g.int64s([1], [0])];
    for (const s of cell.states) opInputs.push(g.op("Slice", [`${s}0`, ...rows]));
  }
  const [Y, h, c] = g.opN(cell.op, opInputs, 1 + cell.states.length, [
    { name: "hidden_size", kind: "int", value: H },
    { name: "direction", kind: "string", value: D === 2 ? "bidirectional" : "forward" },
    ...cell.attrs,
  ]);
  const tbdh = g.op("Transpose", [Y], [perm([0, 2, 1, 3])]);
  return { y: g.op("Reshape", [tbdh, g.int64s([3], [0, 0, -1])]), h, c }; // y [T, B, D·H]
}

/**
 * The LSTMP step as a Scan body, in PyTorch's gate order (no reordering needed here):
 * gates = gx_t + h W_hhᵀ (gx_t = x_t W_ihᵀ + b_ih + b_hh, computed for all steps before the
 * Scan), i, f, g, o = σ, σ, tanh, σ of its four H-wide blocks, c' = f ⊙ c + i ⊙ g,
 * h' = (o ⊙ tanh c') W_hrᵀ. With a mask, a row past its length keeps h, c and outputs zeros:
 * forward, h and c stay at the last valid step; reverse (scanning t = T−1 … 0), they stay at
 * h0, c0 until t = len − 1, where the row's reverse pass starts — the engine's semantics.
 */
function lstmpStep(
  w: DirectionWeights,
  sizes: { H: number; P: number; prefix: string },
  masked: boolean,
): GraphDef {
  const { H, P, prefix } = sizes;
  const g = new GraphBuilder(prefix);
  const [hPrev, cPrev, gx, mask] = ["h_prev", "c_prev", "gx", "mask"].map((n) => prefix + n);
  const R = g.floats("W_hh_T", [P, 4 * H], transpose2d(w.wHh, 4 * H, P));
  const WrT = g.floats("W_hr_T", [H, P], transpose2d(w.wHr ?? [], P, H));
  const gates = g.op("Add", [gx, g.op("MatMul", [hPrev, R])]);
  const [i, f, gg, o] = g.opN("Split", [gates], 4, [{ name: "axis", kind: "int", value: 1 }]);
  const sig = (v: string) => g.op("Sigmoid", [v]);
  const c = g.op("Add", [g.op("Mul", [sig(f), cPrev]), g.op("Mul", [sig(i), g.op("Tanh", [gg])])]);
  const h = g.op("MatMul", [g.op("Mul", [sig(o), g.op("Tanh", [c])]), WrT]);
  const outs = masked
    ? [
        g.op("Where", [mask, h, hPrev]),
        g.op("Where", [mask, c, cPrev]),
        g.op("Where", [mask, h, g.floats("zero", [], [0])]),
      ]
    : [h, c, g.op("Identity", [h])];
  const io = (name: string, elemType: ElemType, width: number): ValueInfoDef => ({
    name,
    elemType,
    dims: ["B", width],
  });
  return {
    name: `${prefix}body`,
    doc: "",
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: [
      io(hPrev, FLOAT, P),
      io(cPrev, FLOAT, H),
      io(gx, FLOAT, 4 * H),
      ...(masked ? [io(mask, BOOL, 1)] : []),
    ],
    outputs: [io(outs[0], FLOAT, P), io(outs[1], FLOAT, H), io(outs[2], FLOAT, P)],
  };
}

/**
 * A projected LSTM layer (ONNX's LSTM op has no proj_size): per direction, the input gates of all
 * steps as one MatMul, then a Scan over time carrying h [B, P] and c [B, H] (reversed for the
 * reverse direction, its outputs written back in time order).
 */
function projectedLayer(g: GraphBuilder, net: RecurrentNet, at: LayerIn): LayerOut {
  const { hiddenSize: H, projSize: P = 0 } = net;
  const dirs = net.weights[at.layer];
  const D = dirs.length;
  const G = 4 * H;
  const ys: string[] = [];
  const hs: string[] = [];
  const cs: string[] = [];
  // Zero initial states [B, P], [B, H] when the graph has no h0, c0: B from x [T, B, in].
  const batch = () =>
    g.op("Slice", [g.op("Shape", [at.x]), g.int64s([1], [1]), g.int64s([1], [2])]);
  const zeros = (width: number) =>
    g.op("Expand", [
      g.floats(`zero_${g.initializers.length}`, [], [0]),
      g.op("Concat", [batch(), g.int64s([1], [width])], [axis0]),
    ]);
  dirs.forEach((w, d) => {
    const k = at.layer * D + d;
    const name = `lstmp_l${at.layer}${d === 1 ? "_reverse" : ""}`;
    const bias = Float32Array.from({ length: G }, (_, j) => w.bIh[j] + w.bHh[j]);
    if (w.bIh.length !== G || w.bHh.length !== G)
      throw new ConfigError("onnx export", `${name}: biases of ${G} values expected`);
    const xw = g.op("MatMul", [
      at.x,
      g.floats(`${name}_W_ih_T`, [at.inW, G], transpose2d(w.wIh, G, at.inW)),
    ]);
    const gx = g.op("Add", [xw, g.floats(`${name}_bias`, [G], bias)]); // [T, B, 4H]
    const first = (s: string) => g.op("Gather", [s, g.int64s([], [k])], [axis0]);
    const h0 = net.states === false ? zeros(P) : first("h0");
    const c0 = net.states === false ? zeros(H) : first("c0");
    const body = lstmpStep(w, { H, P, prefix: `${name}_` }, at.mask !== null);
    const scanInputs = at.mask ? [gx, at.mask] : [gx];
    const [hN, cN, y] = g.opN("Scan", [h0, c0, ...scanInputs], 3, [
      { name: "body", kind: "graph", value: body },
      { name: "num_scan_inputs", kind: "int", value: scanInputs.length },
      { name: "scan_input_directions", kind: "ints", value: scanInputs.map(() => d) },
      { name: "scan_output_directions", kind: "ints", value: [d] },
    ]);
    const unsq = (s: string) => g.op("Unsqueeze", [s, g.int64s([1], [0])]);
    ys.push(y);
    hs.push(unsq(hN));
    cs.push(unsq(cN));
  });
  const cat = (parts: string[], axis: number) =>
    parts.length === 1
      ? parts[0]
      : g.op("Concat", parts, [{ name: "axis", kind: "int", value: axis }]);
  return { y: cat(ys, 2), h: cat(hs, 0), c: cat(cs, 0) };
}

/** [T, B, 1] bool: t < seq_lens[b] (the steps a row really has). */
function stepMask(g: GraphBuilder, x: string): string {
  const T = g.op("Gather", [g.op("Shape", [x]), g.int64s([], [0])], [axis0]);
  const steps = g.op("Range", [g.int64s([], [0]), T, g.int64s([], [1])]);
  const lens = g.op("Cast", ["seq_lens"], [{ name: "to", kind: "int", value: INT64 }]);
  return g.op("Less", [
    g.op("Reshape", [steps, g.int64s([3], [-1, 1, 1])]),
    g.op("Reshape", [lens, g.int64s([3], [1, -1, 1])]),
  ]);
}

/**
 * The graph of `net`; graph inputs x|tokens, h0 (c0), seq_lens; outputs output (or logits and
 * probabilities), hN (cN).
 */
export function buildRecurrentGraph(net: RecurrentNet): BuiltGraph {
  const { cell, hiddenSize: H, numLayers: L } = net;
  const D = net.bidirectional ? 2 : 1;
  const O = net.head.outputSize;
  const P = net.projSize ?? 0;
  const Hout = P || H;
  const states = net.states ?? true;
  if (net.weights.length !== L || net.weights.some((w) => w.length !== D))
    throw new ConfigError("onnx export", `weights for ${L} layers × ${D} directions expected`);
  if (P && cell.op !== "LSTM")
    throw new ConfigError("onnx export", `only an LSTM has a projection (cell is ${cell.op})`);
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
    x = g.op("Gather", [table, ids], [axis0]);
  } else {
    inputs.push({ name: "x", elemType: FLOAT, dims: [...seq, net.inputSize] });
    x = net.batchFirst ? g.op("Transpose", ["x"], [perm([1, 0, 2])]) : "x";
  }
  const stateWidth = (s: StateName) => (s === "h" ? Hout : H);
  if (states)
    for (const s of cell.states)
      inputs.push({
        name: `${s}0`,
        elemType: FLOAT,
        dims: [L * D, "B", stateWidth(s)],
        doc: `[L·D, B, ${s === "h" ? "Hout" : "H"}]`,
      });
  if (net.sequenceLengths)
    inputs.push({
      name: "seq_lens",
      elemType: INT32,
      dims: ["B"],
      doc: "valid steps per sequence, in [1, T]",
    });

  // The stack: layer l reads layer l−1's output [T, B, D·Hout].
  const mask = P && net.sequenceLengths ? stepMask(g, x) : null;
  const layers: LayerOut[] = [];
  for (let l = 0; l < L; l++) {
    const at = { x, layer: l, inW: l === 0 ? net.inputSize : D * Hout, mask };
    layers.push(P ? projectedLayer(g, net, at) : opLayer(g, net, at));
    x = layers[l].y;
  }

  // Head: z = y · Wᵀ + b on every step, on the last time index, or on the final states.
  const y =
    net.readout === "last"
      ? lastStep(g, x, net.sequenceLengths)
      : net.readout === "final"
        ? finalStates(g, layers[L - 1].h)
        : x;
  const wT = transpose2d(net.head.weight, O, D * Hout);
  const z = g.op("MatMul", [y, g.floats("head_weight_T", [D * Hout, O], wT)]);
  g.op("Add", [z, g.floats("head_bias", [O], net.head.bias)]);
  const outDims = net.readout === "all" ? [...seq, O] : ["B", O];
  if (net.readout === "all" && net.batchFirst)
    g.op("Transpose", [g.nodes[g.nodes.length - 1].outputs[0]], [perm([1, 0, 2])]);
  const head = net.probabilities ? "logits" : "output";
  g.nameLastOutput(head);

  const outputs: ValueInfoDef[] = [{ name: head, elemType: FLOAT, dims: outDims }];
  if (net.probabilities) {
    g.op("Softmax", [head], [{ name: "axis", kind: "int", value: -1 }]);
    g.nameLastOutput("probabilities");
    outputs.push({ name: "probabilities", elemType: FLOAT, dims: outDims });
  }
  if (states)
    for (const s of cell.states) {
      g.op(
        "Concat",
        layers.map((layer) => (s === "h" ? layer.h : layer.c!)),
        [axis0],
      );
      g.nameLastOutput(`${s}N`);
      outputs.push({
        name: `${s}N`,
        elemType: FLOAT,
        dims: [L * D, "B", stateWidth(s)],
        doc: `[L·D, B, ${s === "h" ? "Hout" : "H"}]`,
      });
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

/**
 * The last layer's final states [D, B, Hout] → [B, D·Hout], each row [forward | reverse]: the
 * forward state after the row's last valid step, the reverse one after t = 0 (the engine's
 * readout "final").
 */
function finalStates(g: GraphBuilder, hN: string): string {
  const bdh = g.op("Transpose", [hN], [perm([1, 0, 2])]);
  return g.op("Reshape", [bdh, g.int64s([2], [0, -1])]);
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
