#!/usr/bin/env node
/**
 * Compiles assembly/index.ts (AssemblyScript: kernels.ts and gru.ts) to WebAssembly SIMD and embeds the binary as a
 * base64 string in src/backend/wasm/binary.generated.ts, so Node, the CLI and browsers load the
 * module the same way, with no file path to resolve. `npm run build` runs this before tsc.
 *
 * Two builds of the same source are embedded: `wasmBase64` owns its memory (one thread), and
 * `wasmThreadsBase64` imports a shared memory (env.memory, THREADS_INITIAL_PAGES initial and
 * THREADS_MAXIMUM_PAGES maximum 64 KiB pages) that several instances, one per thread, compute in.
 *
 * The generated file records a hash of the source, the compiler version and the flags; when they
 * have not changed the compile is skipped (it takes a few seconds). `--force` recompiles anyway.
 * The file is git-ignored: a clean clone gets it from `npm ci` (prepare → build).
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, URL } from "node:url";
import { setFlagsFromString } from "node:v8";

// The relaxed builds are checked by compiling them: Node before 22 needs the flag for that.
setFlagsFromString("--experimental-wasm-relaxed-simd");

const root = fileURLToPath(new URL("..", import.meta.url));
const source = "assembly/index.ts";
const target = "src/backend/wasm/binary.generated.ts";
const common = [
  "--optimizeLevel",
  "3",
  "--shrinkLevel",
  "0",
  "--converge",
  "--runtime",
  "stub",
  "--noAssert",
  "--noColors",
  // AS112 (an export exchanging v128): kernels.ts exports its vector helpers to gru.ts only;
  // the module's exports are those of assembly/index.ts, none of them v128.
  "--disableWarning",
  "112",
];
/**
 * The shared memory's limits. Initial: static data plus one gemm scratch (about 0.6 MiB) fit in
 * 1 MiB. Maximum: 1 GiB. A shared memory is reserved at its maximum up front (it never moves,
 * so its buffer never detaches), which 32-bit and mobile browsers may refuse for larger limits;
 * models past 1 GiB of weights and workspace use one thread.
 */
const THREADS_INITIAL_PAGES = 16;
const THREADS_MAXIMUM_PAGES = 16384;
const threadFlags = [
  "--importMemory",
  "--sharedMemory",
  "--initialMemory",
  String(THREADS_INITIAL_PAGES),
  "--maximumMemory",
  String(THREADS_MAXIMUM_PAGES),
];
/**
 * Four builds: {own memory, shared memory} × {SIMD, SIMD + relaxed SIMD}. The relaxed builds
 * fuse the gemm's multiply-adds (f32x4.relaxed_madd, an FMA where the CPU has one); the backend
 * picks them where the engine validates relaxed SIMD.
 */
const variants = {
  single: [...common, "--enable", "simd"],
  threads: [...common, "--enable", "simd,threads", ...threadFlags],
  singleRelaxed: [...common, "--enable", "simd,relaxed-simd"],
  threadsRelaxed: [...common, "--enable", "simd,relaxed-simd,threads", ...threadFlags],
};
/** The functions src/backend/wasm/index.ts calls. */
const requiredExports = [
  "memory",
  "scratchEnd",
  "gemmScratch",
  "gemmScratchBytes",
  "setScratch",
  "gemm",
  "packPanels",
  "fusedMultiplyAdd",
  "fillBias",
  "addColumnSums",
  "lstmCellForward",
  "lstmCellBackward",
  "lstmForwardSteps",
  "lstmBackwardSteps",
  "gruCellForward",
  "gruCellBackward",
  "gruForwardSteps",
  "gruBackwardSteps",
  "gruStepsWorkFloats",
];

const force = process.argv.includes("--force");
// The version decides whether to recompile; the compiler itself (binaryen) loads only when needed.
const ascVersion = createRequire(import.meta.url)("assemblyscript/package.json").version;
// Every source file of the module counts (the entry imports the others).
const text = readdirSync(join(root, "assembly"))
  .filter((name) => name.endsWith(".ts"))
  .sort()
  .map((name) => `${name}\0${readFileSync(join(root, "assembly", name), "utf8")}`)
  .join("\0");
const hash = createHash("sha256")
  .update(`${ascVersion}\0${JSON.stringify(variants)}\0${text}`)
  .digest("hex")
  .slice(0, 16);
const targetPath = join(root, target);
const stamp = `// source hash: ${hash}`;

if (!force && existsSync(targetPath) && readFileSync(targetPath, "utf8").includes(stamp)) {
  process.exit(0);
}

const { default: asc } = await import("assemblyscript/asc");

/** Compiles one variant; exits on errors or on imports other than `allowedImports`. */
async function compile(flags, allowedImports) {
  let binary = null;
  const stderr = asc.createMemoryStream();
  const { error } = await asc.main([source, "--outFile", "kernels.wasm", ...flags], {
    stdout: asc.createMemoryStream(),
    stderr,
    readFile: (name, baseDir) => {
      try {
        return readFileSync(join(baseDir, name), "utf8");
      } catch {
        return null;
      }
    },
    writeFile: (name, contents) => {
      if (name.endsWith(".wasm")) binary = contents;
    },
    listFiles: () => [],
    reportDiagnostic: undefined,
  });
  const log = stderr.toString();
  if (error || !binary) {
    process.stderr.write(log);
    console.error(`build-wasm: compiling ${source} failed${error ? `: ${error.message}` : ""}`);
    process.exit(1);
  }
  if (log.trim()) process.stderr.write(log);

  // The module must be self-contained: no imports (no runtime, no abort) but its memory where
  // allowed, and the exports we call.
  const module = new WebAssembly.Module(binary);
  const imports = WebAssembly.Module.imports(module)
    .map((i) => `${i.module}.${i.name}`)
    .filter((name) => !allowedImports.includes(name));
  if (imports.length > 0) {
    console.error(`build-wasm: unexpected imports ${imports.join(", ")}`);
    process.exit(1);
  }
  const exported = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  const missing = requiredExports.filter((name) => !exported.has(name));
  if (missing.length > 0) {
    console.error(`build-wasm: missing exports ${missing.join(", ")}`);
    process.exit(1);
  }
  return binary;
}

function base64Lines(binary) {
  const base64 = Buffer.from(binary).toString("base64");
  const lines = [];
  for (let i = 0; i < base64.length; i += 96) lines.push(`  "${base64.slice(i, i + 96)}"`);
  return lines.join(" +\n");
}

const single = await compile(variants.single, []);
const threads = await compile(variants.threads, ["env.memory"]);
const singleRelaxed = await compile(variants.singleRelaxed, []);
const threadsRelaxed = await compile(variants.threadsRelaxed, ["env.memory"]);
const out = `// Generated by scripts/build-wasm.mjs from ${source}: do not edit, do not commit.
${stamp}
// assemblyscript ${ascVersion}
${Object.entries(variants)
  .map(([name, flags]) => `// ${name}: asc ${flags.join(" ")}`)
  .join("\n")}

/** The "wasm" backend's WebAssembly module (${single.length} bytes), base64-encoded. */
export const wasmBase64 =
${base64Lines(single)};

/**
 * The same kernels importing a shared memory (env.memory) for multi-threaded use
 * (${threads.length} bytes), base64-encoded.
 */
export const wasmThreadsBase64 =
${base64Lines(threads)};

/** The "wasm-relaxed" backend's module: relaxed SIMD (${singleRelaxed.length} bytes). */
export const wasmRelaxedBase64 =
${base64Lines(singleRelaxed)};

/** Its shared-memory build (${threadsRelaxed.length} bytes). */
export const wasmThreadsRelaxedBase64 =
${base64Lines(threadsRelaxed)};

/** The shared memory's initial and maximum sizes in 64 KiB pages (the module's import limits). */
export const wasmThreadsInitialPages = ${THREADS_INITIAL_PAGES};
export const wasmThreadsMaximumPages = ${THREADS_MAXIMUM_PAGES};
`;
mkdirSync(dirname(targetPath), { recursive: true });
writeFileSync(targetPath, out);
console.log(
  `build-wasm: ${source} → ${target} (${single.length} bytes; threaded ${threads.length}; ` +
    `relaxed ${singleRelaxed.length}; relaxed threaded ${threadsRelaxed.length})`,
);
