import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseFixture } from "./fixture.js";
import { verifyFixture } from "./verify.js";

// The bundled copy of ../shared/fixtures/v2 (test/fixtures/v2), so the test runs on any clone.
const V2 = fileURLToPath(new URL("../../../test/fixtures/v2/", import.meta.url));

test(
  "format-2 LSTM and GRU fixtures with projections, embeddings, tied heads and dropout (also with lengths) verify in both dtypes",
  { skip: !existsSync(V2) },
  () => {
    const files = readdirSync(V2).filter((n) =>
      /^(proj|emb|drop|len_emb_drop|len_proj)_.*\.json$/.test(n),
    );
    let ran = 0;
    for (const n of files) {
      const text = readFileSync(V2 + n, "utf8");
      const f = parseFixture(text, n);
      for (const dtype of ["float64", "float32"] as const) {
        const r = verifyFixture(f, dtype);
        assert.ok(r.ok, `${n} ${dtype}: ${r.maxScaledError} ${JSON.stringify(r.tensors)}`);
        if (f.spec.input.kind === "embedding")
          assert.ok("grads.embedding.weight" in r.tensors, `${n}: embedding gradient compared`);
      }
      ran++;
    }
    assert.ok(ran >= 15, `${ran} files`);
  },
);
