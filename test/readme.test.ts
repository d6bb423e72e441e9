/** Every ```js example in README.md runs as written (importing the package by its name). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "./helpers.js";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);

test("README has runnable examples", () => assert.ok(blocks.length >= 2));

blocks.forEach((code, i) => {
  test(`README example ${i + 1} runs`, () => {
    // Inside the repository so that `import "lstm-ts"` resolves to this package (self-reference).
    const dir = mkdtempSync(join(ROOT, "dist", "readme-"));
    const file = join(dir, `example-${i + 1}.mjs`);
    writeFileSync(file, code);
    const r = spawnSync(process.execPath, [file], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r.status, 0, `example ${i + 1} failed:\n${r.stderr}`);
    // Each `// text` comment after a console.log is the output the example promises.
    for (const m of code.matchAll(/console\.log\(e\.message\); \/\/ (.+)/g))
      assert.ok(r.stdout.includes(m[1].trim()), `expected output "${m[1]}", got:\n${r.stdout}`);
  });
});
