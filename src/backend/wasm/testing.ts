/**
 * Test-only entry point of the wasm backend (not exported by the package): hooks into a memory's
 * instance that tests use to check the module's math and whether jobs ran on threads.
 */
import type { KernelMemory } from "../kernels.js";
import { ownerOf } from "./memory.js";

/**
 * The module's vector sigmoid (kind 0), tanh (1) and exp (2) applied to `x` (length a multiple
 * of 4) inside `memory`, which must come from `wasmKernels.createMemory()`.
 */
export function wasmMathForTest(
  memory: KernelMemory,
  kind: 0 | 1 | 2,
  x: ArrayLike<number>,
): Float32Array {
  const n = x.length;
  const xo = memory.alloc(n);
  const oo = memory.alloc(n);
  const v = memory.view();
  v.set(x, xo);
  ownerOf(v, "x").ex.mathTest(oo * 4, xo * 4, n, kind);
  return memory.view().slice(oo, oo + n);
}

/** How many jobs a memory from `createMemory({ threads })` split across threads. */
export function wasmThreadJobsForTest(memory: KernelMemory): number {
  return ownerOf(memory.view(), "memory").pool?.jobs ?? 0;
}
