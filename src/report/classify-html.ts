/**
 * The classification part of an HTML report: headline cards (accuracy, macro-F1, the
 * majority-class baseline, reference results), the confusion matrix as a heatmap and the
 * per-class scores table, all from a `ClassificationMetrics` object. Pass the result to
 * `renderReport` in `ReportData.sections`. Inline SVG, no script: each cell's read-out is an SVG
 * <title> (the browser's tooltip). Browser-safe (pure).
 *
 * Letters: C classes.
 */
import type { ClassificationMetrics } from "../train/metrics.js";
import { card, esc, fmtNum, n2, sequentialColour } from "./html.js";

export interface ClassificationReport {
  /** Which rows were evaluated, e.g. "test split: the last 20 % of rows (2,400)". */
  caption: string;
  metrics: ClassificationMetrics;
  /** Other results on the same rows to show beside, e.g. a naive Bayes reference. */
  references?: { label: string; accuracy: number }[];
}

const pct = (x: number): string => `${fmtNum(100 * x, 3)} %`;

/** Labels longer than this are cut (with "…") on the axes; the tooltip has them whole. */
const LABEL_CHARS = 18;

function shortLabel(label: string): string {
  const cps = Array.from(label);
  return cps.length > LABEL_CHARS ? `${cps.slice(0, LABEL_CHARS - 1).join("")}…` : label;
}

/**
 * The confusion matrix as an SVG heatmap: rows are true classes, columns predicted ones; a cell's
 * colour is its share of its row (the row's recall on the diagonal), its text the row count.
 */
export function confusionHeatmapSvg(m: ClassificationMetrics): string {
  const C = m.labels.length;
  const shown = m.labels.map(shortLabel);
  const longest = Math.max(1, ...shown.map((l) => Array.from(l).length));
  const cell = Math.max(10, Math.min(64, 560 / C));
  const font = Math.min(12, Math.max(7, cell * 0.32));
  const labelW = longest * font * 0.62 + 10;
  // Column labels: horizontal when they fit in a cell, else rotated 45° (they need more room).
  const rotate = labelW > cell;
  const left = 30 + labelW;
  const top = 22 + (rotate ? labelW * 0.72 : font + 6);
  const barW = 12;
  const W = left + C * cell + 24 + barW + 44;
  const H = top + C * cell + 10;
  const totals = m.confusion.map((row) => row.reduce((a, b) => a + b, 0));
  let s = `<svg class="confusion" viewBox="0 0 ${n2(W)} ${n2(H)}" width="${n2(W)}" role="img" aria-label="confusion matrix, ${C} classes" style="max-width:100%;height:auto">`;
  s += `<text x="${n2(left + (C * cell) / 2)}" y="12" text-anchor="middle" class="axis-title">predicted</text>`;
  s += `<text transform="translate(12 ${n2(top + (C * cell) / 2)}) rotate(-90)" text-anchor="middle" class="axis-title">true</text>`;
  for (let t = 0; t < C; t++) {
    for (let p = 0; p < C; p++) {
      const count = m.confusion[t][p];
      const share = totals[t] > 0 ? count / totals[t] : 0;
      const x = left + p * cell;
      const y = top + t * cell;
      const fill = totals[t] > 0 ? sequentialColour(share) : "#eeeeee";
      const tip = `true ${m.labels[t]} → predicted ${m.labels[p]}: ${count}${totals[t] > 0 ? ` (${pct(share)} of ${m.labels[t]})` : ""}`;
      s += `<g class="cell" data-true="${t}" data-pred="${p}"><title>${esc(tip)}</title>`;
      s += `<rect x="${n2(x)}" y="${n2(y)}" width="${n2(cell)}" height="${n2(cell)}" fill="${fill}"${t === p ? ` stroke="#222" stroke-width="1.5"` : ""}/>`;
      if (cell >= 18) {
        // Light text on the dark (low) end of the colour scale.
        const ink = share < 0.6 ? "#ffffff" : "#111111";
        s += `<text x="${n2(x + cell / 2)}" y="${n2(y + cell / 2 + font * 0.35)}" text-anchor="middle" class="count" style="font-size:${n2(font)}px;fill:${ink}">${count}</text>`;
      }
      s += `</g>`;
    }
  }
  s += `<rect x="${n2(left)}" y="${n2(top)}" width="${n2(C * cell)}" height="${n2(C * cell)}" fill="none" stroke="#999"/>`;
  for (let t = 0; t < C; t++)
    s += `<text x="${n2(left - 6)}" y="${n2(top + (t + 0.5) * cell + font * 0.35)}" text-anchor="end" class="tick" style="font-size:${n2(font)}px">${esc(shown[t])}</text>`;
  for (let p = 0; p < C; p++) {
    const cx = left + (p + 0.5) * cell;
    s += rotate
      ? `<text transform="translate(${n2(cx)} ${n2(top - 6)}) rotate(-45)" class="tick" style="font-size:${n2(font)}px">${esc(shown[p])}</text>`
      : `<text x="${n2(cx)}" y="${n2(top - 6)}" text-anchor="middle" class="tick" style="font-size:${n2(font)}px">${esc(shown[p])}</text>`;
  }
  // Colour bar: share of the true class, 0 … 100 %.
  const bx = left + C * cell + 24;
  const bh = C * cell;
  const steps = 24;
  for (let k = 0; k < steps; k++)
    s += `<rect x="${n2(bx)}" y="${n2(top + (k * bh) / steps)}" width="${barW}" height="${n2(bh / steps + 0.5)}" fill="${sequentialColour(1 - (k + 0.5) / steps)}"/>`;
  s += `<rect x="${n2(bx)}" y="${n2(top)}" width="${barW}" height="${n2(bh)}" fill="none" stroke="#999"/>`;
  s += `<text x="${n2(bx + barW + 4)}" y="${n2(top + 8)}" class="tick">100 %</text>`;
  s += `<text x="${n2(bx + barW + 4)}" y="${n2(top + bh)}" class="tick">0 %</text>`;
  return s + "</svg>";
}

/** Precision, recall, F1 and support per class, then the macro average and the accuracy. */
export function perClassTable(m: ClassificationMetrics): string {
  const head = `<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>`;
  const rows = m.perClass
    .map(
      (c) =>
        `<tr><td>${esc(c.label)}</td><td>${c.precision.toFixed(3)}</td><td>${c.recall.toFixed(3)}</td><td>${c.f1.toFixed(3)}</td><td>${c.support}</td></tr>`,
    )
    .join("");
  // Averaged over the classes macro-F1 counts: those with rows or predictions.
  const present = m.perClass.filter(
    (c, i) => c.support > 0 || m.confusion.some((row) => row[i] > 0),
  );
  const macro = (k: "precision" | "recall") =>
    present.reduce((a, c) => a + c[k], 0) / Math.max(1, present.length);
  const foot =
    `<tr class="total"><td>macro average</td><td>${macro("precision").toFixed(3)}</td><td>${macro("recall").toFixed(3)}</td><td>${m.macroF1.toFixed(3)}</td><td>${m.count}</td></tr>` +
    `<tr class="total"><td>accuracy</td><td></td><td></td><td>${m.accuracy.toFixed(3)}</td><td>${m.count}</td></tr>`;
  return `<table class="metrics per-class">${head}${rows}${foot}</table>`;
}

/** The whole "Classification" section. */
export function classificationSection(r: ClassificationReport): string {
  const m = r.metrics;
  let s = `<section id="classification"><h2>Classification</h2><p class="caption">${esc(r.caption)}</p><div class="cards">`;
  s += card("accuracy", pct(m.accuracy));
  s += card("macro-F1", m.macroF1.toFixed(3));
  s += card(`majority class (${m.baseline.label})`, pct(m.baseline.accuracy));
  for (const ref of r.references ?? []) s += card(ref.label, pct(ref.accuracy));
  s += card("rows", m.count.toLocaleString("en-US"));
  s += `</div><h3>Confusion matrix</h3>`;
  s += `<p class="caption">Rows are the true classes, columns the predicted ones; a cell's colour is its share of the row (on the diagonal: the recall), its number the count of rows. Hover a cell for both.</p>`;
  s += confusionHeatmapSvg(m);
  s += `<h3>Per-class scores</h3>${perClassTable(m)}`;
  return s + "</section>";
}
