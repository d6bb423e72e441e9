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
  /**
   * Token input through an embedding table `embedding.weight` [V, E] (PyTorch `nn.Embedding`),
   * E = inputSize; absent: dense input (x holds I features per step). `paddingIdx`'s row gets
   * no gradient.
   */
  readonly embedding?: EmbeddingConfig;
  /** P: LSTM projection size (PyTorch `proj_size`, LSTMP); absent or 0: none. P < H. */
  readonly projSize?: number;
  /** The head uses `embedding.weight` as its weight (V = O, E = D·Hout); no `head.weight`. */
  readonly tiedHead?: boolean;
  /** Dropout probabilities (training mode only); absent: none. */
  readonly dropout?: DropoutConfig;
}

/** The embedding table's size; its width E is the model's inputSize. */
export interface EmbeddingConfig {
  /** V: rows of the table (token ids 0 … V−1). */
  readonly numEmbeddings: number;
  /** The padding token: its row gets no gradient (PyTorch `padding_idx`); null: none. */
  readonly paddingIdx: number | null;
}

/**
 * Dropout probabilities, PyTorch semantics (a dropped tensor is t ⊙ mask / (1 − p)): `input` on
 * the first layer's input (dense or embedded), `betweenLayers` on every layer's output but the
 * last (`nn.LSTM`'s `dropout`), `output` on the last layer's output before the head.
 */
export interface DropoutConfig {
  readonly input: number;
  readonly betweenLayers: number;
  readonly output: number;
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
  Object.assign(cfg, optionalFeatures(c, cfg));
  const total = paramLayout(cfg).total;
  if (total > MAX_ELEMENTS)
    throw new ConfigError("config", `${total} parameters is more than the limit ${MAX_ELEMENTS}`);
  return cfg;
}

function probability(field: string, v: unknown): number {
  if (typeof v !== "number" || !(v >= 0 && v < 1))
    throw new ConfigError(field, `must be a probability in [0, 1), got ${String(v)}`);
  return v;
}

/** The optional features of `c`, checked, each present only when it is on (files stay as before). */
function optionalFeatures(c: ModelConfigInput, cfg: ModelConfig): Partial<ModelConfig> {
  const out: {
    embedding?: EmbeddingConfig;
    projSize?: number;
    tiedHead?: boolean;
    dropout?: DropoutConfig;
  } = {};
  if (c.embedding !== undefined) {
    const e = c.embedding;
    if (e === null || typeof e !== "object")
      throw new ConfigError("embedding", "must be an object {numEmbeddings, paddingIdx}");
    const V = positiveInt("embedding.numEmbeddings", e.numEmbeddings);
    const pad = e.paddingIdx ?? null;
    if (pad !== null && (!Number.isInteger(pad) || pad < 0 || pad >= V))
      throw new ConfigError("embedding.paddingIdx", `must be null or in [0, ${V}), got ${pad}`);
    out.embedding = { numEmbeddings: V, paddingIdx: pad };
  }
  if (c.projSize !== undefined && c.projSize !== 0) {
    if (cfg.cell !== "lstm")
      throw new ConfigError("projSize", `only an LSTM has a projection (cell is ${cfg.cell})`);
    const P = positiveInt("projSize", c.projSize, 65536);
    if (P >= cfg.hiddenSize)
      throw new ConfigError(
        "projSize",
        `${P} must be smaller than hiddenSize ${cfg.hiddenSize} (as in PyTorch)`,
      );
    out.projSize = P;
  }
  if (c.tiedHead) {
    if (!out.embedding)
      throw new ConfigError("tiedHead", "a tied head uses embedding.weight: set embedding");
    const Hout = out.projSize ?? cfg.hiddenSize;
    const D = cfg.bidirectional ? 2 : 1;
    if (out.embedding.numEmbeddings !== cfg.outputSize || cfg.inputSize !== D * Hout)
      throw new ConfigError(
        "tiedHead",
        `embedding.weight is [${out.embedding.numEmbeddings}, ${cfg.inputSize}] but the head needs ` +
          `[outputSize, D·Hout] = [${cfg.outputSize}, ${D * Hout}]`,
      );
    out.tiedHead = true;
  }
  if (c.dropout !== undefined) {
    const d = c.dropout;
    if (d === null || typeof d !== "object")
      throw new ConfigError("dropout", "must be an object {input, betweenLayers, output}");
    const drop = {
      input: probability("dropout.input", d.input ?? 0),
      betweenLayers: probability("dropout.betweenLayers", d.betweenLayers ?? 0),
      output: probability("dropout.output", d.output ?? 0),
    };
    if (drop.input > 0 || drop.betweenLayers > 0 || drop.output > 0) out.dropout = drop;
  }
  return out;
}

/** V of a character model: the embedding's rows, or the one-hot width inputSize. */
export function tokenCount(c: ModelConfig): number {
  return c.embedding?.numEmbeddings ?? c.inputSize;
}

/** Hout: the width of each direction's h (P with a projection, else H). */
export function hiddenOut(c: ModelConfig): number {
  return c.projSize ?? c.hiddenSize;
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
 * The parameter offset table, in PyTorch `named_parameters()` order: embedding.weight [V, E]
 * with embedding input; for each layer and direction weight_ih [G, I or D·Hout],
 * weight_hh [G, Hout], bias_ih [G], bias_hh [G] (G = 4H for the LSTM, 3H for the GRU; names
 * prefixed `lstm.` or `gru.`), and weight_hr [P, H] with a projection (LSTM only);
 * then head.weight [O, D·Hout] (not with a tied head) and head.bias [O]. Contiguous, so the flat
 * buffer is the concatenation of the tensors in this order.
 */
export function paramLayout(c: ModelConfig): OffsetTable {
  const t = new OffsetTable(1);
  const H = c.hiddenSize;
  const Hout = hiddenOut(c);
  const D = numDirections(c);
  const { name, gates } = cellOf(c); // the parameter prefix and gate blocks of the cell
  const G = gates * H;
  if (c.embedding) t.add("embedding.weight", [c.embedding.numEmbeddings, c.inputSize]);
  for (let l = 0; l < c.numLayers; l++) {
    const inW = l === 0 ? c.inputSize : D * Hout;
    for (let d = 0; d < D; d++) {
      const s = layerSuffix(l, d);
      t.add(`${name}.weight_ih_${s}`, [G, inW]);
      t.add(`${name}.weight_hh_${s}`, [G, Hout]);
      t.add(`${name}.bias_ih_${s}`, [G]);
      t.add(`${name}.bias_hh_${s}`, [G]);
      if (c.projSize) t.add(`${name}.weight_hr_${s}`, [c.projSize, H]);
    }
  }
  if (!c.tiedHead) t.add("head.weight", [c.outputSize, D * Hout]);
  t.add("head.bias", [c.outputSize]);
  return t;
}
