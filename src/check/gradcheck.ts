/**
 * Finite-difference gradient check: compares the analytic BPTT gradients of a float64 model
 * with central differences (ℓ(θ+ε) − ℓ(θ−ε)) / 2ε, for every parameter tensor and for x, h0, c0
 * (c0: LSTM only).
 */
import type { LossKind } from "../loss/losses.js";
import { makeConfig, type CellKind, type ModelConfigInput } from "../model/config.js";
import { LstmModel } from "../model/model.js";
import { Objective, type SequenceBatch } from "../model/objective.js";
import { ConfigError } from "../tensor/errors.js";
import { Rng } from "../tensor/rng.js";

export interface GradcheckOptions {
  /** The recurrent cell (default "lstm"). */
  cell?: CellKind;
  inputSize?: number;
  hiddenSize?: number;
  numLayers?: number;
  bidirectional?: boolean;
  outputSize?: number;
  seqLen?: number;
  batch?: number;
  batchFirst?: boolean;
  loss?: LossKind;
  /** Random h0, c0 (default true); zeros otherwise. */
  randomState?: boolean;
  seed?: number;
  /** Step of the central difference (default 1e-5). */
  eps?: number;
  /** Largest number of entries checked per tensor (a seeded random sample beyond it). */
  maxPerTensor?: number;
  /** Kernel backend to check (default: the default backend). */
  backend?: string;
  /** Largest acceptable relative error (default 1e-5). */
  tolerance?: number;
}

export interface TensorCheck {
  /**
   * Worst |analytic − numeric| / max(|analytic|, |numeric|, floor), where floor is the larger of
   * 1e-2·max|analytic| over the tensor and the finite-difference noise 10·ε_mach·max(1, |ℓ|)/eps.
   */
  maxRelError: number;
  maxAbsError: number;
  checked: number;
  size: number;
  /** maxRelError ≤ tolerance, or every difference is below the noise floor (vanishing gradient). */
  ok: boolean;
}

export interface GradcheckResult {
  config: Required<Omit<GradcheckOptions, "backend">>;
  tensors: Record<string, TensorCheck>;
  maxRelError: number;
  /** Absolute size below which differences are round-off (see TensorCheck.maxRelError). */
  noiseFloor: number;
  /** Every tensor ok. */
  ok: boolean;
}

export function gradcheck(options: GradcheckOptions = {}): GradcheckResult {
  const o = {
    cell: options.cell ?? "lstm",
    inputSize: options.inputSize ?? 3,
    hiddenSize: options.hiddenSize ?? 4,
    numLayers: options.numLayers ?? 1,
    bidirectional: options.bidirectional ?? false,
    outputSize: options.outputSize ?? 3,
    seqLen: options.seqLen ?? 5,
    batch: options.batch ?? 2,
    batchFirst: options.batchFirst ?? false,
    loss: options.loss ?? "sum_sq",
    randomState: options.randomState ?? true,
    seed: options.seed ?? 1,
    eps: options.eps ?? 1e-5,
    maxPerTensor: options.maxPerTensor ?? 64,
    tolerance: options.tolerance ?? 1e-5,
  };
  if (!(o.eps > 0 && o.eps < 1)) throw new ConfigError("eps", `must be in (0, 1), got ${o.eps}`);
  if (!Number.isInteger(o.maxPerTensor) || o.maxPerTensor < 1)
    throw new ConfigError("maxPerTensor", `must be a positive integer, got ${o.maxPerTensor}`);
  const cfgIn: ModelConfigInput = o;
  const cfg = makeConfig(cfgIn);
  const rng = new Rng(o.seed);
  const model = new LstmModel(cfg, { dtype: "float64", backend: options.backend });
  model.initDefault(rng);
  // Larger-than-default weights make the gates leave their linear region, so the check
  // exercises the nonlinearities and the carried terms rather than a near-linear map.
  for (let i = 0; i < model.params.length; i++) model.params[i] *= 2;
  const { seqLen: T, batch: B } = o;
  const D = cfg.bidirectional ? 2 : 1;
  const S = cfg.numLayers * D * B * cfg.hiddenSize;
  const normal = (n: number): Float64Array => Float64Array.from({ length: n }, () => rng.normal());
  const x = normal(T * B * cfg.inputSize);
  const h0 = o.randomState ? normal(S) : new Float64Array(S);
  const lstm = cfg.cell === "lstm";
  const c0 = lstm ? (o.randomState ? normal(S) : new Float64Array(S)) : undefined;
  const targets =
    o.loss === "xent"
      ? Float64Array.from({ length: T * B }, () => rng.int(cfg.outputSize))
      : normal(o.loss === "mse_last" ? B * cfg.outputSize : T * B * cfg.outputSize);
  const batch: SequenceBatch = {
    x,
    seqLen: T,
    batch: B,
    batchFirst: o.batchFirst,
    h0,
    c0,
    targets,
  };
  const objective = new Objective(model, o.loss);

  model.zeroGrad();
  const first = objective.run(batch);
  const back = first.backward!;
  // Below this size a central difference measures round-off, not the gradient: the loss is
  // known to ~ε_mach·|ℓ|, so (ℓ₊ − ℓ₋)/2ε is uncertain by about ε_mach·|ℓ|/ε.
  const noiseFloor = (10 * Number.EPSILON * Math.max(1, Math.abs(first.loss))) / o.eps;
  const analytic: Record<string, { values: Float64Array; data: Float64Array }> = {};
  for (const name of model.paramNames())
    analytic[name] = {
      values: Float64Array.from(model.grad(name)),
      data: model.param(name) as Float64Array,
    };
  analytic.x = { values: Float64Array.from(back.dx), data: x };
  analytic.h0 = { values: Float64Array.from(back.dh0), data: h0 };
  if (c0) analytic.c0 = { values: Float64Array.from(back.dc0), data: c0 };

  const lossAt = (): number => objective.run(batch, false).loss;
  const tensors: Record<string, TensorCheck> = {};
  for (const [name, { values, data }] of Object.entries(analytic)) {
    let scale = 0;
    for (const v of values) scale = Math.max(scale, Math.abs(v));
    const floor = Math.max(1e-2 * scale, noiseFloor);
    const idx = sampleIndices(values.length, o.maxPerTensor, rng);
    let maxRel = 0;
    let maxAbs = 0;
    for (const i of idx) {
      const keep = data[i];
      data[i] = keep + o.eps;
      const up = lossAt();
      data[i] = keep - o.eps;
      const down = lossAt();
      data[i] = keep;
      const numeric = (up - down) / (2 * o.eps);
      const abs = Math.abs(numeric - values[i]);
      const rel = abs / Math.max(Math.abs(numeric), Math.abs(values[i]), floor);
      if (!(rel <= maxRel)) maxRel = Number.isNaN(rel) ? Infinity : rel;
      if (abs > maxAbs) maxAbs = abs;
    }
    const ok = maxRel <= o.tolerance || maxAbs <= noiseFloor;
    tensors[name] = {
      ok,
      maxRelError: maxRel,
      maxAbsError: maxAbs,
      checked: idx.length,
      size: values.length,
    };
  }
  const maxRelError = Math.max(...Object.values(tensors).map((t) => t.maxRelError));
  const ok = Object.values(tensors).every((t) => t.ok);
  return { config: o, tensors, maxRelError, noiseFloor, ok };
}

function sampleIndices(n: number, max: number, rng: Rng): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  if (n <= max) return all;
  for (let i = 0; i < max; i++) {
    const j = i + rng.int(n - i);
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, max).sort((a, b) => a - b);
}
