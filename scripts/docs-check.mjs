// npm run docs:check: TypeDoc's validation (every public export documented, every referenced
// type exported, links valid) without writing the reference. Every warning fails the check but
// one: "multiple declarations with a comment", which TypeDoc prints for the properties of types
// derived from valibot schemas (the schema's field comment is seen once per derived type).
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const typedoc = join(dirname(require.resolve("typedoc/package.json")), "bin", "typedoc");
const r = spawnSync(
  process.execPath,
  [typedoc, "--emit", "none", "--treatWarningsAsErrors", "false"],
  {
    encoding: "utf8",
  },
);
const lines = `${r.stdout}${r.stderr}`.split("\n");
// eslint-disable-next-line no-control-regex
const plain = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");
const tolerated = /has multiple declarations with a comment/;
let skipInfo = false;
const problems = [];
for (const raw of lines) {
  const line = plain(raw);
  if (tolerated.test(line)) {
    skipInfo = true;
    continue;
  }
  if (skipInfo && (/^\[info\]/.test(line) || /^\s+\.\//.test(line))) continue;
  skipInfo = false;
  if (/\[(warning|error)\]/.test(line) && !/^\[warning\] Found \d+ errors/.test(line))
    problems.push(line);
}
if (
  r.status !== 0 &&
  r.status !== null &&
  problems.length === 0 &&
  !/Found 0 errors/.test(plain(lines.join("\n")))
)
  problems.push(`typedoc exited with ${r.status}`);
if (problems.length > 0) {
  console.error(problems.join("\n"));
  console.error(`docs:check: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log("docs:check: every public export is documented");
