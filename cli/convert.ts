/**
 * `lstm convert IN --out OUT`: imports an nn.LSTM state_dict (PyTorch safetensors), a TensorFlow.js
 * Layers model (model.json + weight shards) or Keras LSTM weights (keras-lstm JSON) as an lstm-ts
 * model file, or exports a model as a TensorFlow.js Layers model or keras-lstm JSON.
 * The converters are src/io/convert.ts and src/io/tfjs.ts; docs/model-format.md describes every
 * format.
 */
import { mkdirSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Command } from "commander";
import {
  buildMeta,
  checkConverted,
  exportKeras,
  exportTfjs,
  importKeras,
  importPytorchSafetensors,
  importTfjs,
  parseVocab,
  sniffFormat,
  TFJS_WEIGHTS_PATH,
  type ConvertTask,
  type ImportedModel,
} from "../src/io/convert.js";
import { decodeModel, type ModelMeta } from "../src/io/model-file.js";
import { exportOnnx, type OnnxExport } from "../src/io/onnx/export.js";
import { paramsSha256, saveModel, writeFileAtomic } from "../src/node.js";
import { FormatError } from "../src/tensor/errors.js";
import { checkOutputs, prepareOutputDir } from "../src/io/paths.js";
import { choiceOption, CliError, intOption, readBytes, readDataBytes } from "./util.js";

const FROM = ["auto", "lstm", "pytorch", "keras", "tfjs"] as const;
const TO = ["lstm", "keras", "tfjs", "onnx"] as const;
const TASKS = ["text", "series", "generic"] as const;

interface ConvertFlags {
  out: string;
  from: (typeof FROM)[number];
  to: (typeof TO)[number];
  lstmPrefix?: string;
  headPrefix?: string;
  embeddingPrefix?: string;
  paddingIdx?: number;
  vocab?: string;
  series?: string;
  task?: ConvertTask;
  json?: boolean;
  batchFirst?: boolean;
}

function readJson(path: string, bytes = readDataBytes(path)): unknown {
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
  pytorch: "PyTorch nn.LSTM / nn.GRU state_dict",
  keras: "keras-lstm JSON",
  tfjs: "TensorFlow.js Layers model",
  onnx: "ONNX model",
};

const isDir = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/** A TF.js input: a directory holding model.json, or the model.json file itself. */
function tfjsModelJsonPath(input: string): string {
  if (!isDir(input)) return input;
  const p = join(input, "model.json");
  try {
    if (statSync(p).isFile()) return p;
  } catch {
    // reported below
  }
  throw new CliError(
    `${input} is a directory without a model.json (a TensorFlow.js model directory)`,
  );
}

/** Reads a TF.js model.json and its shards (paths relative to model.json's directory). */
function readTfjs(modelJson: string, bytes: Uint8Array): ImportedModel {
  const dir = dirname(modelJson);
  const size = (p: string) => {
    try {
      const st = statSync(join(dir, p));
      if (!st.isFile()) throw new CliError(`${join(dir, p)}: weight shard is not a file`);
      return st.size;
    } catch (e) {
      if (e instanceof CliError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      throw new CliError(
        `cannot read weight shard ${join(dir, p)} (listed in ${modelJson}): ${code === "ENOENT" ? "no such file" : (e as Error).message}`,
      );
    }
  };
  return importTfjs(
    readJson(modelJson, bytes),
    { size, read: (p) => readBytes(join(dir, p)) },
    modelJson,
  );
}

/**
 * Writes a TF.js Layers model into `dir` (created if needed): the shard first, then model.json.
 * Returns the export's notes (how a Keras user feeds it: masks, padding).
 */
function writeTfjs(dir: string, model: ImportedModel["model"], meta: ModelMeta): string[] {
  let isDirectory: boolean | undefined; // undefined: nothing there yet
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    isDirectory = undefined;
  }
  if (isDirectory === false)
    throw new CliError(
      `--out ${dir} is a file; --to tfjs writes a directory (model.json + ${TFJS_WEIGHTS_PATH})`,
    );
  if (isDirectory === undefined)
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new CliError(`cannot create directory ${dir}: ${(e as Error).message}`);
    }
  const { modelJson, weightsPath, weights, notes } = exportTfjs(model, meta);
  writeFileAtomic(join(dir, weightsPath), weights);
  writeFileAtomic(join(dir, "model.json"), `${JSON.stringify(modelJson)}\n`);
  return notes;
}

export function registerConvert(program: Command): void {
  program
    .command("convert")
    .summary(
      "import PyTorch, TensorFlow.js or Keras LSTM weights as a model file, or export a model to TF.js or Keras",
    )
    .description(
      "Convert LSTM weights between frameworks (formats: docs/model-format.md).\n\n" +
        "--from pytorch IN.safetensors: an nn.LSTM or nn.GRU (+ nn.Linear head) state_dict\n" +
        "  saved with safetensors; keys with or without a module prefix (lstm.,\n" +
        "  rnn., ...); the head as head.*, fc.*, linear.* or decoder.* (or give\n" +
        "  --head-prefix). Sizes are inferred from the shapes.\n" +
        "--from tfjs DIR (or DIR/model.json): a TensorFlow.js Layers model, as\n" +
        "  model.save() or tensorflowjs_converter --input_format keras writes it:\n" +
        "  an optional Embedding first (mask_zero becomes padding id 0 with\n" +
        "  per-row lengths) or Masking (run it with per-row lengths), LSTM or\n" +
        "  Bidirectional(LSTM, merge_mode concat) layers\n" +
        "  (sigmoid recurrent activation, not hard_sigmoid) and one Dense head,\n" +
        "  maybe in TimeDistributed; or GRU layers with reset_after=True\n" +
        "  (TensorFlow 2's default; reset_after=false, what TF.js runs, is\n" +
        "  refused). Dropout layers become the dropout settings. Weights are\n" +
        "  matched by layer and name suffix.\n" +
        "--from keras IN.json: keras-lstm JSON (Keras/TF.js kernel,\n" +
        "  recurrent_kernel, bias; Bidirectional as backward_layer; a Dense head).\n" +
        "--to tfjs --out DIR: write DIR/model.json + DIR/group1-shard1of1.bin, a\n" +
        "  Sequential for tf.loadLayersModel (input [batch, time, I], output\n" +
        "  [batch, time, O]; LSTM bias = bias_ih + bias_hh; a GRU model as Keras\n" +
        "  GRU layers with reset_after=True, which TF.js itself cannot run; an\n" +
        "  embedding as an Embedding layer, a tied head as an untied copy; a\n" +
        "  classifier ends in Dense on the final state, after mask_zero (embedding)\n" +
        "  or Masking(0) (one-hot) so padded rows read as lstm-ts reads them;\n" +
        "  projections are refused: Keras has no LSTMP).\n" +
        "--to keras: write keras-lstm JSON (bias = bias_ih + bias_hh).\n" +
        "--to onnx --out FILE.onnx: an ONNX model (opset 14, LSTM ops) for ONNX\n" +
        "  Runtime: inputs x [T, B, I] (text models: int64 tokens [T, B]), h0, c0\n" +
        "  [L·D, B, H]; outputs output [T, B, O] (series: last step, [B, O]), hN,\n" +
        "  cN. --batch-first for [B, T, ·]. Series values stay standardised.\n" +
        "  Projections (proj_size) run as a Scan per layer and direction.\n" +
        "  Classifiers (train-classify): tokens or x and seq_lens [B] in, logits\n" +
        "  and probabilities [B, C] out; the classes are in the metadata.\n\n" +
        "Without --from the input format is detected from the file. The output\n" +
        "is written atomically, and only after every check has passed.",
    )
    .argument(
      "<input>",
      "model file, PyTorch safetensors state_dict, TF.js model directory or model.json, or keras-lstm JSON",
    )
    .requiredOption(
      "--out <file>",
      "output: a .safetensors model, a .json file with --to keras, a directory with --to tfjs",
    )
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
      "module prefix of the nn.Linear head (default: head, fc, linear, decoder or out)",
    )
    .option(
      "--embedding-prefix <prefix>",
      "module prefix of an nn.Embedding input (default: embedding, encoder, embed, embeddings or emb)",
    )
    .option(
      "--padding-idx <n>",
      "the embedding's padding_idx (a state_dict does not record it)",
      intOption("--padding-idx", 0),
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
    .option("--batch-first", "--to onnx: the graph's input and output are [B, T, ·]")
    .option("--json", "print one JSON object")
    .action((input: string, flags: ConvertFlags) => {
      const to = flags.to;
      let from = flags.from;
      // A TF.js model is a directory or its model.json; everything else is one file.
      const inputFile =
        from === "tfjs" || (from === "auto" && isDir(input)) ? tfjsModelJsonPath(input) : input;
      const outFile = to === "tfjs" ? join(flags.out, "model.json") : flags.out;
      const inputs = [
        { role: "<input>", path: inputFile },
        ...(flags.vocab !== undefined ? [{ role: "--vocab", path: flags.vocab }] : []),
        ...(flags.series !== undefined ? [{ role: "--series", path: flags.series }] : []),
      ];
      const outputs = [{ role: "--out", path: outFile }];
      if (to === "tfjs") outputs.push({ role: "--out", path: join(flags.out, TFJS_WEIGHTS_PATH) });
      checkOutputs({ inputs, outputs });
      if (to !== "tfjs") prepareOutputDir(outputs[0]);
      const bytes = readBytes(inputFile);
      if (from === "auto") {
        const sniffed = sniffFormat(bytes);
        if (!sniffed)
          throw new CliError(
            `${input}: neither a safetensors file nor a JSON object; give --from pytorch, --from tfjs or --from keras`,
          );
        from = sniffed;
      }
      if (from === "lstm" && to === "lstm")
        throw new CliError(
          `${input} is already an lstm-ts model: nothing to convert (give --to tfjs or --to keras, or --from pytorch|tfjs|keras for other files)`,
        );
      if (flags.batchFirst && to !== "onnx") throw new CliError("--batch-first is for --to onnx");
      const prefixes = [
        flags.lstmPrefix,
        flags.headPrefix,
        flags.embeddingPrefix,
        flags.paddingIdx,
      ];
      if (from !== "pytorch" && prefixes.some((p) => p !== undefined))
        throw new CliError(
          "--lstm-prefix, --head-prefix, --embedding-prefix and --padding-idx are for --from pytorch",
        );

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
          embeddingPrefix: flags.embeddingPrefix,
          paddingIdx: flags.paddingIdx,
        });
      } else if (from === "tfjs") {
        imported = readTfjs(inputFile, bytes);
        base = imported.meta;
      } else {
        imported = importKeras(readJson(input, bytes), input);
        base = imported.meta;
      }
      const { model, report } = imported;
      // A classifier's metadata (classes, vocabulary or scaler) is its file's own: ONNX export
      // takes it as it is.
      const classifier = from === "lstm" && to === "onnx" && base?.task === "classify";
      if (classifier && [flags.task, flags.vocab, flags.series].some((f) => f !== undefined))
        throw new CliError(
          `${input} is a classification model: --task, --vocab and --series do not apply (its classes and vocabulary are in the file)`,
        );
      const meta = classifier
        ? (base as ModelMeta)
        : buildMeta(
            model.config,
            {
              task: flags.task,
              vocab:
                flags.vocab !== undefined
                  ? parseVocab(readJson(flags.vocab), flags.vocab)
                  : undefined,
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
            flags.series ?? inputFile,
          );

      let onnx: OnnxExport | undefined;
      if (to === "lstm") {
        checkConverted(model, meta, flags.out);
        saveModel(flags.out, model, meta);
      } else if (to === "tfjs") {
        report.notes.push(...writeTfjs(flags.out, model, meta));
      } else if (to === "onnx") {
        onnx = exportOnnx(model, meta, { batchFirst: flags.batchFirst });
        writeFileAtomic(flags.out, onnx.bytes);
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
        ...(onnx ? { onnx: { inputs: onnx.inputs, outputs: onnx.outputs } } : {}),
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
        `  ${c.cell.toUpperCase()}: input ${c.inputSize}, hidden ${c.hiddenSize}, layers ${c.numLayers}, ` +
          `${c.bidirectional ? "bidirectional" : "unidirectional"}${c.projSize ? `, projection ${c.projSize}` : ""}; ` +
          `head outputs ${c.outputSize}; ${model.numParams} parameters`,
      );
      for (const n of report.notes) console.log(`  note: ${n}`);
      if (onnx) console.log(`  ONNX graph: ${onnx.inputs.join(", ")} → ${onnx.outputs.join(", ")}`);
      console.log(
        `${flags.out}: ${NAMES[to]} (${meta.task} model), paramsSha256 ${summary.paramsSha256}`,
      );
    });
}
