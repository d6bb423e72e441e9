/**
 * How much memory a training configuration needs, estimated before anything is allocated, so a
 * run that cannot fit is refused with the estimate and the limit instead of growing for minutes
 * and failing (or swapping the machine) half-way.
 *
 * Letters: T time steps, B batch, I input, H hidden, L layers, D directions, O head outputs,
 * V vocabulary (one-hot input: I = V). The estimate counts what training holds at once:
 * - parameters P, their gradients P, the previous weights (rollback) P and the best weights P;
 * - optimizer state: k·P (adam/adamw 2, rmsprop 1 or 2 with momentum, adagrad 1, sgd 0 or 1);
 * - activations kept for BPTT per layer and direction: gates 4H, c, tanh c, h and their
 *   gradients, about 10·H per (t, b), plus the backward buffers of the same size;
 * - inputs T·B·I (the one-hot batch T·B·V for text; with an embedding table [V, E] the
 *   embedded rows T·B·E and their gradient), outputs and their gradients 3·T·B·O, and the same
 *   again for the validation batch;
 * - with a projection P: its W_hr [P, H] per layer and direction, h of P entries, and the
 *   unprojected h and its gradient 2·H per (t, b); with dropout, a mask and a dropped copy per
 *   dropped tensor.
 * It is an estimate (within a small factor), meant to refuse configurations that are far off.
 */
import { ConfigError } from "../tensor/errors.js";

/** Larger single arrays than this are refused: typed arrays cannot hold more elements. */
const MAX_ARRAY_ELEMENTS = 2 ** 31 - 1;

/** The memory a run may use by default (raise with --max-memory). */
export const DEFAULT_MAX_MEMORY_BYTES = 4 * 2 ** 30;

export interface TrainingShape {
  /** The recurrent cell (default "lstm"): 4H gate rows (LSTM) or 3H (GRU). */
  cell?: "lstm" | "gru";
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  outputSize: number;
  bidirectional?: boolean;
  seqLen: number;
  batch: number;
  optimizer: "sgd" | "adam" | "adamw" | "rmsprop" | "adagrad";
  momentum?: number;
  /** Bytes per number: 4 (float32) or 8 (float64). */
  bytesPerElement?: number;
  /** V: rows of an embedding table (inputSize is then its width E). */
  embeddingRows?: number;
  /** P: LSTM projection size. */
  projSize?: number;
  /** The head uses the embedding table (no head weight of its own). */
  tiedHead?: boolean;
  /** Whether any dropout is on (masks and dropped copies of the dropped tensors). */
  anyDropout?: boolean;
}

export interface MemoryEstimate {
  /** Total bytes. */
  bytes: number;
  /** Bytes by part: parameters, gradients, optimizer, activations, inputs. */
  parts: Record<"parameters" | "gradients" | "optimizer" | "activations" | "inputs", number>;
  /** The largest single array, in elements (the one-hot batch for text). */
  largestArray: { name: string; elements: number };
}

/** Gate rows per hidden unit: 4 for the LSTM (i, f, g, o), 3 for the GRU (r, z, n). */
const gatesOf = (s: TrainingShape): number => (s.cell === "gru" ? 3 : 4);

/** Parameters of an LSTM or GRU stack with a dense head (PyTorch layout, as paramLayout). */
function parameterCount(s: TrainingShape): number {
  const D = s.bidirectional ? 2 : 1;
  const H = s.hiddenSize;
  const G = gatesOf(s) * H;
  const Hout = s.projSize ?? H;
  let p = (s.embeddingRows ?? 0) * s.inputSize;
  for (let l = 0; l < s.numLayers; l++) {
    const inSize = l === 0 ? s.inputSize : D * Hout;
    p += D * (G * inSize + G * Hout + 2 * G + (s.projSize ?? 0) * H);
  }
  return p + (s.tiedHead ? 0 : s.outputSize * D * Hout) + s.outputSize;
}

function optimizerSlots(s: TrainingShape): number {
  const m = s.momentum !== undefined && s.momentum > 0 ? 1 : 0;
  switch (s.optimizer) {
    case "adam":
    case "adamw":
      return 2;
    case "rmsprop":
      return 1 + m;
    case "adagrad":
      return 1;
    default:
      return m;
  }
}

export function estimateTrainingMemory(s: TrainingShape): MemoryEstimate {
  const bytes = s.bytesPerElement ?? 4;
  const D = s.bidirectional ? 2 : 1;
  const TB = s.seqLen * s.batch;
  const P = parameterCount(s);
  const inputElems = TB * s.inputSize;
  const Hout = s.projSize ?? s.hiddenSize;
  const perStep = (s.cell === "gru" ? 11 : 10) * s.hiddenSize + (s.projSize ? 2 * s.hiddenSize : 0);
  const dropped = s.anyDropout ? s.numLayers * 2 * D * Hout + 2 * s.inputSize : 0;
  const parts = {
    parameters: 3 * P * bytes, // the weights, the rollback copy, the best weights
    gradients: P * bytes,
    optimizer: optimizerSlots(s) * P * bytes,
    // Per layer, direction and row: the LSTM saves gates 4H, c, tanh c, y and dY (≈ 10H with
    // its share of the backward scratch, 2H more with a projection); the GRU gates 3H, hg 3H, y
    // and dY, and its scratch holds two [T, B, 3H] arrays (dXg, dHg): ≈ 11H.
    activations:
      2 * (s.numLayers * D * TB * perStep + TB * dropped + 3 * TB * s.outputSize) * bytes,
    inputs: 2 * inputElems * bytes, // the training batch and the validation batch
  };
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  const G = gatesOf(s);
  const gates = TB * G * s.hiddenSize;
  const largestArray =
    inputElems >= gates
      ? {
          name: `input batch [T=${s.seqLen}, B=${s.batch}, I=${s.inputSize}]`,
          elements: inputElems,
        }
      : {
          name: `gates [T=${s.seqLen}, B=${s.batch}, ${G}H=${G * s.hiddenSize}]`,
          elements: gates,
        };
  return { bytes: total, parts, largestArray };
}

function gib(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * Throws ConfigError (field `memory`) when the estimate exceeds `limitBytes` or one array would
 * exceed what a typed array can hold; the message gives the estimate, its parts and the limit.
 */
export function checkTrainingMemory(e: MemoryEstimate, limitBytes: number, hint: string): void {
  if (e.largestArray.elements > MAX_ARRAY_ELEMENTS)
    throw new ConfigError(
      "memory",
      `the ${e.largestArray.name} would have ${e.largestArray.elements} elements, more than the ${MAX_ARRAY_ELEMENTS} an array can hold; lower the batch, the sequence length or the size`,
    );
  if (e.bytes > limitBytes) {
    const parts = Object.entries(e.parts)
      .map(([k, v]) => `${k} ${gib(v)}`)
      .join(", ");
    throw new ConfigError(
      "memory",
      `this configuration needs about ${gib(e.bytes)} (${parts}), more than the limit of ${gib(limitBytes)}; ${hint}`,
    );
  }
}
