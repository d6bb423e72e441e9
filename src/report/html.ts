/**
 * A training report as one self-contained HTML file: inline CSS and inline SVG charts drawn
 * here, no fonts, scripts or images from anywhere else. The charts render without JavaScript;
 * a few lines of inline script only add hover read-outs to the heatmaps. Browser-safe (pure).
 *
 * Every piece of text from the data (titles, vocabulary characters, time stamps, column names)
 * goes through `esc`, so a vocabulary holding `<`, `&` or quotes cannot break the page.
 */

/** One evaluation of the training run: `meta.training.history` entries. */
export interface LossPoint {
  step: number;
  trainLoss: number;
  validLoss: number | null;
}

export interface TrainingData {
  steps?: number;
  epochs?: number;
  seconds?: number;
  stopReason?: string;
  finalTrainLoss?: number | null;
  bestValidLoss?: number | null;
  bestStep?: number | null;
  restoredBest?: boolean;
  nonFiniteSteps?: number;
  /** Unit of the loss, e.g. "nats/char" or "MSE (scaled)". */
  lossName?: string;
  /** Data file the model was trained on. */
  data?: string;
  history: LossPoint[];
  /** A dashed reference line on the loss chart, e.g. the unigram entropy. */
  baseline?: { label: string; value: number } | null;
  /** Training flags worth showing (optimizer, lr, batch, …). */
  options?: Record<string, string | number | boolean>;
}

/** Forecast errors over one part of the series, for one horizon step, beside last-value naive. */
export interface PartMetrics {
  part: string;
  rows: [number, number];
  /** Horizon step of the predictions measured (1 = one step ahead). */
  step: number;
  count: number;
  rmse: number;
  mae: number;
  mape: number;
  naiveRmse: number;
  naiveMae: number;
}

export interface SeriesTargetData {
  name: string;
  /** [N] actual values, data units. */
  actual: number[];
  /** [N] the 1-step-ahead prediction of each row (from the origin just before it); null where none. */
  predicted: (number | null)[];
  /** [N] the K-step-ahead prediction of each row (made K rows earlier); only when K > 1. */
  predictedK?: (number | null)[] | null;
  /** Forecast beyond the last row, data units. */
  future: number[];
  metrics: PartMetrics[];
}

export interface SeriesData {
  /** [N] time stamps of the rows, or null (rows are numbered). */
  times: string[] | null;
  /** Labels of the future rows. */
  futureTimes: string[];
  rows: number;
  /** Row ranges [start, end) of the training split, when the data is the training data. */
  split: { train: [number, number]; valid: [number, number]; test: [number, number] } | null;
  horizon: number;
  seqLen: number;
  /** First row with a prediction. */
  firstPredictedRow: number;
  targets: SeriesTargetData[];
  /** How the predictions were made, shown under the chart. */
  caption: string;
}

export interface HeatmapPanel {
  /** Short key: "i", "f", "g", "o", "c", "h", "p", "x"; a GRU's "r", "z", "n". */
  key: string;
  title: string;
  rows: number;
  cols: number;
  /** [rows, cols] row-major: values[r · cols + t]. */
  values: number[];
  rowLabels: string[];
  /** "unit": sequential colours over `range`; "signed": diverging, white at 0. */
  scale: "unit" | "signed";
  range: [number, number];
}

export interface ActivationData {
  layer: number;
  caption: string;
  /** One label per time step (characters for text, time stamps for series). */
  xLabels: string[];
  xKind: "chars" | "times";
  panels: HeatmapPanel[];
}

export interface ReportData {
  title: string;
  subtitle?: string;
  generatedAt?: string;
  task: string;
  model: {
    inputSize: number;
    hiddenSize: number;
    numLayers: number;
    bidirectional: boolean;
    outputSize: number;
    numParams: number;
    params?: { name: string; shape: readonly number[] }[];
  };
  /** Extra key/value rows for the model summary (vocabulary, columns, horizon, …). */
  details?: [string, string][];
  training: TrainingData | null;
  series?: SeriesData | null;
  activations?: ActivationData[];
  /** A generated text sample (text models). */
  sample?: { caption: string; text: string } | null;
  /** Things the reader should know (missing data, mismatched rows, …). */
  notes?: string[];
  /**
   * Task sections rendered by their own modules (e.g. `classificationSection` of
   * classify-html.ts), placed after the training section.
   */
  sections?: string[];
}

// ---------------------------------------------------------------------------------------------
// Text and numbers

/** Escapes text for HTML element content and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) =>
    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;",
  );
}

/** A number for people: 4 significant digits, exponent form for very large or small values. */
export function fmtNum(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-3) return x.toExponential(Math.max(0, digits - 2));
  return String(Number(x.toPrecision(digits)));
}

/** Coordinates: at most 2 decimals, no trailing zeros. */
export function n2(x: number): string {
  return String(Math.round(x * 100) / 100);
}

function fmtSeconds(s: number): string {
  if (s < 60) return `${fmtNum(s, 3)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - 60 * m)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** JSON for an inline <script type="application/json">: `<` escaped so it cannot end the tag. */
function inlineJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

// ---------------------------------------------------------------------------------------------
// Scales and ticks

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

/** Round-numbered ticks inside [lo, hi]. */
export function linearTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const step = niceStep(hi - lo, count);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return out;
}

/** Ticks for a log axis over [lo, hi] (lo > 0): decades, with 2 and 5 between when few. */
export function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo));
  const b = Math.ceil(Math.log10(hi));
  const mults = b - a <= 2 ? [1, 2, 5] : b - a <= 4 ? [1, 3] : [1];
  const out: number[] = [];
  const every = Math.max(1, Math.ceil((b - a) / 8));
  for (let e = a; e <= b; e += every)
    for (const m of mults) {
      const v = Number((m * Math.pow(10, e)).toPrecision(6));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  return out;
}

interface Scale {
  (v: number): number;
  ticks: number[];
}

function linearScale(domain: [number, number], range: [number, number], tickCount: number): Scale {
  let [d0, d1] = domain;
  if (!(d1 > d0)) {
    const pad = Math.abs(d0) > 0 ? Math.abs(d0) * 0.1 : 1;
    d0 -= pad;
    d1 += pad;
  }
  const [r0, r1] = range;
  const f = ((v: number) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0)) as Scale;
  f.ticks = linearTicks(d0, d1, tickCount);
  return f;
}

function logScale(domain: [number, number], range: [number, number]): Scale {
  const l0 = Math.log10(domain[0]);
  let l1 = Math.log10(domain[1]);
  if (!(l1 > l0)) l1 = l0 + 1;
  const [r0, r1] = range;
  const f = ((v: number) => r0 + ((Math.log10(v) - l0) / (l1 - l0)) * (r1 - r0)) as Scale;
  f.ticks = logTicks(Math.pow(10, l0), Math.pow(10, l1));
  return f;
}

/** Pads [lo, hi] by a fraction of its span (linear) or of its log span. */
function padded(lo: number, hi: number, log: boolean, frac = 0.05): [number, number] {
  if (log) {
    const a = Math.log10(lo);
    const b = Math.log10(hi);
    const p = Math.max(b - a, 0.1) * frac;
    return [Math.pow(10, a - p), Math.pow(10, b + p)];
  }
  const p = Math.max(hi - lo, Math.abs(hi) * 1e-3, 1e-12) * frac;
  return [lo - p, hi + p];
}

// ---------------------------------------------------------------------------------------------
// Colours

const VIRIDIS = [
  "#440154",
  "#482878",
  "#3e4989",
  "#31688e",
  "#26828e",
  "#1f9e89",
  "#35b779",
  "#6ece58",
  "#b5de2b",
  "#fde725",
];
const DIVERGING = [
  "#2166ac",
  "#4393c3",
  "#92c5de",
  "#d1e5f0",
  "#f7f7f7",
  "#fddbc7",
  "#f4a582",
  "#d6604d",
  "#b2182b",
];

function hexToRgb(h: string): [number, number, number] {
  const n = parseInt(h.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Colour at u ∈ [0, 1] along the stops. */
function ramp(stops: string[], u: number): string {
  const x = Math.min(1, Math.max(0, u)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const t = x - i;
  const a = hexToRgb(stops[i]);
  const b = hexToRgb(stops[i + 1]);
  const c = a.map((v, k) => Math.round(v + (b[k] - v) * t));
  return "#" + c.map((v) => v.toString(16).padStart(2, "0")).join("");
}

const LEVELS = 48;

/** The quantised colour level (0 … LEVELS−1) of a value on a panel's scale; −1 for none (NaN). */
function level(v: number, p: HeatmapPanel): number {
  if (!Number.isFinite(v)) return -1;
  const [lo, hi] = p.range;
  const u = hi > lo ? (v - lo) / (hi - lo) : 0.5;
  return Math.min(LEVELS - 1, Math.max(0, Math.floor(u * LEVELS)));
}

/** Sequential (viridis) colour of u ∈ [0, 1]: dark purple at 0, yellow at 1. */
export function sequentialColour(u: number): string {
  return ramp(VIRIDIS, u);
}

function levelColour(k: number, scale: HeatmapPanel["scale"]): string {
  return ramp(scale === "unit" ? VIRIDIS : DIVERGING, (k + 0.5) / LEVELS);
}

// ---------------------------------------------------------------------------------------------
// Line charts

const COLOURS = {
  train: "#1f6fb4",
  valid: "#e4572e",
  actual: "#222222",
  pred1: "#1f6fb4",
  predK: "#9b59b6",
  future: "#e4572e",
  grid: "#e6e6e6",
  axis: "#888888",
  text: "#444444",
};

interface XY {
  x: number;
  y: number;
}

/** An SVG path through the points; breaks at non-finite y. */
function linePath(points: XY[]): string {
  let d = "";
  let pen = false;
  for (const p of points) {
    if (!Number.isFinite(p.y) || !Number.isFinite(p.x)) {
      pen = false;
      continue;
    }
    d += `${pen ? "L" : "M"}${n2(p.x)} ${n2(p.y)}`;
    pen = true;
  }
  return d;
}

/**
 * Fewer points for long series: per pixel column, the first, min, max and last point (in
 * order), which keeps the envelope of the line.
 */
function decimate(points: XY[], pixels: number): XY[] {
  if (points.length <= pixels * 2) return points;
  const out: XY[] = [];
  let bucket: XY[] = [];
  let col = Math.floor(points[0].x);
  const flush = (): void => {
    if (bucket.length === 0) return;
    const fin = bucket.filter((p) => Number.isFinite(p.y));
    if (fin.length === 0) {
      out.push(bucket[0]);
    } else {
      let lo = fin[0];
      let hi = fin[0];
      for (const p of fin) {
        if (p.y < lo.y) lo = p;
        if (p.y > hi.y) hi = p;
      }
      const keep = [fin[0], lo, hi, fin[fin.length - 1]];
      const seen = new Set<XY>();
      for (const p of keep.sort((a, b) => a.x - b.x))
        if (!seen.has(p)) {
          seen.add(p);
          out.push(p);
        }
      if (fin.length < bucket.length) out.push({ x: bucket[bucket.length - 1].x, y: NaN });
    }
    bucket = [];
  };
  for (const p of points) {
    const c = Math.floor(p.x);
    if (c !== col) {
      flush();
      col = c;
    }
    bucket.push(p);
  }
  flush();
  return out;
}

interface Frame {
  w: number;
  h: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function svgOpen(f: Frame, label: string, cls = "chart"): string {
  return `<svg class="${cls}" viewBox="0 0 ${f.w} ${f.h}" role="img" aria-label="${esc(label)}" preserveAspectRatio="xMidYMid meet">`;
}

function yAxis(f: Frame, y: Scale, fmt: (v: number) => string, title: string): string {
  let s = "";
  for (const t of y.ticks) {
    const py = y(t);
    if (py < f.top - 0.5 || py > f.h - f.bottom + 0.5) continue;
    s += `<line x1="${f.left}" x2="${f.w - f.right}" y1="${n2(py)}" y2="${n2(py)}" stroke="${COLOURS.grid}"/>`;
    s += `<text x="${f.left - 6}" y="${n2(py + 3.5)}" text-anchor="end" class="tick">${esc(fmt(t))}</text>`;
  }
  const my = (f.top + f.h - f.bottom) / 2;
  s += `<text transform="translate(14 ${n2(my)}) rotate(-90)" text-anchor="middle" class="axis-title">${esc(title)}</text>`;
  s += `<line x1="${f.left}" x2="${f.left}" y1="${f.top}" y2="${f.h - f.bottom}" stroke="${COLOURS.axis}"/>`;
  s += `<line x1="${f.left}" x2="${f.w - f.right}" y1="${f.h - f.bottom}" y2="${f.h - f.bottom}" stroke="${COLOURS.axis}"/>`;
  return s;
}

function xTick(f: Frame, px: number, label: string): string {
  const y0 = f.h - f.bottom;
  return (
    `<line x1="${n2(px)}" x2="${n2(px)}" y1="${y0}" y2="${y0 + 4}" stroke="${COLOURS.axis}"/>` +
    `<text x="${n2(px)}" y="${y0 + 16}" text-anchor="middle" class="tick">${esc(label)}</text>`
  );
}

function finite(xs: Iterable<number | null | undefined>): number[] {
  const out: number[] = [];
  for (const v of xs) if (typeof v === "number" && Number.isFinite(v)) out.push(v);
  return out;
}

function minMax(xs: number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of xs) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** The training and validation loss against the step, linear or log y. */
function lossChartSvg(t: TrainingData, log: boolean): string {
  const f: Frame = { w: 860, h: 320, left: 70, right: 20, top: 14, bottom: 42 };
  const hist = t.history.filter((p) => Number.isFinite(p.step));
  const ok = (v: number | null | undefined): v is number =>
    typeof v === "number" && Number.isFinite(v) && (!log || v > 0);
  const values = [
    ...hist.map((p) => p.trainLoss).filter(ok),
    ...hist.map((p) => p.validLoss).filter(ok),
  ];
  if (t.baseline && ok(t.baseline.value)) values.push(t.baseline.value);
  if (values.length === 0) return "";
  const [lo, hi] = minMax(values);
  const [s0, s1] = minMax(hist.map((p) => p.step));
  const x = linearScale(
    s0 === s1 ? [Math.max(0, s0 - 1), s1 + 1] : [s0, s1],
    [f.left + 6, f.w - f.right - 6],
    8,
  );
  const ydom = padded(lo, hi, log);
  const y = log
    ? logScale(ydom, [f.h - f.bottom, f.top])
    : linearScale(ydom, [f.h - f.bottom, f.top], 6);
  const lossName = t.lossName ?? "loss";
  let s = svgOpen(f, `${log ? "log-scale " : ""}loss curves`);
  s += yAxis(f, y, (v) => fmtNum(v, 3), `${lossName}${log ? " (log)" : ""}`);
  for (const tk of x.ticks.filter((v) => Number.isInteger(v))) s += xTick(f, x(tk), String(tk));
  s += `<text x="${(f.left + f.w - f.right) / 2}" y="${f.h - 6}" text-anchor="middle" class="axis-title">training step</text>`;
  if (t.baseline && ok(t.baseline.value)) {
    const py = y(t.baseline.value);
    s += `<line x1="${f.left}" x2="${f.w - f.right}" y1="${n2(py)}" y2="${n2(py)}" stroke="#999" stroke-dasharray="6 4"/>`;
    s += `<text x="${f.w - f.right - 4}" y="${n2(py - 5)}" text-anchor="end" class="note-text">${esc(`${t.baseline.label} ${fmtNum(t.baseline.value)}`)}</text>`;
  }
  const series: { key: "train" | "valid"; name: string; get: (p: LossPoint) => number | null }[] = [
    { key: "train", name: "train", get: (p) => p.trainLoss },
    { key: "valid", name: "validation", get: (p) => p.validLoss },
  ];
  for (const sr of series) {
    const pts = hist.map((p) => {
      const v = sr.get(p);
      return { x: x(p.step), y: ok(v) ? y(v) : NaN };
    });
    if (!pts.some((p) => Number.isFinite(p.y))) continue;
    s += `<path d="${linePath(decimate(pts, f.w))}" fill="none" stroke="${COLOURS[sr.key]}" stroke-width="2" stroke-linejoin="round"/>`;
    if (hist.length <= 120)
      hist.forEach((p, i) => {
        const v = sr.get(p);
        if (!ok(v)) return;
        s += `<circle cx="${n2(pts[i].x)}" cy="${n2(pts[i].y)}" r="2.6" fill="${COLOURS[sr.key]}"><title>${esc(`step ${p.step}: ${sr.name} ${fmtNum(v, 5)}`)}</title></circle>`;
      });
  }
  if (t.bestStep !== undefined && t.bestStep !== null && ok(t.bestValidLoss)) {
    const px = x(t.bestStep);
    const py = y(t.bestValidLoss);
    s += `<circle cx="${n2(px)}" cy="${n2(py)}" r="6" fill="none" stroke="${COLOURS.valid}" stroke-width="1.5"><title>${esc(`best validation ${fmtNum(t.bestValidLoss, 5)} at step ${t.bestStep}`)}</title></circle>`;
    s += `<text x="${n2(px - 8)}" y="${n2(Math.max(py - 9, f.top + 10))}" text-anchor="end" class="note-text halo">best</text>`;
  }
  return s + "</svg>";
}

function legend(
  items: { colour: string; label: string; dash?: boolean; band?: boolean }[],
): string {
  return `<div class="legend">${items
    .map(
      (it) =>
        `<span class="key"><svg width="26" height="12" aria-hidden="true">${
          it.band
            ? `<rect x="1" y="1" width="24" height="10" fill="${it.colour}" stroke="#bbb"/>`
            : `<line x1="1" x2="25" y1="6" y2="6" stroke="${it.colour}" stroke-width="2.5"${it.dash ? ' stroke-dasharray="5 3"' : ""}/>`
        }</svg>${esc(it.label)}</span>`,
    )
    .join("")}</div>`;
}

/** Row indices to label on a time axis: January rows for monthly stamps, round numbers else. */
function timeTicks(n: number, labelAt: (i: number) => string, maxTicks: number): number[] {
  if (n <= 1) return [0];
  // Monthly stamps: 1949-01 or 1958-03-01 (first of the month).
  const month = /^\d{4}-\d{2}(-01)?$/;
  const monthly = month.test(labelAt(0)) && month.test(labelAt(n - 1));
  if (monthly) {
    const years = n / 12;
    const every = [1, 2, 5, 10, 20, 50, 100].find((k) => years / k <= maxTicks) ?? 200;
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const m = /^(\d{4})-01(-01)?$/.exec(labelAt(i));
      if (m && Number(m[1]) % every === 0) out.push(i);
    }
    if (out.length >= 2) return out;
  }
  const step = Math.max(1, Math.round(niceStep(n - 1, maxTicks)));
  const out: number[] = [];
  for (let i = 0; i < n; i += step) out.push(i);
  return out;
}

/** One target column: actual values, predictions on validation + test, forecast beyond. */
function seriesChartSvg(sd: SeriesData, tg: SeriesTargetData): string {
  const f: Frame = { w: 860, h: 360, left: 70, right: 20, top: 24, bottom: 42 };
  const N = tg.actual.length;
  const F = tg.future.length;
  const total = N + F;
  const values = finite([...tg.actual, ...tg.predicted, ...(tg.predictedK ?? []), ...tg.future]);
  if (values.length === 0) return "";
  const [lo, hi] = minMax(values);
  const x = linearScale([0, Math.max(1, total - 1)], [f.left + 4, f.w - f.right - 4], 8);
  const y = linearScale(padded(lo, hi, false, 0.06), [f.h - f.bottom, f.top], 6);
  const labelAt = (i: number): string =>
    i < N ? (sd.times ? sd.times[i] : String(i)) : (sd.futureTimes[i - N] ?? `+${i - N + 1}`);
  let s = svgOpen(f, `forecast of ${tg.name}`);
  const half = (x(1) - x(0)) / 2;
  // Split regions, drawn under everything.
  const band = (from: number, to: number, fill: string, label: string): string => {
    if (to <= from) return "";
    const a = Math.max(f.left, x(from) - half);
    const b = Math.min(f.w - f.right, x(to - 1) + half);
    return (
      `<rect x="${n2(a)}" y="${f.top}" width="${n2(Math.max(0, b - a))}" height="${f.h - f.bottom - f.top}" fill="${fill}"/>` +
      `<text x="${n2((a + b) / 2)}" y="${f.top - 8}" text-anchor="middle" class="region">${esc(label)}</text>`
    );
  };
  if (sd.split) {
    s += band(sd.split.train[0], sd.split.train[1], "#ffffff", "train");
    s += band(sd.split.valid[0], sd.split.valid[1], "#fff4d6", "validation");
    s += band(sd.split.test[0], sd.split.test[1], "#fde3e1", "test");
  }
  s += band(N, total, "#eaf2fb", "forecast");
  s += yAxis(f, y, (v) => fmtNum(v, 4), tg.name);
  for (const i of timeTicks(total, labelAt, 10)) {
    const l = labelAt(i);
    s += xTick(f, x(i), /^\d{4}-01(-01)?$/.test(l) ? l.slice(0, 4) : l);
  }
  // Boundaries.
  const vline = (i: number, label: string): string => {
    const px = x(i) - half;
    return `<line x1="${n2(px)}" x2="${n2(px)}" y1="${f.top}" y2="${f.h - f.bottom}" stroke="#777" stroke-dasharray="4 3"><title>${esc(label)}</title></line>`;
  };
  if (sd.split) {
    if (sd.split.valid[1] > sd.split.valid[0]) s += vline(sd.split.valid[0], "validation starts");
    if (sd.split.test[1] > sd.split.test[0]) s += vline(sd.split.test[0], "test starts");
  }
  if (F > 0) s += vline(N, "end of the data");
  const path = (ys: (number | null)[], offset: number): string =>
    linePath(
      decimate(
        ys.map((v, i) => ({
          x: x(i + offset),
          y: typeof v === "number" && Number.isFinite(v) ? y(v) : NaN,
        })),
        f.w,
      ),
    );
  s += `<path d="${path(tg.actual, 0)}" fill="none" stroke="${COLOURS.actual}" stroke-width="1.6" stroke-linejoin="round"/>`;
  if (tg.predictedK)
    s += `<path d="${path(tg.predictedK, 0)}" fill="none" stroke="${COLOURS.predK}" stroke-width="1.6" stroke-dasharray="5 3"/>`;
  s += `<path d="${path(tg.predicted, 0)}" fill="none" stroke="${COLOURS.pred1}" stroke-width="1.8" stroke-linejoin="round"/>`;
  if (F > 0) {
    const last = tg.actual[N - 1];
    const joined = Number.isFinite(last) ? [last, ...tg.future] : tg.future;
    s += `<path d="${path(joined, Number.isFinite(last) ? N - 1 : N)}" fill="none" stroke="${COLOURS.future}" stroke-width="2" stroke-linejoin="round"/>`;
    if (F <= 200)
      tg.future.forEach((v, k) => {
        s += `<circle cx="${n2(x(N + k))}" cy="${n2(y(v))}" r="2.8" fill="${COLOURS.future}"/>`;
      });
  }
  // Hover read-outs (native tooltips; no script needed).
  if (total <= 1500) {
    const w = Math.max(0.5, 2 * half);
    for (let i = 0; i < total; i++) {
      const parts = [labelAt(i)];
      if (i < N) {
        parts.push(`actual ${fmtNum(tg.actual[i], 6)}`);
        const p = tg.predicted[i];
        if (p !== null && p !== undefined) parts.push(`1-step ${fmtNum(p, 6)}`);
        const q = tg.predictedK?.[i];
        if (q !== null && q !== undefined) parts.push(`${sd.horizon}-step ${fmtNum(q, 6)}`);
      } else parts.push(`forecast ${fmtNum(tg.future[i - N], 6)}`);
      s += `<rect x="${n2(x(i) - half)}" y="${f.top}" width="${n2(w)}" height="${f.h - f.bottom - f.top}" fill="transparent" class="hover"><title>${esc(parts.join("\n"))}</title></rect>`;
    }
  }
  return s + "</svg>";
}

// ---------------------------------------------------------------------------------------------
// Heatmaps

interface HeatmapGeometry {
  x0: number;
  y0: number;
  cw: number;
  ch: number;
}

/** One panel: time on x, units on y, one path per colour level; a colour bar on the right. */
function heatmapSvg(
  a: ActivationData,
  p: HeatmapPanel,
  id: string,
  left: number,
): { svg: string; geom: HeatmapGeometry } {
  const W = 900;
  const barW = 12;
  const right = 74;
  const top = 6;
  const T = p.cols;
  const R = p.rows;
  const plotW = W - left - right;
  const cw = plotW / T;
  const ch = R <= 2 ? 22 : Math.max(2, Math.min(14, 220 / R));
  const plotH = ch * R;
  const chars = a.xKind === "chars";
  const bottom = 22;
  const bh = R <= 2 ? plotH : Math.max(plotH, 60);
  const H = Math.max(top + plotH, top + bh) + bottom;
  let s = `<svg class="heatmap" data-hm="${id}" data-x0="${n2(left)}" data-y0="${top}" data-cw="${cw.toPrecision(6)}" data-ch="${ch.toPrecision(6)}" viewBox="0 0 ${W} ${n2(H)}" role="img" aria-label="${esc(p.title)}" shape-rendering="crispEdges">`;
  // Cells on a unit grid (one cell = 1×1, scaled), runs of one colour level merged, one path
  // per level: the file stays small.
  const paths: string[][] = Array.from({ length: LEVELS }, () => []);
  for (let r = 0; r < R; r++)
    for (let t = 0; t < T;) {
      const k = level(p.values[r * T + t], p);
      let run = 1;
      while (t + run < T && level(p.values[r * T + t + run], p) === k) run++;
      if (k >= 0) paths[k].push(`M${t} ${r}h${run}v1h-${run}z`);
      t += run;
    }
  s += `<rect x="${n2(left)}" y="${top}" width="${n2(plotW)}" height="${n2(plotH)}" fill="#eeeeee"/>`;
  s += `<g transform="translate(${n2(left)} ${top}) scale(${cw.toPrecision(6)} ${ch.toPrecision(6)})">`;
  paths.forEach((d, k) => {
    if (d.length) s += `<path fill="${levelColour(k, p.scale)}" d="${d.join("")}"/>`;
  });
  s += `</g>`;
  s += `<rect x="${left}" y="${top}" width="${n2(plotW)}" height="${n2(plotH)}" fill="none" stroke="#999" shape-rendering="auto"/>`;
  // Row labels.
  const fontY = Math.min(10, Math.max(7, ch * 0.9));
  const every = Math.max(1, Math.ceil(fontY / ch));
  for (let r = 0; r < R; r += every)
    s += `<text x="${left - 4}" y="${n2(top + (r + 0.5) * ch + fontY * 0.35)}" text-anchor="end" class="tick" style="font-size:${n2(fontY)}px">${esc(p.rowLabels[r] ?? String(r))}</text>`;
  s += `<text transform="translate(12 ${n2(top + plotH / 2)}) rotate(-90)" text-anchor="middle" class="axis-title">${R <= 2 ? "" : p.key === "x" ? "column" : "unit"}</text>`;
  // Time labels.
  const yl = top + plotH + 13;
  if (chars) {
    const fs = Math.min(12, Math.max(6, cw * 1.05));
    for (let t = 0; t < T; t++)
      s += `<text x="${n2(left + (t + 0.5) * cw)}" y="${n2(yl)}" text-anchor="middle" class="char" style="font-size:${n2(fs)}px">${esc(a.xLabels[t] ?? "")}</text>`;
  } else {
    const longest = Math.max(1, ...a.xLabels.map((l) => l.length));
    const every = Math.max(1, Math.ceil((longest * 6 + 8) / cw));
    for (let t = T - 1; t >= 0; t -= every)
      s += `<text x="${n2(left + (t + 0.5) * cw)}" y="${n2(yl)}" text-anchor="middle" class="tick">${esc(a.xLabels[t] ?? "")}</text>`;
  }
  // Colour bar.
  const bx = W - right + 10;
  const steps = R <= 2 ? 8 : 24;
  for (let k = 0; k < steps; k++) {
    const u = 1 - (k + 0.5) / steps;
    s += `<rect x="${bx}" y="${n2(top + (k * bh) / steps)}" width="${barW}" height="${n2(bh / steps + 0.5)}" fill="${ramp(p.scale === "unit" ? VIRIDIS : DIVERGING, u)}"/>`;
  }
  s += `<rect x="${bx}" y="${top}" width="${barW}" height="${n2(bh)}" fill="none" stroke="#999"/>`;
  const [lo, hi] = p.range;
  const marks: [number, number][] =
    R <= 2
      ? [
          [hi, top + 8],
          [lo, top + bh],
        ]
      : [
          [hi, top + 4],
          [(lo + hi) / 2, top + bh / 2 + 3],
          [lo, top + bh],
        ];
  for (const [v, py] of marks)
    s += `<text x="${bx + barW + 4}" y="${n2(py)}" class="tick">${esc(fmtNum(v, 3))}</text>`;
  return { svg: s + "</svg>", geom: { x0: left, y0: top, cw, ch } };
}

// ---------------------------------------------------------------------------------------------
// The page

const CSS = `
:root{--fg:#1d1d1f;--muted:#5f6368;--line:#e3e3e3;--bg:#ffffff;--panel:#fafafa;--accent:#1f6fb4}
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:980px;margin:0 auto;padding:28px 20px 60px}
header h1{font-size:24px;margin:0 0 4px;font-weight:650;word-break:break-word}
header p{margin:0;color:var(--muted)}
section{background:var(--bg);border:1px solid var(--line);border-radius:10px;padding:18px 22px;margin-top:18px}
h2{font-size:17px;margin:0 0 10px;font-weight:620}
h3{font-size:14px;margin:16px 0 6px;font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:10px;margin:6px 0 14px}
.card{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:8px 12px}
.card .k{font-size:12px;color:var(--muted)}
.card .v{font-size:18px;font-weight:600;font-variant-numeric:tabular-nums;word-break:break-word}
table.kv{border-collapse:collapse;width:100%;font-size:13px}
table.kv td{border-top:1px solid var(--line);padding:4px 8px;vertical-align:top}
table.kv td:first-child{color:var(--muted);width:32%;white-space:nowrap}
table.metrics{border-collapse:collapse;font-size:13px;margin-top:8px;font-variant-numeric:tabular-nums}
table.metrics th,table.metrics td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:right}
table.metrics th:first-child,table.metrics td:first-child{text-align:left}
table.metrics tr.total td{font-weight:600}
dl.kvgrid{display:grid;grid-template-columns:1fr 1fr;column-gap:24px;margin:0;font-size:13px}
@media (max-width:760px){dl.kvgrid{grid-template-columns:1fr}}
dl.kvgrid div{display:flex;gap:12px;border-top:1px solid var(--line);padding:4px 2px}
dl.kvgrid dt{color:var(--muted);min-width:42%;margin:0}
dl.kvgrid dd{margin:0;word-break:break-word}
.opts{display:flex;flex-wrap:wrap;gap:6px;font-size:12.5px}
.opts span{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:2px 8px}
.opts b{font-weight:600;color:var(--muted);margin-right:4px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
.twocol{display:grid;grid-template-columns:1fr 1fr;gap:18px}
@media (max-width:760px){.twocol{grid-template-columns:1fr}}
svg.chart,svg.heatmap{width:100%;height:auto;display:block}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#444}
svg .tick{font-size:10.5px}
svg .axis-title{font-size:11.5px;fill:#333}
svg .note-text{font-size:11px;fill:#666}
svg .halo{paint-order:stroke;stroke:#fff;stroke-width:3px}
svg .region{font-size:11px;fill:#666;font-weight:600}
svg .char{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;fill:#222}
svg .hover:hover{fill:rgba(0,0,0,0.06)}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:12.5px;color:var(--muted);margin:4px 0 6px}
.legend .key{display:inline-flex;align-items:center;gap:6px}
.caption{font-size:12.5px;color:var(--muted);margin:6px 0 0}
.notes{background:#fff8e1;border-color:#f3d98b}
.notes ul{margin:0;padding-left:20px}
.toggle{font-size:12.5px;color:var(--muted);user-select:none}
.log-toggle:checked~.lin{display:none}
.log-toggle:not(:checked)~.log{display:none}
.panel{margin-top:10px}
.panel h4{font-size:13px;margin:8px 0 2px;font-weight:600}
.panel h4 span{font-weight:400;color:var(--muted)}
pre.sample{white-space:pre-wrap;word-break:break-word;background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 12px;margin:6px 0 0}
details summary{cursor:pointer;color:var(--muted);font-size:13px;margin-top:8px}
#tip{position:absolute;display:none;pointer-events:none;background:rgba(20,20,20,.88);color:#fff;font-size:12px;padding:4px 8px;border-radius:4px;white-space:pre}
footer{color:var(--muted);font-size:12px;margin-top:18px;text-align:center}
`;

/** Hover read-outs for the heatmaps; everything renders without it. */
const SCRIPT = `(function(){var el=document.getElementById("hm-data");if(!el)return;var D=JSON.parse(el.textContent);var tip=document.getElementById("tip");
document.querySelectorAll("svg[data-hm]").forEach(function(svg){var P=D.panels[svg.getAttribute("data-hm")];if(!P)return;var S=D.sets[P.s];
var x0=+svg.getAttribute("data-x0"),y0=+svg.getAttribute("data-y0"),cw=+svg.getAttribute("data-cw"),ch=+svg.getAttribute("data-ch");
svg.addEventListener("mousemove",function(e){var m=svg.getScreenCTM();if(!m)return;var pt=svg.createSVGPoint();pt.x=e.clientX;pt.y=e.clientY;var q=pt.matrixTransform(m.inverse());
var t=Math.floor((q.x-x0)/cw),r=Math.floor((q.y-y0)/ch);if(t<0||r<0||t>=S.x.length||r>=P.r.length){tip.style.display="none";return;}
var v=P.v[r*S.x.length+t];tip.textContent=P.n+" \\u00b7 "+P.r[r]+"\\nt="+t+"  "+S.x[t]+"\\nvalue "+(v===null?"\\u2013":v);tip.style.display="block";tip.style.left=(e.pageX+14)+"px";tip.style.top=(e.pageY+14)+"px";});
svg.addEventListener("mouseleave",function(){tip.style.display="none";});});})();`;

function kvTable(rows: [string, string][]): string {
  return `<table class="kv">${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("")}</table>`;
}

function kvGrid(rows: [string, string][]): string {
  return `<dl class="kvgrid">${rows.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join("")}</dl>`;
}

export function card(k: string, v: string): string {
  return `<div class="card"><div class="k">${esc(k)}</div><div class="v">${esc(v)}</div></div>`;
}

function modelSection(d: ReportData): string {
  const m = d.model;
  const rows: [string, string][] = [
    ["task", d.task],
    ["input size (I)", String(m.inputSize)],
    ["hidden units (H)", String(m.hiddenSize)],
    ["layers (L)", String(m.numLayers)],
    ["directions", m.bidirectional ? "2 (bidirectional)" : "1"],
    ["head outputs (O)", String(m.outputSize)],
    ["parameters", m.numParams.toLocaleString("en-US")],
    ...(d.details ?? []),
  ];
  let s = `<section id="model"><h2>Model</h2><div class="cards">`;
  s += card("parameters", m.numParams.toLocaleString("en-US"));
  s += card("architecture", `${m.numLayers}×LSTM(${m.hiddenSize})${m.bidirectional ? " bi" : ""}`);
  s += card("input → output", `${m.inputSize} → ${m.outputSize}`);
  s += `</div>${kvGrid(rows)}`;
  if (m.params && m.params.length)
    s += `<details><summary>parameter tensors (${m.params.length})</summary>${kvTable(m.params.map((p) => [p.name, `[${p.shape.join(", ")}]`]))}</details>`;
  return s + "</section>";
}

function trainingSection(t: TrainingData): string {
  let s = `<section id="training"><h2>Training</h2><div class="cards">`;
  if (t.steps !== undefined) s += card("steps", t.steps.toLocaleString("en-US"));
  if (t.epochs !== undefined) s += card("epochs", fmtNum(t.epochs, 3));
  if (t.seconds !== undefined) s += card("time", fmtSeconds(t.seconds));
  if (t.stopReason) s += card("stopped by", t.stopReason);
  if (t.finalTrainLoss !== undefined && t.finalTrainLoss !== null)
    s += card("final train loss", fmtNum(t.finalTrainLoss));
  s += card(
    `best validation loss${t.bestStep !== null && t.bestStep !== undefined ? ` (step ${t.bestStep})` : ""}`,
    t.bestValidLoss !== undefined && t.bestValidLoss !== null ? fmtNum(t.bestValidLoss) : "–",
  );
  s += `</div>`;
  const rows: [string, string][] = [];
  if (t.lossName) rows.push(["loss", t.lossName]);
  if (t.data) rows.push(["data", t.data]);
  if (t.restoredBest !== undefined)
    rows.push(["best weights restored", t.restoredBest ? "yes" : "no"]);
  if (t.nonFiniteSteps) rows.push(["non-finite steps skipped", String(t.nonFiniteSteps)]);
  if (rows.length) s += kvGrid(rows);
  const opts = Object.entries(t.options ?? {});
  if (opts.length)
    s += `<h3>Options</h3><div class="opts">${opts.map(([k, v]) => `<span><b>${esc(k)}</b> ${esc(String(v))}</span>`).join("")}</div>`;

  const hist = t.history;
  s += `<h3>Loss curves</h3>`;
  if (hist.length === 0)
    return s + `<p class="caption">No evaluations were recorded.</p></section>`;
  const vals = finite([...hist.map((p) => p.trainLoss), ...hist.map((p) => p.validLoss)]);
  const pos = vals.filter((v) => v > 0);
  const [lo, hi] = minMax(pos);
  const decades = pos.length === vals.length && pos.length > 1 && hi / lo > 10;
  const hasValid = hist.some((p) => p.validLoss !== null && Number.isFinite(p.validLoss));
  s += legend([
    { colour: COLOURS.train, label: "train (mean since the previous evaluation)" },
    ...(hasValid ? [{ colour: COLOURS.valid, label: "validation" }] : []),
    ...(t.baseline ? [{ colour: "#999", label: t.baseline.label, dash: true }] : []),
  ]);
  if (decades)
    s +=
      `<input type="checkbox" id="loss-log" class="log-toggle" checked> <label for="loss-log" class="toggle">log scale (the losses span ${fmtNum(Math.log10(hi / lo), 2)} decades)</label>` +
      `<div class="lin">${lossChartSvg(t, false)}</div><div class="log">${lossChartSvg(t, true)}</div>`;
  else s += lossChartSvg(t, false);
  s += `<p class="caption">${hist.length} evaluation${hist.length === 1 ? "" : "s"}; hover a point for its value.</p>`;
  return s + "</section>";
}

function metricsTable(ms: PartMetrics[]): string {
  if (ms.length === 0) return "";
  const head = `<tr><th>rows</th><th>ahead</th><th>windows</th><th>RMSE</th><th>MAE</th><th>MAPE</th><th>last-value RMSE</th><th>last-value MAE</th></tr>`;
  const body = ms
    .map(
      (m) =>
        `<tr><td>${esc(`${m.part} ${m.rows[0]}–${m.rows[1] - 1}`)}</td><td>${m.step}</td><td>${m.count}</td><td>${fmtNum(m.rmse)}</td><td>${fmtNum(m.mae)}</td><td>${fmtNum(m.mape, 3)}%</td><td>${fmtNum(m.naiveRmse)}</td><td>${fmtNum(m.naiveMae)}</td></tr>`,
    )
    .join("");
  return `<table class="metrics">${head}${body}</table>`;
}

function seriesSection(sd: SeriesData): string {
  let s = `<section id="forecast"><h2>Forecast</h2>`;
  for (const tg of sd.targets) {
    if (sd.targets.length > 1) s += `<h3>${esc(tg.name)}</h3>`;
    s += legend([
      { colour: COLOURS.actual, label: "actual" },
      { colour: COLOURS.pred1, label: "1-step-ahead prediction" },
      ...(tg.predictedK
        ? [{ colour: COLOURS.predK, label: `${sd.horizon}-step-ahead prediction`, dash: true }]
        : []),
      ...(tg.future.length
        ? [{ colour: COLOURS.future, label: `forecast (${tg.future.length} beyond the data)` }]
        : []),
      ...(sd.split
        ? [
            { colour: "#fff4d6", label: "validation rows", band: true },
            { colour: "#fde3e1", label: "test rows", band: true },
          ]
        : []),
    ]);
    s += seriesChartSvg(sd, tg);
    s += metricsTable(tg.metrics);
  }
  s += `<p class="caption">${esc(sd.caption)}</p>`;
  if (sd.targets.some((t) => t.future.length)) {
    const rows: string[] = [];
    const F = sd.targets[0].future.length;
    for (let k = 0; k < Math.min(F, 60); k++)
      rows.push(
        `<tr><td>${esc(sd.futureTimes[k] ?? `+${k + 1}`)}</td>${sd.targets.map((t) => `<td>${fmtNum(t.future[k], 6)}</td>`).join("")}</tr>`,
      );
    s += `<details><summary>forecast values</summary><table class="metrics"><tr><th>time</th>${sd.targets.map((t) => `<th>${esc(t.name)}</th>`).join("")}</tr>${rows.join("")}</table></details>`;
  }
  return s + "</section>";
}

function activationSection(
  sets: ActivationData[],
  hm: { sets: unknown[]; panels: Record<string, unknown> },
): string {
  let s = `<section id="activations"><h2>Gate activations</h2>`;
  s += `<p class="caption">Each panel shows one quantity of the LSTM cell over a sample input: time runs left to right, one row per hidden unit. i, f, o are gates in [0, 1] (sequential colours); g, c and h are signed (blue negative, red positive, white 0). h = o ⊙ tanh(c) is what the next layer and the head see. Hover a cell for its value.</p>`;
  sets.forEach((a) => {
    const sid = hm.sets.length;
    hm.sets.push({ x: a.xLabels });
    s += `<h3>Layer ${a.layer}</h3><p class="caption">${esc(a.caption)}</p>`;
    // One left margin for every panel of the set, so their time columns line up.
    const longest = Math.max(1, ...a.panels.flatMap((p) => p.rowLabels.map((l) => l.length)));
    const left = Math.min(120, Math.max(58, 26 + longest * 6.2));
    a.panels.forEach((p) => {
      const id = `hm${sid}_${p.key}`;
      const { svg } = heatmapSvg(a, p, id, left);
      hm.panels[id] = {
        s: sid,
        n: `${p.key} (layer ${a.layer})`,
        r: p.rowLabels,
        v: p.values.map((v) => Number(v.toPrecision(4))),
      };
      s += `<div class="panel"><h4>${esc(p.title)} <span>${esc(`range ${fmtNum(p.range[0], 3)} … ${fmtNum(p.range[1], 3)}`)}</span></h4>${svg}</div>`;
    });
  });
  return s + "</section>";
}

/** The whole report: one self-contained HTML document. */
export function renderReport(d: ReportData): string {
  const hm = { sets: [] as unknown[], panels: {} as Record<string, unknown> };
  let body = `<header><h1>${esc(d.title)}</h1>`;
  const sub = [d.subtitle, d.generatedAt ? `generated ${d.generatedAt}` : undefined].filter(
    (x): x is string => !!x,
  );
  if (sub.length) body += `<p>${esc(sub.join(" · "))}</p>`;
  body += `</header>`;
  if (d.notes && d.notes.length)
    body += `<section class="notes"><h2>Notes</h2><ul>${d.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul></section>`;
  body += modelSection(d);
  if (d.training) body += trainingSection(d.training);
  else
    body += `<section id="training"><h2>Training</h2><p class="caption">This model file has no training summary.</p></section>`;
  for (const section of d.sections ?? []) body += section;
  if (d.series) body += seriesSection(d.series);
  if (d.sample)
    body += `<section id="sample"><h2>Sample</h2><p class="caption">${esc(d.sample.caption)}</p><pre class="sample">${esc(d.sample.text)}</pre></section>`;
  if (d.activations && d.activations.length) body += activationSection(d.activations, hm);
  body += `<footer>lstm-ts report · self-contained: no network access needed</footer>`;
  const hasHeatmaps = Object.keys(hm.panels).length > 0;
  return (
    `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
    `<title>${esc(d.title)}</title>\n<style>${CSS}</style>\n</head>\n<body>\n<main>\n${body}\n</main>\n` +
    (hasHeatmaps
      ? `<div id="tip"></div>\n<script type="application/json" id="hm-data">${inlineJson(hm)}</script>\n<script>${SCRIPT}</script>\n`
      : "") +
    `</body>\n</html>\n`
  );
}
