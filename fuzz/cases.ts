/** One fuzz case: target `i mod n`, mutations drawn from a generator seeded by (seed, i). */
import { Rng } from "../src/tensor/rng.js";
import type { FuzzTarget } from "./targets.js";

function caseRng(seed: number, index: number): Rng {
  return new Rng((seed * 1_000_003 + index) % 2 ** 31);
}

export function runCase(target: FuzzTarget, seed: number, index: number): void {
  target.run(caseRng(seed, index));
}
