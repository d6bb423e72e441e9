import { LstmError } from "./errors.js";
import { allocFloat, type DType, type FloatArray } from "./dtype.js";
import { numel } from "./shape.js";

/** One named region of a flat buffer. */
export interface Slot {
  readonly name: string;
  readonly shape: readonly number[];
  /** First element, in elements (not bytes). */
  readonly offset: number;
  /** numel(shape). */
  readonly size: number;
}

/**
 * The offset table of one flat buffer: every role (params, grads, activations, workspace) is a
 * single allocation, and each tensor in it is a named view at a fixed offset.
 */
export class OffsetTable {
  private readonly slots = new Map<string, Slot>();
  private readonly order: Slot[] = [];
  private end = 0;

  /** @param align offsets are rounded up to a multiple of this many elements (SIMD-friendly). */
  constructor(private readonly align = 1) {}

  /** Reserves a named tensor of `shape` after the previous ones (aligned) and returns its slot. */
  add(name: string, shape: readonly number[]): Slot {
    if (this.slots.has(name)) throw new LstmError("E_INTERNAL", `slot ${name} defined twice`);
    const offset = Math.ceil(this.end / this.align) * this.align;
    const slot: Slot = { name, shape: [...shape], offset, size: numel(shape) };
    this.slots.set(name, slot);
    this.order.push(slot);
    this.end = offset + slot.size;
    return slot;
  }

  /** The slot named `name` (an internal error when there is none). */
  get(name: string): Slot {
    const s = this.slots.get(name);
    if (!s) throw new LstmError("E_INTERNAL", `no slot named ${name}`);
    return s;
  }

  /** Whether a slot named `name` exists. */
  has(name: string): boolean {
    return this.slots.has(name);
  }

  /** Total elements the buffer needs. */
  get total(): number {
    return this.end;
  }

  /** Slots in the order they were added. */
  list(): readonly Slot[] {
    return this.order;
  }

  /** A zeroed buffer of `total` elements of `dtype`. */
  alloc(dtype: DType): FloatArray {
    return allocFloat(dtype, this.total);
  }

  /** A view of slot `name` in `buffer` (shares memory). */
  view(buffer: FloatArray, name: string): FloatArray {
    const s = this.get(name);
    return buffer.subarray(s.offset, s.offset + s.size);
  }
}
