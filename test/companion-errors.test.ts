/**
 * The PyTorch companion (python/lstm_ts.py) on hostile input: model files with a bad header
 * field, damaged or hand-edited checkpoints, outputs it cannot write, and --resume with flags the
 * checkpoint overrides. Each error is exit status 2 and one line on stderr naming the file and the
 * field, never a Python traceback, and an unwritable output is refused before any training.
 * Skipped, with a message, where /usr/bin/python3 cannot import torch.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "./helpers.js";
import { loadModel } from "../src/node.js";

const COMPANION = join(ROOT, "python", "lstm_ts.py");
const PY = "/usr/bin/python3";
const hasTorch = spawnSync(PY, ["-c", "import torch"], { encoding: "utf8" }).status === 0;
const skip = hasTorch ? false : `${PY} cannot import torch (apt-get install python3-torch)`;
const tmp = mkdtempSync(join(tmpdir(), "lstm-companion-errors-"));

function companion(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(PY, [COMPANION, ...args], { cwd: tmp, encoding: "utf8", timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Exit status 2, one line on stderr that names `file` and matches `field`, no traceback. */
function assertOneLineError(args: string[], file: string, field: RegExp): void {
  const r = companion(args);
  const what = `${args.join(" ")}\n${r.stderr}`;
  assert.equal(r.status, 2, what);
  assert.doesNotMatch(r.stderr, /Traceback/, what);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, what);
  assert.ok(lines[0].includes(file), `names ${file}: ${what}`);
  assert.match(lines[0], field, what);
}

// A one-hot text model over "ab" (I = O = V = 2, H = 1): tensors in lstm's order, zeros.
const VOCAB = ["a", "b"];
const CONFIG = { input_size: 2, hidden_size: 1, num_layers: 1, bidirectional: false, output_size: 2 }; // prettier-ignore
const SHAPES: [string, number[]][] = [
  ["lstm.weight_ih_l0", [4, 2]],
  ["lstm.weight_hh_l0", [4, 1]],
  ["lstm.bias_ih_l0", [4]],
  ["lstm.bias_hh_l0", [4]],
  ["head.weight", [2, 1]],
  ["head.bias", [2]],
];
type Header = Record<string, Record<string, unknown>>;

function goodHeader(): Header {
  const header: Header = {
    __metadata__: {
      format: "lstm-ts-model",
      format_version: "1",
      config: JSON.stringify(CONFIG),
      task: "text",
      input: JSON.stringify({ kind: "one-hot" }),
      vocab: JSON.stringify(VOCAB),
    },
  };
  let offset = 0;
  for (const [name, shape] of SHAPES) {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  return header;
}
const BODY_BYTES = 4 * (8 + 4 + 4 + 4 + 2 + 2);

function writeSafetensors(path: string, header: Header, bodyBytes = BODY_BYTES): string {
  const h = Buffer.from(JSON.stringify(header), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  writeFileSync(path, Buffer.concat([len, h, Buffer.alloc(bodyBytes)]));
  return path;
}

const text = join(tmp, "ab.txt");
writeFileSync(text, "abba".repeat(200));

test("the companion reads the hand-made model the hostile ones start from", { skip }, () => {
  const good = writeSafetensors(join(tmp, "good.safetensors"), goodHeader());
  const r = companion(["eval", good, text]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).characters, 799);
  assert.equal(loadModel(good).meta.task, "text"); // lstm reads it too
});

test(
  "only regular files are read: a FIFO, a device and a directory are refused at once",
  { skip },
  () => {
    const good = writeSafetensors(join(tmp, "good-for-fifo.safetensors"), goodHeader());
    const fifo = join(tmp, "data.fifo");
    // A FIFO nobody writes to: opening it would block forever (the companion's timeout is 120 s).
    if (spawnSync("mkfifo", [fifo]).status === 0)
      assertOneLineError(["eval", good, fifo], fifo, /not a regular file/);
    assertOneLineError(["eval", good, "/dev/zero"], "/dev/zero", /not a regular file/);
    assertOneLineError(["eval", tmp, text], tmp, /not a regular file/);
  },
);

test("a model file with a bad header field: one line naming the file and field", { skip }, () => {
  const cases: [string, (h: Header) => void, RegExp, number?][] = [
    ["no-shape", (h) => delete h["lstm.weight_hh_l0"].shape, /lstm\.weight_hh_l0: shape/],
    ["shape-string", (h) => (h["head.bias"].shape = "2"), /head\.bias: shape/],
    ["shape-negative", (h) => (h["head.bias"].shape = [-2]), /head\.bias: shape/],
    ["offsets-short", (h) => (h["head.bias"].data_offsets = [88, 90]), /head\.bias: data_offsets/], // prettier-ignore
    ["offsets-past-end", (h) => (h["head.bias"].data_offsets = [88, 96]), /head\.bias: data_offsets .*outside/, 88], // prettier-ignore
    ["offsets-reversed", (h) => (h["head.bias"].data_offsets = [96, 88]), /head\.bias: data_offsets/], // prettier-ignore
    ["offsets-missing", (h) => delete h["head.bias"].data_offsets, /head\.bias: data_offsets/],
    ["dtype-f16", (h) => (h["head.bias"].dtype = "F16"), /head\.bias: dtype/],
    ["entry-not-object", (h) => (h["head.bias"] = [1] as unknown as Record<string, unknown>), /head\.bias/], // prettier-ignore
    ["config-array", (h) => (h.__metadata__.config = "[1,2]"), /config/],
    ["config-not-json", (h) => (h.__metadata__.config = "{"), /config/],
    ["config-embedding", (h) => (h.__metadata__.config = JSON.stringify({ ...CONFIG, embedding: 3 })), /config\.embedding/], // prettier-ignore
    ["config-dropout", (h) => (h.__metadata__.config = JSON.stringify({ ...CONFIG, dropout: [0.1] })), /config\.dropout/], // prettier-ignore
    ["input-not-json", (h) => (h.__metadata__.input = "{kind"), /input/],
    ["input-kind", (h) => (h.__metadata__.input = '{"kind":"image"}'), /input/],
    ["vocab-size", (h) => (h.__metadata__.vocab = '["a","b","c"]'), /vocab/],
    ["vocab-missing", (h) => delete h.__metadata__.vocab, /vocab/],
    ["task", (h) => (h.__metadata__.task = "poetry"), /task/],
    ["metadata-number", (h) => (h.__metadata__.task = 3 as unknown as string), /__metadata__/],
  ];
  for (const [name, edit, field, bodyBytes] of cases) {
    const header = goodHeader();
    edit(header);
    const file = writeSafetensors(join(tmp, `${name}.safetensors`), header, bodyBytes);
    assertOneLineError(["eval", file, text], file, field);
  }
});

test("a damaged or hand-edited companion checkpoint: one line naming the field", { skip }, () => {
  const ckpt = join(tmp, "run.ckpt");
  const run = ["train-text", text, "--hidden", "4", "--seq-len", "4", "--batch", "2", "--quiet"];
  const r = companion([...run, "--steps", "2", "--checkpoint", ckpt, "--out", join(tmp, "run.safetensors")]); // prettier-ignore
  assert.equal(r.status, 0, r.stderr);
  // Each edit applied to the stored checkpoint through the companion's own (safe) format.
  const cases: [string, string, RegExp][] = [
    ["no-options", `del ck["options"]`, /options/],
    ["no-trainer", `del ck["trainer"]`, /trainer/],
    ["no-model", `del ck["model"]`, /model/],
    ["step-string", `ck["trainer"]["step"] = "2"`, /trainer\.step/],
    ["lr-string", `ck["options"]["lr"] = "fast"`, /options\.lr/],
    ["optimizer-choice", `ck["options"]["optimizer"] = "lbfgs"`, /options\.optimizer/],
    ["quiet-number", `ck["options"]["quiet"] = 1`, /options\.quiet/],
    ["weights-shape", `ck["model"]["head.bias"] = torch.zeros(3)`, /model/],
    ["config-layers", `ck["config"]["num_layers"] = 0`, /config\.num_layers/],
    ["task-position", `ck["task"] = [{"rows": "x"}]`, /data position/],
  ];
  for (const [name, edit, field] of cases) {
    const bad = join(tmp, `${name}.ckpt`);
    const script = `import sys, torch; sys.path.insert(0, sys.argv[1]); import lstm_ts
ck = lstm_ts.load_checkpoint(sys.argv[2])
${edit}
lstm_ts.save_checkpoint(sys.argv[3], ck)`;
    const made = spawnSync(PY, ["-c", script, join(ROOT, "python"), ckpt, bad], { encoding: "utf8" }); // prettier-ignore
    assert.equal(made.status, 0, made.stderr);
    assertOneLineError(["train-text", text, "--resume", bad, "--steps", "3", "--out", join(tmp, `${name}.safetensors`)], bad, field); // prettier-ignore
  }
  // Not a checkpoint at all.
  const junk = join(tmp, "junk.ckpt");
  writeFileSync(junk, "not a checkpoint");
  assertOneLineError(["train-text", text, "--resume", junk, "--steps", "3"], junk, /checkpoint/);
});

test("an output that cannot be written is refused before training", { skip }, () => {
  const folder = join(tmp, "a-folder");
  mkdirSync(folder, { recursive: true });
  const run = ["train-text", text, "--hidden", "4", "--seq-len", "4", "--batch", "2", "--steps", "2"]; // prettier-ignore
  const cases: [string[], string, RegExp][] = [
    [["--out", join(tmp, "no-such-folder", "m.safetensors")], "--out", /does not exist/],
    [["--out", folder], "--out", /is a directory/],
    [["--out", join(text, "m.safetensors")], "--out", /is not a folder/],
    [["--out", "/dev/null"], "--out", /not a regular file/],
    [["--out", join(tmp, "ok.safetensors"), "--checkpoint", folder], "--checkpoint", /is a directory/], // prettier-ignore
    [["--out", join(tmp, "ok.safetensors"), "--checkpoint", join(tmp, "nope", "c.ckpt")], "--checkpoint", /does not exist/], // prettier-ignore
  ];
  for (const [flags, role, why] of cases) {
    // Not --quiet: an evaluation line on stderr would show that training ran first.
    const r = companion([...run, ...flags]);
    const what = `${flags.join(" ")}\n${r.stderr}`;
    assert.equal(r.status, 2, what);
    assert.equal(r.stdout, "", what);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, what);
    assert.match(r.stderr, new RegExp(`${role} .*${why.source}`), what);
  }
  assert.ok(!existsSync(join(tmp, "ok.safetensors")), "no model written");
});

test("--resume: a flag the checkpoint overrides is noted; --quiet is honoured", { skip }, () => {
  const ckpt = join(tmp, "notes.ckpt");
  const run = ["train-text", text, "--hidden", "4", "--seq-len", "4", "--batch", "2", "--lr", "0.01"]; // prettier-ignore
  const first = companion([...run, "--steps", "2", "--checkpoint", ckpt, "--out", join(tmp, "notes-2.safetensors")]); // prettier-ignore
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, /"type": "eval"/, "the first run was not --quiet");
  const out = join(tmp, "notes-4.safetensors");
  const r = companion(["train-text", text, "--resume", ckpt, "--steps", "4", "--lr", "0.5", "--hidden", "9", "--optimizer", "sgd", "--quiet", "--out", out]); // prettier-ignore
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /note: --lr is taken from the checkpoint \(0\.01\) when resuming/);
  assert.match(r.stderr, /note: --hidden is taken from the checkpoint \(4\) when resuming/);
  assert.match(r.stderr, /note: --optimizer is taken from the checkpoint \("adam"\) when resuming/); // prettier-ignore
  assert.doesNotMatch(r.stderr, /"type": "eval"/, "--quiet given on resume is honoured");
  assert.doesNotMatch(r.stderr, /--steps|--quiet/, "resumable flags are taken without a note");
  const opts = (loadModel(out).meta.training as { options: Record<string, unknown> }).options;
  assert.equal(opts.lr, 0.01);
  assert.equal(opts.hidden, 4);
  assert.equal(opts.steps, 4);
  assert.equal(opts.quiet, true);
  // A flag given with the stored value, and resumable flags: no note.
  const again = companion(["train-text", text, "--resume", ckpt, "--steps", "3", "--lr", "0.01", "--out", join(tmp, "notes-3.safetensors")]); // prettier-ignore
  assert.equal(again.status, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /note:/);
  assert.match(again.stderr, /"type": "eval"/, "the stored --quiet (false) is kept");
});
