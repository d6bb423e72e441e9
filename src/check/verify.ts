/**
 * Replays a golden fixture: forward, loss and BPTT in the chosen dtype, then compares every
 * output, the loss, every gradient and the saved activations with the PyTorch reference, and
 * replays the file's optimizer steps and gradient clipping, if any (see replay.ts).
 */
import { Objective } from "../model/objective.js";
import type { DType } from "../tensor/dtype.js";
import { layerSuffix, numDirections } from "../model/config.js";
import { scalarError, scaledError } from "./compare.js";
import type { Fixture } from "./fixture.js";
import { fixtureBatch, modelFromFixture } from "./fixture-model.js";
import { replayOptimizers } from "./replay.js";

/** Pass thresholds on the scaled error, per dtype. */
export const TOLERANCE: Record<DType, number> = { float64: 1e-9, float32: 1e-4 };

/** What `verifyFixture` found for one fixture and dtype: the scaled error of every tensor compared, and whether all are within tolerance. */
export interface VerifyResult {
  file: string;
  dtype: DType;
  ok: boolean;
  maxScaledError: number;
  /** Scaled error per compared tensor (`loss`, `y`, `h_n`, `grads.x`, …). */
  tensors: Record<string, number>;
}

/** Kernel backend and threads for verifyFixture. */
export interface VerifyOptions {
  backend?: string;
  /** Threads for the forward and backward pass (ModelOptions.threads; default 1). */
  threads?: number;
}

/** Runs a fixture's forward and backward pass (and its optimizer and clipping replays) in one dtype and compares every tensor with PyTorch's. */
export function verifyFixture(
  f: Fixture,
  dtype: DType,
  file = f.name,
  opts: VerifyOptions = {},
): VerifyResult {
  const tensors: Record<string, number> = {};
  const model = modelFromFixture(f, dtype, opts.backend, opts.threads);
  const objective = new Objective(model, f.loss);
  model.zeroGrad();
  const { loss, forward, backward } = objective.run({
    ...fixtureBatch(f),
    // Dropout files: train mode with the file's masks.
    ...(f.spec.dropout ? { mode: "train" as const, dropoutMasks: dropoutMasks(f) } : {}),
  });
  tensors.loss = scalarError(loss, f.outputs.loss);
  tensors.y = scaledError(forward.y, f.outputs.y.data);
  tensors.h_n = scaledError(forward.hN, f.outputs.hN.data);
  if (f.outputs.cN) tensors.c_n = scaledError(forward.cN, f.outputs.cN.data);
  for (const name of f.paramOrder)
    tensors[`grads.${name}`] = scaledError(model.grad(name), f.grads[name].data);
  if (f.grads.x) tensors["grads.x"] = scaledError(backward!.dx, f.grads.x.data);
  tensors["grads.h0"] = scaledError(backward!.dh0, f.grads.h0.data);
  if (f.grads.c0) tensors["grads.c0"] = scaledError(backward!.dc0, f.grads.c0.data);
  for (let l = 0; l < f.config.numLayers; l++)
    for (let d = 0; d < numDirections(f.config); d++) {
      const key = layerSuffix(l, d);
      const ref = f.intermediates[key];
      if (!ref) continue;
      const act = model.activations(l, d);
      tensors[`intermediates.${key}.gates`] = scaledError(act.gates, ref.gates.data);
      tensors[`intermediates.${key}.c`] = scaledError(act.c, ref.c.data);
      tensors[`intermediates.${key}.h`] = scaledError(act.h, ref.h.data);
    }
  // Optimizer steps and gradient clipping (optim_* and clip_* files only).
  Object.assign(tensors, replayOptimizers(f, dtype, { backend: opts.backend, file }));

  model.dispose();
  const maxScaledError = Math.max(...Object.values(tensors));
  return { file, dtype, ok: maxScaledError <= TOLERANCE[dtype], maxScaledError, tensors };
}

/** The file's masks as ForwardOptions.dropoutMasks takes them. */
function dropoutMasks(f: Fixture): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [key, m] of Object.entries(f.inputs.dropoutMasks)) out[key] = m.data;
  return out;
}
