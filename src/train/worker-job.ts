/**
 * Runs a TrainJob with the ordinary Trainer: the part of train-worker.ts that is not I/O. Each
 * kind prepares its data with the code its CLI command uses (text: Vocab; series:
 * prepareSeries; classify: parseClassifyCsv and prepareClassification) and builds the same
 * metadata, so the result saves as the CLI's model of that task.
 */
import { initWasm } from "../backend/index.js";
import {
  classifierMeta,
  parseClassifyCsv,
  prepareClassification,
  type ClassifyTable,
} from "../data/classify.js";
import { parseCsvSeries, type CsvSeries } from "../data/series.js";
import { splitTrainValid, Vocab } from "../data/text.js";
import type { ModelMeta } from "../io/model-file.js";
import type { ModelConfigInput } from "../model/config.js";
import { initParams } from "../model/init.js";
import { LstmModel } from "../model/model.js";
import { ConfigError, DataError } from "../tensor/errors.js";
import { Rng } from "../tensor/rng.js";
import { ClassifyTask } from "./classify-task.js";
import type { TrainListener } from "./events.js";
import { SeriesTask } from "./series-task.js";
import { prepareSeries } from "./series-setup.js";
import { TextTask } from "./text-task.js";
import { recordedSummary, Trainer, type TrainSummary, type TrainTask } from "./trainer.js";
import { parseTrainJob } from "./worker-schema.js";
import type {
  ClassifyTrainJob,
  SeriesTrainJob,
  TextTrainJob,
  TrainJob,
  WorkerTrainResult,
} from "./worker-protocol.js";

/** A job being run: `stop()` ends it after the current step, with the weights so far. */
export interface RunningJob {
  stop(): void;
  result: Promise<WorkerTrainResult>;
}

/** What a job kind builds from its data: the model (initialised), its task and metadata. */
interface Prepared {
  model: LstmModel;
  task: TrainTask;
  meta: ModelMeta;
  /** The loss's unit, as the CLI records it. */
  lossName: string;
  vocab: string[];
}

/** A model of `config` on the job's backend, initialised as the job asks. */
function makeModel(job: TrainJob, config: ModelConfigInput): LstmModel {
  const model = new LstmModel(config, { backend: job.backend, threads: job.threads });
  initParams(model, new Rng(job.initSeed ?? job.train.seed), job.init);
  return model;
}

function prepareText(job: TextTrainJob): Prepared {
  const vocab = Vocab.fromText(job.text, "text");
  const { train, valid } = splitTrainValid(vocab.encode(job.text), job.validFraction ?? 0);
  const V = vocab.size;
  const model = makeModel(job, { ...job.model, inputSize: V, outputSize: V });
  const task = new TextTask(model, train, valid, { batch: job.batch, seqLen: job.seqLen });
  const chars = [...vocab.chars];
  const meta: ModelMeta = {
    task: "text",
    input: { kind: model.config.embedding ? "embedding" : "one-hot" },
    vocab: chars,
  };
  return { model, task, meta, lossName: "nats/char", vocab: chars };
}

/** The job's series: its CSV read as train-series reads a file, or its columns as given. */
function readSeries(
  job: SeriesTrainJob,
): Pick<CsvSeries, "columns" | "values" | "times" | "timeColumn"> {
  const data = job.data;
  if ("csv" in data)
    return parseCsvSeries(data.csv, data.source ?? "data", {
      columns: job.columns,
      timeColumn: data.timeColumn,
      missing: data.missing ?? "error",
    });
  const C = job.columns.length;
  const cols = job.columns.map((name) => {
    const col = data.values[name] as number[] | undefined;
    if (col === undefined)
      throw new ConfigError(
        "columns",
        `${name} is not a key of data.values (${Object.keys(data.values).join(", ")})`,
      );
    return col;
  });
  const N = cols[0].length;
  cols.forEach((col, c) => {
    if (col.length !== N)
      throw new DataError(
        `data.values.${job.columns[c]} has ${col.length} rows, ${job.columns[0]} has ${N}`,
      );
  });
  if (data.times !== undefined && data.times.length !== N)
    throw new DataError(`data.times has ${data.times.length} rows, the columns have ${N}`);
  const values = new Float64Array(N * C);
  for (let r = 0; r < N; r++) for (let c = 0; c < C; c++) values[r * C + c] = cols[c][r];
  return {
    columns: [...job.columns],
    values,
    times: data.times ? [...data.times] : null,
    timeColumn: data.times ? "time" : null,
  };
}

function prepareSeriesJob(job: SeriesTrainJob): Prepared {
  const relative = job.relative ?? false;
  const horizon = job.horizon ?? 1;
  const { windows, meta: series } = prepareSeries(readSeries(job), {
    source: "csv" in job.data ? (job.data.source ?? "data") : "data",
    targets: job.targets ?? job.columns,
    validFraction: job.validFraction ?? 0.15,
    testFraction: job.testFraction ?? 0.15,
    transform: job.transform ?? "none",
    seqLen: job.seqLen,
    horizon,
    relative,
    missing: "csv" in job.data ? (job.data.missing ?? "error") : "error",
  });
  const model = makeModel(job, {
    ...job.model,
    inputSize: job.columns.length,
    outputSize: windows.train.outputSize,
  });
  const task = new SeriesTask(model, windows.train, windows.valid, job.batch, relative);
  const meta: ModelMeta = { task: "series", input: { kind: "dense" }, series };
  return { model, task, meta, lossName: "MSE (scaled)", vocab: [] };
}

/** A CSV field holding `text` as it is (RFC 4180 quoting). */
function csvCell(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

/**
 * The job's rows as train-classify reads them: its CSV, or its arrays written as one (columns
 * "sequence" and "label"; a numeric sequence as a JSON array), so every check is the CLI's.
 * Messages name row r of the arrays as line r + 2 of "data" (line 1 is the header).
 */
function readClassifyTable(job: ClassifyTrainJob): ClassifyTable {
  const data = job.data;
  const kind = job.kind ?? "chars";
  if ("csv" in data) {
    if (data.textColumn === undefined || data.labelColumn === undefined)
      throw new ConfigError("data", "a CSV needs textColumn and labelColumn");
    return parseClassifyCsv(data.csv, data.source ?? "data", {
      textColumn: data.textColumn,
      labelColumn: data.labelColumn,
      kind,
    });
  }
  const { sequences, labels } = data;
  if (labels === undefined || labels.length !== sequences.length)
    throw new ConfigError(
      "data.labels",
      `needs one label per sequence (${sequences.length}), got ${labels?.length ?? "none"}`,
    );
  const lines = sequences.map((s, r) => {
    if ((typeof s === "string") !== (kind === "chars"))
      throw new ConfigError(
        `data.sequences[${r}]`,
        kind === "chars" ? "kind chars needs strings" : "kind numbers needs arrays of numbers",
      );
    return `${csvCell(typeof s === "string" ? s : JSON.stringify(s))},${csvCell(labels[r])}`;
  });
  const csv = ["sequence,label", ...lines].join("\n") + "\n";
  return parseClassifyCsv(csv, "data", { textColumn: "sequence", labelColumn: "label", kind });
}

function prepareClassifyJob(job: ClassifyTrainJob): Prepared {
  const table = readClassifyTable(job);
  const data = prepareClassification(table, {
    validFraction: job.validFraction ?? 0.1,
    testFraction: job.testFraction ?? 0,
    seed: job.train.seed,
    classWeights: job.classWeights ?? false,
  });
  const V = data.vocab ? data.vocab.size : data.features;
  const E = job.model.embedding;
  if (E !== undefined && data.vocab === null)
    throw new ConfigError("model.embedding", "an embedding is for kind chars (token input)");
  const embedding = E !== undefined ? { numEmbeddings: V, paddingIdx: 0 } : undefined;
  const model = makeModel(job, {
    ...job.model,
    inputSize: E ?? V,
    embedding,
    outputSize: data.classes.length,
  });
  const { train, valid } = data.split;
  const task = new ClassifyTask(model, data, {
    batch: job.batch,
    train,
    valid,
    classWeights: data.weights,
  });
  const meta: ModelMeta = {
    task: "classify",
    input: embedding ? { kind: "embedding" } : data.vocab ? { kind: "one-hot" } : { kind: "dense" },
    classifier: classifierMeta(data),
  };
  return { model, task, meta, lossName: "cross-entropy (nats)", vocab: [] };
}

function prepare(job: TrainJob): Prepared {
  if (job.task === "series") return prepareSeriesJob(job);
  if (job.task === "classify") return prepareClassifyJob(job);
  return prepareText(job);
}

/** The training summary stored in the metadata: the CLI's fields that a worker run has. */
function trainingSummary(summary: TrainSummary, job: TrainJob, lossName: string) {
  return {
    ...recordedSummary(summary, lossName),
    options: { ...job.train, task: job.task, trainedIn: "worker" },
  };
}

/**
 * Checks `job` (parseTrainJob), prepares its data and model as its CLI command does, and trains
 * it, reporting every event to `listener`.
 */
export function runJob(job: unknown, listener: TrainListener): RunningJob {
  let trainer: Trainer | null = null;
  let stopEarly = false;
  const result = (async (): Promise<WorkerTrainResult> => {
    const checked = parseTrainJob(job);
    // Browsers compile large WebAssembly modules only asynchronously on their main thread and
    // may in workers too; threads > 1 also start here.
    await initWasm({ threads: checked.threads ?? 1 });
    const { model, task, meta, lossName, vocab } = prepare(checked);
    try {
      trainer = new Trainer(model, task, checked.train).on(listener);
      if (stopEarly) trainer.requestStop();
      const summary = await trainer.run();
      meta.training = trainingSummary(summary, checked, lossName);
      return {
        config: model.config,
        params: Float32Array.from(model.params),
        meta,
        vocab,
        summary,
        backend: model.kernels.name,
        threads: model.threads,
      };
    } finally {
      model.dispose();
    }
  })();
  return {
    stop() {
      stopEarly = true;
      trainer?.requestStop();
    },
    result,
  };
}
