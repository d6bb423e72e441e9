/**
 * The benchmark's own dependencies (TensorFlow.js and its wasm backend, brain.js) live in
 * bench/package.json, not in the library's install: `npm run bench` installs them into
 * bench/node_modules on first use (scripts/bench-deps.mjs). Compiled code runs from dist/bench/,
 * whose module resolution would never look in bench/node_modules, so they are loaded through a
 * require() rooted at bench/package.json.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/** bench/package.json, from this module's build (dist/bench/deps.js). */
const BENCH_PACKAGE = fileURLToPath(new URL("../../bench/package.json", import.meta.url));

/** require() resolving from bench/node_modules. */
export const benchRequire = createRequire(BENCH_PACKAGE);

/**
 * Why `name` cannot be loaded (so a test can skip with a reason), or undefined when it can.
 */
export function benchDependencyMissing(name: string): string | undefined {
  try {
    benchRequire.resolve(name);
    return undefined;
  } catch {
    return `${name} is not installed in bench/node_modules (npm run bench:deps installs it)`;
  }
}
