/**
 * One library on one workload, in its own process (started by bench/run.ts):
 *
 *   node dist/bench/child.js lstm-ts|lstm-ts-mt|lstm-ts-simd|lstm-ts-js|tfjs-cpu|... A|B|C|D [lstm|gru]
 *
 * Speaks the protocol of bench/harness.ts on stdout. lstm-ts runs as the CLI does: with relaxed
 * SIMD turned on (Node 20–21), so its default backend is wasm-relaxed; lstm-ts-simd forces the
 * plain SIMD build (what a library user on Node 20 gets without lstm-ts/relaxed-simd).
 */
import "../src/relaxed-simd.js"; // first, before the kernels load
import { readFileSync } from "node:fs";
import type { CellKind } from "../src/model/config.js";
import os from "node:os";
import { emit, firstLine, JS_LIBRARIES, measure, type Library } from "./harness.js";
import {
  runOurs,
  WORKLOAD_NAMES,
  WORKLOADS,
  type WorkloadName,
  type WorkloadResult,
} from "../cli/workloads.js";

async function loadLibrary(id: string): Promise<Library> {
  switch (id) {
    case "tfjs-cpu":
      return (await import("./libs/tfjs.js")).load("cpu");
    case "tfjs-wasm":
      return (await import("./libs/tfjs.js")).load("wasm");
    case "brain.js":
      return (await import("./libs/brain.js")).load();
    default:
      throw new Error(`unknown library ${id}`);
  }
}

async function main(id: string, name: WorkloadName, cell: CellKind): Promise<void> {
  const w = WORKLOADS[name];
  if (id.startsWith("lstm-ts")) {
    const pkg = new URL("../../package.json", import.meta.url);
    const { version } = JSON.parse(readFileSync(pkg, "utf8")) as { version: string };
    emit("info", { library: id, version });
    const opts = {
      backend: id === "lstm-ts-js" ? "js" : id === "lstm-ts-simd" ? "wasm" : undefined,
      threads: id === "lstm-ts-mt" ? os.availableParallelism() : 1,
      cell,
    };
    const r: WorkloadResult & { threads?: number } = runOurs(w, opts);
    if (id === "lstm-ts-mt" && (r.threads ?? 1) < 2)
      emit("skip", { reason: `computes on one thread here (asked for ${opts.threads})` });
    else emit("done", { library: r.library, times: r.times });
    return;
  }
  let lib: Library;
  try {
    lib = await loadLibrary(id);
  } catch (e) {
    emit("skip", { reason: firstLine(e) });
    return;
  }
  emit("info", { library: lib.library, version: lib.version, note: lib.note });
  const runner = await lib.setup(w, cell);
  if (runner.kind === "na") emit("na", { reason: runner.reason });
  else emit("done", { times: await measure(runner, w), note: runner.note });
}

const [id, name, cell = "lstm"] = process.argv.slice(2);
if (!(WORKLOAD_NAMES as readonly string[]).includes(name) || (cell !== "lstm" && cell !== "gru")) {
  console.error(`usage: child.js ${JS_LIBRARIES.join("|")} ${WORKLOAD_NAMES.join("|")} [lstm|gru]`);
  process.exit(2);
}
await main(id, name as WorkloadName, cell);
