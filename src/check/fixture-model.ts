/** A model built from a golden fixture's configuration and parameters (verify.ts, replay.ts). */
import { getBackend } from "../backend/index.js";
import { LstmModel } from "../model/model.js";
import type { SequenceBatch } from "../model/objective.js";
import type { DType } from "../tensor/dtype.js";
import type { Fixture } from "./fixture.js";

/** Builds a model of the fixture's config and dtype holding the fixture's parameters. */
export function modelFromFixture(
  f: Fixture,
  dtype: DType,
  backend?: string,
  threads?: number,
): LstmModel {
  // A backend that does not compute in this dtype (wasm: float32 only) leaves it to the reference.
  const usable =
    backend !== undefined && getBackend(backend).dtypes.includes(dtype) ? backend : undefined;
  const model = new LstmModel(f.config, { dtype, backend: usable, threads });
  for (const name of f.paramOrder) model.setParam(name, f.params[name].data, f.params[name].shape);
  return model;
}

/** The fixture's inputs and targets as the batch the objective runs on. */
export function fixtureBatch(f: Fixture): SequenceBatch {
  return {
    x: f.inputs.x.data,
    seqLen: f.seqLen,
    batch: f.batch,
    batchFirst: f.batchFirst,
    h0: f.inputs.h0.data,
    c0: f.inputs.c0?.data,
    targets: f.inputs.targets.data,
    lengths: f.inputs.lengths?.data,
  };
}
