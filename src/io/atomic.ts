/**
 * Atomic file replacement: a reader (or a crash) sees either the old file or the new one, never a
 * half-written file.
 *
 * The data goes to a temporary file in the same directory (`.<name>.tmp-<pid>-<random>`, so the
 * rename stays on one file system), which is flushed to disk and then renamed over the target; the
 * directory is then flushed so the rename itself survives a power loss. On any error the temporary
 * file is removed and a FileWriteError is thrown. A process killed mid-write can leave a stray
 * temporary file behind, but never a damaged target; the next write of the same target removes
 * the temporary files of processes that no longer exist.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  openSync,
  readdirSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { open, realpath, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { LstmError } from "../tensor/errors.js";

/** Writing a file failed; the target is unchanged. `cause` holds the system error. */
export class FileWriteError extends LstmError {
  readonly path: string;
  constructor(path: string, message: string, cause?: unknown) {
    super("E_IO", `cannot write '${path}': ${message}`);
    this.path = path;
    if (cause !== undefined) Object.defineProperty(this, "cause", { value: cause });
  }
}

/** Largest single write; writeSync cannot take more than 2 GiB at once on every platform. */
const CHUNK = 1 << 30;

/** Error codes of a directory fsync that only mean "not supported here" (e.g. Windows, some FUSE). */
const DIR_FSYNC_UNSUPPORTED = new Set(["EINVAL", "EISDIR", "ENOTSUP", "EPERM", "EBADF", "EACCES"]);

interface Plan {
  /** Where the data ends up (a symlink is followed, so the link stays a link). */
  target: string;
  dir: string;
  temp: string;
  /** Permission bits of the file being replaced, kept on the new one. */
  mode: number | undefined;
}

function plan(target: string, mode: number | undefined): Plan {
  const dir = dirname(target);
  const suffix = `${process.pid}-${randomBytes(6).toString("hex")}`;
  return { target, dir, temp: join(dir, `.${basename(target)}.tmp-${suffix}`), mode };
}

/** Temporary files of `target` left by processes that have died (killed mid-write). */
function removeStaleTemps(p: Plan): void {
  const prefix = `.${basename(p.target)}.tmp-`;
  let names: string[];
  try {
    names = readdirSync(p.dir);
  } catch {
    return; // the write itself will report the directory
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-[0-9a-f]{12}$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    try {
      unlinkSync(join(p.dir, name));
    } catch {
      // Removed by someone else, or not ours to remove: leave it.
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errCode(e) === "EPERM"; // exists, owned by another user
  }
}

function toBytes(data: Uint8Array | string): Uint8Array {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (data instanceof Uint8Array) return data;
  throw new TypeError("writeFileAtomic: data must be a Uint8Array or a string");
}

function errCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** A user-facing reason for a failed step. */
function reason(err: unknown, p: Plan, step: string): string {
  const code = errCode(err);
  if (step === "create" && code === "ENOENT") return `directory '${p.dir}' does not exist`;
  if (step === "create" && code === "ENOTDIR") return `'${p.dir}' is not a directory`;
  if (step === "rename" && (code === "EISDIR" || code === "ENOTEMPTY" || code === "EEXIST")) {
    return `'${p.target}' is a directory`;
  }
  if (code === "EACCES" || code === "EPERM") return `permission denied (${step})`;
  if (code === "ENOSPC") return "no space left on the device";
  if (code === "EDQUOT") return "disk quota exceeded";
  if (code === "EFBIG") return "file too large (a file size limit was reached)";
  const msg = err instanceof Error ? err.message : String(err);
  return `${step} failed: ${msg}`;
}

function resolveTargetSync(path: string): { target: string; mode: number | undefined } {
  let target = resolve(path);
  try {
    target = realpathSync(target);
  } catch {
    // Does not exist yet (or a dangling link): write the path as given.
  }
  let mode: number | undefined;
  try {
    const st = statSync(target);
    if (st.isFile()) mode = st.mode & 0o7777;
  } catch {
    // New file: default permissions.
  }
  return { target, mode };
}

async function resolveTarget(path: string): Promise<{ target: string; mode: number | undefined }> {
  let target = resolve(path);
  try {
    target = await realpath(target);
  } catch {
    // Does not exist yet.
  }
  let mode: number | undefined;
  try {
    const st = await stat(target);
    if (st.isFile()) mode = st.mode & 0o7777;
  } catch {
    // New file.
  }
  return { target, mode };
}

/**
 * Replaces `path` with `data` atomically (synchronous). Strings are written as UTF-8. The
 * permission bits of an existing file are kept; a symlink is followed and stays a link.
 * Throws FileWriteError, with the target unchanged, on any failure.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = toBytes(data);
  const { target, mode } = resolveTargetSync(path);
  const p = plan(target, mode);
  removeStaleTemps(p);
  let fd: number | undefined;
  let created = false;
  let step = "create";
  try {
    fd = openSync(p.temp, "wx", p.mode ?? 0o666);
    created = true;
    if (p.mode !== undefined) {
      step = "chmod";
      fchmodSync(fd, p.mode); // open's mode is filtered by the umask; the old file's was not
    }
    step = "write";
    let off = 0;
    while (off < bytes.length) {
      off += writeSync(fd, bytes, off, Math.min(CHUNK, bytes.length - off));
    }
    step = "fsync";
    fsyncSync(fd);
    step = "close";
    const f = fd;
    fd = undefined;
    closeSync(f);
    step = "rename";
    renameSync(p.temp, p.target);
    created = false;
  } catch (err) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // Already failing; the original error is the one to report.
      }
    }
    if (created) {
      try {
        unlinkSync(p.temp);
      } catch {
        // Best effort.
      }
    }
    throw new FileWriteError(path, reason(err, p, step), err);
  }
  fsyncDirSync(p.dir, path);
}

/** Asynchronous writeFileAtomic, with the same guarantees. */
export async function writeFileAtomicAsync(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = toBytes(data);
  const { target, mode } = await resolveTarget(path);
  const p = plan(target, mode);
  removeStaleTemps(p);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  let created = false;
  let step = "create";
  try {
    handle = await open(p.temp, "wx", p.mode ?? 0o666);
    created = true;
    if (p.mode !== undefined) {
      step = "chmod";
      await handle.chmod(p.mode);
    }
    step = "write";
    let off = 0;
    while (off < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, off, Math.min(CHUNK, bytes.length - off));
      off += bytesWritten;
    }
    step = "fsync";
    await handle.sync();
    step = "close";
    const h = handle;
    handle = undefined;
    await h.close();
    step = "rename";
    await rename(p.temp, p.target);
    created = false;
  } catch (err) {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    if (created) await unlink(p.temp).catch(() => undefined);
    throw new FileWriteError(path, reason(err, p, step), err);
  }
  let dirHandle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    dirHandle = await open(p.dir, "r");
    await dirHandle.sync();
  } catch (err) {
    if (!DIR_FSYNC_UNSUPPORTED.has(errCode(err) ?? "")) {
      throw new FileWriteError(path, `written, but flushing directory '${p.dir}' failed`, err);
    }
  } finally {
    await dirHandle?.close().catch(() => undefined);
  }
}

/** Flushes a directory entry (the rename) to disk, where the platform supports it. */
function fsyncDirSync(dir: string, path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch (err) {
    if (!DIR_FSYNC_UNSUPPORTED.has(errCode(err) ?? "")) {
      throw new FileWriteError(path, `written, but flushing directory '${dir}' failed`, err);
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
