/**
 * Replays the optimizer steps (`optimizers`) and the gradient clipping (`clipping`) of a golden
 * fixture, as test/fixtures/README.md describes them, and returns the scaled error of every
 * compared value. Grads, params and moments are compared per parameter tensor; each entry holds
 * the maximum over the tensors (the worst tensor), so names stay short:
 * `optimizers.adam.step2.exp_avg`, `clipping.grads_after`, …
 */
import { Objective } from "../model/objective.js";
import type { LstmModel } from "../model/model.js";
import { clipGradNorm, gradNorm } from "../optim/clip.js";
import {
  createOptimizer,
  isOptimizerKind,
  type OptimizerConfig,
  type OptimizerKind,
} from "../optim/optimizers.js";
import type { DType, FloatArray } from "../tensor/dtype.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import { scalarError, scaledError } from "./compare.js";
import type { Fixture, FixtureArray, OptimizerReplay } from "./fixture.js";
import { fixtureBatch, modelFromFixture } from "./fixture-model.js";

export interface ReplayOptions {
  /** Kernel backend name (default: the fastest available). */
  backend?: string;
  /** Names the file in FormatErrors (default: the fixture's name). */
  file?: string;
}

/** torch hyper-parameter name → OptimizerConfig field. */
const HYPER: Record<string, keyof OptimizerConfig> = {
  lr: "lr",
  momentum: "momentum",
  dampening: "dampening",
  nesterov: "nesterov",
  weight_decay: "weightDecay",
  betas: "betas",
  eps: "eps",
  amsgrad: "amsgrad",
  alpha: "alpha",
  centered: "centered",
  lr_decay: "lrDecay",
  initial_accumulator_value: "initialAccumulatorValue",
};

/** torch param_group flags this library does not implement; accepted only at their defaults. */
const IGNORED_AT_DEFAULT: Record<string, unknown> = {
  maximize: false,
  foreach: null,
  capturable: false,
  differentiable: false,
  fused: null,
};

/** Builds an OptimizerConfig from the `hyperparameters` of `optimizers.<name>` in a fixture. */
export function optimizerConfigFromFixture(
  name: string,
  hyper: Record<string, unknown>,
  source: string,
): OptimizerConfig {
  const path = `optimizers.${name}`;
  const kind: OptimizerKind | undefined = isOptimizerKind(name) ? name : undefined;
  if (kind === undefined)
    throw new FormatError(
      source,
      `${path}: unknown optimizer "${name}" (known: sgd, adam, adamw, rmsprop, adagrad)`,
    );
  const config: Record<string, unknown> = { kind };
  for (const [key, v] of Object.entries(hyper)) {
    const field = HYPER[key];
    if (field === undefined) {
      if (key in IGNORED_AT_DEFAULT && (v === IGNORED_AT_DEFAULT[key] || v === undefined)) continue;
      throw new FormatError(
        source,
        `${path}.hyperparameters.${key}: ${key in IGNORED_AT_DEFAULT ? `only ${JSON.stringify(IGNORED_AT_DEFAULT[key])} is supported` : "unknown hyper-parameter"}, got ${JSON.stringify(v)}`,
      );
    }
    config[field] = v;
  }
  try {
    createOptimizer(config as unknown as OptimizerConfig, 0, "float64");
  } catch (e) {
    if (e instanceof ConfigError)
      throw new FormatError(source, `${path}.hyperparameters: ${e.message}`);
    throw e;
  }
  return config as unknown as OptimizerConfig;
}

/** Max over the parameter tensors of the scaled error of `flat` (model layout) against `ref`. */
function worstTensor(
  model: LstmModel,
  flat: FloatArray,
  ref: Record<string, FixtureArray>,
  order: string[],
): number {
  let worst = 0;
  for (const name of order) {
    const slot = model.layout.get(name);
    const e = scaledError(flat.subarray(slot.offset, slot.offset + slot.size), ref[name].data);
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

/** One optimizer record of a fixture to replay, and where its errors go. */
interface ReplayJob {
  f: Fixture;
  /** The optimizer's name in the file (`sgd`, `adam`, …) and its record. */
  name: string;
  rec: OptimizerReplay;
  dtype: DType;
  /** Names the file in FormatErrors. */
  source: string;
  backend?: string;
}

function replayOne(job: ReplayJob, out: Record<string, number>): void {
  const { f, name, rec, dtype, source, backend } = job;
  const config = optimizerConfigFromFixture(name, rec.hyper, source);
  const model = modelFromFixture(f, dtype, backend);
  const objective = new Objective(model, f.loss);
  const opt = createOptimizer(config, model.numParams, dtype);
  const batch = fixtureBatch(f);
  const key = `optimizers.${name}`;
  rec.steps.forEach((s, i) => {
    if (s.step !== i + 1)
      throw new FormatError(source, `${key}.steps[${i}].step: expected ${i + 1}, got ${s.step}`);
    const k = `${key}.step${s.step}`;
    model.zeroGrad();
    const { loss } = objective.run(batch);
    out[`${k}.loss_before`] = scalarError(loss, s.lossBefore);
    out[`${k}.grads`] = worstTensor(model, model.grads, s.grads, f.paramOrder);
    opt.step(model.params, model.grads);
    out[`${k}.params_after`] = worstTensor(model, model.params, s.paramsAfter, f.paramOrder);
    if (s.expAvg !== undefined || s.expAvgSq !== undefined) {
      const buffers = opt.state().buffers;
      for (const [role, ref] of [
        ["exp_avg", s.expAvg],
        ["exp_avg_sq", s.expAvgSq],
      ] as const) {
        if (ref === undefined) continue;
        const b = buffers[role];
        if (b === undefined)
          throw new FormatError(source, `${key}.steps[${i}].${role}: ${name} has no such state`);
        out[`${k}.${role}`] = worstTensor(model, b, ref, f.paramOrder);
      }
    }
  });
  if (rec.lossAfterLastStep !== undefined) {
    const { loss } = objective.run(batch, false);
    out[`${key}.loss_after_last_step`] = scalarError(loss, rec.lossAfterLastStep);
  }
}

/**
 * Replays every optimizer and the clipping record of `f` in `dtype` and returns the scaled
 * errors, keyed `optimizers.<name>.step<k>.<what>`, `optimizers.<name>.loss_after_last_step`
 * and `clipping.<what>`. Empty when the fixture has neither. An unknown optimizer name or an
 * unusable hyper-parameter is a FormatError.
 */
export function replayOptimizers(
  f: Fixture,
  dtype: DType,
  opts: ReplayOptions = {},
): Record<string, number> {
  const out: Record<string, number> = {};
  const source = opts.file ?? f.name;
  const backend = opts.backend;
  for (const [name, rec] of Object.entries(f.optimizers))
    replayOne({ f, name, rec, dtype, source, backend }, out);

  const c = f.clipping;
  if (c !== undefined) {
    if (c.normType !== 2)
      throw new FormatError(source, `clipping.norm_type: only 2 is supported, got ${c.normType}`);
    if (!(c.maxNorm > 0)) throw new FormatError(source, `clipping.max_norm: must be > 0`);
    if (!(c.eps >= 0)) throw new FormatError(source, `clipping.eps: must be ≥ 0`);
    const model = modelFromFixture(f, dtype, backend);
    model.zeroGrad();
    new Objective(model, f.loss).run(fixtureBatch(f));
    const { totalNorm, scale } = clipGradNorm(model.grads, c.maxNorm, c.eps);
    out["clipping.total_norm_before"] = scalarError(totalNorm, c.totalNormBefore);
    out["clipping.clip_coef"] = scalarError(c.maxNorm / (totalNorm + c.eps), c.clipCoef);
    out["clipping.scale_applied"] = scalarError(scale, c.scaleApplied);
    if (c.totalNormAfter !== null)
      out["clipping.total_norm_after"] = scalarError(gradNorm(model.grads), c.totalNormAfter);
    out["clipping.grads_after"] = worstTensor(model, model.grads, c.gradsAfter, f.paramOrder);
  }
  return out;
}
