/**
 * Memory of lstm-ts, each measurement in a fresh process (started by bench/run.ts):
 *
 *   node dist/bench/memory.js peak               peak RSS training workload B, and what it needs
 *   node --expose-gc dist/bench/memory.js growth RSS every 100 of 1000 steps of workload A
 *
 * The training step is runOurs's: the same model, objective, Adam and data shapes.
 */
import "../src/relaxed-simd.js"; // first, before the kernels load
import { LstmModel } from "../src/model/model.js";
import { Rng } from "../src/tensor/rng.js";
import { emit } from "./harness.js";
import { trainStep, WORKLOADS, type Workload } from "../cli/workloads.js";

const MB = 2 ** 20;

function trainer(w: Workload): { model: LstmModel; step: () => void } {
  const rng = new Rng(1);
  const model = new LstmModel({ inputSize: w.input, hiddenSize: w.hidden, outputSize: w.input });
  model.initDefault(rng);
  return { model, step: trainStep(model, w, rng) };
}

/**
 * Float32 elements the workload needs, from the sizes (one layer, one direction, O = I): the
 * slots src/model/model.ts's Workspace allocates for a (T, B) shape, each rounded up to 16.
 */
function neededElements(w: Workload): Record<string, number> {
  const { seqLen: T, batch: B, input: I, hidden: H } = w;
  const O = I;
  const P = 4 * H * (I + H) + 8 * H + O * H + O;
  const slots = [
    [T * B * I, 4 * B * H], // x; h0, c0, hN, cN
    [T * B * H, T * B * 4 * H, T * B * H, T * B * H], // y0; gates, c, tanhC
    [T * B * O, T * B * O, T * B * H], // z, out, yOut
    [T * B * O, T * B * 4 * H, B * H, B * H, T * B * H], // dz, dPre, dh, dc, dY0
    [T * B * I, T * B * I, 4 * B * H], // dx, dxOut; dh0, dc0, dhN, dcN
  ].flat();
  const workspace = slots.reduce((s, n) => s + Math.ceil(n / 16) * 16, 0);
  return {
    params: P,
    grads: P,
    adamMoments: 2 * P,
    workspace,
    lossGradient: T * B * O, // Objective's dz
    data: 2 * T * B * I, // the benchmark's x and targets
  };
}

function peak(): void {
  const w = WORKLOADS.B;
  const before = process.memoryUsage().rss;
  const { model, step } = trainer(w);
  const samples = [process.memoryUsage().rss];
  for (let i = 0; i < 3 + w.reps; i++) {
    step();
    samples.push(process.memoryUsage().rss);
  }
  const peakRss = Math.max(...samples, process.resourceUsage().maxRSS * 1024);
  const needed = neededElements(w);
  const neededBytes = Object.values(needed).reduce((s, n) => s + n, 0) * 4;
  emit("memory", {
    mode: "peak",
    workload: w.name,
    steps: 3 + w.reps,
    backend: model.kernels.name,
    rssBeforeMB: before / MB,
    rssAfterMB: samples[samples.length - 1] / MB,
    peakRssMB: peakRss / MB,
    increaseMB: (peakRss - before) / MB,
    neededMB: neededBytes / MB,
    neededBreakdownMB: Object.fromEntries(
      Object.entries(needed).map(([k, n]) => [k, (n * 4) / MB]),
    ),
    // With the wasm backend params, grads and workspace live in its memory, which grows by at
    // least half its size at a time.
    backendMemoryMB: model.params.buffer.byteLength / MB,
  });
}

function growth(): void {
  const w = WORKLOADS.A;
  const gc = (globalThis as { gc?: () => void }).gc;
  const { step } = trainer(w);
  const rss: number[] = [];
  const heap: number[] = [];
  for (let i = 1; i <= 1000; i++) {
    step();
    if (i % 100 === 0) {
      gc?.();
      const m = process.memoryUsage();
      rss.push(m.rss / MB);
      heap.push(m.heapUsed / MB);
    }
  }
  emit("memory", {
    mode: "growth",
    workload: w.name,
    steps: 1000,
    gcBeforeSample: gc !== undefined,
    rssMB: rss,
    heapUsedMB: heap,
    growthMB: rss[rss.length - 1] - rss[0], // from step 100 to step 1000
  });
}

const mode = process.argv[2];
if (mode === "peak") peak();
else if (mode === "growth") growth();
else {
  console.error("usage: memory.js peak|growth");
  process.exit(2);
}
