/** Runs fuzz cases in a worker thread, reporting each case before it starts (for the watchdog). */
import { parentPort, workerData } from "node:worker_threads";
import { LstmError } from "../src/tensor/errors.js";
import { runCase } from "./cases.js";
import type { FuzzTarget } from "./targets.js";

export interface WorkerJob {
  seed: number;
  from: number;
  to: number;
  only?: string[];
  /** Module whose `buildTargets()` gives the targets (default ./targets.js). */
  targetsModule?: string;
}

export type WorkerMessage =
  | { type: "case"; index: number; target: string }
  | { type: "result"; index: number; target: string; outcome: "accepted" | "rejected" }
  | { type: "failure"; index: number; target: string; message: string }
  | { type: "done" };

const job = workerData as WorkerJob;
const { buildTargets } = (await import(job.targetsModule ?? "./targets.js")) as {
  buildTargets: () => Promise<FuzzTarget[]>;
};
const targets = (await buildTargets()).filter((t) => !job.only || job.only.includes(t.name));
const post = (m: WorkerMessage): void => parentPort!.postMessage(m);
for (let i = job.from; i < job.to; i++) {
  const target = targets[i % targets.length];
  post({ type: "case", index: i, target: target.name });
  try {
    runCase(target, job.seed, i);
    post({ type: "result", index: i, target: target.name, outcome: "accepted" });
  } catch (e) {
    if (e instanceof LstmError)
      post({ type: "result", index: i, target: target.name, outcome: "rejected" });
    else {
      const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      post({ type: "failure", index: i, target: target.name, message });
    }
  }
}
post({ type: "done" });
