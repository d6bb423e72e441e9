/**
 * The same library in a browser: serves the repository over HTTP, opens the demo page (demo/index.html,
 * demo/main.ts, which loads the browser bundle and trains in a Web Worker) in headless Chromium
 * through playwright-core, and checks that it trained a character model with the wasm backend,
 * wrote a sample, and that the page's main thread kept responding while the worker trained (no
 * task over 50 ms, by the Long Tasks API). Skipped where Chromium is missing.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import { test } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import type { DemoState } from "../demo/main.js";
import { ROOT } from "./helpers.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** A module using f32x4.relaxed_madd: validates exactly where the engine has relaxed SIMD. */
const RELAXED_SIMD_PROBE = [
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 15,
  65, 0, 253, 15, 65, 0, 253, 15, 253, 133, 2, 11,
];
const BASE = ROOT.endsWith(sep) ? ROOT : ROOT + sep;
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
};

function serve(): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname);
    const file = normalize(join(BASE, path));
    if (!file.startsWith(BASE)) return void res.writeHead(403).end();
    readFile(file).then(
      (body) => {
        res.writeHead(200, {
          "content-type": TYPES[extname(file)] ?? "application/octet-stream",
          // Cross-origin isolated, as `npm run demo` serves it: SharedArrayBuffer for threads.
          "cross-origin-opener-policy": "same-origin",
          "cross-origin-embedder-policy": "require-corp",
        });
        res.end(body);
      },
      () => res.writeHead(404).end(),
    );
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/**
 * Runs in the page: a classify job and a series job through the browser bundle's trainInWorker,
 * each result encoded as a model file and decoded again; then a bad job's error reason.
 */
const BUNDLE_JOBS = `(async () => {
  const lib = await import("/dist/browser/lstm-ts.js");
  const train = { optimizer: { kind: "adam", lr: 0.02 }, evalEvery: 5, seed: 1 };
  const sequences = [], labels = [];
  for (let i = 0; i < 24; i++) {
    sequences.push(i % 2 ? "xyyx".slice(0, 2 + (i % 3)) : "abba".slice(0, 2 + (i % 3)));
    labels.push(i % 2 ? "xy" : "ab");
  }
  let events = 0;
  const c = await lib.trainInWorker({
    task: "classify", data: { sequences, labels }, batch: 4,
    model: { hiddenSize: 4, embedding: 3 }, train: { ...train, steps: 5 },
  }).on((e) => { if (e.type === "step") events++; }).done;
  const cm = lib.decodeModel(lib.encodeModel(lib.modelFromResult(c), c.meta), "classify");
  const a = Array.from({ length: 40 }, (_, i) => Math.sin(i / 2));
  const seriesJob = {
    task: "series", data: { values: { a } }, columns: ["a"], horizon: 2, seqLen: 6, batch: 4,
    model: { hiddenSize: 4 }, train: { ...train, steps: 4 },
  };
  const s = await lib.trainInWorker(seriesJob).done;
  const sm = lib.decodeModel(lib.encodeModel(lib.modelFromResult(s), s.meta), "series");
  const error = await lib.trainInWorker({ ...seriesJob, seqLen: "6" }).done.then(
    () => "none", (e) => e.reason);
  return {
    classify: { steps: c.summary.steps, events, classes: cm.meta.classifier.classes, task: cm.meta.task },
    series: { steps: s.summary.steps, task: sm.meta.task, horizon: sm.meta.series.horizon, error },
  };
})()`;

const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;

/** Opens the demo at `url`, collecting page errors into `problems`; resolves when it is done. */
async function openDemo(browser: Browser, url: string, problems: string[]): Promise<Page> {
  const page = await browser.newPage();
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  await page.goto(url);
  await page.waitForFunction("window.__demo !== undefined && window.__demo.done === true", null, {
    timeout: 60_000,
  });
  return page;
}

test(
  "the demo page trains a character model in Chromium with the wasm backend",
  {
    skip: existsSync(CHROMIUM)
      ? false
      : `no Chromium at ${CHROMIUM} (install the chromium package or set CHROMIUM_PATH)`,
    timeout: 120_000,
  },
  async () => {
    const server = await serve();
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    try {
      const { port } = server.address() as AddressInfo;
      const problems: string[] = [];
      const page = await openDemo(browser, `http://127.0.0.1:${port}/dist/demo/index.html`, problems); // prettier-ignore
      const s = (await page.evaluate("window.__demo")) as DemoState;

      assert.deepEqual(problems, []);
      assert.equal(s.error, null);
      // The default backend: the relaxed-SIMD build where the browser validates relaxed SIMD
      // (f32x4.relaxed_madd), the plain SIMD build otherwise.
      const relaxed = await page.evaluate(
        `WebAssembly.validate(new Uint8Array(${JSON.stringify(RELAXED_SIMD_PROBE)}))`,
      );
      const expectedBackend = relaxed ? "wasm-relaxed" : "wasm";
      assert.equal(s.backend, expectedBackend);
      assert.ok(s.steps >= 200, `${s.steps} training steps`);
      assert.equal(s.losses.length, s.steps);
      assert.ok(s.losses.every(Number.isFinite), "every loss is finite");
      const first = mean(s.losses.slice(0, 10));
      const last = mean(s.losses.slice(-10));
      // Uniform guessing over the ~40 characters costs ln 40 ≈ 3.7 nats; the model must learn.
      assert.ok(last < first - 1, `loss fell from ${first.toFixed(3)} to ${last.toFixed(3)}`);
      assert.equal(typeof s.sample, "string");
      const sample = s.sample as string;
      assert.ok(sample.length > 0, "the sample is not empty");
      const vocab = new Set(s.vocab);
      for (const ch of sample) assert.ok(vocab.has(ch), `sample character ${JSON.stringify(ch)}`);
      // The page shows what it computed.
      assert.equal(await page.textContent("#backend"), expectedBackend);
      assert.equal(await page.textContent("#status"), "done");
      assert.equal(await page.textContent("#sample"), sample);
      assert.equal(s.threads, 1);
      // Training ran in the worker: no main-thread task of 50 ms or more meanwhile.
      assert.deepEqual(s.longTasks, [], `long tasks while training (ms); timer gap ${s.maxTimerGapMs.toFixed(0)} ms`); // prettier-ignore
      assert.ok(s.maxTimerGapMs > 0, "the timer probe ran during training");

      // The same training on two threads: Web Workers over one shared memory (the page is
      // cross-origin isolated). Every loss and the sample come out bit-identical.
      const url2 = `http://127.0.0.1:${port}/dist/demo/index.html?threads=2`;
      const page2 = await openDemo(browser, url2, problems);
      const s2 = (await page2.evaluate("window.__demo")) as DemoState;
      assert.deepEqual(problems, []);
      assert.equal(s2.error, null);
      assert.equal(s2.crossOriginIsolated, true);
      assert.equal(s2.threads, 2, "the model runs on a Web Worker as well");
      assert.equal(await page2.textContent("#threads"), "2");
      assert.deepEqual(s2.losses, s.losses, "the same losses, bit for bit");
      assert.equal(s2.sample, s.sample);
      assert.deepEqual(s2.longTasks, []);

      // A sequence classifier and a forecaster trained by the bundle's trainInWorker, each a
      // model file that the bundle's decodeModel reads back with the CLI's metadata.
      const jobs = (await page2.evaluate(BUNDLE_JOBS)) as {
        classify: { steps: number; events: number; classes: string[]; task: string };
        series: { steps: number; task: string; horizon: number; error: string };
      };
      assert.deepEqual(problems, []);
      assert.deepEqual(jobs.classify, { steps: 5, events: 5, classes: ["ab", "xy"], task: "classify" }); // prettier-ignore
      assert.deepEqual(jobs.series, { steps: 4, task: "series", horizon: 2, error: "ConfigError" });
    } finally {
      await browser.close();
      server.close();
    }
  },
);
