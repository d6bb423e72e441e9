#!/usr/bin/env node
// Browser build (after tsc): the library's browser-safe entry point (src/index.ts) as one ES
// module file, dist/browser/lstm-ts.js (the package's `lstm-ts/browser`), with its dependencies
// inlined (csv-parse) and the WebAssembly kernels embedded as base64 (build-wasm.mjs), so a page
// loads it with <script type="module"> or from a CDN without an import map or a bundler.
// Every module that runs in a Web Worker is an entry of its own (ENTRIES), written beside the
// bundle where the code that starts it looks for it (new URL("./name.js", import.meta.url)):
// the training worker and the wasm backend's thread.
// The demo page (demo/main.ts) is bundled last, its library import pointing at the bundle.
// esbuild-wasm: the same esbuild without a platform binary (nothing native to install or
// download: the build runs wherever Node runs).
import { build } from "esbuild-wasm";
import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** [source, output]. */
const ENTRIES = [
  ["src/index.ts", "dist/browser/lstm-ts.js"],
  ["src/train/train-worker.ts", "dist/browser/train-worker.js"],
  // The wasm backend's thread (threads.ts starts new URL("./worker.js", import.meta.url)).
  ["src/backend/wasm/worker.ts", "dist/browser/worker.js"],
];

/**
 * csv-parse's ES module entry (lib/) uses Node's Buffer; the package also ships a browser build
 * (dist/esm/, a Buffer polyfill included), which the bundle takes.
 */
const csvParseForBrowsers = {
  name: "csv-parse-for-browsers",
  setup(b) {
    const cjs = createRequire(import.meta.url).resolve("csv-parse/sync"); // dist/cjs/sync.cjs
    b.onResolve({ filter: /^csv-parse\/sync$/ }, () => ({
      path: join(dirname(cjs), "..", "esm", "sync.js"),
    }));
  },
};

const common = {
  plugins: [csvParseForBrowsers],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  legalComments: "eof",
  logLevel: "warning",
  // Class names survive minification: every LstmError's name is its class's (`ConfigError`),
  // which messages show and the training worker sends back as a WorkerTrainingError's reason.
  keepNames: true,
};

/** The demo imports ../src/index.js for its types; in the browser it loads the bundle. */
const libraryToBundle = {
  name: "library-to-bundle",
  setup(b) {
    b.onResolve({ filter: /\/src\/index\.js$/ }, () => ({
      path: "../browser/lstm-ts.js",
      external: true,
    }));
  },
};

const kb = (file) => `${(statSync(file).size / 1024).toFixed(0)} kB`;
for (const [source, outfile] of ENTRIES) {
  await build({ ...common, entryPoints: [source], outfile, minify: true });
  console.log(`build-browser: ${source} → ${outfile} (${kb(outfile)})`);
}
await build({
  ...common,
  entryPoints: ["demo/main.ts"],
  outfile: "dist/demo/main.js",
  plugins: [libraryToBundle, csvParseForBrowsers],
  allowOverwrite: true,
});
