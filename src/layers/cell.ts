/**
 * What the model needs to know of a recurrent cell (LSTM today; GRU next): its gate count, how it
 * lays out one direction's saved activations, and its forward and backward over a sequence. The
 * model's parameter and workspace plans are built from these, so a new cell adds a module like
 * lstm.ts and a kernel family, not new model code (docs/architecture.md, "Adding a cell").
 */
import type { Kernels } from "../backend/kernels.js";

/** Sizes of one layer's pass: T time, B batch, I input width, H hidden, P projection. */
export interface LayerDims {
  readonly T: number;
  readonly B: number;
  readonly I: number;
  readonly H: number;
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
