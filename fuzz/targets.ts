/**
 * What the fuzzer attacks: for each file format the project reads, a valid seed file (built in
 * memory from tiny models, so the fuzzer needs nothing on disk but one fixture), the mutations
 * that suit it, and what "accepted" means: the decoded model (or data) is run through forward,
 * sample and forecast as the CLI would, so a file that loads but breaks later is found too.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseCsvSeries, StandardScaler } from "../src/data/series.js";
import { decodeText, Vocab } from "../src/data/text.js";
import { parseFixture } from "../src/check/fixture.js";
import { verifyFixture } from "../src/check/verify.js";
import { exportKeras, importKeras } from "../src/io/convert.js";
import { exportTfjs, importTfjs } from "../src/io/tfjs.js";
import {
  decodeCheckpoint,
  decodeModel,
  encodeCheckpoint,
  encodeModel,
  type ModelMeta,
} from "../src/io/model-file.js";
import { initParams } from "../src/model/init.js";
import { LstmModel } from "../src/model/model.js";
import { Rng } from "../src/tensor/rng.js";
import { forecastSeries, readSeriesMeta } from "../src/train/forecast.js";
import { sampleText } from "../src/train/sample.js";
import { TextTask } from "../src/train/text-task.js";
import { Trainer } from "../src/train/trainer.js";
import { mutateBytes, mutateJson, mutateSafetensors, mutateText, pick } from "./mutate.js";

export interface FuzzTarget {
  name: string;
  /** Mutates the seed with `rng` and runs the result; throws what the library throws. */
  run(rng: Rng): void;
}

/** Steps forecast or characters sampled from an accepted file: enough to exercise the path. */
const MAX_STEPS = 16;

const CSV = "month,a,b\n" + Array.from({ length: 24 }, (_, i) => `2000-${String(i + 1).padStart(2, "0")},${(10 + Math.sin(i)).toFixed(3)},${(i * 0.5).toFixed(2)}`).join("\n") + "\n"; // prettier-ignore
const TEXT =
  "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.";

function textModel(): { model: LstmModel; meta: ModelMeta; vocab: Vocab } {
  const vocab = Vocab.fromText(TEXT);
  const V = vocab.size;
  const model = new LstmModel({ inputSize: V, hiddenSize: 6, numLayers: 2, outputSize: V });
  initParams(model, new Rng(1));
  return { model, meta: { task: "text", input: { kind: "one-hot" }, vocab: vocab.toJSON() }, vocab };
} // prettier-ignore

function seriesModel(): { model: LstmModel; meta: ModelMeta } {
  const s = parseCsvSeries(CSV, "seed.csv", { columns: ["a", "b"] });
  const scaler = StandardScaler.fit(s.values, 2, [0, 16]);
  const model = new LstmModel({ inputSize: 2, hiddenSize: 5, outputSize: 4, bidirectional: false });
  initParams(model, new Rng(2));
  const meta: ModelMeta = {
    task: "series",
    input: { kind: "dense" },
    series: {
      columns: ["a", "b"], targetColumns: ["a", "b"], timeColumn: "month", horizon: 2, seqLen: 4,
      scaler: scaler.toJSON(), transform: "none", relative: false, missing: "error", rows: 24,
      split: { train: [0, 16], valid: [16, 20], test: [20, 24] }, lastTime: "2001-12",
    },
  }; // prettier-ignore
  return { model, meta };
}

/** Runs an accepted model as the CLI would: forward, then sample (text) or forecast (series). */
function exercise(model: LstmModel, meta: ModelMeta | undefined, source: string, rng: Rng): void {
  const { inputSize: I } = model.config;
  const T = 3;
  const B = 2;
  const x = Float32Array.from({ length: T * B * I }, () => rng.uniform() - 0.5);
  model.forward(x, { seqLen: T, batch: B });
  if (meta?.task === "text" && meta.vocab) {
    const vocab = Vocab.fromJSON(meta.vocab, source);
    sampleText(model, vocab, { length: 1 + rng.int(MAX_STEPS), temperature: pick(rng, [0, 0.8, 2]), rng }); // prettier-ignore
  } else if (meta?.task === "series") {
    const sm = readSeriesMeta(meta.series, source);
    const rows = sm.seqLen + 2;
    if (rows > 4096) return; // a huge window needs data that size; the loader is what is tested
    const values = Float64Array.from({ length: rows * sm.columns.length }, () => 1 + rng.uniform());
    forecastSeries(model, sm, values, 1 + rng.int(MAX_STEPS));
  }
}

export async function buildTargets(): Promise<FuzzTarget[]> {
  const text = textModel();
  const series = seriesModel();
  const textFile = encodeModel(text.model, text.meta);
  const seriesFile = encodeModel(series.model, series.meta);
  // A checkpoint of two real training steps (optimizer moments, best weights, task state).
  const ids = text.vocab.encode(TEXT);
  const task = new TextTask(text.model, ids.subarray(0, 100), ids.subarray(100), {
    batch: 2,
    seqLen: 8,
  });
  const trainer = new Trainer(text.model, task, {
    optimizer: { kind: "adam", lr: 0.01 },
    steps: 2,
    evalEvery: 1,
    seed: 1,
  });
  // The options train-text stores (every field a resumed run reads; the loader checks them).
  const options = {
    hidden: 6, layers: 2, seqLen: 8, batch: 2, lr: 0.01, optimizer: "adam", gamma: 0.3, clip: 5,
    seed: 1, checkpointEvery: 0, validFraction: 0.1, patience: 0, schedule: "constant", warmup: 0,
    init: "pytorch", threads: 1, sampleEvery: 0, sampleLength: 200, temperature: 0.8,
  }; // prettier-ignore
  const run = { options, dataSha256: "0".repeat(64) };
  await trainer.run();
  const ckptFile = encodeCheckpoint(text.model, text.meta, trainer.checkpoint(), run);
  const tfjs = exportTfjs(series.model, series.meta);
  const keras = exportKeras(text.model, text.meta);
  const fixturePath = fileURLToPath(
    new URL("../../test/fixtures/tiny_sum_sq.json", import.meta.url),
  );
  const fixtureText = readFileSync(fixturePath, "utf8");
  const fixtureJson = JSON.parse(fixtureText);

  const modelTarget = (name: string, file: Uint8Array): FuzzTarget => ({
    name,
    run(rng) {
      const bytes = rng.uniform() < 0.5 ? mutateSafetensors(rng, file) : mutateBytes(rng, file);
      const { model, meta } = decodeModel(bytes, name);
      exercise(model, meta, name, rng);
    },
  });
  return [
    modelTarget("text-model", textFile),
    modelTarget("series-model", seriesFile),
    {
      name: "checkpoint",
      run(rng) {
        const bytes = rng.uniform() < 0.5 ? mutateSafetensors(rng, ckptFile) : mutateBytes(rng, ckptFile);
        const c = decodeCheckpoint(bytes, "checkpoint");
        exercise(c.model, c.meta, "checkpoint", rng);
        // Resume as train-text does: the same task shape, then one step from the restored state.
        const V = c.model.config.inputSize;
        if (c.model.config.outputSize !== V || V > 512) return;
        const ids2 = Int32Array.from({ length: 64 }, (_, i) => i % V);
        const t = new TextTask(c.model, ids2, ids2.subarray(0, 20), { batch: 2, seqLen: 8 });
        const tr = new Trainer(c.model, t, { optimizer: { kind: "adam", lr: 0.01 }, steps: c.checkpoint.trainer.step + 1, seed: 1 });
        tr.restore(c.checkpoint);
      }, // prettier-ignore
    },
    {
      name: "tfjs",
      run(rng) {
        let json: unknown = tfjs.modelJson;
        let weights = tfjs.weights;
        if (rng.uniform() < 0.6) json = mutateJson(rng, json);
        else weights = mutateBytes(rng, weights);
        const imported = importTfjs(json, new Map([[tfjs.weightsPath, weights]]), "model.json");
        exercise(imported.model, imported.meta as ModelMeta | undefined, "model.json", rng);
      },
    },
    {
      name: "keras",
      run(rng) {
        const imported = importKeras(mutateJson(rng, keras), "keras.json");
        exercise(imported.model, imported.meta as ModelMeta | undefined, "keras.json", rng);
      },
    },
    {
      name: "fixture",
      run(rng) {
        const f =
          rng.uniform() < 0.5
            ? parseFixture(JSON.stringify(mutateJson(rng, fixtureJson)), "fixture.json")
            : parseFixture(decodeText(mutateBytes(rng, new TextEncoder().encode(fixtureText)), "fixture.json"), "fixture.json"); // prettier-ignore
        verifyFixture(f, "float64");
      },
    },
    {
      name: "csv",
      run(rng) {
        const sm = readSeriesMeta(series.meta.series, "series-model");
        const csv = mutateText(rng, CSV);
        const s = parseCsvSeries(csv, "data.csv", {
          columns: sm.columns,
          timeColumn: sm.timeColumn ?? undefined,
          missing: pick(rng, ["error", "interpolate", "drop"] as const),
        });
        forecastSeries(series.model, sm, s.values, 1 + rng.int(MAX_STEPS));
      },
    },
    {
      name: "text",
      run(rng) {
        const bytes = mutateBytes(rng, new TextEncoder().encode(mutateText(rng, TEXT)));
        const prime = decodeText(bytes, "prime.txt").slice(0, 64);
        sampleText(text.model, text.vocab, { prime, length: 1 + rng.int(MAX_STEPS), rng });
      },
    },
  ];
}
