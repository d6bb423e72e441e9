#!/usr/bin/env node
// The published package's metadata, checked on the tarball `npm pack` makes from the current
// build (scripts ignored, so dist/ is not rebuilt): publint (package.json fields, exports, files)
// and @arethetypeswrong/cli (every export's types resolve under node16 and bundler). The package
// is ES modules only ("esm-only" profile): CommonJS callers use require() of ES modules (Node
// 20.19+, 22.12+), which attw's node16-from-CJS column does not model.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const dir = mkdtempSync(join(tmpdir(), "lstm-check-package-"));
const bin = (name) => join("node_modules", ".bin", name);
try {
  const out = execFileSync(npm, ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], {
    encoding: "utf8",
  });
  const packed = JSON.parse(out)[0];
  const tarball = join(dir, packed.filename);
  const kb = (n) => `${(n / 1024).toFixed(0)} kB`;
  console.log(
    `${packed.filename}: ${kb(packed.size)} packed, ${kb(packed.unpackedSize)} unpacked, ${packed.entryCount} files`,
  );
  execFileSync(bin("publint"), ["run", tarball, "--strict"], { stdio: "inherit" });
  execFileSync(bin("attw"), [tarball, "--profile", "esm-only"], {
    stdio: "inherit",
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
