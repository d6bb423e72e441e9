/**
 * `npm run bench`: workloads A–D (bench/workloads.ts) on lstm-ts and, in the same run, on
 * TensorFlow.js (cpu and wasm backends), brain.js and PyTorch (when a python3 with torch is
 * found), each library and workload in its own process with a time limit; then lstm-ts's memory.
 * Prints a table per workload and writes every number to bench/results/latest.json.
 *
 *   node dist/bench/run.js [--workload A,B] [--lib tfjs-cpu,pytorch] [--timeout 60] [--no-memory]
 *                          [--out results.json] [--gru A,B]
 *
 * --gru (default A,B): workloads that get a second table with GRUs of the same sizes (lstm-ts
 * --cell gru, torch.nn.GRU, tf.layers.gru, brain.js GRUTimeStep); --gru "" for none.
 *
 * Libraries: lstm-ts (the baseline), lstm-ts-mt (one thread per core), lstm-ts-js (reference
 * backend; only with --lib), tfjs-cpu, tfjs-wasm, brain.js, pytorch (threads = cores),
 * pytorch-1t (one thread).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { createInterface } from "node:readline";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBenchArgs, USAGE, UsageError, type LibraryId } from "./args.js";
import { MARK } from "./harness.js";
import {
  summarize,
  workloadFlops,
  WORKLOADS,
  type Workload,
  type WorkloadName,
} from "../cli/workloads.js";
import type { CellKind } from "../src/model/config.js";

const isTorch = (id: LibraryId): boolean => id.startsWith("pytorch");

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const CHILD = here("./child.js");
const MEMORY = here("./memory.js");
const TORCH = here("../../bench/torch_bench.py");
const RESULTS = here("../../bench/results/");

interface BenchEvent {
  event: string;
  [field: string]: unknown;
}

interface ChildRun {
  events: BenchEvent[];
  timedOut: boolean;
  /** Milliseconds since the last "start" event when the child was killed, and its steps. */
  lastStart: { sinceMs: number; steps: number } | null;
  stderrTail: string;
}

/** Runs a child speaking the harness protocol, killing it after `timeoutMs`. */
function runChild(cmd: string, args: string[], timeoutMs: number): Promise<ChildRun> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    const events: BenchEvent[] = [];
    let start: { at: number; steps: number } | null = null;
    let timedOut = false;
    let stderr = "";
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (!line.startsWith(MARK)) return;
      const e = JSON.parse(line.slice(MARK.length)) as BenchEvent;
      if (e.event === "start") start = { at: performance.now(), steps: Number(e.steps) };
      events.push(e);
    });
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => (stderr += String(e)));
    child.on("close", () => {
      clearTimeout(timer);
      const s = start as { at: number; steps: number } | null;
      const lastStart = s ? { sinceMs: performance.now() - s.at, steps: s.steps } : null;
      resolve({ events, timedOut, lastStart, stderrTail: stderr.trim() });
    });
  });
}

interface Row {
  workload: WorkloadName;
  /** The recurrent cell of every library in the row's table. */
  cell: CellKind;
  id: LibraryId;
  library: string;
  version?: string;
  status: "ok" | "partial" | "timeout" | "n/a" | "skipped" | "failed";
  /** Median milliseconds per step (A–C: training step; D: generated step). */
  msPerStep?: number;
  /** When no timed step finished before the time limit: a step takes longer than this. */
  lowerBoundMs?: number;
  stepsTimesBatchPerSecond?: number;
  gflops?: number;
  reps: number;
  plannedReps: number;
  /** Their ms / lstm-ts's ms (a lower bound when only lowerBoundMs is known). */
  speedup?: number;
  times?: number[];
  note?: string;
  /**
   * os.loadavg()[0] when the child started (other work skews the numbers; the benchmark's own
   * previous children count too: about 1 after a one-thread library, 2 after pytorch).
   */
  loadAverage?: number;
}

function plannedReps(w: Workload): number {
  return w.kind === "train" ? w.reps : Math.max(1, Math.floor(w.reps / 100));
}

function lastLine(s: string): string {
  return s.split("\n").filter(Boolean).pop() ?? "no output";
}

/** Turns one child's events into a table row. */
function toRow(
  w: Workload,
  lib: { id: LibraryId; cell: CellKind },
  run: ChildRun,
  timeoutS: number,
): Row {
  const { id, cell } = lib;
  const get = (name: string) => run.events.find((e) => e.event === name);
  const info = get("info");
  const done = get("done");
  const row: Row = {
    workload: w.name,
    cell,
    id,
    library: String(done?.library ?? info?.library ?? id),
    version: info?.version as string | undefined,
    status: "ok",
    reps: 0,
    plannedReps: plannedReps(w),
  };
  const notes = [info?.note, done?.note].filter(Boolean) as string[];
  const skip = get("skip") ?? get("na");
  let times = (done?.times as number[] | undefined) ?? null;
  if (skip) {
    row.status = skip.event === "skip" ? "skipped" : "n/a";
    notes.push(String(skip.reason));
  } else if (!done && !run.timedOut) {
    row.status = "failed";
    notes.push(lastLine(run.stderrTail));
  } else if (!done) {
    times = run.events.filter((e) => e.event === "sample").map((e) => Number(e.ms));
    if (times.length === 0) {
      row.status = "timeout";
      times = null;
      if (run.lastStart) row.lowerBoundMs = run.lastStart.sinceMs / run.lastStart.steps;
      notes.push(
        run.lastStart
          ? `no step finished within ${timeoutS} s`
          : `no step timed within ${timeoutS} s`,
      );
    } else notes.push(`stopped at the ${timeoutS} s limit`);
  }
  if (times && times.length > 0) {
    Object.assign(row, summarize(w, row.library, times, cell), { times });
    const [lo, hi] = [Math.min(...times), Math.max(...times)];
    if (hi > 2 * lo) notes.push(`unstable: reps from ${ms(lo)} to ${ms(hi)} ms`);
  } else if (done?.msPerStep !== undefined) {
    Object.assign(row, summarize(w, row.library, [Number(done.msPerStep)], cell), {
      reps: Number(done.reps),
    });
  }
  if (row.status === "ok" && row.reps < row.plannedReps) row.status = "partial";
  if (row.status === "partial") notes.push(`${row.reps} of ${row.plannedReps} reps timed`);
  if (notes.length) row.note = notes.join("; ");
  return row;
}

function findPython(): { python: string | null; note: string } {
  const tried: string[] = [];
  for (const py of ["/usr/bin/python3", "python3"]) {
    const r = spawnSync(py, ["-c", "import torch"], { encoding: "utf8", timeout: 120_000 });
    if (r.status === 0) return { python: py, note: "" };
    tried.push(`${py}: ${lastLine(r.stderr ?? String(r.error ?? "failed"))}`);
  }
  return { python: null, note: `no python3 with torch (${tried.join("; ")})` };
}

// ---- formatting ----

const num = (x: number, digits = 0): string =>
  x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (x: number): string => num(x, x >= 100 ? 0 : x >= 10 ? 1 : x >= 1 ? 2 : 3);
const sig = (x: number): string => num(x, x >= 100 ? 0 : x >= 10 ? 1 : 2);

function cells(r: Row): string[] {
  const reps = r.reps ? `${r.reps}/${r.plannedReps}` : "";
  if (r.msPerStep !== undefined)
    return [
      ms(r.msPerStep),
      num(r.stepsTimesBatchPerSecond!),
      sig(r.gflops!),
      reps,
      r.speedup !== undefined ? `${sig(r.speedup)}×` : "",
    ];
  if (r.lowerBoundMs !== undefined) {
    const w = WORKLOADS[r.workload];
    const s = summarize(w, r.library, [r.lowerBoundMs], r.cell);
    return [
      `> ${ms(r.lowerBoundMs)}`,
      `< ${num(s.stepsTimesBatchPerSecond)}`,
      `< ${sig(s.gflops)}`,
      reps,
      r.speedup !== undefined ? `> ${sig(r.speedup)}×` : "",
    ];
  }
  return [r.status, "", "", "", ""];
}

function table(rows: Row[]): string {
  const head = ["library", "ms/step", "steps×batch/s", "GFLOP/s", "reps", "lstm-ts speed-up"];
  const body = rows.map((r) => [r.library, ...cells(r)]);
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (c: string[]) =>
    "  " + c.map((s, i) => (i === 0 ? s.padEnd(width[i]) : s.padStart(width[i]))).join("   ");
  const out = [line(head), ...body.map(line)];
  const notes = rows.filter((r) => r.note).map((r) => `    ${r.library}: ${r.note}`);
  return [...out, ...(notes.length ? ["  notes:", ...notes] : [])].join("\n");
}

function describe(w: Workload, cell: CellKind): string {
  const what = w.kind === "train" ? "training step" : "inference, one step at a time";
  return (
    `Workload ${w.name}${cell === "gru" ? " (GRU)" : ""}: ${what}, B ${w.batch}, T ${w.seqLen}, I ${w.input}, H ${w.hidden} ` +
    `(${(workloadFlops(w, cell) / 1e9).toPrecision(3)} GFLOP per ${w.kind === "train" ? "training step" : "step"})`
  );
}

// ---- main ----

async function main(): Promise<void> {
  let args;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`error: ${e.message}\n(run with --help for usage)\n`);
    process.exitCode = 2;
    return;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  const { workloads, libs, timeoutS } = args;
  const began = Date.now();

  const cpus = os.cpus();
  const machine = {
    cpu: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    node: process.version,
    os: `${os.platform()} ${os.release()}`,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    loadAverageAtStart: os.loadavg()[0],
  };
  console.log(
    `machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.os}; ` +
      `load average ${machine.loadAverageAtStart.toFixed(2)} at start`,
  );

  const versions: Record<string, string> = {};
  const skipped = new Map<LibraryId, string>();
  let torch: Record<string, unknown> | null = null;
  let python: string | null = null;
  const torchIds = libs.filter(isTorch);
  if (torchIds.length > 0) {
    const found = findPython();
    python = found.python;
    if (!python) for (const id of torchIds) skipped.set(id, found.note);
    else {
      const info = (await runChild(python, [TORCH, "--info"], 120_000)).events.find(
        (e) => e.event === "info",
      );
      torch = info ?? null;
      const blas = info?.blas as Record<string, unknown> | undefined;
      if (!blas) for (const id of torchIds) skipped.set(id, "torch_bench.py --info failed");
      else {
        console.log(
          `pytorch ${info!.version} (${python}, ${info!.threads} threads) on ${blas.kind}` +
            ` [${(blas.loaded as string[]).join(", ") || "no BLAS library mapped"}];` +
            ` sgemm 512³ ${blas.sgemm512Gflops} GFLOP/s; build BLAS_INFO=${blas.buildBlasInfo}`,
        );
        if (blas.reference)
          console.log(
            "  note: torch is running on the REFERENCE BLAS (netlib); its numbers are far below" +
              " an optimised BLAS (apt-get install libopenblas0-pthread)",
          );
      }
    }
  }

  // Every workload with LSTMs, then the --gru ones (default A, B) again with GRUs.
  const gru = args.gru;
  const tables: [WorkloadName, CellKind][] = [
    ...workloads.map((n): [WorkloadName, CellKind] => [n, "lstm"]),
    ...workloads.filter((n) => gru.includes(n)).map((n): [WorkloadName, CellKind] => [n, "gru"]),
  ];
  const rows: Row[] = [];
  for (const [name, cell] of tables) {
    const w = WORKLOADS[name];
    for (const id of libs) {
      let row: Row;
      const skip = skipped.get(id);
      if (skip !== undefined) {
        row = { workload: name, cell, id, library: id, status: "skipped", reps: 0, plannedReps: 0 }; // prettier-ignore
        row.note = skip;
      } else {
        const torchArgs = ["-u", TORCH, "--workload", name, "--cell", cell];
        const [cmd, args] = isTorch(id)
          ? [python!, [...torchArgs, ...(id === "pytorch-1t" ? ["--threads", "1"] : [])]]
          : [process.execPath, [CHILD, id, name, cell]];
        const loadAverage = os.loadavg()[0];
        const run = await runChild(cmd, args, timeoutS * 1000);
        row = { ...toRow(w, { id, cell }, run, timeoutS), loadAverage };
        if (row.status === "skipped") skipped.set(id, row.note ?? "failed to load");
        if (row.version) versions[row.library] = row.version;
      }
      rows.push(row);
      const shown = cells(row);
      console.error(`  ${name} ${row.library}: ${shown[0]} ms/step ${row.note ?? ""}`.trimEnd());
    }
    const find = (id: LibraryId) =>
      rows.find((r) => r.workload === name && r.cell === cell && r.id === id);
    const [torchN, torch1] = [find("pytorch"), find("pytorch-1t")?.msPerStep];
    if (torchN?.msPerStep && torch1 && torchN.msPerStep > 1.2 * torch1) {
      const why =
        `slower than on one thread (${ms(torch1)} ms): torch's OpenMP threads spin while ` +
        "OpenBLAS's own threads compute (OMP_WAIT_POLICY=PASSIVE or OPENBLAS_NUM_THREADS=1 avoid it)";
      torchN.note = torchN.note ? `${torchN.note}; ${why}` : why;
    }
    const ours = find("lstm-ts")?.msPerStep;
    for (const r of rows.filter((r) => r.workload === name && r.cell === cell && ours)) {
      if (r.msPerStep !== undefined) r.speedup = r.msPerStep / ours!;
      else if (r.lowerBoundMs !== undefined) r.speedup = r.lowerBoundMs / ours!;
    }
  }

  for (const [name, cell] of tables) {
    console.log(`\n${describe(WORKLOADS[name], cell)}`);
    console.log(table(rows.filter((r) => r.workload === name && r.cell === cell)));
  }
  console.log(
    "\nms/step: median over the timed reps after warm-up (D: per step, timed in blocks of 100)." +
      "\nlstm-ts speed-up: their ms / lstm-ts's ms (above 1: lstm-ts is faster)." +
      `\nEach library and workload runs in its own process, stopped after ${timeoutS} s.` +
      `\nLoad average (1 min, this benchmark's own processes included) at start ` +
      `${machine.loadAverageAtStart.toFixed(2)}, now ${os.loadavg()[0].toFixed(2)}.`,
  );

  let memory: Record<string, unknown> | null = null;
  if (args.memory) {
    const peak = (await runChild(process.execPath, [MEMORY, "peak"], 300_000)).events[0];
    const growth = (await runChild(process.execPath, ["--expose-gc", MEMORY, "growth"], 300_000))
      .events[0];
    memory = { peak, growth };
    console.log(`\n${memoryReport(peak, growth)}`);
  }

  const file = args.out ?? `${RESULTS}latest.json`;
  mkdirSync(dirname(file), { recursive: true });
  const result = {
    date: new Date(began).toISOString(),
    durationS: Math.round((Date.now() - began) / 1000),
    command: `node dist/bench/run.js ${process.argv.slice(2).join(" ")}`.trim(),
    machine: { ...machine, loadAverageAtEnd: os.loadavg()[0] },
    versions,
    torch,
    timeoutS,
    workloads: Object.fromEntries(
      workloads.map((n) => [
        n,
        {
          ...WORKLOADS[n as WorkloadName],
          flopsPerStep: workloadFlops(WORKLOADS[n as WorkloadName]),
        },
      ]),
    ),
    results: rows,
    memory,
  };
  writeFileSync(file, JSON.stringify(result, null, 2) + "\n");
  console.log(`\nwrote ${file}`);
}

function memoryReport(peak?: BenchEvent, growth?: BenchEvent): string {
  const mb = (x: unknown): string => `${Number(x).toFixed(1)} MB`;
  const out = ["Memory of lstm-ts (each in a fresh process):"];
  if (peak) {
    const parts = Object.entries(peak.neededBreakdownMB as Record<string, number>)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(" + ");
    out.push(
      `  workload B, ${peak.steps} training steps (${peak.backend}): peak RSS ${mb(peak.peakRssMB)}` +
        ` (${mb(peak.rssBeforeMB)} before the model: +${mb(peak.increaseMB)});` +
        ` the sizes need ${mb(peak.neededMB)} = ${parts}; backend memory ${mb(peak.backendMemoryMB)}`,
    );
  } else out.push("  workload B peak: failed");
  if (growth) {
    const rss = growth.rssMB as number[];
    const g = Number(growth.growthMB);
    const verdict = g > Math.max(2, 0.05 * rss[0]) ? "GROWS" : "flat";
    out.push(
      `  workload A, 1000 training steps: RSS every 100 steps ${rss.map((x) => x.toFixed(1)).join(", ")} MB` +
        `${growth.gcBeforeSample ? " (gc before each sample)" : ""}:` +
        ` ${g >= 0 ? "+" : ""}${g.toFixed(1)} MB from step 100 to 1000 — ${verdict}`,
    );
  } else out.push("  workload A growth: failed");
  return out.join("\n");
}

await main();
