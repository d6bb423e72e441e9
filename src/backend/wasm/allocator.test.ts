import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BlockAllocator, blockBytes } from "./allocator.js";

/** An allocator from byte 1024 that records how far it was asked to reserve. */
function make(limit = Infinity): { a: BlockAllocator; reserved: () => number } {
  let reserved = 0;
  const a = new BlockAllocator(1024, (end) => {
    if (end > limit) throw new RangeError("full");
    reserved = Math.max(reserved, end);
  });
  return { a, reserved: () => reserved };
}

describe("BlockAllocator", () => {
  test("blocks are whole multiples of 16 bytes, handed out from the bump pointer", () => {
    assert.equal(blockBytes(0), 0);
    assert.equal(blockBytes(1), 16);
    assert.equal(blockBytes(4), 16);
    assert.equal(blockBytes(5), 32);
    const { a, reserved } = make();
    assert.equal(a.alloc(3), 1024);
    assert.equal(a.alloc(5), 1040);
    assert.equal(a.alloc(0), 1072);
    assert.equal(a.next, 1072);
    assert.equal(reserved(), 1072);
  });

  test("bad sizes and the 4 GiB address space throw", () => {
    const { a } = make();
    for (const n of [-1, 1.5, NaN]) assert.throws(() => a.alloc(n), RangeError);
    assert.throws(() => a.alloc(2 ** 30), /4 GiB/);
    assert.equal(a.next, 1024, "a refused block moves nothing");
  });

  test("a refused growth leaves the allocator unchanged", () => {
    const { a } = make(2048);
    a.alloc(64);
    assert.throws(() => a.alloc(1024), /full/);
    assert.equal(a.next, 1024 + 256);
  });

  test("the top block returns to the bump pointer", () => {
    const { a } = make();
    const x = a.alloc(8);
    const y = a.alloc(8);
    a.release(y, 8);
    assert.equal(a.next, y);
    a.release(x, 8);
    assert.equal(a.next, 1024);
    assert.deepEqual(a.freeBlocks(), []);
  });

  test("freed blocks are reused first-fit, split, and coalesced on both sides", () => {
    const { a } = make();
    const [b0, b1, b2, b3] = [a.alloc(4), a.alloc(4), a.alloc(4), a.alloc(4)];
    const top = a.next;
    a.release(b0, 4);
    a.release(b2, 4);
    assert.deepEqual(a.freeBlocks(), [
      [b0, b0 + 16],
      [b2, b2 + 16],
    ]);
    a.release(b1, 4); // joins b0 and b2
    assert.deepEqual(a.freeBlocks(), [[b0, b2 + 16]]);
    assert.equal(a.alloc(4), b0, "first fit, from the start of the block");
    assert.deepEqual(a.freeBlocks(), [[b1, b2 + 16]]);
    assert.equal(a.alloc(8), b1, "an exact fit removes the block");
    assert.deepEqual(a.freeBlocks(), []);
    assert.equal(a.next, top, "no growth while free blocks fit");
    a.release(b3, 4);
    assert.equal(a.next, b3);
  });

  test("a freed block next to the top merges into the bump pointer", () => {
    const { a } = make();
    const x = a.alloc(4);
    const y = a.alloc(4);
    const z = a.alloc(4);
    a.release(y, 4);
    a.release(z, 4); // joins y, then both return to the bump pointer
    assert.equal(a.next, y);
    assert.deepEqual(a.freeBlocks(), []);
    assert.equal(a.alloc(4), y);
    assert.equal(x, 1024);
  });

  test("a block too large for every free block comes from the bump pointer", () => {
    const { a } = make();
    const x = a.alloc(4);
    a.alloc(4);
    a.release(x, 4);
    const big = a.alloc(8);
    assert.equal(big, 1024 + 32);
    assert.deepEqual(a.freeBlocks(), [[x, x + 16]]);
  });
});
