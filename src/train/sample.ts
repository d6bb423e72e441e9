/**
 * Text generation one character at a time with the state carried (streaming): each step runs
 * the model on a single [T=1, B=1, V] one-hot input from the previous step's h_n, c_n.
 */
import type { Vocab } from "../data/text.js";
import type { LstmModel } from "../model/model.js";
import { allocFloat } from "../tensor/dtype.js";
import { hiddenOut, tokenCount } from "../model/config.js";
import { ConfigError } from "../tensor/errors.js";
import type { Rng } from "../tensor/rng.js";

/** How `sampleText` generates. */
export interface SampleOptions {
  /** Text that sets the state before sampling (every character must be in the vocabulary). */
  prime?: string;
  /** Characters to generate. */
  length: number;
  /** Softmax temperature: < 1 sharper, > 1 more random; 0 picks the most likely character. */
  temperature?: number;
  /** Sample only among the k most likely characters (0 = all). */
  topK?: number;
  rng: Rng;
  /** Called with each generated character as soon as it is drawn. */
  onChar?: (ch: string) => void;
}

/** Generates `o.length` characters from a character model, after priming it with `o.prime`. */
export function sampleText(model: LstmModel, vocab: Vocab, o: SampleOptions): string {
  const V = vocab.size;
  if (tokenCount(model.config) !== V || model.config.outputSize !== V)
    throw new ConfigError("model", `is not a character model for this vocabulary of ${V}`);
  if (model.config.bidirectional)
    throw new ConfigError("model", "a bidirectional model cannot generate text");
  const temperature = o.temperature ?? 1;
  const topK = o.topK ?? 0;
  if (!(temperature >= 0 && Number.isFinite(temperature)))
    throw new ConfigError("temperature", `must be a finite number ≥ 0, got ${temperature}`);
  if (!Number.isInteger(topK) || topK < 0)
    throw new ConfigError("topK", `must be an integer ≥ 0, got ${topK}`);
  if (!Number.isInteger(o.length) || o.length < 0)
    throw new ConfigError("length", `must be an integer ≥ 0, got ${o.length}`);
  const cfg = model.config;
  const h = allocFloat(model.dtype, cfg.numLayers * hiddenOut(cfg)); // [L, B = 1, Hout]
  const c = allocFloat(model.dtype, model.cellStateSize(1)); // empty for a GRU
  const x = allocFloat(model.dtype, cfg.embedding ? 1 : V); // [T = 1, B = 1, V or 1 id]
  const probs = new Float64Array(V);
  const order = new Int32Array(V);
  const primeIds = vocab.encode(o.prime ?? "", { source: "prime" });
  model.checkParams(); // once: the weights do not change while sampling
  // Without a prime, start as at the beginning of a line when the vocabulary has "\n" (that
  // newline is context, not output); otherwise the first character is drawn uniformly and is
  // the first character of the output.
  const newline = vocab.index("\n");
  let id = primeIds.length > 0 ? primeIds[0] : newline >= 0 ? newline : o.rng.int(V);
  const emitStart = primeIds.length === 0 && newline < 0;
  let logits: ArrayLike<number> = new Float64Array(V);
  const step = (input: number): void => {
    if (cfg.embedding) x[0] = input;
    else {
      x.fill(0);
      x[input] = 1;
    }
    const r = model.forward(x, { seqLen: 1, batch: 1, h0: h, c0: c, checkParams: false });
    h.set(r.hN);
    c.set(r.cN);
    logits = r.output;
  };
  for (let i = 0; i < primeIds.length; i++) step(primeIds[i]);
  if (primeIds.length === 0) step(id);
  let out = "";
  let first = 0;
  if (emitStart && o.length > 0) {
    out = vocab.chars[id];
    o.onChar?.(out);
    first = 1; // one character (maybe two UTF-16 units) already out
  }
  for (let n = first; n < o.length; n++) {
    id = pick(logits, probs, order, temperature, topK, o.rng);
    const ch = vocab.chars[id];
    out += ch;
    o.onChar?.(ch);
    if (n + 1 < o.length) step(id);
  }
  return out;
}

/** Draws an index from softmax(logits / temperature) restricted to the top k. */
function pick(
  logits: ArrayLike<number>,
  probs: Float64Array,
  order: Int32Array,
  temperature: number,
  topK: number,
  rng: Rng,
): number {
  const V = logits.length;
  let best = 0;
  for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
  if (temperature === 0) return best;
  let allowed = V;
  if (topK > 0 && topK < V) {
    for (let i = 0; i < V; i++) order[i] = i;
    order.sort((a, b) => logits[b] - logits[a] || a - b);
    allowed = topK;
  }
  const max = logits[best];
  let sum = 0;
  probs.fill(0);
  for (let r = 0; r < allowed; r++) {
    const i = allowed === V ? r : order[r];
    probs[i] = Math.exp((logits[i] - max) / temperature);
    sum += probs[i];
  }
  let u = rng.uniform() * sum;
  for (let i = 0; i < V; i++) {
    u -= probs[i];
    if (u < 0 && probs[i] > 0) return i;
  }
  return best;
}
