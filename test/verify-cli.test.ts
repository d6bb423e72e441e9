/** `lstm verify` over every fixture: the bundled copies and, when present, ../shared/fixtures. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { test } from "node:test";
import { ROOT, runCli } from "./helpers.js";

function fixtureFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => join(dir, f));
}

// The public PyTorch fixtures (bundled copy and the team's shared folder, when present) and the
// extra ones made by scripts/make_fixtures.py for sizes the public set does not cover.
const dirs: [string, number][] = (
  [
    [join(ROOT, "test/fixtures"), 23],
    [join(ROOT, "../shared/fixtures"), 23],
    [join(ROOT, "test/fixtures-extra"), 15],
  ] as [string, number][]
).filter(([d]) => existsSync(d));

for (const [dir, minFiles] of dirs) {
  test(`lstm verify --json: every fixture in ${dir} is ok in float64 and float32`, () => {
    const files = fixtureFiles(dir);
    assert.ok(files.length >= minFiles, `expected the fixture set, found ${files.length}`);
    const r = runCli(["verify", "--json", ...files]);
    const rows = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(rows.length, files.length * 2);
    for (const row of rows) {
      assert.deepEqual(Object.keys(row).sort(), [
        "dtype",
        "file",
        "maxScaledError",
        "ok",
        "tensors",
      ]);
      const limit = row.dtype === "float64" ? 1e-9 : 1e-4;
      assert.ok(
        row.ok && row.maxScaledError <= limit,
        `${row.file} ${row.dtype}: ${row.maxScaledError}`,
      );
      assert.ok("grads.x" in row.tensors && "grads.h0" in row.tensors && "loss" in row.tensors);
    }
    assert.equal(r.status, 0, r.stderr);
  });
}

// Both WebAssembly builds, whichever is the default (the CLI turns relaxed SIMD on for itself).
for (const backend of ["wasm", "wasm-relaxed"]) {
  test(`lstm verify --backend ${backend}: every fixture is ok in float32`, () => {
    const files = dirs.flatMap(([d]) => fixtureFiles(d));
    const r = runCli(["verify", "--json", "--dtype", "float32", "--backend", backend, ...files]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const rows = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(rows.length, files.length);
    for (const row of rows) assert.ok(row.ok && row.maxScaledError <= 1e-4, `${row.file}: ${row.maxScaledError}`); // prettier-ignore
  });
}

test("lstm verify prints a table and exits 1 when a file is off or malformed", () => {
  const tmp = mkdtempSync(join(tmpdir(), "lstm-verify-"));
  const f = JSON.parse(readFileSync(join(ROOT, "test/fixtures/bidir_sum_sq.json"), "utf8"));
  f.outputs.y.data[0] += 0.01; // a wrong forward output
  const wrong = join(tmp, "wrong.json");
  writeFileSync(wrong, JSON.stringify(f));
  const broken = join(tmp, "broken.json");
  writeFileSync(broken, '{"format": "lstm-golden-fixture", "format_version": 1}');
  const good = join(ROOT, "test/fixtures/tiny_sum_sq.json");
  const r = runCli(["verify", good, wrong, broken, join(tmp, "missing.json")]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /tiny_sum_sq\.json\s+float64\s+ok/);
  assert.match(r.stdout, /wrong\.json\s+float64\s+FAIL/);
  assert.match(r.stdout, /broken\.json\s+float64\s+ERROR\s+.*config: missing/);
  assert.match(r.stdout, /missing\.json\s+float32\s+ERROR\s+cannot read .*: no such file/);
  assert.match(r.stdout, /6 of 8 checks FAILED/);
  assert.doesNotMatch(r.stdout + r.stderr, /at .*\.js:\d+/); // no stack trace
  const one = runCli(["verify", "--dtype", "float32", "--json", good]);
  assert.equal(one.status, 0);
  assert.equal(JSON.parse(one.stdout).dtype, "float32");
});

test("lstm gradcheck passes on a stacked bidirectional model and rejects bad options", () => {
  const r = runCli([
    "gradcheck",
    "--layers",
    "2",
    "--bidirectional",
    "--loss",
    "xent",
    "--batch-first",
    "--json",
  ]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.ok, true);
  assert.ok(out.maxRelError < 1e-5);
  assert.ok("lstm.weight_hh_l1_reverse" in out.tensors && "c0" in out.tensors);
  const table = runCli(["gradcheck", "--hidden", "3", "--loss", "mse_last"]);
  assert.equal(table.status, 0);
  assert.match(table.stdout, /lstm\.weight_hh_l0\s+36\/36\s+\d\.\d+e-\d+/);
  const bad = runCli(["gradcheck", "--hidden", "0"]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--hidden must be an integer from 1 to 1024, got "0"/);
  const badLoss = runCli(["gradcheck", "--loss", "l1"]);
  assert.equal(badLoss.status, 2);
  assert.match(badLoss.stderr, /--loss must be one of sum_sq, mse, mse_last, xent/);
});

const V2 = join(ROOT, "test/fixtures/v2"); // the bundled copy of ../shared/fixtures/v2
test(
  "lstm verify on format-2 fixtures (all but gru_*, run below): every one passes in float64",
  { skip: !existsSync(V2) },
  () => {
    const files = fixtureFiles(V2).filter((f) => !basename(f).startsWith("gru_"));
    const r = runCli(["verify", "--json", "--dtype", "float64", ...files]);
    assert.equal(r.stderr, "");
    const rows = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(rows.length, files.length);
    for (const row of rows) {
      const name = basename(row.file);
      assert.ok(row.ok && row.maxScaledError <= 1e-9, `${name}: ${row.maxScaledError}`);
    }
    assert.ok(files.some((f) => basename(f) === "len_proj_bidir_xent_final.json"));
    assert.ok(files.some((f) => basename(f) === "len_emb_drop_gru_xent_final.json"));
    assert.equal(r.status, 0);
  },
);

test("lstm verify passes every GRU fixture (23 public, the extra ones) in float64 and float32", () => {
  const dirs = [join(ROOT, "test/fixtures/v2"), join(ROOT, "test/fixtures-extra/v2")];
  const files = dirs
    .filter((d) => existsSync(d))
    .flatMap((d) => fixtureFiles(d))
    .filter((f) => basename(f).startsWith("gru_"));
  assert.ok(files.length >= 23, `${files.length} GRU files`);
  const r = runCli(["verify", "--json", ...files]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const rows = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(rows.length, 2 * files.length);
  for (const row of rows) {
    const tolerance = row.dtype === "float64" ? 1e-9 : 1e-4;
    assert.ok(row.ok && row.maxScaledError <= tolerance, `${row.file} ${row.dtype}`);
  }
  const optim = rows.find((x) => x.file.endsWith("gru_optim_small_sum_sq.json"));
  assert.ok(Object.keys(optim.tensors).some((k) => k.startsWith("optimizers.adam")));
  const clip = rows.find((x) => x.file.endsWith("gru_clip_stacked_sum_sq.json"));
  assert.ok(Object.keys(clip.tensors).some((k) => k.startsWith("clipping.")));
});

test(
  "lstm verify: the variable-length fixtures (LSTM, GRU, projections, dropout) pass on every backend in float32",
  { skip: !existsSync(V2) },
  () => {
    const files = fixtureFiles(V2).filter((f) => /\/len_[^/]*$/.test(f));
    assert.equal(files.length, 19);
    for (const backend of ["js", "wasm", "wasm-relaxed"]) {
      const r = runCli(["verify", "--json", "--dtype", "float32", "--backend", backend, ...files]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
  },
);
