/**
 * The safetensors file format, written by hand: it is the product's model and checkpoint format,
 * and a file read from disk is treated as hostile.
 *
 * Layout (https://github.com/huggingface/safetensors):
 *
 *   [8 bytes]  N, the header length, an unsigned 64-bit little-endian integer
 *   [N bytes]  a UTF-8 JSON object (may be padded with trailing spaces):
 *                { "__metadata__"?: { [key]: string },
 *                  [tensor name]: { dtype, shape: number[], data_offsets: [begin, end] } }
 *   [rest]     the byte buffer; data_offsets are relative to its start
 *
 * Tensors are little-endian and row-major. The tensors cover the byte buffer exactly: no holes, no
 * overlaps, nothing after the last one. Writers pad the header with spaces to a multiple of 8 bytes
 * so that tensor data is aligned.
 *
 * Every number in a header is checked before it is used, and nothing large is allocated until the
 * whole header has been checked.
 */
import { ConfigError, FormatError, ShapeError } from "../tensor/errors.js";

/** The safetensors dtypes this library reads and writes. */
export type SafetensorsDType = "F32" | "F64" | "I32" | "I64" | "U8";

const SAFETENSORS_DTYPES: readonly SafetensorsDType[] = ["F32", "F64", "I32", "I64", "U8"];

/** Bytes per element. */
const SAFETENSORS_ITEM_SIZE: Readonly<Record<SafetensorsDType, number>> = {
  F32: 4,
  F64: 8,
  I32: 4,
  I64: 8,
  U8: 1,
};

/** Dtypes of the safetensors format that this library does not read (named in error messages). */
const OTHER_FORMAT_DTYPES = new Set([
  "BOOL",
  "I8",
  "I16",
  "U16",
  "U32",
  "U64",
  "F16",
  "BF16",
  "F8_E4M3",
  "F8_E5M2",
  "F8_E8M0",
  "F4",
  "F6_E2M3",
  "F6_E3M2",
  "C64",
]);

/** The reference implementation's limit on the header length. */
const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

/** A tensor to write. Integer dtypes accept plain numbers (checked to be integers in range). */
export interface SafetensorsInput {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | ArrayLike<number>;
}

/** A tensor read from a file. `data` is a fresh, aligned copy owned by the caller. */
export type DecodedTensor =
  | { dtype: "F32"; shape: number[]; data: Float32Array }
  | { dtype: "F64"; shape: number[]; data: Float64Array }
  | { dtype: "I32"; shape: number[]; data: Int32Array }
  | { dtype: "I64"; shape: number[]; data: BigInt64Array }
  | { dtype: "U8"; shape: number[]; data: Uint8Array };

/** A decoded safetensors file: metadata and tensors. */
export interface DecodedSafetensors {
  /** The `__metadata__` object, or `{}` when the file has none. */
  metadata: Record<string, string>;
  /** The tensors in the order of their data in the file (for files this module wrote, the order
   * they were given to `encodeSafetensors`, so decoding and re-encoding gives the same bytes). */
  tensors: Map<string, DecodedTensor>;
}

/** Limits for decodeSafetensors. */
export interface DecodeOptions {
  /** Largest accepted header, in bytes. Default 100 MB, as in the reference implementation. */
  maxHeaderBytes?: number;
}

/** Each dtype's typed array over a decoded tensor's own (aligned, little-endian) bytes. */
const DECODED_VIEW: {
  readonly [D in SafetensorsDType]: (
    b: ArrayBuffer,
    count: number,
  ) => Extract<DecodedTensor, { dtype: D }>["data"];
} = {
  F32: (b, count) => new Float32Array(b, 0, count),
  F64: (b, count) => new Float64Array(b, 0, count),
  I32: (b, count) => new Int32Array(b, 0, count),
  I64: (b, count) => new BigInt64Array(b, 0, count),
  U8: (b, count) => new Uint8Array(b, 0, count),
};

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const METADATA_KEY = "__metadata__";

// ------------------------------------------------------------------------------------------------
// Encoding

/**
 * Serializes tensors to safetensors bytes. Tensors are laid out in the given order and the header
 * lists them in that order, so the same input always gives the same bytes. An F32 tensor given as
 * a Float64Array (or plain numbers) is rounded to float32.
 */
export function encodeSafetensors(
  tensors: readonly SafetensorsInput[],
  metadata?: Record<string, string>,
): Uint8Array {
  const seen = new Set<string>();
  const parts: Uint8Array[] = [];
  const headerEntries: string[] = [];
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
      throw new ConfigError("metadata", "must be an object whose values are strings");
    }
    const items: string[] = [];
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== "string") {
        throw new ConfigError(
          `metadata '${key}'`,
          `value must be a string, got ${describeJson(value)}`,
        );
      }
      items.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
    }
    headerEntries.push(`${JSON.stringify(METADATA_KEY)}:{${items.join(",")}}`);
  }

  let offset = 0;
  for (const t of tensors) {
    const { name, dtype, shape } = t;
    if (typeof name !== "string") throw new ConfigError("tensor name", "must be a string");
    const field = `tensor '${name}'`;
    if (name === METADATA_KEY) throw new ConfigError(field, `the name ${METADATA_KEY} is reserved`);
    if (seen.has(name)) throw new ConfigError(field, "duplicate tensor name");
    seen.add(name);
    if (!Object.hasOwn(SAFETENSORS_ITEM_SIZE, dtype)) {
      throw new ConfigError(
        field,
        `unsupported dtype ${describeJson(dtype)} (supported: ${SAFETENSORS_DTYPES.join(", ")})`,
      );
    }
    if (!Array.isArray(shape)) throw new ConfigError(field, "shape must be an array");
    let numel = 1;
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 0) {
        throw new ConfigError(
          field,
          `shape [${shape.join(", ")}] has a dimension that is not a non-negative integer`,
        );
      }
      numel *= d;
      if (!Number.isSafeInteger(numel * 8)) {
        throw new ConfigError(field, `shape [${shape.join(", ")}] has too many elements`);
      }
    }
    const length = t.data?.length;
    if (length !== numel) {
      throw new ShapeError(`${field} data`, shape, typeof length === "number" ? length : 0);
    }
    const bytes = toLittleEndianBytes(field, dtype, t.data);
    headerEntries.push(
      `${JSON.stringify(name)}:{"dtype":"${dtype}","shape":[${shape.join(",")}],` +
        `"data_offsets":[${offset},${offset + bytes.length}]}`,
    );
    parts.push(bytes);
    offset += bytes.length;
  }

  const json = new TextEncoder().encode(`{${headerEntries.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Converts a tensor's data to its little-endian bytes (always a fresh copy). */
function toLittleEndianBytes(
  field: string,
  dtype: SafetensorsDType,
  data: SafetensorsInput["data"],
): Uint8Array {
  const n = data.length;
  let typed: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
  if (data instanceof BigInt64Array) {
    if (dtype !== "I64") throw new ConfigError(field, `BigInt64Array data needs dtype I64`);
    typed = new BigInt64Array(data);
  } else if (dtype === "F32") {
    typed = Float32Array.from(data); // rounds to nearest float32
  } else if (dtype === "F64") {
    typed = Float64Array.from(data);
  } else if (dtype === "I64") {
    typed = new BigInt64Array(n);
    for (let i = 0; i < n; i++) {
      typed[i] = BigInt(checkInteger(field, data, i, -(2 ** 63), 2 ** 63));
    }
  } else {
    const [lo, hi] = dtype === "I32" ? [-(2 ** 31), 2 ** 31] : [0, 256];
    if (
      (dtype === "I32" && !(data instanceof Int32Array)) ||
      (dtype === "U8" && !(data instanceof Uint8Array))
    ) {
      for (let i = 0; i < n; i++) checkInteger(field, data, i, lo, hi);
    }
    typed = dtype === "I32" ? Int32Array.from(data) : Uint8Array.from(data);
  }
  const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  if (!LITTLE_ENDIAN_HOST) swapBytes(bytes, typed.BYTES_PER_ELEMENT);
  return bytes;
}

/** Checks that data[i] is an integer in [lo, hi) and returns it. */
function checkInteger(field: string, data: ArrayLike<number>, i: number, lo: number, hi: number) {
  const v = data[i];
  if (!Number.isInteger(v) || v < lo || v >= hi) {
    throw new ConfigError(field, `element ${i} is ${v}, expected an integer in [${lo}, ${hi})`);
  }
  return v;
}

function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

// ------------------------------------------------------------------------------------------------
// Decoding

interface Entry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
  order: number;
}

/**
 * Parses safetensors bytes. `source` (usually the file name) starts every error message. Throws
 * FormatError on any malformed or hostile input; no tensor data is allocated before the whole
 * header has been checked against the file size.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  source: string,
  opts: DecodeOptions = {},
): DecodedSafetensors {
  const fail = (message: string): never => {
    throw new FormatError(source, message);
  };
  const maxHeaderBytes = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (!Number.isSafeInteger(maxHeaderBytes) || maxHeaderBytes < 0) {
    throw new ConfigError(
      "maxHeaderBytes",
      `must be a non-negative integer, got ${maxHeaderBytes}`,
    );
  }
  if (!(bytes instanceof Uint8Array)) fail("expected the file contents as bytes");
  if (bytes.length < 8) {
    fail(`file is ${bytes.length} bytes, too short for a safetensors header length (8 bytes)`);
  }

  // Header length.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(maxHeaderBytes)) {
    fail(
      `header length ${n64} exceeds the limit of ${maxHeaderBytes} bytes (not a safetensors file?)`,
    );
  }
  const n = Number(n64);
  if (8 + n > bytes.length) {
    fail(
      `header length ${n} runs past the end of the file (${bytes.length} bytes; truncated, or not a safetensors file)`,
    );
  }

  // Header JSON.
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      bytes.subarray(8, 8 + n),
    );
  } catch {
    return fail("header is not valid UTF-8");
  }
  if (!text.startsWith("{")) fail(`header must be a JSON object starting with '{'`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    return fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    fail("header is not a JSON object");
  }

  const dataStart = 8 + n;
  const dataSize = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];

  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (info === null || typeof info !== "object" || Array.isArray(info)) {
        fail(`${METADATA_KEY} must be an object whose values are strings`);
      }
      for (const [key, value] of Object.entries(info as Record<string, unknown>)) {
        if (typeof value !== "string") {
          fail(`${METADATA_KEY} '${key}' must be a string, got ${describeJson(value)}`);
        }
        Object.defineProperty(metadata, key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      continue;
    }
    const what = `tensor '${name}'`;
    if (info === null || typeof info !== "object" || Array.isArray(info)) {
      fail(`${what}: expected an object with dtype, shape and data_offsets`);
    }
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;

    if (typeof dtype !== "string" || !Object.hasOwn(SAFETENSORS_ITEM_SIZE, dtype)) {
      const kind =
        typeof dtype === "string" && OTHER_FORMAT_DTYPES.has(dtype) ? "unsupported" : "unknown";
      fail(
        `${what}: ${kind} dtype ${describeJson(dtype)} (supported: ${SAFETENSORS_DTYPES.join(", ")})`,
      );
    }
    const itemSize = SAFETENSORS_ITEM_SIZE[dtype as SafetensorsDType];

    if (!Array.isArray(shape)) fail(`${what}: shape ${describeJson(shape)} is not an array`);
    const dims = shape as unknown[];
    let numel = 1;
    for (const d of dims) {
      if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
        fail(
          `${what}: shape ${describeJson(shape)} has a dimension ${describeJson(d)} that is not a non-negative integer`,
        );
      }
      numel *= d as number;
      if (!Number.isSafeInteger(numel * itemSize)) {
        fail(`${what}: shape ${describeJson(shape)} overflows: its element count is too large`);
      }
    }

    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => typeof o === "number" && Number.isSafeInteger(o) && o >= 0)
    ) {
      fail(
        `${what}: data_offsets ${describeJson(offsets)} must be two non-negative integers [begin, end]`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) fail(`${what}: data_offsets [${begin}, ${end}] begin after they end`);
    if (end > dataSize) {
      fail(
        `${what}: data_offsets [${begin}, ${end}] run past the end of the data (${dataSize} bytes)`,
      );
    }
    if (end - begin !== numel * itemSize) {
      fail(
        `${what}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype} shape ` +
          `[${(dims as number[]).join(", ")}] needs ${numel} × ${itemSize} = ${numel * itemSize}`,
      );
    }
    entries.push({
      name,
      dtype: dtype as SafetensorsDType,
      shape: [...(dims as number[])],
      begin,
      end,
      order: entries.length,
    });
  }

  // Coverage: sorted by offsets, each tensor starts where the previous one ended.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end || a.order - b.order);
  let covered = 0;
  let previous: Entry | undefined;
  for (const e of entries) {
    if (previous !== undefined && e.begin < covered) {
      fail(
        `tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] overlap tensor ` +
          `'${previous.name}' (data_offsets [${previous.begin}, ${previous.end}])`,
      );
    }
    if (e.begin > covered) {
      const after = previous === undefined ? "at the start" : `after tensor '${previous.name}'`;
      fail(
        `hole in the data: bytes [${covered}, ${e.begin}) ${after} belong to no tensor ` +
          `(next is tensor '${e.name}')`,
      );
    }
    covered = e.end;
    previous = e;
  }
  if (covered !== dataSize) {
    fail(
      `${dataSize - covered} trailing bytes after the last tensor ` +
        `(the tensors cover ${covered} of ${dataSize} data bytes)`,
    );
  }

  // Everything checked: copy out the data.
  const tensors = new Map<string, DecodedTensor>();
  for (const e of entries) {
    const size = SAFETENSORS_ITEM_SIZE[e.dtype];
    const copy = new Uint8Array(e.end - e.begin); // fresh buffer: aligned for any dtype
    copy.set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    if (!LITTLE_ENDIAN_HOST) swapBytes(copy, size);
    const count = copy.length / size;
    const b = copy.buffer;
    const shape = e.shape;
    // (TypeScript cannot tie the view's type to e.dtype; DECODED_VIEW's type does, per dtype.)
    const t = { dtype: e.dtype, shape, data: DECODED_VIEW[e.dtype](b, count) } as DecodedTensor;
    tensors.set(e.name, t);
  }
  return { metadata, tensors };
}

/** A short rendering of a JSON value for an error message. */
function describeJson(v: unknown): string {
  let s: string;
  try {
    s = v === undefined ? "nothing" : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
