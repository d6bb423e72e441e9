/**
 * `lstm convert MODEL --to onnx` as a user runs it: models trained by the CLI on bundled data
 * (a character model, a forecaster) become .onnx files that ONNX Runtime runs with the outputs
 * of our forward, within 1e-5.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import * as ort from "onnxruntime-web";
import { ROOT, runCli } from "./helpers.js";
import { loadModel } from "../src/node.js";
import { Rng } from "../src/tensor/rng.js";
import { maxDiff } from "./numeric.js";

ort.env.wasm.numThreads = 1;
const tmp = mkdtempSync(join(tmpdir(), "lstm-onnx-"));

function ok(args: string[]): string {
  const r = runCli(args);
  assert.equal(r.status, 0, `${args.join(" ")}\n${r.stderr}`);
  return r.stdout;
}

test("a character model trained by lstm runs in ONNX Runtime (token ids, batch-first)", async () => {
  const corpus = join(tmp, "austen.txt");
  writeFileSync(
    corpus,
    readFileSync(join(ROOT, "data", "austen_pride_and_prejudice.txt")).subarray(0, 4000),
  );
  const model = join(tmp, "text.safetensors");
  ok(["train-text", corpus, "--steps", "3", "--hidden", "8", "--layers", "2", "--seq-len", "8", "--batch", "4", "--quiet", "--out", model]); // prettier-ignore
  const onnx = join(tmp, "text.onnx");
  const summary = JSON.parse(
    ok(["convert", model, "--to", "onnx", "--batch-first", "--out", onnx, "--json"]),
  );
  assert.equal(summary.to, "onnx");
  assert.deepEqual(summary.onnx.inputs, ["tokens [B, T]", "h0 [2, B, 8]", "c0 [2, B, 8]"]);
  const { model: m, meta } = loadModel(model);
  const [V, H, T, B] = [m.config.inputSize, 8, 10, 2];
  const rng = new Rng(1);
  const ids = Array.from({ length: B * T }, () => rng.int(V));
  const x = new Float32Array(B * T * V);
  ids.forEach((id, i) => (x[i * V + id] = 1));
  const ours = m.forward(x, { seqLen: T, batch: B, batchFirst: true });
  const session = await ort.InferenceSession.create(readFileSync(onnx));
  const zeros = new Float32Array(2 * B * H);
  const r = await session.run({
    tokens: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [B, T]),
    h0: new ort.Tensor("float32", zeros, [2, B, H]),
    c0: new ort.Tensor("float32", zeros, [2, B, H]),
  });
  assert.deepEqual(r.output.dims, [B, T, V]);
  assert.ok(maxDiff(r.output.data as Float32Array, ours.output) < 1e-5);
  // The vocabulary travels in metadata_props (lstm-ts.vocab) as its JSON text.
  assert.ok(readFileSync(onnx).includes(JSON.stringify(meta.vocab)));
  await session.release();
});

test("a forecaster runs in ONNX Runtime on standardised windows; bad flags are refused", async () => {
  const model = join(tmp, "air.safetensors");
  ok(["train-series", join(ROOT, "data", "airpassengers.csv"), "--column", "passengers_thousands", "--horizon", "3", "--seq-len", "12", "--hidden", "6", "--steps", "3", "--quiet", "--out", model]); // prettier-ignore
  const onnx = join(tmp, "air.onnx");
  ok(["convert", model, "--to", "onnx", "--out", onnx]);
  const { model: m } = loadModel(model);
  const [T, B, H] = [12, 3, 6];
  const rng = new Rng(2);
  const x = Float32Array.from({ length: T * B }, () => rng.range(-2, 2));
  const ours = m.forward(x, { seqLen: T, batch: B, readout: "last" });
  const session = await ort.InferenceSession.create(readFileSync(onnx));
  const zeros = new Float32Array(B * H);
  const r = await session.run({
    x: new ort.Tensor("float32", x, [T, B, 1]),
    h0: new ort.Tensor("float32", zeros, [1, B, H]),
    c0: new ort.Tensor("float32", zeros, [1, B, H]),
  });
  assert.deepEqual(r.output.dims, [B, 3]);
  assert.ok(maxDiff(r.output.data as Float32Array, ours.output) < 1e-5);
  await session.release();
  const bad = runCli([
    "convert",
    model,
    "--batch-first",
    "--out",
    join(tmp, "x.json"),
    "--to",
    "keras",
  ]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--batch-first is for --to onnx/);
});

test("a classifier trained by train-classify (embedding, projections, bidirectional) gives predict's probabilities in ONNX Runtime", async () => {
  const csv = join(tmp, "toy.csv");
  const words = ["abba", "ba", "aab", "xyyx", "yx", "xxy", "abab", "yyx", "b", "x"];
  writeFileSync(csv, ["text,label", ...words.map((w) => `${w},${w[0] < "c" ? "ab" : "xy"}`)].join("\n") + "\n"); // prettier-ignore
  const model = join(tmp, "clf.safetensors");
  ok(["train-classify", csv, "--text-column", "text", "--label-column", "label", "--embedding", "6", "--hidden", "8", "--proj-size", "4", "--layers", "2", "--bidirectional", "--dropout", "0.2", "--batch", "4", "--steps", "5", "--quiet", "--out", model]); // prettier-ignore
  const onnx = join(tmp, "clf.onnx");
  const summary = JSON.parse(ok(["convert", model, "--to", "onnx", "--out", onnx, "--json"]));
  assert.equal(summary.task, "classify");
  assert.deepEqual(summary.onnx.inputs, ["tokens [T, B]", "seq_lens [B]"]);
  assert.deepEqual(summary.onnx.outputs, ["logits [B, 2]", "probabilities [B, 2]"]);
  const { meta } = loadModel(model);
  const vocab = meta.classifier!.vocab!;
  const inputs = ["abbab", "yx", "a"];
  const [T, B] = [5, inputs.length];
  const ids = new BigInt64Array(T * B); // padding id 0 past each row's length
  inputs.forEach((w, b) => [...w].forEach((ch, t) => (ids[t * B + b] = BigInt(vocab.indexOf(ch) + 1)))); // prettier-ignore
  const session = await ort.InferenceSession.create(readFileSync(onnx));
  const r = await session.run({
    tokens: new ort.Tensor("int64", ids, [T, B]),
    seq_lens: new ort.Tensor(
      "int32",
      Int32Array.from(inputs, (w) => w.length),
      [B],
    ),
  });
  await session.release();
  // predict's probabilities of each class (its labels in output order via metadata classes).
  const classes: string[] = meta.classifier!.classes;
  const predicted = ok(["predict", model, ...inputs, "--json", "--top", "2"])
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { labels: { label: string; probability: number }[] });
  const expected = predicted.flatMap((p) =>
    classes.map((c) => p.labels.find((l) => l.label === c)!.probability),
  );
  assert.ok(maxDiff(r.probabilities.data as Float32Array, expected) < 1e-5);
  assert.ok(readFileSync(onnx).includes(JSON.stringify(classes)), "classes in metadata_props");
  const bad = runCli(["convert", model, "--to", "onnx", "--out", join(tmp, "y.onnx"), "--task", "generic"]); // prettier-ignore
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /is a classification model: --task, --vocab and --series do not apply/);
});
