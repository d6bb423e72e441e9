/**
 * The package as users receive it: `npm pack` makes the tarball, which is installed into an empty
 * temporary project with `npm ci --offline` (its dependencies come from the npm cache that the
 * repository's own `npm ci` filled, at the versions of the repository's lock file; nothing is
 * fetched). There the test runs the `lstm` binary (`--help`, every command's `--help`, a 5-step
 * `train-text` and `sample`), imports the package from an ES module and `require`s it from
 * CommonJS (Node 20.19+ loads ES modules with require()), and type-checks a consumer file with
 * the repository's TypeScript under `moduleResolution` node16 and bundler.
 */
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { ROOT } from "./helpers.js";

const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

interface PackedFile {
  path: string;
  size: number;
}
interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: PackedFile[];
}

function run(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 180_000 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (status ${r.status}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

interface LockEntry {
  dev?: boolean;
  devOptional?: boolean;
  [key: string]: unknown;
}

/**
 * A lock file for a project that depends only on the tarball: the package's entry plus the
 * repository lock's production entries (the package's runtime dependency tree), so that
 * `npm ci --offline` installs exactly those versions from the cache.
 */
function consumerLock(tarball: string): object {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, LockEntry>;
  };
  const packages: Record<string, unknown> = {
    "": { name: "consumer", dependencies: { "lstm-ts": `file:${tarball}` } },
    "node_modules/lstm-ts": {
      version: pkg.version,
      resolved: `file:${tarball}`,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [key, entry] of Object.entries(lock.packages))
    if (key !== "" && !entry.dev && !entry.devOptional) packages[key] = entry;
  return { name: "consumer", lockfileVersion: 3, requires: true, packages };
}

describe("the npm tarball, installed in an empty project", () => {
  const dir = mkdtempSync(join(tmpdir(), "lstm-pack-"));
  const app = join(dir, "app");
  let packed: PackResult;
  const lstm = (...args: string[]) => run(join(app, "node_modules", ".bin", "lstm"), args, app);

  before(() => {
    // --ignore-scripts: `prepare` would rebuild dist/ while the tests run from it.
    const out = ok(
      run(NPM, ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], ROOT),
      "npm pack",
    );
    packed = (JSON.parse(out) as PackResult[])[0];
    mkdirSync(app);
    copyFileSync(join(dir, packed.filename), join(app, packed.filename));
    const manifest = {
      name: "consumer",
      private: true,
      type: "module",
      dependencies: { "lstm-ts": `file:${packed.filename}` },
    };
    writeFileSync(join(app, "package.json"), JSON.stringify(manifest, null, 2));
    writeFileSync(
      join(app, "package-lock.json"),
      JSON.stringify(consumerLock(packed.filename), null, 2),
    );
    ok(
      run(NPM, ["ci", "--offline", "--no-audit", "--no-fund", "--ignore-scripts"], app),
      "npm ci --offline of the tarball (the npm cache needs the runtime dependencies: run npm ci in the repository first)",
    );
  });

  it("holds no tests, fixtures or source maps, and stays small", () => {
    const kb = (n: number) => `${(n / 1024).toFixed(0)} kB`;
    console.log(
      `# tarball ${packed.filename}: ${kb(packed.size)} packed, ${kb(packed.unpackedSize)} unpacked, ${packed.entryCount} files`,
    );
    const paths = packed.files.map((f) => f.path);
    const stray = paths.filter((p) =>
      /\.test\.|\/fixtures|testdata|\.map$|tsbuildinfo|^test\//.test(p),
    );
    assert.deepEqual(stray, []);
    for (const p of [
      "LICENSE",
      "README.md",
      "CHANGELOG.md",
      "package.json",
      "dist/cli/main.js",
      "dist/browser/lstm-ts.js",
      "dist/browser/train-worker.js",
    ])
      assert.ok(paths.includes(p), `${p} is in the tarball`);
    // A budget, not a target: the two browser bundles (library, training worker) each embed the
    // wasm builds, and the CLI ships with the library.
    assert.ok(packed.size < 640 * 1024, `tarball ${kb(packed.size)}`);
  });

  it("runs lstm --help and every command's --help", () => {
    const help = ok(lstm("--help"), "lstm --help");
    const commands = [...help.split("Commands:")[1].matchAll(/^ {2}([a-z][\w-]*)/gm)]
      .map((m) => m[1])
      .filter((c) => c !== "help");
    for (const c of ["train-text", "train-series", "sample", "forecast", "eval", "info", "bench"])
      assert.ok(commands.includes(c), `${c} listed in:\n${help}`);
    for (const c of commands)
      assert.match(ok(lstm(c, "--help"), `lstm ${c} --help`), new RegExp(`^Usage: lstm ${c} `));
  });

  it("trains 5 steps of a character model and samples from it", () => {
    writeFileSync(join(app, "text.txt"), "the cat sat on the mat. ".repeat(200));
    ok(
      lstm("train-text", "text.txt", "--steps", "5", "--hidden", "16", "--seq-len", "16",
        "--batch", "4", "--out", "char.safetensors", "--quiet"), // prettier-ignore
      "lstm train-text",
    );
    const text = ok(
      lstm("sample", "char.safetensors", "--prime", "the ", "--length", "40", "--seed", "3"),
      "lstm sample",
    );
    assert.ok(text.startsWith("the "), text);
    assert.ok(text.trimEnd().length >= 40, text);
  });

  it("imports lstm-ts and lstm-ts/node from an ES module", () => {
    writeFileSync(
      join(app, "esm.mjs"),
      `import { LstmModel, Rng, getBackend } from "lstm-ts";
import { loadModel } from "lstm-ts/node";
import * as browser from "lstm-ts/browser";
// The browser bundle runs in Node as well (one file, no imports).
const bundled = new browser.LstmModel({ inputSize: 2, hiddenSize: 3, outputSize: 1 });
bundled.initDefault(new browser.Rng(1));
const model = new LstmModel({ inputSize: 2, hiddenSize: 3, outputSize: 1 });
model.initDefault(new Rng(1));
const { y } = model.forward(new Float32Array(2 * 1 * 2), { seqLen: 2, batch: 1 });
const loaded = loadModel("char.safetensors");
const yb = bundled.forward(new Float32Array(2 * 1 * 2), { seqLen: 2, batch: 1 }).y;
console.log(JSON.stringify({ backend: getBackend().name, y: y.length, vocab: loaded.meta.vocab.length, same: [...y].join() === [...yb].join(), worker: typeof browser.trainInWorker }));
`,
    );
    const out = JSON.parse(ok(run(process.execPath, ["esm.mjs"], app), "esm.mjs"));
    assert.equal(out.y, 2 * 1 * 3);
    assert.equal(out.same, true, "lstm-ts/browser computes what lstm-ts does");
    assert.equal(out.worker, "function");
    assert.ok(out.vocab > 5, JSON.stringify(out));
    assert.match(out.backend, /^(js|wasm|wasm-relaxed)$/);
  });

  it("requires lstm-ts from CommonJS (require of an ES module, Node 20.19+)", () => {
    writeFileSync(
      join(app, "cjs.cjs"),
      `const { LstmModel, Rng, ShapeError } = require("lstm-ts");
const model = new LstmModel({ inputSize: 2, hiddenSize: 3, outputSize: 1 });
model.initDefault(new Rng(1));
try { model.forward(new Float32Array(3), { seqLen: 2, batch: 1 }); } catch (e) {
  console.log(e instanceof ShapeError ? "ShapeError" : String(e));
}
`,
    );
    const r = run(process.execPath, ["--no-warnings", "cjs.cjs"], app);
    assert.equal(ok(r, "cjs.cjs").trim(), "ShapeError");
  });

  for (const resolution of ["node16", "bundler"] as const)
    it(`type-checks a consumer under moduleResolution ${resolution}`, () => {
      const sub = join(app, `ts-${resolution}`);
      mkdirSync(sub, { recursive: true });
      writeFileSync(
        join(sub, "consumer.ts"),
        `import { LstmModel, Rng, type ModelConfigInput, type TrainEvent } from "lstm-ts";
import { loadModel, paramsSha256 } from "lstm-ts/node";
import { trainInWorker } from "lstm-ts/browser";
const config: ModelConfigInput = { inputSize: 2, hiddenSize: 3, outputSize: 1 };
const model = new LstmModel(config);
model.initDefault(new Rng(1));
const events: TrainEvent[] = [];
const digest: string = paramsSha256(loadModel("../char.safetensors").model);
console.log(events.length, digest, typeof trainInWorker);
`,
      );
      const compilerOptions = {
        strict: true,
        noEmit: true,
        target: "ES2022",
        lib: ["ES2022"],
        types: ["node"],
        typeRoots: [join(ROOT, "node_modules", "@types")],
        module: resolution === "node16" ? "node16" : "esnext",
        moduleResolution: resolution,
      };
      writeFileSync(
        join(sub, "tsconfig.json"),
        JSON.stringify({ compilerOptions, files: ["consumer.ts"] }, null, 2),
      );
      ok(run(process.execPath, [TSC, "-p", "tsconfig.json"], sub), `tsc (${resolution})`);
    });
});
