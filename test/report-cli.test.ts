/** `lstm report` and `--report` as a user runs them: self-contained HTML files with every section. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT, runCli } from "./helpers.js";

const AIR = join(ROOT, "data/airpassengers.csv");
const tmp = mkdtempSync(join(tmpdir(), "lstm-report-"));

function selfContained(path: string): string {
  assert.ok(existsSync(path), `${path} exists`);
  const html = readFileSync(path, "utf8");
  assert.ok(html.startsWith("<!doctype html>"));
  assert.equal(html.match(/<html[\s>]/g)?.length, 1);
  assert.ok(html.trimEnd().endsWith("</html>"));
  assert.ok(!/https?:\/\//.test(html), "no network references");
  assert.ok(!/\b(src|href)=/.test(html), "no external assets");
  assert.ok(!/NaN|undefined/.test(html));
  assert.equal(html.match(/<svg/g)?.length, html.match(/<\/svg>/g)?.length);
  return html;
}

const series = (out: string, ...extra: string[]): string[] => [
  "train-series", AIR, "--column", "passengers_thousands", "--horizon", "3", "--seq-len", "12",
  "--hidden", "8", "--batch", "8", "--eval-every", "5", "--steps", "20", "--out", out, ...extra,
]; // prettier-ignore

test("train-series --report writes the report; lstm report rewrites it from the model", () => {
  const model = join(tmp, "air.safetensors");
  const trained = join(tmp, "reports", "air-train.html"); // the directory is created
  const r = runCli(series(model, "--quiet", "--report", trained));
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "", "--quiet prints nothing");
  const html = selfContained(trained);
  for (const s of [
    "Model",
    "Training",
    "Loss curves",
    "Forecast",
    "1-step-ahead prediction",
    "3-step-ahead prediction",
    "validation rows",
    "test rows",
    "Gate activations",
    "input gate",
    "forget gate",
    "cell state",
    "passengers_thousands",
  ])
    assert.ok(html.includes(s), s);
  // A loss chart, the forecast and 7 heatmaps (input, i, f, g, o, c, h).
  assert.ok((html.match(/<svg class="chart"/g)?.length ?? 0) >= 2);
  assert.equal(html.match(/<svg class="heatmap"/g)?.length, 7);

  const out = join(tmp, "explicit.html");
  const rep = runCli(["report", model, "--data", AIR, "--out", out, "--horizon", "12"]);
  assert.equal(rep.status, 0, rep.stderr);
  assert.match(rep.stderr, /report: .*explicit\.html/);
  const again = selfContained(out);
  assert.ok(again.includes("forecast (12 beyond the data)"));
  assert.ok(again.includes("1961-12"), "the forecast's time stamps continue the series");

  // Default output: MODEL with .html; the recorded training data is found.
  const def = runCli(["report", model]);
  assert.equal(def.status, 0, def.stderr);
  assert.match(def.stderr, /using the training data recorded in the model/);
  assert.ok(selfContained(join(tmp, "air.html")).includes("Forecast"));
});

test("training without --quiet prints a terminal loss chart", () => {
  const r = runCli(series(join(tmp, "loud.safetensors")));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /┤/);
  assert.match(r.stderr, /└─+/);
  assert.match(r.stderr, /train .*valid .*\(best/);
  const j = runCli(series(join(tmp, "json.safetensors"), "--json"));
  assert.equal(j.status, 0, j.stderr);
  assert.ok(!/[┤└]/.test(j.stderr + j.stdout));
});

test("a text model: activations over the first characters of the text, escaped", () => {
  const text = join(tmp, "tiny.txt");
  writeFileSync(
    text,
    `<script>alert("hi")</script> & 'quotes'\n` + "the cat sat on the mat. ".repeat(60),
  );
  const model = join(tmp, "text.safetensors");
  const t = runCli([
    "train-text", text, "--hidden", "8", "--seq-len", "8", "--batch", "4", "--steps", "6",
    "--eval-every", "3", "--sample-every", "0", "--quiet", "--out", model,
  ]); // prettier-ignore
  assert.equal(t.status, 0, t.stderr);
  const out = join(tmp, "text-report.html");
  const r = runCli(["report", model, "--data", text, "--out", out, "--sample-length", "40"]);
  assert.equal(r.status, 0, r.stderr);
  const html = selfContained(out);
  for (const s of ["Gate activations", "Sample", "unigram entropy", "nats/char", "output gate"])
    assert.ok(html.includes(s), s);
  assert.ok(!html.includes("<script>alert"), "the text is escaped");
  assert.ok(html.includes(">&lt;</text>"), "the sample's characters label the time axis");
  assert.equal(html.match(/<script/g)?.length, 2, "only the report's own scripts");
  assert.equal(html.match(/<svg class="heatmap"/g)?.length, 7); // p, i, f, g, o, c, h
  assert.ok(!html.includes("Forecast"));

  // Without a text, and the training file gone: the activations run over a generated sample.
  const gone = join(tmp, "gone.txt");
  writeFileSync(gone, "abc abd abe ".repeat(50));
  const model2 = join(tmp, "gone.safetensors");
  const t2 = runCli([
    "train-text", gone, "--hidden", "4", "--seq-len", "4", "--batch", "2", "--steps", "2",
    "--sample-every", "0", "--quiet", "--out", model2,
  ]); // prettier-ignore
  assert.equal(t2.status, 0, t2.stderr);
  unlinkSync(gone);
  const g = runCli(["report", model2]);
  assert.equal(g.status, 0, g.stderr);
  const genHtml = selfContained(join(tmp, "gone.html"));
  assert.match(genHtml, /characters generated by the model/);
});

test("report errors are one line", () => {
  const missing = runCli(["report", join(tmp, "nope.safetensors")]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^lstm: error: .*nope\.safetensors.*\n$/);
  const model = join(tmp, "air2.safetensors");
  assert.equal(runCli(series(model, "--quiet")).status, 0);
  const csv = join(tmp, "other.csv");
  writeFileSync(csv, "month,other\n2000-01,1\n");
  const bad = runCli(["report", model, "--data", csv]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^lstm: error: .*passengers_thousands.*\n$/);
  const clash = runCli(series(join(tmp, "x.safetensors"), "--report", join(tmp, "x.safetensors")));
  assert.equal(clash.status, 1);
  assert.match(clash.stderr, /lstm: error: --report: .* is also the --out file/);
  const same = runCli(["report", model, "--out", model]);
  assert.equal(same.status, 1);
  assert.match(same.stderr, /--out: .* is the input <model>/);
});
