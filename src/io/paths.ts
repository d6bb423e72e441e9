/**
 * A user's files are sacred: what a command reads and what it writes, checked before any work.
 *
 * - `readRegularFile`: only a regular file of a plausible size is read (`stat` first), so a FIFO,
 *   a device such as /dev/zero or /dev/urandom, or a directory is a clear error, never a hang or
 *   an unbounded read.
 * - `checkOutputs`: no output is one of the inputs or another output, comparing real paths
 *   (symlinks and `./` resolved) and device + inode (hard links).
 * - `claimOutputs`: a lock file beside each output, so two runs writing the same file fail
 *   clearly instead of racing; the lock of a process that no longer exists is taken over.
 */
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  readFileSync,
  realpathSync,
  statSync,
  unlinkSync,
  writeSync,
  constants as fsc,
  type Stats,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { ConfigError, FormatError } from "../tensor/errors.js";

/** Files larger than this are refused unless a caller allows more (a typo, not a model). */
const DEFAULT_MAX_READ_BYTES = 2 ** 31 - 1;

function errnoReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "is a directory";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "ENOTDIR") return "a part of the path is not a directory";
  if (code === "ELOOP") return "too many symbolic links";
  return (e as Error).message;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a named pipe (FIFO)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * Reads a whole regular file. Refuses (FormatError naming the file) anything else, and files over
 * `maxBytes`. The file is opened without blocking (a FIFO would wait for a writer) and checked
 * again on the open descriptor, so a file swapped after the first `stat` is caught too.
 */
export function readRegularFile(path: string, maxBytes = DEFAULT_MAX_READ_BYTES): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new FormatError(path, errnoReason(e));
  }
  if (!st.isFile()) throw new FormatError(path, `is ${kindOf(st)}; only regular files are read`);
  if (st.size > maxBytes)
    throw new FormatError(path, `is ${st.size} bytes, more than the ${maxBytes} bytes allowed`);
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new FormatError(path, errnoReason(e));
  }
  try {
    const fst = fstatSync(fd);
    if (!fst.isFile())
      throw new FormatError(path, `is ${kindOf(fst)}; only regular files are read`);
    if (fst.size > maxBytes)
      throw new FormatError(path, `is ${fst.size} bytes, more than the ${maxBytes} bytes allowed`);
    const bytes = Buffer.allocUnsafe(fst.size);
    let off = 0;
    while (off < bytes.length) {
      const n = readSync(fd, bytes, off, bytes.length - off, off);
      if (n === 0) break; // truncated while reading: return what is there
      off += n;
    }
    return off === bytes.length ? bytes : bytes.subarray(0, off);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(path, errnoReason(e));
  } finally {
    closeSync(fd);
  }
}

/** A path as the file system sees it: the real path when it exists, else the real directory + name. */
function realTarget(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    try {
      return join(realpathSync(dirname(abs)), basename(abs));
    } catch {
      return abs;
    }
  }
}

function identity(path: string): string | null {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

/** A file a command names, with the flag or argument it came from (for the message). */
export interface NamedPath {
  /** e.g. "--out", "--checkpoint", "<file>". */
  role: string;
  path: string;
}

/** Whether two paths name the same file: same real path, or same device and inode. */
export function sameFile(a: string, b: string): boolean {
  if (realTarget(a) === realTarget(b)) return true;
  const ia = identity(a);
  return ia !== null && ia === identity(b);
}

/**
 * Throws ConfigError (naming both flags and the file) when an output is one of the inputs or two
 * outputs are the same file. Call before reading data or writing anything.
 */
export function checkOutputs(files: { inputs: NamedPath[]; outputs: NamedPath[] }): void {
  const { inputs, outputs } = files;
  for (let i = 0; i < outputs.length; i++) {
    const o = outputs[i];
    for (const inp of inputs)
      if (sameFile(o.path, inp.path))
        throw new ConfigError(
          o.role,
          `${o.path} is the input ${inp.role} ${inp.path}; writing it would destroy the input, choose another path`,
        );
    for (const other of outputs.slice(i + 1))
      if (sameFile(o.path, other.path))
        throw new ConfigError(
          other.role,
          `${other.path} is also the ${o.role} file; each output needs its own path`,
        );
  }
}

/**
 * Creates the directory an output goes into. A path below a regular file (`--out file.txt/x`)
 * or a directory that cannot be made is a ConfigError naming the flag, not a stack trace.
 */
export function prepareOutputDir(o: NamedPath): void {
  const dir = dirname(resolve(o.path));
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "EEXIST" || code === "ENOTDIR"
        ? "a part of its directory is a file, not a directory"
        : errnoReason(e);
    throw new ConfigError(o.role, `cannot create the directory of ${o.path}: ${why}`);
  }
  try {
    if (statSync(o.path).isDirectory())
      throw new ConfigError(o.role, `${o.path} is a directory; give a file name`);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    // Not there yet: fine.
  }
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/** The lock file of an output: `.<name>.lock` beside it. */
function lockPathOf(path: string): string {
  const real = realTarget(path);
  return join(dirname(real), `.${basename(real)}.lock`);
}

/** Locks held by this process; released by `release` or when the process exits. */
export interface OutputLocks {
  release(): void;
}

/**
 * Takes a lock for each output (exclusive create of `.<name>.lock` holding the pid). An output
 * locked by a live process is a ConfigError naming the flag and the pid; the lock of a dead
 * process is taken over. The locks are removed on `release()` and at process exit.
 */
export function claimOutputs(outputs: NamedPath[]): OutputLocks {
  const held: string[] = [];
  const release = (): void => {
    for (const l of held.splice(0)) {
      try {
        if (readFileSync(l, "utf8").trim() === String(process.pid)) unlinkSync(l);
      } catch {
        // Already gone.
      }
    }
    process.off("exit", release);
  };
  process.on("exit", release);
  try {
    for (const o of outputs) held.push(takeLock(o));
  } catch (e) {
    release();
    throw e;
  }
  return { release };
}

function takeLock(o: NamedPath): string {
  const lock = lockPathOf(o.path);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lock, "wx", 0o644);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      return lock;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "EEXIST")
        throw new ConfigError(o.role, `cannot create the lock file ${lock}: ${errnoReason(e)}`);
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(lock, "utf8").trim());
    } catch {
      continue; // removed meanwhile: try again
    }
    if (owner === process.pid)
      throw new ConfigError(o.role, `${o.path} is already an output of this run`);
    if (processAlive(owner))
      throw new ConfigError(
        o.role,
        `${o.path} is being written by another run (process ${owner}, lock ${lock}); wait for it or choose another path`,
      );
    try {
      unlinkSync(lock); // a stale lock of a dead process
    } catch {
      // Someone else took it over first; the next attempt finds out who.
    }
  }
  throw new ConfigError(o.role, `cannot take the lock ${lock} for ${o.path}`);
}
