import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, FormatError } from "../tensor/errors.js";
import {
  checkOutputs,
  claimOutputs,
  prepareOutputDir,
  readRegularFile,
  sameFile,
} from "./paths.js";

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "lstm-ts-paths-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("readRegularFile reads regular files and refuses devices, FIFOs, directories and oversized files", (t) => {
  const dir = tempDir(t);
  const f = join(dir, "a.bin");
  writeFileSync(f, "hello");
  assert.equal(Buffer.from(readRegularFile(f)).toString(), "hello");
  assert.throws(() => readRegularFile(f, 4), (e) => e instanceof FormatError && /5 bytes, more than the 4/.test(e.message)); // prettier-ignore
  assert.throws(() => readRegularFile("/dev/zero"), /\/dev\/zero: is a character device/);
  assert.throws(() => readRegularFile(dir), /is a directory/);
  assert.throws(() => readRegularFile(join(dir, "nope")), /nope: no such file/);
  const fifo = join(dir, "fifo");
  if (spawnSync("mkfifo", [fifo]).status === 0)
    assert.throws(() => readRegularFile(fifo), /is a named pipe/); // returns at once: no writer awaited
});

test("sameFile sees through ./, symlinks and hard links; checkOutputs names both roles", (t) => {
  const dir = tempDir(t);
  const a = join(dir, "a.txt");
  writeFileSync(a, "x");
  symlinkSync(a, join(dir, "sym"));
  linkSync(a, join(dir, "hard"));
  mkdirSync(join(dir, "sub"));
  assert.ok(sameFile(a, join(dir, "sub", "..", ".", "a.txt")));
  assert.ok(sameFile(a, join(dir, "sym")));
  assert.ok(sameFile(a, join(dir, "hard")));
  assert.ok(sameFile(join(dir, "new"), join(dir, "sub", "..", "new"))); // not there yet
  assert.ok(!sameFile(a, join(dir, "b.txt")));
  assert.throws(
    () => checkOutputs({ inputs: [{ role: "<file>", path: a }], outputs: [{ role: "--out", path: join(dir, "hard") }] }),
    (e) => e instanceof ConfigError && e.field === "--out" && /is the input <file>/.test(e.message),
  ); // prettier-ignore
  assert.throws(
    () => checkOutputs({ inputs: [], outputs: [{ role: "--out", path: join(dir, "o") }, { role: "--report", path: join(dir, "o") }] }),
    /--report: .* is also the --out file/,
  ); // prettier-ignore
  checkOutputs({ inputs: [{ role: "<file>", path: a }], outputs: [{ role: "--out", path: join(dir, "o") }] }); // prettier-ignore
});

test("prepareOutputDir creates directories and refuses a path below a file or a directory target", (t) => {
  const dir = tempDir(t);
  prepareOutputDir({ role: "--out", path: join(dir, "x", "y", "m.st") });
  assert.ok(existsSync(join(dir, "x", "y")));
  writeFileSync(join(dir, "f"), "");
  assert.throws(() => prepareOutputDir({ role: "--out", path: join(dir, "f", "m.st") }), /--out: cannot create the directory .*a part of its directory is a file/); // prettier-ignore
  assert.throws(() => prepareOutputDir({ role: "--out", path: join(dir, "x") }), /--out: .* is a directory/); // prettier-ignore
});

test("claimOutputs: a live owner's lock is refused, a dead one's taken over, release removes ours", (t) => {
  const dir = tempDir(t);
  const out = join(dir, "m.st");
  const lock = join(dir, ".m.st.lock");
  writeFileSync(lock, `${process.ppid}\n`);
  assert.throws(() => claimOutputs([{ role: "--out", path: out }]), /--out: .* is being written by another run \(process \d+/); // prettier-ignore
  writeFileSync(lock, "4194399\n");
  const held = claimOutputs([{ role: "--out", path: out }]);
  assert.throws(() => claimOutputs([{ role: "--checkpoint", path: out }]), /already an output of this run/); // prettier-ignore
  held.release();
  assert.ok(!existsSync(lock));
});
