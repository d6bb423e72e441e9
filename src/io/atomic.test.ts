import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { FileWriteError, writeFileAtomic, writeFileAtomicAsync } from "./atomic.js";

const ATOMIC_URL = new URL("./atomic.js", import.meta.url).href;

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "lstm-ts-atomic-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const strays = (dir: string) => readdirSync(dir).filter((f) => f.includes(".tmp-"));

/** Some recognizable old content: 1 MB of a pattern. */
function oldContent(): Buffer {
  const b = Buffer.alloc(1 << 20);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

/**
 * Runs a child process that writes `size` bytes of 0xcd over `target` with writeFileAtomic and is
 * killed with SIGKILL mid-write. With `hook`, fs.writeSync is wrapped so that the first write
 * stores half of what it was asked and then blocks forever (a deterministic "mid-write"); without
 * it, the child is killed as soon as its temporary file has data in it.
 */
async function killMidWrite(
  dir: string,
  target: string,
  size: number,
  hook: boolean,
): Promise<{ signal: NodeJS.Signals | null; tempSizes: number[] }> {
  const script = join(dir, "child.mjs");
  writeFileSync(
    script,
    `import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
const [target, size, hook] = process.argv.slice(2);
const writeSync = fs.writeSync;
if (hook === "hook") {
  fs.writeSync = function (fd, buffer, offset, length, ...rest) {
    if (fd !== 1 && typeof length === "number" && length > 1) {
      writeSync(fd, buffer, offset, Math.floor(length / 2), ...rest);
      writeSync(1, "MIDWRITE\\n");
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // blocks until killed
    }
    return writeSync(fd, buffer, offset, length, ...rest);
  };
  syncBuiltinESMExports();
}
const { writeFileAtomic } = await import(${JSON.stringify(ATOMIC_URL)});
const payload = Buffer.alloc(Number(size), 0xcd);
writeSync(1, "READY\\n");
writeFileAtomic(target, payload);
writeSync(1, "DONE\\n");
`,
  );
  const child = spawn(process.execPath, [script, target, String(size), hook ? "hook" : ""], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<NodeJS.Signals | null>((res) => child.on("exit", (_c, s) => res(s)));
  const waitFor = (word: string) =>
    new Promise<void>((res, rej) => {
      let seen = "";
      child.stdout.on("data", (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes(word)) res();
      });
      child.on("exit", () => rej(new Error(`child exited before ${word}; output: ${seen}`)));
    });
  if (hook) {
    await waitFor("MIDWRITE");
  } else {
    await waitFor("READY");
    // Poll until the temporary file has data, then kill at once.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const t = strays(dir);
      if (t.length > 0 && statSync(join(dir, t[0]), { throwIfNoEntry: false })?.size) break;
      if (Date.now() > deadline) break;
    }
  }
  child.kill("SIGKILL");
  const signal = await exited;
  return { signal, tempSizes: strays(dir).map((f) => statSync(join(dir, f)).size) };
}

/**
 * Writes an old file `name` in a fresh directory, then kills a child process (SIGKILL) while it
 * atomically writes `size` bytes over it (`hook`: see killMidWrite).
 */
async function killedOverwrite(t: TestContext, name: string, size: number, hook: boolean) {
  const dir = tempDir(t);
  const target = join(dir, name);
  const before = oldContent();
  writeFileSync(target, before);
  const { signal, tempSizes } = await killMidWrite(dir, target, size, hook);
  assert.equal(signal, "SIGKILL");
  return { dir, target, before, tempSizes };
}

test("SIGKILL in the middle of a write leaves the previous file intact (deterministic)", async (t) => {
  const size = 16 << 20;
  const { dir, target, before, tempSizes } = await killedOverwrite(
    t,
    "model.safetensors",
    size,
    true,
  );
  // The child really was mid-write: half the payload sits in the temporary file.
  assert.deepEqual(tempSizes, [size / 2]);
  assert.ok(readFileSync(target).equals(before), "target is byte-identical to the old file");
  // A later write of the same target replaces it and removes the dead process's temp file.
  writeFileAtomic(target, "new");
  assert.equal(readFileSync(target, "utf8"), "new");
  assert.deepEqual(strays(dir), []);
});

test("stale temporary files of dead processes are removed; a live process's and other targets' are kept", async (t) => {
  const dir = tempDir(t);
  const target = join(dir, "m.safetensors");
  // A pid that surely does not exist (above the kernel's pid_max) and this live process's.
  const dead = join(dir, ".m.safetensors.tmp-4194399-0123456789ab");
  const live = join(dir, `.m.safetensors.tmp-${process.ppid}-0123456789ab`);
  const other = join(dir, ".other.tmp-4194399-0123456789ab");
  for (const f of [dead, live, other]) writeFileSync(f, "partial");
  await writeFileAtomicAsync(target, "a");
  assert.deepEqual(
    strays(dir).sort(),
    [
      ".m.safetensors.tmp-" + process.ppid + "-0123456789ab",
      ".other.tmp-4194399-0123456789ab",
    ].sort(),
  );
  writeFileSync(dead, "partial");
  writeFileAtomic(target, "b");
  assert.ok(!strays(dir).includes(".m.safetensors.tmp-4194399-0123456789ab"));
});

test("SIGKILL during a real 200 MB write: the target is the old file or the whole new one, never partial", async (t) => {
  const size = 200 << 20;
  const { target, before, tempSizes } = await killedOverwrite(t, "checkpoint.bin", size, false);
  const after = readFileSync(target);
  if (after.length === before.length) {
    assert.ok(after.equals(before), "target is byte-identical to the old file");
    t.diagnostic(`killed before the rename; temporary file sizes: ${tempSizes.join(", ")}`);
  } else {
    t.diagnostic("killed after the rename");
    // The kill came after the rename: then it must be the complete new file.
    assert.equal(after.length, size);
    assert.ok(after.every((b) => b === 0xcd));
  }
});

test("writes new files and replaces old ones, strings as UTF-8, leaving no temporary files", async (t) => {
  const dir = tempDir(t);
  const target = join(dir, "a.json");
  writeFileAtomic(target, '{"ü":1}');
  assert.equal(readFileSync(target, "utf8"), '{"ü":1}');
  writeFileAtomic(target, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...readFileSync(target)], [1, 2, 3]);
  writeFileAtomic(target, new Uint8Array(0));
  assert.equal(readFileSync(target).length, 0);
  await writeFileAtomicAsync(target, "async");
  assert.equal(readFileSync(target, "utf8"), "async");
  // A relative path resolves against the working directory.
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    writeFileAtomic("rel.txt", "r");
  } finally {
    process.chdir(cwd);
  }
  assert.equal(readFileSync(join(dir, "rel.txt"), "utf8"), "r");
  assert.deepEqual(strays(dir), []);
});

test("keeps the permission bits of the file it replaces, and writes through a symlink", async (t) => {
  const dir = tempDir(t);
  const target = join(dir, "secret.bin");
  writeFileSync(target, "old");
  chmodSync(target, 0o640);
  writeFileAtomic(target, "new");
  assert.equal(statSync(target).mode & 0o777, 0o640);
  chmodSync(target, 0o600);
  await writeFileAtomicAsync(target, "newer");
  assert.equal(statSync(target).mode & 0o777, 0o600);

  const link = join(dir, "latest");
  symlinkSync("secret.bin", link);
  writeFileAtomic(link, "via link");
  assert.ok(lstatSync(link).isSymbolicLink(), "the link is still a link");
  assert.equal(readlinkSync(link), "secret.bin");
  assert.equal(readFileSync(target, "utf8"), "via link");
  assert.deepEqual(strays(dir), []);
});

test("a missing directory is a clear error and leaves nothing behind", async (t) => {
  const dir = tempDir(t);
  const target = join(dir, "no", "such", "dir", "model.safetensors");
  for (const write of [writeFileAtomic, writeFileAtomicAsync]) {
    await assert.rejects(
      async () => write(target, "x"),
      (err: unknown) => {
        assert.ok(err instanceof FileWriteError);
        assert.equal(err.code, "E_IO");
        assert.equal(err.path, target);
        assert.equal(
          err.message,
          `cannot write '${target}': directory '${join(dir, "no", "such", "dir")}' does not exist`,
        );
        assert.equal((err.cause as { code?: string }).code, "ENOENT");
        return true;
      },
    );
  }
  assert.deepEqual(readdirSync(dir), []);
});

test("when the rename fails the temporary file is removed and the target is untouched", async (t) => {
  const dir = tempDir(t);
  const target = join(dir, "out");
  mkdirSync(target); // renaming a file over a directory fails after the data was written
  writeFileSync(join(target, "keep"), "keep");
  for (const write of [writeFileAtomic, writeFileAtomicAsync]) {
    await assert.rejects(
      async () => write(target, Buffer.alloc(1 << 16, 1)),
      (err: unknown) =>
        err instanceof FileWriteError &&
        err.message === `cannot write '${target}': '${target}' is a directory`,
    );
    assert.deepEqual(strays(dir), [], "temporary file removed");
    assert.equal(readFileSync(join(target, "keep"), "utf8"), "keep");
  }
});

test("a path through a regular file is a clear error", (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "file"), "f");
  assert.throws(
    () => writeFileAtomic(join(dir, "file", "x"), "x"),
    (err: unknown) => err instanceof FileWriteError && /is not a directory/.test(err.message),
  );
  assert.deepEqual(readdirSync(dir), ["file"]);
});
