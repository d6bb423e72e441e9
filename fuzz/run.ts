/**
 * `npm run fuzz`: mutates model files, checkpoints, TF.js and Keras imports, fixtures, CSV and
 * text, and runs every accepted input through forward, sample and forecast. Exits 1 on a failure
 * (an untyped exception, a hang or memory past the bound), printing how to reproduce it.
 *
 *   npm run fuzz -- --cases 200000 --seed 7          the long run (about an hour on 2 cores)
 *   npm run fuzz -- --seed 7 --case 1234             one case in-process, with its stack trace
 */
import { parseArgs } from "node:util";
import { runCase } from "./cases.js";
import { runFuzz } from "./fuzz.js";
import { buildTargets } from "./targets.js";

const { values } = parseArgs({
  options: {
    seed: { type: "string", default: "1" },
    cases: { type: "string", default: "20000" },
    "case-ms": { type: "string", default: "10000" },
    "max-rss-mb": { type: "string", default: "2048" },
    only: { type: "string" },
    case: { type: "string" },
  },
});
const seed = Number(values.seed);
const only = values.only?.split(",");

if (values.case !== undefined) {
  const index = Number(values.case);
  const targets = (await buildTargets()).filter((t) => !only || only.includes(t.name));
  const target = targets[index % targets.length];
  console.log(`case ${index}: target ${target.name}`);
  runCase(target, seed, index); // throws with its stack when it fails
  console.log("no failure");
} else {
  const report = await runFuzz({
    seed,
    cases: Number(values.cases),
    caseMs: Number(values["case-ms"]),
    maxRssMb: Number(values["max-rss-mb"]),
    only,
    onProgress: (n) => process.stderr.write(`\r${n} cases`),
  });
  process.stderr.write("\n");
  for (const [name, s] of Object.entries(report.targets))
    console.log(`${name.padEnd(14)} ${String(s.accepted).padStart(7)} accepted ${String(s.rejected).padStart(7)} rejected with a typed error`); // prettier-ignore
  console.log(`${report.cases} cases in ${(report.ms / 1000).toFixed(1)} s, ${report.failures.length} failures`); // prettier-ignore
  for (const f of report.failures)
    console.log(`FAIL ${f.kind} ${f.target} case ${f.index}: ${f.message}\n  reproduce: node dist/fuzz/run.js --seed ${seed}${only ? ` --only ${only.join(",")}` : ""} --case ${f.index}`); // prettier-ignore
  process.exitCode = report.failures.length > 0 ? 1 : 0;
}
