/** Targets that misbehave on purpose, to show the fuzz driver catches each kind of failure. */
import { ConfigError } from "../src/tensor/errors.js";
import type { FuzzTarget } from "../fuzz/targets.js";

const held: Float64Array[] = [];

export async function buildTargets(): Promise<FuzzTarget[]> {
  return [
    { name: "typed", run: () => { throw new ConfigError("x", "rejected"); } },
    { name: "fine", run: () => undefined },
    { name: "untyped", run: (rng) => { if (rng.uniform() < 2) throw new TypeError("boom"); } },
    { name: "hang", run: () => { for (;;); } },
    { name: "memory", run: () => { held.push(new Float64Array(64 * 2 ** 20).fill(1)); } },
  ]; // prettier-ignore
}
