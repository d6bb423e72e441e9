/**
 * A compact loss chart for the terminal: the training loss as a braille line (2×4 dots per
 * character cell), the validation loss as • marks, with the y range and step range labelled.
 * Plain text, no colours; every line is at most `width` columns wide.
 */
import type { LossPoint } from "./html.js";

export interface LossChartOptions {
  /** Total width in columns, labels included (default 60, at least 24). */
  width?: number;
  /** Plot rows (default 10, at least 3). */
  height?: number;
  /** Log y axis: true, false, or "auto" (default: when the losses span more than a decade). */
  log?: boolean | "auto";
}

// Braille dot bits by [row 0-3][column 0-1] within a cell.
const DOTS = [
  [0x01, 0x08],
  [0x02, 0x10],
  [0x04, 0x20],
  [0x40, 0x80],
];

function fmt(x: number): string {
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e5 || a < 1e-3) return x.toExponential(2);
  return String(Number(x.toPrecision(4)));
}

/** The chart as lines joined by "\n" (no trailing newline); a one-line note without data. */
export function lossChart(history: readonly LossPoint[], options: LossChartOptions = {}): string {
  const width = Math.max(24, Math.floor(options.width ?? 60));
  const height = Math.max(3, Math.floor(options.height ?? 10));
  const train = history
    .filter((p) => Number.isFinite(p.step) && Number.isFinite(p.trainLoss))
    .map((p) => ({ step: p.step, v: p.trainLoss }));
  const valid = history
    .filter((p) => Number.isFinite(p.step) && p.validLoss !== null && Number.isFinite(p.validLoss))
    .map((p) => ({ step: p.step, v: p.validLoss as number }));
  const all = [...train, ...valid];
  if (all.length === 0) return "(no losses recorded)";
  let lo = Infinity;
  let hi = -Infinity;
  let s0 = Infinity;
  let s1 = -Infinity;
  for (const p of all) {
    lo = Math.min(lo, p.v);
    hi = Math.max(hi, p.v);
    s0 = Math.min(s0, p.step);
    s1 = Math.max(s1, p.step);
  }
  const log =
    options.log === true ? lo > 0 : options.log === false ? false : lo > 0 && hi / lo > 10;
  const tf = (v: number): number => (log ? Math.log10(v) : v);
  let y0 = tf(lo);
  let y1 = tf(hi);
  if (!(y1 > y0)) {
    const pad = Math.abs(y0) > 0 ? Math.abs(y0) * 0.05 : 0.5;
    y0 -= pad;
    y1 += pad;
  }
  const hiLabel = fmt(hi);
  const loLabel = fmt(lo);
  const labelW = Math.max(hiLabel.length, loLabel.length);
  const plotW = width - labelW - 2; // label, a space, the axis
  const PW = plotW * 2;
  const PH = height * 4;
  const px = (step: number): number =>
    s1 > s0 ? Math.round(((step - s0) / (s1 - s0)) * (PW - 1)) : Math.floor(PW / 2);
  const py = (v: number): number => Math.round(((y1 - tf(v)) / (y1 - y0)) * (PH - 1));

  const bits = new Uint8Array(plotW * height);
  const dot = (x: number, y: number): void => {
    if (x < 0 || y < 0 || x >= PW || y >= PH) return;
    bits[(y >> 2) * plotW + (x >> 1)] |= DOTS[y & 3][x & 1];
  };
  // Training loss: connected segments (Bresenham in dot space).
  for (let i = 0; i < train.length; i++) {
    const x1 = px(train[i].step);
    const yy1 = py(train[i].v);
    if (i === 0) {
      dot(x1, yy1);
      continue;
    }
    let x = px(train[i - 1].step);
    let y = py(train[i - 1].v);
    const dx = Math.abs(x1 - x);
    const dy = -Math.abs(yy1 - y);
    const sx = x < x1 ? 1 : -1;
    const sy = y < yy1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      dot(x, y);
      if (x === x1 && y === yy1) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y += sy;
      }
    }
  }
  const cells: string[] = Array.from(bits, (b) => (b ? String.fromCharCode(0x2800 + b) : " "));
  for (const p of valid) cells[(py(p.v) >> 2) * plotW + (px(p.step) >> 1)] = "•";

  const lines: string[] = [];
  for (let r = 0; r < height; r++) {
    const label = r === 0 ? hiLabel : r === height - 1 ? loLabel : "";
    const axis = r === 0 || r === height - 1 ? "┤" : "│";
    lines.push(
      `${label.padStart(labelW)} ${axis}${cells.slice(r * plotW, (r + 1) * plotW).join("")}`.trimEnd(),
    );
  }
  lines.push(`${" ".repeat(labelW)} └${"─".repeat(plotW)}`);
  const left = `step ${s0}`;
  const right = String(s1);
  const gap = Math.max(1, plotW + 1 - left.length - right.length);
  lines.push(`${" ".repeat(labelW + 1)}${left}${" ".repeat(gap)}${right}`.slice(0, width));
  const minOf = (xs: { step: number; v: number }[]): { step: number; v: number } =>
    xs.reduce((a, b) => (b.v < a.v ? b : a));
  const legend: string[] = [];
  if (train.length) legend.push(`⣀ train ${fmt(train[train.length - 1].v)}`);
  if (valid.length) {
    const best = minOf(valid);
    legend.push(`• valid ${fmt(valid[valid.length - 1].v)} (best ${fmt(best.v)} @ ${best.step})`);
  }
  if (log) legend.push("log scale");
  // The legend items, packed into as few lines as the width allows.
  const indent = " ".repeat(labelW + 1);
  let line = "";
  for (const item of legend) {
    if (line && indent.length + line.length + 2 + item.length > width) {
      lines.push((indent + line).slice(0, width));
      line = item;
    } else line = line ? `${line}  ${item}` : item;
  }
  if (line) lines.push((indent + line).slice(0, width));
  return lines.join("\n");
}
