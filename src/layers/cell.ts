/**
 * What the model needs to know of a recurrent cell (LSTM today; GRU next): its gate count, how it
 * lays out one direction's saved activations, and its forward and backward over a sequence. The
 * model's parameter and workspace plans are built from these, so a new cell adds a module like
 * lstm.ts and a kernel family, not new model code (docs/architecture.md, "Adding a cell").
 */
import type { Block, Kernels, RowLengths, StepPlan, Strided } from "../backend/kernels.js";
import type { FloatArray } from "../tensor/dtype.js";

/** Sizes of one layer's pass: T time, B batch, I input width, H hidden, P projection. */
export interface LayerDims {
  readonly T: number;
  readonly B: number;
  readonly I: number;
  readonly H: number;
  /**
   * Per-row lengths, rows sorted longest first (absent: every row has T steps). Outputs at
   * padded positions are left untouched (the model zeroes them) and get no gradient.
   */
  readonly rows?: RowLengths | null;
  /** LSTM projection size (h_t has P entries); absent or 0: none, h_t has H. */
  readonly P?: number;
}

/** Where one direction's parameters live: offsets into the parameter table. */
export interface DirectionParams {
  /** Consumes x from t = T−1 down to 0 (PyTorch's `_reverse` weights). */
  readonly reverse: boolean;
  readonly wIh: number; // [gates·H, I]
  readonly wHh: number; // [gates·H, H]
  readonly bIh: number; // [gates·H]
  readonly bHh: number; // [gates·H]
  /** LSTM projection W_hr [P, H]; absent without one. */
  readonly wHr?: number;
}

/**
 * A recurrent cell. `Dir` is its per-direction plan (parameter offsets plus where the saved
 * activations of one shape live); `FwdIO` and `BwdIO` the operands of its layer functions.
 */
export interface RecurrentCell<Dir extends DirectionParams, FwdIO, BwdIO> {
  /** The PyTorch module name, the prefix of the parameter names ("lstm.weight_ih_l0"). */
  readonly name: string;
  /** Gate blocks per hidden unit (LSTM: i, f, g, o). W_ih is [gates·H, I]. */
  readonly gates: number;
  /**
   * One direction's plan for `rows` = T·B rows of H units: `slot(n)` reserves n elements of the
   * workspace and returns their absolute offset.
   */
  planDirection(params: DirectionParams, rows: number, H: number, slot: (n: number) => number): Dir;
  forward(k: Kernels, io: FwdIO, dims: LayerDims, d: Dir): void;
  backward(k: Kernels, io: BwdIO, dims: LayerDims, d: Dir): void;
}

/**
 * Operands every cell's forward takes (a cell with more state adds its own: the LSTM's c0, cN).
 * Widths: Hout = P with a projection, else H.
 */
export interface SequenceForwardIO {
  /** [T, B, Hout] (stride y.ld): h_t at the time index of the x_t it consumed. */
  readonly y: Strided;
  /** [B, Hout]: the state after the last consumed step. */
  readonly hN: Block;
  /** The buffer holding the saved activations (offsets in the direction's plan). */
  readonly act: FloatArray;
  /** [stepsWorkSize(H)] for the steps kernel. */
  readonly work: Block;
  /** [T, B, I] (stride x.ld). */
  readonly x: Strided;
  /** One-hot input as its ids [T·B] (x is then not read), or null/absent. */
  readonly ids?: Int32Array | null;
  /** [B, Hout] initial state. */
  readonly h0: Block;
  /** The parameter table (the direction's offsets add to params.off). */
  readonly params: Block;
}

/**
 * Operands every cell's backward takes: outputs, the cell's scratch, then what forward used and
 * produced (a cell with more state adds its own: the LSTM's c0, dc0, dcN).
 */
export interface SequenceBackwardIO<Scratch> {
  /** This direction's weight gradients accumulate here (offsets as in params). */
  readonly grads: Block;
  /** [T, B, I] += ∂loss/∂x; null skips it (e.g. one-hot inputs nobody differentiates). */
  readonly dx: Strided | null;
  /** [B, Hout] += ∂loss/∂h0. */
  readonly dh0: Block;
  readonly scratch: Scratch;
  /** [T, B, Hout] (stride dy.ld): ∂loss/∂h_t from above (the head or the next layer). */
  readonly dy: Strided;
  /** [B, Hout]: ∂loss/∂h_n (null when the loss does not use it). */
  readonly dhN: Block | null;
  readonly act: FloatArray;
  readonly x: Strided;
  /** One-hot input as its ids [T·B], as in SequenceForwardIO. */
  readonly ids?: Int32Array | null;
  readonly y: Strided;
  readonly h0: Block;
  readonly params: Block;
}

/** The steps kernels' plan of one direction's pass. */
export function stepPlan(dims: LayerDims, d: DirectionParams): StepPlan {
  return { T: dims.T, B: dims.B, H: dims.H, reverse: d.reverse, rows: dims.rows };
}
