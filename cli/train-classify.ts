/** `lstm train-classify FILE.csv --text-column C --label-column L`: a sequence classifier. */
import type { Command } from "commander";
import {
  classifierMeta,
  parseClassifyCsv,
  prepareClassification,
  readClassifierMeta,
  type ClassificationData,
  type SequenceKind,
} from "../src/data/classify.js";
import { decodeText } from "../src/data/text.js";
import type { LstmModel } from "../src/model/model.js";
import { ClassifyTask, classifyLogits } from "../src/train/classify-task.js";
import { argmaxRows, classificationMetrics } from "../src/train/metrics.js";
import type { ModelMeta } from "../src/node.js";
import { prepareModel, runTrainCommand } from "./train-common.js";
import { addTrainOptions, featureConfig, type TrainFlags } from "./train-flags.js";
import { blameCheckpoint } from "./train-resume.js";
import { CliError, choiceOption, floatOption, intOption } from "./util.js";

interface ClassifyFlags extends TrainFlags {
  /** Required, unless --fine-tune gives the model file's columns. */
  textColumn?: string;
  labelColumn?: string;
  kind: SequenceKind;
  testFraction: number;
  bidirectional?: boolean;
  classWeights?: boolean;
}

/** Accuracy of the model on `rows` (null when there are none). */
function accuracyOn(model: LstmModel, data: ClassificationData, rows: Int32Array): number | null {
  if (rows.length === 0) return null;
  const logits = classifyLogits(model, data, { rows });
  const m = classificationMetrics({
    truth: Int32Array.from(rows, (r) => data.classIds[r]),
    predicted: argmaxRows(logits, data.classes.length),
    labels: data.classes,
  });
  return m.accuracy;
}

export function registerTrainClassify(program: Command): void {
  const cmd = program
    .command("train-classify")
    .summary("train a sequence classifier on a CSV file (one label per row)")
    .description(
      "Train an LSTM that reads a whole sequence and predicts its class (softmax cross-entropy on\n" +
        "the final states of the last layer, PyTorch packed-sequence semantics: rows of different\n" +
        "lengths in one batch, no compute spent on padding). --kind chars: every character of the\n" +
        "text column is a step (one-hot, or --embedding E; vocabulary of the training rows); --kind numbers: the\n" +
        "cell holds `1;2.5;-3` or a JSON array (docs/classification.md). The last --test-fraction\n" +
        "of the rows is held out for testing; --valid-fraction of each class's other rows\n" +
        "(stratified, --seed) for validation.",
    )
    .argument("<file>", "CSV file with a header row");
  addTrainOptions(cmd, {
    hidden: 128,
    layers: 1,
    seqLen: 1,
    batch: 64,
    lr: 0.003,
    clip: 5,
    validFraction: 0.1,
    out: "classifier.safetensors",
  })
    .option("--text-column <name>", "column holding the sequences (required unless --fine-tune)")
    .option(
      "--label-column <name>",
      "column holding the class labels (required unless --fine-tune)",
    )
    .option(
      "--kind <kind>",
      "chars (text) or numbers (numeric sequences)",
      choiceOption("--kind", ["chars", "numbers"] as const),
      "chars",
    )
    .option(
      "--test-fraction <x>",
      "hold out the last x of the rows for testing (use when the rows are shuffled)",
      floatOption("--test-fraction", 0, 0.9),
      0,
    )
    .option("--bidirectional", "a bidirectional LSTM (both directions' final states)")
    .option(
      "--embedding <E>",
      "--kind chars: an embedding table of width E (padding id 0) instead of one-hot input",
      intOption("--embedding", 1, 65536),
    )
    .option(
      "--class-weights",
      "weight the training loss by inverse class frequency (n / (C·n_c), training rows)",
    )
    .action(async (file: string, rawFlags: ClassifyFlags) => {
      let accuracy: { valid: number | null; test: number | null } = { valid: null, test: null };
      const { flags } = await runTrainCommand(cmd, rawFlags, {
        task: "classify",
        file,
        setup: (input) => {
          const { flags, resumed, tuned, bytes } = input;
          if (flags.textColumn === undefined || flags.labelColumn === undefined)
            throw new CliError(
              "train-classify needs --text-column and --label-column (or --fine-tune MODEL)",
            );
          const csv = decodeText(bytes, file);
          const table = parseClassifyCsv(csv, file, {
            textColumn: flags.textColumn,
            labelColumn: flags.labelColumn,
            kind: flags.kind,
          });
          // A fine-tune keeps the model's classes and vocabulary (or scaler).
          const data = prepareClassification(table, {
            validFraction: flags.validFraction,
            testFraction: flags.testFraction,
            seed: flags.seed,
            classWeights: flags.classWeights ?? false,
            ...(tuned
              ? {
                  keep: {
                    classifier: readClassifierMeta(tuned.meta.classifier, tuned.path),
                    source: tuned.path,
                  },
                }
              : {}),
          });
          const { train, valid, test } = data.split;
          const V = data.vocab ? data.vocab.size : data.features;
          const C = data.classes.length;
          const D = flags.bidirectional ? 2 : 1;
          const features = featureConfig(flags, { vocab: data.vocab ? V : null, directions: D });
          if (features.tiedHead)
            throw new CliError(
              "--tie-weights: a classifier's head predicts classes, not characters",
            );
          const embedding = features.embedding ? { numEmbeddings: V, paddingIdx: 0 } : undefined;
          const meta: ModelMeta = {
            task: "classify",
            input: embedding
              ? { kind: "embedding" }
              : data.vocab
                ? { kind: "one-hot" }
                : { kind: "dense" },
            classifier: classifierMeta(data),
          };
          if (
            resumed &&
            JSON.stringify(resumed.meta.classifier) !== JSON.stringify(meta.classifier)
          )
            throw new CliError(
              `${flags.resume}: the checkpoint's classes or vocabulary differ from ${file} with these options`,
            );
          const longest = data.lengths.reduce((a, n) => Math.max(a, n), 0);
          const inputSize = features.inputSize ?? V;
          const model = prepareModel({ ...flags, seqLen: longest }, input, {
            inputSize,
            embedding,
            projSize: features.projSize,
            dropout: features.dropout,
            bidirectional: flags.bidirectional ?? false,
            outputSize: C,
          });
          const task = blameCheckpoint(
            flags.resume,
            () =>
              new ClassifyTask(model, data, {
                ...{ batch: flags.batch, train, valid },
                classWeights: data.weights,
              }),
          );
          return {
            model,
            task,
            meta,
            describe:
              `${file}: ${data.lengths.length} rows, ${C} classes (${data.classes.join(", ")}), ` +
              `${data.vocab ? `vocabulary ${V - 1} characters` : `${V} features per step`}, longest ${longest} steps; ` +
              `${train.length} train, ${valid.length} validation, ${test.length} test rows`,
            lossName: "cross-entropy (nats)",
            summarize: () => {
              accuracy = {
                valid: accuracyOn(model, data, valid),
                test: accuracyOn(model, data, test),
              };
              return { data: file, rows: data.lengths.length, accuracy };
            },
            reportData: () => ({ data: csv, dataName: file }),
            next: (out) => [`npx lstm eval ${out} ${file}`, `npx lstm predict ${out} "some text"`],
          };
        },
      });
      const pct = (a: number | null): string => (a === null ? "-" : `${(100 * a).toFixed(2)}%`);
      if (flags.json)
        process.stdout.write(JSON.stringify({ type: "accuracy", ...accuracy }) + "\n");
      else if (!flags.quiet)
        process.stderr.write(
          `accuracy: validation ${pct(accuracy.valid)}, test ${pct(accuracy.test)}\n`,
        );
    });
}
