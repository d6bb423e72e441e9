/** `lstm report MODEL`: a self-contained HTML report of a model, its training and its behaviour. */
import { existsSync } from "node:fs";
import type { Command } from "commander";
import type { MissingPolicy } from "../src/data/series.js";
import { decodeText } from "../src/data/text.js";
import type { LstmModel } from "../src/model/model.js";
import { collectReport, type CollectOptions } from "../src/report/collect.js";
import { renderReport } from "../src/report/html.js";
import { loadModel, sha256Hex, writeFileAtomic, type ModelMeta } from "../src/node.js";
import { checkOutputs, prepareOutputDir, sameFile } from "../src/io/paths.js";
import { choiceOption, intOption, readDataBytes } from "./util.js";

/** MODEL with its extension replaced by .html. */
function defaultReportPath(modelPath: string): string {
  const m = /^(.*[^/\\])\.[^./\\]+$/.exec(modelPath);
  return `${m ? m[1] : modelPath}.html`;
}

/** Collects, renders and writes the report atomically (creating its directory). */
export function writeReport(
  out: string,
  model: LstmModel,
  meta: ModelMeta,
  options: CollectOptions,
): void {
  const generatedAt = new Date()
    .toISOString()
    .replace(/:\d\d\.\d+Z$/, " UTC")
    .replace("T", " ");
  const html = renderReport(collectReport(model, meta, { generatedAt, ...options }));
  prepareOutputDir({ role: "--report", path: out });
  writeFileAtomic(out, html);
}

interface Flags {
  data?: string;
  out?: string;
  horizon?: number;
  missing?: MissingPolicy;
  sampleLength: number;
  units: number;
  title?: string;
}

export function registerReport(program: Command): void {
  program
    .command("report")
    .summary("write a self-contained HTML report: training curves, forecasts, gate activations")
    .description(
      "Write one self-contained HTML file (no network access needed) about a model:\n" +
        "its configuration and training summary, the training and validation loss\n" +
        "curves, and heatmaps of the gates i, f, g, o, the cell state c and the output h\n" +
        "over a sample input (text: the first characters of --data or a generated sample;\n" +
        "series: the last window).\n" +
        "Series models also get the actual series with the train/validation/test rows\n" +
        "marked, the model's 1-step-ahead (and K-step) predictions over the validation\n" +
        "and test rows, and the forecast beyond the last row.\n" +
        "Without --data, the data file recorded at training is used if it still exists unchanged.",
    )
    .argument("<model>", "model file")
    .option(
      "--data <file>",
      "the text or CSV file to show the model on (default: its training data)",
    )
    .option("--out <file>", "where to write the report (default: MODEL with .html)")
    .option(
      "--horizon <n>",
      "series: rows to forecast beyond the data (default: the model's horizon)",
      intOption("--horizon", 1, 100000),
    )
    .option(
      "--missing <policy>",
      "series: empty cells: error, interpolate or drop (default: as in training)",
      choiceOption("--missing", ["error", "interpolate", "drop"] as const),
    )
    .option(
      "--sample-length <n>",
      "text: characters of the sample input for the heatmaps",
      intOption("--sample-length", 2, 1000),
      80,
    )
    .option(
      "--units <n>",
      "hidden units per heatmap at most (larger layers show the most active)",
      intOption("--units", 1, 4096),
      64,
    )
    .option("--title <text>", "title of the report")
    .action((modelPath: string, f: Flags) => {
      const out = f.out ?? defaultReportPath(modelPath);
      const inputs = [
        { role: "<model>", path: modelPath },
        ...(f.data !== undefined ? [{ role: "--data", path: f.data }] : []),
      ];
      checkOutputs({ inputs, outputs: [{ role: "--out", path: out }] });
      prepareOutputDir({ role: "--out", path: out });
      const { model, meta } = loadModel(modelPath);
      let dataPath = f.data;
      let bytes = f.data !== undefined ? readDataBytes(f.data) : undefined;
      if (dataPath === undefined) {
        // The path a model records came from a file, not from the user: it is read only when
        // the file still has the checksum recorded with it (so a model someone sends cannot
        // make the report show a file of yours it does not already know), and never when it is
        // the report's own path.
        const recorded = meta.training?.data;
        const sum = meta.training?.dataSha256;
        if (typeof recorded === "string" && existsSync(recorded) && !sameFile(recorded, out)) {
          const candidate = sum !== undefined ? readDataBytes(recorded) : undefined;
          if (candidate !== undefined && sha256Hex(candidate) === sum) {
            dataPath = recorded;
            bytes = candidate;
            process.stderr.write(`using the training data recorded in the model: ${recorded}\n`);
          } else
            process.stderr.write(
              `not reading ${recorded} (recorded in the model): it does not match the checksum of the training data; pass --data FILE\n`,
            );
        }
      }
      const data =
        dataPath !== undefined && bytes !== undefined ? decodeText(bytes, dataPath) : undefined;
      writeReport(out, model, meta, {
        modelName: modelPath,
        title: f.title,
        data,
        dataName: dataPath,
        missing: f.missing,
        futureSteps: f.horizon,
        sampleLength: f.sampleLength,
        maxUnits: f.units,
      });
      process.stderr.write(`report: ${out}\n`);
    });
}
