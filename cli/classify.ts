/**
 * The classifier side of `lstm eval` (accuracy, macro-F1, per-class scores, confusion matrix,
 * against the majority class) and `lstm predict MODEL TEXT… | --file F` (top-k labels).
 */
import type { Command } from "commander";
import {
  encodeInputs,
  parseClassifyCsv,
  readClassifierMeta,
  type RestoredClassifier,
} from "../src/data/classify.js";
import { decodeText } from "../src/data/text.js";
import type { LstmModel } from "../src/model/model.js";
import { classifyLogits } from "../src/train/classify-task.js";
import {
  argmaxRows,
  classificationMetrics,
  topK,
  type ClassificationMetrics,
} from "../src/train/metrics.js";
import { loadModel, type ModelMeta } from "../src/node.js";
import { DataError } from "../src/tensor/errors.js";
import { CliError, choiceOption, intOption, readDataBytes } from "./util.js";

/** The classifier metadata of a loaded model, or a CliError naming the file. */
function restoreClassifier(meta: ModelMeta, modelPath: string): RestoredClassifier {
  if (meta.task !== "classify" || !meta.classifier)
    throw new CliError(`${modelPath} is a ${meta.task} model, not a classifier (train-classify)`);
  return readClassifierMeta(meta.classifier, modelPath);
}

/** Options of `lstm eval` on a classifier. */
export interface ClassifierEvalOptions {
  unknown: "error" | "skip";
  /** Evaluate only the last fraction of the rows (the test part of train-classify). */
  testFraction?: number;
}

/**
 * The metrics of a classifier on a CSV file with the columns it was trained on. With
 * testFraction, only the last rows count and the baseline's majority class is that of the
 * rows before them (the training part); otherwise that of the evaluated rows.
 */
export function evalClassifier(
  loaded: { model: LstmModel; meta: ModelMeta; path: string },
  file: string,
  opts: ClassifierEvalOptions,
): ClassificationMetrics & { file: string; rowsUsed: string } {
  const clf = restoreClassifier(loaded.meta, loaded.path);
  const m = clf.meta;
  const table = parseClassifyCsv(decodeText(readDataBytes(file), file), file, {
    textColumn: m.textColumn,
    labelColumn: m.labelColumn,
    kind: m.kind,
  });
  const N = table.texts.length;
  const nTest = opts.testFraction ? Math.round(N * opts.testFraction) : N;
  if (nTest < 1) throw new CliError(`${file}: --test-fraction leaves no rows to evaluate`);
  const first = N - nTest;
  const ids = table.labels.map((label, r) => {
    const c = m.classes.indexOf(label);
    if (c < 0 && r >= first)
      throw new DataError(
        `${file} line ${table.lines[r]}: label '${label}' is not one of the model's classes (${m.classes.join(", ")})`,
      );
    return c;
  });
  const cells = table.texts.slice(first);
  const set = encodeInputs(clf, cells, {
    unknown: opts.unknown,
    sourceOf: (i) => `${file} line ${table.lines[first + i]}`,
  });
  const logits = classifyLogits(loaded.model, set);
  const truth = Int32Array.from(ids.slice(first));
  const reference = first > 0 ? Int32Array.from(ids.slice(0, first).filter((c) => c >= 0)) : truth;
  const metrics = classificationMetrics({
    truth,
    predicted: argmaxRows(logits, m.classes.length),
    labels: m.classes,
    reference: reference.length > 0 ? reference : truth,
  });
  return { file, rowsUsed: first > 0 ? `last ${nTest} of ${N}` : `all ${N}`, ...metrics };
}

/** Prints evalClassifier's result as a table. */
export function printClassifierMetrics(r: ReturnType<typeof evalClassifier>): void {
  const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
  console.log(`${r.file}: ${r.count} rows (${r.rowsUsed})`);
  console.log(`  accuracy ${pct(r.accuracy)}  macro-F1 ${r.macroF1.toFixed(4)}`);
  console.log(
    `  majority class (${r.baseline.label}): accuracy ${pct(r.baseline.accuracy)}  macro-F1 ${r.baseline.macroF1.toFixed(4)}`,
  );
  const w = Math.max(5, ...r.labels.map((l) => l.length));
  console.log(`  ${"class".padEnd(w)}  precision  recall     F1  support`);
  for (const c of r.perClass)
    console.log(
      `  ${c.label.padEnd(w)}  ${c.precision.toFixed(4).padStart(9)}  ${c.recall.toFixed(4).padStart(6)}  ${c.f1.toFixed(4)}  ${String(c.support).padStart(7)}`,
    );
  console.log(`  confusion (rows true, columns predicted: ${r.labels.join(", ")})`);
  for (let t = 0; t < r.labels.length; t++)
    console.log(
      `  ${r.labels[t].padEnd(w)}  ${r.confusion[t].map((n) => String(n).padStart(6)).join("")}`,
    );
}

interface PredictFlags {
  file?: string;
  top: number;
  json?: boolean;
  unknown: "error" | "skip";
}

export function registerPredict(program: Command): void {
  program
    .command("predict")
    .summary("classify texts (or numeric sequences) with a trained classifier")
    .description(
      "Prints the --top most probable classes of each input with their probabilities (softmax\n" +
        "of the head). Inputs are the arguments, or one per line of --file (blank lines skipped).\n" +
        "A character the model never saw is an error naming it, unless --unknown skip drops it.",
    )
    .argument("<model>", "classifier model file (train-classify)")
    .argument("[inputs...]", "texts to classify")
    .option("--file <file>", "read the inputs from this file, one per line")
    .option("--top <k>", "labels per input", intOption("--top", 1), 3)
    .option("--json", "one JSON object per input: input, labels [{label, probability}]")
    .option(
      "--unknown <policy>",
      "characters not in the vocabulary: error or skip",
      choiceOption("--unknown", ["error", "skip"] as const),
      "error",
    )
    .action((modelPath: string, args: string[], f: PredictFlags) => {
      const { model, meta } = loadModel(modelPath);
      const clf = restoreClassifier(meta, modelPath);
      let inputs = args;
      let sourceOf = (i: number): string => `input ${i + 1}`;
      if (f.file !== undefined) {
        if (args.length > 0) throw new CliError("give inputs as arguments or --file, not both");
        const file = f.file;
        const lines = decodeText(readDataBytes(file), file).split(/\r?\n/);
        const at: number[] = [];
        inputs = [];
        lines.forEach((l, i) => {
          if (l.trim() === "") return;
          inputs.push(l.trim());
          at.push(i + 1);
        });
        sourceOf = (i) => `${file} line ${at[i]}`;
      }
      if (inputs.length === 0) throw new CliError("nothing to classify: give inputs or --file");
      const set = encodeInputs(clf, inputs, { unknown: f.unknown, sourceOf });
      const logits = classifyLogits(model, set);
      const top = topK(logits, clf.meta.classes, f.top);
      inputs.forEach((input, i) => {
        const labels = top[i].map((t) => ({ label: t.label, probability: t.probability }));
        if (f.json) console.log(JSON.stringify({ input, labels }));
        else
          console.log(
            `${input}\t${labels.map((l) => `${l.label} ${(100 * l.probability).toFixed(1)}%`).join("  ")}`,
          );
      });
    });
}
