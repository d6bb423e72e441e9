/** `lstm bench --workload A|B|C|D`: this library's speed on one benchmark workload. */
import type { Command } from "commander";
import { runOurs, WORKLOAD_NAMES, WORKLOADS, type WorkloadName } from "./workloads.js";
import { choiceOption, intOption } from "./util.js";
import type { CellKind } from "../src/model/config.js";

export function registerBench(program: Command): void {
  program
    .command("bench")
    .summary("time one benchmark workload on this library (npm run bench compares libraries)")
    .description(
      "Workloads (training: forward, full BPTT, Adam; a linear head back to the input size and\n" +
        "MSE against random targets):\n" +
        "  A: batch 32, 50 steps, input 32, hidden 128      B: batch 64, 100 steps, input 128, hidden 256\n" +
        "  C: batch 1, 100 steps, input 16, hidden 64       D: inference, batch 1, one step at a time, input 32, hidden 256",
    )
    .requiredOption("--workload <name>", "A, B, C or D", choiceOption("--workload", WORKLOAD_NAMES))
    .option("--backend <name>", "kernel backend (default: the fastest available)")
    .option(
      "--threads <n>",
      "threads (wasm backends: the recurrence splits by batch rows, large products by rows or columns; 1 where workers or SharedArrayBuffer are unavailable)",
      intOption("--threads", 1, 64),
      1,
    )
    .option("--reps <n>", "timed repetitions", intOption("--reps", 1))
    .option(
      "--cell <cell>",
      "recurrent cell: lstm or gru (same sizes)",
      choiceOption("--cell", ["lstm", "gru"] as const),
      "lstm",
    )
    .option("--json", "print the result as JSON")
    .action(
      (f: {
        workload: WorkloadName;
        backend?: string;
        reps?: number;
        json?: boolean;
        threads: number;
        cell: CellKind;
      }) => {
        const w = WORKLOADS[f.workload];
        const opts = { backend: f.backend, reps: f.reps, threads: f.threads, cell: f.cell };
        const r = runOurs(w, opts);
        if (f.json) console.log(JSON.stringify(r));
        else
          console.log(
            `workload ${w.name} (${w.kind}, B ${w.batch}, T ${w.seqLen}, I ${w.input}, H ${w.hidden}) on ${r.library}: ` +
              `median ${r.msPerStep.toFixed(3)} ms per step, ${Math.round(r.stepsTimesBatchPerSecond)} steps×batch/s, ${r.gflops.toFixed(1)} GFLOP/s`,
          );
      },
    );
}
