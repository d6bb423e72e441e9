/** `lstm gradcheck`: analytic BPTT gradients against central finite differences (float64). */
import type { Command } from "commander";
import { gradcheck } from "../src/check/gradcheck.js";
import { LOSS_KINDS, type LossKind } from "../src/loss/losses.js";
import type { CellKind } from "../src/model/config.js";
import { choiceOption, floatOption, intOption } from "./util.js";

interface Flags {
  cell: CellKind;
  input: number;
  hidden: number;
  layers: number;
  bidirectional?: boolean;
  output: number;
  seqLen: number;
  batch: number;
  batchFirst?: boolean;
  loss: LossKind;
  zeroState?: boolean;
  seed: number;
  eps: number;
  maxPerTensor: number;
  tolerance: number;
  json?: boolean;
}

export function registerGradcheck(program: Command): void {
  program
    .command("gradcheck")
    .summary("check analytic gradients against finite differences")
    .description(
      "Check the analytic gradients of a random float64 model against central finite\n" +
        "differences, for every parameter and for x, h0, c0 (LSTM). Prints the worst relative error\n" +
        "per tensor; exits 1 when any exceeds --tolerance (differences below the\n" +
        "finite-difference noise floor pass: a vanishing gradient cannot be resolved further).",
    )
    .option(
      "--cell <cell>",
      "recurrent cell: lstm or gru",
      choiceOption("--cell", ["lstm", "gru"] as const),
      "lstm",
    )
    .option("--input <n>", "input size I", intOption("--input", 1, 4096), 3)
    .option("--hidden <n>", "hidden size H", intOption("--hidden", 1, 1024), 4)
    .option("--layers <n>", "stacked layers L", intOption("--layers", 1, 16), 1)
    .option("--bidirectional", "add a reverse direction (D = 2)")
    .option("--output <n>", "head outputs O (classes for xent)", intOption("--output", 1, 4096), 3)
    .option("--seq-len <n>", "time steps T", intOption("--seq-len", 1, 10000), 5)
    .option("--batch <n>", "batch B", intOption("--batch", 1, 4096), 2)
    .option("--batch-first", "x laid out [B, T, I]")
    .option(
      "--loss <kind>",
      `loss: ${LOSS_KINDS.join(", ")}`,
      choiceOption("--loss", LOSS_KINDS),
      "sum_sq",
    )
    .option("--zero-state", "h0 = c0 = 0 instead of random")
    .option("--seed <n>", "random seed", intOption("--seed", 0), 1)
    .option("--eps <x>", "finite-difference step", floatOption("--eps", 1e-12, 0.1), 1e-5)
    .option(
      "--max-per-tensor <n>",
      "entries checked per tensor (a random sample beyond)",
      intOption("--max-per-tensor", 1),
      64,
    )
    .option(
      "--tolerance <x>",
      "largest acceptable relative error",
      floatOption("--tolerance", 0, 1),
      1e-5,
    )
    .option("--json", "print the result as JSON")
    .action((f: Flags) => {
      const r = gradcheck({
        cell: f.cell,
        inputSize: f.input,
        hiddenSize: f.hidden,
        numLayers: f.layers,
        bidirectional: f.bidirectional ?? false,
        outputSize: f.output,
        seqLen: f.seqLen,
        batch: f.batch,
        batchFirst: f.batchFirst ?? false,
        loss: f.loss,
        randomState: !f.zeroState,
        seed: f.seed,
        eps: f.eps,
        maxPerTensor: f.maxPerTensor,
        tolerance: f.tolerance,
      });
      const ok = r.ok;
      if (f.json) console.log(JSON.stringify(r));
      else {
        const c = r.config;
        console.log(
          `gradcheck ${c.cell} I=${c.inputSize} H=${c.hiddenSize} L=${c.numLayers} D=${c.bidirectional ? 2 : 1} ` +
            `O=${c.outputSize} T=${c.seqLen} B=${c.batch}${c.batchFirst ? " batch-first" : ""} loss=${c.loss} eps=${c.eps}`,
        );
        console.log(
          `${"tensor".padEnd(34)} ${"checked".padEnd(12)} ${"max rel error".padEnd(14)} max abs error`,
        );
        for (const [name, t] of Object.entries(r.tensors))
          console.log(
            `${name.padEnd(34)} ${`${t.checked}/${t.size}`.padEnd(12)} ${t.maxRelError.toExponential(2).padEnd(14)} ` +
              `${t.maxAbsError.toExponential(2).padEnd(13)}${t.ok ? "" : " FAIL"}`,
          );
        console.log(
          `${ok ? "ok" : "FAIL"}: worst relative error ${r.maxRelError.toExponential(2)} (tolerance ${f.tolerance})`,
        );
      }
      process.exitCode = ok ? 0 : 1;
    });
}
