#!/usr/bin/env node
/** The `lstm` command line. One file per command; this file wires them and reports errors. */
// First, before anything loads the kernels: relaxed SIMD on Node 20–21 (fused multiply-adds).
import "../src/relaxed-simd.js";
import { Command, CommanderError } from "commander";
import { registerGradcheck } from "./gradcheck.js";
import { registerVerify } from "./verify.js";
import { registerTrainText } from "./train-text.js";
import { registerTrainSeries } from "./train-series.js";
import { registerTrainClassify } from "./train-classify.js";
import { registerInfo } from "./info.js";
import { registerSample } from "./sample.js";
import { registerConvert } from "./convert.js";
import { registerForecast } from "./forecast.js";
import { registerEval } from "./eval.js";
import { registerPredict } from "./classify.js";
import { registerBench } from "./bench.js";
import { registerReport } from "./report.js";
import { userMessage } from "./util.js";

function buildProgram(): Command {
  const program = new Command();
  program
    .name("lstm")
    .description("LSTM networks with exact backpropagation through time, checked against PyTorch.")
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  registerVerify(program);
  registerGradcheck(program);
  registerTrainText(program);
  registerTrainSeries(program);
  registerTrainClassify(program);
  registerInfo(program);
  registerSample(program);
  registerConvert(program);
  registerForecast(program);
  registerEval(program);
  registerPredict(program);
  registerBench(program);
  registerReport(program);
  return program;
}

async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander printed it
    const msg = userMessage(e);
    if (msg !== null) {
      console.error(`lstm: error: ${msg}`);
      return 1;
    }
    // A bug, not a user error: one line (the stack only on request), exit 70 (EX_SOFTWARE).
    const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    console.error(
      `lstm: internal error (please report it; LSTM_DEBUG=1 prints the stack): ${what.split("\n")[0]}`,
    );
    if (process.env.LSTM_DEBUG) console.error(e);
    return 70;
  }
}

process.exitCode = await main(process.argv);
