/**
 * lstm-ts: LSTM networks with exact backpropagation through time, PyTorch-compatible.
 * This entry point is browser-safe (no file system); `lstm-ts/node` adds file I/O.
 */
export { LstmModel } from "./model/model.js";
export type {
  BackwardOptions,
  BackwardResult,
  ForwardOptions,
  ForwardResult,
  ModelOptions,
  Readout,
} from "./model/model.js";
export { makeConfig, paramLayout } from "./model/config.js";
export type { ModelConfig, ModelConfigInput } from "./model/config.js";
export { Objective, readoutFor } from "./model/objective.js";
export type { LossResult, SequenceBatch } from "./model/objective.js";
export { meanSquared, softmaxCrossEntropy, sumSquares, LOSS_KINDS } from "./loss/losses.js";
export type { LossKind } from "./loss/losses.js";
export { getBackend, listBackends, registerBackend, referenceKernels } from "./backend/index.js";
export type { Kernels } from "./backend/index.js";
export { Rng } from "./tensor/rng.js";
export type { DType, FloatArray } from "./tensor/dtype.js";
export {
  ConfigError,
  DataError,
  FormatError,
  LstmError,
  NonFiniteError,
  ShapeError,
} from "./tensor/errors.js";
export { parseFixture, readFixture } from "./check/fixture.js";
export type { Fixture } from "./check/fixture.js";
export { verifyFixture, TOLERANCE } from "./check/verify.js";
export type { VerifyResult } from "./check/verify.js";
