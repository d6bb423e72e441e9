import type { Kernels } from "./kernels.js";
import { ConfigError } from "../tensor/errors.js";
import { referenceKernels } from "./js/reference.js";
import { wasmKernels, wasmRelaxedKernels } from "./wasm/index.js";

export type { Kernels, KernelMemory, MemoryOptions } from "./kernels.js";
export { referenceKernels } from "./js/reference.js";
export {
  initWasm,
  wasmKernels,
  wasmRelaxedKernels,
  wasmRelaxedSimdSupported,
  wasmSimdSupported,
} from "./wasm/index.js";

const registry = new Map<string, Kernels>([[referenceKernels.name, referenceKernels]]);
// WebAssembly SIMD (float32), where the engine supports it; with fused multiply-adds where it
// also supports relaxed SIMD.
if (wasmKernels) registry.set(wasmKernels.name, wasmKernels);
if (wasmRelaxedKernels) registry.set(wasmRelaxedKernels.name, wasmRelaxedKernels);

/** Registers a backend under its name (a faster backend adds itself after its feature probe). */
export function registerBackend(kernels: Kernels): void {
  registry.set(kernels.name, kernels);
}

/**
 * The backend called `name`, or the default, picked by feature probes: "wasm-relaxed" where the
 * engine validates relaxed SIMD, else "wasm" where it validates SIMD (both float32), else the
 * reference "js". A model whose dtype the default lacks falls back to "js".
 */
export function getBackend(name?: string): Kernels {
  if (name === undefined) return wasmRelaxedKernels ?? wasmKernels ?? referenceKernels;
  const k = registry.get(name);
  if (!k)
    throw new ConfigError(
      "backend",
      `unknown backend "${name}"; available: ${[...registry.keys()].join(", ")}`,
    );
  return k;
}

/** The names of the registered kernel backends (`js`, and `wasm`, `wasm-relaxed` where the engine supports them). */
export function listBackends(): string[] {
  return [...registry.keys()];
}
