/**
 * The allocator of a wasm KernelMemory: a bump pointer over linear memory plus a free list of
 * returned blocks, in bytes. Blocks are whole multiples of 16 bytes (16-byte aligned for SIMD
 * loads). Freed blocks are kept sorted and coalesced, reused first-fit before the memory grows,
 * so a model that cycles through many shapes does not grow without bound; a freed block at the
 * top returns to the bump pointer.
 */

/** Bytes of a block of n float32 elements: rounded up to 16 bytes. */
export function blockBytes(n: number): number {
  return Math.ceil(n / 4) * 16;
}

export class BlockAllocator {
  /** Freed blocks [byte start, byte end), sorted and coalesced. */
  private readonly free: [number, number][] = [];

  /**
   * `next`: the first byte the bump pointer hands out. `reserve(end)` makes bytes below `end`
   * usable (grows the memory; throws when it cannot).
   */
  constructor(
    public next: number,
    private readonly reserve: (end: number) => void,
  ) {}

  /** Reserves a block of n float32 elements; returns its byte start. */
  alloc(n: number): number {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`alloc: bad size ${n}`);
    const bytes = blockBytes(n);
    const free = this.free;
    const hit = free.findIndex(([s, e]) => e - s >= bytes);
    if (hit >= 0) {
      const start = free[hit][0];
      if (free[hit][1] - start === bytes) free.splice(hit, 1);
      else free[hit][0] = start + bytes;
      return start;
    }
    const start = this.next;
    const end = start + bytes;
    if (end > 2 ** 32) throw new RangeError(`alloc: ${n} floats exceed the 4 GiB address space`);
    this.reserve(end);
    this.next = end;
    return start;
  }

  /** Returns the block at byte `start` from `alloc(n)` (same n). */
  release(start: number, n: number): void {
    const free = this.free;
    let s = start;
    let e = s + blockBytes(n);
    let i = free.findIndex(([fs]) => fs > s);
    if (i < 0) i = free.length;
    // Merge with the free neighbours on either side.
    if (i > 0 && free[i - 1][1] === s) {
      i--;
      s = free[i][0];
      free.splice(i, 1);
    }
    if (i < free.length && free[i][0] === e) {
      e = free[i][1];
      free.splice(i, 1);
    }
    if (e === this.next)
      this.next = s; // the top block returns to the bump pointer
    else free.splice(i, 0, [s, e]);
  }

  /** The free blocks (copies), lowest first. */
  freeBlocks(): [number, number][] {
    return this.free.map(([s, e]) => [s, e]);
  }
}
