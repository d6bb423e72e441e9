/**
 * Parameter initialisers. Each writes into the model's flat params buffer through named views,
 * drawing from a seeded Rng so the same seed gives the same weights.
 */
import { ConfigError } from "../tensor/errors.js";
import type { FloatArray } from "../tensor/dtype.js";
import type { Rng } from "../tensor/rng.js";
import type { LstmModel } from "./model.js";

/** How `initParams` draws the weights. */
export interface InitOptions {
  /**
   * "pytorch": every LSTM tensor U(−1/√H, 1/√H) and the head as nn.Linear (PyTorch's default).
   * "xavier": Glorot-uniform weights U(±√(6/(fan_in + fan_out))), zero biases.
   */
  scheme?: "pytorch" | "xavier";
  /** Recurrent weights: as the scheme says, or each H×H gate block of weight_hh orthogonal. */
  recurrent?: "scheme" | "orthogonal";
  /**
   * When set, the forget-gate rows H:2H of bias_ih get this value and those of bias_hh get 0,
   * so the forget gate starts at σ(value) (1 is the usual choice: remember by default).
   */
  forgetBias?: number;
}

/** The weight initialisation schemes `initParams` knows. */
export const INIT_SCHEMES = ["pytorch", "xavier"] as const;

/** Initialises every parameter of `model` from `rng` by `opts` (default: PyTorch's scheme). */
export function initParams(model: LstmModel, rng: Rng, opts: InitOptions = {}): void {
  const scheme = opts.scheme ?? "pytorch";
  const recurrent = opts.recurrent ?? "scheme";
  if (!(INIT_SCHEMES as readonly string[]).includes(scheme))
    throw new ConfigError("init", `must be pytorch or xavier, got ${String(scheme)}`);
  if (recurrent !== "scheme" && recurrent !== "orthogonal")
    throw new ConfigError(
      "recurrent init",
      `must be scheme or orthogonal, got ${String(recurrent)}`,
    );
  if (opts.forgetBias !== undefined && !Number.isFinite(opts.forgetBias))
    throw new ConfigError("forgetBias", `must be a finite number, got ${opts.forgetBias}`);
  const H = model.config.hiddenSize;
  if (opts.forgetBias !== undefined && model.config.cell !== "lstm")
    throw new ConfigError("forgetBias", "a GRU has no forget gate (drop --forget-bias)");
  if (scheme === "pytorch") model.initDefault(rng);
  for (const name of model.paramNames()) {
    const p = model.param(name);
    const shape = model.paramShape(name);
    const isBias = shape.length === 1;
    if (scheme === "xavier") {
      if (isBias) p.fill(0);
      else uniform(p, rng, Math.sqrt(6 / (shape[0] + shape[1])));
    }
    // Each H×H gate block of W_hh (4 for the LSTM, 3 for the GRU: shape[0] / H).
    if (recurrent === "orthogonal" && /^(lstm|gru)\.weight_hh_/.test(name))
      for (let g = 0; g < shape[0] / H; g++) orthogonalBlock(p, g * H * H, H, rng);
    if (opts.forgetBias !== undefined && isBias && name.startsWith("lstm.bias_"))
      p.fill(name.startsWith("lstm.bias_ih_") ? opts.forgetBias : 0, H, 2 * H);
  }
}

function uniform(p: FloatArray, rng: Rng, bound: number): void {
  for (let i = 0; i < p.length; i++) p[i] = rng.range(-bound, bound);
}

/**
 * An n×n orthogonal matrix at p[off…]: modified Gram–Schmidt on a Gaussian matrix, with the
 * signs fixed as torch.nn.init.orthogonal_ does (Q·sign(diag R)), so Q is Haar-distributed.
 */
function orthogonalBlock(p: FloatArray, off: number, n: number, rng: Rng): void {
  const a = Float64Array.from({ length: n * n }, () => rng.normal()); // columns are a[:, j]
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += a[i * n + k] * a[i * n + j];
      for (let i = 0; i < n; i++) a[i * n + j] -= dot * a[i * n + k];
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += a[i * n + j] ** 2;
    norm = Math.sqrt(norm);
    // R's diagonal entry is +norm here, so Q·sign(diag R) is Q itself.
    for (let i = 0; i < n; i++) a[i * n + j] /= norm;
  }
  for (let i = 0; i < n * n; i++) p[off + i] = a[i];
}
