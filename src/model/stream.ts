/**
 * Streaming inference: a stateful session that runs a unidirectional model (LSTM or GRU) a step (or a few
 * steps) at a time on any number of rows, carrying h and c between calls. Its outputs equal, bit
 * for bit, those of one forward over the whole sequence (the same kernels on the same rows; the
 * products sum in the same order whatever the number of steps per call).
 *
 * Letters: R rows (streams), S steps per call, I input, H hidden, L layers, O head outputs.
 */
import { allocFloat, type FloatArray } from "../tensor/dtype.js";
import { ConfigError } from "../tensor/errors.js";
import { checkFinite, checkLength } from "../tensor/shape.js";
import { hiddenOut } from "./config.js";
import type { LstmModel } from "./model.js";

/** The carried state of a session: h and c [L, R, H] (copies; c is empty for a GRU). */
export interface StreamState {
  h: FloatArray;
  c: FloatArray;
}

/**
 * A streaming session over `rows` independent streams of one model.
 *
 * ```ts
 * const s = new StreamSession(model, { rows: 2 });
 * const y1 = s.step(x1); // x1 [1, 2, I] → [1, 2, O]
 * const y2 = s.step(x23, 2); // two more steps at once: [2, 2, I] → [2, 2, O]
 * s.reset([1]); // stream 1 starts over; stream 0 keeps its state
 * ```
 *
 * The state buffers are allocated once; a step copies the state into the model's workspace of
 * that (steps, rows) shape, which the model keeps, so repeated calls allocate no arrays.
 */
export class StreamSession {
  readonly rows: number;
  private readonly h: FloatArray; // [L, R, H]
  private readonly c: FloatArray;
  private checked = false;

  constructor(
    readonly model: LstmModel,
    opts: { rows: number },
  ) {
    if (model.config.bidirectional)
      throw new ConfigError(
        "model",
        "a bidirectional model needs the whole sequence; it cannot stream",
      );
    const R = opts.rows;
    if (!Number.isInteger(R) || R < 1)
      throw new ConfigError("rows", `must be a positive integer, got ${String(R)}`);
    this.rows = R;
    this.h = allocFloat(model.dtype, model.config.numLayers * R * hiddenOut(model.config));
    this.c = allocFloat(model.dtype, model.cellStateSize(R)); // empty for a GRU
  }

  /**
   * Runs `steps` steps: x is [steps, R, I] time-major. Returns the head outputs [steps, R, O], a
   * view valid until the model's next call (copy to keep). The weights are checked for NaN on
   * the first call only: call `recheck()` after changing them.
   */
  step(x: ArrayLike<number>, steps = 1): FloatArray {
    const R = this.rows;
    // Token models (an embedding) take one id per row and step.
    const I = this.model.config.embedding ? 1 : this.model.config.inputSize;
    if (!Number.isInteger(steps) || steps < 1)
      throw new ConfigError("steps", `must be a positive integer, got ${String(steps)}`);
    checkLength("x", x, I === 1 ? [steps, R] : [steps, R, I], I === 1 ? "[S, R]" : "[S, R, I]");
    const r = this.model.forward(x, {
      seqLen: steps,
      batch: R,
      h0: this.h,
      c0: this.c.length > 0 ? this.c : undefined,
      checkParams: !this.checked,
    });
    this.checked = true;
    this.h.set(r.hN);
    this.c.set(r.cN);
    return r.output;
  }

  /** Checks the weights again on the next step (after an optimizer changed them). */
  recheck(): void {
    this.checked = false;
  }

  /** Zeroes the state of the given rows (default: all): those streams start over. */
  reset(rows?: ArrayLike<number>): void {
    if (rows === undefined) {
      this.h.fill(0);
      this.c.fill(0);
      return;
    }
    const { numLayers: L, hiddenSize: H } = this.model.config;
    const Hout = hiddenOut(this.model.config);
    const R = this.rows;
    for (let i = 0; i < rows.length; i++) {
      const b = rows[i];
      if (!Number.isInteger(b) || b < 0 || b >= R)
        throw new ConfigError("rows", `entry ${i} is ${b}, expected a row in [0, ${R})`);
      for (let l = 0; l < L; l++) {
        this.h.fill(0, (l * R + b) * Hout, (l * R + b + 1) * Hout);
        if (this.c.length > 0) this.c.fill(0, (l * R + b) * H, (l * R + b + 1) * H);
      }
    }
  }

  /** A copy of the state: h and c [L, R, H]. */
  getState(): StreamState {
    return { h: this.h.slice(), c: this.c.slice() };
  }

  /** Replaces the state (h and c [L, R, H], finite; c empty for a GRU). */
  setState(s: { h: ArrayLike<number>; c: ArrayLike<number> }): void {
    const { numLayers: L, hiddenSize: H } = this.model.config;
    const Hout = hiddenOut(this.model.config);
    for (const [name, v] of [
      ["h", s.h],
      ["c", s.c],
    ] as const) {
      const shape =
        name === "h" ? [L, this.rows, Hout] : this.c.length === 0 ? [0] : [L, this.rows, H];
      checkLength(name, v, shape, "[L, R, H]");
      checkFinite(name, v);
    }
    this.h.set(s.h);
    this.c.set(s.c);
  }
}
