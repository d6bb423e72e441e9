/**
 * The PyTorch companion (python/lstm_ts.py) under `torchrun --nproc_per_node 2` (gloo, CPU):
 * models it trains on a bundled text and a bundled series are read by `lstm eval`, which agrees
 * with the companion's own evaluation within 1e-5; and a model trained by `lstm` and fine-tuned
 * by the companion comes back with its vocabulary. Skipped, with a message, without torch.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT, runCli } from "./helpers.js";
import { loadModel } from "../src/node.js";
import { maxDiff } from "./numeric.js";

const COMPANION = join(ROOT, "python", "lstm_ts.py");
const tmp = mkdtempSync(join(tmpdir(), "lstm-ddp-"));

/** The first interpreter that imports torch (pyenv shims may shadow Debian's python3-torch). */
function findTorchPython(): string | null {
  for (const py of ["/usr/bin/python3", "python3"]) {
    const r = spawnSync(py, ["-c", "import torch, torch.distributed"], { encoding: "utf8" });
    if (r.status === 0) return py;
  }
  return null;
}
const PY = findTorchPython();
const skip = PY === null ? "no python3 with torch (apt-get install python3-torch)" : false;

function py(args: string[]): string {
  const r = spawnSync(PY!, args, { cwd: tmp, encoding: "utf8", timeout: 300_000 });
  assert.equal(r.status, 0, `${args.join(" ")}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * torchrun with two processes. `--redirects 2 --tee 2`: Debian's torch 1.13 on Python 3.11 cannot
 * parse the default "0" (its Std enum lookup returns None); stderr goes to log files and the
 * console, which works on every version.
 */
function torchrun(args: string[]): void {
  // A port the kernel says is free now, not torchrun's fixed 29500: another run of this test
  // (a second checkout, a parallel CI job) may hold that one.
  const port = py(["-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"]).trim(); // prettier-ignore
  py(["-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", port, "--redirects", "2", "--tee", "2", COMPANION, ...args]); // prettier-ignore
}

function ok(args: string[]): string {
  const r = runCli(args);
  assert.equal(r.status, 0, `${args.join(" ")}\n${r.stderr}`);
  return r.stdout;
}

function lastJson(out: string): Record<string, unknown> {
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

const corpus = join(tmp, "austen.txt");
writeFileSync(
  corpus,
  readFileSync(join(ROOT, "data", "austen_pride_and_prejudice.txt")).subarray(0, 6000),
);

test(
  "torchrun (2 processes) trains a character model that lstm evaluates identically",
  { skip },
  () => {
    const model = join(tmp, "ddp-text.safetensors");
    torchrun(["train-text", corpus, "--steps", "4", "--hidden", "16", "--layers", "2", "--seq-len", "16", "--batch", "4", "--out", model]); // prettier-ignore
    const ours = lastJson(ok(["eval", model, corpus, "--json"]));
    const theirs = lastJson(py([COMPANION, "eval", model, corpus]));
    assert.equal(ours.characters, theirs.characters);
    assert.ok(
      Math.abs((ours.loss as number) - (theirs.loss as number)) < 1e-5,
      `${ours.loss} vs ${theirs.loss}`,
    );
    const { model: m, meta } = loadModel(model);
    assert.equal(meta.task, "text");
    assert.equal((meta.training as { worldSize: number }).worldSize, 2);
    // One process with the whole batch takes the same steps as two with half each; batch 3
    // (shards of 1 and 2 rows) checks that uneven shards still average to the global mean.
    const single = join(tmp, "one-text.safetensors");
    const two = join(tmp, "two-text.safetensors");
    py([COMPANION, "train-text", corpus, "--steps", "4", "--hidden", "16", "--layers", "2", "--seq-len", "16", "--batch", "3", "--out", single]); // prettier-ignore
    torchrun(["train-text", corpus, "--steps", "4", "--hidden", "16", "--layers", "2", "--seq-len", "16", "--batch", "3", "--out", two]); // prettier-ignore
    const p1 = loadModel(single).model.params;
    const p2 = loadModel(two).model.params;
    assert.ok(maxDiff(p1, p2) < 1e-5, `1 vs 2 processes: ${maxDiff(p1, p2)}`);
    assert.ok(maxDiff(m.params, p2) > 1e-3, "batch 3 trained other weights than batch 4");
    assert.ok(ok(["sample", model, "--length", "20", "--seed", "1"]).length >= 20);
  },
);

test(
  "torchrun (2 processes) trains a forecaster (log, relative) that lstm evaluates identically",
  { skip },
  () => {
    const csv = join(ROOT, "data", "airpassengers.csv");
    const model = join(tmp, "ddp-air.safetensors");
    torchrun(["train-series", csv, "--column", "passengers_thousands", "--transform", "log", "--relative", "--horizon", "3", "--seq-len", "12", "--hidden", "8", "--batch", "8", "--steps", "4", "--out", model]); // prettier-ignore
    const ours = lastJson(ok(["eval", model, csv, "--json"]));
    const theirs = lastJson(py([COMPANION, "eval", model, csv]));
    assert.equal(ours.rowsUsed, "test");
    assert.equal(ours.windows, theirs.windows);
    for (const k of ["rmse", "mae", "mape"])
      assert.ok(
        Math.abs((ours[k] as number) - (theirs[k] as number)) < 1e-5,
        `${k}: ${ours[k]} vs ${theirs[k]}`,
      );
    ok(["forecast", model, csv, "--out", join(tmp, "air-forecast.csv")]);
    ok(["report", model, "--data", csv, "--out", join(tmp, "air.html")]);
    assert.match(readFileSync(join(tmp, "air.html"), "utf8"), /<html/i);
  },
);

test("a model trained by lstm, fine-tuned by the companion, comes back to lstm", { skip }, () => {
  const base = join(tmp, "lstm-text.safetensors");
  ok(["train-text", corpus, "--steps", "3", "--hidden", "12", "--seq-len", "16", "--batch", "4", "--quiet", "--out", base]); // prettier-ignore
  const tuned = join(tmp, "tuned.safetensors");
  torchrun(["train-text", corpus, "--init", base, "--steps", "3", "--seq-len", "16", "--batch", "4", "--out", tuned]); // prettier-ignore
  const a = loadModel(base);
  const b = loadModel(tuned);
  assert.deepEqual(b.meta.vocab, a.meta.vocab);
  assert.deepEqual(b.model.config, a.model.config);
  assert.notDeepEqual(
    Array.from(b.model.params),
    Array.from(a.model.params),
    "fine-tuning moved the weights",
  );
  const ours = lastJson(ok(["eval", tuned, corpus, "--json"]));
  const theirs = lastJson(py([COMPANION, "eval", tuned, corpus]));
  assert.ok(Math.abs((ours.loss as number) - (theirs.loss as number)) < 1e-5);
  // The companion reads and rewrites an lstm file byte for byte (names, order, metadata, padding).
  const copy = join(tmp, "copy.safetensors");
  const script = `import sys; sys.path.insert(0, sys.argv[1]); import lstm_ts; lstm_ts.write_model(sys.argv[3], *lstm_ts.read_model(sys.argv[2]))`;
  py(["-c", script, join(ROOT, "python"), base, copy]);
  assert.ok(readFileSync(copy).equals(readFileSync(base)), "byte-identical rewrite");
  // And the untouched lstm model reads the same in PyTorch.
  const before = lastJson(py([COMPANION, "eval", base, corpus]));
  assert.ok(
    Math.abs(
      (lastJson(ok(["eval", base, corpus, "--json"])).loss as number) - (before.loss as number),
    ) < 1e-5,
  );
});
