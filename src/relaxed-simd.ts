/**
 * Node only, imported for its effect: `import "lstm-ts/relaxed-simd"` before anything else of
 * lstm-ts turns on WebAssembly relaxed SIMD where V8 still keeps it behind a flag (Node 20 and
 * 21), so that the default backend is "wasm-relaxed", whose matrix products use fused
 * multiply-adds (about 1.2× the plain "wasm" backend on x86-64 with FMA; see README). Node 22
 * and later ship relaxed SIMD: there this does nothing. The `lstm` CLI, the tests and the
 * benchmarks import it first.
 *
 * It calls `v8.setFlagsFromString("--experimental-wasm-relaxed-simd")`, which affects the whole
 * process (modules compiled later, workers included) and nothing compiled before.
 */
import { setFlagsFromString } from "node:v8";

/** f32x4.relaxed_madd of three splats: validates exactly when relaxed SIMD is on. */
const PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 15,
  65, 0, 253, 15, 65, 0, 253, 15, 253, 133, 2, 11,
]);

/** The part of the WebAssembly JS API used here (the TS config has no DOM lib). */
const wasm = (globalThis as { WebAssembly?: { validate(bytes: Uint8Array): boolean } }).WebAssembly;

function validates(): boolean {
  try {
    return wasm !== undefined && wasm.validate(PROBE);
  } catch {
    return false;
  }
}

if (wasm !== undefined && !validates()) {
  try {
    setFlagsFromString("--experimental-wasm-relaxed-simd");
  } catch {
    // an engine without the flag: the plain "wasm" backend stays the default
  }
}
