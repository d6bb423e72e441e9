/** The classification data scripts run as documented in data/README.md and eval/README.md. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "./helpers.js";

function runScript(args: string[]) {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("make-names-csv.mjs rebuilds data/names_sex_en.csv byte for byte and never overwrites an input", () => {
  const dir = mkdtempSync(join(tmpdir(), "names-"));
  try {
    const out = join(dir, "names.csv");
    const female = "data/names_female_en.txt";
    const male = "data/names_male_en.txt";
    const r = runScript(["scripts/make-names-csv.mjs", female, male, out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /8003 rows \(female 4525, male 3478\); dropped 419 names in both lists/);
    assert.ok(readFileSync(out).equals(readFileSync(join(ROOT, "data/names_sex_en.csv"))));
    const before = readFileSync(join(ROOT, male));
    const refused = runScript(["scripts/make-names-csv.mjs", female, male, `./${male}`]);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /refusing to overwrite an input/);
    assert.ok(readFileSync(join(ROOT, male)).equals(before));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("naive-bayes-baseline.mjs prints the names reference; a missing column is a one-line error", () => {
  const r = runScript([
    "scripts/naive-bayes-baseline.mjs",
    "data/names_sex_en.csv",
    "--text-column",
    "name",
    "--label-column",
    "sex",
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    /test accuracy 86\.1 % \(1378\/1601\), macro-F1 0\.857; majority class 'female' 55\.9 %/,
  );
  const bad = runScript([
    "scripts/naive-bayes-baseline.mjs",
    "data/names_sex_en.csv",
    "--text-column",
    "nom",
    "--label-column",
    "sex",
  ]);
  assert.equal(bad.status, 1);
  assert.equal(
    bad.stderr.trim(),
    "text column 'nom' not found in data/names_sex_en.csv; available: name, sex",
  );
});
