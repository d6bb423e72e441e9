/**
 * Reader for the PyTorch golden-fixture format (`lstm-golden-fixture`, version 1; see
 * test/fixtures/README.md). Every field is checked against the configuration before use, so a
 * malformed file gives a FormatError that names the field, never a crash.
 */
import { FIXTURE_LOSS_KINDS, type LossKind } from "../loss/losses.js";
import { layerSuffix, makeConfig, paramLayout, type ModelConfig } from "../model/config.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import { numel, sameShape } from "../tensor/shape.js";

/** A tensor in a fixture file: shape and row-major data. */
export interface FixtureArray {
  shape: number[];
  data: number[];
}

/** One optimizer step of a replay: the loss and gradients before it, the parameters (and Adam moments) after it. */
export interface AdamStep {
  step: number;
  lossBefore: number;
  grads: Record<string, FixtureArray>;
  paramsAfter: Record<string, FixtureArray>;
  expAvg?: Record<string, FixtureArray>;
  expAvgSq?: Record<string, FixtureArray>;
}

/** An optimizer replay in a fixture: PyTorch's hyperparameters and the parameters after each step. */
export interface OptimizerReplay {
  /** `hyperparameters` as written in the file (lr, betas, eps, momentum, …). */
  hyper: Record<string, unknown>;
  steps: AdamStep[];
  lossAfterLastStep?: number;
}

/** A gradient-clipping replay in a fixture: clip_grad_norm_'s settings, the norm it measured and the gradients it left. */
export interface ClippingReplay {
  maxNorm: number;
  eps: number;
  normType: number;
  totalNormBefore: number;
  clipCoef: number;
  scaleApplied: number;
  totalNormAfter: number;
  gradsBefore: Record<string, FixtureArray>;
  gradsAfter: Record<string, FixtureArray>;
}

/** A PyTorch golden fixture, parsed: the model, inputs, initial state, loss and every expected tensor (see test/fixtures/README.md). */
export interface Fixture {
  name: string;
  config: ModelConfig;
  seqLen: number;
  batch: number;
  batchFirst: boolean;
  loss: LossKind;
  paramOrder: string[];
  params: Record<string, FixtureArray>;
  inputs: { x: FixtureArray; h0: FixtureArray; c0: FixtureArray; targets: FixtureArray };
  outputs: { y: FixtureArray; hN: FixtureArray; cN: FixtureArray; loss: number };
  /** d loss / d tensor for every parameter and for x, h0, c0. */
  grads: Record<string, FixtureArray>;
  /** Per layer-direction key (`l0`, `l0_reverse`, …): gates [T,B,4H], c and h [T,B,H]. */
  intermediates: Record<string, { gates: FixtureArray; c: FixtureArray; h: FixtureArray }>;
  optimizers: Record<string, OptimizerReplay>;
  clipping?: ClippingReplay;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

class Reader {
  constructor(readonly source: string) {}

  fail(path: string, msg: string): never {
    throw new FormatError(this.source, `${path}: ${msg}`);
  }

  obj(v: unknown, path: string): Obj {
    if (!isObj(v)) this.fail(path, "expected an object");
    return v;
  }

  int(v: unknown, path: string, min = 1, max = 1 << 24): number {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
      this.fail(path, `expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return v;
  }

  num(v: unknown, path: string): number {
    if (typeof v !== "number" || !Number.isFinite(v))
      this.fail(path, `expected a finite number, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(v: unknown, path: string): boolean {
    if (typeof v !== "boolean") this.fail(path, `expected true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  /** An array object {shape, data}, checked against the expected shape. */
  array(v: unknown, path: string, expect: readonly number[], integer = false): FixtureArray {
    const o = this.obj(v, path);
    const shape = o.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
      this.fail(`${path}.shape`, "expected a list of non-negative integers");
    if (!sameShape(shape, expect))
      this.fail(`${path}.shape`, `expected [${expect.join(", ")}], got [${shape.join(", ")}]`);
    const data = o.data;
    if (!Array.isArray(data)) this.fail(`${path}.data`, "expected a list of numbers");
    if (data.length !== numel(expect))
      this.fail(
        `${path}.data`,
        `expected ${numel(expect)} numbers for shape [${expect.join(", ")}], got ${data.length}`,
      );
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      if (typeof x !== "number" || !Number.isFinite(x) || (integer && !Number.isInteger(x)))
        this.fail(
          `${path}.data[${i}]`,
          `expected a finite ${integer ? "integer" : "number"}, got ${JSON.stringify(x)}`,
        );
    }
    return { shape: shape as number[], data: data as number[] };
  }

  /** {name: array} for every parameter name. */
  paramMap(
    v: unknown,
    path: string,
    shapes: Map<string, readonly number[]>,
  ): Record<string, FixtureArray> {
    const o = this.obj(v, path);
    const out: Record<string, FixtureArray> = {};
    for (const [name, shape] of shapes)
      out[name] = this.array(o[name], `${path}["${name}"]`, shape);
    return out;
  }
}

/** Validates a parsed fixture object. `source` names the file in errors. */
export function readFixture(json: unknown, source: string): Fixture {
  const r: Reader = new Reader(source);
  const root = r.obj(json, "(root)");
  if (root.format !== "lstm-golden-fixture")
    r.fail("format", `expected "lstm-golden-fixture", got ${JSON.stringify(root.format)}`);
  if (root.format_version !== 1)
    r.fail(
      "format_version",
      `version ${JSON.stringify(root.format_version)} is not supported (this reader knows 1)`,
    );
  const c = r.obj(root.config, "config");
  const I = r.int(c.input_size, "config.input_size");
  const H = r.int(c.hidden_size, "config.hidden_size");
  const L = r.int(c.num_layers, "config.num_layers", 1, 64);
  const bidirectional = r.bool(c.bidirectional, "config.bidirectional");
  const D = bidirectional ? 2 : 1;
  if (c.num_directions !== undefined && c.num_directions !== D)
    r.fail(
      "config.num_directions",
      `is ${JSON.stringify(c.num_directions)} but bidirectional is ${bidirectional}`,
    );
  const T = r.int(c.seq_len, "config.seq_len");
  const B = r.int(c.batch, "config.batch");
  const batchFirst = r.bool(c.batch_first, "config.batch_first");
  if (!(FIXTURE_LOSS_KINDS as readonly unknown[]).includes(c.loss))
    r.fail("config.loss", `expected sum_sq, mse_last or xent, got ${JSON.stringify(c.loss)}`);
  const loss = c.loss as LossKind;
  const O = r.int(c.head_out_size, "config.head_out_size");
  let config: ModelConfig;
  try {
    config = makeConfig({
      inputSize: I,
      hiddenSize: H,
      numLayers: L,
      bidirectional,
      outputSize: O,
    });
  } catch (e) {
    if (e instanceof ConfigError) r.fail("config", e.message);
    throw e;
  }

  const layout = paramLayout(config);
  const shapes = new Map(layout.list().map((s) => [s.name, s.shape] as const));
  const order = root.param_order;
  if (!Array.isArray(order) || !order.every((n) => typeof n === "string"))
    r.fail("param_order", "expected a list of parameter names");
  const want = [...shapes.keys()];
  if (order.length !== want.length || order.some((n, i) => n !== want[i]))
    r.fail(
      "param_order",
      `expected [${want.join(", ")}] for this config, got [${order.join(", ")}]`,
    );

  const seq = (w: number): number[] => (batchFirst ? [B, T, w] : [T, B, w]);
  const state = [L * D, B, H];
  const targetShape =
    loss === "sum_sq" ? seq(O) : loss === "mse_last" ? [B, O] : batchFirst ? [B, T] : [T, B];

  const inp = r.obj(root.inputs, "inputs");
  const inputs = {
    x: r.array(inp.x, "inputs.x", seq(I)),
    h0: r.array(inp.h0, "inputs.h0", state),
    c0: r.array(inp.c0, "inputs.c0", state),
    targets: r.array(inp.targets, "inputs.targets", targetShape, loss === "xent"),
  };
  if (loss === "xent") {
    const bad = inputs.targets.data.findIndex((k) => k < 0 || k >= O);
    if (bad >= 0)
      r.fail(
        `inputs.targets.data[${bad}]`,
        `class ${inputs.targets.data[bad]} is outside [0, ${O})`,
      );
  }
  const out = r.obj(root.outputs, "outputs");
  const outputs = {
    y: r.array(out.y, "outputs.y", seq(D * H)),
    hN: r.array(out.h_n, "outputs.h_n", state),
    cN: r.array(out.c_n, "outputs.c_n", state),
    loss: r.num(out.loss, "outputs.loss"),
  };
  const g = r.obj(root.grads, "grads");
  const grads = r.paramMap(g, "grads", shapes);
  grads.x = r.array(g.x, "grads.x", seq(I));
  grads.h0 = r.array(g.h0, "grads.h0", state);
  grads.c0 = r.array(g.c0, "grads.c0", state);

  const intermediates: Fixture["intermediates"] = {};
  if (root.intermediates !== undefined) {
    const im = r.obj(root.intermediates, "intermediates");
    for (let l = 0; l < L; l++)
      for (let d = 0; d < D; d++) {
        const key = layerSuffix(l, d);
        if (im[key] === undefined) continue;
        const e = r.obj(im[key], `intermediates.${key}`);
        intermediates[key] = {
          gates: r.array(e.gates, `intermediates.${key}.gates`, [T, B, 4 * H]),
          c: r.array(e.c, `intermediates.${key}.c`, [T, B, H]),
          h: r.array(e.h, `intermediates.${key}.h`, [T, B, H]),
        };
      }
  }

  const optimizers: Record<string, OptimizerReplay> = {};
  if (root.optimizers !== undefined) {
    const opt = r.obj(root.optimizers, "optimizers");
    for (const [name, v] of Object.entries(opt)) {
      const p = `optimizers.${name}`;
      const o = r.obj(v, p);
      if (!Array.isArray(o.steps) || o.steps.length === 0)
        r.fail(`${p}.steps`, "expected a non-empty list");
      const hyper = r.obj(o.hyperparameters ?? {}, `${p}.hyperparameters`);
      const steps = o.steps.map((sv, i): AdamStep => {
        const sp = `${p}.steps[${i}]`;
        const s = r.obj(sv, sp);
        return {
          step: r.int(s.step, `${sp}.step`),
          lossBefore: r.num(s.loss_before, `${sp}.loss_before`),
          grads: r.paramMap(s.grads, `${sp}.grads`, shapes),
          paramsAfter: r.paramMap(s.params_after, `${sp}.params_after`, shapes),
          expAvg:
            s.exp_avg === undefined ? undefined : r.paramMap(s.exp_avg, `${sp}.exp_avg`, shapes),
          expAvgSq:
            s.exp_avg_sq === undefined
              ? undefined
              : r.paramMap(s.exp_avg_sq, `${sp}.exp_avg_sq`, shapes),
        };
      });
      optimizers[name] = {
        hyper,
        steps,
        lossAfterLastStep:
          o.loss_after_last_step === undefined
            ? undefined
            : r.num(o.loss_after_last_step, `${p}.loss_after_last_step`),
      };
    }
  }

  let clipping: ClippingReplay | undefined;
  if (root.clipping !== undefined) {
    const cl = r.obj(root.clipping, "clipping");
    clipping = {
      maxNorm: r.num(cl.max_norm, "clipping.max_norm"),
      eps: r.num(cl.eps ?? 1e-6, "clipping.eps"),
      normType: r.num(cl.norm_type ?? 2, "clipping.norm_type"),
      totalNormBefore: r.num(cl.total_norm_before, "clipping.total_norm_before"),
      clipCoef: r.num(cl.clip_coef, "clipping.clip_coef"),
      scaleApplied: r.num(cl.scale_applied, "clipping.scale_applied"),
      totalNormAfter: r.num(cl.total_norm_after, "clipping.total_norm_after"),
      gradsBefore: r.paramMap(cl.grads_before, "clipping.grads_before", shapes),
      gradsAfter: r.paramMap(cl.grads_after, "clipping.grads_after", shapes),
    };
  }

  return {
    name: typeof root.name === "string" ? root.name : source,
    config,
    seqLen: T,
    batch: B,
    batchFirst,
    loss,
    paramOrder: order as string[],
    params: r.paramMap(root.params, "params", shapes),
    inputs,
    outputs,
    grads,
    intermediates,
    optimizers,
    clipping,
  };
}

/** Parses JSON text and validates it; JSON syntax errors become FormatError. */
export function parseFixture(text: string, source: string): Fixture {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FormatError(source, `not valid JSON (${(e as Error).message})`);
  }
  return readFixture(json, source);
}
