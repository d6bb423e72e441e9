/**
 * Gathers what a report shows from a model, its metadata and (optionally) the text or CSV it
 * was trained on: the training summary and loss history, the forecasts of a series model in data
 * units, and the gate activations over a sample input. Browser-safe: data comes in as strings.
 */
import { parseCsvSeries, SeriesWindows, type MissingPolicy } from "../data/series.js";
import { oneHot, Vocab } from "../data/text.js";
import type { ModelMeta } from "../io/model-file.js";
import type { TrainingSummary } from "../io/schemas.js";
import type { LstmModel } from "../model/model.js";
import type { CellKind } from "../model/config.js";
import { allocFloat } from "../tensor/dtype.js";
import { Rng } from "../tensor/rng.js";
import {
  applyTransform,
  forecastSeries,
  nextTimes,
  readSeriesMeta,
  type SeriesMeta,
} from "../train/forecast.js";
import { sampleText } from "../train/sample.js";
import { predictWindows } from "../train/series-task.js";
import { encodeInputs, parseClassifyCsv, readClassifierMeta } from "../data/classify.js";
import { classifyLogits } from "../train/classify-task.js";
import { argmaxRows, classificationMetrics } from "../train/metrics.js";
import { classificationSection } from "./classify-html.js";
import type {
  ActivationData,
  HeatmapPanel,
  LossPoint,
  PartMetrics,
  ReportData,
  SeriesData,
  SeriesTargetData,
  TrainingData,
} from "./html.js";

export interface CollectOptions {
  /** Shown in the title and messages (e.g. the model's file name). */
  modelName?: string;
  title?: string;
  /** The text (text models) or CSV (series models) to show the model on. */
  data?: string;
  /** Names `data` in messages. */
  dataName?: string;
  /** Missing CSV cells (default: the policy the model was trained with). */
  missing?: MissingPolicy;
  /** Characters of the text sample for the activations (default 80). */
  sampleLength?: number;
  /** Hidden units shown per heatmap at most; larger layers show the most active ones (default 64). */
  maxUnits?: number;
  /** Series: rows to forecast beyond the data (default: the model's horizon). */
  futureSteps?: number;
  /** Seed of the generated text samples (default 1). */
  seed?: number;
  /** A time stamp to print, e.g. new Date().toISOString(). */
  generatedAt?: string;
}

const SAMPLE_LENGTH = 80;

/**
 * The report's view of `meta.training` (TrainingSummarySchema; the loaders have validated it).
 * Options are shown only when they are plain values; paths are left out.
 */
export function trainingData(raw: TrainingSummary | undefined): TrainingData | null {
  if (!raw) return null;
  const history: LossPoint[] = (raw.history ?? []).map((h) => ({
    step: h.step,
    trainLoss: h.trainLoss ?? NaN,
    validLoss: h.validLoss,
  }));
  const options: Record<string, string | number | boolean> = {};
  const skip = new Set(["out", "checkpoint", "resume", "report", "json", "quiet"]);
  for (const [k, v] of Object.entries(raw.options ?? {}))
    if (
      !skip.has(k) &&
      (typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && isFinite(v)))
    )
      options[k] = v;
  const unigram = raw.unigramEntropy;
  return {
    steps: raw.steps,
    epochs: raw.epochs,
    seconds: raw.seconds,
    stopReason: raw.stopReason,
    finalTrainLoss: raw.finalTrainLoss,
    bestValidLoss: raw.bestValidLoss,
    bestStep: raw.bestStep,
    restoredBest: raw.restoredBest,
    nonFiniteSteps: raw.nonFiniteSteps,
    lossName: raw.loss,
    data: raw.data,
    history,
    baseline:
      typeof unigram === "number" && isFinite(unigram)
        ? { label: "unigram entropy", value: unigram }
        : null,
    options,
  };
}

/** A character as an x label: whitespace and controls made visible. */
export function visibleChar(ch: string): string {
  if (ch === "\n") return "↵";
  if (ch === "\r") return "␍";
  if (ch === "\t") return "⇥";
  if (ch === " ") return "␣";
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x20 || cp === 0x7f || /^[\p{Cc}\p{Cf}\p{Z}\p{M}]$/u.test(ch))
    return `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  return ch;
}

/** Units to show: all, or the `max` whose h varies most over the sample, in index order. */
function pickUnits(h: ArrayLike<number>, T: number, H: number, max: number): number[] {
  const all = Array.from({ length: H }, (_, u) => u);
  if (H <= max) return all;
  const score = all.map((u) => {
    let s = 0;
    let s2 = 0;
    for (let t = 0; t < T; t++) {
      const v = h[t * H + u];
      s += v;
      s2 += v * v;
    }
    const mean = s / T;
    return s2 / T - mean * mean + 1e-3 * Math.abs(mean);
  });
  return all
    .sort((a, b) => score[b] - score[a] || a - b)
    .slice(0, max)
    .sort((a, b) => a - b);
}

/**
 * Heatmap panels of one layer after a forward with B = 1: gates i, f, g, o, cell state c and
 * output h (a GRU: gates r, z, n and h), over the chosen units.
 */
function layerPanels(
  model: LstmModel,
  layer: number,
  T: number,
  maxUnits: number,
): {
  panels: HeatmapPanel[];
  units: number[];
} {
  const H = model.config.hiddenSize;
  const act = model.activations(layer, 0);
  const units = pickUnits(act.h, T, H, maxUnits);
  const R = units.length;
  const rowLabels = units.map((u) => String(u));
  const panel = (
    key: string,
    title: string,
    get: (t: number, u: number) => number,
    scale: HeatmapPanel["scale"],
    range?: [number, number],
  ): HeatmapPanel => {
    const values = new Array<number>(R * T);
    let maxAbs = 0;
    for (let r = 0; r < R; r++)
      for (let t = 0; t < T; t++) {
        const v = get(t, units[r]);
        values[r * T + t] = v;
        if (Math.abs(v) > maxAbs) maxAbs = Math.abs(v);
      }
    const m = maxAbs > 0 ? maxAbs : 1;
    return {
      key,
      title,
      rows: R,
      cols: T,
      values,
      rowLabels,
      scale,
      range: range ?? [-m, m],
    };
  };
  const cell = model.config.cell;
  const gates = GATE_PANELS[cell];
  const G = gates.length * H;
  const gate = (k: number) => (t: number, u: number) => act.gates[t * G + k * H + u];
  const hAt = (t: number, u: number): number => act.h[t * H + u];
  const states =
    cell === "gru"
      ? [panel("h", "hidden state h = (1 − z) ⊙ n + z ⊙ h₋₁", hAt, "signed", [-1, 1])]
      : [
          panel("c", "cell state c = f ⊙ c₋₁ + i ⊙ g", (t, u) => act.c[t * H + u], "signed"),
          panel("h", "hidden state h = o ⊙ tanh(c)", hAt, "signed", [-1, 1]),
        ];
  return {
    units,
    panels: [...gates.map((p, k) => panel(p.key, p.title, gate(k), p.scale, p.range)), ...states],
  };
}

/** The gate blocks' heatmaps of each cell, in the blocks' order (PyTorch's). */
const GATE_PANELS: Record<
  CellKind,
  readonly { key: string; title: string; scale: HeatmapPanel["scale"]; range: [number, number] }[]
> = {
  lstm: [
    { key: "i", title: "input gate i = σ(·)", scale: "unit", range: [0, 1] },
    { key: "f", title: "forget gate f = σ(·)", scale: "unit", range: [0, 1] },
    { key: "g", title: "candidate g = tanh(·)", scale: "signed", range: [-1, 1] },
    { key: "o", title: "output gate o = σ(·)", scale: "unit", range: [0, 1] },
  ],
  gru: [
    { key: "r", title: "reset gate r = σ(·)", scale: "unit", range: [0, 1] },
    { key: "z", title: "update gate z = σ(·)", scale: "unit", range: [0, 1] },
    {
      key: "n",
      title: "candidate n = tanh(· + r ⊙ (W_hn h₋₁ + b_hn))",
      scale: "signed",
      range: [-1, 1],
    },
  ],
};

function layersToShow(L: number): number[] {
  return L > 1 ? [0, L - 1] : [0];
}

function unitsCaption(units: number[], H: number): string {
  return units.length < H
    ? ` Showing ${units.length} of ${H} units (those whose h varies most over the sample).`
    : "";
}

function collectText(
  model: LstmModel,
  meta: ModelMeta,
  o: CollectOptions,
  notes: string[],
): { activations: ActivationData[]; sample: ReportData["sample"]; details: [string, string][] } {
  const name = o.modelName ?? "model";
  const vocab = Vocab.fromJSON(meta.vocab, name);
  const V = vocab.size;
  const L = o.sampleLength ?? SAMPLE_LENGTH;
  const seed = o.seed ?? 1;
  const shown = vocab.chars.map(visibleChar).join(" ");
  const details: [string, string][] = [
    ["vocabulary", `${V} characters`],
    ["characters", shown.length > 600 ? shown.slice(0, 600) + " …" : shown],
  ];
  const canSample = !model.config.bidirectional;
  const sample = canSample
    ? {
        caption: `300 characters generated by the model (temperature 0.8, seed ${seed}, no prime).`,
        text: sampleText(model, vocab, { length: 300, temperature: 0.8, rng: new Rng(seed) }),
      }
    : null;
  let ids: Int32Array | null = null;
  let caption = "";
  if (o.data !== undefined) {
    const head = Array.from(o.data)
      .slice(0, L * 4)
      .join("");
    const rep = vocab.encodeWithReport(head);
    if (rep.ids.length >= 2) {
      ids = rep.ids.slice(0, L);
      caption = `The first ${ids.length} characters of ${o.dataName ?? "the text"}${rep.skippedTotal ? " (characters outside the vocabulary skipped)" : ""}.`;
    } else notes.push(`${o.dataName ?? "the text"} has too few known characters for a sample`);
  }
  if (ids === null && !canSample) {
    notes.push(
      "a bidirectional model cannot generate a sample; pass a text to see its activations",
    );
    return { activations: [], sample, details };
  }
  if (ids === null) {
    const s = sampleText(model, vocab, {
      length: L,
      temperature: 0.8,
      rng: new Rng(seed + 1),
    });
    ids = vocab.encode(s, { source: "sample" });
    caption = `${ids.length} characters generated by the model (temperature 0.8, seed ${seed + 1}); pass the training text to see the model on real data.`;
  }
  const T = ids.length;
  const x = allocFloat(model.dtype, T * V);
  oneHot(x, ids, V);
  const r = model.forward(x, { seqLen: T, batch: 1 });
  // Probability the model gave each character from the ones before it (none for the first).
  const pChar = new Array<number>(T).fill(NaN);
  let nll = 0;
  for (let t = 1; t < T; t++) {
    const z = r.output.subarray((t - 1) * V, t * V);
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, z[v]);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(z[v] - max);
    const p = Math.exp(z[ids[t]] - max) / sum;
    pChar[t] = p;
    nll -= Math.log(p);
  }
  const xLabels = Array.from(ids, (id) => visibleChar(vocab.chars[id]));
  const H = model.config.hiddenSize;
  const maxUnits = o.maxUnits ?? 64;
  const activations: ActivationData[] = layersToShow(model.config.numLayers).map((layer, k) => {
    const { panels, units } = layerPanels(model, layer, T, maxUnits);
    if (k === 0 && T > 1)
      panels.unshift({
        key: "p",
        title: "probability the model gave each character, from the characters before it",
        rows: 1,
        cols: T,
        values: pChar,
        rowLabels: ["p(char)"],
        scale: "unit",
        range: [0, 1],
      });
    return {
      layer,
      caption:
        `${caption}${T > 1 ? ` Mean loss over it: ${(nll / (T - 1)).toFixed(3)} nats/char.` : ""}` +
        unitsCaption(units, H),
      xLabels,
      xKind: "chars",
      panels,
    };
  });
  if (model.config.bidirectional)
    notes.push("bidirectional model: the heatmaps show the forward direction");
  return { activations, sample, details };
}

function partMetrics(
  part: string,
  rows: [number, number],
  step: number,
  actual: number[],
  pred: (number | null)[],
): PartMetrics | null {
  let n = 0;
  let se = 0;
  let ae = 0;
  let ape = 0;
  let nPct = 0;
  let nse = 0;
  let nae = 0;
  for (let r = rows[0]; r < rows[1]; r++) {
    const p = pred[r];
    if (p === null || p === undefined || r < step) continue;
    const a = actual[r];
    const e = p - a;
    se += e * e;
    ae += Math.abs(e);
    if (a !== 0) {
      ape += Math.abs(e / a);
      nPct++;
    }
    const naive = actual[r - step]; // the last value known at the forecast origin
    nse += (naive - a) ** 2;
    nae += Math.abs(naive - a);
    n++;
  }
  if (n === 0) return null;
  return {
    part,
    rows,
    step,
    count: n,
    rmse: Math.sqrt(se / n),
    mae: ae / n,
    mape: (100 * ape) / Math.max(1, nPct),
    naiveRmse: Math.sqrt(nse / n),
    naiveMae: nae / n,
  };
}

function collectSeries(
  model: LstmModel,
  meta: ModelMeta,
  o: CollectOptions,
  notes: string[],
): { series: SeriesData | null; activations: ActivationData[]; details: [string, string][] } {
  const name = o.modelName ?? "model";
  const sm: SeriesMeta = readSeriesMeta(meta.series, name);
  const details: [string, string][] = [
    ["input columns", sm.columns.join(", ")],
    ["target columns", sm.targetColumns.join(", ")],
    ["time column", sm.timeColumn ?? "–"],
    ["window (T)", `${sm.seqLen} rows`],
    ["horizon (K)", `${sm.horizon} row${sm.horizon > 1 ? "s" : ""} (direct)`],
    ["transform", sm.transform],
    ["targets", sm.relative ? "changes from the last value (--relative)" : "levels"],
  ];
  if (sm.rows !== null) details.push(["training data rows", String(sm.rows)]);
  if (sm.split)
    details.push([
      "split (rows)",
      `train ${sm.split.train[0]}–${sm.split.train[1] - 1}, validation ${sm.split.valid[0]}–${sm.split.valid[1] - 1}, test ${sm.split.test[0]}–${sm.split.test[1] - 1}`,
    ]);
  if (o.data === undefined) {
    notes.push(
      "no data file: pass the CSV the model was trained on (--data) to see its forecasts and activations",
    );
    return { series: null, activations: [], details };
  }
  const dataName = o.dataName ?? "data";
  const missing: MissingPolicy = o.missing ?? meta.series?.missing ?? "error";
  const parsed = parseCsvSeries(o.data, dataName, {
    columns: sm.columns,
    timeColumn: sm.timeColumn ?? undefined,
    missing,
  });
  const C = sm.columns.length;
  const T = sm.seqLen;
  const K = sm.horizon;
  const Ct = sm.targetColumns.length;
  const targetIdx = sm.targetColumns.map((c) => sm.columns.indexOf(c));
  const values = parsed.values;
  const N = values.length / C;
  const split = sm.split && sm.rows === N ? sm.split : null;
  if (sm.split && !split)
    notes.push(
      `${dataName} has ${N} rows but the model was trained on ${sm.rows}; the training split is not marked`,
    );
  const scaled = sm.scaler.transform(applyTransform(sm, Float64Array.from(values), dataName));

  // Predictions from every origin in the validation and test rows (all rows without a split).
  const hasHeldOut = split !== null && split.valid[0] < N;
  const start = Math.max(T, hasHeldOut ? split!.valid[0] : T);
  const actual = (j: number): number[] =>
    Array.from({ length: N }, (_, r) => values[r * C + targetIdx[j]]);
  const pred1: (number | null)[][] = targetIdx.map(() => new Array<number | null>(N).fill(null));
  const predK: (number | null)[][] = targetIdx.map(() => new Array<number | null>(N).fill(null));
  if (start < N) {
    // K − 1 padding rows so the last origins have (unused) target rows.
    const padded = new Float64Array((N + K - 1) * C);
    padded.set(scaled);
    const w = new SeriesWindows(padded, C, {
      seqLen: T,
      horizon: K,
      targetColumns: targetIdx,
      rows: [start, N + K - 1],
      part: "report",
      context: true,
    });
    const out = predictWindows(model, w); // [origins, K·Ct], scaled
    const O = K * Ct;
    for (let i = 0; i < w.count; i++) {
      const origin = w.targetRow(i);
      const row = out.subarray(i * O, (i + 1) * O);
      if (sm.relative)
        for (let k = 0; k < K; k++)
          for (let j = 0; j < Ct; j++) row[k * Ct + j] += scaled[(origin - 1) * C + targetIdx[j]];
      for (let k = 0; k < K; k++)
        sm.scaler.inverse(row.subarray(k * Ct, (k + 1) * Ct), undefined, targetIdx);
      if (sm.transform === "log") for (let q = 0; q < O; q++) row[q] = Math.exp(row[q]);
      for (let j = 0; j < Ct; j++) {
        pred1[j][origin] = row[j];
        const r = origin + K - 1;
        if (K > 1 && r < N) predK[j][r] = row[(K - 1) * Ct + j];
      }
    }
  }
  // The forecast beyond the last row.
  const steps = o.futureSteps ?? K;
  let future: Float64Array = new Float64Array(0);
  if (N >= T) future = forecastSeries(model, sm, values, steps);
  else notes.push(`${dataName} has ${N} rows; a forecast needs the ${T}-row window`);
  const futureTimes = parsed.times
    ? nextTimes(parsed.times, steps)
    : Array.from({ length: steps }, (_, i) => String(N + i));

  const parts: [string, [number, number]][] = split
    ? [
        ["validation", split.valid],
        ["test", split.test],
      ]
    : [["all rows", [0, N]]];
  const targets: SeriesTargetData[] = targetIdx.map((_, j) => {
    const a = actual(j);
    const metrics: PartMetrics[] = [];
    for (const [part, rows] of parts)
      if (rows[1] > rows[0])
        for (const [step, p] of [[1, pred1[j]], ...(K > 1 ? [[K, predK[j]]] : [])] as [
          number,
          (number | null)[],
        ][]) {
          const m = partMetrics(part, rows, step, a, p);
          if (m) metrics.push(m);
        }
    return {
      name: sm.targetColumns[j],
      actual: a,
      predicted: pred1[j],
      predictedK: K > 1 ? predK[j] : null,
      future: Array.from({ length: future.length / Ct }, (_, s) => future[s * Ct + j]),
      metrics,
    };
  });
  const from = start < N ? `rows ${start}–${N - 1}` : "no rows";
  const series: SeriesData = {
    times: parsed.times,
    futureTimes,
    rows: N,
    split,
    horizon: K,
    seqLen: T,
    firstPredictedRow: start,
    targets,
    caption:
      `Data units${sm.transform === "log" ? " (the model works on log values; predictions are exponentiated back)" : ""}. ` +
      `Predictions over ${from} (${hasHeldOut ? "validation and test" : "every row with a full window"}): ` +
      `the 1-step-ahead line takes, for each forecast origin, the first step of the model's ${K}-step forecast from the ${T} rows before it` +
      (K > 1
        ? `; the ${K}-step line shows the last step of the forecast made ${K} rows earlier`
        : "") +
      `. Errors are beside the last-value baseline (the value at the forecast origin). ` +
      (future.length
        ? `The forecast beyond the data covers ${steps} row${steps > 1 ? "s" : ""}${steps > K ? " (recursive beyond the model's horizon: predictions fed back as inputs)" : ""}.`
        : ""),
  };

  // Activations over the last window.
  const activations: ActivationData[] = [];
  if (N >= T) {
    const x = allocFloat(model.dtype, T * C);
    x.set(scaled.subarray((N - T) * C, N * C));
    model.forward(x, { seqLen: T, batch: 1, readout: "last" });
    const xLabels = Array.from({ length: T }, (_, t) =>
      parsed.times ? parsed.times[N - T + t] : String(N - T + t),
    );
    const H = model.config.hiddenSize;
    const maxUnits = o.maxUnits ?? 64;
    const colLabels = sm.columns.map((c) => (c.length > 9 ? c.slice(0, 8) + "…" : c));
    let maxAbs = 0;
    for (let i = 0; i < T * C; i++) maxAbs = Math.max(maxAbs, Math.abs(x[i]));
    const input: HeatmapPanel = {
      key: "x",
      title: "input (standardised)",
      rows: C,
      cols: T,
      values: Array.from({ length: C * T }, (_, q) => x[(q % T) * C + Math.floor(q / T)]),
      rowLabels: colLabels,
      scale: "signed",
      range: [-(maxAbs || 1), maxAbs || 1],
    };
    for (const [k, layer] of layersToShow(model.config.numLayers).entries()) {
      // activations() reads the last forward; every layer comes from the same one.
      const { panels, units } = layerPanels(model, layer, T, maxUnits);
      if (k === 0) panels.unshift(input);
      activations.push({
        layer,
        caption: `The last window of ${dataName}: rows ${N - T}–${N - 1}, the input of the first forecast beyond the data.${unitsCaption(units, H)}`,
        xLabels,
        xKind: "times",
        panels,
      });
    }
  }
  return { series, activations, details };
}

/** Everything `renderReport` needs, from a model and its metadata. */
export function collectReport(
  model: LstmModel,
  meta: ModelMeta,
  o: CollectOptions = {},
): ReportData {
  const notes: string[] = [];
  const c = model.config;
  const data: ReportData = {
    title: o.title ?? `LSTM report: ${o.modelName ?? "model"}`,
    subtitle: `${meta.task} model${o.dataName && o.data !== undefined ? ` · data ${o.dataName}` : ""}`,
    generatedAt: o.generatedAt,
    task: meta.task,
    model: {
      inputSize: c.inputSize,
      hiddenSize: c.hiddenSize,
      numLayers: c.numLayers,
      bidirectional: c.bidirectional,
      outputSize: c.outputSize,
      numParams: model.numParams,
      params: model.paramNames().map((n) => ({ name: n, shape: model.paramShape(n) })),
    },
    training: trainingData(meta.training),
    notes,
  };
  if (meta.task === "text") {
    const t = collectText(model, meta, o, notes);
    data.details = t.details;
    data.activations = t.activations;
    data.sample = t.sample;
  } else if (meta.task === "series") {
    const s = collectSeries(model, meta, o, notes);
    data.details = s.details;
    data.series = s.series;
    data.activations = s.activations;
  } else if (meta.task === "classify") {
    const section = collectClassify(model, meta, o, notes);
    if (section) data.sections = [section];
  } else notes.push("a generic model: no sample input to show activations on");
  return data;
}

/**
 * A classifier's section: metrics on the CSV passed as data (its test part when the model was
 * trained with --test-fraction), the confusion heatmap and per-class scores.
 */
function collectClassify(
  model: LstmModel,
  meta: ModelMeta,
  o: CollectOptions,
  notes: string[],
): string | null {
  if (o.data === undefined || !meta.classifier) {
    notes.push("pass the classification CSV to see the confusion matrix and per-class scores");
    return null;
  }
  const name = o.dataName ?? "the data";
  const clf = readClassifierMeta(meta.classifier, o.modelName ?? "model");
  const m = clf.meta;
  const opts = { textColumn: m.textColumn, labelColumn: m.labelColumn, kind: m.kind };
  const table = parseClassifyCsv(o.data, name, opts);
  const N = table.texts.length;
  const fraction = Number(meta.training?.options?.testFraction ?? 0);
  const nTest = fraction > 0 ? Math.round(N * fraction) : N;
  const first = N - nTest;
  const rows: number[] = [];
  for (let r = first; r < N; r++) if (m.classes.includes(table.labels[r])) rows.push(r);
  if (rows.length === 0) {
    notes.push(`${name}: no rows with the model's classes to evaluate`);
    return null;
  }
  const set = encodeInputs(
    clf,
    rows.map((r) => table.texts[r]),
    { unknown: "skip", sourceOf: (i) => `${name} line ${table.lines[rows[i]]}` },
  );
  const logits = classifyLogits(model, set);
  const reference: number[] = [];
  for (let r = 0; r < first; r++) {
    const c = m.classes.indexOf(table.labels[r]);
    if (c >= 0) reference.push(c);
  }
  const truth = rows.map((r) => m.classes.indexOf(table.labels[r]));
  const metrics = classificationMetrics({
    truth,
    predicted: argmaxRows(logits, m.classes.length),
    labels: m.classes,
    reference: reference.length > 0 ? reference : truth,
  });
  const caption =
    first > 0
      ? `Test split: the last ${nTest.toLocaleString("en-US")} rows of ${name} (the majority class is that of the rows before them).`
      : `All ${N.toLocaleString("en-US")} rows of ${name}.`;
  return classificationSection({ caption, metrics });
}
