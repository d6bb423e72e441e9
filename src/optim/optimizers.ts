/**
 * Optimizers with the exact semantics of torch.optim (the single-tensor, `foreach=False`
 * algorithms of torch 1.13): SGD (momentum, dampening, Nesterov, L2 weight decay), Adam and
 * AdamW (optionally AMSGrad), RMSprop (optionally centered, with momentum) and Adagrad.
 *
 * An optimizer works on one flat parameter buffer and its gradient buffer (LstmModel.params /
 * LstmModel.grads). Its state is one flat buffer per role, the length of the parameters, named
 * like torch's per-parameter state keys. Buffers are allocated once in the constructor and
 * `step` allocates nothing. Scalars (bias corrections, step sizes) are computed in float64;
 * buffers are stored in the dtype given to `createOptimizer` (normally the model's dtype).
 *
 * Differences from torch: no `maximize`, `foreach`, `capturable`, `differentiable` or sparse
 * gradients; `eps` must be > 0 (torch accepts 0); options that do not belong to the algorithm
 * are rejected instead of ignored. NaN/Infinity in the gradients propagate as in torch: check
 * `clipGradNorm`'s total norm first if you need to skip such steps.
 */
import { allocFloat, type DType, type FloatArray } from "../tensor/dtype.js";
import { ConfigError, FormatError, ShapeError } from "../tensor/errors.js";

/** The optimizers `createOptimizer` makes. */
export const OPTIMIZER_KINDS = ["sgd", "adam", "adamw", "rmsprop", "adagrad"] as const;
/** One of OPTIMIZER_KINDS. */
export type OptimizerKind = (typeof OPTIMIZER_KINDS)[number];

export function isOptimizerKind(v: unknown): v is OptimizerKind {
  return typeof v === "string" && (OPTIMIZER_KINDS as readonly string[]).includes(v);
}

/**
 * Hyper-parameters, camelCase versions of torch's argument names. Only `kind` and `lr` are
 * required; the others default as in torch (see `defaultOptimizerConfig`). Options that the
 * algorithm does not have are rejected with a ConfigError.
 */
export interface OptimizerConfig {
  kind: OptimizerKind;
  /** Learning rate, ≥ 0. */
  lr: number;
  /** sgd, rmsprop: momentum factor ≥ 0 (default 0). */
  momentum?: number;
  /** sgd: dampening for momentum, in [0, 1] (default 0). */
  dampening?: number;
  /** sgd: Nesterov momentum; needs momentum > 0 and dampening 0 (default false). */
  nesterov?: boolean;
  /**
   * All kinds, ≥ 0. L2 penalty added to the gradient (g += wd·p), except for adamw, where it is
   * the decoupled decay p *= 1 − lr·wd. Default 0, or 1e-2 for adamw.
   */
  weightDecay?: number;
  /** adam, adamw: (β1, β2), each in [0, 1) (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** adam, adamw, rmsprop (default 1e-8), adagrad (default 1e-10): > 0. */
  eps?: number;
  /** adam, adamw: use the running maximum of the second moment (default false). */
  amsgrad?: boolean;
  /** rmsprop: smoothing constant in [0, 1] (default 0.99). */
  alpha?: number;
  /** rmsprop: normalise by the estimated variance instead of the second moment (default false). */
  centered?: boolean;
  /** adagrad: learning-rate decay ≥ 0, clr = lr / (1 + (t − 1)·lrDecay) (default 0). */
  lrDecay?: number;
  /** adagrad: starting value ≥ 0 of the `sum` accumulator (default 0). */
  initialAccumulatorValue?: number;
}

/**
 * An optimizer's state, for checkpoints: the number of steps taken and one flat buffer per
 * role, named like torch's state keys (`momentum_buffer`, `exp_avg`, `exp_avg_sq`,
 * `max_exp_avg_sq`, `square_avg`, `grad_avg`, `sum`).
 */
export interface OptimizerState {
  kind: OptimizerKind;
  stepCount: number;
  buffers: Record<string, FloatArray>;
}

/** An optimizer: updates parameters in place from their gradients, as PyTorch's does. */
export interface Optimizer {
  /** The validated configuration with every default filled in (frozen). */
  readonly config: Readonly<OptimizerConfig>;
  /**
   * The learning rate the next step uses. Starts at config.lr; a scheduler may set it before
   * each step. Setting a negative or non-finite value throws a ConfigError.
   */
  lr: number;
  /** Steps taken so far (torch's `step`; the next step uses t = stepCount + 1). */
  readonly stepCount: number;
  /** Number of parameters this optimizer was built for. */
  readonly size: number;
  readonly dtype: DType;
  /** Updates `params` in place from `grads` (both of length `size`). */
  step(params: FloatArray, grads: FloatArray): void;
  /** A snapshot: the buffers are copies, so later steps do not change it. */
  state(): OptimizerState;
  /**
   * Restores a snapshot (copying the values into this optimizer's own buffers), so the next
   * step continues exactly. Throws ConfigError if the kind differs and FormatError (naming the
   * buffer) on a missing, extra, wrongly sized, non-finite or negative-where-impossible buffer.
   */
  loadState(s: OptimizerState): void;
}

const OPTIONS: Record<OptimizerKind, readonly (keyof OptimizerConfig)[]> = {
  sgd: ["lr", "momentum", "dampening", "nesterov", "weightDecay"],
  adam: ["lr", "betas", "eps", "weightDecay", "amsgrad"],
  adamw: ["lr", "betas", "eps", "weightDecay", "amsgrad"],
  rmsprop: ["lr", "alpha", "eps", "weightDecay", "momentum", "centered"],
  adagrad: ["lr", "lrDecay", "weightDecay", "initialAccumulatorValue", "eps"],
};

/** torch's defaults for every option of `kind`; lr defaults to 1e-3 (sgd, adam, adamw) or 1e-2. */
export function defaultOptimizerConfig(kind: OptimizerKind): OptimizerConfig {
  switch (kind) {
    case "sgd":
      return { kind, lr: 1e-3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 };
    case "adam":
    case "adamw":
      return {
        kind,
        lr: 1e-3,
        betas: [0.9, 0.999],
        eps: 1e-8,
        weightDecay: kind === "adamw" ? 1e-2 : 0,
        amsgrad: false,
      };
    case "rmsprop":
      return {
        kind,
        lr: 1e-2,
        alpha: 0.99,
        eps: 1e-8,
        weightDecay: 0,
        momentum: 0,
        centered: false,
      };
    case "adagrad":
      return { kind, lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 };
    default:
      throw new ConfigError(
        "kind",
        `must be one of ${OPTIMIZER_KINDS.join(", ")}; got ${JSON.stringify(kind)}`,
      );
  }
}

function checkNumber(field: string, v: unknown, min: number, max: number, minOpen = false): number {
  if (typeof v !== "number" || !Number.isFinite(v))
    throw new ConfigError(field, `must be a finite number, got ${String(v)}`);
  if ((minOpen ? v <= min : v < min) || v > max) {
    const lo = `${minOpen ? "(" : "["}${min}`;
    const hi = max === Infinity ? "∞)" : `${max}]`;
    throw new ConfigError(field, `must be in ${lo}, ${hi}, got ${v}`);
  }
  return v;
}

function checkBool(field: string, v: unknown): boolean {
  if (typeof v !== "boolean")
    throw new ConfigError(field, `must be true or false, got ${String(v)}`);
  return v;
}

function checkLr(v: unknown): number {
  return checkNumber("lr", v, 0, Infinity);
}

/**
 * Validates a configuration and fills in torch's defaults. Throws ConfigError naming the
 * field on an unknown kind, an option the algorithm does not have, or an out-of-range value.
 */
function resolveOptimizerConfig(config: OptimizerConfig): Readonly<OptimizerConfig> {
  if (typeof config !== "object" || config === null)
    throw new ConfigError("optimizer", "must be an object");
  const kind = config.kind;
  if (!isOptimizerKind(kind))
    throw new ConfigError(
      "kind",
      `must be one of ${OPTIMIZER_KINDS.join(", ")}; got ${JSON.stringify(kind)}`,
    );
  const allowed = OPTIONS[kind] as readonly string[];
  for (const [key, v] of Object.entries(config)) {
    if (key === "kind" || v === undefined) continue;
    if (!allowed.includes(key))
      throw new ConfigError(
        key,
        `is not an option of ${kind} (its options: ${allowed.join(", ")})`,
      );
  }
  if (config.lr === undefined) throw new ConfigError("lr", "is required");
  const c: OptimizerConfig = { ...defaultOptimizerConfig(kind) };
  for (const key of allowed) {
    const v = (config as unknown as Record<string, unknown>)[key];
    if (v !== undefined) (c as unknown as Record<string, unknown>)[key] = v;
  }
  checkLr(c.lr);
  checkNumber("weightDecay", c.weightDecay, 0, Infinity);
  if (kind === "sgd" || kind === "rmsprop") checkNumber("momentum", c.momentum, 0, Infinity);
  if (kind !== "sgd") checkNumber("eps", c.eps, 0, Infinity, true);
  switch (kind) {
    case "sgd":
      checkNumber("dampening", c.dampening, 0, 1);
      checkBool("nesterov", c.nesterov);
      if (c.nesterov && (c.momentum! <= 0 || c.dampening !== 0))
        throw new ConfigError(
          "nesterov",
          `Nesterov momentum requires momentum > 0 and dampening 0 (got momentum ${c.momentum}, dampening ${c.dampening})`,
        );
      break;
    case "adam":
    case "adamw": {
      const b = c.betas;
      if (!Array.isArray(b) || b.length !== 2)
        throw new ConfigError("betas", `must be a pair [beta1, beta2], got ${JSON.stringify(b)}`);
      checkNumber("betas[0]", b[0], 0, 1);
      checkNumber("betas[1]", b[1], 0, 1);
      if (b[0] === 1) throw new ConfigError("betas[0]", "must be in [0, 1), got 1");
      if (b[1] === 1) throw new ConfigError("betas[1]", "must be in [0, 1), got 1");
      c.betas = Object.freeze([b[0], b[1]]) as readonly [number, number];
      checkBool("amsgrad", c.amsgrad);
      break;
    }
    case "rmsprop":
      checkNumber("alpha", c.alpha, 0, 1);
      checkBool("centered", c.centered);
      break;
    case "adagrad":
      checkNumber("lrDecay", c.lrDecay, 0, Infinity);
      checkNumber("initialAccumulatorValue", c.initialAccumulatorValue, 0, Infinity);
      break;
  }
  return Object.freeze(c);
}

/** Buffers whose values can never be negative; loadState rejects negative entries. */
const NON_NEGATIVE = new Set(["exp_avg_sq", "max_exp_avg_sq", "square_avg", "sum"]);

abstract class BaseOptimizer implements Optimizer {
  readonly config: Readonly<OptimizerConfig>;
  readonly size: number;
  readonly dtype: DType;
  protected t = 0;
  private rate: number;
  protected readonly buffers: Record<string, FloatArray> = {};

  constructor(config: Readonly<OptimizerConfig>, size: number, dtype: DType) {
    this.config = config;
    if (!Number.isInteger(size) || size < 0)
      throw new ConfigError("size", `must be a non-negative integer, got ${size}`);
    if (dtype !== "float32" && dtype !== "float64")
      throw new ConfigError("dtype", `must be "float32" or "float64", got ${String(dtype)}`);
    this.size = size;
    this.dtype = dtype;
    this.rate = config.lr;
  }

  get lr(): number {
    return this.rate;
  }
  set lr(v: number) {
    this.rate = checkLr(v);
  }

  get stepCount(): number {
    return this.t;
  }

  protected alloc(name: string, fill = 0): FloatArray {
    const b = allocFloat(this.dtype, this.size);
    if (fill !== 0) b.fill(fill);
    this.buffers[name] = b;
    return b;
  }

  step(params: FloatArray, grads: FloatArray): void {
    if (params.length !== this.size) throw new ShapeError("params", this.size, params.length);
    if (grads.length !== this.size) throw new ShapeError("grads", this.size, grads.length);
    this.t++;
    this.update(params, grads, this.t, this.rate);
  }

  protected abstract update(params: FloatArray, grads: FloatArray, t: number, lr: number): void;

  state(): OptimizerState {
    const buffers: Record<string, FloatArray> = {};
    for (const [name, b] of Object.entries(this.buffers)) buffers[name] = b.slice();
    return { kind: this.config.kind, stepCount: this.t, buffers };
  }

  loadState(s: OptimizerState): void {
    const src = "optimizer state";
    if (typeof s !== "object" || s === null) throw new FormatError(src, "expected an object");
    if (s.kind !== this.config.kind)
      throw new ConfigError(
        "kind",
        `optimizer state is for ${JSON.stringify(s.kind)}, this optimizer is ${this.config.kind}`,
      );
    const n = s.stepCount;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0)
      throw new FormatError(src, `stepCount: expected a non-negative integer, got ${String(n)}`);
    const given = s.buffers;
    if (typeof given !== "object" || given === null)
      throw new FormatError(src, "buffers: expected an object");
    const want = Object.keys(this.buffers);
    for (const name of Object.keys(given))
      if (!want.includes(name))
        throw new FormatError(
          src,
          `buffers.${name}: not a buffer of this ${this.config.kind} optimizer (expected ${want.join(", ") || "none"})`,
        );
    for (const name of want) {
      const b = given[name] as ArrayLike<number> | undefined;
      if (b === undefined || b === null || typeof b.length !== "number")
        throw new FormatError(src, `buffers.${name}: missing`);
      if (b.length !== this.size)
        throw new FormatError(
          src,
          `buffers.${name}: expected ${this.size} elements, got ${b.length}`,
        );
      const nonNeg = NON_NEGATIVE.has(name);
      for (let i = 0; i < b.length; i++) {
        const v = b[i];
        if (typeof v !== "number" || !Number.isFinite(v))
          throw new FormatError(src, `buffers.${name}[${i}]: expected a finite number, got ${v}`);
        if (nonNeg && v < 0)
          throw new FormatError(src, `buffers.${name}[${i}]: must be ≥ 0, got ${v}`);
      }
    }
    for (const name of want) this.buffers[name].set(given[name]);
    this.t = n;
  }
}

class Sgd extends BaseOptimizer {
  private readonly buf: FloatArray | null;

  constructor(config: Readonly<OptimizerConfig>, size: number, dtype: DType) {
    super(config, size, dtype);
    this.buf = config.momentum !== 0 ? this.alloc("momentum_buffer") : null;
  }

  protected update(p: FloatArray, grads: FloatArray, t: number, lr: number): void {
    const wd = this.config.weightDecay!;
    const mom = this.config.momentum!;
    const damp1 = 1 - this.config.dampening!;
    const nesterov = this.config.nesterov!;
    const buf = this.buf;
    const n = this.size;
    if (buf === null) {
      for (let i = 0; i < n; i++) {
        const g = wd !== 0 ? grads[i] + wd * p[i] : grads[i];
        p[i] -= lr * g;
      }
      return;
    }
    const first = t === 1; // torch: the buffer is a clone of the first (decayed) gradient
    for (let i = 0; i < n; i++) {
      let g = wd !== 0 ? grads[i] + wd * p[i] : grads[i];
      buf[i] = first ? g : mom * buf[i] + damp1 * g;
      const b = buf[i]; // read back: the buffer's dtype rounding, as torch
      g = nesterov ? g + mom * b : b;
      p[i] -= lr * g;
    }
  }
}

class Adam extends BaseOptimizer {
  private readonly m: FloatArray;
  private readonly v: FloatArray;
  private readonly vMax: FloatArray | null;
  private readonly decoupled: boolean;

  constructor(config: Readonly<OptimizerConfig>, size: number, dtype: DType) {
    super(config, size, dtype);
    this.decoupled = config.kind === "adamw";
    this.m = this.alloc("exp_avg");
    this.v = this.alloc("exp_avg_sq");
    this.vMax = config.amsgrad ? this.alloc("max_exp_avg_sq") : null;
  }

  protected update(p: FloatArray, grads: FloatArray, t: number, lr: number): void {
    const betas = this.config.betas!;
    const b1 = betas[0]; // indexing, not destructuring: no iterator allocated per step
    const b2 = betas[1];
    const eps = this.config.eps!;
    const wd = this.config.weightDecay!;
    const l2 = this.decoupled ? 0 : wd;
    const decay = this.decoupled ? 1 - lr * wd : 1;
    const stepSize = lr / (1 - b1 ** t);
    const bc2Sqrt = Math.sqrt(1 - b2 ** t);
    const c1 = 1 - b1;
    const c2 = 1 - b2;
    const { m, v, vMax } = this;
    const n = this.size;
    if (decay === 1 && l2 === 0 && vMax === null) {
      // Plain Adam, the common case: the loop below without its per-element branches (the same
      // arithmetic in the same order, so the same bits; about 1.7× faster in V8).
      for (let i = 0; i < n; i++) {
        const g = grads[i];
        m[i] = b1 * m[i] + c1 * g;
        v[i] = b2 * v[i] + c2 * g * g;
        const denom = Math.sqrt(v[i]) / bc2Sqrt + eps;
        p[i] -= stepSize * (m[i] / denom);
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      if (decay !== 1) p[i] *= decay;
      const g = l2 !== 0 ? grads[i] + l2 * p[i] : grads[i];
      m[i] = b1 * m[i] + c1 * g;
      v[i] = b2 * v[i] + c2 * g * g;
      let vi = v[i];
      if (vMax !== null) {
        vMax[i] = Math.max(vMax[i], vi);
        vi = vMax[i];
      }
      // eps after the bias-corrected square root, as torch
      const denom = Math.sqrt(vi) / bc2Sqrt + eps;
      p[i] -= stepSize * (m[i] / denom);
    }
  }
}

class RmsProp extends BaseOptimizer {
  private readonly sq: FloatArray;
  private readonly buf: FloatArray | null;
  private readonly gAvg: FloatArray | null;

  constructor(config: Readonly<OptimizerConfig>, size: number, dtype: DType) {
    super(config, size, dtype);
    this.sq = this.alloc("square_avg");
    this.buf = config.momentum! > 0 ? this.alloc("momentum_buffer") : null;
    this.gAvg = config.centered ? this.alloc("grad_avg") : null;
  }

  protected update(p: FloatArray, grads: FloatArray, _t: number, lr: number): void {
    const alpha = this.config.alpha!;
    const c = 1 - alpha;
    const eps = this.config.eps!;
    const wd = this.config.weightDecay!;
    const mom = this.config.momentum!;
    const { sq, buf, gAvg } = this;
    const n = this.size;
    for (let i = 0; i < n; i++) {
      const g = wd !== 0 ? grads[i] + wd * p[i] : grads[i];
      sq[i] = alpha * sq[i] + c * g * g;
      let avg: number;
      if (gAvg !== null) {
        gAvg[i] = alpha * gAvg[i] + c * g;
        const ga = gAvg[i];
        avg = Math.sqrt(sq[i] - ga * ga) + eps;
      } else avg = Math.sqrt(sq[i]) + eps;
      if (buf !== null) {
        buf[i] = mom * buf[i] + g / avg;
        p[i] -= lr * buf[i];
      } else p[i] -= lr * (g / avg);
    }
  }
}

class Adagrad extends BaseOptimizer {
  private readonly sum: FloatArray;

  constructor(config: Readonly<OptimizerConfig>, size: number, dtype: DType) {
    super(config, size, dtype);
    this.sum = this.alloc("sum", config.initialAccumulatorValue);
  }

  protected update(p: FloatArray, grads: FloatArray, t: number, lr: number): void {
    const eps = this.config.eps!;
    const wd = this.config.weightDecay!;
    const clr = lr / (1 + (t - 1) * this.config.lrDecay!);
    const sum = this.sum;
    const n = this.size;
    for (let i = 0; i < n; i++) {
      const g = wd !== 0 ? grads[i] + wd * p[i] : grads[i];
      sum[i] += g * g;
      const std = Math.sqrt(sum[i]) + eps;
      p[i] -= clr * (g / std);
    }
  }
}

/**
 * Builds an optimizer for `size` parameters whose state buffers have element type `dtype`.
 * Throws ConfigError (naming the field) on an invalid configuration.
 */
export function createOptimizer(config: OptimizerConfig, size: number, dtype: DType): Optimizer {
  const c = resolveOptimizerConfig(config);
  switch (c.kind) {
    case "sgd":
      return new Sgd(c, size, dtype);
    case "adam":
    case "adamw":
      return new Adam(c, size, dtype);
    case "rmsprop":
      return new RmsProp(c, size, dtype);
    case "adagrad":
      return new Adagrad(c, size, dtype);
  }
}
