/**
 * The command line of `npm run bench` (bench/run.ts): its usage text, and its flags parsed and
 * checked. A wrong flag or value is a `UsageError`, which run.ts prints as one line (exit 2, as
 * the lstm CLI does), never a stack trace.
 */
import { parseArgs } from "node:util";
import { WORKLOAD_NAMES, type WorkloadName } from "../cli/workloads.js";
import { JS_LIBRARIES } from "./harness.js";

/** pytorch: torch.set_num_threads(cores); pytorch-1t: one thread, like lstm-ts. */
const LIBRARIES = [...JS_LIBRARIES, "pytorch", "pytorch-1t"] as const;
export type LibraryId = (typeof LIBRARIES)[number];
/** The reference backend (lstm-ts-js) is slow by design: only on request (--lib). */
const DEFAULT_LIBRARIES = LIBRARIES.filter((id) => id !== "lstm-ts-js");
/** Workloads that also get GRU rows (the same sizes, nn.GRU / tf.layers.gru / GRUTimeStep). */
const GRU_WORKLOADS: readonly WorkloadName[] = ["A", "B"];

export const USAGE = `Usage: node dist/bench/run.js [options]

Times the workloads of cli/workloads.ts on lstm-ts and, in the same run, on TensorFlow.js (cpu
and wasm backends), brain.js and PyTorch (when a python3 with torch is found), each library and
workload in its own process with a time limit; then lstm-ts's memory. Prints a table per
workload and writes every number to bench/results/latest.json (or --out).

Options:
  --workload <A,B,…>  workloads to run (default: ${WORKLOAD_NAMES.join(",")})
  --lib <ids>         libraries; lstm-ts (the baseline of every speed-up) always runs
                      (default: ${DEFAULT_LIBRARIES.join(",")};
                      also lstm-ts-js, the reference backend)
  --gru <A,B,…>       workloads that get a second table with GRUs of the same sizes
                      (default: ${GRU_WORKLOADS.join(",")}; "" for none)
  --timeout <s>       time limit per library and workload, in seconds (default: 60)
  --no-memory         skip the memory measurements
  --out <file>        where to write the JSON results
  -h, --help          print this help
`;

/** A wrong flag or value on the bench's command line. */
export class UsageError extends Error {}

/** The bench's options, checked. */
export interface BenchArgs {
  help: boolean;
  workloads: WorkloadName[];
  /** lstm-ts first when not asked for: the baseline of every speed-up. */
  libs: LibraryId[];
  gru: WorkloadName[];
  timeoutS: number;
  memory: boolean;
  out?: string;
}

/** Workload names from a comma-separated list (empty entries dropped), each one of A–D. */
function workloadList(flag: string, v: string, atLeastOne: boolean): WorkloadName[] {
  const names = v
    .split(",")
    .map((s) => s.trim().toUpperCase())
    .filter((s) => s !== "");
  if (atLeastOne && names.length === 0) throw new UsageError(`${flag}: name at least one workload`);
  for (const name of names)
    if (!(WORKLOAD_NAMES as readonly string[]).includes(name))
      throw new UsageError(
        `${flag}: unknown workload ${name} (one of ${WORKLOAD_NAMES.join(", ")})`,
      );
  return names as WorkloadName[];
}

/** Parses the bench's arguments (without node and the script); throws UsageError. */
export function parseBenchArgs(argv: string[]): BenchArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        workload: { type: "string", default: WORKLOAD_NAMES.join(",") },
        lib: { type: "string", default: DEFAULT_LIBRARIES.join(",") },
        timeout: { type: "string", default: "60" },
        "no-memory": { type: "boolean", default: false },
        out: { type: "string" },
        gru: { type: "string", default: GRU_WORKLOADS.join(",") },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    // node:util's parseArgs errors (unknown option, missing value) say what is wrong in one line.
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const workloads = workloadList("--workload", values.workload, true);
  const libs = values.lib.split(",").map((s) => s.trim()) as LibraryId[];
  for (const id of libs)
    if (!LIBRARIES.includes(id))
      throw new UsageError(`--lib: ${id} is not one of ${LIBRARIES.join(", ")}`);
  if (!libs.includes("lstm-ts")) libs.unshift("lstm-ts");
  const timeoutS = Number(values.timeout);
  if (!(timeoutS > 0))
    throw new UsageError(`--timeout: expected seconds > 0, got ${values.timeout}`);
  return {
    help: values.help,
    workloads,
    libs,
    gru: workloadList("--gru", values.gru, false),
    timeoutS,
    memory: !values["no-memory"],
    out: values.out,
  };
}
