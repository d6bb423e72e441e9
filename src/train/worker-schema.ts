/**
 * The shape of a `trainInWorker` job, as valibot schemas: the worker checks the job it receives
 * before it reads any data, so a malformed one (a typo in a key, a missing field, a string where
 * a number goes) comes back as a ConfigError naming the field instead of failing later. What the
 * library checks anyway (model sizes in makeConfig, trainer options in `new Trainer`, the data
 * in the CSV readers) is left to it, so the messages are the ones the CLI gives.
 */
import * as v from "valibot";
import { count, finite, parseField, positiveInt } from "../io/schemas.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import type { TrainJob } from "./worker-protocol.js";

const fraction = v.pipe(
  finite,
  v.minValue(0, "expected a fraction in [0, 1)"),
  v.ltValue(1, "expected a fraction in [0, 1)"),
);
const names = v.pipe(v.array(v.string()), v.minLength(1, "expected a non-empty list of names"));

/** The model keys a job may set; their values are checked by makeConfig. */
const modelKeys = {
  cell: v.optional(v.picklist(["lstm", "gru"])),
  hiddenSize: positiveInt,
  numLayers: v.optional(positiveInt),
  bidirectional: v.optional(v.boolean()),
  projSize: v.optional(count),
  dropout: v.optional(v.unknown()),
};

const common = {
  backend: v.optional(v.string()),
  threads: v.optional(positiveInt),
  init: v.optional(v.looseObject({})),
  initSeed: v.optional(count),
  // The Trainer checks its options (ConfigError naming the option).
  train: v.looseObject({}),
  batch: positiveInt,
};

const TextJobSchema = v.strictObject({
  task: v.literal("text"),
  text: v.string(),
  validFraction: v.optional(fraction),
  seqLen: positiveInt,
  model: v.strictObject({
    ...modelKeys,
    embedding: v.optional(v.unknown()),
    tiedHead: v.optional(v.boolean()),
  }),
  ...common,
});

/** One of the two forms of `data`: exactly one of the keys `a` and `b`. */
function oneOf<T extends object>(a: string, b: string) {
  return v.check<T, string>(
    (d) => a in d !== b in d,
    `expected either "${a}" or "${b}" (exactly one)`,
  );
}

/** CSV data given as text, and the name errors give it (a file name, say). */
const csvText = { csv: v.optional(v.string()), source: v.optional(v.string()) };

const SeriesJobSchema = v.strictObject({
  task: v.literal("series"),
  data: v.pipe(
    v.strictObject({
      ...csvText,
      timeColumn: v.optional(v.nullable(v.string())),
      missing: v.optional(v.picklist(["error", "interpolate", "drop"])),
      values: v.optional(v.record(v.string(), v.array(finite))),
      times: v.optional(v.array(v.string())),
    }),
    oneOf("csv", "values"),
  ),
  columns: names,
  targets: v.optional(names),
  horizon: v.optional(positiveInt),
  seqLen: positiveInt,
  validFraction: v.optional(fraction),
  testFraction: v.optional(fraction),
  transform: v.optional(v.picklist(["none", "log"])),
  relative: v.optional(v.boolean()),
  model: v.strictObject(modelKeys),
  ...common,
});

const ClassifyJobSchema = v.strictObject({
  task: v.literal("classify"),
  data: v.pipe(
    v.strictObject({
      ...csvText,
      textColumn: v.optional(v.string()),
      labelColumn: v.optional(v.string()),
      sequences: v.optional(
        v.array(v.union([v.string(), v.array(finite), v.array(v.array(finite))])),
      ),
      labels: v.optional(v.array(v.string())),
    }),
    oneOf("csv", "sequences"),
  ),
  kind: v.optional(v.picklist(["chars", "numbers"])),
  validFraction: v.optional(fraction),
  testFraction: v.optional(fraction),
  classWeights: v.optional(v.boolean()),
  model: v.strictObject({ ...modelKeys, embedding: v.optional(positiveInt) }),
  ...common,
});

const TrainJobSchema = v.variant("task", [TextJobSchema, SeriesJobSchema, ClassifyJobSchema]);

/**
 * `job` checked against the schema of its kind. ConfigError (field "job") naming the path of
 * the first problem: `job: data.values.x[3]: expected a finite number, got null`.
 */
export function parseTrainJob(job: unknown): TrainJob {
  try {
    parseField(TrainJobSchema, job, { source: "job", where: "" });
  } catch (e) {
    if (e instanceof FormatError) throw new ConfigError("job", e.message.slice("job: ".length));
    throw e;
  }
  return job as TrainJob;
}
