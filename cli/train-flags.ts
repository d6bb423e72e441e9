/** The training flags train-text and train-series share, and the trainer options they give. */
import { Command, Option } from "commander";
import { OPTIMIZER_KINDS, type OptimizerKind } from "../src/optim/optimizers.js";
import type { ScheduleConfig } from "../src/optim/schedule.js";
import { INIT_SCHEMES } from "../src/model/init.js";
import type { CellKind } from "../src/model/config.js";
import { stepBudget, type TrainOptions } from "../src/train/trainer.js";
import { DEFAULT_MAX_MEMORY_BYTES } from "../src/train/memory-estimate.js";
import { CliError, choiceOption, floatOption, intOption } from "./util.js";
import type { ModelConfigInput } from "../src/model/config.js";

/** Every training flag, resolved (defaults filled). Stored in checkpoints to resume the same run. */
export interface TrainFlags {
  /** The recurrent cell (--cell). */
  cell: CellKind;
  hidden: number;
  layers: number;
  seqLen: number;
  batch: number;
  lr: number;
  optimizer: OptimizerKind;
  momentum?: number;
  stepSize?: number;
  gamma: number;
  weightDecay?: number;
  clip: number;
  clipValue?: number;
  steps?: number;
  epochs?: number;
  time?: number;
  seed: number;
  out: string;
  checkpoint?: string;
  checkpointEvery: number;
  resume?: string;
  /** A model file to start from (weights and preprocessing), with fresh optimizer state. */
  fineTune?: string;
  validFraction: number;
  evalEvery?: number;
  patience: number;
  schedule: ScheduleConfig["kind"];
  warmup: number;
  init: (typeof INIT_SCHEMES)[number];
  orthogonal?: boolean;
  forgetBias?: number;
  json?: boolean;
  quiet?: boolean;
  threads: number;
  report?: string;
  /** GiB the run may use (the estimate is checked before anything is allocated). */
  maxMemory?: number;
  /** Dropout between layers, on the input, on the last layer's output (training only). */
  dropout?: number;
  inputDropout?: number;
  outputDropout?: number;
  /** E: an embedding table instead of one-hot input (text models). */
  embedding?: number;
  /** P: LSTM projection size. */
  projSize?: number;
  /** The head shares the embedding's weight. */
  tieWeights?: boolean;
}

/** The optional ModelConfigInput fields the feature flags set (inputSize: E with an embedding). */
type Features = Pick<ModelConfigInput, "embedding" | "projSize" | "tiedHead" | "dropout"> & {
  inputSize?: number;
};

/** A dropout probability flag `FLAG <p>`, p in [0, 0.99]: "dropout " + where it applies. */
function dropoutOption(flag: string, where: string): Option {
  return new Option(`${flag} <p>`, `dropout ${where}`).argParser(floatOption(flag, 0, 0.99));
}

/**
 * The model features the flags ask for (ModelConfigInput's optional fields): an embedding of
 * `vocab` rows (text models only), projection, tied head, dropout. Throws CliError naming the flag.
 */
export function featureConfig(
  f: TrainFlags,
  sizes: { vocab: number | null; directions: number },
): Features {
  const out: { -readonly [K in keyof Features]: Features[K] } = {};
  if (f.embedding !== undefined) {
    if (sizes.vocab === null) throw new CliError("--embedding is for text models (token input)");
    out.embedding = { numEmbeddings: sizes.vocab, paddingIdx: null };
    out.inputSize = f.embedding;
  }
  if (f.projSize !== undefined) {
    if (f.cell === "gru")
      throw new CliError("--proj-size is for --cell lstm (a GRU has no projection)");
    if (f.projSize >= f.hidden)
      throw new CliError(`--proj-size ${f.projSize} must be smaller than --hidden ${f.hidden}`);
    out.projSize = f.projSize;
  }
  if (f.tieWeights) {
    const width = sizes.directions * (f.projSize ?? f.hidden);
    if (f.embedding === undefined) throw new CliError("--tie-weights needs --embedding");
    if (f.embedding !== width)
      throw new CliError(
        `--tie-weights needs --embedding ${width} (the head's input: ${f.projSize !== undefined ? "--proj-size" : "--hidden"}), got ${f.embedding}`,
      );
    out.tiedHead = true;
  }
  const drop = {
    input: f.inputDropout ?? 0,
    betweenLayers: f.dropout ?? 0,
    output: f.outputDropout ?? 0,
  };
  if (drop.input > 0 || drop.betweenLayers > 0 || drop.output > 0) out.dropout = drop;
  return out;
}

export function addTrainOptions(
  cmd: Command,
  d: {
    hidden: number;
    layers: number;
    seqLen: number;
    batch: number;
    lr: number;
    clip: number;
    validFraction: number;
    out: string;
  },
): Command {
  return cmd
    .option(
      "--cell <cell>",
      "recurrent cell: lstm or gru (PyTorch nn.LSTM / nn.GRU)",
      choiceOption("--cell", ["lstm", "gru"] as const),
      "lstm",
    )
    .option("--hidden <n>", "hidden units per layer (H)", intOption("--hidden", 1, 4096), d.hidden)
    .addOption(
      dropoutOption("--dropout", "between stacked layers while training (PyTorch's dropout)"),
    )
    .addOption(dropoutOption("--input-dropout", "on the (embedded) input while training"))
    .addOption(
      dropoutOption(
        "--output-dropout",
        "on the last layer's output, before the head, while training",
      ),
    )
    .option(
      "--proj-size <n>",
      "LSTM projection size P < H (LSTMP)",
      intOption("--proj-size", 1, 4096),
    )
    .option("--layers <n>", "stacked recurrent layers (L)", intOption("--layers", 1, 16), d.layers)
    .option(
      "--seq-len <n>",
      "time steps per window (T); gradients flow back this far",
      intOption("--seq-len", 1, 100000),
      d.seqLen,
    )
    .option("--batch <n>", "sequences per step (B)", intOption("--batch", 1, 65536), d.batch)
    .option("--lr <x>", "learning rate", floatOption("--lr", 0, 10), d.lr)
    .addOption(
      new Option("--optimizer <name>", "sgd, adam, adamw, rmsprop or adagrad")
        .choices(OPTIMIZER_KINDS)
        .default("adam"),
    )
    .option(
      "--momentum <x>",
      "momentum for sgd and rmsprop (default 0)",
      floatOption("--momentum", 0, 1),
    )
    .option(
      "--step-size <n>",
      "--schedule step: decay every n steps (default: a third of the budget)",
      intOption("--step-size", 1),
    )
    .option("--gamma <x>", "--schedule step: decay factor", floatOption("--gamma", 1e-6, 1), 0.3)
    .option(
      "--weight-decay <x>",
      "weight decay (L2; decoupled for adamw)",
      floatOption("--weight-decay", 0, 1),
    )
    .option(
      "--clip <x>",
      "clip the global gradient norm to this (0 = off)",
      floatOption("--clip", 0),
      d.clip,
    )
    .option(
      "--clip-value <x>",
      "clip each gradient entry to ±x",
      floatOption("--clip-value", 1e-12),
    )
    .option("--steps <n>", "stop after this many training steps", intOption("--steps", 1))
    .option(
      "--epochs <x>",
      "stop after this many passes over the training data",
      floatOption("--epochs", 1e-9),
    )
    .option("--time <seconds>", "stop after this many seconds", floatOption("--time", 1e-3))
    .option(
      "--seed <n>",
      "random seed: the same seed and data give identical weights",
      intOption("--seed", 0),
      1,
    )
    .option("--out <file>", "where to save the trained model (safetensors)", d.out)
    .option(
      "--checkpoint <file>",
      "checkpoint file (model, optimizer, RNG and data position); also written on Ctrl-C",
    )
    .option(
      "--checkpoint-every <n>",
      "write the checkpoint every n steps (0 = only at the end)",
      intOption("--checkpoint-every", 0),
      0,
    )
    .option("--resume <file>", "continue the run saved in this checkpoint (same data file)")
    .option(
      "--fine-tune <model>",
      "start from this model file's weights, architecture and preprocessing (vocabulary, scaler and window, classes) with fresh optimizer state; the training flags come from the command line, and an architecture flag that disagrees with the file is an error",
    )
    .option(
      "--valid-fraction <x>",
      "fraction of the data held out for validation (the end of it)",
      floatOption("--valid-fraction", 0, 0.9),
      d.validFraction,
    )
    .option(
      "--eval-every <n>",
      "evaluate every n steps (default: each epoch, at most every 200 steps)",
      intOption("--eval-every", 1),
    )
    .option(
      "--patience <n>",
      "early stopping: stop after n evaluations without improvement (0 = off)",
      intOption("--patience", 0),
      0,
    )
    .option(
      "--schedule <kind>",
      "learning-rate schedule: constant, step or cosine",
      choiceOption("--schedule", ["constant", "step", "cosine"] as const),
      "constant",
    )
    .option("--warmup <n>", "linear learning-rate warm-up steps", intOption("--warmup", 0), 0)
    .option(
      "--init <scheme>",
      "weight initialisation: pytorch or xavier (not with --fine-tune)",
      choiceOption("--init", INIT_SCHEMES),
      "pytorch",
    )
    .option("--orthogonal", "orthogonal recurrent weights")
    .option(
      "--forget-bias <x>",
      "initial forget-gate bias (e.g. 1)",
      floatOption("--forget-bias", -10, 10),
    )
    .option(
      "--json",
      "print machine-readable events (one JSON object per line) instead of a progress bar",
    )
    .option("--quiet", "no progress output")
    .option(
      "--threads <n>",
      "threads (wasm backends: the recurrence splits by batch rows, large products by rows or columns; the results are identical; 2 trains batches of 32 about 1.8× faster on 2 cores)",
      intOption("--threads", 1, 64),
      1,
    )
    .option(
      "--max-memory <GiB>",
      `memory the run may use; a configuration estimated to need more is refused before it starts (default ${DEFAULT_MAX_MEMORY_BYTES / 2 ** 30})`,
      floatOption("--max-memory", 1e-3, 1e6),
    )
    .option(
      "--report <file.html>",
      "after training, write an HTML report (loss curves, forecasts or gate activations)",
    );
}

export function trainOptions(f: TrainFlags, stepsPerEpoch: number): TrainOptions {
  if (f.steps === undefined && f.epochs === undefined && f.time === undefined)
    throw new CliError("give a budget: --steps N, --epochs N or --time SECONDS");
  const budgetSteps = stepBudget(f, stepsPerEpoch) ?? Infinity;
  let schedule: ScheduleConfig = { kind: "constant", warmupSteps: f.warmup };
  if (f.schedule === "cosine") {
    if (!Number.isFinite(budgetSteps))
      throw new CliError(
        "--schedule cosine needs --steps or --epochs (it decays to the last step)",
      );
    schedule = {
      kind: "cosine",
      warmupSteps: f.warmup,
      totalSteps: Math.max(budgetSteps, f.warmup + 1),
      minLrFactor: 0.01,
    };
  } else if (f.schedule === "step") {
    const size =
      f.stepSize ??
      (Number.isFinite(budgetSteps)
        ? Math.max(1, Math.floor((budgetSteps - f.warmup) / 3))
        : stepsPerEpoch);
    schedule = { kind: "step", warmupSteps: f.warmup, stepSize: size, gamma: f.gamma };
  }
  if (f.momentum !== undefined && f.optimizer !== "sgd" && f.optimizer !== "rmsprop")
    throw new CliError(`--momentum applies to sgd and rmsprop, not ${f.optimizer}`);
  return {
    optimizer: {
      kind: f.optimizer,
      lr: f.lr,
      ...(f.momentum !== undefined ? { momentum: f.momentum } : {}),
      ...(f.weightDecay !== undefined ? { weightDecay: f.weightDecay } : {}),
    },
    schedule,
    clipNorm: f.clip > 0 ? f.clip : undefined,
    clipValue: f.clipValue,
    steps: f.steps,
    epochs: f.epochs,
    seconds: f.time,
    evalEvery: f.evalEvery,
    patience: f.patience,
    checkpointEvery: f.checkpointEvery,
    seed: f.seed,
  };
}
