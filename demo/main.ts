/**
 * Browser demo: trains a small character LSTM on a paragraph of Pride and Prejudice in a Web
 * Worker (trainInWorker), drawing the loss as the worker streams its events, then samples on the
 * page. It loads the library as one file, the browser bundle (dist/browser/lstm-ts.js, the
 * package's `lstm-ts/browser`): scripts/build-browser.mjs bundles this file with its library
 * import pointing there. Served by `npm run demo`; test/browser.test.ts opens it in Chromium and
 * reads `window.__demo`.
 */
import {
  initWasm,
  modelFromResult,
  Rng,
  sampleText,
  trainInWorker,
  Vocab,
  type TrainEvent,
} from "../src/index.js";

/** The few DOM members this page uses (the TS config has no DOM lib). */
interface Elem {
  textContent: string | null;
  setAttribute(name: string, value: string): void;
}
/** What the page publishes as `window.__demo` (test/browser.test.ts reads it). */
export interface DemoState {
  done: boolean;
  backend: string | null;
  /** Threads the model computes on (?threads=N asks for N; 1 without cross-origin isolation). */
  threads: number;
  crossOriginIsolated: boolean;
  steps: number;
  losses: number[];
  sample: string | null;
  vocab: string[];
  error: string | null;
  /** Main-thread tasks longer than 50 ms while the worker trained (Long Tasks API), in ms. */
  longTasks: number[];
  /** The longest gap between ticks of a 10 ms timer while the worker trained, in ms. */
  maxTimerGapMs: number;
}
interface PerformanceEntryLike {
  duration: number;
}
const page = globalThis as unknown as {
  document: { getElementById(id: string): Elem | null };
  location: { search: string };
  crossOriginIsolated?: boolean;
  __demo: DemoState;
  PerformanceObserver?: new (
    callback: (list: { getEntries(): PerformanceEntryLike[] }) => void,
  ) => { observe(options: { type: string }): void; disconnect(): void };
  setInterval(f: () => void, ms: number): number;
  clearInterval(id: number): void;
};

/** Watches the main thread while `work` runs: long tasks and the gaps of a 10 ms timer. */
async function watchMainThread<T>(work: () => Promise<T>): Promise<T> {
  const observer = page.PerformanceObserver
    ? new page.PerformanceObserver((list) => {
        for (const e of list.getEntries()) state.longTasks.push(e.duration);
      })
    : null;
  observer?.observe({ type: "longtask" });
  let last = performance.now();
  const timer = page.setInterval(() => {
    const now = performance.now();
    state.maxTimerGapMs = Math.max(state.maxTimerGapMs, now - last);
    last = now;
  }, 10);
  try {
    return await work();
  } finally {
    page.clearInterval(timer);
    observer?.disconnect();
  }
}

const TEXT = `It is a truth universally acknowledged, that a single man in possession
of a good fortune, must be in want of a wife.

However little known the feelings or views of such a man may be on his
first entering a neighbourhood, this truth is so well fixed in the minds
of the surrounding families, that he is considered the rightful property
of some one or other of their daughters.

"My dear Mr. Bennet," said his lady to him one day, "have you heard that
Netherfield Park is let at last?"

Mr. Bennet replied that he had not.

"But it is," returned she; "for Mrs. Long has just been here, and she
told me all about it."

Mr. Bennet made no answer.

"Do you not want to know who has taken it?" cried his wife impatiently.

"You want to tell me, and I have no objection to hearing it."

This was invitation enough.

"Why, my dear, you must know, Mrs. Long says that Netherfield is taken
by a young man of large fortune from the north of England; that he came
down on Monday in a chaise and four to see the place, and was so much
delighted with it, that he agreed with Mr. Morris immediately; that he
is to take possession before Michaelmas, and some of his servants are to
be in the house by the end of next week."
`;

const HIDDEN = 32;
const STEPS = 500;
const BATCH = 8;
const SEQ_LEN = 32;

const state: DemoState = {
  done: false,
  backend: null,
  threads: 1,
  crossOriginIsolated: page.crossOriginIsolated === true,
  steps: 0,
  losses: [],
  sample: null,
  vocab: [],
  error: null,
  longTasks: [],
  maxTimerGapMs: 0,
};
page.__demo = state;

function el(id: string): Elem {
  const e = page.document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e;
}

/** The loss curve as an SVG polyline in a 300 × 100 view box (y from 0 to the first loss). */
function drawLoss(losses: readonly number[]): void {
  if (losses.length < 2) return;
  const top = Math.max(...losses.slice(0, 5));
  const points = losses
    .map((l, i) => {
      const x = (i / (STEPS - 1)) * 300;
      const y = 100 - (Math.min(l, top) / top) * 96;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
  el("curve").setAttribute("points", points);
}

async function main(): Promise<void> {
  // ?threads=N: the worker trains on N threads sharing the model's memory (Web Workers of its
  // own; the page must be cross-origin isolated, which `npm run demo` serves it as); the
  // results are bit-identical to one thread.
  const asked = Number(new URLSearchParams(page.location.search).get("threads") ?? "1");
  const threads = Number.isInteger(asked) && asked >= 1 && asked <= 16 ? asked : 1;
  // Browsers refuse synchronous compilation of large WebAssembly modules on the main thread;
  // the page needs the kernels only for sampling, after training.
  await initWasm();
  const vocab = Vocab.fromText(TEXT);
  const V = vocab.size;
  state.vocab = [...vocab.chars];
  el("info").textContent =
    `${TEXT.length} characters, vocabulary ${V}, hidden ${HIDDEN}, batch ${BATCH} × ${SEQ_LEN} steps`;

  // No validation split: on one paragraph the model mostly learns it by heart, which makes the
  // sample easy to judge (the command line's train-text holds out a validation part).
  const run = trainInWorker({
    task: "text",
    text: TEXT,
    batch: BATCH,
    seqLen: SEQ_LEN,
    model: { hiddenSize: HIDDEN },
    threads,
    train: { optimizer: { kind: "adam", lr: 0.01 }, clipNorm: 5, steps: STEPS, seed: 1 },
  });
  run.on((e: TrainEvent) => {
    if (e.type === "step") {
      state.steps = e.step;
      state.losses.push(e.loss);
      el("step").textContent = `${e.step} / ${STEPS}`;
      el("loss").textContent = `${e.loss.toFixed(3)} nats/char`;
      if (e.step % 5 === 0) drawLoss(state.losses);
    }
  });
  const t0 = performance.now();
  const result = await watchMainThread(() => run.done);
  drawLoss(state.losses);
  el("time").textContent = `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  state.backend = result.backend;
  state.threads = result.threads;
  el("backend").textContent = result.backend;
  el("threads").textContent = String(result.threads);
  el("info").textContent += `, ${result.params.length} parameters`;
  const model = modelFromResult(result);
  const prime = "It is";
  state.sample =
    prime +
    sampleText(model, vocab, {
      prime,
      length: 300,
      temperature: 0.7,
      rng: new Rng(2),
    });
  el("sample").textContent = state.sample;
}

main()
  .catch((e: unknown) => {
    state.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    el("error").textContent = state.error;
  })
  .finally(() => {
    state.done = true;
    el("status").textContent = state.error ? "failed" : "done";
  });
