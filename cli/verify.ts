/** `lstm verify FILE...`: replays golden fixtures and compares every tensor with PyTorch. */
import type { Command } from "commander";
import { parseFixture } from "../src/check/fixture.js";
import { verifyFixture, TOLERANCE, type VerifyResult } from "../src/check/verify.js";
import type { DType } from "../src/tensor/dtype.js";
import { choiceOption, readTextFile, userMessage } from "./util.js";

interface VerifyFlags {
  dtype: DType | "both";
  json?: boolean;
  verbose?: boolean;
  backend?: string;
}

/** A file that could not be checked keeps the JSON shape: no tensors, no error size, a message. */
type Row =
  | VerifyResult
  | {
      file: string;
      dtype: DType;
      ok: false;
      maxScaledError: null;
      tensors: Record<string, number>;
      error: string;
    };

export function registerVerify(program: Command): void {
  program
    .command("verify")
    .summary("check forward, loss and every gradient against PyTorch fixture files")
    .description(
      "Run forward and backward on fixture files (PyTorch reference format) and compare every\n" +
        "output, the loss and every gradient. Fails above 1e-9 (float64) or 1e-4 (float32)\n" +
        "scaled error, max|actual - expected| / max|expected|.",
    )
    .argument("<files...>", "fixture JSON files")
    .option(
      "--dtype <dtype>",
      "float32, float64 or both",
      choiceOption("--dtype", ["float32", "float64", "both"] as const),
      "both",
    )
    .option("--json", "print one JSON object per file and dtype")
    .option("--verbose", "print the scaled error of every tensor")
    .option("--backend <name>", "kernel backend (default: the fastest available)")
    .action((files: string[], flags: VerifyFlags) => {
      const dtypes: DType[] = flags.dtype === "both" ? ["float64", "float32"] : [flags.dtype];
      let failed = 0;
      if (!flags.json) printHeader();
      for (const file of files) {
        let rows: Row[];
        try {
          const fixture = parseFixture(readTextFile(file), file);
          rows = dtypes.map((dt) => verifyFixture(fixture, dt, file, { backend: flags.backend }));
        } catch (e) {
          const msg = userMessage(e);
          if (msg === null) throw e;
          rows = dtypes.map((dtype) => ({
            file,
            dtype,
            ok: false,
            maxScaledError: null,
            tensors: {},
            error: msg,
          }));
        }
        for (const row of rows) {
          if (!row.ok) failed++;
          if (flags.json) console.log(JSON.stringify(row));
          else printRow(row, flags.verbose ?? false);
        }
      }
      if (!flags.json) {
        const total = files.length * dtypes.length;
        console.log(
          failed === 0
            ? `all ${total} checks ok (${files.length} files × ${dtypes.join(", ")})`
            : `${failed} of ${total} checks FAILED`,
        );
      }
      process.exitCode = failed === 0 ? 0 : 1;
    });
}

function printHeader(): void {
  console.log(
    `${"file".padEnd(40)} ${"dtype".padEnd(8)} ${"status".padEnd(6)} ${"max scaled error".padEnd(17)} worst tensor`,
  );
}

function printRow(row: Row, verbose: boolean): void {
  const file = row.file.length > 40 ? "…" + row.file.slice(-39) : row.file.padEnd(40);
  if ("error" in row) {
    console.log(`${file} ${row.dtype.padEnd(8)} ${"ERROR".padEnd(6)} ${row.error}`);
    return;
  }
  const entries = Object.entries(row.tensors).sort((a, b) => b[1] - a[1]);
  const status = row.ok ? "ok" : "FAIL";
  console.log(
    `${file} ${row.dtype.padEnd(8)} ${status.padEnd(6)} ${row.maxScaledError.toExponential(2).padEnd(17)} ${entries[0][0]}`,
  );
  if (verbose || !row.ok) {
    const tol = TOLERANCE[row.dtype];
    for (const [name, err] of entries)
      console.log(`    ${name.padEnd(44)} ${err.toExponential(2)}${err > tol ? "  > " + tol : ""}`);
  }
}
