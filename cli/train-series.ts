/** `lstm train-series FILE.csv --column NAME --horizon K`: a forecaster for numeric series. */
import type { Command } from "commander";
import { parseCsvSeries, type MissingPolicy } from "../src/data/series.js";
import { decodeText } from "../src/data/text.js";
import { SeriesTask } from "../src/train/series-task.js";
import { readSeriesMeta } from "../src/train/forecast.js";
import { prepareSeries } from "../src/train/series-setup.js";
import type { ModelMeta } from "../src/node.js";
import { prepareModel, runTrainCommand } from "./train-common.js";
import { addTrainOptions, featureConfig, type TrainFlags } from "./train-flags.js";
import { blameCheckpoint } from "./train-resume.js";
import { CliError, choiceOption, floatOption, intOption } from "./util.js";

interface SeriesFlags extends TrainFlags {
  /** Required, unless --fine-tune gives the model file's columns. */
  column?: string;
  target?: string;
  timeColumn?: string;
  horizon: number;
  missing: MissingPolicy;
  testFraction: number;
  transform: "none" | "log";
  relative?: boolean;
}

function list(v: string): string[] {
  return v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function registerTrainSeries(program: Command): void {
  const cmd = program
    .command("train-series")
    .summary("train a forecaster on numeric columns of a CSV file")
    .description(
      "Train an LSTM forecaster on one or more numeric CSV columns: windows of --seq-len rows\n" +
        "predict the next --horizon values of the target columns. The rows are split in time\n" +
        "order into training, validation and test parts; scaling is fitted on the training part\n" +
        "only and saved with the model.",
    )
    .argument("<file>", "CSV file with a header row")
    .option(
      "--column <names>",
      "comma-separated input columns (e.g. passengers_thousands); required unless --fine-tune",
    )
    .option("--target <names>", "columns to forecast (default: all of --column)")
    .option(
      "--time-column <name>",
      "column with the time stamps (default: the first column, if not an input)",
    )
    .option("--horizon <n>", "steps ahead to forecast (K)", intOption("--horizon", 1, 10000), 1)
    .option(
      "--missing <policy>",
      "empty cells: error, interpolate or drop",
      choiceOption("--missing", ["error", "interpolate", "drop"] as const),
      "error",
    )
    .option(
      "--test-fraction <x>",
      "fraction of rows (at the end) kept for testing",
      floatOption("--test-fraction", 0, 0.9),
      0.15,
    )
    .option(
      "--transform <kind>",
      "none, or log (for positive series that grow multiplicatively)",
      choiceOption("--transform", ["none", "log"] as const),
      "none",
    )
    .option(
      "--relative",
      "predict changes from the last observed value instead of levels (for trending series)",
    );
  addTrainOptions(cmd, {
    hidden: 32,
    layers: 1,
    seqLen: 24,
    batch: 16,
    lr: 0.01,
    clip: 1,
    validFraction: 0.15,
    out: "series-model.safetensors",
  }).action(async (file: string, rawFlags: SeriesFlags) => {
    await runTrainCommand(cmd, rawFlags, {
      task: "series",
      file,
      setup: (input) => {
        const { flags, resumed, tuned, bytes } = input;
        if (flags.column === undefined)
          throw new CliError("train-series needs --column NAMES (or --fine-tune MODEL)");
        const columns = list(flags.column);
        if (columns.length === 0) throw new CliError("--column needs at least one column name");
        const targets = flags.target ? list(flags.target) : columns;
        for (const t of targets)
          if (!columns.includes(t))
            throw new CliError(
              `--target ${t} must be one of the --column columns (${columns.join(", ")})`,
            );
        const csv = decodeText(bytes, file);
        const series = parseCsvSeries(csv, file, {
          columns,
          timeColumn: flags.timeColumn,
          missing: flags.missing,
        });
        const N = series.values.length / columns.length;
        const C = columns.length;
        // A run that starts from a file keeps its scaler (a fine-tune sees the data as the
        // model was trained to; a resumed run's data is the same file, so it is the same fit).
        const start = resumed ? { meta: resumed.meta, path: flags.resume! } : tuned;
        const {
          windows,
          split,
          meta: seriesMeta,
        } = prepareSeries(series, {
          source: file,
          targets,
          validFraction: flags.validFraction,
          testFraction: flags.testFraction,
          transform: flags.transform,
          seqLen: flags.seqLen,
          horizon: flags.horizon,
          relative: flags.relative ?? false,
          missing: flags.missing,
          scaler: start ? readSeriesMeta(start.meta.series, start.path).scaler : undefined,
        });
        const O = windows.train.outputSize;
        const features = featureConfig(flags, { vocab: null, directions: 1 });
        const model = prepareModel(flags, input, { inputSize: C, outputSize: O, ...features });
        const task = blameCheckpoint(
          flags.resume,
          () =>
            new SeriesTask(
              model,
              windows.train,
              windows.valid,
              flags.batch,
              flags.relative ?? false,
            ),
        );
        const meta: ModelMeta = {
          task: "series",
          input: { kind: "dense" },
          series: seriesMeta,
        };
        return {
          model,
          task,
          meta,
          describe:
            `${file}: ${N} rows × ${C} column${C > 1 ? "s" : ""}; rows ${split.train[0]}–${split.train[1] - 1} train, ` +
            `${split.valid[0]}–${split.valid[1] - 1} validation, ${split.test[0]}–${split.test[1] - 1} test; ` +
            `${windows.train.count} training windows of ${flags.seqLen} → ${flags.horizon}`,
          lossName: "MSE (scaled)",
          summarize: () => ({ data: file }),
          reportData: () => ({ data: csv, dataName: file }),
        };
      },
    });
  });
}
