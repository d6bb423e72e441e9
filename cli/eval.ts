/** `lstm eval MODEL FILE`: how well a model predicts a text or a series, beside naive baselines. */
import type { Command } from "commander";
import cliProgress from "cli-progress";
import { parseCsvSeries, type MissingPolicy } from "../src/data/series.js";
import { decodeText, unigramEntropy, Vocab } from "../src/data/text.js";
import { evaluateForecasts, guessSeason, readSeriesMeta } from "../src/train/forecast.js";
import { streamCrossEntropy } from "../src/train/text-task.js";
import { loadModel } from "../src/node.js";
import { CliError, choiceOption, floatOption, intOption, readDataBytes } from "./util.js";
import { evalClassifier, printClassifierMetrics } from "./classify.js";

interface Flags {
  json?: boolean;
  unknown: "error" | "skip";
  maxChars?: number;
  season?: number;
  missing: MissingPolicy;
  rows: "test" | "all";
  testFraction?: number;
}

export function registerEval(program: Command): void {
  program
    .command("eval")
    .summary("measure a model on a text, a series or a classification CSV")
    .description(
      "Text models: the mean cross-entropy (nats, and bits per character) of predicting each\n" +
        "character from all the characters before it, the file read as one stream from a zero\n" +
        "state, beside the unigram baseline (the file's own character frequencies).\n" +
        "Series models: RMSE, MAE and MAPE of the model's forecasts over the test rows (or all\n" +
        "rows), beside the last-value and seasonal-naive baselines.\n" +
        "Classifiers: accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix\n" +
        "(--json: accuracy, macroF1, perClass, confusion, labels), beside the majority class.",
    )
    .argument("<model>", "model file")
    .argument("<file>", "text file or CSV file")
    .option("--json", "print one JSON object")
    .option(
      "--unknown <policy>",
      "characters not in the vocabulary: error or skip",
      choiceOption("--unknown", ["error", "skip"] as const),
      "error",
    )
    .option("--max-chars <n>", "evaluate only the first n characters", intOption("--max-chars", 2))
    .option(
      "--season <m>",
      "season length for seasonal naive (default: 12 monthly, 52 weekly, 7 daily)",
      intOption("--season", 1),
    )
    .option(
      "--missing <policy>",
      "empty CSV cells: error, interpolate or drop",
      choiceOption("--missing", ["error", "interpolate", "drop"] as const),
      "error",
    )
    .option(
      "--rows <which>",
      "series: the model's test rows (when the file is its training file) or all rows",
      choiceOption("--rows", ["test", "all"] as const),
      "test",
    )
    .option(
      "--test-fraction <x>",
      "classifiers: evaluate the last x of the rows only (train-classify's test part)",
      floatOption("--test-fraction", 1e-9, 1),
    )
    .action((modelPath: string, file: string, f: Flags) => {
      const { model, meta } = loadModel(modelPath);
      if (meta.task === "classify") {
        const opts = { unknown: f.unknown, testFraction: f.testFraction };
        const r = evalClassifier({ model, meta, path: modelPath }, file, opts);
        if (f.json) console.log(JSON.stringify({ task: "classify", ...r }));
        else printClassifierMetrics(r);
        return;
      }
      const bytes = readDataBytes(file);
      if (meta.task === "text") {
        const vocab = Vocab.fromJSON(meta.vocab, modelPath);
        let text = decodeText(bytes, file);
        if (f.maxChars !== undefined) text = [...text].slice(0, f.maxChars).join("");
        const report = vocab.encodeWithReport(text);
        if (report.skippedTotal > 0 && f.unknown === "error") vocab.encode(text, { source: file }); // throws, naming the character
        const ids = report.ids;
        if (ids.length < 2)
          throw new CliError(`${file}: fewer than 2 known characters to evaluate`);
        // One stream from a zero state: a progress bar on a terminal, as it can take a while.
        const bar =
          !f.json && process.stderr.isTTY
            ? new cliProgress.SingleBar(
                {
                  format: " {bar} {percentage}% | {value}/{total} characters | ETA {eta_formatted}",
                  stream: process.stderr,
                },
                cliProgress.Presets.shades_classic,
              )
            : null;
        bar?.start(ids.length - 1, 0);
        const loss = streamCrossEntropy(model, ids, 1, 256, Infinity, (done) => bar?.update(done))!;
        bar?.stop();
        const unigram = unigramEntropy(ids, vocab.size);
        const result = {
          file,
          task: "text",
          loss,
          bitsPerChar: loss / Math.LN2,
          characters: ids.length - 1,
          skippedCharacters: report.skippedTotal,
          baselines: { unigram: { loss: unigram, bitsPerChar: unigram / Math.LN2 } },
        };
        if (f.json) console.log(JSON.stringify(result));
        else {
          console.log(
            `${file}: ${result.characters} predictions${report.skippedTotal ? ` (${report.skippedTotal} unknown characters skipped)` : ""}`,
          );
          console.log(
            `  model     ${loss.toFixed(4)} nats/char  ${result.bitsPerChar.toFixed(4)} bits/char`,
          );
          console.log(
            `  unigram   ${unigram.toFixed(4)} nats/char  ${(unigram / Math.LN2).toFixed(4)} bits/char`,
          );
        }
        return;
      }
      if (meta.task !== "series")
        throw new CliError(
          `${modelPath} is a ${meta.task} model; eval handles text and series models`,
        );
      const sm = readSeriesMeta(meta.series, modelPath);
      const series = parseCsvSeries(decodeText(bytes, file), file, {
        columns: sm.columns,
        timeColumn: sm.timeColumn ?? undefined,
        missing: f.missing,
      });
      const N = series.values.length / sm.columns.length;
      const useTest =
        f.rows === "test" &&
        sm.split !== null &&
        sm.rows === N &&
        sm.split.test[1] > sm.split.test[0];
      const rows: [number, number] = useTest ? [sm.split!.test[0], sm.split!.test[1]] : [0, N];
      const season = f.season ?? guessSeason(series.times);
      const r = evaluateForecasts(model, sm, series.values, rows, season);
      const result = { file, task: "series", rowsUsed: useTest ? "test" : "all", ...r };
      if (f.json) console.log(JSON.stringify(result));
      else {
        const fmt = (m: { rmse: number; mae: number; mape: number }): string =>
          `RMSE ${m.rmse.toPrecision(5)}  MAE ${m.mae.toPrecision(5)}  MAPE ${m.mape.toFixed(2)}%`;
        console.log(
          `${file}: ${r.windows} forecast origins, horizon ${sm.horizon}, ${useTest ? "test rows" : "all rows"} ${r.rows[0]}–${r.rows[1] - 1}`,
        );
        console.log(`  model            ${fmt(r)}`);
        console.log(`  last value       ${fmt(r.baselines.lastValue)}`);
        if (r.baselines.seasonalNaive)
          console.log(
            `  seasonal naive   ${fmt(r.baselines.seasonalNaive)} (season ${r.baselines.seasonalNaive.season})`,
          );
      }
    });
}
