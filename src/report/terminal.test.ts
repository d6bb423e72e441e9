import assert from "node:assert/strict";
import { test } from "node:test";
import { lossChart } from "./terminal.js";
import type { LossPoint } from "./html.js";

const cols = (s: string): number => [...s].length;
const BRAILLE = /[\u2801-\u28ff]/;

function hist(n: number, from: number, to: number, valid = true): LossPoint[] {
  return Array.from({ length: n }, (_, i) => {
    const v = from + ((to - from) * i) / Math.max(1, n - 1);
    return { step: (i + 1) * 5, trainLoss: v, validLoss: valid ? v * 1.1 : null };
  });
}

test("a chart fits its width and height, labels min and max, draws both series", () => {
  const out = lossChart(hist(40, 2, 1), { width: 50, height: 8 });
  const lines = out.split("\n");
  assert.equal(lines.length, 8 + 3); // plot rows, axis, step range, legend
  for (const l of lines) assert.ok(cols(l) <= 50, `too wide: ${JSON.stringify(l)}`);
  assert.ok(lines[0].trimStart().startsWith("2.2 ┤"), lines[0]); // max: valid 2 × 1.1
  assert.ok(lines[7].trimStart().startsWith("1 ┤"), lines[7]); // min: train 1
  const plot = lines.slice(0, 8).join("\n");
  assert.match(plot, BRAILLE);
  assert.match(plot, /•/);
  assert.match(lines[9], /step 5 +200$/);
  assert.match(lines[10], /train 1 .*valid 1\.1 \(best 1\.1 @ 200\)/);
  assert.ok(!out.includes("log scale"));
  assert.ok(!out.includes("\u001b["), "no colour codes");
});

test("training loss only: no validation marks", () => {
  const out = lossChart(hist(10, 3, 2, false), { width: 40, height: 5 });
  assert.ok(!out.includes("•"));
  assert.ok(!out.includes("valid"));
  assert.match(out, BRAILLE);
});

test("a log scale when the losses span more than a decade (or when asked)", () => {
  const h = hist(20, 5, 0.01);
  assert.match(lossChart(h), /log scale/);
  assert.ok(!lossChart(h, { log: false }).includes("log scale"));
  assert.match(lossChart(hist(5, 2, 1), { log: true }), /log scale/);
});

test("edge cases: no history, one point, equal losses, non-finite losses", () => {
  assert.equal(lossChart([]), "(no losses recorded)");
  assert.equal(lossChart([{ step: 1, trainLoss: NaN, validLoss: null }]), "(no losses recorded)");
  const one = lossChart([{ step: 7, trainLoss: 0.5, validLoss: 0.6 }], { width: 30, height: 4 });
  assert.match(one, /•/);
  assert.match(one, /step 7 +7/);
  const flat = lossChart(hist(5, 1, 1), { width: 30, height: 4 });
  assert.match(flat, BRAILLE);
  const bad = lossChart(
    [
      { step: 1, trainLoss: 2, validLoss: 2 },
      { step: 2, trainLoss: Infinity, validLoss: NaN },
      { step: 3, trainLoss: 1, validLoss: 1.5 },
    ],
    { width: 30, height: 4 },
  );
  assert.ok(!/NaN|Infinity/.test(bad));
  // Tiny sizes are raised to a usable minimum.
  const small = lossChart(hist(5, 2, 1), { width: 5, height: 1 });
  const smallLines = small.split("\n");
  assert.equal(smallLines.filter((l) => /[┤│]/.test(l)).length, 3);
  for (const l of smallLines) assert.ok(cols(l) <= 24, l);
});
