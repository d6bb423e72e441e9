/** `lstm forecast MODEL FILE.csv`: forecast the rows after the end of a series. */
import type { Command } from "commander";
import { parseCsvSeries, type MissingPolicy } from "../src/data/series.js";
import { decodeText } from "../src/data/text.js";
import { forecastSeries, nextTimes, readSeriesMeta } from "../src/train/forecast.js";
import { loadModel, writeFileAtomic } from "../src/node.js";
import { checkOutputs, prepareOutputDir } from "../src/io/paths.js";
import { CliError, choiceOption, intOption, readDataBytes } from "./util.js";

/** Quotes a CSV field when it needs it (RFC 4180). */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function registerForecast(program: Command): void {
  program
    .command("forecast")
    .summary("forecast the next values of a series with a model from train-series")
    .argument("<model>", "model file from train-series")
    .argument(
      "<file>",
      "CSV file with the model's columns (the forecast starts after its last row)",
    )
    .option(
      "--horizon <n>",
      "steps to forecast (default: the model's horizon; longer ones feed predictions back)",
      intOption("--horizon", 1, 100000),
    )
    .option("--out <file>", "write the forecast as CSV here (default: print it)")
    .option(
      "--missing <policy>",
      "empty cells: error, interpolate or drop",
      choiceOption("--missing", ["error", "interpolate", "drop"] as const),
      "error",
    )
    .action(
      (
        modelPath: string,
        file: string,
        f: { horizon?: number; out?: string; missing: MissingPolicy },
      ) => {
        if (f.out !== undefined) {
          const out = { role: "--out", path: f.out };
          checkOutputs({
            inputs: [
              { role: "<model>", path: modelPath },
              { role: "<file>", path: file },
            ],
            outputs: [out],
          });
          prepareOutputDir(out);
        }
        const { model, meta } = loadModel(modelPath);
        if (meta.task !== "series")
          throw new CliError(
            `${modelPath} is a ${meta.task} model; forecast needs a model from train-series`,
          );
        const sm = readSeriesMeta(meta.series, modelPath);
        const series = parseCsvSeries(decodeText(readDataBytes(file), file), file, {
          columns: sm.columns,
          timeColumn: sm.timeColumn ?? undefined,
          missing: f.missing,
        });
        const steps = f.horizon ?? sm.horizon;
        const pred = forecastSeries(model, sm, series.values, steps);
        const times = series.times
          ? nextTimes(series.times, steps)
          : Array.from({ length: steps }, (_, i) => `+${i + 1}`);
        const header = [series.timeColumn ?? "step", ...sm.targetColumns].map(csvField).join(",");
        const Ct = sm.targetColumns.length;
        const lines = [header];
        for (let s = 0; s < steps; s++) {
          const row = [csvField(times[s])];
          for (let j = 0; j < Ct; j++) row.push(String(Number(pred[s * Ct + j].toPrecision(7))));
          lines.push(row.join(","));
        }
        const csv = lines.join("\n") + "\n";
        if (f.out) {
          writeFileAtomic(f.out, csv);
          process.stderr.write(
            `forecast of ${steps} step${steps > 1 ? "s" : ""} written to ${f.out}\n`,
          );
        } else process.stdout.write(csv);
      },
    );
}
