/**
 * --fine-tune MODEL: a training run that starts from a model file's weights and preprocessing
 * (vocabulary, scaler and window, classes) with fresh optimizer state. The architecture and the
 * preprocessing come from the file; a flag typed on the command line that disagrees with the
 * file is a ConfigError naming the flag and both values. The training flags (learning rate,
 * optimizer, schedule, budget, clipping, batch, fractions, seed) and the dropout rates (training
 * settings; the file's when not given) come from the command line.
 */
import { basename, dirname, join } from "node:path";
import type { Command } from "commander";
import { loadModel, sha256Hex, type LoadedModel } from "../src/node.js";
import { ConfigError, FormatError } from "../src/tensor/errors.js";
import { readSeriesMeta } from "../src/train/forecast.js";
import type { TrainFlags } from "./train-flags.js";
import { readBytes } from "./util.js";

/** The model file a --fine-tune run starts from. */
export interface FineTune extends LoadedModel {
  path: string;
  /** What the new file's training summary records as `fineTunedFrom`. */
  from: { file: string; sha256: string };
}

type Task = "text" | "series" | "classify";

/** Flags that only initialise new weights: meaningless when the weights come from a file. */
const INIT_FLAGS = ["init", "orthogonal", "forgetBias"] as const;

/**
 * With --fine-tune: reads the model file, checks its task, refuses --resume and the
 * initialisation flags, and fills `flags` (in place) with the file's architecture and
 * preprocessing, refusing a typed flag that disagrees. Without --out, the model is saved beside
 * the file as NAME.fine-tuned.safetensors (never the file itself). Null without --fine-tune.
 */
export function resolveFineTune(cmd: Command, flags: TrainFlags, task: Task): FineTune | null {
  const path = flags.fineTune;
  if (path === undefined) return null;
  if (flags.resume !== undefined)
    throw new ConfigError(
      "--fine-tune",
      "cannot be combined with --resume (a checkpoint continues its own run; --fine-tune starts a new one from a model file)",
    );
  for (const key of INIT_FLAGS)
    if (cmd.getOptionValueSource(key) === "cli")
      throw new ConfigError(
        `--${kebab(key)}`,
        `initialises new weights; with --fine-tune the weights come from ${path}`,
      );
  const bytes = readBytes(path);
  const loaded = loadModel(path);
  if (loaded.meta.task !== task)
    throw new FormatError(path, `is a ${loaded.meta.task} model, not a ${task} model`);
  const fromFile = fileFlags(loaded, path, task);
  for (const [key, value] of Object.entries(fromFile)) {
    const given = (flags as unknown as Record<string, unknown>)[key];
    if (cmd.getOptionValueSource(key) === "cli" && !sameValue(given, value))
      throw new ConfigError(
        `--${kebab(key)}`,
        `${path} has ${describe(value)}; the command line says ${describe(given)} ` +
          "(with --fine-tune the architecture and preprocessing come from the file; leave the flag out)",
      );
    (flags as unknown as Record<string, unknown>)[key] = value;
  }
  const drop = loaded.model.config.dropout;
  const rates = {
    dropout: drop?.betweenLayers,
    inputDropout: drop?.input,
    outputDropout: drop?.output,
  } as const;
  for (const [key, rate] of Object.entries(rates) as [keyof typeof rates, number | undefined][])
    if (cmd.getOptionValueSource(key) !== "cli") flags[key] = rate ? rate : undefined;
  if (cmd.getOptionValueSource("out") !== "cli") {
    flags.out = fineTunedPath(path);
    // Said even with --quiet: the user did not choose this path.
    process.stderr.write(`lstm: no --out given: the model will be saved as ${flags.out}\n`);
  }
  return { ...loaded, path, from: { file: basename(path), sha256: sha256Hex(bytes) } };
}

/** Where a fine-tuned model goes without --out: beside the file, never the file itself. */
function fineTunedPath(model: string): string {
  const name = basename(model).replace(/\.safetensors$/i, "");
  return join(dirname(model), `${name}.fine-tuned.safetensors`);
}

/**
 * The flag values the file fixes (attribute name → value): the architecture for every task, and
 * the preprocessing a series or classifier model was trained with.
 */
function fileFlags(loaded: LoadedModel, path: string, task: Task): Record<string, unknown> {
  const c = loaded.model.config;
  const out: Record<string, unknown> = {
    cell: c.cell,
    hidden: c.hiddenSize,
    layers: c.numLayers,
    projSize: c.projSize ? c.projSize : undefined,
    embedding: c.embedding ? c.inputSize : undefined,
  };
  if (task === "text") out.tieWeights = c.tiedHead === true;
  if (task === "classify") out.bidirectional = c.bidirectional;
  else if (c.bidirectional)
    throw new FormatError(path, `a bidirectional ${task} model cannot be trained by train-${task}`);
  if (task === "series") {
    const s = readSeriesMeta(loaded.meta.series, path);
    Object.assign(out, {
      column: s.columns.join(","),
      target: s.targetColumns.join(","),
      horizon: s.horizon,
      seqLen: s.seqLen,
      transform: s.transform,
      relative: s.relative,
    });
  }
  if (task === "classify") {
    const k = loaded.meta.classifier;
    if (!k) throw new FormatError(path, "a classify model without classifier metadata");
    Object.assign(out, { textColumn: k.textColumn, labelColumn: k.labelColumn, kind: k.kind });
  }
  return out;
}

/** Equal as the run would use them; comma-separated column lists compare by their names. */
function sameValue(given: unknown, fromFile: unknown): boolean {
  if (typeof given === "string" && typeof fromFile === "string")
    return columnList(given) === columnList(fromFile);
  if (fromFile === false && given === undefined) return true;
  return given === fromFile;
}

function columnList(v: string): string {
  return v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .join(",");
}

function describe(v: unknown): string {
  if (v === undefined) return "none";
  if (typeof v === "boolean") return v ? "on" : "off";
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (ch) => "-" + ch.toLowerCase());
}
