/**
 * A user's files are sacred (issue 15): every case here destroyed a file, hung, or printed a
 * stack trace before. Each ends with a non-zero exit and one clear line; no input changes.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CLI, ROOT, runCli, type CliResult } from "./helpers.js";

const AIR = join(ROOT, "data/airpassengers.csv");
const tmp = mkdtempSync(join(tmpdir(), "lstm-safety-"));
const TEXT = join(tmp, "t.txt");
writeFileSync(
  TEXT,
  readFileSync(join(ROOT, "data/austen_pride_and_prejudice.txt")).subarray(0, 20000),
);
const TEXT_BYTES = readFileSync(TEXT);
const AIR_BYTES = readFileSync(AIR);

/** One line on stderr naming what is wrong, a non-zero exit, no stack trace. */
function assertClearError(r: CliResult, message: RegExp, what: string): void {
  assert.notEqual(r.status, 0, `${what}: exit ${r.status}\n${r.stderr}`);
  assert.notEqual(r.status, 70, `${what}: internal error\n${r.stderr}`);
  assert.match(r.stderr, message, what);
  assert.doesNotMatch(r.stderr, /\n\s+at .*:\d+:\d+/, `${what}: stack trace\n${r.stderr}`);
}

const series = (...extra: string[]): string[] => [
  "train-series", AIR, "--column", "passengers_thousands", "--horizon", "3", "--seq-len", "12",
  "--hidden", "4", "--batch", "8", "--quiet", ...extra,
]; // prettier-ignore
const text = (...extra: string[]): string[] => [
  "train-text", TEXT, "--hidden", "4", "--seq-len", "8", "--batch", "4", "--sample-every", "0",
  "--quiet", ...extra,
]; // prettier-ignore

/** Edits the JSON metadata of a safetensors file (model or checkpoint). */
function editMeta(src: string, dst: string, edit: (meta: Record<string, string>) => void): void {
  const b = readFileSync(src);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString("utf8"));
  edit(header.__metadata__);
  let hs = Buffer.from(JSON.stringify(header));
  hs = Buffer.concat([hs, Buffer.alloc((8 - (hs.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hs.length));
  writeFileSync(dst, Buffer.concat([len, hs, b.subarray(8 + n)]));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the edits reach into any field
type ParsedJson = Record<string, any>;

/** Edits one JSON-valued metadata entry (e.g. "run", "series", "training") of a safetensors file. */
function editMetaJson(
  src: string,
  dst: string,
  at: { key: string; edit: (value: ParsedJson) => void },
): void {
  editMeta(src, dst, (m) => {
    const value = JSON.parse(m[at.key]);
    at.edit(value);
    m[at.key] = JSON.stringify(value);
  });
}

const model = join(tmp, "m.safetensors");
const ckpt = join(tmp, "m.ckpt");
test("setup: a series model and checkpoint", () => {
  const r = runCli(series("--steps", "4", "--out", model, "--checkpoint", ckpt));
  assert.equal(r.status, 0, r.stderr);
});

test("a checkpoint's stored out/report/checkpoint paths are never written; --resume without --out writes beside the checkpoint and says so", () => {
  const victim = join(tmp, "victim.txt");
  writeFileSync(victim, "precious");
  const evil = join(tmp, "evil.ckpt");
  editMetaJson(ckpt, evil, {
    key: "run",
    edit: (run) =>
      Object.assign(run.options, { out: victim, report: victim, checkpoint: victim, quiet: false }),
  });
  const r = runCli(["train-series", AIR, "--column", "passengers_thousands", "--resume", evil, "--steps", "6"]); // prettier-ignore
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(victim, "utf8"), "precious");
  const derived = join(tmp, "evil.resumed.safetensors");
  assert.ok(existsSync(derived));
  assert.match(r.stderr, /no --out given: the model will be saved as .*evil\.resumed\.safetensors/);
  assert.ok(!existsSync(join(ROOT, "series-model.safetensors")));
});

test("no output may be an input (same path, ./, symlink, hard link) or another output, for every command", () => {
  const link = join(tmp, "link.txt");
  const hard = join(tmp, "hard.txt");
  symlinkSync(TEXT, link);
  linkSync(TEXT, hard);
  const cases: [string[], RegExp][] = [
    [text("--steps", "1", "--out", TEXT), /--out: .*t\.txt is the input <file>/],
    [text("--steps", "1", "--checkpoint", join(tmp, ".", "t.txt")), /--checkpoint: .* is the input <file>/],
    [text("--steps", "1", "--report", link), /--report: .*link\.txt is the input <file>/],
    [text("--steps", "1", "--out", hard), /--out: .*hard\.txt is the input <file>/],
    [text("--steps", "1", "--out", join(tmp, "x.st"), "--checkpoint", join(tmp, "x.st")), /--checkpoint: .* is also the --out file/],
    [text("--steps", "1", "--out", join(tmp, "y.st"), "--report", join(tmp, "y.st")), /--report: .* is also the --out file/],
    [series("--steps", "1", "--out", AIR), /--out: .*airpassengers\.csv is the input <file>/],
    [series("--steps", "1", "--resume", ckpt, "--out", ckpt),
      /--resume: .*m\.ckpt is also the --out file/,
    ],
    [["forecast", model, AIR, "--out", model], /--out: .*m\.safetensors is the input <model>/],
    [["forecast", model, AIR, "--out", AIR], /--out: .*airpassengers\.csv is the input <file>/],
    [["report", model, "--data", AIR, "--out", AIR], /--out: .* is the input --data/],
    [["report", model, "--out", model], /--out: .* is the input <model>/],
    [["convert", model, "--to", "keras", "--out", model], /--out: .* is the input <input>/],
  ]; // prettier-ignore
  const before = readFileSync(model);
  const ckptBefore = readFileSync(ckpt);
  for (const [args, message] of cases) assertClearError(runCli(args), message, args.join(" "));
  assert.ok(readFileSync(TEXT).equals(TEXT_BYTES));
  assert.ok(readFileSync(AIR).equals(AIR_BYTES));
  assert.ok(readFileSync(model).equals(before));
  assert.ok(readFileSync(ckpt).equals(ckptBefore));
  assert.deepEqual(
    readdirSync(tmp).filter((f) => /^(x|y|z)\.st/.test(f)),
    [],
  );
});

test("only regular files are read: /dev/zero, /dev/urandom, a FIFO and a directory are clear errors, at once", () => {
  const fifo = join(tmp, "fifo");
  const mk = spawnSync("mkfifo", [fifo]);
  const inputs: [string, RegExp][] = [
    ["/dev/zero", /\/dev\/zero: is a character device/],
    ["/dev/urandom", /\/dev\/urandom: is a character device/],
    [tmp, /is a directory/],
    ...(mk.status === 0 ? [[fifo, /fifo: is a named pipe/] as [string, RegExp]] : []),
  ];
  for (const [path, message] of inputs) {
    for (const args of [["info", path], ["sample", path], ["train-text", path, "--steps", "1", "--out", join(tmp, "n.st")], ["forecast", model, path]]) {
      const r = runCli(args, { timeoutMs: 20_000 });
      assertClearError(r, message, args.join(" "));
    }
  } // prettier-ignore
});

test("files too large to hold are refused by their size before reading (sparse files: no disk used)", () => {
  const text = join(tmp, "huge.txt");
  const modelFile = join(tmp, "huge.safetensors");
  writeFileSync(text, "");
  truncateSync(text, 600_000_000); // past the longest string V8 makes
  writeFileSync(modelFile, "");
  truncateSync(modelFile, 3 * 2 ** 30);
  assertClearError(runCli(["train-text", text, "--steps", "1", "--out", join(tmp, "h.st")]), /cannot read .*huge\.txt: is 600000000 bytes, more than the 536870888 bytes allowed/, "text"); // prettier-ignore
  assertClearError(runCli(["info", modelFile]), /huge\.safetensors: is 3221225472 bytes, more than the 2147483647 bytes allowed/, "model"); // prettier-ignore
});

test("memory is estimated before anything is allocated: too large is refused with the estimate and the limit", () => {
  const big = runCli(text("--hidden", "512", "--batch", "1024", "--seq-len", "400", "--steps", "1", "--out", join(tmp, "big.st"))); // prettier-ignore
  assertClearError(big, /memory: this configuration needs about [\d.]+ GiB \(.*activations.*inputs.*\), more than the limit of 4\.0 GiB.*--max-memory/, "too big"); // prettier-ignore
  // The case: H 4096, B 65536, T 400 (it reached 8.8 GB before).
  const huge = spawnSync(
    "/usr/bin/env",
    ["bash", "-c", `ulimit -v 3000000; exec "${process.execPath}" "${CLI}" "$@"`, "_", ...text("--hidden", "4096", "--batch", "65536", "--seq-len", "400", "--steps", "1", "--out", join(tmp, "big.st"))], // prettier-ignore
    { encoding: "utf8", timeout: 30_000 },
  );
  assertClearError({ status: huge.status ?? -1, stdout: huge.stdout, stderr: huge.stderr }, /memory: /, "issue case"); // prettier-ignore
  // Past the typed-array limit, even with --max-memory raised: a clear error, not a RangeError.
  const wide = runCli(text("--hidden", "64", "--batch", "65536", "--seq-len", "400", "--max-memory", "100000", "--steps", "1", "--out", join(tmp, "big.st"))); // prettier-ignore
  assertClearError(wide, /memory: the .* would have \d+ elements, more than the \d+ an array can hold/, "array limit"); // prettier-ignore
  assert.ok(!existsSync(join(tmp, "big.st")));
});

test("errors that were stack traces: --out below a file, a text checkpoint to train-series, bad stored options, a corrupted split", () => {
  const textCkpt = join(tmp, "text.ckpt");
  assert.equal(runCli(text("--steps", "2", "--out", join(tmp, "tm.st"), "--checkpoint", textCkpt)).status, 0); // prettier-ignore
  const badColumn = join(tmp, "column.ckpt");
  editMetaJson(ckpt, badColumn, { key: "run", edit: (run) => (run.options.column = 5) });
  const edited = (name: string, edit: (options: Record<string, unknown>) => void): string => {
    const path = join(tmp, name);
    editMetaJson(ckpt, path, { key: "run", edit: (run) => edit(run.options) });
    return path;
  };
  const badHorizon = edited("horizon.ckpt", (o) => (o.horizon = 7));
  const badSchedule = edited("schedule.ckpt", (o) => (o.resolvedSchedule = { kind: "cosine" }));
  const badSplit = join(tmp, "split.safetensors");
  editMetaJson(model, badSplit, { key: "series", edit: (s) => (s.split.test = [122, 1000]) });
  const cases: [string[], RegExp][] = [
    [text("--steps", "1", "--out", join(TEXT, "x.st")), /--out: cannot create the directory of .*t\.txt\/x\.st: a part of its directory is a file/],
    [["forecast", model, AIR, "--out", join(model, "f.csv")], /--out: cannot create the directory/],
    [["report", model, "--out", join(model, "r.html")], /--out: cannot create the directory/],
    [series("--steps", "5", "--resume", textCkpt, "--out", join(tmp, "r.st")), /text\.ckpt: task: a checkpoint of a text model cannot resume a series run \(train-series\)/],
    [series("--steps", "5", "--resume", badColumn, "--out", join(tmp, "r.st")), /column\.ckpt: run\.options\.column: expected (a )?string/],
    [["eval", badSplit, AIR], /split\.safetensors: series\.split\.test must be/],
    [series("--steps", "5", "--resume", badHorizon, "--out", join(tmp, "r.st")), /horizon\.ckpt: run\.options\.horizon: 7 but the series metadata says 3/],
    [series("--steps", "5", "--resume", badSchedule, "--out", join(tmp, "r.st")), /schedule\.ckpt: does not fit this run: totalSteps: is required/],
  ]; // prettier-ignore
  for (const [args, message] of cases) assertClearError(runCli(args), message, args.join(" "));
});

test("two runs on one output: the second fails clearly; a dead process's lock is taken over", () => {
  const out = join(tmp, "locked.st");
  const lock = join(tmp, ".locked.st.lock");
  writeFileSync(lock, `${process.pid}\n`); // held by a live process (this test)
  assertClearError(runCli(series("--steps", "1", "--out", out)), /--out: .*locked\.st is being written by another run \(process \d+/, "live lock"); // prettier-ignore
  assert.ok(!existsSync(out));
  writeFileSync(lock, "4194399\n"); // above pid_max: no such process
  const r = runCli(series("--steps", "1", "--out", out));
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(out));
  assert.ok(!existsSync(lock), "the lock is released at the end");
});

test("a checkpoint that cannot be written (file size limit, as a full disk) still saves the model and reports it", () => {
  const out = join(tmp, "df.st");
  const ck = join(tmp, "df.ckpt");
  copyFileSync(ckpt, ck); // a checkpoint is there already: it must stay whole
  const before = readFileSync(ck);
  const args = series("--hidden", "64", "--steps", "10", "--checkpoint-every", "5", "--checkpoint", ck, "--out", out); // prettier-ignore
  const r = spawnSync("/usr/bin/env", ["bash", "-c", `trap '' XFSZ; ulimit -f 200; exec "${process.execPath}" "${CLI}" "$@"`, "_", ...args], { encoding: "utf8" }); // prettier-ignore
  assertClearError({ status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }, /the model is saved in .*df\.st, but the checkpoint failed: cannot write .*df\.ckpt/, "disk full"); // prettier-ignore
  assert.ok(existsSync(out));
  assert.equal(runCli(["info", out]).status, 0);
  assert.ok(readFileSync(ck).equals(before));
});

test("Ctrl-C saves the checkpoint and the model, then exits 130", async () => {
  const out = join(tmp, "int.st");
  const child = spawn(process.execPath, [CLI, ...series("--time", "60", "--json", "--out", out)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const started = new Promise<void>((resolve) =>
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('"type":"step"')) resolve();
    }),
  );
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await started;
  child.kill("SIGINT");
  assert.equal(await exited, 130, stderr);
  assert.ok(existsSync(out));
  assert.ok(existsSync(`${out}.ckpt`));
});

test("kill -9 while checkpointing every step: the checkpoint always loads and resumes; dead runs' temp files and locks are cleaned up", async () => {
  const out = join(tmp, "k.st");
  const ck = join(tmp, "k.ckpt");
  for (let round = 0; round < 4; round++) {
    const args = round === 0 ? series("--hidden", "32", "--time", "60", "--checkpoint-every", "1", "--checkpoint", ck, "--json", "--out", out) : series("--time", "60", "--checkpoint-every", "1", "--resume", ck, "--json", "--out", out); // prettier-ignore
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    // Kill after a few checkpoints were written, at a point that varies with the round.
    await new Promise<void>((resolve, reject) => {
      let checkpoints = 0;
      child.stdout.on("data", (d: Buffer) => {
        checkpoints += (d.toString().match(/"type":"checkpoint"/g) ?? []).length;
        if (checkpoints >= 3 + round) resolve();
      });
      child.on("exit", () => reject(new Error(`exited before the kill:\n${stderr}`)));
    });
    child.kill("SIGKILL");
    await exited;
    const info = runCli(["info", "--json", ck]);
    assert.equal(info.status, 0, `round ${round}: ${info.stderr}`);
  }
  // The next run writes the same checkpoint: the dead runs' temporary files and lock go.
  const last = runCli(series("--steps", "1", "--resume", ck, "--out", out));
  assert.equal(last.status, 0, last.stderr);
  assert.deepEqual(
    readdirSync(tmp).filter((f) => f.startsWith(".k.")),
    [],
  );
});

test("report reads the data file a model records only while it still has the recorded checksum", () => {
  const secret = join(tmp, "secret.csv");
  writeFileSync(secret, "month,passengers_thousands\n1949-01,112\n1949-02,118\n");
  const hostile = join(tmp, "hostile.safetensors");
  // The recorded data file points at another file; the checksum is the training data's.
  editMetaJson(model, hostile, { key: "training", edit: (t) => (t.data = secret) });
  const r = runCli(["report", hostile, "--out", join(tmp, "hostile.html")]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /not reading .*secret\.csv .*does not match the checksum/);
  assert.ok(!readFileSync(join(tmp, "hostile.html"), "utf8").includes("1949-02"));
  // The model as trained: its recorded file is unchanged, so the report uses it.
  const ok = runCli(["report", model, "--out", join(tmp, "own.html")]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /using the training data recorded in the model/);
});
