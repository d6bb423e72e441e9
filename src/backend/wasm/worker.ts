/**
 * A worker thread of the wasm backend (an ES module: Node worker_threads and browser module Web
 * Workers load this file, dist/src/backend/wasm/worker.js). It instantiates the threaded module
 * over the pool's shared memory, then waits for jobs in the control block and computes the slice
 * it is given with the job's `run` from the job table (jobs.ts), exactly as the calling thread
 * computes its own. Protocol: threads.ts.
 */
import { Control, JOBS, readArgs, takeChunks } from "./jobs.js";
import type { KernelExports } from "./loader.js";
import type { Slice } from "./split.js";
import type { WorkerData } from "./threads.js";

interface WasmInstanceApi {
  Instance: new (module: unknown, imports: unknown) => { exports: unknown };
}

function start(d: WorkerData): void {
  const ctrl = new Int32Array(d.control);
  const wasm = (globalThis as unknown as { WebAssembly: WasmInstanceApi }).WebAssembly;
  let ex: KernelExports;
  try {
    ex = new wasm.Instance(d.module, { env: { memory: d.memory } }).exports as KernelExports;
  } catch {
    Atomics.add(ctrl, Control.FAILED_COUNT, 1);
    Atomics.notify(ctrl, Control.READY_COUNT);
    return;
  }
  ex.setScratch(d.scratch);
  const me = d.index;
  const slot = Control.GEN + me;
  const awake = Control.AWAKE + me;
  const r = Control.RANGES + 4 * me;
  let gen = Atomics.load(ctrl, slot);
  Atomics.store(ctrl, awake, 1);
  Atomics.store(ctrl, Control.READY + me, 1);
  Atomics.add(ctrl, Control.READY_COUNT, 1);
  Atomics.notify(ctrl, Control.READY_COUNT);
  for (;;) {
    // Spin for d.spinMs (a sleeping thread takes from tens of microseconds to a fraction of a
    // millisecond to wake), then sleep.
    let g = Atomics.load(ctrl, slot);
    const until = performance.now() + d.spinMs;
    for (let s = 1; g === gen; s++) {
      if ((s & 1023) === 0 && performance.now() > until) break;
      g = Atomics.load(ctrl, slot);
    }
    if (g === gen) {
      Atomics.store(ctrl, awake, 0);
      // Woken by a job or by wake() (a notify with no job): either way, spin again.
      if (Atomics.load(ctrl, slot) === gen) Atomics.wait(ctrl, slot, gen);
      Atomics.store(ctrl, awake, 1);
      continue;
    }
    gen = g;
    if (Atomics.load(ctrl, Control.STOP) !== 0) return;
    try {
      const spec = JOBS[ctrl[Control.KIND]];
      const args = readArgs(ctrl, spec);
      const slice: Slice = [ctrl[r], ctrl[r + 1], ctrl[r + 2], ctrl[r + 3]];
      if (spec.chunked)
        takeChunks(ctrl, slice[1], (lo, hi) => spec.run(ex, args, [lo, hi, 0, 0], d.scratch));
      else spec.run(ex, args, slice, d.scratch);
    } catch {
      Atomics.store(ctrl, Control.ERROR, 1);
    }
    Atomics.add(ctrl, Control.DONE, 1);
    Atomics.notify(ctrl, Control.DONE);
  }
}

interface NodeProcess {
  versions?: { node?: string };
}
interface WorkerScope {
  onmessage: ((e: { data: WorkerData }) => void) | null;
}

if (typeof (globalThis as { process?: NodeProcess }).process?.versions?.node === "string") {
  const id = "node:worker_threads"; // a variable: bundlers for browsers leave it alone
  const wt = (await import(/* @vite-ignore */ /* webpackIgnore: true */ id)) as {
    workerData: WorkerData;
  };
  start(wt.workerData);
} else {
  (globalThis as unknown as WorkerScope).onmessage = (e) => start(e.data);
}
