/**
 * Every example in examples/ runs (so the examples never rot): the Node scripts with small step
 * counts, importing the package by its name ("lstm-ts" resolves to this package's exports), and
 * examples/browser.html in headless Chromium (skipped without Chromium, as test/browser.test.ts).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import { describe, it } from "node:test";
import { chromium } from "playwright-core";
import { ROOT } from "./helpers.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

function example(file: string, ...args: string[]): string {
  const r = spawnSync(process.execPath, [join("examples", file), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `${file}: ${r.stderr}`);
  return r.stdout;
}

describe("examples/", () => {
  it("char-model.mjs trains a character model, its validation loss falls, and samples", () => {
    const out = example("char-model.mjs", "60");
    const valid = [...out.matchAll(/validation ([\d.]+) nats\/char/g)].map((m) => Number(m[1]));
    assert.ok(valid.length >= 2, out);
    assert.ok(valid.at(-1)! < valid[0], out);
    assert.match(out, /^It is a truth.{100,}/m);
  });

  it("forecaster.mjs forecasts the test part of AirPassengers and compares seasonal naive", () => {
    const out = example("forecaster.mjs", "100");
    const m = /test MAE: LSTM ([\d.]+), seasonal naive ([\d.]+)/.exec(out);
    assert.ok(m, out);
    // Passenger counts are 100–600 thousand: a forecast off by more than 200 on average is broken.
    assert.ok(Number(m[1]) > 0 && Number(m[1]) < 200, out);
    assert.ok(Number(m[2]) > 0, out);
  });

  it("classifier.mjs learns the bit-recall classes", () => {
    const out = example("classifier.mjs", "200");
    const m = /accuracy on \d+ new sequences: ([\d.]+)%/.exec(out);
    assert.ok(m, out);
    assert.ok(Number(m[1]) >= 90, out);
  });

  it("streaming.mjs: one step at a time equals the whole sequence", () => {
    const out = example("streaming.mjs");
    const m = /largest difference from the whole sequence: (\S+)/.exec(out);
    assert.ok(m, out);
    assert.equal(Number(m[1]), 0, out); // bit for bit
  });

  it(
    "browser.html trains in a Web Worker and samples, in Chromium",
    { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}`, timeout: 120_000 },
    async () => {
      const base = ROOT.endsWith(sep) ? ROOT : ROOT + sep;
      const server = createServer((req, res) => {
        const file = normalize(join(base, new URL(req.url ?? "/", "http://x").pathname));
        if (!file.startsWith(base)) return void res.writeHead(403).end();
        readFile(file).then(
          (body) => {
            const type = extname(file) === ".html" ? "text/html" : "text/javascript";
            res.writeHead(200, { "content-type": `${type}; charset=utf-8` }).end(body);
          },
          () => res.writeHead(404).end(),
        );
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"],
      });
      try {
        const page = await browser.newPage();
        const problems: string[] = [];
        page.on("pageerror", (e) => problems.push(e.message));
        const { port } = server.address() as AddressInfo;
        await page.goto(`http://127.0.0.1:${port}/examples/browser.html`);
        await page.waitForFunction("window.__example?.done === true", null, { timeout: 60_000 });
        const s = (await page.evaluate("window.__example")) as {
          steps: number;
          sample: string | null;
          error: string | null;
        };
        assert.deepEqual(problems, []);
        assert.equal(s.error, null);
        assert.equal(s.steps, 150);
        assert.ok(s.sample !== null && s.sample.length > 40, String(s.sample));
        assert.equal(await page.textContent("#step"), "150");
      } finally {
        await browser.close();
        server.close();
      }
    },
  );
});
