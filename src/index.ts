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
export type { CellKind, ModelConfig, ModelConfigInput } from "./model/config.js";
export { Objective, readoutFor, type ObjectiveOptions } from "./model/objective.js";
export { StreamSession, type StreamState } from "./model/stream.js";
export type { LossResult, SequenceBatch } from "./model/objective.js";
export { meanSquared, softmaxCrossEntropy, sumSquares, LOSS_KINDS } from "./loss/losses.js";
export type { LossKind } from "./loss/losses.js";
export {
  getBackend,
  initWasm,
  listBackends,
  registerBackend,
  referenceKernels,
} from "./backend/index.js";
export type { KernelMemory, Kernels, MemoryOptions } from "./backend/index.js";
// The operands of Kernels (for a backend of one's own, see registerBackend).
export type * from "./backend/kernels.js";
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
export { initParams, INIT_SCHEMES } from "./model/init.js";
export type { InitOptions } from "./model/init.js";
export { createOptimizer, defaultOptimizerConfig, OPTIMIZER_KINDS } from "./optim/optimizers.js";
export type {
  Optimizer,
  OptimizerConfig,
  OptimizerKind,
  OptimizerState,
} from "./optim/optimizers.js";
export { clipGradNorm, clipGradValue, gradNorm } from "./optim/clip.js";
export { lrAt } from "./optim/schedule.js";
export type { ScheduleConfig } from "./optim/schedule.js";
export { Trainer, TrainingDivergedError } from "./train/trainer.js";
export type {
  Checkpoint,
  TaskState,
  TrainOptions,
  TrainSummary,
  TrainTask,
  TrainerState,
} from "./train/trainer.js";
export type { StopReason, TrainEvent, TrainListener } from "./train/events.js";
export { addingTask, bitRecallTask, noisySineTask } from "./train/synthetic.js";
export { TextTask, streamCrossEntropy } from "./train/text-task.js";
export { SeriesTask, predictWindows, windowsMse } from "./train/series-task.js";
export { sampleText } from "./train/sample.js";
export type { SampleOptions } from "./train/sample.js";
export { evaluateForecasts, forecastSeries, readSeriesMeta } from "./train/forecast.js";
export type { ErrorMetrics, ForecastEvaluation, SeriesMeta } from "./train/forecast.js";
export {
  decodeText,
  oneHot,
  splitTrainValid,
  TextBatches,
  unigramEntropy,
  Vocab,
} from "./data/text.js";
export {
  parseCsvSeries,
  seriesWindowsForSplit,
  SeriesWindows,
  splitSeries,
  StandardScaler,
} from "./data/series.js";
// Sequence classification data (src/data/classify.ts), all of it public.
export * from "./data/classify.js";
// Classification metrics (src/train/metrics.ts), all of it public.
export * from "./train/metrics.js";
export { CharNgramNaiveBayes } from "./train/naive-bayes.js";
export type { NaiveBayesOptions } from "./train/naive-bayes.js";
export { decodeModel, encodeModel } from "./io/model-file.js";
export type { ModelMeta, LoadedModel } from "./io/model-file.js";
export { decodeSafetensors, encodeSafetensors } from "./io/safetensors.js";
export { modelFromResult, trainInWorker, WorkerTrainingError } from "./train/worker-host.js";
export type { TrainInWorkerOptions, WorkerTraining } from "./train/worker-host.js";
export type {
  ClassifyTrainJob,
  SeriesTrainJob,
  TextTrainJob,
  TrainJob,
  WorkerJobCommon,
  WorkerTrainResult,
} from "./train/worker-protocol.js";
// Types the API above takes or returns, exported so that callers (and the API reference) can name them.
export type { OffsetTable, Slot } from "./tensor/offsets.js";
export type { TextTaskOptions } from "./train/text-task.js";
export type { AdamStep, ClippingReplay, FixtureArray, OptimizerReplay } from "./check/fixture.js";
export type { VerifyOptions } from "./check/verify.js";
export type { InputEncoding } from "./io/model-file.js";
export type { SyntheticOptions, SyntheticTask } from "./train/synthetic.js";
export type { ClipResult } from "./optim/clip.js";
export type {
  DecodedSafetensors,
  DecodedTensor,
  DecodeOptions,
  SafetensorsDType,
  SafetensorsInput,
} from "./io/safetensors.js";
export type {
  CsvSeries,
  CsvSeriesOptions,
  MissingPolicy,
  SeriesSplit,
  SeriesWindowOptions,
} from "./data/series.js";
export type { EncodeOptions, EncodeReport, UnknownPolicy } from "./data/text.js";
