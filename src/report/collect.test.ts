import assert from "node:assert/strict";
import { test } from "node:test";
import { LstmModel } from "../model/model.js";
import { Rng } from "../tensor/rng.js";
import type { ModelMeta } from "../io/model-file.js";
import { forecastSeries, readSeriesMeta } from "../train/forecast.js";
import { collectReport, trainingData, visibleChar } from "./collect.js";
import { renderReport } from "./html.js";

function model(I: number, H: number, O: number, L = 1): LstmModel {
  const m = new LstmModel({ inputSize: I, hiddenSize: H, outputSize: O, numLayers: L });
  m.initDefault(new Rng(3));
  return m;
}

const VOCAB = ["\n", " ", '"', "&", "<", ">", "a", "b", "c", "s"];
const textMeta: ModelMeta = {
  task: "text",
  input: { kind: "one-hot" },
  vocab: VOCAB,
  training: {
    steps: 20,
    loss: "nats/char",
    unigramEntropy: 2.1,
    history: [
      { step: 10, trainLoss: 2.3, validLoss: 2.4 },
      { step: 20, trainLoss: 2.0, validLoss: null },
    ],
    options: { lr: 0.01, out: "/secret/path", nested: { a: 1 } },
  },
};

test("trainingData shows meta.training: plain options only, null losses as NaN", () => {
  const t = trainingData(textMeta.training)!;
  assert.equal(t.steps, 20);
  assert.equal(t.history.length, 2);
  assert.equal(t.history[1].validLoss, null);
  assert.deepEqual(t.baseline, { label: "unigram entropy", value: 2.1 });
  assert.deepEqual(t.options, { lr: 0.01 }); // paths and objects left out
  assert.equal(trainingData(undefined), null);
  const nan = trainingData({ history: [{ step: 1, trainLoss: null, validLoss: null }] })!;
  assert.ok(Number.isNaN(nan.history[0].trainLoss));
});

test("visibleChar shows whitespace and controls", () => {
  assert.equal(visibleChar("\n"), "↵");
  assert.equal(visibleChar(" "), "␣");
  assert.equal(visibleChar("\u0007"), "U+0007");
  assert.equal(visibleChar("<"), "<");
});

test("text: gate activations over the first characters of the text", () => {
  const m = model(VOCAB.length, 6, VOCAB.length);
  const text = `<a & "b">\nabc` + "abcs ".repeat(40);
  const d = collectReport(m, textMeta, { data: text, dataName: "t.txt", sampleLength: 30 });
  assert.equal(d.activations!.length, 1);
  const a = d.activations![0];
  assert.equal(a.xLabels.length, 30);
  assert.deepEqual(a.xLabels.slice(0, 10), ["<", "a", "␣", "&", "␣", '"', "b", '"', ">", "↵"]);
  assert.deepEqual(
    a.panels.map((p) => p.key),
    ["p", "i", "f", "g", "o", "c", "h"],
  );
  for (const p of a.panels) {
    assert.equal(p.cols, 30);
    assert.equal(p.values.length, p.rows * p.cols);
  }
  const gate = a.panels.find((p) => p.key === "f")!;
  assert.equal(gate.rows, 6);
  assert.ok(gate.values.every((v) => v > 0 && v < 1));
  const p = a.panels[0].values;
  assert.ok(Number.isNaN(p[0]) && p.slice(1).every((v) => v > 0 && v < 1));
  assert.ok(d.sample && d.sample.text.length > 0);
  const html = renderReport(d);
  assert.ok(!/https?:\/\//.test(html));
  assert.ok(html.includes("Gate activations"));
});

test("text without data: a generated sample; wide layers show the most active units", () => {
  const m = model(VOCAB.length, 20, VOCAB.length, 2);
  const d = collectReport(m, textMeta, { maxUnits: 8 });
  assert.deepEqual(
    d.activations!.map((a) => a.layer),
    [0, 1],
  );
  const a = d.activations![0];
  assert.equal(a.xLabels.length, 80);
  assert.equal(a.panels.find((p) => p.key === "h")!.rows, 8);
  assert.match(a.caption, /generated/);
  assert.match(a.caption, /8 of 20 units/);
});

function csv(N: number): { text: string; values: Float64Array } {
  const values = Float64Array.from({ length: N }, (_, i) => 100 + 2 * i + 15 * Math.sin(i / 2));
  const rows = Array.from(values, (v, i) => {
    const y = 1950 + Math.floor(i / 12);
    return `${y}-${String((i % 12) + 1).padStart(2, "0")},${v}`;
  });
  return { text: `month,value\n${rows.join("\n")}\n`, values };
}

function seriesMeta(N: number, over: Record<string, unknown> = {}): ModelMeta {
  return {
    task: "series",
    input: { kind: "dense" },
    series: {
      columns: ["value"],
      targetColumns: ["value"],
      timeColumn: "month",
      horizon: 3,
      seqLen: 6,
      scaler: { mean: [150], std: [40] },
      transform: "none",
      relative: false,
      missing: "error",
      rows: N,
      split: { train: [0, 40], valid: [40, 50], test: [50, 60] },
      ...over,
    },
  };
}

for (const variant of [
  {},
  { relative: true },
  { transform: "log", scaler: { mean: [5], std: [0.3] } },
])
  test(`series ${JSON.stringify(variant)}: per-origin predictions agree with forecastSeries`, () => {
    const N = 60;
    const { text, values } = csv(N);
    const m = model(1, 5, 3);
    const meta = seriesMeta(N, variant);
    const d = collectReport(m, meta, { data: text, dataName: "s.csv" });
    const s = d.series!;
    assert.equal(s.firstPredictedRow, 40);
    assert.deepEqual(s.split, { train: [0, 40], valid: [40, 50], test: [50, 60] });
    const tg = s.targets[0];
    assert.equal(tg.actual.length, N);
    assert.ok(tg.predicted.slice(0, 40).every((v) => v === null));
    const sm = readSeriesMeta(meta.series, "m");
    for (const origin of [40, 47, 59]) {
      const f = forecastSeries(m, sm, values, 3, origin);
      assert.ok(Math.abs(tg.predicted[origin]! - f[0]) < 1e-4 * Math.abs(f[0]), `row ${origin}`);
      if (origin + 2 < N)
        assert.ok(Math.abs(tg.predictedK![origin + 2]! - f[2]) < 1e-4 * Math.abs(f[2]));
    }
    assert.equal(tg.predictedK![41], null); // the first 3-step prediction is of row 42
    const fut = forecastSeries(m, sm, values, 3);
    assert.deepEqual(tg.future, Array.from(fut));
    assert.deepEqual(s.futureTimes, ["1955-01", "1955-02", "1955-03"]);
    assert.deepEqual(
      tg.metrics.map((x) => [x.part, x.step, x.count]),
      [
        ["validation", 1, 10],
        ["validation", 3, 8],
        ["test", 1, 10],
        ["test", 3, 10],
      ],
    );
    const a = d.activations![0];
    assert.deepEqual(
      a.panels.map((p) => p.key),
      ["x", "i", "f", "g", "o", "c", "h"],
    );
    assert.equal(a.xLabels[5], "1954-12");
    const html = renderReport(d);
    assert.ok(html.includes("Forecast") && html.includes("validation"));
  });

test("series: other data than the training data, longer forecasts, no data", () => {
  const { text } = csv(30);
  const m = model(1, 4, 3);
  const d = collectReport(m, seriesMeta(60), { data: text, dataName: "s.csv", futureSteps: 7 });
  assert.equal(d.series!.split, null);
  assert.equal(d.series!.firstPredictedRow, 6);
  assert.equal(d.series!.targets[0].future.length, 7); // recursive beyond the horizon
  assert.ok(d.notes!.some((n) => /30 rows but the model was trained on 60/.test(n)));
  const none = collectReport(m, seriesMeta(60));
  assert.equal(none.series, null);
  assert.ok(none.notes!.some((n) => /--data/.test(n)));
  assert.ok(renderReport(none).includes("Training"));
});
