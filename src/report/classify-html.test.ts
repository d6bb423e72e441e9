import assert from "node:assert/strict";
import { test } from "node:test";
import { classificationMetrics } from "../train/metrics.js";
import { classificationSection, confusionHeatmapSvg, perClassTable } from "./classify-html.js";
import { renderReport, sequentialColour } from "./html.js";
import { checkBalanced } from "../../test/html-check.js";

const LABELS = ["dutch", "english", "polish", "<b>&'x\""];

function metrics() {
  // true class t, predicted p: diagonal-heavy, with a few confusions.
  const truth: number[] = [];
  const predicted: number[] = [];
  const counts = [
    [50, 6, 0, 4],
    [7, 48, 1, 4],
    [0, 1, 59, 0],
    [2, 0, 0, 58],
  ];
  counts.forEach((row, t) =>
    row.forEach((k, p) => {
      for (let i = 0; i < k; i++) {
        truth.push(t);
        predicted.push(p);
      }
    }),
  );
  return classificationMetrics({ truth, predicted, labels: LABELS, reference: [0, 0, 1] });
}

test("confusion heatmap: C×C cells with counts and tooltips, the diagonal outlined, labels escaped", () => {
  const m = metrics();
  const svg = confusionHeatmapSvg(m);
  checkBalanced(svg);
  const cells = [...svg.matchAll(/<g class="cell" data-true="(\d)" data-pred="(\d)">/g)];
  assert.equal(cells.length, 16);
  assert.equal(svg.match(/stroke="#222"/g)?.length, 4, "diagonal cells outlined");
  // Counts in the cells, in row-major order.
  const texts = [...svg.matchAll(/class="count"[^>]*>(\d+)<\/text>/g)].map((x) => Number(x[1]));
  assert.deepEqual(texts, m.confusion.flat());
  assert.ok(svg.includes("<title>true dutch → predicted english: 6 (10 % of dutch)</title>"));
  assert.ok(svg.includes("&lt;b&gt;&amp;&#39;x&quot;"));
  assert.ok(!svg.includes("<b>"));
  // A cell's colour is its share of the true class's rows.
  const fills = [...svg.matchAll(/<rect [^>]*fill="(#[0-9a-f]{6})"/g)].map((x) => x[1]);
  assert.equal(fills[2 * 4 + 2], sequentialColour(59 / 60));
  assert.equal(fills[0], sequentialColour(50 / 60));
  assert.equal(fills[2 * 4 + 0], sequentialColour(0));
  assert.equal(fills[2 * 4 + 3], sequentialColour(0));
  assert.notEqual(sequentialColour(0), sequentialColour(1));
});

test("many classes: counts left out of small cells, long labels cut and rotated", () => {
  const C = 40;
  const labels = Array.from({ length: C }, (_, i) => `a rather long class name number ${i}`);
  const truth = Array.from({ length: 400 }, (_, i) => i % C);
  const predicted = truth.map((t, i) => (i % 3 === 0 ? (t + 1) % C : t));
  const svg = confusionHeatmapSvg(classificationMetrics({ truth, predicted, labels }));
  checkBalanced(svg);
  assert.equal(svg.match(/<g class="cell"/g)?.length, C * C);
  assert.ok(!svg.includes('class="count"'));
  assert.ok(svg.includes("rotate(-45)"));
  assert.ok(svg.includes(">a rather long cla…</text>"));
  assert.ok(svg.includes("<title>true a rather long class name number 0 → predicted"));
});

test("per-class table: one row per class, then macro average and accuracy", () => {
  const m = metrics();
  const html = perClassTable(m);
  checkBalanced(html);
  assert.equal(html.match(/<tr>/g)?.length, 1 + 4);
  assert.equal(html.match(/<tr class="total">/g)?.length, 2);
  assert.ok(html.includes("<td>polish</td><td>0.983</td><td>0.983</td><td>0.983</td><td>60</td>"));
  assert.ok(html.includes(`<td>accuracy</td><td></td><td></td><td>${m.accuracy.toFixed(3)}</td>`));
});

test("the section inside a full report: cards, heatmap and table, self-contained, no script", () => {
  const m = metrics();
  const html = renderReport({
    title: "word_language_4",
    task: "classify",
    model: {
      inputSize: 32,
      hiddenSize: 128,
      numLayers: 1,
      bidirectional: false,
      outputSize: 4,
      numParams: 83_588,
    },
    training: null,
    sections: [
      classificationSection({
        caption: "test split: the last 20 % of rows (240)",
        metrics: m,
        references: [{ label: "naive Bayes (1–3-grams)", accuracy: 0.917 }],
      }),
    ],
  });
  checkBalanced(html);
  assert.ok(!/https?:\/\/|NaN|undefined/.test(html));
  assert.ok(!html.includes("<script"));
  assert.equal(html.match(/<section id="classification">/g)?.length, 1);
  assert.equal(html.match(/<svg class="confusion"/g)?.length, 1);
  for (const s of ["accuracy", "macro-F1", "majority class (dutch)", "91.7 %", "Per-class scores"])
    assert.ok(html.includes(s), s);
  assert.ok(html.indexOf('id="training"') < html.indexOf('id="classification"'));
});
