import assert from "node:assert/strict";
import { test } from "node:test";
import {
  esc,
  linearTicks,
  logTicks,
  renderReport,
  type ActivationData,
  type LossPoint,
  type ReportData,
} from "./html.js";
import { checkBalanced } from "../../test/html-check.js";

function history(n: number, from = 3, to = 0.02): LossPoint[] {
  return Array.from({ length: n }, (_, i) => {
    const v = from * Math.pow(to / from, i / Math.max(1, n - 1));
    return { step: (i + 1) * 10, trainLoss: v, validLoss: i === 3 ? null : v * 1.2 };
  });
}

function activations(labels: string[], H: number): ActivationData {
  const T = labels.length;
  const panel = (key: string, scale: "unit" | "signed") => ({
    key,
    title: `${key} gate`,
    rows: H,
    cols: T,
    values: Array.from({ length: H * T }, (_, q) =>
      scale === "unit" ? (q % 7) / 6 : Math.sin(q) * 2,
    ),
    rowLabels: Array.from({ length: H }, (_, u) => String(u)),
    scale,
    range: (scale === "unit" ? [0, 1] : [-2, 2]) as [number, number],
  });
  return {
    layer: 0,
    caption: "a sample",
    xLabels: labels,
    xKind: "chars",
    panels: [
      panel("i", "unit"),
      panel("f", "unit"),
      panel("g", "signed"),
      panel("o", "unit"),
      panel("c", "signed"),
      panel("h", "signed"),
    ],
  };
}

function base(over: Partial<ReportData> = {}): ReportData {
  return {
    title: "LSTM report: model.safetensors",
    task: "text",
    model: {
      inputSize: 5,
      hiddenSize: 4,
      numLayers: 1,
      bidirectional: false,
      outputSize: 5,
      numParams: 196,
      params: [{ name: "lstm.weight_ih_l0", shape: [16, 5] }],
    },
    training: {
      steps: 100,
      epochs: 2.5,
      seconds: 3.2,
      stopReason: "steps",
      finalTrainLoss: 0.02,
      bestValidLoss: 0.024,
      bestStep: 100,
      lossName: "nats/char",
      history: history(10),
      baseline: { label: "unigram entropy", value: 1.5 },
      options: { lr: 0.01, optimizer: "adam" },
    },
    ...over,
  };
}

test("esc covers the five HTML-special characters", () => {
  assert.equal(esc(`<a href="x">&'</a>`), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
});

test("ticks are round numbers inside the range", () => {
  assert.deepEqual(linearTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(linearTicks(-3, 7, 5), [-2, 0, 2, 4, 6]);
  assert.deepEqual(logTicks(0.02, 3), [0.03, 0.1, 0.3, 1, 3]);
  assert.deepEqual(logTicks(0.15, 3), [0.2, 0.5, 1, 2]);
  assert.ok(logTicks(1e-5, 10).includes(1e-3));
});

test("a report is one well-formed, self-contained document with an <svg> per chart", () => {
  const vocab = ["<", "s", "c", "r", "i", "p", "t", ">", "&", '"', "'", "↵"];
  const html = renderReport(
    base({
      title: `Report <script>alert("x")</script> & co`,
      details: [["characters", vocab.join(" ")]],
      activations: [activations(vocab, 4)],
      sample: { caption: "generated", text: `</pre><script>alert(1)</script>` },
      notes: [`a note with <b>markup</b>`],
    }),
  );
  assert.ok(html.startsWith("<!doctype html>\n<html"));
  assert.equal(html.match(/<html[\s>]/g)?.length, 1);
  assert.equal(html.match(/<\/html>/g)?.length, 1);
  assert.equal(html.match(/<body>/g)?.length, 1);
  assert.ok(!/https?:\/\//.test(html), "no network references");
  assert.ok(!/\b(src|href)=/.test(html), "no external assets");
  assert.ok(!/NaN|undefined/.test(html));
  const tags = checkBalanced(html);
  // Losses span 2 decades: a linear and a log chart (CSS toggle); 6 heatmap panels.
  assert.match(html, /class="log-toggle" checked/);
  const charts = html.match(/<svg class="chart"/g)?.length ?? 0;
  const heatmaps = html.match(/<svg class="heatmap"/g)?.length ?? 0;
  assert.equal(charts, 2);
  assert.equal(heatmaps, 6);
  assert.ok((tags.get("svg") ?? 0) >= charts + heatmaps);
  // Escaping: the only scripts are the report's own (the data block and the hover code).
  assert.equal(html.match(/<script/g)?.length, 2);
  assert.ok(!html.includes("<script>alert"));
  assert.ok(html.includes("Report &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"));
  assert.ok(html.includes("&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
  assert.ok(html.includes("a note with &lt;b&gt;markup&lt;/b&gt;"));
  // The x labels of the heatmaps are the (escaped) characters.
  assert.ok(html.includes(`class="char" style="font-size:`));
  assert.ok(html.includes(">&lt;</text>") && html.includes(">&amp;</text>"));
  assert.ok(html.includes(">&quot;</text>") && html.includes(">&#39;</text>"));
  // The JSON data block cannot close its script tag early.
  const json = /<script type="application\/json" id="hm-data">([\s\S]*?)<\/script>/.exec(html)!;
  assert.ok(!json[1].includes("<"));
  const data = JSON.parse(json[1]);
  assert.deepEqual(data.sets[0].x, vocab);
  assert.ok(html.includes("Gate activations") && html.includes("Loss curves"));
});

test("one linear loss chart when the losses span less than a decade; no valid losses is fine", () => {
  const h = history(5, 2, 1).map((p) => ({ ...p, validLoss: null }));
  const html = renderReport(
    base({ training: { history: h, lossName: "MSE", bestValidLoss: null, bestStep: null } }),
  );
  assert.ok(!html.includes(`class="log-toggle"`));
  assert.equal(html.match(/<svg class="chart"/g)?.length, 1);
  assert.ok(!html.includes("<script"), "no heatmaps, no script");
  checkBalanced(html);
});

test("a model without training summary or history still renders", () => {
  const html = renderReport(base({ training: null, task: "generic" }));
  assert.match(html, /no training summary/);
  const empty = renderReport(base({ training: { history: [] } }));
  assert.match(empty, /No evaluations were recorded/);
  checkBalanced(html);
  checkBalanced(empty);
});

test("a series report marks the splits and shows predictions and the forecast", () => {
  const N = 60;
  const times = Array.from(
    { length: N },
    (_, i) => `${1950 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, "0")}`,
  );
  const actual = Array.from({ length: N }, (_, i) => 100 + i + 10 * Math.sin(i / 2));
  const predicted = actual.map((v, i) => (i >= 40 ? v + 1 : null));
  const html = renderReport(
    base({
      task: "series",
      series: {
        times,
        futureTimes: ["1955-01", "1955-02", "1955-03"],
        rows: N,
        split: { train: [0, 40], valid: [40, 50], test: [50, 60] },
        horizon: 3,
        seqLen: 12,
        firstPredictedRow: 40,
        caption: "1-step-ahead predictions",
        targets: [
          {
            name: "passengers <thousands>",
            actual,
            predicted,
            predictedK: predicted.map((v) => (v === null ? null : v - 1)),
            future: [170, 171, 172],
            metrics: [
              {
                part: "validation",
                rows: [40, 50],
                step: 1,
                count: 10,
                rmse: 1,
                mae: 1,
                mape: 0.7,
                naiveRmse: 3,
                naiveMae: 2.5,
              },
            ],
          },
        ],
      },
    }),
  );
  checkBalanced(html);
  assert.ok(!/https?:\/\/|NaN|undefined/.test(html));
  for (const s of ["validation", "test", "forecast", "1-step-ahead prediction", "3-step-ahead"])
    assert.ok(html.includes(s), s);
  assert.ok(html.includes("passengers &lt;thousands&gt;"));
  assert.ok(html.includes(">1952</text>"), "January rows label the years");
  assert.ok(html.includes("1955-03"), "future time stamps");
  assert.equal(html.match(/<svg class="chart"/g)?.length, 3); // 2 loss charts + the forecast
});
