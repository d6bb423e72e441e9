/**
 * Every JSON structure that lstm-ts writes into or reads from a file, described once with valibot
 * (docs/model-format.md says why valibot): the model `__metadata__` entries (config, input, vocab,
 * series with its scaler, training summary), the checkpoint entries (trainer state, optimizer,
 * run options, task state) and the lstm-ts metadata a Keras or TF.js export carries. Writers and
 * readers share the types derived here; `parseField` turns the first problem into a FormatError
 * that names the file and the field (`series.scaler.std[2]: expected a number > 0, got 0`).
 *
 * These schemas check each value on its own; `checkMetaAgainstConfig` then checks the metadata
 * against the model's sizes (vocabulary vs input/output size, series columns, horizon × targets vs
 * head outputs, scaler length), so every loader (model files, checkpoints, imports) refuses a file
 * whose metadata does not fit its weights.
 */
import * as v from "valibot";
import type { ModelConfig } from "../model/config.js";
import { INIT_SCHEMES } from "../model/init.js";
import { OPTIMIZER_KINDS } from "../optim/optimizers.js";
import { SCHEDULE_KINDS } from "../optim/schedule.js";
import { FormatError } from "../tensor/errors.js";

// ------------------------------------------------------------------------------------------------
// Building blocks

/** A finite number. */
export const finite = v.pipe(v.number(), v.finite("expected a finite number"));
/** An integer ≥ 0. */
export const count = v.pipe(
  v.number(),
  v.safeInteger("expected an integer"),
  v.minValue(0, "expected ≥ 0"),
);
/** An integer ≥ 1. */
export const positiveInt = v.pipe(
  v.number(),
  v.safeInteger("expected an integer"),
  v.minValue(1, "expected an integer ≥ 1"),
);
const nonEmptyStrings = v.pipe(
  v.array(v.string()),
  v.minLength(1, "expected a non-empty list of names"),
);

/** The path of a valibot issue as it reads in a JSON file: `scaler.std[2]`. */
function issuePath(issue: v.BaseIssue<unknown>): string {
  let out = "";
  for (const item of issue.path ?? []) {
    const key = (item as { key: unknown }).key;
    out += typeof key === "number" ? `[${key}]` : out ? `.${String(key)}` : String(key);
  }
  return out;
}

/** valibot's `("a" | "b")` as `one of "a", "b"`. */
function expectedText(expected: string | null): string {
  const m = /^\((.*)\)$/.exec(expected ?? "");
  return m ? `one of ${m[1].split(" | ").join(", ")}` : (expected ?? "another value");
}

function describe(x: unknown): string {
  if (x === undefined) return "nothing";
  const s = JSON.stringify(x);
  return s === undefined ? String(x) : s.length > 40 ? `${s.slice(0, 37)}…` : s;
}

const OBJECT_TYPES = new Set(["object", "loose_object", "strict_object", "record", "variant"]);

/** The type of a schema, or of the first schema of its pipe. */
function outerType(schema: v.GenericSchema): string {
  const pipe = (schema as { pipe?: readonly { type: string }[] }).pipe;
  return pipe ? pipe[0].type : schema.type;
}

/**
 * Validates `value` against `schema`. The first issue becomes a FormatError naming `source` and
 * the field: `where` (e.g. `__metadata__.series`) followed by the path inside the value.
 */
export function parseField<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  at: { source: string; where: string },
): v.InferOutput<S> {
  // valibot's objects accept arrays (typeof "object"); a JSON list is never one of our objects.
  if (Array.isArray(value) && OBJECT_TYPES.has(outerType(schema)))
    throw new FormatError(
      at.source,
      `${at.where || "(root)"}: expected Object, got ${describe(value)}`,
    );
  const r = v.safeParse(schema, value);
  if (r.success) return r.output;
  const issue = r.issues[0];
  const inner = issuePath(issue);
  const field = !at.where
    ? inner || "(root)"
    : !inner
      ? at.where
      : inner.startsWith("[")
        ? at.where + inner
        : `${at.where}.${inner}`;
  const what =
    issue.input === undefined && issue.kind === "schema"
      ? "missing"
      : issue.kind === "schema"
        ? `expected ${expectedText(issue.expected)}, got ${describe(issue.input)}`
        : `${issue.message}, got ${describe(issue.input)}`;
  throw new FormatError(at.source, `${field}: ${what}`);
}

/** Parses a JSON text, then validates it: both failures are FormatErrors naming the field. */
export function parseJsonField<S extends v.GenericSchema>(
  schema: S,
  text: string,
  at: { source: string; where: string },
): v.InferOutput<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new FormatError(at.source, `${at.where} is not valid JSON`);
  }
  return parseField(schema, json, at);
}

// ------------------------------------------------------------------------------------------------
// Model metadata (`__metadata__` of a model file; a checkpoint holds the same entries)

const probability = v.pipe(
  finite,
  v.minValue(0, "expected a probability in [0, 1)"),
  v.ltValue(1, "expected a probability in [0, 1)"),
);

/**
 * `config`: the cell and sizes, snake_case as in PyTorch. `cell` absent: "lstm" (older files).
 * The other optional entries are written only when the feature is on (embedding input,
 * projection, tied head, dropout), so older files read as before.
 */
export const ModelConfigSchema = v.object({
  cell: v.optional(v.picklist(["lstm", "gru"])),
  input_size: positiveInt,
  hidden_size: positiveInt,
  num_layers: positiveInt,
  bidirectional: v.boolean(),
  output_size: positiveInt,
  embedding: v.optional(
    v.object({
      num_embeddings: positiveInt,
      padding_idx: v.nullable(v.pipe(v.number(), v.integer(), v.minValue(0))),
    }),
  ),
  proj_size: v.optional(positiveInt),
  tied_head: v.optional(v.boolean()),
  dropout: v.optional(
    v.object({ input: probability, between_layers: probability, output: probability }),
  ),
});
export type ModelConfigJson = v.InferOutput<typeof ModelConfigSchema>;

export const TaskSchema = v.picklist(["text", "series", "generic", "classify"]);

/**
 * Sequence classifiers: how to encode an input exactly as the training rows were, and the class
 * of each head output (docs/classification.md, "Classifier metadata").
 */
export const ClassifierMetaSchema = v.object({
  kind: v.picklist(["chars", "numbers"]),
  textColumn: v.string(),
  labelColumn: v.string(),
  /** Output c of the model is classes[c]. */
  classes: v.pipe(
    v.array(v.pipe(v.string(), v.minLength(1, "expected a non-empty label"))),
    v.minLength(2, "expected at least 2 classes"),
    v.check((a) => new Set(a).size === a.length, "expected distinct classes"),
  ),
  /** "chars": the characters of ids 1 … V−1 (id 0 is padding). */
  vocab: v.nullable(v.array(v.string())),
  features: positiveInt,
  scaler: v.nullable(v.object({ mean: v.array(v.number()), std: v.array(v.number()) })),
});
export type ClassifierMetaJson = v.InferOutput<typeof ClassifierMetaSchema>;

/**
 * How inputs enter the LSTM: one-hot characters (I = V), token ids through the model's embedding
 * table (config.embedding, V rows), or dense features (series).
 */
export const InputEncodingSchema = v.variant("kind", [
  v.object({ kind: v.literal("one-hot") }),
  v.object({ kind: v.literal("embedding") }),
  v.object({ kind: v.literal("dense") }),
]);
/** How a model's input is encoded: one-hot over a vocabulary, or dense features. */
export type InputEncoding = v.InferOutput<typeof InputEncodingSchema>;

/** Text models: the characters in index order, each one character, all distinct. */
export const VocabSchema = v.pipe(
  v.array(
    v.pipe(
      v.string(),
      v.check((c) => [...c].length === 1, "expected one character"),
    ),
  ),
  v.minLength(1, "expected a non-empty list of characters"),
  v.check((a) => new Set(a).size === a.length, "has duplicate characters"),
);

/** The series scaler: (value − mean) / std per column. */
export const ScalerSchema = v.pipe(
  v.object({
    mean: v.pipe(v.array(finite), v.minLength(1, "expected one number per column")),
    std: v.pipe(
      v.array(v.pipe(finite, v.gtValue(0, "expected a number > 0"))),
      v.minLength(1, "expected one number per column"),
    ),
  }),
  v.check(
    (s) => s.mean.length === s.std.length,
    (issue) => {
      const s = issue.input as { mean: number[]; std: number[] };
      return `mean has ${s.mean.length} entries but std has ${s.std.length}`;
    },
  ),
);
export type ScalerJson = v.InferOutput<typeof ScalerSchema>;

const RowRange = v.tuple([count, count]);

/** Series models: what the forecaster needs besides the weights. */
export const SeriesMetaSchema = v.looseObject({
  columns: nonEmptyStrings,
  /** Default: all columns. */
  targetColumns: v.optional(nonEmptyStrings),
  timeColumn: v.optional(v.nullable(v.string()), null),
  /** Rows predicted per window, K (default 1). */
  horizon: v.optional(positiveInt, 1),
  /** The input window T. */
  seqLen: positiveInt,
  scaler: ScalerSchema,
  transform: v.optional(v.picklist(["none", "log"]), "none"),
  relative: v.optional(v.boolean(), false),
  missing: v.optional(v.picklist(["error", "interpolate", "drop"])),
  rows: v.optional(v.nullable(count), null),
  split: v.optional(
    v.nullable(v.object({ train: RowRange, valid: RowRange, test: RowRange })),
    null,
  ),
  lastTime: v.optional(v.nullable(v.string())),
});
/** Series metadata as written (the input of the schema: defaults may be absent). */
export type SeriesMetaJson = v.InferInput<typeof SeriesMetaSchema>;
/** Series metadata as read, with the defaults filled in. */
export type SeriesMetaParsed = v.InferOutput<typeof SeriesMetaSchema>;

const LossPointSchema = v.object({
  step: count,
  /** null: a non-finite loss (JSON has no NaN). */
  trainLoss: v.nullable(v.number()),
  validLoss: v.nullable(v.number()),
});

/**
 * `training`: the summary `train-text`/`train-series` write (and `convert` writes
 * `{convertedFrom, source}`). Every field is optional: older or converted files lack some.
 */
export const TrainingSummarySchema = v.looseObject({
  steps: v.optional(count),
  epochs: v.optional(finite),
  stopReason: v.optional(v.string()),
  finalTrainLoss: v.optional(v.nullable(v.number())),
  bestValidLoss: v.optional(v.nullable(v.number())),
  bestStep: v.optional(v.nullable(count)),
  restoredBest: v.optional(v.boolean()),
  seconds: v.optional(finite),
  nonFiniteSteps: v.optional(count),
  /** Unit of the loss ("nats/char", "MSE"). */
  loss: v.optional(v.string()),
  history: v.optional(v.array(LossPointSchema)),
  /** The command-line options of the run. */
  options: v.optional(v.record(v.string(), v.unknown())),
  /** The data file trained on. */
  data: v.optional(v.string()),
  /** sha256 (hex) of that file's bytes: `report` reads the file again only when it still matches. */
  dataSha256: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "expected a sha256 in hex"))),
  characters: v.optional(count),
  unigramEntropy: v.optional(v.nullable(v.number())),
  convertedFrom: v.optional(v.string()),
  source: v.optional(v.string()),
  /**
   * The model file a fine-tuning run started from: its name and sha256 (`lstm train-* --fine-tune`,
   * the companion's `--fine-tune`); older companion files wrote the name alone; null: none.
   */
  fineTunedFrom: v.optional(
    v.nullable(
      v.union([
        v.string(),
        v.object({
          file: v.string(),
          sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "expected a sha256 in hex")),
        }),
      ]),
    ),
  ),
});
export type TrainingSummary = v.InferInput<typeof TrainingSummarySchema>;

/** The lstm-ts metadata a keras-lstm `meta` or TF.js userDefinedMetadata["lstm-ts"] carries. */
export const PortableMetaSchema = v.object({
  task: v.optional(TaskSchema),
  input: v.optional(InputEncodingSchema),
  vocab: v.optional(VocabSchema),
  series: v.optional(SeriesMetaSchema),
});

// ------------------------------------------------------------------------------------------------
// keras-lstm JSON (convert.ts reads the tensors' values and checks the shapes against each other)

/** A tensor as keras-lstm JSON writes it: flat row-major data with its shape. */
const KerasTensorSchema = v.object({ shape: v.array(count), data: v.array(v.number()) });
/** A tensor in keras-lstm JSON: flat row-major data with its shape. */
export type KerasTensor = v.InferInput<typeof KerasTensorSchema>;

/** A tensor as a reader accepts it: {shape, data[, dtype]} or nested arrays of numbers. */
const KerasTensorInputSchema = v.union([
  v.looseObject({
    shape: v.array(count),
    data: v.array(v.unknown()),
    dtype: v.optional(v.string()),
  }),
  v.array(v.unknown()),
]);

/** One direction of one Keras LSTM layer (snake_case as Keras writes it, camelCase as TF.js). */
function kerasDirectionSchema<T extends v.GenericSchema>(tensor: T) {
  return v.looseObject({
    /** [in, 4H], columns grouped i | f | c | o: W_ihᵀ. */
    kernel: tensor,
    /** Shape [H, 4H]: W_hhᵀ. */
    recurrent_kernel: tensor,
    /** [4H], or [8H] (CuDNNLSTM: input bias then recurrent bias); absent with use_bias=false. */
    bias: v.optional(v.nullable(tensor)),
    units: v.optional(v.number()),
    activation: v.optional(v.nullable(v.string())),
    recurrent_activation: v.optional(v.string()),
    recurrentActivation: v.optional(v.string()),
    use_bias: v.optional(v.boolean()),
    useBias: v.optional(v.boolean()),
    go_backwards: v.optional(v.boolean()),
    goBackwards: v.optional(v.boolean()),
  });
}

/** The keras-lstm file, for a tensor schema (what is written, or what is read). */
function kerasLstmSchema<T extends v.GenericSchema>(tensor: T) {
  const direction = kerasDirectionSchema(tensor);
  return v.looseObject({
    format: v.literal("keras-lstm"),
    format_version: v.optional(v.number()),
    layers: v.pipe(
      v.array(
        v.looseObject({
          ...direction.entries,
          /** The reverse direction of a Bidirectional(LSTM(…), merge_mode="concat") layer. */
          backward_layer: v.optional(direction),
          merge_mode: v.optional(v.string()),
          mergeMode: v.optional(v.string()),
          return_sequences: v.optional(v.boolean()),
        }),
      ),
      v.minLength(1, "expected a non-empty list of LSTM layers"),
      v.maxLength(64, "expected at most 64 layers"),
    ),
    /** Dense(O) on the last layer's (concatenated) output: kernel [D·H, O] = head.weightᵀ, bias [O]. */
    dense: v.looseObject({
      kernel: tensor,
      bias: v.optional(v.nullable(tensor)),
      activation: v.optional(v.nullable(v.string())),
      use_bias: v.optional(v.boolean()),
      useBias: v.optional(v.boolean()),
    }),
    /** lstm-ts metadata carried through a round trip (task, input, vocab, series). */
    meta: v.optional(PortableMetaSchema),
  });
}

/** keras-lstm JSON exactly as `exportKeras` writes it (flat tensors). */
export const KerasLstmWrittenSchema = kerasLstmSchema(KerasTensorSchema);
/** keras-lstm JSON as the exporter writes it (the schema's input: defaults may be absent). */
export type KerasLstmFile = v.InferInput<typeof KerasLstmWrittenSchema>;
/** One Keras LSTM layer (with its reverse direction when bidirectional) in a keras-lstm file. */
export type KerasLstmLayer = KerasLstmFile["layers"][number];
/** One direction of one Keras LSTM layer: kernel, recurrent kernel, bias. */
export type KerasLstmWeights = v.InferInput<
  ReturnType<typeof kerasDirectionSchema<typeof KerasTensorSchema>>
>;
/** keras-lstm JSON as the importer reads it (tensors may also be nested arrays). */
export const KerasLstmInputSchema = kerasLstmSchema(KerasTensorInputSchema);

// ------------------------------------------------------------------------------------------------
// TensorFlow.js Layers model.json (the structure; tfjs.ts checks the topology and the weights)

/** One weight in a weights manifest. */
const TfjsWeightSpecSchema = v.looseObject({
  name: v.string(),
  shape: v.array(count),
  dtype: v.string(),
  /** Present on quantized weights, which lstm-ts refuses. */
  quantization: v.optional(v.unknown()),
});
/** One weight in a TF.js weights manifest: name, shape, dtype. */
export type TfjsWeightSpec = v.InferOutput<typeof TfjsWeightSpecSchema>;

/** A weights-manifest group: its shard files, concatenated, hold `weights` in order. */
const TfjsWeightsGroupSchema = v.object({
  paths: v.pipe(v.array(v.string()), v.minLength(1, "expected a non-empty list of shard files")),
  weights: v.array(TfjsWeightSpecSchema),
});
/** One group of a TF.js weights manifest: shard paths and the weights they hold. */
export type TfjsWeightsGroup = v.InferOutput<typeof TfjsWeightsGroupSchema>;

/** model.json of a TensorFlow.js Layers model. */
export const TfjsModelJsonSchema = v.looseObject({
  format: v.optional(v.nullable(v.string())),
  generatedBy: v.optional(v.nullable(v.string())),
  convertedBy: v.optional(v.nullable(v.string())),
  /** A Keras model config; absent in a weights-only manifest (which the importer explains). */
  modelTopology: v.optional(v.nullable(v.record(v.string(), v.unknown()))),
  weightsManifest: v.pipe(
    v.array(TfjsWeightsGroupSchema),
    v.minLength(1, "expected a non-empty list of {paths, weights} groups"),
  ),
  userDefinedMetadata: v.optional(v.record(v.string(), v.unknown())),
});
/** A TensorFlow.js Layers `model.json`: topology and weight manifest. */
export type TfjsModelJson = v.InferOutput<typeof TfjsModelJsonSchema>;

// ------------------------------------------------------------------------------------------------
// Checkpoint entries

export const TrainerStateSchema = v.object({
  step: count,
  lrFactor: v.pipe(v.number(), v.gtValue(0, "expected > 0"), v.maxValue(1, "expected ≤ 1")),
  badSteps: count,
  bestValid: v.nullable(finite),
  bestStep: v.nullable(count),
  evalsSinceBest: count,
  lossSum: finite,
  lossCount: count,
  rng: v.tuple([
    v.pipe(count, v.maxValue(0xffffffff, "expected a uint32")),
    v.pipe(count, v.maxValue(0xffffffff, "expected a uint32")),
    v.pipe(count, v.maxValue(0xffffffff, "expected a uint32")),
    v.pipe(count, v.maxValue(0xffffffff, "expected a uint32")),
  ]),
  history: v.array(
    v.object({ step: count, trainLoss: v.number(), validLoss: v.nullable(v.number()) }),
  ),
  elapsedMs: v.pipe(v.number(), v.minValue(0, "expected ≥ 0")),
  nonFiniteSteps: count,
});

/** A checkpoint's `dtype`: the run's precision, which a resumed run keeps. */
export const DTypeSchema = v.picklist(["float32", "float64"]);

export const OptimizerStateSchema = v.object({
  kind: v.picklist(OPTIMIZER_KINDS),
  stepCount: count,
});

const ScheduleSchema = v.object({
  kind: v.picklist(SCHEDULE_KINDS),
  warmupSteps: v.optional(count),
  stepSize: v.optional(positiveInt),
  gamma: v.optional(finite),
  totalSteps: v.optional(positiveInt),
  minLrFactor: v.optional(finite),
});

const optionalFinite = v.optional(finite);
const optionalString = v.optional(v.string());
const optionalBool = v.optional(v.boolean());

/**
 * The training options a checkpoint stores (`run.options`): a resumed run takes them as they are,
 * so each has the type the command line gives it. Paths are stored but never used on resume.
 */
const TrainOptionsSchema = v.looseObject({
  /** Absent in checkpoints written before the GRU: "lstm". */
  cell: v.optional(v.picklist(["lstm", "gru"])),
  hidden: positiveInt,
  layers: positiveInt,
  seqLen: positiveInt,
  batch: positiveInt,
  lr: finite,
  optimizer: v.picklist(OPTIMIZER_KINDS),
  momentum: optionalFinite,
  stepSize: v.optional(positiveInt),
  gamma: finite,
  weightDecay: optionalFinite,
  clip: finite,
  clipValue: optionalFinite,
  steps: v.optional(count),
  epochs: optionalFinite,
  time: optionalFinite,
  seed: v.pipe(v.number(), v.safeInteger("expected an integer")),
  out: optionalString,
  checkpoint: optionalString,
  checkpointEvery: count,
  resume: optionalString,
  validFraction: finite,
  evalEvery: v.optional(positiveInt),
  patience: count,
  schedule: v.picklist(SCHEDULE_KINDS),
  warmup: count,
  init: v.picklist(INIT_SCHEMES),
  orthogonal: optionalBool,
  forgetBias: optionalFinite,
  json: optionalBool,
  quiet: optionalBool,
  threads: positiveInt,
  report: optionalString,
  resolvedSchedule: v.optional(ScheduleSchema),
});

/** `train-text` adds its sampling options. */
const TextTrainOptionsSchema = v.looseObject({
  ...TrainOptionsSchema.entries,
  sampleEvery: count,
  sampleLength: count,
  temperature: finite,
});

/** `train-series` adds the columns, horizon and data handling. */
const SeriesTrainOptionsSchema = v.looseObject({
  ...TrainOptionsSchema.entries,
  column: v.string(),
  target: optionalString,
  timeColumn: optionalString,
  horizon: positiveInt,
  missing: v.picklist(["error", "interpolate", "drop"]),
  testFraction: finite,
  transform: v.picklist(["none", "log"]),
  relative: optionalBool,
});

export const RunInfoSchema = v.object({
  /** The options the run was started with (checked per task by `runOptionsSchema`). */
  options: v.record(v.string(), v.unknown()),
  /** sha256 of the training data, so --resume refuses a different file. */
  dataSha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "expected a sha256 in hex")),
});

/**
 * Checks a checkpoint's stored options (`run.options`) by the schema of its task, then against
 * the model it holds: cell, hidden size and layers, and for a series model the horizon and window of
 * its metadata (a resumed run builds its data windows from these options).
 */
export function checkRunOptions(
  options: unknown,
  meta: CheckedMeta,
  config: ModelConfig,
  source: string,
): void {
  const at = { source, where: "run.options" };
  const fail = (field: string, msg: string): never => {
    throw new FormatError(source, `run.options.${field}: ${msg}`);
  };
  const o = parseField(TrainOptionsSchema, options, at);
  if (meta.task === "text") parseField(TextTrainOptionsSchema, options, at);
  if ((o.cell ?? "lstm") !== config.cell)
    fail("cell", `${o.cell ?? "lstm"} but the model is a ${config.cell}`);
  if (o.hidden !== config.hiddenSize)
    fail("hidden", `${o.hidden} but the model's hidden_size is ${config.hiddenSize}`);
  if (o.layers !== config.numLayers)
    fail("layers", `${o.layers} but the model has ${config.numLayers} layers`);
  if (meta.task === "series" && meta.series) {
    const so = parseField(SeriesTrainOptionsSchema, options, at);
    if (so.horizon !== meta.series.horizon)
      fail("horizon", `${so.horizon} but the series metadata says ${meta.series.horizon}`);
    if (so.seqLen !== meta.series.seqLen)
      fail("seqLen", `${so.seqLen} but the series metadata says ${meta.series.seqLen}`);
  }
}

export const TaskStateSchema = v.record(v.string(), v.unknown());

// ------------------------------------------------------------------------------------------------
// Metadata against the weights

/** The metadata fields `checkMetaAgainstConfig` reads. */
export interface CheckedMeta {
  task: "text" | "series" | "generic" | "classify";
  input: InputEncoding;
  vocab?: readonly string[];
  series?: SeriesMetaParsed;
  classifier?: ClassifierMetaJson;
}

/**
 * Checks the metadata against the model's sizes: one-hot input has I = V; a text model predicts
 * its vocabulary (O = V); series columns are the inputs (C = I), targets are columns, K·Ct = O and
 * the scaler has one entry per column. Throws a FormatError naming `source` and the field.
 */
export function checkMetaAgainstConfig(
  meta: CheckedMeta,
  config: ModelConfig,
  source: string,
): void {
  const fail = (field: string, msg: string): never => {
    throw new FormatError(source, `${field}: ${msg}`);
  };
  const { inputSize: I, outputSize: O } = config;
  if (meta.task === "text") {
    if (!meta.vocab) fail("vocab", "a text model needs a vocabulary");
    if (meta.input.kind === "dense") fail("input", "a text model has one-hot or embedding input");
  }
  if ((meta.input.kind === "embedding") !== (config.embedding !== undefined))
    fail(
      "input",
      `is ${meta.input.kind} but the config ${config.embedding ? "has" : "has no"} embedding table`,
    );
  if (meta.task === "series" && !meta.series)
    fail("series", "a series model needs series metadata");
  if (meta.task === "series" && meta.input.kind !== "dense")
    fail("input", "a series model has dense input");
  if (meta.vocab) {
    const V = meta.vocab.length;
    if (meta.input.kind === "one-hot" && V !== I)
      fail("vocab", `has ${V} characters but input_size is ${I} (one-hot input: I = V)`);
    const rows = config.embedding?.numEmbeddings;
    if (meta.input.kind === "embedding" && V !== rows)
      fail("vocab", `has ${V} characters but the embedding table has ${rows} rows`);
    if (meta.task === "text" && V !== O)
      fail("vocab", `has ${V} characters but output_size is ${O} (a text model predicts them)`);
  }
  const clf = meta.classifier;
  if (meta.task === "classify" && !clf) fail("classifier", "a classifier needs its metadata");
  if (clf) {
    if (clf.classes.length !== O)
      fail("classifier.classes", `${clf.classes.length} classes but output_size is ${O}`);
    const V = clf.vocab ? clf.vocab.length + 1 : 0;
    if (clf.kind === "chars" && meta.input.kind === "one-hot" && V !== I)
      fail("classifier.vocab", `${V} ids (with padding) but input_size is ${I} (one-hot: I = V)`);
    const rows = config.embedding?.numEmbeddings;
    if (clf.kind === "chars" && meta.input.kind === "embedding" && V !== rows)
      fail("classifier.vocab", `${V} ids (with padding) but the embedding table has ${rows} rows`);
    if (clf.kind === "numbers" && clf.features !== I)
      fail("classifier.features", `${clf.features} features but input_size is ${I}`);
  }
  const s = meta.series;
  if (s) {
    const C = s.columns.length;
    if (C !== I) fail("series.columns", `${C} columns but the model's input_size is ${I}`);
    const targets = checkSeriesColumns(s, source);
    if (s.horizon * targets.length !== O)
      fail(
        "series.horizon",
        `horizon ${s.horizon} × ${targets.length} target column${targets.length > 1 ? "s" : ""} = ` +
          `${s.horizon * targets.length}, but the model's output_size is ${O} (the head's outputs)`,
      );
  }
}

/**
 * The series metadata's own consistency: target columns are columns, the scaler has one entry per
 * column. Returns the target columns (default: all columns).
 */
export function checkSeriesColumns(s: SeriesMetaParsed, source: string): string[] {
  const targets = s.targetColumns ?? s.columns;
  for (const t of targets)
    if (!s.columns.includes(t))
      throw new FormatError(source, `series.targetColumns: "${t}" is not one of the columns`);
  if (s.scaler.mean.length !== s.columns.length)
    throw new FormatError(
      source,
      `series.scaler: has ${s.scaler.mean.length} entries but there are ${s.columns.length} columns (one per column)`,
    );
  return targets;
}
