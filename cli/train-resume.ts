/**
 * --resume: the flags of a checkpoint's run, checked as if typed again, with file paths from the
 * command line only; and the errors of a checkpoint that does not fit the run, naming it.
 */
import type { Command } from "commander";
import { loadCheckpoint } from "../src/node.js";
import { FormatError, LstmError } from "../src/tensor/errors.js";
import type { Trainer } from "../src/train/trainer.js";
import type { TrainFlags } from "./train-flags.js";
import { CliError } from "./util.js";

/** Flags that may change when resuming; the rest come from the checkpoint. */
const RESUMABLE = new Set([
  "steps",
  "epochs",
  "time",
  "out",
  "checkpoint",
  "checkpointEvery",
  "resume",
  "json",
  "quiet",
  "threads",
  "report",
  "sampleEvery",
  "maxMemory",
]);

/** Flags that name files: taken from the command line only, never from a checkpoint. */
const PATH_FLAGS = new Set(["out", "checkpoint", "report", "resume", "fineTune"]);

/**
 * The flags to use: on --resume, the checkpoint's flags with only the resumable ones replaced.
 * File paths come from the command line only (a checkpoint someone sends you must not decide
 * what is written where): without --out, a resumed run writes next to its checkpoint, under a
 * name derived from it. The checkpoint's task and every stored option are checked first.
 */
export function resolveFlags<F extends TrainFlags>(
  cmd: Command,
  flags: F,
  task: "text" | "series" | "classify",
): { flags: F; resumed: ReturnType<typeof loadCheckpoint> | null } {
  if (!flags.resume) return { flags, resumed: null };
  // The loader checks the checkpoint's task and its stored options against the schema of `task`.
  const resumed = loadCheckpoint(flags.resume, { threads: flags.threads }, task);
  const saved = checkSavedOptions(cmd, resumed.run.options, flags.resume) as Partial<F>;
  const merged = { ...saved } as F;
  for (const key of Object.keys(flags) as (keyof F & string)[]) {
    const source = cmd.getOptionValueSource(key);
    if (PATH_FLAGS.has(key)) {
      merged[key] = (source === "cli" ? flags[key] : undefined) as F[typeof key];
    } else if (saved[key] === undefined || (RESUMABLE.has(key) && source === "cli"))
      merged[key] = flags[key]; // (an option the checkpoint lacks: as given, or its default)
    else if (source === "cli" && JSON.stringify(flags[key]) !== JSON.stringify(saved[key]))
      process.stderr.write(
        `lstm: note: --${kebab(key)} is taken from the checkpoint (${JSON.stringify(saved[key])}) when resuming\n`,
      );
  }
  for (const key of PATH_FLAGS)
    if (cmd.getOptionValueSource(key) !== "cli") delete merged[key as keyof F];
  merged.resume = flags.resume;
  if (merged.out === undefined) {
    merged.out = resumedModelPath(flags.resume);
    // Said even with --quiet: the user did not choose this path.
    process.stderr.write(`lstm: no --out given: the model will be saved as ${merged.out}\n`);
  }
  return { flags: merged, resumed };
}

/** Where a resumed run without --out saves its model: beside the checkpoint, named after it. */
function resumedModelPath(checkpoint: string): string {
  const m = /^(.*[^/\\])\.[^./\\]+$/.exec(checkpoint);
  return `${m ? m[1] : checkpoint}.resumed.safetensors`;
}

/**
 * The options stored in a checkpoint, each checked as if it had been typed on the command line
 * (the option's own parser and choices), so a hand-edited checkpoint is a FormatError naming the
 * field, never a TypeError later. Path options are dropped: they never come from a checkpoint.
 */
function checkSavedOptions(
  cmd: Command,
  options: Record<string, unknown>,
  source: string,
): Record<string, unknown> {
  if (typeof options !== "object" || options === null || Array.isArray(options))
    throw new FormatError(source, "run.options: expected an object");
  const out: Record<string, unknown> = {};
  const known = new Map(cmd.options.map((o) => [o.attributeName(), o]));
  for (const [key, v] of Object.entries(options)) {
    if (PATH_FLAGS.has(key) || v === undefined || v === null) continue;
    const opt = known.get(key);
    if (!opt) {
      out[key] = v; // e.g. resolvedSchedule: checked where it is used
      continue;
    }
    const field = `run.options.${key}`;
    if (opt.isBoolean()) {
      if (typeof v !== "boolean") throw new FormatError(source, `${field}: expected true or false`);
    } else if (typeof v !== "string" && typeof v !== "number")
      throw new FormatError(source, `${field}: expected a string or a number`);
    else if (opt.argChoices && !opt.argChoices.includes(String(v)))
      throw new FormatError(source, `${field}: expected one of ${opt.argChoices.join(", ")}`);
    else if (opt.parseArg) {
      try {
        const parsed: unknown = opt.parseArg(String(v), undefined);
        if (typeof parsed !== typeof v) throw new Error(`expected a ${typeof parsed}`);
      } catch (e) {
        throw new FormatError(source, `${field}: ${(e as Error).message}`);
      }
    } else if (typeof v !== "string") throw new FormatError(source, `${field}: expected a string`);
    out[key] = v;
  }
  return out;
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/**
 * Runs `build` (a task, the trainer, the restore) and, on a resumed run, names the checkpoint in
 * a typed error it raises: its stored options or state do not fit this run.
 */
export function blameCheckpoint<T>(resume: string | undefined, build: () => T): T {
  try {
    return build();
  } catch (e) {
    const namesFile = e instanceof FormatError && e.source !== "checkpoint";
    if (resume === undefined || !(e instanceof LstmError) || namesFile) throw e;
    throw new FormatError(resume, `does not fit this run: ${e.message}`);
  }
}

/** Continues the run of a checkpoint: the same data, then the saved trainer state. */
export function restoreRun(
  trainer: Trainer,
  resumed: ReturnType<typeof loadCheckpoint>,
  expect: { path: string; dataSha256: string },
): void {
  if (resumed.run.dataSha256 !== expect.dataSha256)
    throw new CliError(
      `${expect.path} was trained on different data (sha256 differs); resume with the same file`,
    );
  trainer.restore(resumed.checkpoint);
}
