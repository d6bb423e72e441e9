/**
 * Seeded mutations of the files the project reads: bytes (bit flips, truncation, insertions,
 * deletions, copied runs), JSON (a field set to a hostile value or removed), safetensors headers
 * (metadata and tensor entries edited, tensors duplicated or swapped) and CSV/text (cells
 * replaced, lines dropped or repeated). Every mutation draws from one `Rng`, so a case is
 * reproduced by its seed and index alone.
 */
import { Rng } from "../src/tensor/rng.js";

/** Values a hostile file puts where a number, a string or a list is expected. */
const HOSTILE: unknown[] = [
  0, -1, 1, 2, 3, 0.5, -0.5, 1e9, 2 ** 31, 2 ** 32 + 1, 2 ** 53, -(2 ** 31), 1e308, -1e308,
  Number.MIN_VALUE, "", "x", "NaN", "1e999", null, true, false, [], [0], [1, 2, 3], [-1, 1e9],
  {}, { a: 1 }, "\u0000", "é".repeat(3),
]; // prettier-ignore

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng.uniform() * items.length)];
}

function int(rng: Rng, n: number): number {
  return Math.floor(rng.uniform() * n);
}

/** Byte-level mutations: the decoder sees arbitrary damage. */
export function mutateBytes(rng: Rng, input: Uint8Array): Uint8Array {
  const b = Uint8Array.from(input);
  if (b.length === 0) return Uint8Array.of(int(rng, 256));
  switch (int(rng, 6)) {
    case 0: {
      // Flip 1–8 bits anywhere, often in the first bytes (length fields, headers).
      const n = 1 + int(rng, 8);
      for (let i = 0; i < n; i++) {
        const at = rng.uniform() < 0.5 ? int(rng, Math.min(b.length, 64)) : int(rng, b.length);
        b[at] ^= 1 << int(rng, 8);
      }
      return b;
    }
    case 1:
      return b.subarray(0, int(rng, b.length)); // truncation
    case 2: {
      const at = int(rng, b.length);
      const extra = Uint8Array.from({ length: 1 + int(rng, 16) }, () => int(rng, 256));
      return concat(b.subarray(0, at), extra, b.subarray(at));
    }
    case 3: {
      const at = int(rng, b.length);
      return concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(rng, 64))));
    }
    case 4: {
      // A run of bytes copied over another place (e.g. one tensor's data over another's).
      const len = 1 + int(rng, Math.min(256, b.length));
      const from = int(rng, b.length - len + 1);
      const to = int(rng, b.length - len + 1);
      b.copyWithin(to, from, from + len);
      return b;
    }
    default: {
      // Overwrite 1–4 bytes with extreme values (0x00, 0xff, 0x7f, 0x80).
      const n = 1 + int(rng, 4);
      for (let i = 0; i < n; i++) b[int(rng, b.length)] = pick(rng, [0, 0xff, 0x7f, 0x80]);
      return b;
    }
  }
}

/** Every (parent, key) path of a JSON value, to edit one place. */
type Slot = [Record<string, unknown> | unknown[], string | number];
function slots(v: unknown, out: Slot[] = []): Slot[] {
  if (Array.isArray(v))
    v.forEach((x, i) => {
      out.push([v, i]);
      slots(x, out);
    });
  else if (v !== null && typeof v === "object")
    for (const [k, x] of Object.entries(v)) {
      out.push([v as Record<string, unknown>, k]);
      slots(x, out);
    }
  return out;
}

/** JSON edits: one or two fields set to hostile values, removed, or arrays changed in length. */
export function mutateJson(rng: Rng, value: unknown): unknown {
  const v = structuredClone(value);
  const n = 1 + int(rng, 2);
  for (let e = 0; e < n; e++) {
    const all = slots(v);
    if (all.length === 0) return pick(rng, HOSTILE);
    const [parent, key] = pick(rng, all);
    const current = (parent as Record<string | number, unknown>)[key];
    const r = rng.uniform();
    if (r < 0.15 && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[key];
    else if (r < 0.3 && Array.isArray(current) && current.length > 0) {
      if (rng.uniform() < 0.5) current.pop();
      else current.push(current[int(rng, current.length)]);
    } else if (r < 0.45 && typeof current === "number")
      (parent as Record<string | number, unknown>)[key] = current + pick(rng, [1, -1, 0.5, 1e6]);
    else if (r < 0.55 && typeof current === "string" && typeof value === "object") {
      // Strings holding JSON (safetensors metadata): edit inside them.
      try {
        const inner = JSON.parse(current);
        (parent as Record<string | number, unknown>)[key] = JSON.stringify(mutateJson(rng, inner));
      } catch {
        (parent as Record<string | number, unknown>)[key] = pick(rng, HOSTILE);
      }
    } else (parent as Record<string | number, unknown>)[key] = pick(rng, HOSTILE);
  }
  return v;
}

/** A safetensors file split into its JSON header and data. */
function splitSafetensors(b: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const n = Number(new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)));
  return { header, data: b.subarray(8 + n) };
}

function joinSafetensors(header: unknown, data: Uint8Array): Uint8Array {
  const json = JSON.stringify(header);
  const pad = (8 - (new TextEncoder().encode(json).length % 8)) % 8;
  const h = new TextEncoder().encode(json + " ".repeat(pad));
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(h.length), true);
  return concat(len, h, data);
}

/** Structural safetensors edits: header JSON, duplicated and swapped tensors. */
export function mutateSafetensors(rng: Rng, input: Uint8Array): Uint8Array {
  const { header, data } = splitSafetensors(input);
  const names = Object.keys(header).filter((k) => k !== "__metadata__");
  const r = rng.uniform();
  if (r < 0.2 && names.length >= 2) {
    // Swap two tensors' places in the data.
    const a = pick(rng, names);
    const b = pick(rng, names);
    const ea = header[a] as { data_offsets: unknown };
    const eb = header[b] as { data_offsets: unknown };
    [ea.data_offsets, eb.data_offsets] = [eb.data_offsets, ea.data_offsets];
  } else if (r < 0.35 && names.length >= 1) {
    // Duplicate a tensor under another (maybe existing, maybe new) name.
    const src = pick(rng, names);
    const dst = rng.uniform() < 0.5 ? pick(rng, names) : `${src}_copy`;
    header[dst] = structuredClone(header[src]);
  } else if (r < 0.45 && names.length >= 1) {
    delete header[pick(rng, names)];
  } else return joinSafetensors(mutateJson(rng, header), data);
  return joinSafetensors(header, data);
}

/** CSV and text edits: a cell or a run of characters replaced, lines dropped or repeated. */
export function mutateText(rng: Rng, text: string): string {
  const lines = text.split("\n");
  const r = rng.uniform();
  const at = int(rng, lines.length);
  if (r < 0.2) lines.splice(at, 1 + int(rng, 3));
  else if (r < 0.35) lines.splice(at, 0, ...lines.slice(at, at + 1 + int(rng, 3)));
  else if (r < 0.7) {
    const cells = lines[at].split(",");
    cells[int(rng, cells.length)] = String(
      pick(rng, ["", "abc", "NaN", "-Infinity", "1e309", "1e-320", "0", "-1", '"', '""', "\r", "9".repeat(400), "٣", " 5 "]),
    ); // prettier-ignore
    if (rng.uniform() < 0.2) cells.push("extra");
    if (rng.uniform() < 0.2) cells.pop();
    lines[at] = cells.join(",");
  } else if (r < 0.85) return text.slice(0, int(rng, text.length + 1));
  else {
    const s = lines[at];
    const i = int(rng, s.length + 1);
    lines[at] = s.slice(0, i) + pick(rng, ["\u0000", "\uFFFD", "\uD800", "😀", "\t", ","]) + s.slice(i);
  } // prettier-ignore
  return lines.join("\n");
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
