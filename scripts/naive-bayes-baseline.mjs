// The character n-gram naive Bayes reference for a classification CSV (src/train/naive-bayes.ts),
// read and split by the same data module as `lstm train-classify` (src/data/classify.ts):
//
//   npm run build
//   node scripts/naive-bayes-baseline.mjs data/word_language_4.csv --text-column word --label-column language
//
// Trains on the rows before the last --test-fraction (default 0.2) and prints test accuracy,
// macro-F1, the majority-class baseline and per-class scores; --json prints the metrics object.
import { parseArgs } from "node:util";
import { readBytes, userMessage } from "../dist/cli/util.js";
import { parseClassifyCsv, prepareClassification } from "../dist/src/data/classify.js";
import { decodeText } from "../dist/src/data/text.js";
import { classificationMetrics } from "../dist/src/train/metrics.js";
import { CharNgramNaiveBayes } from "../dist/src/train/naive-bayes.js";

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "text-column": { type: "string" },
    "label-column": { type: "string" },
    "test-fraction": { type: "string", default: "0.2" },
    "max-n": { type: "string", default: "3" },
    json: { type: "boolean", default: false },
  },
});
const file = positionals[0];
if (!file || !opts["text-column"] || !opts["label-column"]) {
  console.error(
    "usage: node scripts/naive-bayes-baseline.mjs FILE.csv --text-column C --label-column L " +
      "[--test-fraction 0.2] [--max-n 3] [--json]",
  );
  process.exit(2);
}

try {
  const table = parseClassifyCsv(decodeText(readBytes(file), file), file, {
    textColumn: opts["text-column"],
    labelColumn: opts["label-column"],
  });
  const data = prepareClassification(table, { testFraction: Number(opts["test-fraction"]) });
  const { train, test } = data.split;
  if (test.length === 0) throw new Error("--test-fraction leaves no test rows");
  const started = performance.now();
  const nb = CharNgramNaiveBayes.fit(
    Array.from(train, (r) => table.texts[r]),
    Array.from(train, (r) => data.classIds[r]),
    data.classes.length,
    { maxN: Number(opts["max-n"]) },
  );
  const m = classificationMetrics({
    truth: Array.from(test, (r) => data.classIds[r]),
    predicted: Array.from(test, (r) => nb.predict(table.texts[r])),
    labels: data.classes,
    reference: Array.from(train, (r) => data.classIds[r]),
  });
  const seconds = (performance.now() - started) / 1000;
  if (opts.json) console.log(JSON.stringify(m, null, 2));
  else {
    const pct = (x) => `${(100 * x).toFixed(1)} %`;
    console.log(
      `${file}: ${train.length} training rows, ${test.length} test rows (the last ${opts["test-fraction"]}), ` +
        `character 1–${opts["max-n"]}-gram naive Bayes, ${seconds.toFixed(1)} s`,
    );
    console.log(
      `test accuracy ${pct(m.accuracy)} (${Math.round(m.accuracy * m.count)}/${m.count}), macro-F1 ${m.macroF1.toFixed(3)}; ` +
        `majority class '${m.baseline.label}' ${pct(m.baseline.accuracy)}`,
    );
    for (const s of m.perClass)
      console.log(
        `  ${s.label.padEnd(12)} precision ${s.precision.toFixed(3)}  recall ${s.recall.toFixed(3)}  ` +
          `F1 ${s.f1.toFixed(3)}  support ${s.support}`,
      );
  }
} catch (e) {
  const message = userMessage(e);
  if (message === null) throw e;
  console.error(message);
  process.exit(1);
}
