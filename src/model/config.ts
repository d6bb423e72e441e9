import { gruCell } from "../layers/gru.js";
import { lstmCell } from "../layers/lstm.js";
import { ConfigError } from "../tensor/errors.js";
import { OffsetTable } from "../tensor/offsets.js";

/** The recurrent cell of every layer: PyTorch `nn.LSTM` or `nn.GRU`. */
export type CellKind = "lstm" | "gru";

/** The sizes of an LSTM or GRU stack with a linear head (PyTorch `nn.LSTM`/`nn.GRU` + `nn.Linear`). */
export interface ModelConfig {
  /** The cell (default "lstm"); it is also the prefix of the parameter names (`gru.weight_ih_l0`). */
  readonly cell: CellKind;
  /** I: features per time step. */
  readonly inputSize: number;
  /** H: hidden units per direction. */
  readonly hiddenSize: number;
  /** L: stacked layers (layer k > 0 reads the D·H-wide output of layer k−1). */
  readonly numLayers: number;
  /** D = 2 when true: a reverse direction reads the sequence from t = T−1 down to 0. */
  readonly bidirectional: boolean;
  /** O: outputs of the linear head (classes for cross-entropy). */
  readonly outputSize: number;
}

/** A model configuration as given by a caller: sizes required, the rest defaulted by `makeConfig`. */
export type ModelConfigInput = Partial<ModelConfig> &
  Pick<ModelConfig, "inputSize" | "hiddenSize" | "outputSize">;

/** Largest tensor we agree to allocate (elements), to turn absurd sizes into a clear error. */
export const MAX_ELEMENTS = 2 ** 28;

function positiveInt(field: string, v: unknown, max = MAX_ELEMENTS): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > max)
    throw new ConfigError(field, `must be an integer from 1 to ${max}, got ${String(v)}`);
  return v;
}

/** Fills defaults and validates; throws ConfigError naming the bad field. */
export function makeConfig(c: ModelConfigInput): ModelConfig {
  if (c === null || typeof c !== "object") throw new ConfigError("config", "must be an object");
  const cell = c.cell ?? "lstm";
  if (cell !== "lstm" && cell !== "gru")
    throw new ConfigError("cell", `must be "lstm" or "gru", got ${String(cell)}`);
  const cfg: ModelConfig = {
    cell,
    inputSize: positiveInt("inputSize", c.inputSize),
    hiddenSize: positiveInt("hiddenSize", c.hiddenSize, 65536),
    numLayers: positiveInt("numLayers", c.numLayers ?? 1, 64),
    bidirectional: c.bidirectional ?? false,
    outputSize: positiveInt("outputSize", c.outputSize),
  };
  if (typeof cfg.bidirectional !== "boolean")
    throw new ConfigError("bidirectional", `must be true or false, got ${String(c.bidirectional)}`);
  const total = paramLayout(cfg).total;
  if (total > MAX_ELEMENTS)
    throw new ConfigError("config", `${total} parameters is more than the limit ${MAX_ELEMENTS}`);
  return cfg;
}

/**
 * The config of sizes read off someone else's weights (an importer); a size makeConfig rejects
 * goes to `fail` with every inferred size named.
 */
export function inferredConfig(
  sizes: { I: number; H: number; L: number; D: number; O: number; cell?: CellKind },
  fail: (message: string) => never,
): ModelConfig {
  const { I, H, L, D, O } = sizes;
  try {
    return makeConfig({
      cell: sizes.cell,
      inputSize: I,
      hiddenSize: H,
      numLayers: L,
      bidirectional: D === 2,
      outputSize: O,
    });
  } catch (e) {
    if (e instanceof ConfigError)
      return fail(`inferred sizes I=${I}, H=${H}, L=${L}, D=${D}, O=${O}: ${e.message}`);
    throw e;
  }
}

export function numDirections(c: ModelConfig): 1 | 2 {
  return c.bidirectional ? 2 : 1;
}

/** Suffix PyTorch uses for layer k, direction d: `l0`, `l0_reverse`, … */
export function layerSuffix(layer: number, direction: number): string {
  return `l${layer}${direction === 1 ? "_reverse" : ""}`;
}

/** The layer functions and plans of the configured cell. */
export function cellOf(c: Pick<ModelConfig, "cell">): typeof lstmCell | typeof gruCell {
  return c.cell === "gru" ? gruCell : lstmCell;
}

/**
 * The parameter offset table, in PyTorch `named_parameters()` order: for each layer and
 * direction weight_ih [G, I or D·H], weight_hh [G, H], bias_ih [G], bias_hh [G] (G = 4H for the
 * LSTM, 3H for the GRU; names prefixed `lstm.` or `gru.`);
 * then head.weight [O, D·H] and head.bias [O]. Contiguous, so the flat buffer is the
 * concatenation of the tensors in this order.
 */
export function paramLayout(c: ModelConfig): OffsetTable {
  const t = new OffsetTable(1);
  const H = c.hiddenSize;
  const D = numDirections(c);
  const { name, gates } = cellOf(c); // the parameter prefix and gate blocks of the cell
  const G = gates * H;
  for (let l = 0; l < c.numLayers; l++) {
    const inW = l === 0 ? c.inputSize : D * H;
    for (let d = 0; d < D; d++) {
      const s = layerSuffix(l, d);
      t.add(`${name}.weight_ih_${s}`, [G, inW]);
      t.add(`${name}.weight_hh_${s}`, [G, H]);
      t.add(`${name}.bias_ih_${s}`, [G]);
      t.add(`${name}.bias_hh_${s}`, [G]);
    }
  }
  t.add("head.weight", [c.outputSize, D * H]);
  t.add("head.bias", [c.outputSize]);
  return t;
}
