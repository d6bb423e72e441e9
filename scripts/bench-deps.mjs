#!/usr/bin/env node
// Installs the cross-library benchmark's dependencies (bench/package.json: TensorFlow.js, its
// wasm backend, brain.js) into bench/node_modules with `npm ci`, when they are missing or older
// than bench/package-lock.json. The library's own install never needs them.
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";

const lock = "bench/package-lock.json";
const installed = "bench/node_modules/.package-lock.json";
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  console.log("bench: installing the benchmark's dependencies into bench/node_modules (npm ci)");
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  execFileSync(npm, ["ci", "--prefix", "bench", "--no-audit", "--no-fund"], { stdio: "inherit" });
}
