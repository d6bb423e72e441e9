/**
 * `lstm convert IN --out OUT`: imports an nn.LSTM state_dict (PyTorch safetensors) or Keras LSTM
 * weights (keras-lstm JSON) as an lstm-ts model file, or exports a model as keras-lstm JSON.
 * The converters are src/io/convert.ts; docs/model-format.md describes every format.
 */
import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import type { Command } from "commander";
import {
  buildMeta,
  checkConverted,
  exportKeras,
  importKeras,
  importPytorchSafetensors,
  parseVocab,
  sniffFormat,
  type ConvertTask,
  type ImportedModel,
} from "../src/io/convert.js";
import { decodeModel, type ModelMeta } from "../src/io/model-file.js";
import { paramsSha256, saveModel, writeFileAtomic } from "../src/node.js";
import { FormatError } from "../src/tensor/errors.js";
import { choiceOption, CliError } from "./util.js";

const FROM = ["auto", "lstm", "pytorch", "keras"] as const;
const TO = ["lstm", "keras"] as const;
const TASKS = ["text", "series", "generic"] as const;

interface ConvertFlags {
  out: string;
  from: (typeof FROM)[number];
  to: (typeof TO)[number];
  lstmPrefix?: string;
  headPrefix?: string;
  vocab?: string;
  series?: string;
  task?: ConvertTask;
  json?: boolean;
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory"
          : code === "EACCES"
            ? "permission denied"
            : (e as Error).message;
    throw new CliError(`cannot read ${path}: ${why}`);
  }
}

function readJson(path: string, bytes = readBytes(path)): unknown {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new FormatError(path, "is not UTF-8 text");
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(path, `is not valid JSON (${(e as Error).message})`);
  }
}

const NAMES = {
  lstm: "lstm-ts model",
  pytorch: "PyTorch nn.LSTM state_dict",
  keras: "keras-lstm JSON",
};

export function registerConvert(program: Command): void {
  program
    .command("convert")
    .summary("import PyTorch or Keras LSTM weights as a model file, or export one as Keras JSON")
    .description(
      "Convert LSTM weights between frameworks (formats: docs/model-format.md).\n\n" +
        "--from pytorch IN.safetensors: an nn.LSTM (+ nn.Linear head) state_dict\n" +
        "  saved with safetensors; keys with or without a module prefix (lstm.,\n" +
        "  rnn., ...); the head as head.*, fc.*, linear.* or decoder.* (or give\n" +
        "  --head-prefix). Sizes are inferred from the shapes.\n" +
        "--from keras IN.json: keras-lstm JSON (Keras/TF.js kernel,\n" +
        "  recurrent_kernel, bias; Bidirectional as backward_layer; a Dense head).\n" +
        "--to keras: write keras-lstm JSON (bias = bias_ih + bias_hh).\n\n" +
        "Without --from the input format is detected from the file. The output\n" +
        "is written atomically, and only after every check has passed.",
    )
    .argument("<input>", "model file, PyTorch safetensors state_dict, or keras-lstm JSON")
    .requiredOption("--out <file>", "output file (.safetensors model, or .json with --to keras)")
    .option(
      "--from <format>",
      `input format: ${FROM.join(", ")}`,
      choiceOption("--from", FROM),
      "auto",
    )
    .option("--to <format>", `output format: ${TO.join(", ")}`, choiceOption("--to", TO), "lstm")
    .option(
      "--lstm-prefix <prefix>",
      'module prefix of the nn.LSTM keys ("" for bare keys; default: detected)',
    )
    .option(
      "--head-prefix <prefix>",
      "module prefix of the nn.Linear head (default: head, fc, linear or decoder)",
    )
    .option(
      "--vocab <file>",
      "JSON array of the characters in index order: a text model (one-hot input, I = V)",
    )
    .option(
      "--series <file>",
      "series metadata JSON (columns, targetColumns, horizon, seqLen, scaler)",
    )
    .option(
      "--task <task>",
      `model task: ${TASKS.join(", ")} (default: text with --vocab, else generic)`,
      choiceOption("--task", TASKS),
    )
    .option("--json", "print one JSON object")
    .action((input: string, flags: ConvertFlags) => {
      if (resolve(flags.out) === resolve(input))
        throw new CliError(`--out ${flags.out} is the input file; write the conversion elsewhere`);
      const bytes = readBytes(input);
      let from = flags.from;
      if (from === "auto") {
        const sniffed = sniffFormat(bytes);
        if (!sniffed)
          throw new CliError(
            `${input}: neither a safetensors file nor a JSON object; give --from pytorch or --from keras`,
          );
        from = sniffed;
      }
      const to = flags.to;
      if (from === "lstm" && to === "lstm")
        throw new CliError(
          `${input} is already an lstm-ts model: nothing to convert (give --to keras, or --from pytorch|keras for other files)`,
        );
      if (from !== "pytorch" && (flags.lstmPrefix !== undefined || flags.headPrefix !== undefined))
        throw new CliError("--lstm-prefix and --head-prefix are for --from pytorch");

      let imported: ImportedModel;
      let base: Partial<ModelMeta> | undefined;
      if (from === "lstm") {
        const { model, meta } = decodeModel(bytes, input);
        imported = {
          model,
          report: { from: "lstm", config: model.config, dtypes: ["F32"], notes: [] },
        };
        base = meta;
      } else if (from === "pytorch") {
        imported = importPytorchSafetensors(bytes, input, {
          lstmPrefix: flags.lstmPrefix,
          headPrefix: flags.headPrefix,
        });
      } else {
        imported = importKeras(readJson(input, bytes), input);
        base = imported.meta;
      }
      const { model, report } = imported;
      const meta = buildMeta(
        model.config,
        {
          task: flags.task,
          vocab:
            flags.vocab !== undefined ? parseVocab(readJson(flags.vocab), flags.vocab) : undefined,
          series:
            flags.series !== undefined
              ? (readJson(flags.series) as Record<string, unknown>)
              : undefined,
          base,
          training:
            from === "lstm"
              ? (base?.training ?? undefined)
              : { convertedFrom: from, source: basename(input) },
        },
        flags.series ?? input,
      );

      if (to === "lstm") {
        checkConverted(model, meta, flags.out);
        saveModel(flags.out, model, meta);
      } else {
        writeFileAtomic(flags.out, `${JSON.stringify(exportKeras(model, meta))}\n`);
      }

      const c = model.config;
      const summary = {
        input,
        out: flags.out,
        from,
        to,
        task: meta.task,
        config: c,
        numParams: model.numParams,
        paramsSha256: paramsSha256(model),
        ...(report.lstmPrefix !== undefined
          ? { lstmPrefix: report.lstmPrefix, headPrefix: report.headPrefix }
          : {}),
        notes: report.notes,
      };
      if (flags.json) {
        console.log(JSON.stringify(summary));
        return;
      }
      const keys =
        report.lstmPrefix !== undefined
          ? ` (keys ${report.lstmPrefix ? `${report.lstmPrefix}.` : ""}weight_ih_l0…, head ${report.headPrefix}.*)`
          : "";
      console.log(`${input}: ${NAMES[from]}${keys}`);
      console.log(
        `  LSTM: input ${c.inputSize}, hidden ${c.hiddenSize}, layers ${c.numLayers}, ` +
          `${c.bidirectional ? "bidirectional" : "unidirectional"}; head outputs ${c.outputSize}; ${model.numParams} parameters`,
      );
      for (const n of report.notes) console.log(`  note: ${n}`);
      console.log(
        `${flags.out}: ${NAMES[to]} (${meta.task} model), paramsSha256 ${summary.paramsSha256}`,
      );
    });
}
