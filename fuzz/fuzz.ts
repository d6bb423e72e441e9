/**
 * The fuzzing driver: runs cases in a worker thread under a watchdog. A case fails when it throws
 * anything but the library's typed errors (LstmError and its subclasses), runs longer than the
 * per-case bound (a hang: the worker is terminated and the run goes on with the next case), or
 * pushes memory past the bound (the process's resident set, or the worker's heap limit).
 */
import { Worker } from "node:worker_threads";
import type { WorkerJob, WorkerMessage } from "./worker.js";

export interface FuzzOptions {
  seed: number;
  /** Cases to run (each target in turn). */
  cases: number;
  /** Milliseconds one case may take before it counts as a hang. */
  caseMs?: number;
  /** Resident memory (MiB) the process may reach. */
  maxRssMb?: number;
  /** Only these targets (default: all). */
  only?: string[];
  /** Module (URL) whose `buildTargets()` gives the targets (default: ./targets.js). */
  targetsModule?: string;
  /** Called with each finished batch of progress (cases done). */
  onProgress?: (done: number) => void;
}

export interface FuzzFailure {
  target: string;
  index: number;
  kind: "exception" | "hang" | "memory";
  message: string;
}

export interface FuzzReport {
  cases: number;
  /** Per target: cases accepted (decoded and run) and rejected with a typed error. */
  targets: Record<string, { accepted: number; rejected: number }>;
  failures: FuzzFailure[];
  ms: number;
}

const WORKER = new URL("./worker.js", import.meta.url);

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const caseMs = o.caseMs ?? 5000;
  const maxRss = (o.maxRssMb ?? 1536) * 2 ** 20;
  const report: FuzzReport = { cases: o.cases, targets: {}, failures: [], ms: 0 };
  const t0 = performance.now();
  let next = 0;
  while (next < o.cases)
    next = await runWorker({
      seed: o.seed,
      from: next,
      to: o.cases,
      only: o.only,
      targetsModule: o.targetsModule,
    });
  report.ms = performance.now() - t0;
  return report;

  /** Runs cases from job.from until done or a hang/crash; returns the next case to run. */
  function runWorker(job: WorkerJob): Promise<number> {
    return new Promise((resolve) => {
      const worker = new Worker(WORKER, { workerData: job, resourceLimits: { maxOldGenerationSizeMb: 768 } }); // prettier-ignore
      let current: { index: number; target: string } = { index: job.from, target: "(start)" };
      let since = performance.now();
      let finished = false;
      const stop = (failure: Omit<FuzzFailure, "index" | "target"> | null): void => {
        if (finished) return;
        finished = true;
        clearInterval(watchdog);
        if (failure) report.failures.push({ ...current, ...failure });
        void worker.terminate();
        resolve(failure ? current.index + 1 : job.to);
      };
      const watchdog = setInterval(() => {
        // Start-up (building the seed files) gets a longer bound than one case.
        const bound = current.target === "(start)" ? Math.max(caseMs, 60_000) : caseMs;
        if (performance.now() - since > bound)
          stop({ kind: "hang", message: `no result after ${bound} ms` });
        else if (process.memoryUsage().rss > maxRss)
          stop({ kind: "memory", message: `resident memory past ${o.maxRssMb ?? 1536} MiB` });
      }, 50);
      worker.on("message", (m: WorkerMessage) => {
        if (m.type === "case") {
          current = { index: m.index, target: m.target };
          since = performance.now();
        } else if (m.type === "result") {
          const s = (report.targets[m.target] ??= { accepted: 0, rejected: 0 });
          s[m.outcome]++;
          if ((m.index + 1) % 500 === 0) o.onProgress?.(m.index + 1);
        } else if (m.type === "failure")
          report.failures.push({ index: m.index, target: m.target, kind: "exception", message: m.message }); // prettier-ignore
        else stop(null);
      });
      worker.on("error", (e) =>
        stop({
          kind: (e as { code?: string }).code === "ERR_WORKER_OUT_OF_MEMORY" ? "memory" : "exception",
          message: `${e.name}: ${e.message}`,
        }),
      ); // prettier-ignore
      worker.on("exit", () => stop(finished ? null : { kind: "exception", message: "worker exited" })); // prettier-ignore
    });
  }
}
